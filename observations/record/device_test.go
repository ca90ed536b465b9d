package record

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func TestDeviceRecord(t *testing.T) {
	id := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, 32))
	data, media := [32]byte{0xab, 2}, [32]byte{3, 4}
	d, err := NewDevice("Maria's laptop", id, data, media)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"data":"ab02`) || !strings.Contains(string(b), `"type":"device"}`) {
		t.Fatalf("not canonical: %s", b)
	}
	if k, _ := Kind(b); k != TypeDevice {
		t.Fatalf("kind %q", k)
	}
	back, err := DecodeDevice(b)
	if err != nil {
		t.Fatal(err)
	}
	if *back != *d {
		t.Fatalf("round trip: %+v", back)
	}
	// Any change breaks the signature: another device cannot claim these
	// cores, nor rename this one.
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{6}, 32))
	for name, edit := range map[string]func(d *Device){
		"name":     func(d *Device) { d.Name = "Someone else" },
		"data":     func(d *Device) { d.Data = strings.Repeat("09", 32) },
		"media":    func(d *Device) { d.Media = strings.Repeat("09", 32) },
		"identity": func(d *Device) { d.Identity = pubHex(other) },
		"upper":    func(d *Device) { d.Data = strings.ToUpper(d.Data) },
	} {
		c := *d
		edit(&c)
		if err := c.Verify(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s changed: Verify = %v", name, err)
		}
	}
	if _, err := NewDevice("", id, data, media); !errors.Is(err, ErrInvalid) {
		t.Errorf("an empty name: %v", err)
	}
}

// pubHex is the hex public key of a private key.
func pubHex(k ed25519.PrivateKey) string {
	const digits = "0123456789abcdef"
	pub := k.Public().(ed25519.PublicKey)
	out := make([]byte, 0, 64)
	for _, b := range pub {
		out = append(out, digits[b>>4], digits[b&15])
	}
	return string(out)
}
