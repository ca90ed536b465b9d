package hypercore

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/blake2b"
)

// On-disk layout of a core directory (see doc.go for the rules):
//
//	header   JSON: format, core key, manifest (hex). Written once, atomically.
//	secret   the 32-byte signing seed in hex, mode 0600. Absent: read-only.
//	data     block bytes, back to back; block i starts at its leaf's offset.
//	tree     one 56-byte record per flat-tree index i, at i*56:
//	         size u64le ‖ hash[32] ‖ aux u64le ‖ dataCRC u32le ‖
//	         crc32c(u64le(i) ‖ the 52 bytes before it). For leaves aux is
//	         the block's byte offset in data and dataCRC the CRC-32C of its
//	         bytes (a cheap check for serving, where the peer re-hashes
//	         anyway); both are 0 for parents. An all-zero record is a node
//	         a replica does not hold.
//	head     two 4096-byte copies of the signed head, primary then mirror;
//	         each: magic "hchead02" ‖ seq ‖ length ‖ fork ‖ byteLength ‖
//	         have ‖ haveBytes ‖ treeHash ‖ u32 sigLen ‖ sig ‖ BLAKE2b-256
//	         of all before it. have is how many leading blocks the data
//	         file holds (haveBytes bytes): length for a writer, less for a
//	         replica still downloading. Copies with magic "hchead01" (no
//	         have fields, have = length) are still read. The file is
//	         made 8192 bytes long at create; the valid copy with the highest
//	         seq is the head.
//	lock     locked by the one writer (flock(2) on Unix, LockFileEx on
//	         Windows).
//
// Write order of an append: data, tree, [flush both], primary head,
// [flush], mirror head, [flush] (flush: see syncData, per OS); the append is acknowledged after the mirror. A crash
// before the primary is written leaves the old head in both copies (bytes
// past it are ignored and later overwritten); a crash while writing one copy
// leaves the other one valid, holding the old head (primary torn) or the new
// one (mirror torn). So once an append is acknowledged, both copies hold it,
// and one damaged copy, from any cause, cannot lose it. Without flushes
// (DurabilityOS) both copies go out in one 8 KiB write, primary first, which a
// killed process can only cut short, never reorder; a power cut may then
// leave a head whose tree never reached the disk, and Open reports that as
// corruption.
const (
	headerFile = "header"
	secretFile = "secret"
	dataFile   = "data"
	treeFile   = "tree"
	headFile   = "head"
	lockFile   = "lock"

	formatName = "fieldsync-hypercore/2"

	nodeRecordSize = 56
	headSlotSize   = 4096
	maxSignature   = headSlotSize - 8*7 - 32 - 4 - 32
)

var (
	headMagic   = [8]byte{'h', 'c', 'h', 'e', 'a', 'd', '0', '2'}
	headMagicV1 = [8]byte{'h', 'c', 'h', 'e', 'a', 'd', '0', '1'}
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the JSON content of the header file.
type header struct {
	Format   string `json:"format"`
	Key      string `json:"key"`
	Manifest string `json:"manifest"`
}

func readHeader(dir string) (Hash, *Manifest, error) {
	var key Hash
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return key, nil, fmt.Errorf("not a directory: %w", ErrNotCore)
	}
	b, err := os.ReadFile(filepath.Join(dir, headerFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return key, nil, fmt.Errorf("no such directory: %w", ErrNotCore)
		}
		return key, nil, fmt.Errorf("no header file: %w", ErrNotCore)
	}
	if err != nil {
		return key, nil, fmt.Errorf("read header: %w", err)
	}
	var h header
	if err := json.Unmarshal(b, &h); err != nil {
		return key, nil, corruptFile(headerFile, "not valid JSON: "+err.Error())
	}
	if h.Format != formatName {
		return key, nil, corruptFile(headerFile, fmt.Sprintf("unknown format %q", h.Format))
	}
	kb, err := hex.DecodeString(h.Key)
	if err != nil || len(kb) != 32 {
		return key, nil, corruptFile(headerFile, "bad key")
	}
	copy(key[:], kb)
	mb, err := hex.DecodeString(h.Manifest)
	if err != nil {
		return key, nil, corruptFile(headerFile, "bad manifest hex")
	}
	m, err := DecodeManifest(mb)
	if err != nil {
		return key, nil, corruptFile(headerFile, err.Error())
	}
	if err := CheckKey(key, m); err != nil {
		return key, nil, corruptFile(headerFile, err.Error())
	}
	return key, m, nil
}

