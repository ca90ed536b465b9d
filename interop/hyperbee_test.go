package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/hyperbee"
	"github.com/fieldsync/fieldsync/hypercore/hyperblobs"
)

// The Hyperbee/Hyperblobs harness: jsbee/ pins what CoMapeo core 7.1 runs
// (hyperdrive 11.5.3, hyperbee 2.27.3, hyperblobs 2.3.0, hypercore 10.19.0,
// corestore 6.8.4); installed like jsref (see jsharness_test.go). Blocks move
// between Go and JS as block files (u32le length, bytes; see jsbee/bee.mjs).

var (
	beeOnce sync.Once
	beeJS   *jsEnv
	beeErr  error
)

func needBeeJS(t *testing.T) *jsEnv {
	t.Helper()
	beeOnce.Do(func() {
		beeJS, beeErr = prepareJSFrom("jsbee", filepath.Join(runRoot, "jsbee"))
	})
	if beeJS != nil {
		return beeJS
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("JS Hyperbee harness unavailable (CI is set, so this fails): %v", beeErr)
	}
	t.Skipf("SKIPPED, NOT PASSED: JS Hyperbee harness unavailable: %v", beeErr)
	return nil
}

// bee runs `node bee.mjs args...` and decodes its JSON line.
func (e *jsEnv) bee(t *testing.T, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.node, append([]string{filepath.Join(e.scriptDir, "bee.mjs")}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node bee.mjs %s: %v\n%s", args[0], err, stderr.Bytes())
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil || res["ok"] != true {
		t.Fatalf("node bee.mjs %s: %q (%v)", args[0], out, err)
	}
	return res
}

func writeBlockFile(t *testing.T, path string, blocks [][]byte) {
	t.Helper()
	var b bytes.Buffer
	for _, blk := range blocks {
		b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(blk))))
		b.Write(blk)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readBlockFile(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 || uint64(len(b)-4) < uint64(binary.LittleEndian.Uint32(b)) {
			t.Fatalf("%s: truncated block file", path)
		}
		n := binary.LittleEndian.Uint32(b)
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	return out
}

