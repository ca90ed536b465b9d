package scripts

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReleaseReproducible runs release.sh twice for this machine's own
// target into two directories and checks: both give a binary and a
// SHA256SUMS that lists it, the two builds have the same bytes, and the
// binary's --version names the version and commit it was given. Building
// compiles SQLite with the release flags (minutes the first time), so it
// runs only with FIELDSYNC_RELEASE_TEST=1; .ci/run builds the Windows
// binary through release.sh on every run instead.
func TestReleaseReproducible(t *testing.T) {
	if os.Getenv("FIELDSYNC_RELEASE_TEST") != "1" {
		t.Skip("slow (compiles SQLite): set FIELDSYNC_RELEASE_TEST=1 to run release.sh")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("release.sh runs on linux/amd64 in this test")
	}
	commit, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	var sums [2]string
	var bin string
	for i := range sums {
		dist := t.TempDir()
		cmd := exec.Command("bash", "release.sh", dist)
		cmd.Env = append(os.Environ(), "TARGETS=linux/amd64", "VERSION=9.8.7-test")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("release.sh: %v\n%s", err, out)
		}
		b, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = string(b)
		bin = filepath.Join(dist, "fieldsync-9.8.7-test-linux-amd64")
		if _, err := os.Stat(bin); err != nil {
			t.Fatal(err)
		}
		check := exec.Command("sha256sum", "-c", "SHA256SUMS")
		check.Dir = dist
		if out, err := check.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum -c: %v\n%s", err, out)
		}
	}
	if sums[0] != sums[1] || strings.Count(sums[0], "\n") != 1 {
		t.Fatalf("two builds of one commit differ or list more than one file:\n%s\n%s", sums[0], sums[1])
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(strings.NewReader(string(out))).ReadString('\n')
	want := "fieldsync 9.8.7-test (commit " + strings.TrimSpace(string(commit))[:12] + ", "
	if !strings.HasPrefix(line, want) || !strings.Contains(line, "linux/amd64") {
		t.Fatalf("--version = %q, want it to start %q", line, want)
	}
}
