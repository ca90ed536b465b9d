package usbsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/record"
)

// FolderName is the sync folder made inside the directory given.
const FolderName = "sync.fieldsync"

var (
	// ErrNotFolder: the directory holds something that is not a sync folder.
	ErrNotFolder = errors.New("is not a fieldsync sync folder")
	// ErrNewerVersion: the folder was written by a newer fieldsync.
	ErrNewerVersion = errors.New("was written by a newer fieldsync; update fieldsync on this device")
	// ErrOtherProject: the folder holds another project.
	ErrOtherProject = errors.New("belongs to another project; nothing was read or written (use another folder or stick for this project)")
	// ErrDamaged: the folder's head or a segment is corrupt or cut short.
	ErrDamaged = errors.New("is damaged")
	// ErrFull: the medium ran out of space.
	ErrFull = errors.New("the stick is full")
	// ErrReadOnly: the medium cannot be written.
	ErrReadOnly = errors.New("the stick is read-only")
	// ErrBusy: another process holds the project's replicas.
	ErrBusy = errors.New("another fieldsync process is syncing this project")
	// ErrNoDir: the directory given does not exist.
	ErrNoDir = errors.New("not a directory one can sync through (is the stick plugged in and mounted?)")
)

// Options of a sync with a folder.
type Options struct {
	// NoMedia leaves media cores out of what is taken from the folder
	// (they are still written to it, as a network sync still uploads them).
	NoMedia bool
	// SegmentLimit is the largest segment file in bytes (DefaultSegment
	// if 0).
	SegmentLimit int64
	// Durability of the blocks stored in the project.
	Durability hypercore.Durability
	// Step, if set, is called after each write to the project or the
	// folder (crash tests stop the process there).
	Step func()
}

// Result is what moved each way.
type Result struct {
	Folder                        string // the sync folder's path
	Created                       bool   // the folder was made by this sync
	BlocksIn, BytesIn             uint64 // verified and stored in the project
	BlocksOut, BytesOut           uint64 // appended to the folder
	CoresIn, CoresOut             int    // cores that grew on each side
	Skipped                       []string
	FolderCores, FolderBlocksHeld uint64
}

// Resolve is the sync folder for dir: dir itself if it is one (or is
// named *.fieldsync), else dir/sync.fieldsync.
func Resolve(dir string) (string, error) {
	named := strings.HasSuffix(filepath.Base(filepath.Clean(dir)), ".fieldsync")
	st, err := os.Stat(dir)
	if named && errors.Is(err, os.ErrNotExist) {
		// A new folder, named: its parent must exist.
		if pst, perr := os.Stat(filepath.Dir(filepath.Clean(dir))); perr == nil && pst.IsDir() {
			return dir, nil
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", dir, ErrNoDir)
		}
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%s is a file, not a directory: %w", dir, ErrNoDir)
	}
	if named {
		return dir, nil
	}
	if _, err := os.Stat(filepath.Join(dir, headName)); err == nil {
		return dir, nil
	}
	return filepath.Join(dir, FolderName), nil
}

// Sync exchanges everything with the sync folder for dir.
func Sync(ctx context.Context, p *project.Project, dir string, opts Options) (*Result, error) {
	if opts.SegmentLimit <= 0 {
		opts.SegmentLimit = DefaultSegment
	}
	folder, err := Resolve(dir)
	if err != nil {
		return nil, err
	}
	res := &Result{Folder: folder}
	h, err := readHead(p.Key, folder)
	if err != nil {
		return res, fmt.Errorf("sync folder %s %w", folder, err)
	}
	if h == nil {
		res.Created = true
		h = &head{Cores: map[[32]byte]*folderCore{}}
		if _, err := rand.Read(h.ID[:]); err != nil {
			return res, err
		}
	}
	s := &syncer{p: p, folder: folder, h: h, opts: opts, res: res}
	k := deriveKeys(p.Key, h.ID[:])
	if s.aead, err = newAEAD(k.enc); err != nil {
		return res, err
	}
	if err := s.open(); err != nil {
		return res, err
	}
	defer s.close()
	if err := s.importAll(ctx); err != nil {
		return res, err
	}
	if err := s.exportAll(ctx); err != nil {
		return res, err
	}
	for _, c := range h.Cores {
		res.FolderCores++
		res.FolderBlocksHeld += c.Length
	}
	return res, nil
}

func readHead(projectKey [32]byte, folder string) (*head, error) {
	b, err := os.ReadFile(filepath.Join(folder, headName))
	if errors.Is(err, os.ErrNotExist) {
		if st, serr := os.Stat(folder); serr == nil && !st.IsDir() {
			return nil, ErrNotFolder
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) > maxHead {
		return nil, fmt.Errorf("%w: the head is too large", ErrDamaged)
	}
	return openHead(projectKey, b)
}

// local is one core of the project on this device.
type local struct {
	key  [32]byte
	c    *hypercore.Core // nil until a replica is made
	own  bool
	kind record.CoreKind
}

func (s *syncer) step() {
	if s.opts.Step != nil {
		s.opts.Step()
	}
}

type syncer struct {
	p      *project.Project
	folder string
	h      *head
	opts   Options
	res    *Result
	aead   cipherAEAD
	cores  map[[32]byte]*local
}

func (s *syncer) open() error {
	dirs, err := s.p.CoreDirs()
	if err != nil {
		return fmt.Errorf("open project %s: %w", s.p.Name, err)
	}
	s.cores = map[[32]byte]*local{}
	own := map[[32]byte]record.CoreKind{s.p.OwnCoreKey(record.KindData): record.KindData, s.p.OwnCoreKey(record.KindMedia): record.KindMedia}
	for key, dir := range dirs {
		kind, isOwn := own[key]
		c, err := hypercore.Open(dir, hypercore.OpenOptions{ReadOnly: isOwn, Durability: s.opts.Durability})
		if err != nil {
			s.close()
			if errors.Is(err, hypercore.ErrLocked) {
				return ErrBusy
			}
			return fmt.Errorf("open core %x: %w", key[:4], err)
		}
		s.cores[key] = &local{key: key, c: c, own: isOwn, kind: kind}
	}
	// Other devices' cores: the kind their device records say.
	for _, l := range s.cores {
		if l.c.Contiguous() == 0 {
			continue
		}
		b, err := l.c.Get(0)
		if err != nil {
			continue
		}
		if k, err := record.Kind(b); err != nil || k != record.TypeDevice {
			continue
		}
		d, err := record.DecodeDevice(b)
		if err != nil {
			continue
		}
		if mk, err := hex.DecodeString(d.Media); err == nil && len(mk) == 32 {
			if m := s.cores[[32]byte(mk)]; m != nil && !m.own {
				m.kind = record.KindMedia
			}
		}
	}
	return nil
}

func (s *syncer) close() {
	for _, l := range s.cores {
		if l.c != nil {
			l.c.Close()
		}
	}
	s.cores = nil
}

func sortedCores(m map[[32]byte]*folderCore) []*folderCore {
	out := make([]*folderCore, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].Key[:]) < string(out[j].Key[:]) })
	return out
}

func short(k [32]byte) string { return hex.EncodeToString(k[:4]) }

// writeErr names a failure to write the folder in words a user can act on.
func writeErr(folder string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w: cannot write to %s; free some space or use a bigger stick (the folder is unchanged)", ErrFull, folder)
	case errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: cannot write to %s; unlock the stick or check its permissions (the folder is unchanged)", ErrReadOnly, folder)
	}
	return fmt.Errorf("write to sync folder %s: %w", folder, err)
}
