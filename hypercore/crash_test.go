package hypercore_test

// Crash tests: a writer process is killed with SIGKILL at random moments
// while it appends, then the core is reopened and checked (TestCrashKill);
// torn head writes are simulated byte by byte (TestCrashTornHead).
//
// The writer is this test binary run again as a child (the usual helper
// process pattern): TestHelperCrashChild does the work when
// FIELDSYNC_CRASH_CHILD names a core directory, and skips otherwise.
//
// Short run (part of go test): 100 kills. Long run: scripts/crashtest.sh, or
//
//	go test ./hypercore -run '^TestCrashKill$' -count=1 -crash.kills=1000
//
// (FIELDSYNC_CRASH_KILLS=1000 does the same; FIELDSYNC_CRASH_SEED=n replays
// a run whose seed a failure printed.)
//
// The block helpers here (blockData, expTree, ...) are shared with
// reader_test.go and corrupt_test.go.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	hc "github.com/fieldsync/fieldsync/hypercore"
)

var crashKillsFlag = flag.Int("crash.kills", 0, "SIGKILLs done by TestCrashKill, over both sync modes (default: $FIELDSYNC_CRASH_KILLS, else 100)")

const (
	crashDefaultKills = 100 // the short run inside go test
	crashKillsPerCore = 25  // a fresh core after this many kills (keeps cores small)
	crashMaxDelay     = 30 * time.Millisecond
)

// ---------------------------------------------------------------------------
// Deterministic block contents, shared by the crash, reader and corruption
// tests: block i of every test core is blockData(i), whoever appended it and
// in whatever batches, so a checker needs nothing but the index.

func mix64(x uint64) uint64 { // splitmix64 finaliser
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// blockSize is 0 for 5% of blocks, mostly small, sometimes up to ~20 KB so
// that appends cross page boundaries in the data file.
func blockSize(i uint64) int {
	h := mix64(i ^ 0x5eed)
	switch p := h % 100; {
	case p < 5:
		return 0
	case p < 60:
		return 1 + int(h>>8%64)
	case p < 92:
		return 65 + int(h>>8%2000)
	default:
		return 2065 + int(h>>8%18000)
	}
}

// blockData is the content of block i: pseudo-random bytes, with the index
// in the first 8 bytes (when there is room) so a misplaced block is obvious.
func blockData(i uint64) []byte {
	n := blockSize(i)
	b := make([]byte, n)
	r := rand.NewPCG(i, 0xb10c)
	for j := 0; j < n; j += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && j+k < n; k++ {
			b[j+k] = byte(v >> (8 * k))
		}
	}
	if n >= 8 {
		binary.LittleEndian.PutUint64(b, i)
	}
	return b
}

func blocksFrom(start uint64, n int) [][]byte {
	bs := make([][]byte, n)
	for j := range bs {
		bs[j] = blockData(start + uint64(j))
	}
	return bs
}

// expTree is the Merkle tree the blocks blockData(0..n-1) must have, built
// independently of the core with its exported hash functions.
type expTree struct {
	n, bytes uint64
	roots    []hc.Node
	leaves   []uint64 // blocks under each root
}

func (e *expTree) extend(to uint64) {
	for ; e.n < to; e.n++ {
		d := blockData(e.n)
		e.roots = append(e.roots, hc.Node{Index: 2 * e.n, Size: uint64(len(d)), Hash: hc.LeafHash(d)})
		e.leaves = append(e.leaves, 1)
		e.bytes += uint64(len(d))
		for k := len(e.roots); k >= 2 && e.leaves[k-1] == e.leaves[k-2]; k = len(e.roots) {
			p := hc.ParentNode(e.roots[k-2], e.roots[k-1])
			e.roots = append(e.roots[:k-2], p)
			e.leaves = append(e.leaves[:k-2], 2*e.leaves[k-2])
		}
	}
}

// checkHeadMatches says whether the core's signed head is exactly the tree
// of blockData(0..Length-1). With Verify passing, this proves every stored
// byte of every block is right.
func checkHeadMatches(c *hc.Core, e *expTree) error {
	h := c.Head()
	if h.Length < e.n {
		return fmt.Errorf("head length %d is below the %d blocks already checked", h.Length, e.n)
	}
	e.extend(h.Length)
	if h.ByteLength != e.bytes {
		return fmt.Errorf("head byte length %d, want %d", h.ByteLength, e.bytes)
	}
	if want := hc.TreeHash(e.roots); h.TreeHash != want {
		return fmt.Errorf("head tree hash %x at length %d, want %x (the blocks are not blockData(0..%d))", h.TreeHash, h.Length, want, h.Length-1)
	}
	return nil
}

