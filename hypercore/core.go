package hypercore

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Durability says when appends reach the disk. (Not "sync": in this
// project sync means replication between devices, never fsync.)
type Durability int

const (
	// DurabilityFsync fsyncs data, tree and head before Append returns: an
	// acknowledged append survives power loss.
	DurabilityFsync Durability = iota
	// DurabilityOS leaves flushing to the OS: an acknowledged append survives a
	// killed process but not power loss (what the JS reference does).
	DurabilityOS
)

func (m Durability) String() string {
	if m == DurabilityOS {
		return "os"
	}
	return "fsync"
}

// MaxBlockSize is the largest block Append accepts. It keeps every block
// inside one replication message.
const MaxBlockSize = 8 << 20

// CreateOptions configure a new core.
type CreateOptions struct {
	Seed       []byte     // 32-byte signing seed; nil for a random one
	Compat     bool       // key = raw public key, bare signatures (hypercore 10)
	Durability Durability // when appends reach the disk
}

// OpenOptions configure an existing core.
type OpenOptions struct {
	// ReadOnly: never write; take no lock (a second process may read
	// while one writes). Without it, a core whose secret is absent (a
	// replica) is opened with the writer lock to store downloaded blocks.
	ReadOnly   bool
	Durability Durability // when appends reach the disk
}

// Core is a Hypercore on disk. Its methods are safe for concurrent use.
type Core struct {
	dir        string
	v          *Verifier
	kp         KeyPair
	writable   bool // holds the secret: Append works
	storable   bool // holds the lock: Append or replicated blocks can be stored
	durability Durability

	data, tree, headF, lock *os.File

	// files is held shared by every read of the files, and exclusively by
	// Close, so a read never meets a closed file. mu guards the state;
	// writers hold it while they write. Take files before mu.
	files    sync.RWMutex
	mu       sync.RWMutex
	store    sync.Mutex // serialises a replica's PutBlocks and ApplyUpgrade (taken before files and mu)
	st       headState
	roots    []Node
	closed   bool
	broken   error  // sticky: a failed fsync; the core must be reopened
	rolledBk string // why open fell back to an older head ("" if it did not)
	forkNext bool   // the next head must raise the fork (after a fall back)
	nodeBuf  []byte
	headBuf  [2 * headSlotSize]byte // both head copies, reused under mu

	// Tree nodes already proved against a signed root of fork cacheFork
	// (bounded; cleared when the fork changes).
	cacheMu   sync.Mutex
	cacheFork uint64
	verified  map[uint64]Hash
	parallelH int
}

// Create makes a new writable core in dir, which must not exist or be
// empty. The core is built in a hidden sibling directory and renamed into
// place, so a failure or a crash part-way leaves dir as it was.
func Create(dir string, opts CreateOptions) (*Core, error) {
	seed := opts.Seed
	if seed == nil {
		seed = make([]byte, 32)
		if _, err := rand.Read(seed); err != nil {
			return nil, fmt.Errorf("random seed: %w", err)
		}
	}
	kp, err := KeyPairFromSeed(seed)
	if err != nil {
		return nil, err
	}
	if err := checkNewDir(dir); err != nil {
		return nil, err
	}
	if err := buildDir(dir, func(tmp string) error { return writeNewCore(tmp, seed, kp, opts.Compat) }); err != nil {
		return nil, fmt.Errorf("create core %s: %w", dir, err)
	}
	return Open(dir, OpenOptions{Durability: opts.Durability})
}

// buildDir makes the directory dir (checked by checkNewDir) by writing its
// files into a hidden sibling, mode 0700, and renaming it into place, so a
// failure or a crash part-way leaves dir as it was.
func buildDir(dir string, write func(tmp string) error) error {
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".creating-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := os.Chmod(tmp, 0o700); err != nil {
		return err
	}
	if err := write(tmp); err != nil {
		return err
	}
	// An empty directory at dir is replaced, a non-empty one (someone
	// filled dir since we looked) is not.
	if err := renameDir(tmp, dir); err != nil {
		return err
	}
	return syncDir(parent)
}

// writeNewCore writes the files of an empty writer core into dir, all synced.
func writeNewCore(dir string, seed []byte, kp KeyPair, compat bool) error {
	m := DefaultManifest(kp.Public)
	if err := writeFileAtomic(dir, secretFile, []byte(hex.EncodeToString(seed)+"\n"), 0o600); err != nil {
		return fmt.Errorf("write secret: %w", err)
	}
	return writeCoreFiles(dir, KeyFor(m, compat), m)
}

