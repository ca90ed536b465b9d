package hypercore

// Tests of the per-OS storage layer (lock_*.go, flush_*.go, rename and
// positioned writes). They use only t.TempDir, filepath and os/exec of the
// test binary itself, so they run unchanged on Linux, macOS and Windows.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func newTestCore(t *testing.T, dir string, d Durability) *Core {
	t.Helper()
	c, err := Create(dir, CreateOptions{Seed: bytes.Repeat([]byte{5}, 32), Durability: d})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLockRefusesSecondWriterInProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "core")
	c := newTestCore(t, dir, DurabilityOS)
	if _, err := c.Append([]byte("one")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, OpenOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second writer in the same process: err = %v, want ErrLocked", err)
	}
	// Readers take no lock.
	r, err := Open(dir, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("reader beside the writer: %v", err)
	}
	if r.Length() != 1 {
		t.Fatalf("reader sees length %d, want 1", r.Length())
	}
	r.Close()
	// Closing the writer frees the lock at once.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2, err := Open(dir, OpenOptions{})
	if err != nil {
		t.Fatalf("writer after the first closed: %v", err)
	}
	c2.Close()
}

// TestHelperLockHolder is not a test: it is the other process of
// TestLockRefusesWriterInAnotherProcess. It opens the core named by
// FIELDSYNC_LOCK_HOLDER for writing, prints "locked", and holds it until
// its stdin is closed.
func TestHelperLockHolder(t *testing.T) {
	dir := os.Getenv("FIELDSYNC_LOCK_HOLDER")
	if dir == "" {
		t.Skip("helper process of TestLockRefusesWriterInAnotherProcess")
	}
	c, err := Open(dir, OpenOptions{})
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	c.Close()
	os.Exit(0)
}

func TestLockRefusesWriterInAnotherProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "core")
	if err := newTestCore(t, dir, DurabilityOS).Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLockHolder$")
	cmd.Env = append(os.Environ(), "FIELDSYNC_LOCK_HOLDER="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	if _, err := Open(dir, OpenOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("writer while another process holds the core: err = %v, want ErrLocked", err)
	}
	stdin.Close() // the helper closes its core and exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	c, err := Open(dir, OpenOptions{})
	if err != nil {
		t.Fatalf("writer after the other process exited: %v", err)
	}
	c.Close()
}

// TestDurableAppendsReopen appends with every durability through both the
// single-write and the large-batch (parallel hashing) paths and reads the
// blocks back after reopening. Power loss cannot be simulated here; the
// crash tests cover killed processes.
func TestDurableAppendsReopen(t *testing.T) {
	for _, d := range []Durability{DurabilityFsync, DurabilityOS} {
		t.Run(d.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "core")
			c := newTestCore(t, dir, d)
			if c.Durability() != d {
				t.Fatalf("Durability() = %v, want %v", c.Durability(), d)
			}
			var want [][]byte
			for i := range 3 {
				b := []byte(fmt.Sprintf("block %d", i))
				want = append(want, b)
				if _, err := c.Append(b); err != nil {
					t.Fatal(err)
				}
			}
			var batch [][]byte // > 128 KiB: hashed and written in pieces
			for i := range 200 {
				batch = append(batch, bytes.Repeat([]byte{byte(i)}, 1000+i))
			}
			if _, err := c.Append(batch...); err != nil {
				t.Fatal(err)
			}
			want = append(want, batch...)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := Open(dir, OpenOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Length() != uint64(len(want)) {
				t.Fatalf("length %d after reopen, want %d", r.Length(), len(want))
			}
			for i, w := range want {
				got, err := r.Get(uint64(i))
				if err != nil || !bytes.Equal(got, w) {
					t.Fatalf("block %d: %q, %v", i, got, err)
				}
			}
		})
	}
}

func TestSyncDataAndDir(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := syncData(f); err != nil {
		t.Fatalf("syncData: %v", err)
	}
	if err := syncDir(dir); err != nil {
		t.Fatalf("syncDir: %v", err)
	}
}