// checkBlocks Gets blocks [from, to) and compares them with blockData.
func checkBlocks(c *hc.Core, from, to uint64) error {
	for i := from; i < to; i++ {
		if err := checkBlock(c, i); err != nil {
			return err
		}
	}
	return nil
}

func checkBlock(c *hc.Core, i uint64) error {
	got, err := c.Get(i)
	if err != nil {
		return fmt.Errorf("get block %d: %w", i, err)
	}
	if want := blockData(i); !bytes.Equal(got, want) {
		return fmt.Errorf("block %d: got %d bytes (%s), want %d bytes (%s)", i, len(got), short(got), len(want), short(want))
	}
	return nil
}

func short(b []byte) string {
	if len(b) > 16 {
		return fmt.Sprintf("%x…", b[:16])
	}
	return fmt.Sprintf("%x", b)
}

// envUint reads an unsigned integer from the environment.
func envUint(name string, def uint64) uint64 {
	if s := os.Getenv(name); s != "" {
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			return v
		}
	}
	return def
}

func durabilityName(m hc.Durability) string {
	if m == hc.DurabilityOS {
		return "none"
	}
	return "always"
}

func durabilityFromName(s string) hc.Durability {
	if s == "none" {
		return hc.DurabilityOS
	}
	return hc.DurabilityFsync
}

// ---------------------------------------------------------------------------
// The child: append until killed.

// TestHelperCrashChild is not a test: it is the writer process of
// TestCrashKill. It opens (or creates) the core named by
// FIELDSYNC_CRASH_CHILD, prints "open L", then for every batch "try N"
// before Append and "ack N" once Append has returned, unbuffered.
func TestHelperCrashChild(t *testing.T) {
	dir := os.Getenv("FIELDSYNC_CRASH_CHILD")
	if dir == "" {
		t.Skip("helper process of TestCrashKill")
	}
	os.Exit(crashChild(dir))
}

func crashChild(dir string) int {
	mode := durabilityFromName(os.Getenv("FIELDSYNC_CRASH_SYNC"))
	maxAppends := envUint("FIELDSYNC_CRASH_APPENDS", 0) // 0: until killed
	rng := rand.New(rand.NewPCG(envUint("FIELDSYNC_CRASH_SEED", 1), 7))
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "crash child: "+format+"\n", args...)
		return 2
	}
	var c *hc.Core
	var err error
	if os.Getenv("FIELDSYNC_CRASH_CREATE") == "1" {
		c, err = hc.Create(dir, hc.CreateOptions{Durability: mode})
	} else {
		c, err = hc.Open(dir, hc.OpenOptions{Durability: mode})
	}
	if err != nil {
		return fail("%v", err)
	}
	n := c.Length()
	fmt.Fprintf(os.Stdout, "open %d\n", n)
	deadline := time.Now().Add(20 * time.Second) // never outlive a dead parent for long
	for a := uint64(0); maxAppends == 0 || a < maxAppends; a++ {
		k := 1
		switch p := rng.IntN(100); {
		case p < 30:
			k = 2 + rng.IntN(7)
		case p < 40:
			k = 9 + rng.IntN(56)
		}
		blocks := blocksFrom(n, k)
		fmt.Fprintf(os.Stdout, "try %d\n", n+uint64(k))
		got, err := c.Append(blocks...)
		if err != nil {
			return fail("append %d blocks at %d: %v", k, n, err)
		}
		if got != n+uint64(k) {
			return fail("append %d blocks at %d returned length %d", k, n, got)
		}
		n = got
		fmt.Fprintf(os.Stdout, "ack %d\n", n)
		if time.Now().After(deadline) {
			break
		}
	}
	if err := c.Close(); err != nil {
		return fail("close: %v", err)
	}
	return 0
}

// ---------------------------------------------------------------------------
// The parent.

type killPlan int

const (
	killAtStart   killPlan = iota // right after exec: runtime start, Create or Open
	killAfterOpen                 // within ~0.3 ms of "open": the first append
	killAfterAck                  // within ~0.3 ms of the k-th "ack": mid-append, often mid-batch
	killAfterTime                 // a random 0-30 ms after start
	numKillPlans
)