// writeCoreFiles writes the empty data, tree and head files and, last, the
// header naming key and manifest.
func writeCoreFiles(dir string, key Hash, m *Manifest) error {
	for _, n := range []string{dataFile, treeFile, headFile} {
		var b []byte
		if n == headFile {
			b = make([]byte, 2*headSlotSize) // two empty head copies
		}
		if err := writeFileAtomic(dir, n, b, 0o644); err != nil {
			return err
		}
	}
	hb, _ := json.MarshalIndent(header{Format: formatName, Key: hex.EncodeToString(key[:]), Manifest: hex.EncodeToString(m.Encode())}, "", "  ")
	return writeFileAtomic(dir, headerFile, append(hb, '\n'), 0o644)
}

// Open opens the core in dir. Without its secret file, or with ReadOnly,
// the core can be read but not appended to. Open checks the header, the
// head's signature and the tree roots it signs; it falls back to the older
// head slot only when the newest one fails those checks (a lost write), and
// then the next append raises the fork so peers never see two different
// trees signed under one fork.
func Open(dir string, opts OpenOptions) (*Core, error) {
	key, m, err := readHeader(dir)
	if err != nil {
		return nil, fmt.Errorf("open core %s: %w", dir, err)
	}
	v, err := NewVerifier(key, m)
	if err != nil {
		return nil, fmt.Errorf("open core %s: %w", dir, err)
	}
	c := &Core{dir: dir, v: v, durability: opts.Durability, parallelH: runtime.GOMAXPROCS(0)}
	if !opts.ReadOnly {
		kp, ok, err := readSecret(dir, m)
		if err != nil {
			return nil, fmt.Errorf("open core %s: %w", dir, err)
		}
		if ok {
			c.kp, c.writable = kp, true
		}
		c.storable = true
	}
	if c.kp.Public == nil && len(m.Signers) > 0 {
		c.kp.Public = m.Signers[0].PublicKey[:]
	}
	if err := c.openFiles(); err != nil {
		c.closeFiles()
		return nil, fmt.Errorf("open core %s: %w", dir, err)
	}
	if err := c.loadHead(); err != nil {
		c.closeFiles()
		return nil, fmt.Errorf("open core %s: %w", dir, err)
	}
	return c, nil
}

func readSecret(dir string, m *Manifest) (KeyPair, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, secretFile))
	if errors.Is(err, fs.ErrNotExist) {
		return KeyPair{}, false, nil
	}
	if err != nil {
		return KeyPair{}, false, fmt.Errorf("read secret: %w", err)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != 32 {
		return KeyPair{}, false, corruptFile(secretFile, "not a 32-byte hex seed")
	}
	kp, _ := KeyPairFromSeed(seed)
	for _, s := range m.Signers {
		if string(s.PublicKey[:]) == string(kp.Public) {
			return kp, true, nil
		}
	}
	return KeyPair{}, false, corruptFile(secretFile, "key is not a signer of this core")
}

func (c *Core) openFiles() error {
	flag := os.O_RDONLY
	if c.storable {
		flag = os.O_RDWR
		l, err := lockDir(c.dir)
		if err != nil {
			return err
		}
		c.lock = l
	}
	for _, f := range []struct {
		name string
		dst  **os.File
	}{{dataFile, &c.data}, {treeFile, &c.tree}, {headFile, &c.headF}} {
		fh, err := os.OpenFile(filepath.Join(c.dir, f.name), flag, 0)
		if errors.Is(err, fs.ErrNotExist) {
			return corruptFile(f.name, "file is missing")
		}
		if err != nil {
			return err
		}
		*f.dst = fh
	}
	return nil
}

