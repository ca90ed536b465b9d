package hypercore_test

// Concurrent reader: one process appends continuously while another
// process (and, in the test process, two goroutines sharing one Core) open
// the core read-only, Refresh and read every block up to Length. Readers must
// always see a consistent signed prefix: no error, no wrong byte, a length
// that never goes back, a head whose tree is exactly that of the blocks.
//
// The writer and the reader processes are this test binary run again
// (TestHelperReaderChild, FIELDSYNC_READER_CHILD=writer|reader).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hc "github.com/fieldsync/fieldsync/hypercore"
)

const readerRunFor = 1500 * time.Millisecond // per sync mode

// TestHelperReaderChild is not a test: it is the writer or reader process
// of TestReaderConcurrent.
func TestHelperReaderChild(t *testing.T) {
	role := os.Getenv("FIELDSYNC_READER_CHILD")
	if role == "" {
		t.Skip("helper process of TestReaderConcurrent")
	}
	dir := os.Getenv("FIELDSYNC_READER_DIR")
	var err error
	switch role {
	case "writer":
		var n, appends uint64
		n, appends, err = readerWriter(dir, durabilityFromName(os.Getenv("FIELDSYNC_READER_SYNC")), time.Duration(envUint("FIELDSYNC_READER_MS", 1000))*time.Millisecond)
		if err == nil {
			fmt.Fprintf(os.Stdout, "done %d %d\n", n, appends)
		}
	case "reader":
		stop := make(chan struct{})
		go func() { // the parent closes our stdin to stop us
			io.Copy(io.Discard, os.Stdin)
			close(stop)
		}()
		var st readerStats
		var c *hc.Core
		if c, err = hc.Open(dir, hc.OpenOptions{ReadOnly: true}); err != nil {
			break
		}
		st, err = readLoop(c, dir, stop)
		c.Close()
		if err == nil {
			fmt.Fprintf(os.Stdout, "final %d %d %d %d %d %d\n", st.final, st.iters, st.distinct, st.blocks, st.verifies, st.opens)
		}
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", role, err)
		os.Exit(2)
	}
	os.Exit(0)
}

// readerWriter appends blockData batches to the core for d.
func readerWriter(dir string, mode hc.Durability, d time.Duration) (n, appends uint64, err error) {
	c, err := hc.Open(dir, hc.OpenOptions{Durability: mode})
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	n = c.Length()
	for end := time.Now().Add(d); time.Now().Before(end); appends++ {
		k := 1
		if rng.IntN(3) == 0 {
			k = 2 + rng.IntN(20)
		}
		got, err := c.Append(blocksFrom(n, k)...)
		if err != nil {
			return n, appends, fmt.Errorf("append at %d: %w", n, err)
		}
		n = got
		if mode == hc.DurabilityOS {
			// Pace the writer a little (fsync paces DurabilityFsync): the
			// readers see more distinct heads and the core stays small.
			time.Sleep(time.Duration(rng.IntN(400)) * time.Microsecond)
		}
	}
	return n, appends, c.Close()
}

type readerStats struct {
	final                                    uint64
	iters, distinct, blocks, verifies, opens int
}