var killPlanNames = [numKillPlans]string{"at-start", "after-open", "after-ack", "after-delay"}

type childRun struct {
	opened          bool
	openLen         uint64
	acked, tried    uint64
	acks            int
	exitedByItself  bool
	killedBySIGKILL bool
}

// runCrashChild starts a writer child on dir and kills it as plan says (or
// lets it finish when maxAppends > 0).
func runCrashChild(t *testing.T, dir string, mode hc.Durability, create bool, seed uint64, maxAppends int, plan killPlan, afterAcks int, delay time.Duration) (childRun, error) {
	var r childRun
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"FIELDSYNC_CRASH_CHILD="+dir,
		"FIELDSYNC_CRASH_SYNC="+durabilityName(mode),
		"FIELDSYNC_CRASH_SEED="+strconv.FormatUint(seed, 10),
		"FIELDSYNC_CRASH_APPENDS="+strconv.Itoa(maxAppends),
	)
	if create {
		cmd.Env = append(cmd.Env, "FIELDSYNC_CRASH_CREATE=1")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return r, err
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = pw, &stderr
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return r, err
	}
	pw.Close()
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var parseErr error
	parse := func(l string) bool { // reports whether plan's trigger line was seen
		f := strings.Fields(l)
		if len(f) != 2 {
			return false // e.g. the test framework's PASS
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return false
		}
		switch f[0] {
		case "open":
			r.opened, r.openLen, r.acked, r.tried = true, v, v, v
			return plan == killAfterOpen
		case "try":
			if v <= r.tried && parseErr == nil {
				parseErr = fmt.Errorf("child tried length %d after %d", v, r.tried)
			}
			r.tried = v
		case "ack":
			if v != r.tried && parseErr == nil {
				parseErr = fmt.Errorf("child acked %d while trying %d", v, r.tried)
			}
			r.acked = v
			r.acks++
			return plan == killAfterAck && r.acks == afterAcks
		}
		return false
	}
	kill := func() { cmd.Process.Signal(syscall.SIGKILL) }
	killed := false
	if maxAppends == 0 && plan == killAtStart {
		kill()
		killed = true
	}
	var timer <-chan time.Time
	if maxAppends == 0 && plan == killAfterTime {
		timer = time.After(delay)
	}
	safety := time.After(60 * time.Second)
loop:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break loop
			}
			if parse(l) && !killed && maxAppends == 0 {
				if delay > 0 {
					time.Sleep(delay)
				}
				kill()
				killed = true
			}
		case <-timer:
			kill()
			killed = true
		case <-safety:
			kill()
			killed = true
			parseErr = errors.New("child still running after 60 s")
		}
	}
	werr := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case werr == nil:
		r.exitedByItself = true
	case errors.As(werr, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.killedBySIGKILL = true
		} else {
			return r, fmt.Errorf("child failed (%v): %s", werr, stderr.String())
		}
	default:
		return r, fmt.Errorf("child: %v", werr)
	}
	if r.killedBySIGKILL && !killed {
		return r, fmt.Errorf("child was SIGKILLed by someone else: %s", stderr.String())
	}
	if parseErr != nil {
		return r, parseErr
	}
	if r.exitedByItself && maxAppends == 0 {
		return r, fmt.Errorf("child exited before it was killed: %s", stderr.String())
	}
	return r, nil
}

func crashKills() int {
	if *crashKillsFlag > 0 {
		return *crashKillsFlag
	}
	return int(envUint("FIELDSYNC_CRASH_KILLS", crashDefaultKills))
}

// TestCrashKill kills a writer process with SIGKILL at random moments,
// hundreds of times with -crash.kills, and checks after every kill that the
// core opens, verifies, holds every acknowledged block with the right bytes,
// and can be appended to by the next writer.
func TestCrashKill(t *testing.T) {
	total := crashKills()
	seed := envUint("FIELDSYNC_CRASH_SEED", uint64(time.Now().UnixNano()))
	t.Logf("%d kills, seed %d (FIELDSYNC_CRASH_SEED=%d replays the same plan)", total, seed, seed)
	for v, mode := range []hc.Durability{hc.DurabilityOS, hc.DurabilityFsync} {
		kills := total / 2
		if v == 0 {
			kills = total - total/2
		}
		t.Run("sync="+durabilityName(mode), func(t *testing.T) {
			t.Parallel()
			crashKillRun(t, mode, kills, seed+uint64(v)*1000003)
		})
	}
}