func (c *Core) closeFiles() error {
	var errs []error
	for _, f := range []*os.File{c.data, c.tree, c.headF, c.lock} {
		if f == nil {
			continue
		}
		if f == c.lock {
			unlock(f) // closing releases it too; this only makes it prompt
		}
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// loadHead picks the newest head slot that passes every check.
func (c *Core) loadHead() error {
	heads, bad, err := readHeads(c.headF)
	// A reader can catch both copies mid-write (one 8 KiB write without
	// fsync): look again before calling that damage.
	for try := 0; err == nil && bad == 2 && !c.storable && try < 5; try++ {
		time.Sleep(10 * time.Millisecond)
		heads, bad, err = readHeads(c.headF)
	}
	if err != nil {
		return err
	}
	var firstErr error
	for i, h := range heads {
		roots, err := c.checkHead(h)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		c.st, c.roots = h, roots
		if i > 0 {
			c.rolledBk = fmt.Sprintf("newest head (length %d) failed its checks (%v); using the previous head (length %d)", heads[0].Length, firstErr, h.Length)
			c.forkNext = true
		}
		return nil
	}
	if firstErr != nil {
		return firstErr
	}
	if bad == 2 {
		return corruptFile(headFile, "both head copies are damaged")
	}
	// No head yet, or the first head write was torn by a crash (the mirror
	// is still empty): an empty core.
	return nil
}

// checkHead verifies a head against the stored roots and its signature.
func (c *Core) checkHead(h headState) ([]Node, error) {
	if h.Length > (1 << 58) {
		return nil, corruptFile(headFile, "impossible length")
	}
	// (Have < Length with all bytes held is fine: the rest are empty blocks.)
	if h.Have > h.Length || h.HaveBytes > h.ByteLength || (h.Have == h.Length && h.HaveBytes != h.ByteLength) {
		return nil, corruptFile(headFile, fmt.Sprintf("holds %d blocks (%d bytes) of %d (%d bytes)", h.Have, h.HaveBytes, h.Length, h.ByteLength))
	}
	if h.Seq == 0 {
		// The state of a core no append has reached yet; every written
		// head has seq ≥ 1 (readHeads refuses a written seq 0).
		if h.Length != 0 || h.ByteLength != 0 || h.Signature != nil {
			return nil, corruptFile(headFile, "head with seq 0")
		}
		return nil, nil
	}
	if h.Length == 0 {
		// Only a truncate to 0 writes an empty head, and it signs it.
		if h.ByteLength != 0 {
			return nil, corruptFile(headFile, "empty head with bytes")
		}
		if err := c.v.Verify(TreeHash(nil), 0, h.Fork, h.Signature); err != nil {
			return nil, corruptFile(headFile, err.Error())
		}
		return nil, nil
	}
	if st, err := c.tree.Stat(); err != nil {
		return nil, err
	} else if need := (2*h.Length - 1) * nodeRecordSize; h.Have == h.Length && uint64(st.Size()) < need {
		return nil, corruptFile(treeFile, fmt.Sprintf("file is truncated: %d bytes, head needs %d", st.Size(), need))
	}
	roots := make([]Node, 0, 8)
	var sum uint64
	for _, r := range fullRoots(h.Length) {
		n, _, err := c.readNode(r)
		if err != nil {
			return nil, err
		}
		sum += n.Size
		roots = append(roots, n)
	}
	if sum != h.ByteLength {
		return nil, corruptFile(headFile, fmt.Sprintf("byte length %d does not match the tree (%d)", h.ByteLength, sum))
	}
	if th := TreeHash(roots); th != h.TreeHash {
		return nil, corruptFile(treeFile, fmt.Sprintf("tree hash at length %d does not match the signed head", h.Length))
	}
	if err := c.v.Verify(h.TreeHash, h.Length, h.Fork, h.Signature); err != nil {
		return nil, corruptFile(headFile, err.Error())
	}
	if st, err := c.data.Stat(); err != nil {
		return nil, err
	} else if uint64(st.Size()) < h.HaveBytes {
		return nil, corruptFile(dataFile, fmt.Sprintf("file is truncated: %d bytes, head needs %d", st.Size(), h.HaveBytes))
	}
	return roots, nil
}

// readNode reads and checks the stored record of node index.
func (c *Core) readNode(index uint64) (Node, uint64, error) {
	var b [nodeRecordSize]byte
	if index > (1<<63)/nodeRecordSize {
		return Node{}, 0, errorf(ErrOutOfRange, "node %d", index)
	}
	n, err := c.tree.ReadAt(b[:], int64(index*nodeRecordSize))
	if n < nodeRecordSize {
		if err == nil {
			err = errors.New("short read")
		}
		return Node{}, 0, corruptNode(treeFile, index, "missing: "+err.Error())
	}
	return decodeNode(index, b[:])
}

// reading pins the files open for a read and returns the current head and
// its roots (c.roots is never modified in place, only replaced); call done
// when the read is over.
func (c *Core) reading() (st headState, roots []Node, done func(), err error) {
	c.files.RLock()
	c.mu.RLock()
	st, roots, closed := c.st, c.roots, c.closed
	c.mu.RUnlock()
	if closed {
		c.files.RUnlock()
		return st, nil, nil, ErrClosed
	}
	return st, roots, c.files.RUnlock, nil
}

// Key is the core key (manifest hash, or the public key for compat cores).
func (c *Core) Key() Hash { return c.v.Key() }

// DiscoveryKey is the public topic of the core.
func (c *Core) DiscoveryKey() Hash { return DiscoveryKey(c.v.Key()) }

// PublicKey is the signer's Ed25519 public key.
func (c *Core) PublicKey() []byte { return c.kp.Public }

// Manifest is the core's manifest.
func (c *Core) Manifest() *Manifest { return c.v.Manifest() }

// Verifier checks signatures for this core.
func (c *Core) Verifier() *Verifier { return c.v }

// Compat reports whether this is a compat core.
func (c *Core) Compat() bool { return c.v.Compat() }

// Writable reports whether Append is possible.
func (c *Core) Writable() bool { return c.writable }

// Dir is the core's directory.
func (c *Core) Dir() string { return c.dir }

// Durability is the durability of this core's appends.
func (c *Core) Durability() Durability { return c.durability }

// Head is a signed state of a core.
type Head struct {
	Length, ByteLength, Fork uint64
	TreeHash                 Hash
	Signature                []byte
}

// Head returns the current signed head.
func (c *Core) Head() Head {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return Head{Length: c.st.Length, ByteLength: c.st.ByteLength, Fork: c.st.Fork, TreeHash: c.treeHashLocked(), Signature: slices.Clone(c.st.Signature)}
}

func (c *Core) treeHashLocked() Hash {
	if c.st.Length == 0 {
		return TreeHash(nil)
	}
	return c.st.TreeHash
}

// Length is the number of blocks.
func (c *Core) Length() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.st.Length
}

// Roots are the full roots of the current head.
func (c *Core) Roots() []Node {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.roots)
}

