package usbsync

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/record"
)

type device struct {
	p *project.Project
}

func newDevice(t *testing.T, name, projectName string, join *project.Project) *device {
	t.Helper()
	h, err := project.OpenHome(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	var p *project.Project
	if join == nil {
		p, err = h.Create(projectName, name)
	} else {
		p, err = h.Join(projectName, join.Key, name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &device{p}
}

func (d *device) observe(t *testing.T, n int, photo []byte) {
	t.Helper()
	for i := range n {
		g, _ := geo.NewPoint(-60+float64(i)/1000, -3, nil)
		o := &record.Observation{ID: project.NewID(), Created: project.Now(), Updated: project.Now(), Geometry: &g,
			Tags: map[string]record.Tag{"i": record.Number(float64(i))}}
		var files []project.File
		if photo != nil {
			files = []project.File{{Name: fmt.Sprintf("p%d.jpg", i), Type: "image/jpeg", Data: photo}}
		}
		if _, err := d.p.Write(o, files, hypercore.DurabilityOS); err != nil {
			t.Fatal(err)
		}
	}
}

// lengths is every core the device holds and its contiguous length.
func (d *device) lengths(t *testing.T) map[[32]byte]uint64 {
	t.Helper()
	dirs, err := d.p.CoreDirs()
	if err != nil {
		t.Fatal(err)
	}
	out := map[[32]byte]uint64{}
	for k, dir := range dirs {
		c, err := hypercore.Open(dir, hypercore.OpenOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Verify(context.Background(), nil); err != nil {
			t.Fatalf("core %x: %v", k[:4], err)
		}
		out[k] = c.Contiguous()
		c.Close()
	}
	return out
}

func equalMaps(a, b map[[32]byte]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// treeHash hashes every file name and content under dir.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	var names []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintln(h, n)
		if b, err := os.ReadFile(n); err == nil {
			h.Write(b)
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func photo(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func mustSync(t *testing.T, d *device, dir string, opts Options) *Result {
	t.Helper()
	r, err := Sync(context.Background(), d.p, dir, opts)
	if err != nil {
		t.Fatalf("sync %s: %v", d.p.DeviceName, err)
	}
	return r
}

func TestRoundTrip(t *testing.T) {
	stick := t.TempDir()
	a := newDevice(t, "office", "river", nil)
	b := newDevice(t, "village", "river", a.p)
	a.observe(t, 30, photo(150<<10))
	opts := Options{SegmentLimit: 256 << 10, Durability: hypercore.DurabilityOS}
	r := mustSync(t, a, stick, opts)
	if !r.Created || r.BlocksOut == 0 || r.BlocksIn != 0 {
		t.Fatalf("first sync: %+v", r)
	}
	segs, _ := filepath.Glob(filepath.Join(stick, FolderName, "*.seg"))
	if len(segs) < 10 {
		t.Fatalf("%d segments for 4.5 MB with a 256 KiB limit", len(segs))
	}
	for _, s := range segs {
		if st, _ := os.Stat(s); st.Size() > 256<<10 {
			t.Fatalf("segment %s of %d bytes", s, st.Size())
		}
	}
	r = mustSync(t, b, stick, opts)
	if r.BlocksIn == 0 || r.Created {
		t.Fatalf("b: %+v", r)
	}
	b.observe(t, 5, photo(70<<10))
	mustSync(t, b, stick, opts)
	r = mustSync(t, a, stick, opts)
	if r.BlocksIn == 0 || r.BlocksOut != 0 {
		t.Fatalf("a back: %+v", r)
	}
	if la, lb := a.lengths(t), b.lengths(t); !equalMaps(la, lb) || len(la) != 4 {
		t.Fatalf("not converged:\n%v\n%v", la, lb)
	}
	// Nothing to do: nothing moves, the folder is unchanged.
	before := treeHash(t, stick)
	r = mustSync(t, a, stick, opts)
	if r.BlocksIn+r.BlocksOut != 0 || treeHash(t, stick) != before {
		t.Fatalf("idle sync moved data: %+v", r)
	}
	// Nothing in the folder names the project or its keys.
	for _, d := range []*device{a, b} {
		for _, secret := range [][]byte{d.p.Key[:], []byte("river"), []byte("office"), []byte("village")} {
			filepath.WalkDir(stick, func(p string, de fs.DirEntry, err error) error {
				if strings.Contains(p, string(secret)) {
					t.Fatalf("path %s reveals %q", p, secret)
				}
				if err == nil && !de.IsDir() {
					if c, _ := os.ReadFile(p); strings.Contains(string(c), string(secret)) {
						t.Fatalf("%s holds %q", p, secret)
					}
				}
				return nil
			})
		}
	}
}

func TestOtherProjectRefused(t *testing.T) {
	stick := t.TempDir()
	a := newDevice(t, "office", "river", nil)
	a.observe(t, 3, photo(1000))
	mustSync(t, a, stick, Options{})
	c := newDevice(t, "other", "river", nil) // same name, another project
	c.observe(t, 2, nil)
	before := treeHash(t, stick)
	_, err := Sync(context.Background(), c.p, stick, Options{})
	if !errors.Is(err, ErrOtherProject) {
		t.Fatalf("got %v", err)
	}
	if treeHash(t, stick) != before {
		t.Fatal("the folder changed")
	}
	if len(c.lengths(t)) != 2 {
		t.Fatal("the other project took cores")
	}
	// Its own folder beside the first, by name.
	r, err := Sync(context.Background(), c.p, filepath.Join(stick, "other.fieldsync"), Options{})
	if err != nil || !r.Created || r.BlocksOut == 0 {
		t.Fatalf("a named folder: %+v %v", r, err)
	}
	mustSync(t, a, stick, Options{})
}

func TestNewerVersionAndNotAFolder(t *testing.T) {
	stick := t.TempDir()
	a := newDevice(t, "office", "river", nil)
	a.observe(t, 1, nil)
	mustSync(t, a, stick, Options{})
	head := filepath.Join(stick, FolderName, headName)
	b, _ := os.ReadFile(head)
	b[len(magic)] = version + 1
	os.WriteFile(head, b, 0o644)
	if _, err := Sync(context.Background(), a.p, stick, Options{}); !errors.Is(err, ErrNewerVersion) {
		t.Fatalf("got %v", err)
	}
	os.WriteFile(head, []byte("hello"), 0o644)
	if _, err := Sync(context.Background(), a.p, stick, Options{}); !errors.Is(err, ErrNotFolder) {
		t.Fatalf("got %v", err)
	}
}

func TestCorruptSegment(t *testing.T) {
	stick := t.TempDir()
	a := newDevice(t, "office", "river", nil)
	b := newDevice(t, "village", "river", a.p)
	a.observe(t, 10, photo(100<<10))
	mustSync(t, a, stick, Options{SegmentLimit: 200 << 10})
	segs, _ := filepath.Glob(filepath.Join(stick, FolderName, "*.seg"))
	sort.Slice(segs, func(i, j int) bool {
		si, _ := os.Stat(segs[i])
		sj, _ := os.Stat(segs[j])
		return si.Size() > sj.Size()
	})
	victim := segs[0]
	c, _ := os.ReadFile(victim)
	c[len(c)/3] ^= 0x40
	os.WriteFile(victim, c, 0o644)
	_, err := Sync(context.Background(), b.p, stick, Options{})
	var se *SegmentError
	if !errors.As(err, &se) || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), filepath.Base(victim)) {
		t.Fatalf("got %v", err)
	}
	// What was stored verifies.
	b.lengths(t)
	// Truncated.
	os.WriteFile(victim, c[:len(c)/2], 0o644)
	_, err = Sync(context.Background(), b.p, stick, Options{})
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("got %v", err)
	}
}

// Gossip: a device that never met the office reaches it through two sticks
// and a third device.
func TestGossip(t *testing.T) {
	stick1, stick2 := t.TempDir(), t.TempDir()
	office := newDevice(t, "office", "river", nil)
	hub := newDevice(t, "hub", "river", office.p)
	far := newDevice(t, "far", "river", office.p)
	far.observe(t, 4, photo(90<<10))
	mustSync(t, far, stick2, Options{})
	mustSync(t, hub, stick2, Options{})
	mustSync(t, hub, stick1, Options{})
	r := mustSync(t, office, stick1, Options{NoMedia: true})
	lf, lo := far.lengths(t), office.lengths(t)
	media := far.p.OwnCoreKey(record.KindMedia)
	data := far.p.OwnCoreKey(record.KindData)
	if lo[data] != lf[data] || lo[media] != 0 || r.BlocksIn == 0 {
		t.Fatalf("no-media gossip: %v %v %+v", lf, lo, r)
	}
	mustSync(t, office, stick1, Options{})
	if lo = office.lengths(t); lo[media] != lf[media] {
		t.Fatalf("media: %v %v", lf, lo)
	}
}
