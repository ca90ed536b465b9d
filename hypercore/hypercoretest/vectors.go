package hypercoretest

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// VectorFileName is the file of values made by the JavaScript reference
// (npm hypercore 11, @hyperswarm/secret-stream, protomux) that the tests
// reproduce: hypercore/testdata/hypercore-v11.json.
const VectorFileName = "hypercore-v11.json"

// VectorFile returns the path of the vector file, found from the test's
// directory (any package of the module) upwards: a testdata directory
// holding it, or hypercore/testdata.
func VectorFile(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		for _, p := range []string{
			filepath.Join(dir, "testdata", VectorFileName),
			filepath.Join(dir, "hypercore", "testdata", VectorFileName),
		} {
			if _, err := os.Stat(p); err == nil {
				return p
			} else if !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("%s not found above %s", VectorFileName, dir)
		}
		dir = parent
	}
}

// LoadVectors decodes the vector file into v, a pointer to a struct that
// names the parts the test uses (the rest is skipped).
func LoadVectors(t testing.TB, v any) {
	t.Helper()
	b, err := os.ReadFile(VectorFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", VectorFileName, err)
	}
}

// HexBytes is bytes written in the vectors as a hex string.
type HexBytes []byte

// UnmarshalJSON decodes a JSON hex string.
func (h *HexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

// Unhex decodes a hex string (spaces allowed between bytes) or fails t.
func Unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