// RolledBack says why Open used an older head than the newest slot, or "".
func (c *Core) RolledBack() string { return c.rolledBk }

// Get returns block index. The bytes are checked against their leaf hash,
// and the leaf against the signed roots (through the parents up to a node
// already verified): a corrupt or forged block is an error, never data. A
// read-only core whose head went stale (the writer truncated) refreshes
// once and retries.
func (c *Core) Get(index uint64) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		b, err := c.get(index)
		if err == nil || attempt > 0 || c.writable || !errors.Is(err, ErrCorrupt) {
			return b, err
		}
		before := c.Head().Fork
		if rerr := c.Refresh(); rerr != nil || c.Head().Fork == before {
			return nil, err
		}
	}
}

func (c *Core) get(index uint64) ([]byte, error) {
	st, roots, done, err := c.reading()
	if err != nil {
		return nil, err
	}
	defer done()
	byteLength := st.HaveBytes
	if index >= st.Length {
		return nil, errorf(ErrOutOfRange, "block %d of a core of length %d", index, st.Length)
	}
	if index >= st.Have {
		return nil, errorf(ErrNotAvailable, "block %d: this replica holds the first %d of %d blocks", index, st.Have, st.Length)
	}
	leaf, off, err := c.readNode(2 * index)
	if err != nil {
		return nil, err
	}
	if leaf.Size > MaxBlockSize || off+leaf.Size > byteLength || off+leaf.Size < off {
		return nil, corruptBlock(treeFile, index, "leaf record points outside the data")
	}
	if err := c.checkPath(leaf, st.Fork, st.Length, roots); err != nil {
		return nil, err
	}
	buf := make([]byte, leaf.Size)
	if _, err := c.data.ReadAt(buf, int64(off)); err != nil {
		return nil, corruptBlock(dataFile, index, "read: "+err.Error())
	}
	if LeafHash(buf) != leaf.Hash {
		return nil, corruptBlock(dataFile, index, "bytes do not match their hash")
	}
	return buf, nil
}

