package project

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/record"
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
	o := &record.Observation{ID: NewID(), Created: now, Updated: now, Geometry: &g,
		Tags: map[string]record.Tag{"category": record.String("mining")}}
	v1, err := p.Write(o, []File{{Name: "photo.jpg", Data: photo}, {Name: "note.txt", Data: []byte("hi")}}, hypercore.DurabilityOS)
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
	edit.Links = []record.VersionID{v1}
	edit.Tags = map[string]record.Tag{"category": record.String("illegal-mining")}
	v2, err := p.Write(&edit, nil, hypercore.DurabilityOS)
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
	data, _ := p.OpenOwnCore(record.KindData, hypercore.DurabilityOS)
	media, _ := p.OpenOwnCore(record.KindMedia, hypercore.DurabilityOS)
	dl, ml := data.Length(), media.Length()
	data.Close()
	media.Close()
	bad := &record.Observation{ID: NewID(), Created: now, Updated: now} // no geometry
	if _, err := p.Write(bad, []File{{Name: "x.jpg", Data: photo}}, hypercore.DurabilityOS); !errors.Is(err, record.ErrInvalid) {
		t.Fatalf("invalid observation: %v", err)
	}
	data, _ = p.OpenOwnCore(record.KindData, hypercore.DurabilityOS)
	media, _ = p.OpenOwnCore(record.KindMedia, hypercore.DurabilityOS)
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
	o := &record.Observation{ID: NewID(), Created: now, Updated: now, Geometry: &g}
	v1, err := p.Write(o, nil, hypercore.DurabilityOS)
	if err != nil {
		t.Fatal(err)
	}
	// A fork: two versions that both supersede v1 only.
	for _, cat := range []string{"a", "b"} {
		f := *o
		f.Links = []record.VersionID{v1}
		f.Updated = Now()
		f.Tags = map[string]record.Tag{"category": record.String(cat)}
		if _, err := p.Write(&f, nil, hypercore.DurabilityOS); err != nil {
			t.Fatal(err)
		}
	}
	if hist, _ := p.History(o.ID); !hist.Forked() {
		t.Fatal("no fork made")
	}
	v4, err := p.Edit(o.ID, func(o *record.Observation) error {
		o.Tags["checked"] = record.Bool(true)
		return nil
	}, nil, hypercore.DurabilityOS)
	if err != nil {
		t.Fatal(err)
	}
	hist, _ := p.History(o.ID)
	if hist.Forked() || hist.Current.ID != v4 || hist.Current.Obs.Tags["checked"].Value() != true {
		t.Fatalf("the edit did not merge the fork: %d heads", len(hist.Heads))
	}
	if _, err := p.Delete(o.ID, hypercore.DurabilityOS); err != nil {
		t.Fatal(err)
	}
	hist, _ = p.History(o.ID)
	if !hist.Current.Obs.Deleted {
		t.Fatal("not deleted")
	}
	if _, err := p.Delete(o.ID, hypercore.DurabilityOS); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
}

// TestImportFeaturesBothPaths: records kept in memory, or spooled to a
// temporary file when they do not fit, give the same observations; a bad
// feature writes nothing either way, and no temporary file stays.
func TestImportFeaturesBothPaths(t *testing.T) {
	var in bytes.Buffer
	in.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := range 25000 {
		if i > 0 {
			in.WriteByte(',')
		}
		fmt.Fprintf(&in, `{"type":"Feature","id":%d,"geometry":{"type":"Point","coordinates":[%d.5,1]},"properties":{"i":%d}}`, i, i%170, i)
	}
	in.WriteString(`]}`)
	for _, memory := range []int{64 << 20, 1} {
		h, _ := OpenHome(filepath.Join(t.TempDir(), "h"))
		p, _ := h.Create("p", "dev")
		n, err := p.importFeatures(context.Background(), bytes.NewReader(in.Bytes()), "", hypercore.DurabilityOS, nil, memory)
		if err != nil || n != 25000 {
			t.Fatalf("memory %d: imported %d: %v", memory, n, err)
		}
		if tmp, _ := filepath.Glob(filepath.Join(p.Dir, "*.tmp")); len(tmp) != 0 {
			t.Fatalf("memory %d: left %v", memory, tmp)
		}
		hs, err := p.Histories()
		if err != nil || len(hs) != 25000 {
			t.Fatalf("memory %d: %d observations: %v", memory, len(hs), err)
		}
		data, _ := p.OpenOwnCore(record.KindData, hypercore.DurabilityOS)
		l := data.Length()
		// In the input's order, after the device record (block 0).
		for i := uint64(0); i < 25000; i += 997 {
			b, err := data.Get(1 + i)
			if err != nil {
				t.Fatal(err)
			}
			o, err := record.Decode(b)
			if err != nil || o.Tags["i"].Value() != float64(i) {
				t.Fatalf("memory %d: block %d holds %v (%v)", memory, 1+i, o, err)
			}
		}
		data.Close()
		// The last feature (24999 % 170 = 9) out of range.
		bad := bytes.Replace(in.Bytes(), []byte(`[9.5,1]},"properties":{"i":24999}`), []byte(`[199.5,1]},"properties":{"i":24999}`), 1)
		if bytes.Equal(bad, in.Bytes()) {
			t.Fatal("the test did not break the input")
		}
		if _, err := p.importFeatures(context.Background(), bytes.NewReader(bad), "", hypercore.DurabilityOS, nil, memory); !errors.Is(err, geo.ErrInvalid) {
			t.Fatalf("memory %d: a bad last feature: %v", memory, err)
		}
		data, _ = p.OpenOwnCore(record.KindData, hypercore.DurabilityOS)
		if data.Length() != l {
			t.Fatalf("memory %d: a refused import wrote %d blocks", memory, data.Length()-l)
		}
		data.Close()
	}
}
