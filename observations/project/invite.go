package project

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/blake2b"
)

// ErrBadCode is wrapped by every invitation-code error.
var ErrBadCode = errors.New("bad join code")

// ErrBadName is wrapped when a project name cannot be used.
var ErrBadName = errors.New("bad project name")

// An invitation code carries a project's name and key, in z-base-32 (an
// alphabet chosen to be read aloud and typed: no 0/o, 1/l or 2/z pairs to
// confuse), in dash-separated groups of four, with a 4-byte checksum:
//
//	payload  = version (1) ‖ key (32) ‖ name (UTF-8)
//	code     = zbase32(payload ‖ BLAKE2b-256("fieldsync invite" ‖ payload)[:4])
const (
	inviteVersion = 1
	zbase32       = "ybndrfg8ejkmcpqxot1uwisza345h769"
	maxNameBytes  = 64
)

// Invite makes the join code of a project.
func Invite(name string, key [32]byte) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	payload := append([]byte{inviteVersion}, key[:]...)
	payload = append(payload, name...)
	raw := append(payload, inviteSum(payload)...)
	enc := zEncode(raw)
	var b strings.Builder
	for i := 0; i < len(enc); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(enc[i:min(i+4, len(enc))])
	}
	return b.String(), nil
}

// ParseInvite reads a join code (case, spaces and dashes do not matter).
func ParseInvite(code string) (name string, key [32]byte, err error) {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\n':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return r
	}, code)
	raw, err := zDecode(clean)
	if err != nil {
		return "", key, err
	}
	if len(raw) < 1+32+1+4 {
		return "", key, fmt.Errorf("the code is too short (a letter missing?): %w", ErrBadCode)
	}
	payload, sum := raw[:len(raw)-4], raw[len(raw)-4:]
	if !bytes.Equal(sum, inviteSum(payload)) {
		return "", key, fmt.Errorf("the code's checksum does not match (a letter mistyped?): %w", ErrBadCode)
	}
	if payload[0] != inviteVersion {
		return "", key, fmt.Errorf("code version %d is not known to this fieldsync: %w", payload[0], ErrBadCode)
	}
	copy(key[:], payload[1:33])
	name = string(payload[33:])
	if err := checkName(name); err != nil {
		return "", key, fmt.Errorf("%w: %w", err, ErrBadCode)
	}
	return name, key, nil
}

func inviteSum(payload []byte) []byte {
	h := blake2b.Sum256(append([]byte("fieldsync invite"), payload...))
	return h[:4]
}

// checkName: project names are also directory names.
func checkName(name string) error {
	if name == "" || len(name) > maxNameBytes || !utf8.ValidString(name) || name == "." || name == ".." ||
		strings.ContainsAny(name, "/\\\x00") || strings.TrimSpace(name) != name {
		return fmt.Errorf("project name %q: use 1 to %d bytes, no slashes, no leading or trailing spaces: %w", name, maxNameBytes, ErrBadName)
	}
	return nil
}

func zEncode(b []byte) string {
	var out []byte
	var acc, bits uint
	for _, c := range b {
		acc = acc<<8 | uint(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, zbase32[(acc>>bits)&31])
		}
	}
	if bits > 0 {
		out = append(out, zbase32[(acc<<(5-bits))&31])
	}
	return string(out)
}

func zDecode(s string) ([]byte, error) {
	var out []byte
	var acc, bits uint
	for i, r := range s {
		v := strings.IndexRune(zbase32, r)
		if v < 0 {
			return nil, fmt.Errorf("%q (position %d) is not a letter of join codes: %w", r, i+1, ErrBadCode)
		}
		acc = acc<<5 | uint(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	if bits >= 5 || acc&(1<<bits-1) != 0 {
		return nil, fmt.Errorf("the code has a letter too many or too few: %w", ErrBadCode)
	}
	return out, nil
}
