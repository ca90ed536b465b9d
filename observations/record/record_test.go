package record

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/fixtures"
	"github.com/fieldsync/fieldsync/geo"
)

// The embedded fixtures are canonical: decoding and encoding them gives the
// same bytes.
func TestFixturesRoundTrip(t *testing.T) {
	for i, b := range fixtures.Observations() {
		o, err := Decode(b)
		if err != nil {
			t.Fatalf("fixture %d: %v", i, err)
		}
		enc, err := o.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("fixture %d re-encodes differently:\n%s\n%s", i, b, enc)
		}
	}
}

func point(t *testing.T, lon, lat float64) *geo.Geometry {
	t.Helper()
	g, err := geo.NewPoint(lon, lat, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &g
}

func base(t *testing.T) Observation {
	acc := 4.0
	return Observation{
		Type: TypeObservation, Schema: Schema, ID: "obs1",
		Created: "2026-03-02T08:15:00Z", Updated: "2026-03-02T08:15:00Z",
		Geometry: point(t, -62.2, -3.4), Accuracy: &acc,
		Tags: map[string]Tag{"category": String("mining"), "trees": Number(12), "confirmed": Bool(true), "species": List(String("a"), Number(1.5))},
	}
}

func TestEncodeCanonical(t *testing.T) {
	o := base(t)
	o.Links = []VersionID{NewVersionID([32]byte{2}, 7), NewVersionID([32]byte{1}, 3)}
	b, err := o.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"accuracy":4,"attachments":[],"created":"2026-03-02T08:15:00Z","deleted":false,"geometry":{"coordinates":[-62.2,-3.4],"type":"Point"},"id":"obs1","links":["0100000000000000000000000000000000000000000000000000000000000000@3","0200000000000000000000000000000000000000000000000000000000000000@7"],"schema":1,"tags":{"category":"mining","confirmed":true,"species":["a",1.5],"trees":12},"type":"observation","updated":"2026-03-02T08:15:00Z"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Encode()
	if !bytes.Equal(again, b) {
		t.Fatal("decode/encode is not stable")
	}
}

func TestValidate(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		edit func(o *Observation)
		why  string
	}{
		{"type", func(o *Observation) { o.Type = "device" }, "type is"},
		{"schema", func(o *Observation) { o.Schema = 2 }, "schema 2 is not supported"},
		{"no id", func(o *Observation) { o.ID = "" }, "id of 1 to 128"},
		{"time", func(o *Observation) { o.Created = "yesterday" }, "not an RFC 3339 time"},
		{"time zone", func(o *Observation) { o.Updated = "2026-03-02T09:15:00+01:00" }, "not in canonical form"},
		{"order", func(o *Observation) { o.Updated = "2026-03-01T00:00:00Z" }, "before created"},
		{"no geometry", func(o *Observation) { o.Geometry = nil }, "geometry is needed"},
		{"accuracy", func(o *Observation) { a := -1.0; o.Accuracy = &a }, "accuracy"},
		{"empty tag name", func(o *Observation) { o.Tags[""] = String("x") }, "tag names"},
		{"bad link", func(o *Observation) { o.Links = []VersionID{"abc@1"} }, "want <64 hex digits>"},
		{"dup link", func(o *Observation) { l := NewVersionID([32]byte{1}, 1); o.Links = []VersionID{l, l} }, "appears twice"},
		{"attachment path", func(o *Observation) {
			o.Attachments = []Attachment{{Name: "../x.jpg", SHA256: sha, Core: sha, Size: 1, Blocks: 1}}
		}, "plain file name"},
		{"attachment blocks", func(o *Observation) {
			o.Attachments = []Attachment{{Name: "x.jpg", SHA256: sha, Core: sha, Size: 70000, Blocks: 1}}
		}, "take 2 blocks"},
		{"attachment hash", func(o *Observation) {
			o.Attachments = []Attachment{{Name: "x.jpg", SHA256: "AB", Core: sha, Size: 1, Blocks: 1}}
		}, "sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base(t)
			tc.edit(&o)
			_, err := o.Encode()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("%v, want ErrInvalid mentioning %q", err, tc.why)
			}
		})
	}
	// A tombstone needs no geometry.
	o := base(t)
	o.Deleted, o.Geometry = true, nil
	if _, err := o.Encode(); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeRefusesBadTags(t *testing.T) {
	for _, tags := range []string{`{"a":null}`, `{"a":{"b":1}}`, `{"a":[[1]]}`, `{"a":1e999}`} {
		b := []byte(fmt.Sprintf(`{"attachments":[],"created":"2026-03-02T08:15:00Z","deleted":false,"geometry":{"coordinates":[0,0],"type":"Point"},"id":"x","links":[],"schema":1,"tags":%s,"type":"observation","updated":"2026-03-02T08:15:00Z"}`, tags))
		if _, err := Decode(b); err == nil {
			t.Errorf("tags %s accepted", tags)
		}
	}
	if _, err := Decode([]byte(`{"type":"observation","schema":1,"id":"x","geometry":{"type":"Point","coordinates":[0,95]}}`)); !errors.Is(err, geo.ErrInvalid) {
		t.Errorf("a latitude of 95 accepted: %v", err)
	}
}