func coreBlocks(t *testing.T, c *hypercore.Core) [][]byte {
	t.Helper()
	out := make([][]byte, c.Length())
	for i := range out {
		b, err := c.Get(uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func newCore(t *testing.T, seed byte, blocks [][]byte) *hypercore.Core {
	t.Helper()
	c, err := hypercore.Create(filepath.Join(t.TempDir(), fmt.Sprint("core-", seed)),
		hypercore.CreateOptions{Seed: bytes.Repeat([]byte{seed}, 32), Compat: true, Durability: hypercore.DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for len(blocks) > 0 {
		n := min(len(blocks), 4096)
		if _, err := c.Append(blocks[:n]...); err != nil {
			t.Fatal(err)
		}
		blocks = blocks[n:]
	}
	return c
}

type beeOp struct {
	del        bool
	key, value []byte
}

// beeOps makes n distinct keys put in a shuffled order, then overwrites and
// deletes (some of absent keys), as ops for bee.mjs.
func beeOps(seed uint64, n int) []beeOp {
	rng := rand.New(rand.NewPCG(seed, 77))
	var ops []beeOp
	val := func(i int) []byte {
		v := make([]byte, rng.IntN(120))
		for j := range v {
			v[j] = byte(rng.IntN(256))
		}
		return append(v, []byte(strconv.Itoa(i))...)
	}
	for _, i := range rng.Perm(n) {
		ops = append(ops, beeOp{key: fmt.Appendf(nil, "entry/%06d", i), value: val(i)})
	}
	for j := range n / 4 {
		i := rng.IntN(n + n/20)
		k := fmt.Appendf(nil, "entry/%06d", i)
		if j%2 == 0 {
			ops = append(ops, beeOp{del: true, key: k})
		} else {
			ops = append(ops, beeOp{key: k, value: val(j)})
		}
	}
	return ops
}

func writeOpsFile(t *testing.T, path string, ops []beeOp) {
	t.Helper()
	list := make([][]string, len(ops))
	for i, o := range ops {
		if o.del {
			list[i] = []string{"del", hex.EncodeToString(o.key)}
		} else {
			list[i] = []string{"put", hex.EncodeToString(o.key), hex.EncodeToString(o.value)}
		}
	}
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkBee compares a bee with the outcome of ops: every get, the range in
// both orders, and the history.
func checkBee(t *testing.T, b *hyperbee.Bee, ops []beeOp) {
	t.Helper()
	m := map[string][]byte{}
	var hist []beeOp
	for _, o := range ops {
		if o.del {
			if _, ok := m[string(o.key)]; ok {
				delete(m, string(o.key))
				hist = append(hist, o)
			}
			continue
		}
		m[string(o.key)] = o.value
		hist = append(hist, o)
	}
	keys := make([]string, 0, len(m))
	for k, v := range m {
		keys = append(keys, k)
		e, err := b.Get([]byte(k))
		if err != nil || e == nil || !bytes.Equal(e.Value, v) {
			t.Fatalf("get %q: %+v %v", k, e, err)
		}
	}
	slices.Sort(keys)
	i := 0
	for e, err := range b.Entries(hyperbee.Range{}) {
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(keys) || string(e.Key) != keys[i] || !bytes.Equal(e.Value, m[keys[i]]) {
			t.Fatalf("range entry %d: %q", i, e.Key)
		}
		i++
	}
	if i != len(keys) {
		t.Fatalf("range: %d entries, want %d", i, len(keys))
	}
	for e, err := range b.Entries(hyperbee.Range{Reverse: true}) {
		if err != nil {
			t.Fatal(err)
		}
		i--
		if string(e.Key) != keys[i] {
			t.Fatalf("reverse entry %d: %q", i, e.Key)
		}
	}
	i = 0
	for e, err := range b.History(0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		w := hist[i]
		if e.Seq != uint64(i+1) || e.Deleted != w.del || !bytes.Equal(e.Key, w.key) || (!w.del && !bytes.Equal(e.Value, w.value)) {
			t.Fatalf("history %d: %+v, want %+v", i, e, w)
		}
		i++
	}
	if i != len(hist) {
		t.Fatalf("history: %d writes, want %d", i, len(hist))
	}
}

// JS writes a bee of 10,000 keys (plus overwrites and deletes); Go reads it,
// and Go's own bee for the same writes is byte for byte the same.
func TestHyperbeeJSWritesGoReads(t *testing.T) {
	e := needBeeJS(t)
	dir := t.TempDir()
	ops := beeOps(1, 10000)
	writeOpsFile(t, filepath.Join(dir, "ops.json"), ops)
	e.bee(t, "write", "--ops", filepath.Join(dir, "ops.json"), "--out", filepath.Join(dir, "js.bin"))
	jsBlocks := readBlockFile(t, filepath.Join(dir, "js.bin"))

	c := newCore(t, 1, jsBlocks)
	b, err := hyperbee.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	checkBee(t, b, ops)

	// The same writes from Go.
	gc := newCore(t, 2, nil)
	gb, err := hyperbee.Create(gc, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := gb.Batch()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		if o.del {
			err = w.Del(o.key)
		} else {
			err = w.Put(o.key, o.value)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	goBlocks := coreBlocks(t, gc)
	if len(goBlocks) != len(jsBlocks) {
		t.Fatalf("Go wrote %d blocks, JS %d", len(goBlocks), len(jsBlocks))
	}
	for i := range goBlocks {
		if !bytes.Equal(goBlocks[i], jsBlocks[i]) {
			t.Fatalf("block %d differs:\n Go %x\n JS %x", i, goBlocks[i], jsBlocks[i])
		}
	}
}

// Go writes a bee (one put or delete at a time, then a batch); JS reads it.
func TestHyperbeeGoWritesJSReads(t *testing.T) {
	e := needBeeJS(t)
	dir := t.TempDir()
	ops := beeOps(2, 10000)
	c := newCore(t, 3, nil)
	b, err := hyperbee.Create(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range ops {
		if i < 500 {
			if o.del {
				err = b.Del(o.key)
			} else {
				err = b.Put(o.key, o.value)
			}
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		w, err := b.Batch()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range ops[i:] {
			if o.del {
				err = w.Del(o.key)
			} else {
				err = w.Put(o.key, o.value)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		break
	}
	checkBee(t, b, ops)
	writeOpsFile(t, filepath.Join(dir, "ops.json"), ops)
	writeBlockFile(t, filepath.Join(dir, "go.bin"), coreBlocks(t, c))
	res := e.bee(t, "read", "--ops", filepath.Join(dir, "ops.json"), "--blocks", filepath.Join(dir, "go.bin"))
	if res["protocol"] != "hyperbee" {
		t.Fatalf("JS read header protocol %v", res["protocol"])
	}
}

// ---- Hyperdrive: a Hyperbee of entries over a Hyperblobs core ----

type driveFile struct {
	Path     string `json:"path"`
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
}

// driveEntry is hyperdrive 11's entry value, fields in its JSON order.
type driveEntry struct {
	Executable bool            `json:"executable"`
	Linkname   *string         `json:"linkname"`
	Blob       *hyperblobs.ID  `json:"blob"`
	Metadata   json.RawMessage `json:"metadata"`
}

// driveKey is hyperdrive's key for a path: sub-encoder prefix "files\0".
func driveKey(path string) []byte { return append([]byte("files\x00"), path...) }

// fileContent is bee.mjs's: byte j is byte j%32 of sha256(path:floor(j/32)).
func fileContent(path string, size int) []byte {
	out := make([]byte, size)
	for j := 0; j < size; j += 32 {
		h := sha256.Sum256(fmt.Appendf(nil, "%s:%d", path, j/32))
		copy(out[j:], h[:])
	}
	return out
}

// driveFiles lists files of about total bytes, with the edge sizes.
func driveFiles(prefix string, total int) []driveFile {
	sizes := []int{0, 1, 65535, 65536, 65537, 3 * 65536, 5 << 20}
	rng := rand.New(rand.NewPCG(uint64(len(prefix)), 5))
	sum := 0
	for _, s := range sizes {
		sum += s
	}
	for sum < total {
		s := rng.IntN(3 << 20)
		sizes = append(sizes, s)
		sum += s
	}
	kinds := []string{"original", "preview", "thumbnail"}
	files := make([]driveFile, len(sizes))
	for i, s := range sizes {
		files[i] = driveFile{Path: fmt.Sprintf("/%s/%s/%016x", prefix, kinds[i%3], uint64(i)*0x9e3779b97f4a7c15), Size: s, MimeType: "image/jpeg"}
	}
	return files
}

func writeFilesList(t *testing.T, path string, files []driveFile) {
	t.Helper()
	b, err := json.Marshal(files)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// goDrive writes files as hyperdrive would: blobs first, then the entry.
func goDrive(t *testing.T, db *hyperbee.Bee, blobs *hyperblobs.Blobs, files []driveFile) {
	t.Helper()
	for _, f := range files {
		id, err := blobs.Put(fileContent(f.Path, f.Size))
		if err != nil {
			t.Fatal(err)
		}
		v, err := json.Marshal(driveEntry{Blob: &id, Metadata: json.RawMessage(fmt.Sprintf(`{"mimeType":%q}`, f.MimeType))})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put(driveKey(f.Path), v); err != nil {
			t.Fatal(err)
		}
	}
}

// readDrive checks every file of a drive against its expected content.
func readDrive(t *testing.T, db *hyperbee.Bee, blobs *hyperblobs.Blobs, files []driveFile) {
	t.Helper()
	for _, f := range files {
		e, err := db.Get(driveKey(f.Path))
		if err != nil || e == nil {
			t.Fatalf("entry %s: %v %v", f.Path, e, err)
		}
		var ent driveEntry
		if err := json.Unmarshal(e.Value, &ent); err != nil || ent.Blob == nil {
			t.Fatalf("entry %s: %q %v", f.Path, e.Value, err)
		}
		var meta struct{ MimeType string }
		if err := json.Unmarshal(ent.Metadata, &meta); err != nil || meta.MimeType != f.MimeType {
			t.Fatalf("entry %s metadata %s", f.Path, ent.Metadata)
		}
		got, err := blobs.Get(*ent.Blob)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, fileContent(f.Path, f.Size)) {
			t.Fatalf("file %s: %d bytes differ from the %d written", f.Path, len(got), f.Size)
		}
	}
	n := 0
	for _, err := range db.Entries(hyperbee.Range{Gt: []byte("files\x00"), Lt: []byte("files\x01")}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != len(files) {
		t.Fatalf("drive lists %d files, want %d", n, len(files))
	}
}

// JS hyperdrive writes 50 MB of files; Go reads every entry and file, and
// Go writing the same files makes the same blocks in both cores.
func TestHyperdriveJSWritesGoReads(t *testing.T) {
	e := needBeeJS(t)
	dir := t.TempDir()
	files := driveFiles("photo", 50<<20)
	writeFilesList(t, filepath.Join(dir, "files.json"), files)
	res := e.bee(t, "drive-write", "--files", filepath.Join(dir, "files.json"),
		"--db", filepath.Join(dir, "db.bin"), "--blobs", filepath.Join(dir, "blobs.bin"))
	jsDB := readBlockFile(t, filepath.Join(dir, "db.bin"))
	jsBlobs := readBlockFile(t, filepath.Join(dir, "blobs.bin"))

	db, err := hyperbee.Open(newCore(t, 4, jsDB))
	if err != nil {
		t.Fatal(err)
	}
	h, err := db.Header()
	if err != nil {
		t.Fatal(err)
	}
	if h.Metadata == nil || hex.EncodeToString(h.Metadata.ContentFeed) != res["blobsKey"] {
		t.Fatalf("header metadata %+v, JS blobs key %v", h.Metadata, res["blobsKey"])
	}
	readDrive(t, db, hyperblobs.New(newCore(t, 5, jsBlobs), 0), files)

	// Go writes the same files: the same blocks.
	gdbCore, gblobCore := newCore(t, 6, nil), newCore(t, 7, nil)
	gdb, err := hyperbee.Create(gdbCore, &hyperbee.Metadata{ContentFeed: h.Metadata.ContentFeed})
	if err != nil {
		t.Fatal(err)
	}
	goDrive(t, gdb, hyperblobs.New(gblobCore, 0), files)
	for name, pair := range map[string][2][][]byte{"db": {coreBlocks(t, gdbCore), jsDB}, "blobs": {coreBlocks(t, gblobCore), jsBlobs}} {
		if len(pair[0]) != len(pair[1]) {
			t.Fatalf("%s: Go wrote %d blocks, JS %d", name, len(pair[0]), len(pair[1]))
		}
		for i := range pair[0] {
			if !bytes.Equal(pair[0][i], pair[1][i]) {
				t.Fatalf("%s block %d differs:\n Go %.200x\n JS %.200x", name, i, pair[0][i], pair[1][i])
			}
		}
	}
}

// Go writes a drive of 50 MB into two compat cores; JS hyperdrive opens it
// by key (the cores made from the same seeds) and reads every file.
func TestHyperdriveGoWritesJSReads(t *testing.T) {
	e := needBeeJS(t)
	dir := t.TempDir()
	files := driveFiles("video", 50<<20)
	dbCore, blobCore := newCore(t, 8, nil), newCore(t, 9, nil)
	blobKey := blobCore.Key()
	db, err := hyperbee.Create(dbCore, &hyperbee.Metadata{ContentFeed: blobKey[:]})
	if err != nil {
		t.Fatal(err)
	}
	blobs := hyperblobs.New(blobCore, 0)
	goDrive(t, db, blobs, files)
	readDrive(t, db, blobs, files)
	writeFilesList(t, filepath.Join(dir, "files.json"), files)
	writeBlockFile(t, filepath.Join(dir, "db.bin"), coreBlocks(t, dbCore))
	writeBlockFile(t, filepath.Join(dir, "blobs.bin"), coreBlocks(t, blobCore))
	e.bee(t, "drive-read", "--files", filepath.Join(dir, "files.json"),
		"--db", filepath.Join(dir, "db.bin"), "--blobs", filepath.Join(dir, "blobs.bin"),
		"--db-seed", hex.EncodeToString(bytes.Repeat([]byte{8}, 32)), "--blobs-seed", hex.EncodeToString(bytes.Repeat([]byte{9}, 32)))
}