// checkPath proves a leaf against a signed head (fork, length, roots): it
// hashes up through stored siblings until it reaches one of the roots or a
// node proved before under the same fork, and remembers every node it proved (the path and
// the siblings). Sequential reads so cost about one sibling read and one
// parent hash per two blocks. Stored parent records are not needed.
func (c *Core) checkPath(n Node, fork, length uint64, roots []Node) error {
	var proved [128]Node
	k := 0
	leaf := n.Index / 2
	for {
		if h, ok := c.cachedNode(fork, n.Index); ok {
			if h != n.Hash {
				return corruptBlock(treeFile, leaf, "does not hash up to the signed tree")
			}
			break
		}
		if r, ok := findRoot(roots, n.Index); ok {
			if r.Hash != n.Hash || r.Size != n.Size {
				return corruptBlock(treeFile, leaf, "does not hash up to the signed root")
			}
			break
		}
		if k+2 > len(proved) || !nodeInTree(parent(n.Index), length) {
			return corruptBlock(treeFile, leaf, "no path to a signed root")
		}
		sib, _, err := c.readNode(sibling(n.Index))
		if err != nil {
			return err
		}
		proved[k], proved[k+1] = n, sib
		k += 2
		n = ParentNode(n, sib)
	}
	c.rememberNodes(fork, proved[:k])
	return nil
}

func findRoot(roots []Node, index uint64) (Node, bool) {
	for _, r := range roots {
		if r.Index == index {
			return r, true
		}
	}
	return Node{}, false
}

// maxVerifiedNodes bounds the cache of nodes proved against a signed root.
const maxVerifiedNodes = 1 << 16

func (c *Core) cachedNode(fork, index uint64) (Hash, bool) {
	c.cacheMu.Lock()
	defer c.cacheMu.Unlock()
	if c.cacheFork != fork {
		return Hash{}, false
	}
	h, ok := c.verified[index]
	return h, ok
}

func (c *Core) rememberNodes(fork uint64, nodes []Node) {
	c.cacheMu.Lock()
	defer c.cacheMu.Unlock()
	if c.cacheFork != fork || len(c.verified)+len(nodes) > maxVerifiedNodes {
		clear(c.verified)
		c.cacheFork = fork
	}
	if c.verified == nil {
		c.verified = make(map[uint64]Hash)
	}
	for _, n := range nodes {
		c.verified[n.Index] = n.Hash
	}
}

// Node returns tree node index of the current head (for proofs).
func (c *Core) Node(index uint64) (Node, error) {
	st, _, done, err := c.reading()
	if err != nil {
		return Node{}, err
	}
	defer done()
	length := st.Length
	if !nodeInTree(index, length) {
		return Node{}, errorf(ErrOutOfRange, "node %d of a core of length %d", index, length)
	}
	n, _, err := c.readNode(index)
	if err != nil && st.Have < st.Length {
		if _, ok, serr := c.readStoredNode(index); serr == nil && !ok {
			return Node{}, errorf(ErrNotAvailable, "tree node %d: this replica holds the first %d of %d blocks", index, st.Have, st.Length)
		}
	}
	return n, err
}

// Append adds blocks as one batch, signed once, and returns the new length.
// With DurabilityFsync it returns only when the batch is on disk.
func (c *Core) Append(blocks ...[]byte) (uint64, error) {
	return c.append(nil, blocks)
}

// append appends blocks, encrypted with enc first when it is not nil (see
// AppendEncrypted): under the lock, so the (index, fork) each block is
// encrypted for is the one it gets.
func (c *Core) append(enc *Encryption, blocks [][]byte) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writeCheck(); err != nil {
		return c.st.Length, err
	}
	if len(blocks) == 0 {
		return c.st.Length, nil
	}
	if enc != nil {
		fork := c.st.Fork
		if c.forkNext {
			fork++
		}
		stored := make([][]byte, len(blocks))
		for i, b := range blocks {
			stored[i] = enc.Encrypt(c.st.Length+uint64(i), fork, b)
		}
		blocks = stored
	}
	for i, b := range blocks {
		if len(b) > MaxBlockSize {
			return c.st.Length, errorf(ErrBadInput, "block %d is %d bytes, more than the %d allowed", i, len(b), MaxBlockSize)
		}
	}
	st := c.st
	leaves, crcs, werr := c.hashAndWrite(blocks, st.ByteLength)
	roots := slices.Clone(c.roots)
	recs := make([]nodeRec, 0, 2*len(blocks))
	off := st.ByteLength
	for i, b := range blocks {
		leaf := Node{Index: 2 * (st.Length + uint64(i)), Size: uint64(len(b)), Hash: leaves[i]}
		recs = append(recs, nodeRec{n: leaf, off: off, crc: crcs[i]})
		off += leaf.Size
		roots = append(roots, leaf)
		for len(roots) >= 2 {
			a, b := roots[len(roots)-2], roots[len(roots)-1]
			if depth(a.Index) != depth(b.Index) || sibling(a.Index) != b.Index {
				break
			}
			p := ParentNode(a, b)
			roots = append(roots[:len(roots)-2], p)
			recs = append(recs, nodeRec{n: p})
		}
	}
	next := headState{Seq: st.Seq + 1, Length: st.Length + uint64(len(blocks)), Fork: st.Fork, ByteLength: off}
	if c.forkNext {
		next.Fork++
	}
	if werr != nil {
		return st.Length, fmt.Errorf("append to %s: write data: %w", c.dir, werr)
	}
	if err := c.writeNodes(recs); err != nil {
		return st.Length, fmt.Errorf("append to %s: write tree: %w", c.dir, err)
	}
	if err := c.commit(next, roots, true); err != nil {
		return st.Length, fmt.Errorf("append to %s: %w", c.dir, err)
	}
	return next.Length, nil
}