// readLoop uses c, the core in dir opened read-only: until stop is closed,
// it refreshes and checks every new block, a few old ones, the head against
// the expected tree; every ~150 ms it also verifies the whole core and opens
// it afresh. After stop it refreshes once more and returns the final length.
func readLoop(c *hc.Core, dir string, stop <-chan struct{}) (readerStats, error) {
	var st readerStats
	if c.Writable() {
		return st, errors.New("a ReadOnly core says it is writable")
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	exp := &expTree{}
	var have uint64
	lastSlow := time.Now()
	step := func() error {
		if err := c.Refresh(); err != nil {
			return fmt.Errorf("refresh: %w", err)
		}
		n := c.Length()
		if n < have {
			return fmt.Errorf("length went back from %d to %d", have, n)
		}
		if err := checkHeadMatches(c, exp); err != nil {
			return err
		}
		if err := checkBlocks(c, have, n); err != nil {
			return err
		}
		for j := 0; j < 4 && n > 0; j++ {
			if err := checkBlock(c, rng.Uint64N(n)); err != nil {
				return err
			}
		}
		if _, err := c.Get(n); !errors.Is(err, hc.ErrOutOfRange) {
			return fmt.Errorf("get(%d) at length %d: %v, want ErrOutOfRange", n, n, err)
		}
		if n > have {
			st.distinct++
			st.blocks += int(n - have)
		}
		have = n
		st.iters++
		if time.Since(lastSlow) > 150*time.Millisecond {
			lastSlow = time.Now()
			if err := c.Verify(context.Background(), nil); err != nil {
				return fmt.Errorf("verify at length %d while the writer appends: %w", n, err)
			}
			st.verifies++
			f, err := hc.Open(dir, hc.OpenOptions{ReadOnly: true})
			if err != nil {
				return fmt.Errorf("fresh read-only open while the writer appends: %w", err)
			}
			fn := f.Length()
			ferr := checkHeadMatches(f, &expTree{})
			if ferr == nil && fn > 0 {
				ferr = checkBlock(f, fn-1)
			}
			if rb := f.RolledBack(); ferr == nil && rb != "" {
				ferr = fmt.Errorf("fresh open rolled back: %s", rb)
			}
			f.Close()
			if ferr != nil {
				return fmt.Errorf("fresh read-only open: %w", ferr)
			}
			if fn < n {
				return fmt.Errorf("a fresh open saw length %d after this reader saw %d", fn, n)
			}
			st.opens++
		}
		return nil
	}
	for {
		select {
		case <-stop:
			if err := step(); err != nil { // catch up with the final head
				return st, err
			}
			st.final = have
			return st, nil
		default:
		}
		if err := step(); err != nil {
			return st, err
		}
	}
}

// TestReaderConcurrent runs a writer process and read-only readers (a
// process, and two goroutines on one Core here) on the same core for a
// while, with both sync modes.
func TestReaderConcurrent(t *testing.T) {
	for _, mode := range []hc.Durability{hc.DurabilityOS, hc.DurabilityFsync} {
		t.Run("sync="+durabilityName(mode), func(t *testing.T) { readerRun(t, mode) })
	}
}

func readerRun(t *testing.T, mode hc.Durability) {
	dir := t.TempDir() + "/core"
	if n := makeBlockCore(t, dir, 3, 7); n != 10 {
		t.Fatalf("length %d", n)
	}

	start := func(role string, stdin io.Reader) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperReaderChild$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"FIELDSYNC_READER_CHILD="+role,
			"FIELDSYNC_READER_DIR="+dir,
			"FIELDSYNC_READER_SYNC="+durabilityName(mode),
			"FIELDSYNC_READER_MS="+strconv.FormatInt(readerRunFor.Milliseconds(), 10),
		)
		var stdout, stderr bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() }) // never hang
		return cmd, &stdout, &stderr
	}
	fields := func(out *bytes.Buffer, word string, n int) []uint64 {
		t.Helper()
		sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == n+1 && f[0] == word {
				v := make([]uint64, n)
				for i := range v {
					v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
				}
				return v
			}
		}
		t.Fatalf("no %q line in %q", word, out.String())
		return nil
	}

	// The reader process (stopped by closing its stdin).
	stopReader, stdinW := io.Pipe()
	rcmd, rout, rerr := start("reader", stopReader)
	// Readers here: one goroutine refreshing and checking, one more Getting
	// random blocks of the same Core at the same time.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var local readerStats
	var localErr error
	var gets atomic.Int64
	var getErr atomic.Value
	c, err := hc.Open(dir, hc.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close() // after both goroutines: see TestReaderGetDuringClose
	wg.Go(func() { local, localErr = readLoop(c, dir, stop) })
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(9, 9))
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := c.Length()
			if n == 0 {
				continue
			}
			i := rng.Uint64N(n)
			got, err := c.Get(i)
			if err == nil && !bytes.Equal(got, blockData(i)) {
				err = fmt.Errorf("block %d: wrong bytes %s", i, short(got))
			}
			if err != nil {
				getErr.CompareAndSwap(nil, err)
				return
			}
			gets.Add(1)
		}
	})

	// And a goroutine opening the core afresh, read-only, as fast as it
	// can: an Open racing with the head writes must still see a complete
	// head, never report corruption.
	var freshOpens atomic.Int64
	var openErr atomic.Value
	wg.Go(func() {
		var seen uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			f, err := hc.Open(dir, hc.OpenOptions{ReadOnly: true})
			if err == nil {
				n := f.Length()
				if n < seen {
					err = fmt.Errorf("a fresh open saw length %d after an earlier one saw %d", n, seen)
				} else if rb := f.RolledBack(); rb != "" {
					err = fmt.Errorf("a fresh open rolled back: %s", rb)
				} else if n > 0 {
					err = checkBlock(f, n-1)
				}
				seen = max(seen, n)
				f.Close()
			}
			if err != nil {
				openErr.CompareAndSwap(nil, err)
				return
			}
			freshOpens.Add(1)
		}
	})

	wcmd, wout, werr := start("writer", nil)
	if err := wcmd.Wait(); err != nil {
		close(stop)
		stdinW.Close()
		rcmd.Wait()
		wg.Wait()
		t.Fatalf("writer: %v: %s", err, werr.String())
	}
	done := fields(wout, "done", 2)
	final, appends := done[0], done[1]

	close(stop)
	stdinW.Close()
	rcmdErr := rcmd.Wait()
	wg.Wait()
	if rcmdErr != nil {
		t.Fatalf("READER PROCESS FAILED: %v: %s", rcmdErr, rerr.String())
	}
	if localErr != nil {
		t.Fatalf("READER (in-process) FAILED: %v", localErr)
	}
	if err, _ := getErr.Load().(error); err != nil {
		t.Fatalf("concurrent Get (in-process) FAILED: %v", err)
	}
	if err, _ := openErr.Load().(error); err != nil {
		t.Fatalf("fresh read-only Open during the appends FAILED (after %d good ones): %v", freshOpens.Load(), err)
	}
	r := fields(rout, "final", 6)
	remote := readerStats{final: r[0], iters: int(r[1]), distinct: int(r[2]), blocks: int(r[3]), verifies: int(r[4]), opens: int(r[5])}
	t.Logf("sync=%s: writer made %d appends, length 10 -> %d in %v", durabilityName(mode), appends, final, readerRunFor)
	for _, x := range []struct {
		name string
		st   readerStats
	}{{"reader process", remote}, {"in-process reader", local}} {
		t.Logf("%s: %d refreshes, %d distinct lengths seen, %d blocks checked as they came, %d verifies and %d fresh opens during the appends; final length %d",
			x.name, x.st.iters, x.st.distinct, x.st.blocks, x.st.verifies, x.st.opens, x.st.final)
		if x.st.final != final {
			t.Errorf("%s ended at length %d, the writer at %d: Refresh did not catch up", x.name, x.st.final, final)
		}
		if x.st.distinct < 5 {
			t.Errorf("%s saw only %d distinct lengths: the reader and the writer hardly overlapped", x.name, x.st.distinct)
		}
	}
	t.Logf("in-process: %d concurrent Gets on the shared Core, %d fresh read-only opens", gets.Load(), freshOpens.Load())

	v, err := hc.Open(dir, hc.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if err := checkHeadMatches(v, &expTree{}); err != nil {
		t.Fatal(err)
	}
}

