package record

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Device is the record at the head of a device's data core (and appended
// again on a rename): who the device is and which cores it writes, signed
// by the device's identity key, so that anyone holding the core can tell
// which device wrote it and no one can claim another device's cores.
type Device struct {
	Data      string `json:"data"`      // data core key, hex
	Identity  string `json:"identity"`  // the device's Ed25519 identity public key, hex
	Media     string `json:"media"`     // media core key, hex
	Name      string `json:"name"`      // what people call the device
	Signature string `json:"signature"` // identity's signature over Signable, hex
	Type      string `json:"type"`      // "device"
}

// maxDeviceName bounds a device name (in bytes).
const maxDeviceName = 200

// deviceDomain separates device-record signatures from any other use of
// the identity key.
const deviceDomain = "fieldsync device record v1\x00"

// Signable is what the identity key signs: the domain, the two core keys
// and the name.
func (d *Device) Signable() ([]byte, error) {
	data, err := hex32(d.Data, "data")
	if err != nil {
		return nil, err
	}
	media, err := hex32(d.Media, "media")
	if err != nil {
		return nil, err
	}
	b := append([]byte(deviceDomain), data...)
	b = append(b, media...)
	return append(b, d.Name...), nil
}

func hex32(s, what string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 || hex.EncodeToString(b) != s {
		return nil, fmt.Errorf("device record: %s must be 64 lowercase hex digits: %w", what, ErrInvalid)
	}
	return b, nil
}

// NewDevice makes and signs a device record.
func NewDevice(name string, identity ed25519.PrivateKey, data, media [32]byte) (*Device, error) {
	d := &Device{
		Type: TypeDevice, Name: name,
		Identity: hex.EncodeToString(identity.Public().(ed25519.PublicKey)),
		Data:     hex.EncodeToString(data[:]), Media: hex.EncodeToString(media[:]),
	}
	if err := d.checkName(); err != nil {
		return nil, err
	}
	msg, err := d.Signable()
	if err != nil {
		return nil, err
	}
	d.Signature = hex.EncodeToString(ed25519.Sign(identity, msg))
	return d, nil
}

func (d *Device) checkName() error {
	if d.Name == "" || len(d.Name) > maxDeviceName || !utf8.ValidString(d.Name) {
		return fmt.Errorf("device name %q: 1 to %d bytes of UTF-8 needed: %w", d.Name, maxDeviceName, ErrInvalid)
	}
	return nil
}

// Verify checks the record's form and its signature.
func (d *Device) Verify() error {
	if d.Type != TypeDevice {
		return fmt.Errorf("device record: type is %q: %w", d.Type, ErrInvalid)
	}
	if err := d.checkName(); err != nil {
		return err
	}
	pub, err := hex32(d.Identity, "identity")
	if err != nil {
		return err
	}
	sig, err := hex.DecodeString(d.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("device record: signature must be 128 hex digits: %w", ErrInvalid)
	}
	msg, err := d.Signable()
	if err != nil {
		return err
	}
	if !ed25519.Verify(ed25519.PublicKey(pub), msg, sig) {
		return fmt.Errorf("device record %q: the signature does not verify with the identity key: %w", d.Name, ErrInvalid)
	}
	return nil
}

// Encode returns the canonical block bytes of a verified record.
func (d *Device) Encode() ([]byte, error) {
	if err := d.Verify(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// DecodeDevice parses and verifies a device block.
func DecodeDevice(b []byte) (*Device, error) {
	var d Device
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("device block: %w: %w", err, ErrInvalid)
	}
	if err := d.Verify(); err != nil {
		return nil, err
	}
	return &d, nil
}
