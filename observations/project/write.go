package project

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/record"
)

// ErrNotFound: no observation or attachment by that id or name.
var ErrNotFound = errors.New("not found")

// File is an attachment to store: its name and its bytes.
type File struct {
	Name string
	Data []byte
	Type string // MIME type; "" to guess from the name and the bytes
}

// ReadFile reads an attachment from disk.
func ReadFile(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("attachment %s: %w", path, err)
	}
	return File{Name: filepath.Base(path), Data: b}, nil
}

// NewID is a fresh random observation id (24 hex digits).
func NewID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Now is the current time in the canonical form records use.
func Now() string { return time.Now().UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano) }

// Write records a version of an observation: the attachments go to this
// device's media core (64 KiB blocks, one signed batch), then the
// observation, naming them, to its data core. o is completed (type,
// schema, attachments) and validated before anything is written, so bad
// input writes nothing. It returns the new version's id.
func (p *Project) Write(o *record.Observation, files []File, dur hypercore.Durability) (record.VersionID, error) {
	o.Type, o.Schema = record.TypeObservation, record.Schema
	media, err := p.OpenOwnCore(record.KindMedia, dur)
	if err != nil {
		return "", err
	}
	defer media.Close()
	mediaKey := media.Key()
	start := media.Length()
	var blocks [][]byte
	o.Attachments = append(o.Attachments[:0:0], o.Attachments...)
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		typ := f.Type
		if typ == "" {
			typ = mime.TypeByExtension(filepath.Ext(f.Name))
		}
		if typ == "" {
			typ = http.DetectContentType(f.Data)
		}
		n := uint64(len(f.Data)+record.MediaBlockSize-1) / record.MediaBlockSize
		o.Attachments = append(o.Attachments, record.Attachment{
			Name: f.Name, Type: typ, Size: uint64(len(f.Data)), SHA256: hex.EncodeToString(sum[:]),
			Core: hex.EncodeToString(mediaKey[:]), Start: start + uint64(len(blocks)), Blocks: n,
		})
		for off := 0; off < len(f.Data); off += record.MediaBlockSize {
			blocks = append(blocks, f.Data[off:min(off+record.MediaBlockSize, len(f.Data))])
		}
	}
	block, err := o.Encode()
	if err != nil {
		return "", err
	}
	data, err := p.OpenOwnCore(record.KindData, dur)
	if err != nil {
		return "", err
	}
	defer data.Close()
	if len(blocks) > 0 {
		if _, err := media.Append(blocks...); err != nil {
			return "", fmt.Errorf("store attachments: %w", err)
		}
	}
	n, err := data.Append(block)
	if err != nil {
		return "", fmt.Errorf("store the observation: %w", err)
	}
	return record.NewVersionID(data.Key(), n-1), nil
}

// History finds every version of observation id in the project's cores
// (a scan; the index answers lists) and resolves them.
func (p *Project) History(id string) (*record.History, error) {
	var versions []record.Version
	if err := p.eachVersion(func(v record.Version) {
		if v.Obs.ID == id {
			versions = append(versions, v)
		}
	}); err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("observation %q: %w", id, ErrNotFound)
	}
	return record.Resolve(versions)
}

// eachVersion calls fn with every observation version the project's cores
// hold. Records this fieldsync cannot read (a newer schema) are skipped.
func (p *Project) eachVersion(fn func(record.Version)) error {
	keys, err := p.CoreKeys()
	if err != nil {
		return err
	}
	for _, k := range keys {
		c, err := hypercore.Open(p.coreDir(k), hypercore.OpenOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		for i := uint64(0); i < c.Contiguous(); i++ {
			b, err := c.Get(i)
			if err != nil {
				c.Close()
				return err
			}
			if kind, err := record.Kind(b); err != nil || kind != record.TypeObservation {
				continue
			}
			if o, err := record.Decode(b); err == nil {
				fn(record.Version{ID: record.NewVersionID(k, i), Obs: o})
			}
		}
		c.Close()
	}
	return nil
}

// Attachment writes the bytes of attachment name of observation id's
// current version to w, checking them against its SHA-256 first: nothing
// is written if they do not match, or if they are not all on this device.
func (p *Project) Attachment(id, name string, w io.Writer) (record.Attachment, error) {
	h, err := p.History(id)
	if err != nil {
		return record.Attachment{}, err
	}
	for _, a := range h.Current.Obs.Attachments {
		if a.Name != name {
			continue
		}
		kb, _ := hex.DecodeString(a.Core)
		c, err := hypercore.Open(p.coreDir([32]byte(kb)), hypercore.OpenOptions{ReadOnly: true})
		if err != nil {
			return a, fmt.Errorf("attachment %q is not on this device (its media core is missing): %w", name, err)
		}
		defer c.Close()
		buf := make([]byte, 0, a.Size)
		for i := a.Start; i < a.Start+a.Blocks; i++ {
			b, err := c.Get(i)
			if err != nil {
				return a, fmt.Errorf("attachment %q: block %d: %w", name, i, err)
			}
			buf = append(buf, b...)
		}
		sum := sha256.Sum256(buf)
		if uint64(len(buf)) != a.Size || hex.EncodeToString(sum[:]) != a.SHA256 {
			return a, fmt.Errorf("attachment %q: the stored bytes do not match its SHA-256 (%d bytes, expected %d)", name, len(buf), a.Size)
		}
		_, err = w.Write(buf)
		return a, err
	}
	return record.Attachment{}, fmt.Errorf("observation %q has no attachment %q: %w", id, name, ErrNotFound)
}

// Edit records a new version of observation id: change is applied to a
// copy of the current version, which then supersedes every head (so an
// edit also merges a fork). It returns the new version's id.
func (p *Project) Edit(id string, change func(o *record.Observation) error, files []File, dur hypercore.Durability) (record.VersionID, error) {
	h, err := p.History(id)
	if err != nil {
		return "", err
	}
	if h.Current.Obs.Deleted {
		return "", fmt.Errorf("observation %q is deleted: %w", id, ErrNotFound)
	}
	o := *h.Current.Obs
	o.Tags = make(map[string]record.Tag, len(h.Current.Obs.Tags))
	for k, v := range h.Current.Obs.Tags {
		o.Tags[k] = v
	}
	if err := change(&o); err != nil {
		return "", err
	}
	o.Links = nil
	for _, hd := range h.Heads {
		o.Links = append(o.Links, hd.ID)
	}
	o.Updated = Now()
	if record.Time(o.Updated).Before(record.Time(h.Current.Obs.Updated)) {
		o.Updated = h.Current.Obs.Updated // a clock behind the last edit's
	}
	return p.Write(&o, files, dur)
}

// Delete records a tombstone for observation id (its data stays in the
// log, signed; the tombstone hides it from lists).
func (p *Project) Delete(id string, dur hypercore.Durability) (record.VersionID, error) {
	return p.Edit(id, func(o *record.Observation) error {
		o.Deleted = true
		return nil
	}, nil, dur)
}

// Histories resolves every observation in the project (a scan of every
// data core; the index keeps this incremental).
func (p *Project) Histories() ([]*record.History, error) {
	byID := map[string][]record.Version{}
	if err := p.eachVersion(func(v record.Version) {
		byID[v.Obs.ID] = append(byID[v.Obs.ID], v)
	}); err != nil {
		return nil, err
	}
	out := make([]*record.History, 0, len(byID))
	for _, vs := range byID {
		h, err := record.Resolve(vs)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}