// AppendStream appends every block next returns, batch after batch until
// it returns no blocks, as ONE signed batch: data and tree are written as
// each batch arrives, and the head is signed and written once, at the end.
// Readers, peers and a crash see all of the blocks or none of them, and
// memory holds one batch at a time (plus the tree's roots). written, if
// set, is called after each batch is on disk (not yet visible). An error
// from next, written or a write leaves the core as it was. It returns the
// new length.
func (c *Core) AppendStream(next func() ([][]byte, error), written func(blocks uint64) error) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writeCheck(); err != nil {
		return c.st.Length, err
	}
	st := c.st
	roots := slices.Clone(c.roots)
	length, off := st.Length, st.ByteLength
	for {
		blocks, err := next()
		if err != nil {
			return st.Length, err
		}
		if len(blocks) == 0 {
			break
		}
		for i, b := range blocks {
			if len(b) > MaxBlockSize {
				return st.Length, errorf(ErrBadInput, "block %d is %d bytes, more than the %d allowed", length-st.Length+uint64(i), len(b), MaxBlockSize)
			}
		}
		leaves, crcs, werr := c.hashAndWrite(blocks, off)
		if werr != nil {
			return st.Length, fmt.Errorf("append to %s: write data: %w", c.dir, werr)
		}
		recs := make([]nodeRec, 0, 2*len(blocks))
		for i, b := range blocks {
			leaf := Node{Index: 2 * (length + uint64(i)), Size: uint64(len(b)), Hash: leaves[i]}
			recs = append(recs, nodeRec{n: leaf, off: off, crc: crcs[i]})
			off += leaf.Size
			roots = append(roots, leaf)
			for len(roots) >= 2 {
				a, b := roots[len(roots)-2], roots[len(roots)-1]
				if depth(a.Index) != depth(b.Index) || sibling(a.Index) != b.Index {
					break
				}
				p := ParentNode(a, b)
				roots = append(roots[:len(roots)-2], p)
				recs = append(recs, nodeRec{n: p})
			}
		}
		length += uint64(len(blocks))
		if err := c.writeNodes(recs); err != nil {
			return st.Length, fmt.Errorf("append to %s: write tree: %w", c.dir, err)
		}
		if written != nil {
			if err := written(length - st.Length); err != nil {
				return st.Length, err
			}
		}
	}
	if length == st.Length {
		return length, nil
	}
	n := headState{Seq: st.Seq + 1, Length: length, Fork: st.Fork, ByteLength: off}
	if c.forkNext {
		n.Fork++
	}
	if err := c.commit(n, roots, true); err != nil {
		return st.Length, fmt.Errorf("append to %s: %w", c.dir, err)
	}
	return n.Length, nil
}

// Truncate cuts the core to length blocks and raises the fork by one, as
// Hypercore's truncate() does. Blocks past length are forgotten.
func (c *Core) Truncate(length uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writeCheck(); err != nil {
		return err
	}
	if length > c.st.Length {
		return errorf(ErrBadInput, "cannot truncate a core of length %d to %d", c.st.Length, length)
	}
	roots := make([]Node, 0, 8)
	var size uint64
	for _, r := range fullRoots(length) {
		n, _, err := c.readNode(r)
		if err != nil {
			return fmt.Errorf("truncate %s: %w", c.dir, err)
		}
		roots = append(roots, n)
		size += n.Size
	}
	next := headState{Seq: c.st.Seq + 1, Length: length, Fork: c.st.Fork + 1, ByteLength: size}
	if err := c.commit(next, roots, false); err != nil {
		return fmt.Errorf("truncate %s: %w", c.dir, err)
	}
	return nil
}