type crashStats struct {
	plans            [numKillPlans]int
	beforeOpen       int // killed before it printed "open"
	createKilled     int // killed inside Create, leaving no core
	midAppend        int // killed between "try" and "ack"
	unackedDurable   int // ... and the unacknowledged append had nonetheless reached the head
	leftovers        int // data or tree file held bytes past the head after the kill
	notes            int // Notes() reported a damaged head copy after the kill
	cores            int
	appends, blocks  uint64
	fullChecks       int
	continued        int // kills after which the core already held blocks from earlier children
	finishedChildren int
}

func crashKillRun(t *testing.T, mode hc.Durability, kills int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	base := t.TempDir()
	start := time.Now()
	var st crashStats

	var (
		dir     string
		create  bool
		exp     *expTree
		durable uint64 // the length every later open must reach
	)
	newCore := func() {
		st.cores++
		dir = filepath.Join(base, fmt.Sprintf("core%03d", st.cores))
		create, exp, durable = true, &expTree{}, 0
	}
	// check reopens the core the way a restarted writer would and checks it.
	check := func(k int, r childRun, full bool) {
		t.Helper()
		c, err := hc.Open(dir, hc.OpenOptions{Durability: mode})
		if err != nil {
			if create && !r.opened && errors.Is(err, hc.ErrNotCore) {
				// Killed inside Create: no core was made and nothing was
				// acknowledged. Create refuses a non-empty directory, so
				// clear what it left and create again.
				st.createKilled++
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				return
			}
			t.Fatalf("kill %d: reopen after SIGKILL: %v", k, err)
		}
		defer c.Close()
		create = false
		n := c.Length()
		if n < max(durable, r.acked) {
			t.Fatalf("kill %d: ACKNOWLEDGED APPEND LOST: length %d after reopen, %d acknowledged (earlier durable length %d)", k, n, r.acked, durable)
		}
		if hi := max(durable, r.tried, r.acked); n > hi {
			t.Fatalf("kill %d: length %d is more than any append tried (%d)", k, n, hi)
		}
		if r.tried > r.acked {
			st.midAppend++
			if n > r.acked {
				st.unackedDurable++
			}
		}
		if rb := c.RolledBack(); rb != "" {
			t.Fatalf("kill %d: reopen fell back to an older head after a SIGKILL: %s", k, rb)
		}
		if fi, err := os.Stat(filepath.Join(dir, "data")); err == nil && uint64(fi.Size()) > c.Head().ByteLength {
			st.leftovers++
		} else if fi, err := os.Stat(filepath.Join(dir, "tree")); err == nil && n > 0 && uint64(fi.Size()) > (2*n-1)*56 {
			st.leftovers++
		}
		if err := c.Verify(context.Background(), nil); err != nil {
			t.Fatalf("kill %d: verify after SIGKILL (length %d): %v", k, n, err)
		}
		// A killed process cannot tear a one-page head write (the page
		// cache keeps whole pages), so a note here would be surprising;
		// counted, not failed, as it depends on the kernel.
		if notes, err := c.Notes(); err != nil {
			t.Fatalf("kill %d: notes: %v", k, err)
		} else if len(notes) > 0 {
			st.notes++
			t.Logf("kill %d: notes after SIGKILL: %q", k, notes)
		}
		checked := exp.n
		if err := checkHeadMatches(c, exp); err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
		from := checked
		if full {
			from = 0
			st.fullChecks++
		}
		if err := checkBlocks(c, from, n); err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
		for j := 0; j < 16 && checked > 0; j++ { // a sample of older blocks
			if err := checkBlock(c, rng.Uint64N(checked)); err != nil {
				t.Fatalf("kill %d: %v", k, err)
			}
		}
		if _, err := c.Get(n); !errors.Is(err, hc.ErrOutOfRange) {
			t.Fatalf("kill %d: get(%d) past the end: %v", k, n, err)
		}
		if n > durable {
			st.blocks += n - durable
		}
		durable = n
	}
	// finish lets one more writer append a few batches undisturbed and
	// exit, then checks the whole core.
	finish := func(k int) {
		t.Helper()
		if create {
			return // every kill of this core landed inside Create
		}
		r, err := runCrashChild(t, dir, mode, false, rng.Uint64(), 5, 0, 0, 0)
		if err != nil {
			t.Fatalf("after kill %d: a writer could not continue the core: %v", k, err)
		}
		if !r.exitedByItself || r.acks != 5 || r.openLen != durable {
			t.Fatalf("after kill %d: continuing writer: %+v, durable length %d", k, r, durable)
		}
		st.finishedChildren++
		check(k, r, true)
	}

	for k := 0; k < kills; k++ {
		if k%crashKillsPerCore == 0 {
			if k > 0 {
				finish(k)
			}
			newCore()
		}
		plan := killPlan(0)
		switch p := rng.IntN(100); {
		case p < 10:
			plan = killAtStart
		case p < 20:
			plan = killAfterOpen
		case p < 45:
			plan = killAfterAck
		default:
			plan = killAfterTime
		}
		var delay time.Duration
		afterAcks := 0
		switch plan {
		case killAfterOpen:
			delay = time.Duration(rng.IntN(300)) * time.Microsecond
		case killAfterAck:
			afterAcks = 1 + rng.IntN(40)
			delay = time.Duration(rng.IntN(300)) * time.Microsecond
		case killAfterTime:
			delay = time.Duration(rng.Int64N(int64(crashMaxDelay)))
		}
		if durable > 0 {
			st.continued++
		}
		st.plans[plan]++
		r, err := runCrashChild(t, dir, mode, create, rng.Uint64(), 0, plan, afterAcks, delay)
		if err != nil {
			t.Fatalf("kill %d (%s): %v", k, killPlanNames[plan], err)
		}
		if !r.opened {
			st.beforeOpen++
		}
		st.appends += uint64(r.acks)
		check(k, r, k%10 == 9)
	}
	finish(kills)

	t.Logf("sync=%s: %d kills on %d cores in %v; plans %v=%v; killed before open %d (inside Create, leaving no core: %d); "+
		"mid-append %d (of which the unacknowledged append was already durable: %d); kills leaving bytes past the head: %d; with head notes: %d; "+
		"%d appends acknowledged, %d blocks checked durable, %d full re-reads, %d kills on a core holding earlier children's blocks, %d undisturbed writers continued",
		durabilityName(mode), kills, st.cores, time.Since(start).Round(time.Millisecond), killPlanNames, st.plans,
		st.beforeOpen, st.createKilled, st.midAppend, st.unackedDurable, st.leftovers, st.notes,
		st.appends, st.blocks, st.fullChecks, st.continued, st.finishedChildren)
	if kills >= 30 && st.midAppend == 0 {
		t.Errorf("no kill landed inside an append: the test did not test much (timing changed?)")
	}
}

