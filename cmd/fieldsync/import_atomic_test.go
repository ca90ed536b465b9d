package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImportKilledBetweenBatches: an import of 25,001 features (three
// batches of up to 10,000) killed by SIGKILL after its second batch is
// written leaves nothing visible — not in list, not in the data core's
// signed length — and the same import then stores all of them. A feature
// too large to be stored is bad input (exit 2) and writes nothing.
func TestImportKilledBetweenBatches(t *testing.T) {
	bin := fieldsyncBinary(t)
	home := filepath.Join(t.TempDir(), "h")
	run := func(env []string, args ...string) (int, string, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--home", home}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String(), errb.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, out.String(), errb.String()
	}
	if code, _, errs := run(nil, "init", "p"); code != 0 {
		t.Fatal(errs)
	}
	var in bytes.Buffer
	const n = 25001
	for i := range n {
		fmt.Fprintf(&in, `{"type":"Feature","id":%d,"geometry":{"type":"Point","coordinates":[%g,%g]},"properties":{"n":%d}}`+"\n", i, float64(i%360)-180, float64(i%180)-90, i)
	}
	file := filepath.Join(t.TempDir(), "big.geojsonl")
	if err := os.WriteFile(file, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dataLength := func() uint64 {
		t.Helper()
		code, out, errs := run(nil, "status", "--json")
		if code != 0 {
			t.Fatal(errs)
		}
		var st statusReport
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatal(err)
		}
		for _, c := range st.Cores {
			if c.Own == "data" {
				return c.Length
			}
		}
		t.Fatal("no data core in status")
		return 0
	}
	listed := func() int {
		t.Helper()
		code, out, errs := run(nil, "list", "--format", "json")
		if code != 0 {
			t.Fatal(errs)
		}
		var items []json.RawMessage
		if err := json.Unmarshal([]byte(out), &items); err != nil {
			t.Fatalf("list: %v: %.200s", err, out)
		}
		return len(items)
	}
	before := dataLength()
	code, _, errs := run([]string{"FIELDSYNC_TEST_KILL_AFTER_BATCH=2"}, "import", file, "--durability", "os")
	if code != -1 {
		t.Fatalf("the import was not killed: exit %d: %s", code, errs)
	}
	if got := dataLength(); got != before {
		t.Fatalf("after a kill between batches the data core holds %d blocks, want %d", got, before)
	}
	if got := listed(); got != 0 {
		t.Fatalf("after a kill between batches list shows %d observations", got)
	}
	if code, out, errs := run(nil, "import", file, "--durability", "os"); code != 0 || !strings.Contains(out, fmt.Sprintf("imported %d", n)) {
		t.Fatalf("import: exit %d: %s %s", code, out, errs)
	}
	if got := dataLength(); got != before+n {
		t.Fatalf("data core holds %d blocks, want %d", got, before+n)
	}
	if got := listed(); got != n {
		t.Fatalf("list shows %d observations, want %d", got, n)
	}

	// A feature too large to store: exit 2, nothing written.
	huge := `{"type":"Feature","geometry":{"type":"Point","coordinates":[1,1]},"properties":{"note":"` + strings.Repeat("x", 9<<20) + `"}}`
	big := filepath.Join(t.TempDir(), "huge.geojson")
	os.WriteFile(big, []byte(`{"type":"Feature","geometry":{"type":"Point","coordinates":[2,2]},"properties":{}}`+"\n"+huge+"\n"), 0o644)
	code, _, errs = run(nil, "import", big, "--durability", "os")
	if code != 2 || !strings.Contains(errs, "feature 1: too large to store") {
		t.Fatalf("huge feature: exit %d, %q", code, errs)
	}
	if got := dataLength(); got != before+n {
		t.Fatalf("a refused import wrote: %d blocks", got)
	}
}
