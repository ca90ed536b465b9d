package interop

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Replication interop: a Go download of a core served by the real JS
// Hypercore (peer.mjs serve), and a JS download (peer.mjs download) of a
// core served by `fieldsync core serve`, each ending with the same key,
// length, tree hash, signature and blocksSha256 on both sides, and with
// the blocks peer.mjs derives from its seed (checked independently here).

// peerBlock is block i of a peer.mjs --blocks/--size core: the first size
// bytes of the AES-256-CTR keystream with key seed and counter block
// u64be(i) ‖ 8 zero bytes.
func peerBlock(seed []byte, i, size int) []byte {
	c, err := aes.NewCipher(seed)
	if err != nil {
		panic(err)
	}
	iv := make([]byte, 16)
	binary.BigEndian.PutUint64(iv, uint64(i))
	out := make([]byte, size)
	cipher.NewCTR(c, iv).XORKeyStream(out, out)
	return out
}

func peerBlocksSHA256(seed []byte, n, size int) string {
	h := sha256.New()
	for i := range n {
		h.Write(peerBlock(seed, i, size))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// proc is a long-running command whose stdout lines are read as they come.
type proc struct {
	name   string
	cmd    *exec.Cmd
	lines  chan []byte
	stderr *syncBuffer
	exited chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startProc starts name; the test's cleanup stops it (SIGTERM, then kill).
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	p := &proc{name: filepath.Base(name) + " " + args[0], cmd: cmd, lines: make(chan []byte, 1024), stderr: &syncBuffer{}, exited: make(chan struct{})}
	if len(args) > 1 && filepath.Ext(args[0]) == ".mjs" {
		p.name = "peer.mjs " + args[1]
	}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(p.lines)
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop() })
	return p
}

// line returns the next stdout line, failing the test after timeout or if
// the process ended without one.
func (p *proc) line(t *testing.T, timeout time.Duration) []byte {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			<-p.exited
			t.Fatalf("%s ended without the expected line: %v; stderr %q", p.name, p.err, p.stderr.String())
		}
		return l
	case <-time.After(timeout):
		t.Fatalf("%s: no line within %v; stderr %q", p.name, timeout, p.stderr.String())
	}
	return nil
}

// stop asks the process to end (SIGTERM) and waits; it kills it after 5 s.
func (p *proc) stop() error {
	select {
	case <-p.exited:
		return p.err
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	return p.err
}

// wait waits for the process to end by itself.
func (p *proc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("%s did not end within %v; stderr %q", p.name, timeout, p.stderr.String())
	}
	return nil
}

// goDownload is the JSON line of `fieldsync core download`.
type goDownload struct {
	Key          string  `json:"key"`
	DiscoveryKey string  `json:"discoveryKey"`
	Length       uint64  `json:"length"`
	ByteLength   uint64  `json:"byteLength"`
	Fork         uint64  `json:"fork"`
	TreeHash     string  `json:"treeHash"`
	Signature    string  `json:"signature"`
	BlocksSha256 string  `json:"blocksSha256"`
	Fetched      uint64  `json:"fetched"`
	Ms           float64 `json:"ms"`
}

var goDownloadFields = []string{"key", "discoveryKey", "length", "byteLength", "fork", "treeHash", "signature", "blocksSha256", "fetched", "ms", "firstBlockMs"}

// jsDownload is the JSON line of `peer.mjs download`.
type jsDownload struct {
	Key          string  `json:"key"`
	Length       uint64  `json:"length"`
	ByteLength   uint64  `json:"byteLength"`
	Fork         uint64  `json:"fork"`
	TreeHash     string  `json:"treeHash"`
	Signature    *string `json:"signature"`
	BlocksSha256 string  `json:"blocksSha256"`
	Compat       bool    `json:"compat"`
	Ms           float64 `json:"ms"`
}

type serveReadyGo struct {
	Key          string `json:"key"`
	DiscoveryKey string `json:"discoveryKey"`
	Port         int    `json:"port"`
	Length       uint64 `json:"length"`
	ByteLength   uint64 `json:"byteLength"`
	Fork         uint64 `json:"fork"`
	TreeHash     string `json:"treeHash"`
}

