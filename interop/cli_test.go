package interop

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAppendMissingFile: `core append` with a block file that does not
// exist exits non-zero with one line on stderr, prints nothing on stdout,
// and appends nothing (not even the files before it), batch or not.
func TestAppendMissingFile(t *testing.T) {
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good.bin")
	if err := os.WriteFile(good, []byte("an existing block"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "does-not-exist.bin")
	dir := filepath.Join(tmp, "core")
	fieldsync(t, nil, "core", "create", dir, "--seed", hex.EncodeToString(bytes.Repeat([]byte{0x09}, 32)))
	fieldsync(t, nil, "core", "append", dir, good)
	before := coreInfo(t, dir)

	cases := []struct {
		name string
		args []string
	}{
		{"only-missing", []string{missing}},
		{"missing-last", []string{good, missing}},
		{"missing-first", []string{missing, good}},
		{"batch", []string{good, missing, good, "--batch"}},
		{"json", []string{good, missing, "--json"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"core", "append", dir}, tc.args...)
			res := run(t, timeoutGo, nil, fieldsyncBin, args...)
			if res.code == 0 {
				t.Fatalf("fieldsync %s: exit 0, want non-zero", strings.Join(args, " "))
			}
			msg := string(res.stderr)
			if strings.Count(msg, "\n") != 1 || !strings.HasSuffix(msg, "\n") || strings.TrimSpace(msg) == "" {
				t.Errorf("stderr is not exactly one line: %q", msg)
			}
			if !strings.Contains(msg, filepath.Base(missing)) {
				t.Errorf("stderr %q does not name the missing file %s", msg, missing)
			}
			if len(res.stdout) != 0 {
				t.Errorf("stdout %q, want nothing", res.stdout)
			}
			if after := coreInfo(t, dir); after != before {
				t.Errorf("core changed:\n\tbefore %+v\n\tafter  %+v", before, after)
			}
			if res := run(t, timeoutGo, nil, fieldsyncBin, "core", "verify", dir); res.code != 0 {
				t.Errorf("core verify after the failed append: %v", res)
			}
		})
	}
	t.Logf("exit code and message: %v", run(t, timeoutGo, nil, fieldsyncBin, "core", "append", dir, missing))
}
