// Command fieldsync records, syncs, exports and audits field observations
// kept in Hypercore 11–compatible signed logs.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// FIELDSYNC_CPUPROFILE=FILE writes a CPU profile of the command (for
	// benchmarks; see bench/README.md).
	if path := os.Getenv("FIELDSYNC_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
		}
	}
	// The live heap is small (a few MB) while replication churns through
	// block-sized buffers: at the default GOGC the collector runs every
	// few blocks and hands pages back to the OS only to fault them in
	// again. A larger target (still tens of MB) cuts CPU per block by
	// about a fifth. GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// ...but a large live heap (a big import) must not grow 5× before a
	// collection: past 1 GiB the collector works to stay under it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	pprof.StopCPUProfile()
	os.Exit(code)
}

// Exit codes. Documented in README.md; scripts rely on them.
const (
	exitOK        = 0
	exitFailure   = 1 // an operation failed, or a check found a problem
	exitUsage     = 2 // bad command line or bad input
	exitCancelled = 130
)

// exitError carries an exit code with an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// run executes one command line and returns the process exit code. Every
// error is printed as one line on stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(&globals{stdin: stdin, stdout: stdout, stderr: stderr})
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "fieldsync: %s\n", oneLine(err.Error()))
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled):
		return exitCancelled
	default:
		return exitFailure
	}
}

func oneLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
