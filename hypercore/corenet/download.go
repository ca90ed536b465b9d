package corenet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
)

// ErrBadDir: the download directory holds something else than a copy of
// the core (the writer's own copy, or another core).
var ErrBadDir = errors.New("the directory holds another core")

// DirError is a download directory that cannot be used: it holds another
// core (errors.Is ErrBadDir), or opening the copy in it failed.
type DirError struct{ Err error }

func (e *DirError) Error() string { return e.Err.Error() }
func (e *DirError) Unwrap() error { return e.Err }

type badDir struct{ msg string }

func (e *badDir) Error() string        { return e.msg }
func (e *badDir) Is(target error) bool { return target == ErrBadDir }

// DownloadOptions say what to download, from where, into where.
type DownloadOptions struct {
	Key        hypercore.Hash
	Addr       string // HOST:PORT of the peer
	Dir        string // the local copy (created if needed; an interrupted download resumes)
	Until      uint64 // wait until the peer has at least this many blocks
	Live       bool   // stay connected and follow new blocks until ctx ends
	Timeout    time.Duration
	Durability hypercore.Durability
	// Caught, with Live, is called each time the copy has caught up with
	// the peer; an error from it ends the download with that error.
	Caught func(c *hypercore.Core, st replicate.Stats) error
	// Progress, if set, is called every 200 ms while blocks are fetched.
	Progress func(st replicate.Stats)
}

// Download is a finished download.
type Download struct {
	Core     *hypercore.Core // the copy; Close it
	Stats    replicate.Stats
	Finished time.Time // when every block was here
}

// openReplica opens the copy of key in dir, or returns nil if dir holds
// no core yet.
func openReplica(dir string, key hypercore.Hash, dur hypercore.Durability) (*hypercore.Core, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(entries) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "secret")); err == nil {
		return nil, &DirError{&badDir{fmt.Sprintf("%s holds the writer's own copy of a core: download into another directory", dir)}}
	}
	c, err := hypercore.Open(dir, hypercore.OpenOptions{Durability: dur})
	if err != nil {
		return nil, &DirError{err}
	}
	if c.Key() != key {
		k := c.Key()
		c.Close()
		return nil, &DirError{&badDir{fmt.Sprintf("%s holds core %x, not %x", dir, k[:], key[:])}}
	}
	return c, nil
}

// Fetch connects to the peer at o.Addr and downloads core o.Key into
// o.Dir, every block verified against the writer's signed tree before it
// is stored. Without o.Live it returns once the copy holds every block
// the peer has (and at least o.Until). With o.Live it follows the peer
// until ctx ends (then it returns a nil *Download and a nil error) or the
// peer goes.
func Fetch(ctx context.Context, o DownloadOptions) (*Download, error) {
	core, err := openReplica(o.Dir, o.Key, o.Durability)
	if err != nil {
		return nil, err
	}
	d := &fetch{o: o, core: core, caught: make(chan struct{})}
	defer d.closeCore()
	first, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := d.connect(first); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	runErr := make(chan error, 1)
	wg.Go(func() { runErr <- d.p.Run(ctx) })
	stopProgress := d.progress(&wg)
	defer stopProgress()
	var finished time.Time
	select {
	case <-d.rep.Done():
		finished = time.Now()
	case <-d.caught:
	case <-first.Done():
		if ctx.Err() == nil {
			d.p.Close()
			<-runErr
			have := uint64(0)
			if c := d.rep.Core(); c != nil {
				have = c.Contiguous()
			}
			return nil, fmt.Errorf("timeout after %v: the copy holds %d of the peer's %d blocks (run again to resume)", o.Timeout, have, d.rep.Stats().RemoteLength)
		}
	case err := <-runErr:
		runErr <- err
	}
	if o.Live {
		return nil, d.follow(ctx, runErr)
	}
	d.p.Close()
	err = <-runErr
	if rerr := d.rep.Err(); rerr != nil {
		return nil, rerr
	}
	if err != nil {
		return nil, err
	}
	c := d.rep.Core()
	if c == nil {
		return nil, fmt.Errorf("peer has no data for core %x", o.Key[:])
	}
	d.mu.Lock()
	d.core = nil // the caller's now
	d.mu.Unlock()
	return &Download{Core: c, Stats: d.rep.Stats(), Finished: finished}, nil
}

// fetch is one running download.
type fetch struct {
	o      DownloadOptions
	p      *replicate.Peer
	rep    *replicate.Replication
	caught chan struct{} // closed at the first catch-up (Live)

	mu      sync.Mutex
	core    *hypercore.Core // the copy, once there is one
	lineErr error           // what Caught returned
}

func (d *fetch) closeCore() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.core != nil {
		d.core.Close()
		d.core = nil
	}
}

// connect dials the peer, runs the handshake and asks for the core.
func (d *fetch) connect(ctx context.Context) error {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", d.o.Addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", d.o.Addr, err)
	}
	conn.(*net.TCPConn).SetNoDelay(true)
	s, err := secretstream.Client(ctx, conn, secretstream.Config{MaxMessageSize: replicate.MaxMessageSize, KeepAlive: KeepAlive})
	if err != nil {
		conn.Close()
		return fmt.Errorf("connect to %s: %w", d.o.Addr, err)
	}
	d.p = replicate.NewPeer(s, replicate.Options{})
	cfg := replicate.CoreConfig{
		Key: d.o.Key, Core: d.core, Upload: true, Download: true, MinLength: d.o.Until, Live: d.o.Live,
		Create: func(m *hypercore.Manifest) (*hypercore.Core, error) {
			c, err := hypercore.CreateReplica(d.o.Dir, d.o.Key, m, d.o.Durability)
			if err == nil {
				d.mu.Lock()
				d.core = c
				d.mu.Unlock()
			}
			return c, err
		},
	}
	if d.o.Live {
		var once sync.Once
		cfg.Caught = func(c *hypercore.Core) {
			once.Do(func() { close(d.caught) }) // the timeout is met
			if d.o.Caught == nil {
				return
			}
			if err := d.o.Caught(c, d.rep.Stats()); err != nil {
				d.mu.Lock()
				if d.lineErr == nil {
					d.lineErr = err
				}
				d.mu.Unlock()
				d.p.Close()
			}
		}
	}
	d.rep, err = d.p.Add(cfg)
	if err != nil {
		s.Close()
		return err
	}
	return nil
}

// follow waits for a live download to end: ctx ending is a normal end.
func (d *fetch) follow(ctx context.Context, runErr <-chan error) error {
	err := <-runErr
	d.mu.Lock()
	lineErr := d.lineErr
	d.mu.Unlock()
	if lineErr != nil {
		return lineErr
	}
	if ctx.Err() != nil {
		return nil
	}
	if rerr := d.rep.Err(); rerr != nil {
		return rerr
	}
	if err == nil {
		err = errors.New("peer closed the connection")
	}
	return err
}

// progress calls o.Progress every 200 ms until the returned stop is called.
func (d *fetch) progress(wg *sync.WaitGroup) (stop func()) {
	if d.o.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				d.o.Progress(d.rep.Stats())
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(quit) }) }
}