// jsServe starts peer.mjs serve and returns it with its ready line.
func jsServe(t *testing.T, e *jsEnv, args ...string) (*proc, jsState) {
	t.Helper()
	p := startProc(t, e.node, append([]string{filepath.Join(e.scriptDir, "peer.mjs"), "serve", "--listen", "127.0.0.1:0"}, args...)...)
	var st jsState
	decodeStrict(t, "peer.mjs serve", p.line(t, nodeTimeout), jsReadyFields, &st)
	if st.Event != "ready" {
		t.Fatalf("peer.mjs serve: first line is not the ready event: %+v", st)
	}
	return p, st
}

// goServe starts fieldsync core serve on dir and returns it with its
// ready line.
func goServe(t *testing.T, dir string) (*proc, serveReadyGo) {
	t.Helper()
	p := startProc(t, fieldsyncBin, "core", "serve", dir, "--listen", "127.0.0.1:0")
	var r serveReadyGo
	decodeStrict(t, "fieldsync core serve", p.line(t, timeoutGo), []string{"key", "discoveryKey", "port", "length", "byteLength", "fork", "treeHash"}, &r)
	return p, r
}

func parseGoDownload(t *testing.T, b []byte) goDownload {
	t.Helper()
	var d goDownload
	decodeStrict(t, "fieldsync core download", b, goDownloadFields, &d)
	return d
}

// diffDownload compares a Go download with the JS core it came from.
func diffDownload(g goDownload, j jsState) []string {
	var d []string
	field := func(name string, gv, jv any) {
		if gv != jv {
			d = append(d, fmt.Sprintf("%s: Go %v, JS %v", name, gv, jv))
		}
	}
	field("key", g.Key, j.Key)
	field("discoveryKey", g.DiscoveryKey, j.DiscoveryKey)
	field("length", g.Length, j.Length)
	field("byteLength", g.ByteLength, j.ByteLength)
	field("fork", g.Fork, j.Fork)
	field("treeHash", g.TreeHash, j.TreeHash)
	field("blocksSha256", g.BlocksSha256, j.BlocksSha256)
	if j.Signature != nil {
		field("signature", g.Signature, *j.Signature)
	}
	return d
}

var replCases = []struct {
	name         string
	blocks, size int
	compat       bool
	seed         byte
}{
	{"1KiBx1000", 1000, 1024, false, 0x21},
	{"64KiBx50", 50, 64 << 10, false, 0x22},
	{"compat-300Bx200", 200, 300, true, 0x23},
}

// TestReplicateJSToGo: fieldsync downloads cores the JS reference serves.
func TestReplicateJSToGo(t *testing.T) {
	e := needJS(t)
	for _, tc := range replCases {
		t.Run(tc.name, func(t *testing.T) {
			seed := bytes.Repeat([]byte{tc.seed}, 32)
			args := []string{"--seed", hex.EncodeToString(seed), "--blocks", strconv.Itoa(tc.blocks), "--size", strconv.Itoa(tc.size)}
			if tc.compat {
				args = append(args, "--compat")
			}
			_, ready := jsServe(t, e, args...)
			if want := peerBlocksSHA256(seed, tc.blocks, tc.size); ready.BlocksSha256 != want {
				t.Fatalf("JS serves blocks with sha256 %s, expected %s (block derivation changed?)", ready.BlocksSha256, want)
			}
			dir := filepath.Join(t.TempDir(), "copy")
			g := parseGoDownload(t, fieldsync(t, nil, "core", "download", ready.Key, "--connect", fmt.Sprintf("127.0.0.1:%d", ready.Port), "--dir", dir, "--timeout", "60s"))
			if d := diffDownload(g, ready); len(d) > 0 {
				t.Fatalf("Go download differs from the JS core:\n\t%v", d)
			}
			if g.Fetched != uint64(tc.blocks) {
				t.Errorf("fetched %d blocks, want %d", g.Fetched, tc.blocks)
			}
			info := coreInfo(t, dir)
			if diff := diffHeads(info, ready); len(diff) > 0 {
				t.Errorf("core info of the copy differs from the JS core: %v", diff)
			}
			if info.Contiguous != info.Length || info.Writable {
				t.Errorf("copy: contiguous %d of %d, writable %v", info.Contiguous, info.Length, info.Writable)
			}
			fieldsync(t, nil, "core", "verify", dir)
		})
	}
}

