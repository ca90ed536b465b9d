package project

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/record"
)

func TestCreateJoinOpen(t *testing.T) {
	a, err := OpenHome(filepath.Join(t.TempDir(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Create("rio-negro", "Maria's laptop")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := a.Default(); d != "rio-negro" {
		t.Fatalf("default %q", d)
	}
	for _, f := range []string{filepath.Join(a.Dir, "device.key"), filepath.Join(p.Dir, "project.key")} {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v mode %v, want 0600", f, err, st.Mode())
		}
	}
	// The data core starts with a signed device record naming both cores.
	data, err := p.OpenOwnCore(record.KindData, hypercore.DurabilityOS)
	if err != nil {
		t.Fatal(err)
	}
	b, err := data.Get(0)
	data.Close()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := record.DecodeDevice(b)
	if err != nil {
		t.Fatal(err)
	}
	dk, mk := p.OwnCoreKey(record.KindData), p.OwnCoreKey(record.KindMedia)
	if rec.Name != "Maria's laptop" || rec.Data != hexKey(dk) || rec.Media != hexKey(mk) {
		t.Fatalf("device record %+v", rec)
	}
	keys, _ := p.CoreKeys()
	if len(keys) != 2 {
		t.Fatalf("%d cores", len(keys))
	}

	// Reopened (another process, say): same key, same own cores.
	again, err := a.Open("rio-negro")
	if err != nil || again.Key != p.Key || again.OwnCoreKey(record.KindData) != dk {
		t.Fatalf("reopen: %v", err)
	}

	// Another device joins with the invitation code.
	code, err := Invite(p.Name, p.Key)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := OpenHome(filepath.Join(t.TempDir(), "b"))
	name, key, err := ParseInvite(code)
	if err != nil {
		t.Fatal(err)
	}
	q, err := b2.Join(name, key, "João's laptop")
	if err != nil {
		t.Fatal(err)
	}
	if q.DiscoveryKey() != p.DiscoveryKey() || q.Key != p.Key {
		t.Fatal("the joined project differs")
	}
	if q.OwnCoreKey(record.KindData) == dk {
		t.Fatal("two devices derived the same core")
	}
	if q.DiscoveryKey() == p.Key {
		t.Fatal("the discovery key is the key")
	}
}

func TestAddFailsCleanly(t *testing.T) {
	h, _ := OpenHome(t.TempDir())
	if _, err := h.Create("ok", "dev"); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Open("ok")
	for _, tc := range []struct {
		name string
		key  *[32]byte
		want error
	}{
		{"ok", nil, ErrExists},
		{"other", &p.Key, ErrExists}, // the same project under another name
		{"a/b", nil, nil},
		{"", nil, nil},
		{" padded", nil, nil},
	} {
		var err error
		if tc.key != nil {
			_, err = h.Join(tc.name, *tc.key, "dev")
		} else {
			_, err = h.Create(tc.name, "dev")
		}
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("add %q: %v", tc.name, err)
		}
	}
	names, _ := h.Projects()
	if len(names) != 1 {
		t.Fatalf("projects %v after failed adds", names)
	}
	entries, _ := os.ReadDir(filepath.Join(h.Dir, "projects"))
	if len(entries) != 1 {
		t.Fatalf("leftovers in projects/: %d entries", len(entries))
	}
	if _, err := h.Open("missing"); !errors.Is(err, ErrNoProject) {
		t.Errorf("open missing: %v", err)
	}
}

func hexKey(k [32]byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 64)
	for i, b := range k {
		out[2*i], out[2*i+1] = digits[b>>4], digits[b&15]
	}
	return string(out)
}