func TestVersionID(t *testing.T) {
	k := [32]byte{0xab, 1}
	v := NewVersionID(k, 42)
	key, idx, err := v.Parse()
	if err != nil || key != k || idx != 42 {
		t.Fatalf("%s → %x %d %v", v, key, idx, err)
	}
	for _, bad := range []VersionID{"", "ab@1", VersionID(strings.Repeat("a", 64) + "@01"), VersionID(strings.Repeat("A", 64) + "@1"), VersionID(strings.Repeat("a", 64) + "@-1")} {
		if _, _, err := bad.Parse(); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestResolve: heads are the versions nothing supersedes; the current one
// is the same whatever order the versions arrive in.
func TestResolve(t *testing.T) {
	mk := func(core byte, idx uint64, updated string, links ...VersionID) Version {
		o := base(t)
		o.Updated = updated
		o.Links = links
		return Version{ID: NewVersionID([32]byte{core}, idx), Obs: &o}
	}
	v0 := mk(1, 5, "2026-03-02T08:15:00Z")
	a := mk(1, 9, "2026-03-04T10:00:00Z", v0.ID)             // device 1 edits
	b := mk(2, 3, "2026-03-05T10:00:00Z", v0.ID)             // device 2 edits, not seeing a
	c := mk(2, 4, "2026-03-05T10:00:00Z", v0.ID)             // device 2 again, same time
	m := mk(1, 12, "2026-03-06T00:00:00Z", a.ID, b.ID, c.ID) // a merge
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		vs      []Version
		heads   []VersionID
		current VersionID
	}{
		{[]Version{v0}, []VersionID{v0.ID}, v0.ID},
		{[]Version{v0, a}, []VersionID{a.ID}, a.ID},
		{[]Version{v0, a, b}, []VersionID{b.ID, a.ID}, b.ID},
		{[]Version{v0, a, b, c}, []VersionID{c.ID, b.ID, a.ID}, c.ID}, // same time: greater version id
		{[]Version{v0, a, b, c, m}, []VersionID{m.ID}, m.ID},
		{[]Version{a, b}, []VersionID{b.ID, a.ID}, b.ID}, // v0 not here yet
	} {
		for range 5 {
			vs := append([]Version(nil), tc.vs...)
			rng.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
			h, err := Resolve(vs)
			if err != nil {
				t.Fatal(err)
			}
			var heads []VersionID
			for _, v := range h.Heads {
				heads = append(heads, v.ID)
			}
			if fmt.Sprint(heads) != fmt.Sprint(tc.heads) || h.Current.ID != tc.current || h.Forked() != (len(tc.heads) > 1) {
				t.Fatalf("heads %v current %v, want %v %v", heads, h.Current.ID, tc.heads, tc.current)
			}
		}
	}
	other := base(t)
	other.ID = "obs2"
	if _, err := Resolve([]Version{v0, {ID: NewVersionID([32]byte{3}, 1), Obs: &other}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("versions of two observations resolved together: %v", err)
	}
	if _, err := Resolve([]Version{v0, v0}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a duplicate version accepted: %v", err)
	}
}

// Times compare as times, not strings: "…:36.655Z" is after "…:36.65Z".
func TestTimesCompareAsTimes(t *testing.T) {
	o := base(t)
	o.Created, o.Updated = "2026-11-27T17:58:36.65Z", "2026-11-27T17:58:36.655Z"
	if _, err := o.Encode(); err != nil {
		t.Fatalf("a later update with more digits refused: %v", err)
	}
	a, b := base(t), base(t)
	a.Updated, b.Updated = "2026-03-02T08:15:00.5Z", "2026-03-02T08:15:00Z"
	h, err := Resolve([]Version{{ID: NewVersionID([32]byte{1}, 1), Obs: &a}, {ID: NewVersionID([32]byte{2}, 1), Obs: &b}})
	if err != nil || h.Current.Obs != &a {
		t.Fatalf("the later version (00.5) is not current: %v", err)
	}
}
