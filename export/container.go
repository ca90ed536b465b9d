package export

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// A bundle is read from a container: the zip fieldsync wrote, the same
// files zipped again (unzip, then zip -r), or a folder they were
// extracted to. The evidence is the content of the files, never the
// container: Verify checks those bytes against MANIFEST.json and the
// signed blocks whatever holds them. Around them it refuses every byte a
// reader could be shown that no hash covers:
//
//   - always: bytes before the first entry, between entries or after the
//     zip's end record (a polyglot: the same file read as HTML, PDF or
//     script), a zip comment, an entry comment, symbolic links, devices and
//     other special files, encrypted entries, compression other than
//     stored and deflate, names that are absolute, hold "..", a backslash
//     or are not UTF-8, a name twice, a file nobody lists;
//   - by default (strict) also: extra fields other than those zip tools
//     write for times, owners and large files (0x0001 zip64, 0x000a NTFS
//     times, 0x5455 extended time, 0x7875 Unix owner), directory entries
//     other than logs/ and media/, any file MANIFEST.json does not list;
//   - --lenient-container accepts any extra field, any directory entry,
//     and skips the files operating systems add by themselves
//     (__MACOSX/, .DS_Store, Thumbs.db, desktop.ini), naming them.
//
// A zip whose files all sit in one folder (a bundle folder zipped whole)
// is read as if they were at the top.
type container interface {
	files() []string // every file, sorted, relative to the bundle's top, with "/"
	size(name string) (uint64, bool)
	open(name string) (io.ReadCloser, error)
	describe() string
	close() error
}

// containerNotes are what a lenient container skipped.
type containerNotes struct{ skipped []string }

// Limits of what Verify reads: a bundle beyond them is refused before
// anything is decompressed (a zip bomb).
const (
	maxEntries   = 1 << 20
	maxEntrySize = 1 << 30
	maxTotalSize = 16 << 30
	maxBombRatio = 200 // uncompressed/compressed, for entries over 1 MiB
	maxJSONFile  = 1 << 30
)

// allowedExtra are the zip extra fields strict mode accepts.
var allowedExtra = map[uint16]bool{0x0001: true, 0x000a: true, 0x5455: true, 0x7875: true}

// junk is a file an operating system adds to folders and zips by itself.
func junk(name string) bool {
	base := path.Base(name)
	return strings.HasPrefix(name, "__MACOSX/") || base == ".DS_Store" || base == "Thumbs.db" || base == "desktop.ini"
}