func (c *Core) writeCheck() error {
	switch {
	case c.closed:
		return ErrClosed
	case !c.writable:
		return errorf(ErrReadOnly, "core %s was opened without its secret key: it can be read, not appended to", c.dir)
	case c.broken != nil:
		return fmt.Errorf("core %s must be reopened after a failed flush: %w", c.dir, c.broken)
	}
	return nil
}

// commit signs and writes the new head; flushData says data and tree were
// written and need flushing first.
func (c *Core) commit(next headState, roots []Node, flushData bool) error {
	next.TreeHash = TreeHash(roots)
	sig, err := c.v.Sign(c.kp, next.TreeHash, next.Length, next.Fork)
	if err != nil {
		return err
	}
	next.Signature = sig
	next.Have, next.HaveBytes = next.Length, next.ByteLength
	if len(sig) > maxSignature {
		return errorf(ErrBadInput, "signature of %d bytes is too large", len(sig))
	}
	if c.durability == DurabilityFsync && flushData {
		if err := syncData(c.data); err != nil {
			c.broken = err
			return fmt.Errorf("flush data: %w", err)
		}
		if err := syncData(c.tree); err != nil {
			c.broken = err
			return fmt.Errorf("flush tree: %w", err)
		}
	}
	return c.writeHead(next, roots)
}

// writeHead writes a new head (both copies) and makes it current.
func (c *Core) writeHead(next headState, roots []Node) error {
	// Primary, then mirror: see storage.go for why this order keeps every
	// acknowledged head through a crash or one damaged copy. Without fsync
	// one write of both copies keeps that order too: a write cut short by a
	// killed process has written a prefix.
	buf := c.headBuf[:]
	encodeHead(buf[:headSlotSize], next)
	copy(buf[headSlotSize:], buf[:headSlotSize])
	if c.durability == DurabilityOS {
		if _, err := c.headF.WriteAt(buf, 0); err != nil {
			c.broken = err // the copies may now differ; reopen to recover
			return fmt.Errorf("write head: %w", err)
		}
	} else {
		for copyNo := range 2 {
			if _, err := c.headF.WriteAt(buf[copyNo*headSlotSize:(copyNo+1)*headSlotSize], int64(copyNo*headSlotSize)); err != nil {
				c.broken = err
				return fmt.Errorf("write head: %w", err)
			}
			if err := syncData(c.headF); err != nil {
				c.broken = err
				return fmt.Errorf("flush head: %w", err)
			}
		}
	}
	c.st, c.roots, c.forkNext = next, roots, false
	return nil
}

// hashAndWrite hashes blocks and writes them to the data file from offset
// at. Large batches are cut into pieces of about 256 KiB that every core
// takes in turn, hashing a piece and writing it while it is still in the
// CPU cache. It returns the leaf hashes, the blocks' CRC-32Cs and the first
// write error.
func (c *Core) hashAndWrite(blocks [][]byte, at uint64) ([]Hash, []uint32, error) {
	out := make([]Hash, len(blocks))
	crcs := make([]uint32, len(blocks))
	total := totalLen(blocks)
	workers := min(c.parallelH, len(blocks))
	if workers < 2 || total < 128<<10 {
		err := c.writeData(blocks, at)
		for i, b := range blocks {
			out[i], crcs[i] = LeafHash(b), dataCRC(b)
		}
		return out, crcs, err
	}
	// Pieces: runs of blocks of at least 256 KiB, with their data offsets.
	type piece struct {
		lo, hi int
		at     uint64
	}
	var pieces []piece
	for lo := 0; lo < len(blocks); {
		p := piece{lo: lo, at: at}
		size := 0
		for lo < len(blocks) && (size < 256<<10 || lo == p.lo) {
			size += len(blocks[lo])
			lo++
		}
		p.hi = lo
		at += uint64(size)
		pieces = append(pieces, p)
	}
	var next atomic.Int64
	errs := make([]error, len(pieces))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(pieces) {
					return
				}
				p := pieces[k]
				for i := p.lo; i < p.hi; i++ {
					out[i], crcs[i] = LeafHash(blocks[i]), dataCRC(blocks[i])
				}
				errs[k] = c.writeData(blocks[p.lo:p.hi], p.at)
			}
		})
	}
	wg.Wait()
	return out, crcs, errors.Join(errs...)
}