// TestWriteBlocksAt checks the OS's positioned write and the portable staged
// one give the same bytes, for small blocks, blocks larger than the stage,
// empty blocks and an offset inside an existing file.
func TestWriteBlocksAt(t *testing.T) {
	var blocks [][]byte
	for i := range 50 {
		blocks = append(blocks, bytes.Repeat([]byte{byte('a' + i%26)}, i*97))
	}
	blocks = append(blocks, bytes.Repeat([]byte{'Z'}, stageSize+3), nil, []byte("tail"))
	const at = 1000
	want := append(bytes.Repeat([]byte{'-'}, at), bytes.Join(blocks, nil)...)
	for name, write := range map[string]func(*os.File, [][]byte, int64) error{
		"os":     writeBlocksAt,
		"staged": writeBlocksStaged,
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "data")
			if err := os.WriteFile(p, bytes.Repeat([]byte{'-'}, at), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := write(f, blocks, at); err != nil {
				t.Fatal(err)
			}
			f.Close()
			got, _ := os.ReadFile(p)
			if !bytes.Equal(got, want) {
				t.Fatalf("wrote %d bytes, want %d (first difference at %d)", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	dir := t.TempDir()
	for _, content := range []string{"first", "second, longer"} {
		if err := writeFileAtomic(dir, "header", []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "header"))
		if string(got) != content {
			t.Fatalf("read %q, want %q", got, content)
		}
	}
	assertEntries(t, dir, "header")
}

// TestWriteFileAtomicTargetOpen replaces a file another handle has open. On
// Unix the rename succeeds and the open handle keeps the old bytes; on
// Windows it may be refused (Go opens files without FILE_SHARE_DELETE) after
// the retries, and then the old file stays whole and no temporary is left.
func TestWriteFileAtomicTargetOpen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "head")
	if err := writeFileAtomic(dir, "head", []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	err = writeFileAtomic(dir, "head", []byte("new"), 0o644)
	got, _ := os.ReadFile(p)
	switch {
	case err == nil:
		if string(got) != "new" {
			t.Fatalf("after replacing: %q", got)
		}
		old, _ := io.ReadAll(held)
		if string(old) != "old" {
			t.Fatalf("the open handle reads %q, want the old bytes", old)
		}
	case runtime.GOOS == "windows":
		if string(got) != "old" {
			t.Fatalf("refused replace left %q, want the old bytes", got)
		}
	default:
		t.Fatalf("replace an open file: %v", err)
	}
	assertEntries(t, dir, "head")
}

func TestRenameDir(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, files ...string) string {
		d := filepath.Join(base, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(d, f), []byte(f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	// Into a missing path and over an empty directory: moved.
	for _, target := range []string{filepath.Join(base, "missing"), mk("empty")} {
		src := mk("src-"+filepath.Base(target), "data")
		if err := renameDir(src, target); err != nil {
			t.Fatalf("rename onto %s: %v", target, err)
		}
		assertEntries(t, target, "data")
		if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("source still there: %v", err)
		}
	}
	// Over a filled directory: refused, both left as they were.
	src, full := mk("src-full", "data"), mk("full", "theirs")
	if err := renameDir(src, full); err == nil {
		t.Fatal("renamed over a non-empty directory")
	}
	assertEntries(t, full, "theirs")
	assertEntries(t, src, "data")
}

// TestCreateNonASCIIPath makes a core in a directory named with accents,
// Greek and CJK letters (device names and project names are free text) and
// over an empty directory that already exists.
func TestCreateNonASCIIPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "données ñandú", "Ωμέγα-観測")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := newTestCore(t, dir, DurabilityFsync)
	if _, err := c.Append([]byte("é")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	r, err := Open(dir, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := r.Get(0); err != nil || string(got) != "é" {
		t.Fatalf("Get(0) = %q, %v", got, err)
	}
}

func assertEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, "|") != strings.Join(names, "|") {
		t.Fatalf("%s holds %q, want %q", dir, got, names)
	}
}
