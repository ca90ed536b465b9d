package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/dht/dhttest"
)

// These tests stop fieldsync processes in ways a user does (Ctrl-C, a full
// disk on the output) and check what is left behind.

// needLinux skips a test that needs Linux's /dev/full or /proc, loudly,
// and fails it under CI=true.
func needLinux(t *testing.T) {
	t.Helper()
	for _, p := range []string{"/dev/full", "/proc/self/fdinfo"} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("this test needs %s (Linux): %v", p, err)
			}
			t.Skipf("SKIPPED: this test needs %s (Linux): %v", p, err)
		}
	}
}

// waitExit waits for cmd to end and returns its exit code and how long it
// took from since. The deadline only guards against a hang.
func waitExit(t *testing.T, cmd *exec.Cmd, since time.Time) (int, time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		took := time.Since(since)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), took
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, took
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("%s still running after 2 minutes", cmd.Path)
	}
	return 0, 0
}

// TestServeDHTFailingStdoutExits: serve --dht whose stdout cannot be
// written (a full disk) fails at its ready line and exits non-zero, after
// stopping the DHT node it started, instead of hanging.
func TestServeDHTFailingStdoutExits(t *testing.T) {
	needLinux(t)
	boot := strings.Join(dhttest.Network(t, 3), ",")
	d := newTeam(t, "base")[0]
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	cmd := exec.Command(fieldsyncBinary(t), "--home", d.home, "serve", "--listen", "127.0.0.1:0", "--no-mdns",
		"--dht", "--dht-bootstrap", boot, "--dht-listen", "127.0.0.1:0")
	var errb strings.Builder
	cmd.Stdout, cmd.Stderr = full, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code, took := waitExit(t, cmd, start)
	if code == 0 {
		t.Fatalf("serve with a failing stdout exited 0: %s", errb.String())
	}
	if !strings.Contains(errb.String(), "fieldsync: ") {
		t.Fatalf("serve exited %d without saying why: %q", code, errb.String())
	}
	t.Logf("serve --dht with stdout on /dev/full exited %d after %v: %s", code, took.Round(time.Millisecond), strings.TrimSpace(errb.String()))
}

// TestImportCtrlC: Ctrl-C (SIGINT) during a big import stops it, exit
// 130, and leaves nothing of it: no observation, no block, no temporary
// file.
func TestImportCtrlC(t *testing.T) {
	needLinux(t)
	d := newTeam(t, "field")[0]
	in := features(t, 300_000, "big")
	before := d.must("status", "--json")
	cmd := exec.Command(fieldsyncBinary(t), "--home", d.home, "import", in)
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The import is under way once it has read some of the file.
	waitFor(t, time.Minute, 5*time.Millisecond, func() bool { return readingStarted(cmd.Process.Pid, in) }, "the import to start reading its file")
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	code, took := waitExit(t, cmd, sent)
	if code != exitCancelled {
		t.Fatalf("import after Ctrl-C: exit %d, want %d: %s", code, exitCancelled, errb.String())
	}
	t.Logf("import stopped %v after SIGINT", took.Round(time.Millisecond))
	if n := len(d.ids()); n != 0 {
		t.Fatalf("an interrupted import left %d observations", n)
	}
	after := d.must("status", "--json")
	if blocksHeld(t, before) != blocksHeld(t, after) {
		t.Fatalf("an interrupted import left blocks:\nbefore %s\nafter  %s", before, after)
	}
	left, _ := filepath.Glob(filepath.Join(d.home, "projects", "river", "import-*"))
	if len(left) > 0 {
		t.Fatalf("an interrupted import left %v", left)
	}
}

// readingStarted reports whether process pid has path open and has read
// some of it.
func readingStarted(pid int, path string) bool {
	fds, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name()); err != nil || target != path {
			continue
		}
		info, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/fdinfo/" + fd.Name())
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(info), "\n") {
			if pos, ok := strings.CutPrefix(line, "pos:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(pos))
				return n > 0
			}
		}
	}
	return false
}

// blocksHeld is the total length of the cores in a status --json.
func blocksHeld(t *testing.T, status string) uint64 {
	t.Helper()
	var st statusReport
	if err := json.Unmarshal([]byte(status), &st); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range st.Cores {
		n += c.Length
	}
	return n
}
