package project

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observation"
)

func TestWriteEditAttachments(t *testing.T) {
	h, _ := OpenHome(filepath.Join(t.TempDir(), "h"))
	p, err := h.Create("p", "dev")
	if err != nil {
		t.Fatal(err)
	}
	g, _ := geo.NewPoint(-62.2, -3.4, nil)
	photo := bytes.Repeat([]byte("jpeg!"), 30000) // 150,000 bytes: 3 blocks
	now := Now()
	o := &observation.Observation{ID: NewID(), Created: now, Updated: now, Geometry: &g,
		Tags: map[string]observation.Tag{"category": observation.String("mining")}}
	v1, err := p.Write(o, []File{{Name: "photo.jpg", Data: photo}, {Name: "note.txt", Data: []byte("hi")}}, hypercore.SyncNone)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	a, err := p.Attachment(o.ID, "photo.jpg", &out)
	if err != nil || !bytes.Equal(out.Bytes(), photo) || a.Blocks != 3 || a.Type != "image/jpeg" {
		t.Fatalf("attachment %+v: %v", a, err)
	}
	// An edit keeps the attachments and supersedes v1.
	edit := *o
	edit.Updated = Now()
	edit.Links = []observation.VersionID{v1}
	edit.Tags = map[string]observation.Tag{"category": observation.String("illegal-mining")}
	v2, err := p.Write(&edit, nil, hypercore.SyncNone)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := p.History(o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if hist.Current.ID != v2 || len(hist.Versions) != 2 || hist.Forked() {
		t.Fatalf("history: current %s, %d versions", hist.Current.ID, len(hist.Versions))
	}
	out.Reset()
	if _, err := p.Attachment(o.ID, "note.txt", &out); err != nil || out.String() != "hi" {
		t.Fatalf("attachment after the edit: %v %q", err, out.String())
	}
	if _, err := p.Attachment(o.ID, "missing.jpg", &out); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing attachment: %v", err)
	}
	if _, err := p.History("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing observation: %v", err)
	}
	// Bad input writes nothing.
	data, _ := p.OpenOwnCore(CoreData, hypercore.SyncNone)
	media, _ := p.OpenOwnCore(CoreMedia, hypercore.SyncNone)
	dl, ml := data.Length(), media.Length()
	data.Close()
	media.Close()
	bad := &observation.Observation{ID: NewID(), Created: now, Updated: now} // no geometry
	if _, err := p.Write(bad, []File{{Name: "x.jpg", Data: photo}}, hypercore.SyncNone); !errors.Is(err, observation.ErrInvalid) {
		t.Fatalf("invalid observation: %v", err)
	}
	data, _ = p.OpenOwnCore(CoreData, hypercore.SyncNone)
	media, _ = p.OpenOwnCore(CoreMedia, hypercore.SyncNone)
	defer data.Close()
	defer media.Close()
	if data.Length() != dl || media.Length() != ml {
		t.Fatalf("a refused observation wrote blocks: data %d→%d, media %d→%d", dl, data.Length(), ml, media.Length())
	}
}

func TestEditMergesForksAndDelete(t *testing.T) {
	h, _ := OpenHome(filepath.Join(t.TempDir(), "h"))
	p, _ := h.Create("p", "dev")
	g, _ := geo.NewPoint(1, 2, nil)
	now := Now()
	o := &observation.Observation{ID: NewID(), Created: now, Updated: now, Geometry: &g}
	v1, err := p.Write(o, nil, hypercore.SyncNone)
	if err != nil {
		t.Fatal(err)
	}
	// A fork: two versions that both supersede v1 only.
	for _, cat := range []string{"a", "b"} {
		f := *o
		f.Links = []observation.VersionID{v1}
		f.Updated = Now()
		f.Tags = map[string]observation.Tag{"category": observation.String(cat)}
		if _, err := p.Write(&f, nil, hypercore.SyncNone); err != nil {
			t.Fatal(err)
		}
	}
	if hist, _ := p.History(o.ID); !hist.Forked() {
		t.Fatal("no fork made")
	}
	v4, err := p.Edit(o.ID, func(o *observation.Observation) error {
		o.Tags["checked"] = observation.Bool(true)
		return nil
	}, nil, hypercore.SyncNone)
	if err != nil {
		t.Fatal(err)
	}
	hist, _ := p.History(o.ID)
	if hist.Forked() || hist.Current.ID != v4 || hist.Current.Obs.Tags["checked"].Value() != true {
		t.Fatalf("the edit did not merge the fork: %d heads", len(hist.Heads))
	}
	if _, err := p.Delete(o.ID, hypercore.SyncNone); err != nil {
		t.Fatal(err)
	}
	hist, _ = p.History(o.ID)
	if !hist.Current.Obs.Deleted {
		t.Fatal("not deleted")
	}
	if _, err := p.Delete(o.ID, hypercore.SyncNone); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
}
