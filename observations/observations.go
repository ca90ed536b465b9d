package observations

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/record"
)

// Errors a caller tells its user about in their own words.
var (
	// ErrNoProject: the project named does not exist, or none was named
	// and the home has no default yet.
	ErrNoProject = project.ErrNoProject
	// ErrNotFound: no observation or attachment by that id or name.
	ErrNotFound = project.ErrNotFound
)

// Project is one project of a fieldsync home, open for work: it writes
// this device's observations, keeps the index up to date, syncs with
// teammates and audits. The embedded *project.Project gives what is
// stored (name, key, cores, history, attachments).
type Project struct {
	*project.Project
	Home *project.Home
	// Durability is how writes (and blocks downloaded by Sync and Serve)
	// reach the disk; Open sets hypercore.DurabilityFsync.
	Durability hypercore.Durability
}

// OpenHome opens the home in dir, or the default home ($FIELDSYNC_HOME,
// else the user's data directory) when dir is "".
func OpenHome(dir string) (*project.Home, error) {
	if dir == "" {
		d, err := project.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return project.OpenHome(dir)
}

// Open opens project name of the home in dir ("": the default home); name
// "" is the home's default project. ErrNoProject when there is none.
func Open(ctx context.Context, dir, name string) (*Project, error) {
	h, err := OpenHome(dir)
	if err != nil {
		return nil, err
	}
	if name == "" {
		if name, err = h.Default(); err != nil {
			return nil, err
		}
	}
	if name == "" {
		return nil, fmt.Errorf("no project yet in %s: create one with `fieldsync init NAME` or join one with `fieldsync join CODE`: %w", h.Dir, ErrNoProject)
	}
	p, err := h.Open(name)
	if err != nil {
		return nil, err
	}
	return &Project{Project: p, Home: h, Durability: hypercore.DurabilityFsync}, nil
}

// Create makes project name in the home in dir, with a random key; this
// device appears to teammates as device ("": the host name).
func Create(ctx context.Context, dir, name, device string) (*Project, error) {
	h, err := OpenHome(dir)
	if err != nil {
		return nil, err
	}
	p, err := h.Create(name, device)
	if err != nil {
		return nil, err
	}
	return &Project{Project: p, Home: h, Durability: hypercore.DurabilityFsync}, nil
}

// Join adds the project an invitation code names to the home in dir.
func Join(ctx context.Context, dir, code, device string) (*Project, error) {
	name, key, err := project.ParseInvite(code)
	if err != nil {
		return nil, err
	}
	h, err := OpenHome(dir)
	if err != nil {
		return nil, err
	}
	p, err := h.Join(name, key, device)
	if err != nil {
		return nil, err
	}
	return &Project{Project: p, Home: h, Durability: hypercore.DurabilityFsync}, nil
}

// Identity is this device's identity key.
func (p *Project) Identity() (ed25519.PrivateKey, error) { return p.Home.Identity() }

// OpenIndex opens the project's index brought up to date with the cores
// (only the blocks added since the last update are read). Close it.
func (p *Project) OpenIndex(ctx context.Context) (*index.Index, error) {
	x, err := index.Open(p.IndexPath())
	if err != nil {
		return nil, err
	}
	if _, err := p.updateIndex(ctx, x); err != nil {
		x.Close()
		return nil, err
	}
	return x, nil
}

// UpdateIndex brings x, the project's index opened by OpenIndex, up to
// date with what other processes (sync, serve) stored since.
func (p *Project) UpdateIndex(ctx context.Context, x *index.Index) error {
	_, err := p.updateIndex(ctx, x)
	return err
}

func (p *Project) updateIndex(ctx context.Context, x *index.Index) (index.Stats, error) {
	dirs, err := p.CoreDirs()
	if err != nil {
		return index.Stats{}, err
	}
	return x.Update(ctx, dirs)
}

// Counts is how many observations the index holds.
type Counts struct {
	Current  int `json:"current"`  // not deleted
	Deleted  int `json:"deleted"`  // tombstoned
	Forked   int `json:"forked"`   // with concurrent versions
	Versions int `json:"versions"` // every version of every observation
}

// Count brings the index up to date and counts the observations.
func (p *Project) Count(ctx context.Context) (Counts, error) {
	x, err := p.OpenIndex(ctx)
	if err != nil {
		return Counts{}, err
	}
	defer x.Close()
	return counts(x)
}

func counts(x *index.Index) (Counts, error) {
	var c Counts
	var err error
	c.Current, c.Deleted, c.Forked, c.Versions, err = x.Counts()
	return c, err
}

// Reindex deletes the index and rebuilds it from the cores, the only
// source of truth. It returns the blocks read and the counts after.
func (p *Project) Reindex(ctx context.Context) (blocks uint64, c Counts, err error) {
	if err := index.Remove(p.IndexPath()); err != nil {
		return 0, c, err
	}
	x, err := index.Open(p.IndexPath())
	if err != nil {
		return 0, c, err
	}
	defer x.Close()
	st, err := p.updateIndex(ctx, x)
	if err != nil {
		return 0, c, err
	}
	c, err = counts(x)
	return st.Blocks, c, err
}

// Observe records a new observation (checked whole before anything is
// written) with its attachments and returns its version.
func (p *Project) Observe(ctx context.Context, o *record.Observation, files []project.File) (record.VersionID, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if o.ID == "" {
		o.ID = project.NewID()
	}
	if o.Created == "" {
		o.Created = project.Now()
	}
	if o.Updated == "" {
		o.Updated = o.Created
	}
	return p.Write(o, files, p.Durability)
}

// Edit records a new version of observation id, changed by change, that
// supersedes every current head.
func (p *Project) Edit(ctx context.Context, id string, change func(o *record.Observation) error, files []project.File) (record.VersionID, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return p.Project.Edit(id, change, files, p.Durability)
}

// Delete records a tombstone for observation id; its history stays.
func (p *Project) Delete(ctx context.Context, id string) (record.VersionID, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return p.Project.Delete(id, p.Durability)
}

// IndexError is an index failure after the observations themselves were
// stored (imported, synced): the next OpenIndex retries.
type IndexError struct{ Err error }

func (e *IndexError) Error() string { return "indexing failed: " + e.Err.Error() }
func (e *IndexError) Unwrap() error { return e.Err }

// Import imports GeoJSON features from in (all or nothing: one invalid
// feature imports none, and a cancelled import leaves the project as it
// was), then brings the index up to date so they are queryable at once.
// timeProp names a property holding each feature's time. progress, if
// set, is called as records are stored.
func (p *Project) Import(ctx context.Context, in io.Reader, timeProp string, progress func(done, total uint64)) (int, error) {
	n, err := p.ImportFeatures(ctx, in, timeProp, p.Durability, killAfterBatches(progress))
	if err != nil {
		return n, err
	}
	x, err := p.OpenIndex(ctx)
	if err != nil {
		return n, &IndexError{err}
	}
	x.Close()
	return n, nil
}

// killAfterBatches wraps an import's progress for the crash tests: with
// FIELDSYNC_TEST_KILL_AFTER_BATCH=N in the environment the process kills
// itself (SIGKILL on Unix, TerminateProcess on Windows) once N batches are
// written and before the import is committed. Unset (always, outside
// tests) it returns progress unchanged.
func killAfterBatches(progress func(done, total uint64)) func(done, total uint64) {
	n, err := strconv.Atoi(os.Getenv("FIELDSYNC_TEST_KILL_AFTER_BATCH"))
	if err != nil || n <= 0 {
		return progress
	}
	batches := 0
	return func(done, total uint64) {
		if progress != nil {
			progress(done, total)
		}
		if batches++; batches == n {
			if self, err := os.FindProcess(os.Getpid()); err == nil {
				self.Kill()
				select {} // the kill is on its way
			}
		}
	}
}

// Author is the device name the device record at the head of data core
// key gives (the author of the versions in it), or "unknown device".
func (p *Project) Author(key [32]byte) string {
	r := p.NewReader()
	defer r.Close()
	if d := deviceRecord(r, key); d != nil {
		return d.Name
	}
	return "unknown device"
}

// deviceRecord is the device record at the head of data core key, if the
// core is here and starts with one that names it as its data core.
func deviceRecord(r *project.Reader, key [32]byte) *record.Device {
	c, err := r.Core(key)
	if err != nil || c.Contiguous() == 0 {
		return nil
	}
	b, err := c.Get(0)
	if err != nil {
		return nil
	}
	d, err := record.DecodeDevice(b)
	if err != nil || d.Data != hex.EncodeToString(key[:]) {
		return nil
	}
	return d
}
