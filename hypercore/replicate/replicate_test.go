package replicate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
)

// connect returns the two ends of a secret stream over loopback TCP.
func connect(t testing.TB) (client, server *secretstream.Stream) {
	t.Helper()
	c, s, _ := connectRaw(t)
	return c, s
}

// connectRaw is connect that also returns the server's TCP connection.
func connectRaw(t testing.TB) (client, server *secretstream.Stream, serverConn net.Conn) {
	t.Helper()
	cc, sc := hypercoretest.TCPConns(t)
	cfg := secretstream.Config{MaxMessageSize: MaxMessageSize}
	client, server = hypercoretest.Streams(t, cc, sc, cfg, cfg)
	return client, server, sc
}

// block is the content of block i of a test core.
func block(i, size int) []byte {
	b := make([]byte, size)
	for k := range b {
		b[k] = byte(i*31 + k*7 + i>>8)
	}
	copy(b, fmt.Sprintf("block %d", i))
	return b
}

func makeWriter(t testing.TB, n, size int, compat bool) *hypercore.Core {
	t.Helper()
	c, err := hypercore.Create(filepath.Join(t.TempDir(), "w"), hypercore.CreateOptions{Seed: bytes.Repeat([]byte{7}, 32), Compat: compat, Durability: hypercore.DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var batch [][]byte
	for i := range n {
		batch = append(batch, block(i, size))
		if len(batch) == 500 || i == n-1 {
			if _, err := c.Append(batch...); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	return c
}

type result struct {
	down, up *Replication
	errDown  error
	errUp    error
}

// replicate runs a download of src into dst (nil: a new replica in dir)
// over a fresh connection and waits for it to finish.
func replicate(t testing.TB, src *hypercore.Core, dst *hypercore.Core, dir string, cfg CoreConfig) result {
	t.Helper()
	cs, ss := connect(t)
	up := NewPeer(ss, Options{})
	down := NewPeer(cs, Options{})
	ru, err := up.Add(CoreConfig{Key: src.Key(), Core: src, Upload: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Key = src.Key()
	cfg.Core = dst
	cfg.Download = true
	if dst == nil {
		cfg.Create = func(m *hypercore.Manifest) (*hypercore.Core, error) {
			return hypercore.CreateReplica(dir, src.Key(), m, hypercore.DurabilityOS)
		}
	}
	rd, err := down.Add(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	upErr := make(chan error, 1)
	go func() { upErr <- up.Run(ctx) }()
	downErr := make(chan error, 1)
	go func() { downErr <- down.Run(ctx) }()
	select {
	case <-rd.Done():
	case <-ctx.Done():
	}
	down.Close()
	res := result{down: rd, up: ru, errDown: <-downErr}
	up.Close()
	res.errUp = <-upErr
	return res
}

func sameBlocks(t testing.TB, a, b *hypercore.Core, n uint64) {
	t.Helper()
	ha, hb := sha256.New(), sha256.New()
	for i := range n {
		x, err := a.Get(i)
		if err != nil {
			t.Fatalf("source block %d: %v", i, err)
		}
		y, err := b.Get(i)
		if err != nil {
			t.Fatalf("replica block %d: %v", i, err)
		}
		ha.Write(x)
		hb.Write(y)
	}
	if !bytes.Equal(ha.Sum(nil), hb.Sum(nil)) {
		t.Fatal("replica blocks differ from the source")
	}
}

func TestDownloadWholeCore(t *testing.T) {
	hypercoretest.CheckGoroutines(t)
	for _, tc := range []struct {
		n, size int
		compat  bool
	}{{1, 10, false}, {5, 100, false}, {1000, 1024, false}, {333, 3000, true}, {50, 64 << 10, false}} {
		t.Run(fmt.Sprintf("n=%d,size=%d,compat=%v", tc.n, tc.size, tc.compat), func(t *testing.T) {
			src := makeWriter(t, tc.n, tc.size, tc.compat)
			dir := filepath.Join(t.TempDir(), "r")
			res := replicate(t, src, nil, dir, CoreConfig{})
			if res.errDown != nil || res.down.Err() != nil {
				t.Fatalf("download: %v / %v", res.errDown, res.down.Err())
			}
			dst := res.down.Core()
			if dst == nil {
				t.Fatal("no replica made")
			}
			defer dst.Close()
			if h, w := dst.Head(), src.Head(); h.Length != w.Length || h.TreeHash != w.TreeHash || h.ByteLength != w.ByteLength || !bytes.Equal(h.Signature, w.Signature) {
				t.Fatalf("head %+v, want %+v", h, w)
			}
			if dst.Contiguous() != uint64(tc.n) {
				t.Fatalf("contiguous %d, want %d", dst.Contiguous(), tc.n)
			}
			sameBlocks(t, src, dst, uint64(tc.n))
			if st := res.down.Stats(); st.BlocksDownloaded != uint64(tc.n) {
				t.Fatalf("downloaded %d blocks, want %d", st.BlocksDownloaded, tc.n)
			}
			if err := dst.Verify(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			// Reopen: the replica is a valid core on disk.
			dst.Close()
			again, err := hypercore.Open(dir, hypercore.OpenOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			sameBlocks(t, src, again, uint64(tc.n))
		})
	}
}

func TestResumeFetchesOnlyMissing(t *testing.T) {
	hypercoretest.CheckGoroutines(t)
	src := makeWriter(t, 1000, 1024, false)
	dir := filepath.Join(t.TempDir(), "r")
	res := replicate(t, src, nil, dir, CoreConfig{End: 300})
	if res.errDown != nil || res.down.Err() != nil {
		t.Fatalf("download: %v / %v", res.errDown, res.down.Err())
	}
	dst := res.down.Core()
	if got := dst.Contiguous(); got != 300 {
		t.Fatalf("first part: contiguous %d, want 300", got)
	}
	if got := res.down.Stats().BlocksDownloaded; got != 300 {
		t.Fatalf("first part fetched %d blocks", got)
	}
	dst.Close()
	dst, err := hypercore.Open(dir, hypercore.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	res = replicate(t, src, dst, dir, CoreConfig{})
	if res.errDown != nil || res.down.Err() != nil {
		t.Fatalf("resume: %v / %v", res.errDown, res.down.Err())
	}
	if got := res.down.Stats().BlocksDownloaded; got != 700 {
		t.Fatalf("resume fetched %d blocks, want the 700 missing", got)
	}
	sameBlocks(t, src, dst, 1000)
}

// TestManyCoresOneConnection: three cores replicate over one connection,
// in both directions at once (each side writes one core and reads the
// other side's), and a core only one side has is refused, not fatal.
func TestManyCoresOneConnection(t *testing.T) {
	hypercoretest.CheckGoroutines(t)
	a1 := makeWriterSeed(t, 300, 1000, 1)
	a2 := makeWriterSeed(t, 20, 70000, 2)
	b1 := makeWriterSeed(t, 150, 10, 3)
	only := makeWriterSeed(t, 5, 5, 4) // B serves it, A never asks
	cs, ss := connect(t)
	pa, pb := NewPeer(cs, Options{}), NewPeer(ss, Options{})
	tmp := t.TempDir()
	add := func(p *Peer, cfg CoreConfig) *Replication {
		t.Helper()
		r, err := p.Add(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	replica := func(name string, key hypercore.Hash) func(*hypercore.Manifest) (*hypercore.Core, error) {
		return func(m *hypercore.Manifest) (*hypercore.Core, error) {
			return hypercore.CreateReplica(filepath.Join(tmp, name), key, m, hypercore.DurabilityOS)
		}
	}
	add(pa, CoreConfig{Key: a1.Key(), Core: a1, Upload: true})
	add(pa, CoreConfig{Key: a2.Key(), Core: a2, Upload: true})
	gotB1 := add(pa, CoreConfig{Key: b1.Key(), Create: replica("b1", b1.Key()), Download: true})
	add(pb, CoreConfig{Key: b1.Key(), Core: b1, Upload: true})
	add(pb, CoreConfig{Key: only.Key(), Core: only, Upload: true})
	gotA1 := add(pb, CoreConfig{Key: a1.Key(), Create: replica("a1", a1.Key()), Download: true})
	gotA2 := add(pb, CoreConfig{Key: a2.Key(), Create: replica("a2", a2.Key()), Download: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ea, eb := make(chan error, 1), make(chan error, 1)
	go func() { ea <- pa.Run(ctx) }()
	go func() { eb <- pb.Run(ctx) }()
	for _, r := range []*Replication{gotB1, gotA1, gotA2} {
		select {
		case <-r.Done():
		case <-ctx.Done():
			t.Fatal("timed out")
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
	}
	pa.Close()
	pb.Close()
	if err := <-ea; err != nil {
		t.Fatal(err)
	}
	if err := <-eb; err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		src *hypercore.Core
		r   *Replication
	}{{b1, gotB1}, {a1, gotA1}, {a2, gotA2}} {
		dst := c.r.Core()
		sameBlocks(t, c.src, dst, c.src.Length())
		if dst.Head().TreeHash != c.src.Head().TreeHash {
			t.Fatal("tree hash differs")
		}
		dst.Close()
	}
}

func makeWriterSeed(t testing.TB, n, size int, seed byte) *hypercore.Core {
	t.Helper()
	c, err := hypercore.Create(filepath.Join(t.TempDir(), "w"), hypercore.CreateOptions{Seed: bytes.Repeat([]byte{seed}, 32), Durability: hypercore.DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for i := range n {
		if _, err := c.Append(block(i+int(seed)*1000, size)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestLiveAppendsReachConnectedPeer: appends made while connected reach
// the reader over the same connection, each announced length in turn.
func TestLiveAppendsReachConnectedPeer(t *testing.T) {
	hypercoretest.CheckGoroutines(t)
	src := makeWriterSeed(t, 3, 100, 5)
	cs, ss := connect(t)
	up, down := NewPeer(ss, Options{Poll: 10 * time.Millisecond}), NewPeer(cs, Options{})
	if _, err := up.Add(CoreConfig{Key: src.Key(), Core: src, Upload: true, Live: true}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "r")
	caught := make(chan uint64, 100)
	rd, err := down.Add(CoreConfig{Key: src.Key(), Download: true, Live: true,
		Create: func(m *hypercore.Manifest) (*hypercore.Core, error) {
			return hypercore.CreateReplica(dir, src.Key(), m, hypercore.DurabilityOS)
		},
		Caught: func(c *hypercore.Core) { caught <- c.Contiguous() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go up.Run(ctx)
	done := make(chan error, 1)
	go func() { done <- down.Run(ctx) }()
	want := uint64(3)
	for want <= 40 {
		select {
		case got := <-caught:
			if got != want {
				t.Fatalf("caught up at %d, want %d", got, want)
			}
		case <-ctx.Done():
			t.Fatalf("no catch-up at length %d", want)
		}
		if _, err := src.Append(block(int(want), 100)); err != nil {
			t.Fatal(err)
		}
		up.Notify()
		want++
	}
	select {
	case <-rd.Done():
		t.Fatal("a live download reported Done")
	default:
	}
	down.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sameBlocks(t, src, rd.Core(), 40) // the 41st was appended after the last catch-up
	rd.Core().Close()
}

// TestEmptyBlocksReplicate: a core with empty blocks (at the end too)
// replicates, and a replica holding all bytes but not the trailing empty
// blocks reopens and resumes.
func TestEmptyBlocksReplicate(t *testing.T) {
	hypercoretest.CheckGoroutines(t)
	src, err := hypercore.Create(filepath.Join(t.TempDir(), "w"), hypercore.CreateOptions{Seed: bytes.Repeat([]byte{9}, 32), Durability: hypercore.DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Append([]byte("a"), nil, []byte("bc"), nil, nil); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "r")
	res := replicate(t, src, nil, dir, CoreConfig{End: 3})
	if res.errDown != nil || res.down.Err() != nil {
		t.Fatal(res.errDown, res.down.Err())
	}
	res.down.Core().Close()
	dst, err := hypercore.Open(dir, hypercore.OpenOptions{})
	if err != nil {
		t.Fatalf("reopen a replica missing only empty blocks: %v", err)
	}
	defer dst.Close()
	if dst.Contiguous() != 3 {
		t.Fatalf("contiguous %d, want 3", dst.Contiguous())
	}
	res = replicate(t, src, dst, dir, CoreConfig{})
	if res.errDown != nil || res.down.Err() != nil {
		t.Fatal(res.errDown, res.down.Err())
	}
	if dst.Contiguous() != 5 || res.down.Stats().BlocksDownloaded != 2 {
		t.Fatalf("contiguous %d after fetching %d", dst.Contiguous(), res.down.Stats().BlocksDownloaded)
	}
	sameBlocks(t, src, dst, 5)
}

// TestRottenBlockOnServer: a server whose copy of a block rotted on disk
// answers noData for it (never the bad bytes); the reader keeps every block
// before it and, once the server has nothing more to give, ends with an
// error naming the stall instead of waiting forever.
func TestRottenBlockOnServer(t *testing.T) {
	hypercoretest.CheckGoroutines(t)
	src := makeWriterSeed(t, 40, 100, 6)
	f, err := os.OpenFile(filepath.Join(src.Dir(), "data"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, 25*100+7); err != nil { // block 25
		t.Fatal(err)
	}
	f.Close()
	cs, ss := connect(t)
	up := NewPeer(ss, Options{})
	down := NewPeer(cs, Options{RequestTimeout: 400 * time.Millisecond})
	if _, err := up.Add(CoreConfig{Key: src.Key(), Core: src, Upload: true}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "r")
	rd, err := down.Add(CoreConfig{Key: src.Key(), Download: true, Create: func(m *hypercore.Manifest) (*hypercore.Core, error) {
		return hypercore.CreateReplica(dir, src.Key(), m, hypercore.DurabilityOS)
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go up.Run(ctx)
	err = down.Run(ctx)
	if !errors.Is(err, ErrTimeout) || ctx.Err() != nil {
		t.Fatalf("Run: %v, want a stall error", err)
	}
	t.Logf("ended: %v", err)
	c := rd.Core()
	defer c.Close()
	if c.Contiguous() != 25 {
		t.Fatalf("reader holds %d blocks, want the 25 before the rotten one", c.Contiguous())
	}
	if err := c.Verify(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

// TestGateSharesOneCopyAcrossPeers: two connections download the same core
// into one shared copy, each from a peer that has it (one behind the
// other). With a Gate they take turns and the copy ends whole and
// verified; both peers' lengths are reached.
func TestGateSharesOneCopyAcrossPeers(t *testing.T) {
	hypercoretest.CheckGoroutines(t)
	w := makeWriter(t, 3000, 700, false)
	// The second server holds the first 1,800 blocks only (a replica).
	res := replicate(t, w, nil, filepath.Join(t.TempDir(), "partial"), CoreConfig{End: 1800})
	if res.errDown != nil || res.down.Err() != nil {
		t.Fatal(res.errDown, res.down.Err())
	}
	partial := res.down.Core()
	if partial.Contiguous() != 1800 {
		t.Fatalf("partial copy holds %d", partial.Contiguous())
	}
	dir := filepath.Join(t.TempDir(), "shared")
	var gate Gate
	var mu sync.Mutex
	var shared *hypercore.Core
	create := func(m *hypercore.Manifest) (*hypercore.Core, error) {
		mu.Lock()
		defer mu.Unlock()
		if shared != nil {
			return shared, nil
		}
		c, err := hypercore.CreateReplica(dir, w.Key(), m, hypercore.DurabilityOS)
		shared = c
		return c, err
	}
	existing := func() *hypercore.Core {
		mu.Lock()
		defer mu.Unlock()
		return shared
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var peers []*Peer
	var downloads []*Replication
	errs := make(chan error, 4)
	for _, src := range []*hypercore.Core{partial, w} {
		cs, ss := connect(t)
		client, server := NewPeer(cs, Options{}), NewPeer(ss, Options{})
		if _, err := server.Add(CoreConfig{Key: w.Key(), Core: src, Upload: true, Live: true}); err != nil {
			t.Fatal(err)
		}
		r, err := client.Add(CoreConfig{Key: w.Key(), Create: create, Existing: existing, Download: true, Upload: true, Live: true, Gate: &gate})
		if err != nil {
			t.Fatal(err)
		}
		downloads = append(downloads, r)
		peers = append(peers, client, server)
		go func() { errs <- client.Run(ctx) }()
		go func() { errs <- server.Run(ctx) }()
	}
	for {
		c := existing()
		if c != nil && c.Contiguous() == 3000 && c.Head().Length == 3000 {
			break
		}
		select {
		case err := <-errs:
			t.Fatalf("a peer stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("timed out: copy holds %d", c.Contiguous())
		case <-time.After(10 * time.Millisecond):
		}
	}
	for _, p := range peers {
		p.Close()
	}
	for range peers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var got uint64
	for _, r := range downloads {
		got += r.Stats().BlocksDownloaded
	}
	if got != 3000 {
		t.Fatalf("downloaded %d blocks in all for 3,000: a block came twice or was lost", got)
	}
	sameBlocks(t, w, shared, 3000)
	if err := shared.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := hypercore.Open(dir, hypercore.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestHoldUnknownCores: the remote opens a core this side adds only later
// (it learns of it on another channel); with HoldUnknownCores the open
// waits and pairs then, without it the open is refused.
func TestHoldUnknownCores(t *testing.T) {
	hypercoretest.CheckGoroutines(t)
	for _, hold := range []bool{true, false} {
		w := makeWriter(t, 50, 100, false)
		cs, ss := connect(t)
		server := NewPeer(ss, Options{HoldUnknownCores: hold})
		client := NewPeer(cs, Options{})
		dir := filepath.Join(t.TempDir(), "copy")
		down, err := client.Add(CoreConfig{Key: w.Key(), Download: true, Create: func(m *hypercore.Manifest) (*hypercore.Core, error) {
			return hypercore.CreateReplica(dir, w.Key(), m, hypercore.DurabilityOS)
		}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		errs := make(chan error, 2)
		go func() { errs <- client.Run(ctx) }()
		go func() { errs <- server.Run(ctx) }()
		time.Sleep(200 * time.Millisecond) // the client's open arrives first
		if _, err := server.Add(CoreConfig{Key: w.Key(), Core: w, Upload: true}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-down.Done():
		case <-ctx.Done():
			t.Fatal("timed out")
		}
		if hold && down.Err() != nil {
			t.Fatalf("held open: %v", down.Err())
		}
		if !hold && down.Err() == nil {
			t.Fatal("without HoldUnknownCores the early open was not refused: the test tests nothing")
		}
		client.Close()
		server.Close()
		<-errs
		<-errs
		cancel()
		if hold {
			sameBlocks(t, w, down.Core(), 50)
			down.Core().Close()
		}
	}
}
