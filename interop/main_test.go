package interop

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Set once by TestMain, read-only afterwards.
var (
	fieldsyncBin string // the fieldsync binary built for this run
	runRoot      string // this run's temp directory, removed at the end
	js           *jsEnv // the JS harness, nil when unavailable
	jsErr        error  // why js is nil
)

// timeoutGo bounds one fieldsync command.
const timeoutGo = time.Minute

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse() // for testing.Verbose
	root, err := os.MkdirTemp("", "fieldsync-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(root)
	runRoot = root

	start := time.Now()
	fieldsyncBin = filepath.Join(root, "fieldsync"+exeSuffix())
	build := exec.Command("go", "build", "-buildvcs=false", "-o", fieldsyncBin, "github.com/fieldsync/fieldsync/cmd/fieldsync")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "interop: go build ./cmd/fieldsync failed: %v\n%s", err, out)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "interop: built fieldsync in %v\n", time.Since(start).Round(time.Millisecond))
	}

	start = time.Now()
	js, jsErr = prepareJS(filepath.Join(root, "jsref"))
	switch {
	case jsErr != nil && os.Getenv("CI") != "":
		fmt.Fprintf(os.Stderr, "\ninterop: FAIL: JS reference harness unavailable and CI is set: %v\n\n", jsErr)
	case jsErr != nil:
		fmt.Fprintf(os.Stderr, "\n"+
			"interop: ************************************************************\n"+
			"interop: JS reference harness unavailable: the Go/JS comparisons WILL BE SKIPPED.\n"+
			"interop: reason: %v\n"+
			"interop: ************************************************************\n\n", jsErr)
	case testing.Verbose():
		fmt.Fprintf(os.Stderr, "interop: JS harness %s (node %s) ready in %v\n", js.cacheDir, js.nodeVersion, time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

// needJS returns the JS harness, or ends the test: a failure when CI is set,
// a skip naming what is missing otherwise. Never a silent pass.
func needJS(t *testing.T) *jsEnv {
	t.Helper()
	if js != nil {
		return js
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("JS reference harness unavailable (CI is set, so this fails): %v", jsErr)
	}
	t.Skipf("SKIPPED, NOT PASSED: JS reference harness unavailable: %v", jsErr)
	return nil
}

// result is what a finished command left behind.
type result struct {
	stdout, stderr []byte
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stderr %q", r.code, strings.TrimSpace(string(r.stderr)))
}

// run runs name with args (and stdin when non-nil) under a timeout. A command
// that cannot start or times out fails the test; a non-zero exit is returned.
func run(t *testing.T, timeout time.Duration, stdin []byte, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	res := result{stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s %s: timed out after %v; stderr %q", filepath.Base(name), strings.Join(args, " "), timeout, stderr.String())
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v", filepath.Base(name), strings.Join(args, " "), err)
	}
	return res
}

// fieldsync runs the CLI and fails the test on a non-zero exit.
func fieldsync(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	res := run(t, timeoutGo, stdin, fieldsyncBin, args...)
	if res.code != 0 {
		t.Fatalf("fieldsync %s: %v", strings.Join(args, " "), res)
	}
	return res.stdout
}