// TestReplicateGoToJS: the JS reference downloads cores fieldsync serves.
func TestReplicateGoToJS(t *testing.T) {
	e := needJS(t)
	for _, tc := range replCases {
		t.Run(tc.name, func(t *testing.T) {
			seed := bytes.Repeat([]byte{tc.seed}, 32)
			dir := filepath.Join(t.TempDir(), "core")
			args := []string{"core", "create", dir, "--seed", hex.EncodeToString(seed), "--durability", "os"}
			if tc.compat {
				args = append(args, "--compat")
			}
			fieldsync(t, nil, args...)
			appendBlocks(t, dir, seed, 0, tc.blocks, tc.size)
			info := coreInfo(t, dir)
			_, ready := goServe(t, dir)
			if ready.Key != info.Key || ready.Length != uint64(tc.blocks) || ready.TreeHash != info.TreeHash {
				t.Fatalf("serve ready line %+v does not match core info %+v", ready, info)
			}
			res := run(t, nodeTimeout, nil, e.node, filepath.Join(e.scriptDir, "peer.mjs"), "download", "--key", info.Key, "--connect", fmt.Sprintf("127.0.0.1:%d", ready.Port), "--timeout", "60")
			if res.code != 0 {
				t.Fatalf("peer.mjs download: %v", res)
			}
			var j jsDownload
			decodeStrict(t, "peer.mjs download", res.stdout, []string{"key", "length", "byteLength", "fork", "treeHash", "signature", "blocksSha256", "compat"}, &j)
			want := peerBlocksSHA256(seed, tc.blocks, tc.size)
			if j.Key != info.Key || j.Length != info.Length || j.ByteLength != info.ByteLength || j.TreeHash != info.TreeHash ||
				j.Signature == nil || *j.Signature != info.Signature || j.BlocksSha256 != want || j.Compat != tc.compat {
				t.Fatalf("JS download %+v differs from the Go core %+v (blocks sha256 %s)", j, info, want)
			}
		})
	}
}

// appendBlocks appends peer.mjs-style blocks [from, to) to the Go core in
// dir with one `core append --batch`.
func appendBlocks(t *testing.T, dir string, seed []byte, from, to, size int) {
	t.Helper()
	bdir := t.TempDir()
	args := []string{"core", "append", dir, "--batch", "--durability", "os"}
	for i := from; i < to; i++ {
		f := filepath.Join(bdir, fmt.Sprintf("%06d", i))
		if err := os.WriteFile(f, peerBlock(seed, i, size), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, f)
	}
	fieldsync(t, nil, args...)
}