// ---------------------------------------------------------------------------
// Torn head writes.

// Head slot layout (storage.go): two 4096-byte slots; slot seq&1 holds the
// head with sequence number seq (1 for the first signed head). A slot is
// magic[8] ‖ seq ‖ length ‖ fork ‖ byteLength ‖ have ‖ haveBytes (u64le)
// ‖ treeHash[32] ‖ u32le sigLen ‖ sig ‖ BLAKE2b-256; the rest is padding.
const (
	headSlot     = 4096
	slotSigLenAt = 8 + 6*8 + 32
)

// slotUsed is the number of meaningful bytes of a written slot (0 for a
// slot never written).
func slotUsed(slot []byte) int {
	if string(slot[:8]) != "hchead02" {
		return 0
	}
	return slotSigLenAt + 4 + int(binary.LittleEndian.Uint32(slot[slotSigLenAt:])) + 32
}

// copyDir copies the regular files of src into a new directory dst.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func readFileT(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeAtT(t testing.TB, name string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// makeBlockCore creates a core in dir with the given append batches of
// blockData blocks and returns its length.
func makeBlockCore(t testing.TB, dir string, batches ...int) uint64 {
	t.Helper()
	c, err := hc.Create(dir, hc.CreateOptions{Seed: bytes.Repeat([]byte{7}, 32), Durability: hc.DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n uint64
	for _, k := range batches {
		if n, err = c.Append(blocksFrom(n, k)...); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// openAndCheck opens dir and checks that it holds exactly blockData(0..n-1)
// with n in want; it returns the open core.
func openAndCheck(t *testing.T, dir string, want ...uint64) *hc.Core {
	t.Helper()
	c, err := hc.Open(dir, hc.OpenOptions{Durability: hc.DurabilityOS})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	n := c.Length()
	ok := false
	for _, w := range want {
		ok = ok || n == w
	}
	if !ok {
		c.Close()
		t.Fatalf("opened at length %d, want one of %v", n, want)
	}
	if err := checkHeadMatches(c, &expTree{}); err != nil {
		c.Close()
		t.Fatal(err)
	}
	if err := checkBlocks(c, 0, n); err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c
}

// slotSeq is the sequence number of a written slot.
func slotSeq(slot []byte) uint64 { return binary.LittleEndian.Uint64(slot[8:16]) }

// TestCrashTornHead writes part of a head slot, as a crash (power loss) in
// the middle of the head write of an append would, and checks that the core
// opens at the last complete head, that Get returns the right bytes, and
// that the next append works and leaves a core that verifies clean.
//
// It does not assume which slots an append writes: it compares the head file
// before and after a real append, and tears each slot that changed, in file
// order (the documented write order: the non-current slot of the old
// two-slot layout; primary then mirror since commit 7a2ba57), with the
// slots before it complete and the slots after it untouched.
//
// It also damages head slots as no crash can (garbage over a slot holding
// the current head, over both slots): the core must then report it, and
// must not lose an acknowledged head unless it says so.
func TestCrashTornHead(t *testing.T) {
	for _, appends := range []int{1, 2, 5, 6} {
		t.Run(fmt.Sprintf("heads=%d", appends), func(t *testing.T) {
			batches := []int{3, 1, 4, 1, 5, 9}[:appends]
			base := t.TempDir()
			orig := filepath.Join(base, "orig")
			length := makeBlockCore(t, orig, batches...)
			prevLength := length - uint64(batches[appends-1])

			// The state after the next append: data and tree are written
			// before any head bytes.
			next := filepath.Join(base, "next")
			copyDir(t, orig, next)
			nc := openAndCheck(t, next, length)
			if _, err := nc.Append(blocksFrom(length, 3)...); err != nil {
				t.Fatal(err)
			}
			nc.Close()
			oldHead := readFileT(t, filepath.Join(orig, "head"))
			newHead := readFileT(t, filepath.Join(next, "head"))
			if len(oldHead) != 2*headSlot || len(newHead) != 2*headSlot {
				t.Fatalf("head files of %d and %d bytes, want %d", len(oldHead), len(newHead), 2*headSlot)
			}
			slot := func(b []byte, s int) []byte { return b[s*headSlot : (s+1)*headSlot] }
			var changed []int
			for s := 0; s < 2; s++ {
				if !bytes.Equal(slot(oldHead, s), slot(newHead, s)) {
					changed = append(changed, s)
				}
			}
			if len(changed) == 0 {
				t.Fatal("an append did not change the head file")
			}

			run := 0
			for ci, s := range changed {
				oldSlot, newSlot := slot(oldHead, s), slot(newHead, s)
				used, oldUsed := slotUsed(newSlot), slotUsed(oldSlot)
				if used == 0 {
					t.Fatalf("slot %d written by the append has no magic", s)
				}
				torn := func(name string, ts []byte) {
					t.Helper()
					run++
					dir := filepath.Join(base, fmt.Sprintf("torn%03d", run))
					copyDir(t, next, dir) // data and tree of the append
					head := bytes.Clone(oldHead)
					for _, e := range changed[:ci] { // written completely before s
						copy(slot(head, e), slot(newHead, e))
					}
					copy(slot(head, s), ts)
					if err := os.WriteFile(filepath.Join(dir, "head"), head, 0o644); err != nil {
						t.Fatal(err)
					}
					complete := bytes.Equal(ts[:used], newSlot[:used])
					want := length
					if ci > 0 || complete {
						want = length + 3
					}
					damaged := !complete && !bytes.Equal(ts, make([]byte, headSlot)) &&
						(oldUsed == 0 || !bytes.Equal(ts[:oldUsed], oldSlot[:oldUsed]))
					t.Run(fmt.Sprintf("slot%d/%s", s, name), func(t *testing.T) {
						c := openAndCheck(t, dir, want)
						defer c.Close()
						if rb := c.RolledBack(); rb != "" {
							t.Errorf("RolledBack() = %q after a torn head write", rb)
						}
						verr := c.Verify(context.Background(), nil)
						if verr != nil && !errors.Is(verr, hc.ErrCorrupt) {
							t.Errorf("verify: %v, want nil or an error wrapping ErrCorrupt", verr)
						}
						notes, err := c.Notes()
						if err != nil {
							t.Errorf("notes: %v", err)
						}
						if damaged && verr == nil && len(notes) == 0 {
							t.Errorf("the torn slot is reported neither by Verify nor by Notes")
						}
						// The next writer continues and the core verifies
						// clean again.
						n, err := c.Append(blocksFrom(want, 2)...)
						if err != nil || n != want+2 {
							t.Fatalf("append after torn head: %d, %v", n, err)
						}
						c.Close()
						c2 := openAndCheck(t, dir, want+2)
						defer c2.Close()
						if err := c2.Verify(context.Background(), nil); err != nil {
							t.Errorf("verify after the next append: %v", err)
						}
						if notes, _ := c2.Notes(); len(notes) > 0 {
							t.Errorf("notes after the next append: %q", notes)
						}
						if h := c2.Head(); h.Fork != 0 {
							t.Errorf("fork %d after a torn head write, want 0 (no head was lost)", h.Fork)
						}
					})
				}
				cuts := []int{0, 1, 7, 8, 16, 40, 72, 76, 100, used - 33, used - 1, used, 512, headSlot}
				for _, p := range cuts {
					ts := bytes.Clone(oldSlot) // the first p bytes reached the disk
					copy(ts[:p], newSlot[:p])
					torn(fmt.Sprintf("prefix=%d", p), ts)
					ts = bytes.Clone(oldSlot) // only bytes from p on reached the disk
					copy(ts[p:], newSlot[p:])
					torn(fmt.Sprintf("suffix=%d", p), ts)
				}
				ts := bytes.Clone(newSlot) // a hole in the middle
				for i := 50; i < 90; i++ {
					ts[i] ^= 0x5a
				}
				torn("garbage=50-90", ts)
			}

			// Garbage over slots of the intact core: no crash does this.
			damaged := func(name string, slots ...int) {
				run++
				dir := filepath.Join(base, fmt.Sprintf("damaged%03d", run))
				copyDir(t, orig, dir)
				for _, sl := range slots {
					junk := make([]byte, 60)
					for i := range junk {
						junk[i] = byte(mix64(uint64(i+run)) | 1)
					}
					writeAtT(t, filepath.Join(dir, "head"), int64(sl*headSlot+30), junk)
				}
				// Did a damaged slot hold the only copy of the current head?
				var seqs [2]uint64
				for s := 0; s < 2; s++ {
					if slotUsed(slot(oldHead, s)) > 0 {
						seqs[s] = slotSeq(slot(oldHead, s))
					}
				}
				top := max(seqs[0], seqs[1])
				lost := len(slots) == 2 || seqs[1-slots[0]] != top
				t.Run(name, func(t *testing.T) {
					c, err := hc.Open(dir, hc.OpenOptions{ReadOnly: true})
					if err != nil {
						if !errors.Is(err, hc.ErrCorrupt) {
							t.Fatalf("open: %v, want nil or an error wrapping ErrCorrupt", err)
						}
						return
					}
					defer c.Close()
					n := c.Length()
					if !lost && n != length {
						t.Errorf("opened at length %d, want %d: the other slot holds the current head", n, length)
					}
					if lost && len(slots) == 1 && appends > 1 && n != length && n != prevLength {
						t.Errorf("opened at length %d, want %d or the previous head's %d", n, length, prevLength)
					}
					if err := checkHeadMatches(c, &expTree{}); err != nil {
						t.Error(err)
					}
					if err := checkBlocks(c, 0, n); err != nil {
						t.Error(err)
					}
					verr := c.Verify(context.Background(), nil)
					notes, _ := c.Notes()
					switch {
					case verr != nil && !errors.Is(verr, hc.ErrCorrupt):
						t.Errorf("verify: %v", verr)
					case n < length && verr == nil:
						// A silent loss: what the two-slot layout (before
						// 7a2ba57) did. TestCorruptFlipHead fails on it;
						// not failed twice.
						t.Logf("CORE BUG (TestCorruptFlipHead fails on it): opened at length %d of %d acknowledged, verify = %v, notes %q", n, length, verr, notes)
					case verr == nil && len(notes) == 0:
						t.Errorf("damaged head slots %v reported neither by Verify nor by Notes", slots)
					}
				})
			}
			damaged("slot0", 0)
			damaged("slot1", 1)
			damaged("both-slots", 0, 1)
		})
	}
}