func badName(name string) string {
	switch {
	case !utf8.ValidString(name):
		return "is not UTF-8"
	case strings.HasPrefix(name, "/") || strings.Contains(name, `\`):
		return "is an absolute path or holds a backslash"
	}
	for _, part := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
		if part == ".." || part == "." || part == "" {
			return "holds an empty, . or .. part"
		}
	}
	return ""
}

func containerErr(format string, args ...any) error {
	return fail("(container)", format, args...)
}

// zipContainer is a zip file.
type zipContainer struct {
	f      *os.File
	byName map[string]*zip.File
	names  []string
	prefix string
	notes  containerNotes
}

func openZip(path string, lenient bool) (*zipContainer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a zip file (%v)", ErrNotBundle, path, err)
	}
	z := &zipContainer{f: f, byName: map[string]*zip.File{}}
	if err := z.check(zr, st.Size(), lenient); err != nil {
		f.Close()
		return nil, err
	}
	return z, nil
}

// check refuses what the container may not hold, then indexes the files.
func (z *zipContainer) check(zr *zip.Reader, size int64, lenient bool) error {
	if len(zr.File) > maxEntries {
		return fmt.Errorf("%w: %d entries", ErrNotBundle, len(zr.File))
	}
	var total uint64
	for _, zf := range zr.File {
		if zf.UncompressedSize64 > maxEntrySize {
			return fmt.Errorf("%w: %s would unpack to %d bytes (more than %d)", ErrNotBundle, zf.Name, zf.UncompressedSize64, uint64(maxEntrySize))
		}
		if zf.UncompressedSize64 > 1<<20 && zf.UncompressedSize64 > maxBombRatio*max(zf.CompressedSize64, 1) {
			return fmt.Errorf("%w: %s unpacks %d times its size: a zip bomb", ErrNotBundle, zf.Name, zf.UncompressedSize64/max(zf.CompressedSize64, 1))
		}
		total += zf.UncompressedSize64
	}
	if total > maxTotalSize {
		return fmt.Errorf("%w: it would unpack to %d bytes", ErrNotBundle, total)
	}
	if zr.Comment != "" {
		return containerErr("the zip has a comment (%d bytes outside every hash): fieldsync writes none", len(zr.Comment))
	}
	if err := checkLayout(z.f, zr, size, lenient); err != nil {
		return err
	}
	// One folder holding everything: a bundle folder zipped whole.
	top := map[string]bool{}
	for _, zf := range zr.File {
		if !junk(zf.Name) {
			first, _, _ := strings.Cut(zf.Name, "/")
			top[first] = true
		}
	}
	if len(top) == 1 {
		for t := range top {
			if _, ok := findFile(zr, t+"/"+manifestName); ok {
				z.prefix = t + "/"
			}
		}
	}
	for _, zf := range zr.File {
		if err := z.checkEntry(zf, lenient); err != nil {
			return err
		}
	}
	sort.Strings(z.names)
	return nil
}

func findFile(zr *zip.Reader, name string) (*zip.File, bool) {
	for _, zf := range zr.File {
		if zf.Name == name {
			return zf, true
		}
	}
	return nil, false
}

func (z *zipContainer) checkEntry(zf *zip.File, lenient bool) error {
	name := zf.Name
	if why := badName(name); why != "" {
		return containerErr("entry %q: its name %s", name, why)
	}
	if zf.Comment != "" {
		return containerErr("entry %s has a comment (bytes outside every hash)", name)
	}
	if zf.Flags&1 != 0 {
		return containerErr("entry %s is encrypted", name)
	}
	if zf.Method != zip.Store && zf.Method != zip.Deflate {
		return containerErr("entry %s uses compression method %d (only stored and deflate are read)", name, zf.Method)
	}
	mode := zf.Mode()
	isDir := strings.HasSuffix(name, "/")
	switch {
	case mode&fs.ModeSymlink != 0:
		return containerErr("entry %s is a symbolic link", name)
	case mode.Type()&^fs.ModeDir != 0:
		return containerErr("entry %s is a special file (%v)", name, mode.Type())
	}
	if !lenient {
		if id, ok := unknownExtra(zf.Extra); ok {
			return containerErr("entry %s carries a zip extra field of type 0x%04x, which zip tools do not write for files (give --lenient-container to accept it)", name, id)
		}
	}
	rel := strings.TrimPrefix(name, z.prefix)
	if !strings.HasPrefix(name, z.prefix) || junk(name) {
		if lenient && junk(name) {
			z.notes.skipped = append(z.notes.skipped, name)
			return nil
		}
		return containerErr("entry %s is not part of the bundle (give --lenient-container to skip files the operating system adds)", name)
	}
	if isDir {
		if rel == "" || rel == logsDir || rel == mediaDir || lenient {
			return nil
		}
		return containerErr("entry %s is a directory a bundle does not have", name)
	}
	if _, dup := z.byName[rel]; dup {
		return fail(rel, "appears twice in the zip")
	}
	z.byName[rel] = zf
	z.names = append(z.names, rel)
	return nil
}

// unknownExtra returns the first extra field strict mode does not accept.
func unknownExtra(b []byte) (uint16, bool) {
	for len(b) >= 4 {
		id, n := binary.LittleEndian.Uint16(b), int(binary.LittleEndian.Uint16(b[2:]))
		if !allowedExtra[id] {
			return id, true
		}
		if 4+n > len(b) {
			return id, true
		}
		b = b[4+n:]
	}
	if len(b) != 0 {
		return 0xffff, true
	}
	return 0, false
}

// checkLayout walks the file from its first byte to its last: local
// headers and their data, one after the other from offset 0, then the
// central directory, then the end records, then nothing. Every byte is
// accounted for, so none can carry a second meaning.
func checkLayout(f io.ReaderAt, zr *zip.Reader, size int64, lenient bool) error {
	cdStart, cdEnd, err := centralDirectory(f, size)
	if err != nil {
		return err
	}
	entries := append([]*zip.File(nil), zr.File...)
	offs := make(map[*zip.File]int64, len(entries))
	for _, zf := range entries {
		off, err := zf.DataOffset()
		if err != nil {
			return containerErr("entry %s: %v", zf.Name, err)
		}
		offs[zf] = off
	}
	sort.Slice(entries, func(i, j int) bool { return offs[entries[i]] < offs[entries[j]] })
	pos := int64(0)
	var hdr [30]byte
	for _, zf := range entries {
		if _, err := f.ReadAt(hdr[:], pos); err != nil || binary.LittleEndian.Uint32(hdr[:]) != 0x04034b50 {
			if pos == 0 {
				return containerErr("the file does not start with a zip entry: bytes were put before it (a polyglot)")
			}
			return containerErr("there are bytes between the zip's entries, at offset %d (a polyglot)", pos)
		}
		n, m := int64(binary.LittleEndian.Uint16(hdr[26:])), int64(binary.LittleEndian.Uint16(hdr[28:]))
		name := make([]byte, n)
		extra := make([]byte, m)
		f.ReadAt(name, pos+30)
		f.ReadAt(extra, pos+30+n)
		if string(name) != zf.Name || pos+30+n+m != offs[zf] {
			return containerErr("the local header at offset %d does not match the zip's directory (%s)", pos, zf.Name)
		}
		if id, bad := unknownExtra(extra); bad && !lenient {
			return containerErr("entry %s carries a zip extra field of type 0x%04x in its local header, which zip tools do not write for files (give --lenient-container to accept it)", zf.Name, id)
		}
		pos = offs[zf] + int64(zf.CompressedSize64)
		if binary.LittleEndian.Uint16(hdr[6:])&8 != 0 { // a data descriptor follows
			var sig [4]byte
			f.ReadAt(sig[:], pos)
			if binary.LittleEndian.Uint32(sig[:]) == 0x08074b50 {
				pos += 4
			}
			if zf.CompressedSize64 >= 0xffffffff || zf.UncompressedSize64 >= 0xffffffff {
				pos += 20
			} else {
				pos += 12
			}
		}
	}
	if pos != cdStart {
		return containerErr("there are %d bytes between the last entry and the zip's directory (a polyglot)", cdStart-pos)
	}
	if cdEnd > size {
		return containerErr("the zip's directory runs past the end of the file")
	}
	return nil
}

// centralDirectory finds the central directory from the end records,
// which must end the file exactly.
func centralDirectory(f io.ReaderAt, size int64) (start, end int64, err error) {
	var eocd [22]byte
	if size < 22 {
		return 0, 0, containerErr("too short for a zip")
	}
	if _, err := f.ReadAt(eocd[:], size-22); err != nil || binary.LittleEndian.Uint32(eocd[:]) != 0x06054b50 {
		return 0, 0, containerErr("there are bytes after the zip's end record (a comment or appended data: a polyglot)")
	}
	cdSize, cdOff := int64(binary.LittleEndian.Uint32(eocd[12:])), int64(binary.LittleEndian.Uint32(eocd[16:]))
	recEnd := size - 22
	if cdOff == 0xffffffff || cdSize == 0xffffffff || binary.LittleEndian.Uint16(eocd[10:]) == 0xffff {
		var loc [20]byte
		if _, err := f.ReadAt(loc[:], size-42); err != nil || binary.LittleEndian.Uint32(loc[:]) != 0x07064b50 {
			return 0, 0, containerErr("a zip64 end record is announced but not where it must be")
		}
		recOff := int64(binary.LittleEndian.Uint64(loc[8:]))
		var rec [56]byte
		if _, err := f.ReadAt(rec[:], recOff); err != nil || binary.LittleEndian.Uint32(rec[:]) != 0x06064b50 {
			return 0, 0, containerErr("the zip64 end record is not where its locator says")
		}
		if recOff+12+int64(binary.LittleEndian.Uint64(rec[4:])) != size-42 {
			return 0, 0, containerErr("there are bytes between the zip64 end record and its locator")
		}
		cdSize, cdOff = int64(binary.LittleEndian.Uint64(rec[40:])), int64(binary.LittleEndian.Uint64(rec[48:]))
		recEnd = recOff
	}
	if cdOff+cdSize != recEnd {
		return 0, 0, containerErr("the zip's directory is not where its end record says: bytes were put before the first entry or after the directory (a polyglot)")
	}
	return cdOff, recEnd, nil
}

func (z *zipContainer) files() []string { return z.names }
func (z *zipContainer) size(name string) (uint64, bool) {
	zf := z.byName[name]
	if zf == nil {
		return 0, false
	}
	return zf.UncompressedSize64, true
}
func (z *zipContainer) open(name string) (io.ReadCloser, error) {
	zf := z.byName[name]
	if zf == nil {
		return nil, fail(name, "missing")
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fail(name, "unreadable: %v", err)
	}
	return rc, nil
}
func (z *zipContainer) describe() string {
	s := "zip"
	if z.prefix != "" {
		s += fmt.Sprintf(" (files inside the folder %s)", strings.TrimSuffix(z.prefix, "/"))
	}
	if len(z.notes.skipped) > 0 {
		s += fmt.Sprintf("; skipped, not part of the bundle: %s", strings.Join(z.notes.skipped, ", "))
	}
	return s
}
func (z *zipContainer) close() error { return z.f.Close() }

// dirContainer is a folder a bundle was extracted to.
type dirContainer struct {
	root  string
	sizes map[string]uint64
	names []string
	notes containerNotes
}

func openDir(root string, lenient bool) (*dirContainer, error) {
	d := &dirContainer{root: root, sizes: map[string]uint64{}}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if len(d.names) > maxEntries {
			return fmt.Errorf("%w: more than %d files", ErrNotBundle, maxEntries)
		}
		if junk(rel) || junk(rel+"/") {
			if !lenient {
				return containerErr("%s is not part of the bundle (give --lenient-container to skip files the operating system adds)", rel)
			}
			d.notes.skipped = append(d.notes.skipped, rel)
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if why := badName(rel); why != "" {
			return containerErr("%q: its name %s", rel, why)
		}
		switch t := e.Type(); {
		case t&fs.ModeSymlink != 0:
			return containerErr("%s is a symbolic link", rel)
		case e.IsDir():
			if rel+"/" != logsDir && rel+"/" != mediaDir && !lenient {
				return containerErr("%s is a folder a bundle does not have", rel)
			}
			return nil
		case t != 0:
			return containerErr("%s is a special file (%v)", rel, t)
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		d.sizes[rel] = uint64(info.Size())
		d.names = append(d.names, rel)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(d.names)
	return d, nil
}

func (d *dirContainer) files() []string { return d.names }
func (d *dirContainer) size(name string) (uint64, bool) {
	s, ok := d.sizes[name]
	return s, ok
}
func (d *dirContainer) open(name string) (io.ReadCloser, error) {
	if _, ok := d.sizes[name]; !ok {
		return nil, fail(name, "missing")
	}
	f, err := os.Open(filepath.Join(d.root, filepath.FromSlash(name)))
	if err != nil {
		return nil, fail(name, "unreadable: %v", err)
	}
	return f, nil
}
func (d *dirContainer) describe() string {
	s := "folder"
	if len(d.notes.skipped) > 0 {
		s += fmt.Sprintf("; skipped, not part of the bundle: %s", strings.Join(d.notes.skipped, ", "))
	}
	return s
}
func (d *dirContainer) close() error { return nil }
