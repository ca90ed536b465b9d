package projectsync

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/record"
)

// Store is the cores of one project, shared by every connection of this
// process. This device's own cores are opened read-only (another process
// may append to them meanwhile); the others are replicas, held with their
// writer lock.
type Store struct {
	p          *project.Project
	durability hypercore.Durability

	mu     sync.Mutex
	cores  map[[32]byte]*held
	closed bool
	// Stored, if set, is called after a connection stored blocks (from
	// the connection's goroutine): the index can catch up.
	Stored func()
}

type held struct {
	core *hypercore.Core // nil until a replica is created
	gate replicate.Gate
	own  bool
	kind record.CoreKind
}

// ErrBusy: another process holds the project's replicas (a running
// `fieldsync serve` or `sync`).
var ErrBusy = errors.New("another fieldsync process is syncing this project")

// OpenStore opens every core of project p. Downloaded blocks are written
// with durability mode.
func OpenStore(p *project.Project, mode hypercore.Durability) (*Store, error) {
	s := &Store{p: p, durability: mode, cores: map[[32]byte]*held{}}
	dirs, err := p.CoreDirs()
	if err != nil {
		return nil, fmt.Errorf("open project %s: %w", p.Name, err)
	}
	own := map[[32]byte]record.CoreKind{p.OwnCoreKey(record.KindData): record.KindData, p.OwnCoreKey(record.KindMedia): record.KindMedia}
	for key, dir := range dirs {
		kind, isOwn := own[key]
		c, err := hypercore.Open(dir, hypercore.OpenOptions{ReadOnly: isOwn, Durability: mode})
		if err != nil {
			s.Close()
			if errors.Is(err, hypercore.ErrLocked) {
				return nil, ErrBusy
			}
			return nil, fmt.Errorf("open core %x: %w", key[:4], err)
		}
		s.cores[key] = &held{core: c, own: isOwn, kind: kind}
	}
	return s, nil
}

// Close closes every core.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for _, h := range s.cores {
		if h.core != nil {
			if err := h.core.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	s.closed = true
	return first
}

// CoreState is one core as this device holds it.
type CoreState struct {
	Key    [32]byte
	Kind   record.CoreKind
	Length uint64 // contiguous blocks held
}

// List is every core held, in key order, with its length (own cores are
// refreshed from disk first: another process may have appended).
func (s *Store) List() []CoreState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CoreState, 0, len(s.cores))
	for k, h := range s.cores {
		cs := CoreState{Key: k, Kind: h.kind}
		if h.core != nil {
			if h.own {
				h.core.Refresh()
			}
			cs.Length = h.core.Contiguous()
		}
		out = append(out, cs)
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].Key[:]) < string(out[j].Key[:]) })
	return out
}

// learn records a core named by a member (kind as it says, if it is new).
func (s *Store) learn(key [32]byte, kind record.CoreKind) *held {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.cores[key]
	if h == nil {
		h = &held{kind: kind}
		s.cores[key] = h
	}
	return h
}

// config is how a connection replicates core key.
func (s *Store) config(key [32]byte, download bool) replicate.CoreConfig {
	s.mu.Lock()
	h := s.cores[key]
	s.mu.Unlock()
	if h.own {
		return replicate.CoreConfig{Key: key, Core: h.core, Upload: true, Live: true}
	}
	existing := func() *hypercore.Core {
		s.mu.Lock()
		defer s.mu.Unlock()
		return h.core
	}
	create := func(m *hypercore.Manifest) (*hypercore.Core, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if h.core != nil {
			return h.core, nil
		}
		if s.closed {
			return nil, errors.New("store closed")
		}
		dir := s.p.CoreDir(key)
		c, err := hypercore.CreateReplica(dir, key, m, s.durability)
		if errors.Is(err, os.ErrExist) {
			c, err = hypercore.Open(dir, hypercore.OpenOptions{Durability: s.durability})
		}
		if err != nil {
			return nil, err
		}
		h.core = c
		return c, nil
	}
	cfg := replicate.CoreConfig{Key: key, Core: existing(), Upload: true, Download: download, Live: true, Gate: &h.gate, Existing: existing}
	if cfg.Core == nil {
		cfg.Create = create
	}
	if s.Stored != nil {
		cfg.Caught = func(*hypercore.Core) { s.Stored() }
	}
	return cfg
}