// TestReaderGetDuringClose closes a core while other goroutines Get and
// Verify. Those calls may fail, but only with ErrClosed: a core that is
// being closed is not a corrupt core.
//
// CORE BUG at the time of writing (fails within a few rounds): Get and
// Verify check c.closed under the read lock, release it, then read the
// files; a Close in between closes them, the read fails with "file already
// closed", and Get/Verify wrap that as a *CorruptError ("corrupt core: tree
// node N (tree): missing: read .../tree: file already closed"), so
// errors.Is(err, ErrCorrupt) is true for an intact core. Callers that act on
// ErrCorrupt (drop a peer, refuse a core, tell the user to restore it) are
// misled. Fix: hold c.mu.RLock for the whole read in Get/Node/Verify (Close
// takes the write lock), or map os.ErrClosed to ErrClosed before wrapping.
func TestReaderGetDuringClose(t *testing.T) {
	dir := t.TempDir() + "/core"
	n := makeBlockCore(t, dir, 40, 60)
	var bad []string
	for round := 0; round < 200 && len(bad) == 0; round++ {
		c, err := hc.Open(dir, hc.OpenOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		started := make(chan struct{}, 3)
		for g := 0; g < 3; g++ {
			wg.Go(func() {
				started <- struct{}{}
				for i := uint64(0); ; i = (i + 1) % n {
					var err error
					if g == 2 && i%25 == 0 {
						err = c.Verify(context.Background(), nil)
					} else {
						var got []byte
						got, err = c.Get(i)
						if err == nil && !bytes.Equal(got, blockData(i)) {
							err = fmt.Errorf("block %d: wrong bytes", i)
						}
					}
					if err == nil {
						continue
					}
					if !errors.Is(err, hc.ErrClosed) {
						mu.Lock()
						bad = append(bad, err.Error())
						mu.Unlock()
					}
					return
				}
			})
		}
		for g := 0; g < 3; g++ {
			<-started
		}
		time.Sleep(time.Duration(round%5) * 100 * time.Microsecond)
		c.Close()
		wg.Wait()
		if len(bad) > 0 {
			t.Errorf("CORE BUG: round %d: calls racing with Close failed with %d errors other than ErrClosed; the first: %s (errors.Is ErrCorrupt: true)", round, len(bad), bad[0])
		}
	}
}
