package project

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestInviteRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, name := range []string{"rio-negro", "Comunidade São João", "x", strings.Repeat("n", 64)} {
		var key [32]byte
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		code, err := Invite(name, key)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Trim(code, zbase32+"-") != "" {
			t.Fatalf("code %q has other characters", code)
		}
		for _, typed := range []string{code, strings.ToUpper(code), strings.ReplaceAll(code, "-", " "), strings.ReplaceAll(code, "-", "")} {
			n, k, err := ParseInvite(typed)
			if err != nil || n != name || k != key {
				t.Fatalf("ParseInvite(%q) = %q %x %v", typed, n, k, err)
			}
		}
	}
}

// Every single-letter mistake and every dropped letter is caught.
func TestInviteCatchesTypos(t *testing.T) {
	code, err := Invite("rio-negro", [32]byte{9, 8, 7})
	if err != nil {
		t.Fatal(err)
	}
	clean := strings.ReplaceAll(code, "-", "")
	caught := 0
	for i := range clean {
		for _, c := range zbase32 {
			if byte(c) == clean[i] {
				continue
			}
			typo := clean[:i] + string(c) + clean[i+1:]
			if _, _, err := ParseInvite(typo); !errors.Is(err, ErrBadCode) {
				t.Fatalf("typo at %d (%q) accepted", i, typo)
			}
			caught++
		}
		if _, _, err := ParseInvite(clean[:i] + clean[i+1:]); !errors.Is(err, ErrBadCode) {
			t.Fatalf("dropped letter %d accepted", i)
		}
	}
	for _, bad := range []string{"", "hello", "0000-1111", code + "y"} {
		if _, _, err := ParseInvite(bad); !errors.Is(err, ErrBadCode) {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := Invite("a/b", [32]byte{}); err == nil {
		t.Error("a name with a slash")
	}
	t.Logf("%d one-letter typos caught; a code: %s", caught, code)
}