// writeFileAtomic writes b to dir/name through a temporary file, fsync and
// rename, then flushes the directory.
func writeFileAtomic(dir, name string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := syncData(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// renameDir moves the directory oldpath to newpath, which must not exist
// or be an empty directory. Neither os.Rename on Unix nor MoveFileEx on
// Windows replaces a directory, so an empty one at newpath is removed
// first; os.Remove refuses a non-empty one, so a directory someone filled
// is never replaced.
func renameDir(oldpath, newpath string) error {
	if st, err := os.Lstat(newpath); err == nil && st.IsDir() {
		if err := os.Remove(newpath); err != nil {
			return err
		}
	}
	return rename(oldpath, newpath)
}

// nodeRec is a tree record to write: the node, and for a leaf its byte
// offset in data and the CRC-32C of its bytes.
type nodeRec struct {
	n   Node
	off uint64
	crc uint32
}

// encodeNode writes the record of r into b (nodeRecordSize bytes).
func encodeNode(b []byte, r nodeRec) {
	binary.LittleEndian.PutUint64(b[0:], r.n.Size)
	copy(b[8:40], r.n.Hash[:])
	binary.LittleEndian.PutUint64(b[40:], r.off)
	binary.LittleEndian.PutUint32(b[48:], r.crc)
	binary.LittleEndian.PutUint32(b[52:], nodeCRC(r.n.Index, b[:52]))
}

func nodeCRC(index uint64, body []byte) uint32 {
	var ib [8]byte
	binary.LittleEndian.PutUint64(ib[:], index)
	c := crc32.Update(0, castagnoli, ib[:])
	return crc32.Update(c, castagnoli, body)
}

// dataCRC is the CRC-32C kept in a leaf record.
func dataCRC(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// decodeNode reads the record of node index from b, checking its CRC; aux
// is the leaf's data offset.
func decodeNode(index uint64, b []byte) (n Node, aux uint64, err error) {
	r, err := decodeRecord(index, b)
	return r.n, r.off, err
}

func decodeRecord(index uint64, b []byte) (nodeRec, error) {
	if binary.LittleEndian.Uint32(b[52:]) != nodeCRC(index, b[:52]) {
		return nodeRec{}, corruptNode(treeFile, index, "checksum mismatch")
	}
	r := nodeRec{n: Node{Index: index, Size: binary.LittleEndian.Uint64(b)}}
	copy(r.n.Hash[:], b[8:40])
	r.off = binary.LittleEndian.Uint64(b[40:])
	r.crc = binary.LittleEndian.Uint32(b[48:])
	return r, nil
}

// headState is one head slot.
type headState struct {
	Seq        uint64
	Length     uint64
	Fork       uint64
	ByteLength uint64
	Have       uint64 // leading blocks held in data (= Length for a writer)
	HaveBytes  uint64 // their bytes
	TreeHash   Hash
	Signature  []byte
}

// encodeHead writes the record of h into dst (headSlotSize bytes, zeroed
// past the record).
func encodeHead(dst []byte, h headState) {
	b := dst[:0]
	b = append(b, headMagic[:]...)
	b = binary.LittleEndian.AppendUint64(b, h.Seq)
	b = binary.LittleEndian.AppendUint64(b, h.Length)
	b = binary.LittleEndian.AppendUint64(b, h.Fork)
	b = binary.LittleEndian.AppendUint64(b, h.ByteLength)
	b = binary.LittleEndian.AppendUint64(b, h.Have)
	b = binary.LittleEndian.AppendUint64(b, h.HaveBytes)
	b = append(b, h.TreeHash[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h.Signature)))
	b = append(b, h.Signature...)
	sum := blake2b.Sum256(b)
	b = append(b, sum[:]...)
	clear(dst[len(b):headSlotSize])
}

// decodeHead parses a slot; ok is false for an empty, torn or corrupt slot.
func decodeHead(b []byte) (headState, bool) {
	var h headState
	if len(b) < 8 {
		return h, false
	}
	v1 := [8]byte(b[:8]) == headMagicV1
	if !v1 && [8]byte(b[:8]) != headMagic {
		return h, false
	}
	fixed := 8 + 8*6 + 32 + 4
	if v1 {
		fixed = 8 + 8*4 + 32 + 4
	}
	if len(b) < fixed+32 {
		return h, false
	}
	sigLen := int(binary.LittleEndian.Uint32(b[fixed-4:]))
	if sigLen > maxSignature || fixed+sigLen+32 > len(b) {
		return h, false
	}
	end := fixed + sigLen
	if blake2b.Sum256(b[:end]) != [32]byte(b[end:end+32]) {
		return h, false
	}
	h.Seq = binary.LittleEndian.Uint64(b[8:])
	if h.Seq == 0 {
		return h, false // commit never writes seq 0: this slot was made by hand
	}
	h.Length = binary.LittleEndian.Uint64(b[16:])
	h.Fork = binary.LittleEndian.Uint64(b[24:])
	h.ByteLength = binary.LittleEndian.Uint64(b[32:])
	th := b[40:72]
	if v1 {
		h.Have, h.HaveBytes = h.Length, h.ByteLength
	} else {
		h.Have = binary.LittleEndian.Uint64(b[40:])
		h.HaveBytes = binary.LittleEndian.Uint64(b[48:])
		th = b[56:88]
	}
	copy(h.TreeHash[:], th)
	h.Signature = append([]byte(nil), b[fixed:end]...)
	return h, true
}

// readHeads returns the valid head copies, newest first, and how many copies
// were invalid (all-zero copies of a fresh core are neither). A head file
// shorter than two copies has been cut: that is corruption, whatever the
// copies left say.
func readHeads(f *os.File) ([]headState, int, error) {
	buf := make([]byte, 2*headSlotSize)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return nil, 0, fmt.Errorf("read head: %w", err)
	}
	if n < len(buf) {
		return nil, 0, corruptFile(headFile, fmt.Sprintf("file is truncated to %d bytes (a core's head file holds %d)", n, len(buf)))
	}
	var heads []headState
	bad := 0
	for slot := 0; slot < 2; slot++ {
		lo := slot * headSlotSize
		if lo >= len(buf) {
			break
		}
		hi := min(lo+headSlotSize, len(buf))
		if h, ok := decodeHead(buf[lo:hi]); ok {
			heads = append(heads, h)
		} else if !allZero(buf[lo:hi]) {
			bad++
		}
	}
	if len(heads) == 2 && heads[1].Seq > heads[0].Seq {
		heads[0], heads[1] = heads[1], heads[0]
	}
	return heads, bad, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// errLockBusy is tryLock's answer when another open file holds the lock.
var errLockBusy = errors.New("lock busy")

// lockDir takes the writer's exclusive lock on the core directory (flock on
// Unix, LockFileEx on Windows; see lock_*.go).
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	// A lock can outlive its holder for a moment: a process forked by
	// another goroutine holds the descriptor until its exec closes it. So a
	// busy lock is retried briefly before it counts as another writer.
	for try := 0; ; try++ {
		err := tryLock(f)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, errLockBusy) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		if try == 25 {
			f.Close()
			return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