// writeData writes blocks back to back at offset at (pwritev on Linux,
// staged positioned writes elsewhere: see writeBlocksAt).
func (c *Core) writeData(blocks [][]byte, at uint64) error {
	return writeBlocksAt(c.data, blocks, int64(at))
}

func totalLen(blocks [][]byte) int {
	n := 0
	for _, b := range blocks {
		n += len(b)
	}
	return n
}

// writeNodes writes node records, coalescing runs of adjacent indices.
func (c *Core) writeNodes(recs []nodeRec) error {
	slices.SortFunc(recs, func(a, b nodeRec) int { return cmpU64(a.n.Index, b.n.Index) })
	buf := c.nodeBuf[:0]
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].n.Index == recs[j-1].n.Index+1 {
			j++
		}
		need := (j - i) * nodeRecordSize
		if cap(buf) < need {
			buf = make([]byte, need)
		}
		buf = buf[:need]
		for k := i; k < j; k++ {
			encodeNode(buf[(k-i)*nodeRecordSize:], recs[k])
		}
		if _, err := c.tree.WriteAt(buf, int64(recs[i].n.Index*nodeRecordSize)); err != nil {
			return err
		}
		i = j
	}
	c.nodeBuf = buf[:0]
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Refresh re-reads the head written by another process (read-only cores).
// It only ever moves forward to a head that passes every check.
func (c *Core) Refresh() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	heads, _, err := readHeads(c.headF)
	if err != nil {
		return err
	}
	for _, h := range heads {
		if h.Seq <= c.st.Seq {
			return nil
		}
		if roots, err := c.checkHead(h); err == nil {
			c.st, c.roots = h, roots
			return nil
		}
	}
	return nil
}

// Close releases the core's files and lock.
func (c *Core) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.files.Lock() // wait for reads in flight
	defer c.files.Unlock()
	return c.closeFiles()
}

// blockForPeer reads block index for a proof sent to a peer. Its bytes are
// checked against the CRC-32C in the leaf record rather than re-hashed: the
// peer verifies the block against the signed tree itself, and the CRC keeps
// this core from sending bytes that rotted on disk (which would make it
// look like a forger) at a twentieth of the cost of BLAKE2b.
func (c *Core) blockForPeer(index uint64) ([]byte, error) {
	st, _, done, err := c.reading()
	if err != nil {
		return nil, err
	}
	defer done()
	if index >= st.Length {
		return nil, errorf(ErrOutOfRange, "block %d of a core of length %d", index, st.Length)
	}
	if index >= st.Have {
		return nil, errorf(ErrNotAvailable, "block %d: this replica holds the first %d of %d blocks", index, st.Have, st.Length)
	}
	var rb [nodeRecordSize]byte
	if n, err := c.tree.ReadAt(rb[:], int64(2*index*nodeRecordSize)); n < nodeRecordSize {
		return nil, corruptBlock(treeFile, index, fmt.Sprintf("leaf record missing: %v", err))
	}
	r, err := decodeRecord(2*index, rb[:])
	if err != nil {
		return nil, err
	}
	if r.n.Size > MaxBlockSize || r.off+r.n.Size > st.HaveBytes || r.off+r.n.Size < r.off {
		return nil, corruptBlock(treeFile, index, "leaf record points outside the data")
	}
	buf := make([]byte, r.n.Size)
	if _, err := c.data.ReadAt(buf, int64(r.off)); err != nil {
		return nil, corruptBlock(dataFile, index, "read: "+err.Error())
	}
	if dataCRC(buf) != r.crc {
		return nil, corruptBlock(dataFile, index, "bytes do not match their checksum")
	}
	return buf, nil
}

// Proof answers a proof request from the current signed head (what a
// replication peer or an evidence export asks for). With req.Manifest the
// manifest is included unless the core is compat.
func (c *Core) Proof(req ProofRequest) (*Proof, error) {
	c.mu.RLock()
	st, closed := c.st, c.closed
	c.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	m := c.v.Manifest()
	if m.Version >= 1 {
		req = applyPrologue(req, m.Prologue)
	}
	p, err := BuildProof(c, st.Length, st.Fork, st.Signature, req, c.blockForPeer)
	if err != nil {
		return nil, fmt.Errorf("proof from %s: %w", c.dir, err)
	}
	if req.Manifest && !c.v.Compat() {
		p.Manifest = m
	}
	return p, nil
}
