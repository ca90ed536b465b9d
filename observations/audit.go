package observations

import (
	"context"
	"encoding/hex"
	"errors"
	"sort"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
)

// AuditCore is one core as the audit found it.
type AuditCore struct {
	Key        string `json:"key"`
	Kind       string `json:"kind"`             // data, media, or unknown: a record.CoreKind (no device record names it)
	Device     string `json:"device,omitempty"` // the device's name
	Length     uint64 `json:"length"`           // signed length
	Contiguous uint64 `json:"contiguous"`       // blocks held from 0
	Verified   bool   `json:"verified"`
	Error      string `json:"error,omitempty"`
}

// AuditDevice is one device, from its signed device record.
type AuditDevice struct {
	Name         string `json:"name"`
	Identity     string `json:"identity"`
	DataCore     string `json:"dataCore"`
	MediaCore    string `json:"mediaCore"`
	Observations int    `json:"observations"` // current, not deleted
	Versions     int    `json:"versions"`
}

// AuditFork is an observation with conflicting edits, and its heads.
type AuditFork struct {
	ID    string   `json:"id"`
	Heads []string `json:"heads"`
}

// Audit is what Audit found.
type Audit struct {
	Project            string        `json:"project"`
	Integrity          string        `json:"integrity"` // ok or failed
	Complete           bool          `json:"complete"`
	Cores              []AuditCore   `json:"cores"`
	Devices            []AuditDevice `json:"devices"`
	Observations       Counts        `json:"observations"`
	Forks              []AuditFork   `json:"forks"`
	Deleted            []string      `json:"deleted"`
	Incomplete         []AuditCore   `json:"incomplete"`
	MissingAttachments []string      `json:"missingAttachments"`
}

// Audit re-reads and re-hashes every block and tree node of every core of
// the project against its signed head, then reports the devices (from
// their signed device records) with their counts, forks, deletions, cores
// not complete here and attachments not here. A block that does not verify
// is a finding (Integrity "failed"), not an error. progress, if set, is
// called as blocks are verified.
func (p *Project) Audit(ctx context.Context, progress func(done, total uint64)) (*Audit, error) {
	rep := &Audit{Project: p.Name, Integrity: "ok", Complete: true, Cores: []AuditCore{}, Devices: []AuditDevice{}, Forks: []AuditFork{},
		Deleted: []string{}, Incomplete: []AuditCore{}, MissingAttachments: []string{}}
	keys, err := p.CoreKeys()
	if err != nil {
		return nil, err
	}
	r := p.NewReader()
	defer r.Close()
	kinds, names := map[string]record.CoreKind{}, map[string]string{}
	for _, k := range keys {
		d := deviceRecord(r, k)
		if d == nil {
			continue
		}
		kinds[d.Data], kinds[d.Media] = record.KindData, record.KindMedia
		names[d.Data], names[d.Media] = d.Name, d.Name
		rep.Devices = append(rep.Devices, AuditDevice{Name: d.Name, Identity: d.Identity, DataCore: d.Data, MediaCore: d.Media})
	}
	if err := auditCores(ctx, r, keys, kinds, names, rep, progress); err != nil {
		return nil, err
	}
	if err := p.auditIndex(ctx, r, rep); err != nil {
		if rep.Integrity != "ok" {
			// Reading a corrupt core fails: what was found is the report.
			return rep, nil
		}
		return nil, err
	}
	return rep, nil
}

// auditCores verifies every core and records what it found in rep.
func auditCores(ctx context.Context, r *project.Reader, keys [][32]byte, kinds map[string]record.CoreKind, names map[string]string, rep *Audit, progress func(done, total uint64)) error {
	if progress == nil {
		progress = func(done, total uint64) {}
	}
	var total, done uint64
	for _, k := range keys {
		if c, err := r.Core(k); err == nil {
			total += c.Contiguous()
		}
	}
	for _, k := range keys {
		hk := hex.EncodeToString(k[:])
		ac := AuditCore{Key: hk, Kind: record.KindUnknown.String(), Device: names[hk]}
		if kind, ok := kinds[hk]; ok {
			ac.Kind = kind.String()
		}
		c, err := r.Core(k)
		if err != nil {
			ac.Error = err.Error()
			rep.Integrity = "failed"
			rep.Cores = append(rep.Cores, ac)
			continue
		}
		h := c.Head()
		ac.Length, ac.Contiguous = h.Length, c.Contiguous()
		base := done
		err = c.Verify(ctx, func(d, _ uint64) { progress(base+d, total) })
		done += ac.Contiguous
		var ce *hypercore.CorruptError
		switch {
		case err == nil:
			ac.Verified = true
		case errors.As(err, &ce) || errors.Is(err, hypercore.ErrCorrupt):
			ac.Error = err.Error()
			rep.Integrity = "failed"
		default:
			return err
		}
		if ac.Contiguous < ac.Length {
			rep.Incomplete = append(rep.Incomplete, ac)
			rep.Complete = false
		}
		rep.Cores = append(rep.Cores, ac)
	}
	return nil
}

// auditIndex adds what the index knows: counts, forks, deletions,
// attachments missing here.
func (p *Project) auditIndex(ctx context.Context, r *project.Reader, rep *Audit) error {
	x, err := p.OpenIndex(ctx)
	if err != nil {
		return err
	}
	defer x.Close()
	if rep.Observations, err = counts(x); err != nil {
		return err
	}
	perCore, err := x.CoreCounts()
	if err != nil {
		return err
	}
	for i, d := range rep.Devices {
		rep.Devices[i].Observations, rep.Devices[i].Versions = perCore[d.DataCore].Current, perCore[d.DataCore].Versions
	}
	sort.Slice(rep.Devices, func(i, j int) bool { return rep.Devices[i].DataCore < rep.Devices[j].DataCore })
	forked, err := x.Forked()
	if err != nil {
		return err
	}
	for _, id := range forked {
		h, err := p.History(id)
		if err != nil {
			return err
		}
		f := AuditFork{ID: id}
		for _, v := range h.Heads {
			f.Heads = append(f.Heads, string(v.ID))
		}
		rep.Forks = append(rep.Forks, f)
	}
	return x.Each(&query.Filter{Deleted: true}, func(it *index.Item) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, err := it.Observation()
		if err != nil {
			return err
		}
		if o.Deleted {
			rep.Deleted = append(rep.Deleted, o.ID)
			return nil
		}
		for _, a := range o.Attachments {
			kb, err := hex.DecodeString(a.Core)
			var c *hypercore.Core
			if err == nil && len(kb) == 32 {
				c, err = r.Core([32]byte(kb))
			}
			if c == nil || err != nil || c.Contiguous() < a.Start+a.Blocks {
				rep.MissingAttachments = append(rep.MissingAttachments, o.ID+"/"+a.Name)
				rep.Complete = false
			}
		}
		return nil
	})
}