// TestReplicateLiveJSToGo: a JS writer appends while fieldsync downloads
// over one connection: --until waits for the blocks to exist, --live
// follows the appends and reports each new length, and every state Go
// reports equals the JS writer's state at that length.
func TestReplicateLiveJSToGo(t *testing.T) {
	e := needJS(t)
	seed := bytes.Repeat([]byte{0x31}, 32)
	srv, ready := jsServe(t, e, "--seed", hex.EncodeToString(seed), "--blocks", "5", "--size", "200", "--append-every", "40", "--append-count", "60")
	// Collect the writer's state at every length.
	var mu sync.Mutex
	states := map[uint64]jsState{ready.Length: ready}
	go func() {
		for l := range srv.lines {
			var st jsState
			if json.Unmarshal(l, &st) == nil {
				mu.Lock()
				states[st.Length] = st
				mu.Unlock()
			}
		}
	}()
	stateAt := func(n uint64) jsState {
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			st, ok := states[n]
			mu.Unlock()
			if ok {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("the JS writer never reported length %d", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ready.Port)

	g := parseGoDownload(t, fieldsync(t, nil, "core", "download", ready.Key, "--connect", addr, "--dir", filepath.Join(t.TempDir(), "until"), "--until", "25", "--timeout", "30s"))
	if g.Length < 25 {
		t.Fatalf("--until 25 returned length %d", g.Length)
	}
	if d := diffDownload(g, stateAt(g.Length)); len(d) > 0 {
		t.Fatalf("--until download differs from the JS writer at length %d: %v", g.Length, d)
	}

	// --timeout bounds the first catch-up only: the follower must outlive it.
	liveStart := time.Now()
	live := startProc(t, fieldsyncBin, "core", "download", ready.Key, "--connect", addr, "--dir", filepath.Join(t.TempDir(), "live"), "--live", "--timeout", "3s")
	var last uint64
	seen := 0
	for last < 45 {
		g := parseGoDownload(t, live.line(t, 20*time.Second))
		if g.Length <= last && seen > 0 {
			t.Fatalf("live lengths went %d → %d", last, g.Length)
		}
		if d := diffDownload(g, stateAt(g.Length)); len(d) > 0 {
			t.Fatalf("live download differs from the JS writer at length %d: %v", g.Length, d)
		}
		last = g.Length
		seen++
	}
	if seen < 3 {
		t.Errorf("only %d live updates reached length %d: appends were not followed one by one", seen, last)
	}
	time.Sleep(time.Until(liveStart.Add(3500 * time.Millisecond)))
	select {
	case <-live.exited:
		t.Fatalf("the live download ended on its own (%v) after its --timeout; stderr %q", live.err, live.stderr.String())
	default:
	}
	if err := live.stop(); err != nil {
		t.Errorf("live download stopped by SIGTERM: %v (want exit 0); stderr %q", err, live.stderr.String())
	}
}

// TestReplicateLiveGoToJS: blocks appended by another process to a core
// that fieldsync serves reach a JS peer that is already connected.
func TestReplicateLiveGoToJS(t *testing.T) {
	e := needJS(t)
	seed := bytes.Repeat([]byte{0x32}, 32)
	dir := filepath.Join(t.TempDir(), "core")
	fieldsync(t, nil, "core", "create", dir, "--seed", hex.EncodeToString(seed), "--durability", "os")
	appendBlocks(t, dir, seed, 0, 5, 500)
	_, ready := goServe(t, dir)
	dl := startProc(t, e.node, filepath.Join(e.scriptDir, "peer.mjs"), "download", "--key", ready.Key, "--connect", fmt.Sprintf("127.0.0.1:%d", ready.Port), "--until", "20", "--timeout", "60")
	time.Sleep(300 * time.Millisecond) // let it connect and fetch the first 5
	for i := 5; i < 20; i++ {
		appendBlocks(t, dir, seed, i, i+1, 500)
		time.Sleep(20 * time.Millisecond)
	}
	if err := dl.wait(t, nodeTimeout); err != nil {
		t.Fatalf("peer.mjs download --until 20: %v; stderr %q", err, dl.stderr.String())
	}
	var j jsDownload
	decodeStrict(t, "peer.mjs download", dl.line(t, time.Second), []string{"key", "length", "treeHash", "signature", "blocksSha256"}, &j)
	info := coreInfo(t, dir)
	if j.Length != 20 || j.TreeHash != info.TreeHash || j.Signature == nil || *j.Signature != info.Signature || j.BlocksSha256 != peerBlocksSHA256(seed, 20, 500) {
		t.Fatalf("JS live download %+v differs from the Go core %+v", j, info)
	}
}

// TestDownloadResumeCLI: a download killed (SIGKILL) part-way leaves a
// valid partial copy; a second download fetches exactly the missing
// blocks and ends equal to the source.
func TestDownloadResumeCLI(t *testing.T) {
	e := needJS(t)
	seed := bytes.Repeat([]byte{0x33}, 32)
	const n = 40000
	_, ready := jsServe(t, e, "--seed", hex.EncodeToString(seed), "--blocks", strconv.Itoa(n), "--size", "1024")
	addr := fmt.Sprintf("127.0.0.1:%d", ready.Port)
	dir := filepath.Join(t.TempDir(), "copy")
	dl := startProc(t, fieldsyncBin, "core", "download", ready.Key, "--connect", addr, "--dir", dir, "--timeout", "60s")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "header")); err == nil {
			res := run(t, timeoutGo, nil, fieldsyncBin, "core", "info", dir, "--json")
			if res.code == 0 && parseGoInfo(t, "core info", res.stdout).Contiguous >= 2000 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the download did not store 2000 blocks in 30 s; stderr %q", dl.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	dl.cmd.Process.Kill()
	dl.wait(t, 10*time.Second)
	before := coreInfo(t, dir)
	if before.Contiguous >= n {
		t.Fatalf("the download finished before it was killed (%d blocks): nothing to resume", before.Contiguous)
	}
	fieldsync(t, nil, "core", "verify", dir) // the partial copy is valid
	g := parseGoDownload(t, fieldsync(t, nil, "core", "download", ready.Key, "--connect", addr, "--dir", dir, "--timeout", "60s"))
	if d := diffDownload(g, ready); len(d) > 0 {
		t.Fatalf("resumed download differs from the JS core: %v", d)
	}
	if want := n - before.Contiguous; g.Fetched != want {
		t.Fatalf("resume fetched %d blocks; %d were missing", g.Fetched, want)
	}
	t.Logf("killed at %d of %d blocks; resume fetched %d", before.Contiguous, n, g.Fetched)
}

// TestDownloadErrors: bad input and unreachable peers give one clear line
// and the documented exit code, and leave no directory behind.
func TestDownloadErrors(t *testing.T) {
	tmp := t.TempDir()
	key := hex.EncodeToString(bytes.Repeat([]byte{1}, 32))
	other := filepath.Join(tmp, "other")
	fieldsync(t, nil, "core", "create", other, "--durability", "os")
	for _, tc := range []struct {
		name string
		args []string
		code int
		dir  string
	}{
		{"bad key", []string{"core", "download", "abc", "--connect", "127.0.0.1:1", "--dir", filepath.Join(tmp, "a")}, 2, filepath.Join(tmp, "a")},
		{"no connect", []string{"core", "download", key, "--dir", filepath.Join(tmp, "b")}, 2, filepath.Join(tmp, "b")},
		{"bad address", []string{"core", "download", key, "--connect", "nowhere", "--dir", filepath.Join(tmp, "c")}, 2, filepath.Join(tmp, "c")},
		{"refused", []string{"core", "download", key, "--connect", "127.0.0.1:1", "--dir", filepath.Join(tmp, "d"), "--timeout", "5s"}, 1, filepath.Join(tmp, "d")},
		{"writer dir", []string{"core", "download", key, "--connect", "127.0.0.1:1", "--dir", other}, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, timeoutGo, nil, fieldsyncBin, tc.args...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d: %v", res.code, tc.code, res)
			}
			if msg := string(res.stderr); bytes.Count(res.stderr, []byte("\n")) != 1 || len(msg) < 20 {
				t.Errorf("stderr is not one clear line: %q", msg)
			}
			if tc.dir != "" {
				if _, err := os.Stat(tc.dir); err == nil {
					t.Errorf("%s was created", tc.dir)
				}
			}
		})
	}
}

// TestDownloadUnknownCore: asking a peer for a core it does not have
// fails at once with that reason (the peer refuses the channel), and
// creates nothing.
func TestDownloadUnknownCore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "core")
	fieldsync(t, nil, "core", "create", dir, "--durability", "os")
	_, ready := goServe(t, dir)
	other := hex.EncodeToString(bytes.Repeat([]byte{0x44}, 32))
	copyDir := filepath.Join(t.TempDir(), "copy")
	start := time.Now()
	res := run(t, timeoutGo, nil, fieldsyncBin, "core", "download", other, "--connect", fmt.Sprintf("127.0.0.1:%d", ready.Port), "--dir", copyDir, "--timeout", "20s")
	if res.code != 1 || !bytes.Contains(res.stderr, []byte("does not have core")) {
		t.Fatalf("download of a core the peer lacks: %v", res)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v: the refusal should end the download, not the timeout", d)
	}
	if _, err := os.Stat(copyDir); err == nil {
		t.Errorf("%s was created", copyDir)
	}
}
