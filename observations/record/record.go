package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/geo"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid record")

// Record types (the "type" field of a data-core block).
const (
	TypeObservation = "observation"
	TypeDevice      = "device"
)

// Schema is the observation schema this package writes and reads.
const Schema = 1

// Observation is one version of an observation. Field order is the JSON
// key order, alphabetical, so encoding/json writes it canonically.
type Observation struct {
	Accuracy    *float64       `json:"accuracy,omitempty"` // metres
	Attachments []Attachment   `json:"attachments"`
	Created     string         `json:"created"` // RFC 3339, UTC
	Deleted     bool           `json:"deleted"`
	Geometry    *geo.Geometry  `json:"geometry"` // nil only in a tombstone
	ID          string         `json:"id"`
	Links       []VersionID    `json:"links"` // the versions this one supersedes
	Schema      int            `json:"schema"`
	Tags        map[string]Tag `json:"tags"`
	Type        string         `json:"type"`
	Updated     string         `json:"updated"` // RFC 3339, UTC
}

// Attachment is a file stored in a device's media core.
type Attachment struct {
	Blocks uint64 `json:"blocks"` // 64 KiB blocks from Start
	Core   string `json:"core"`   // media core key, hex
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   uint64 `json:"size"`
	Start  uint64 `json:"start"`
	Type   string `json:"type"` // MIME type
}

// VersionID names one version: "<core key hex>@<block index>".
type VersionID string

// NewVersionID makes the id of block index of the core with key.
func NewVersionID(coreKey [32]byte, index uint64) VersionID {
	return VersionID(fmt.Sprintf("%x@%d", coreKey[:], index))
}

var versionRe = regexp.MustCompile(`^[0-9a-f]{64}@(0|[1-9][0-9]{0,19})$`)

// Parse splits a version id into its core key and block index.
func (v VersionID) Parse() (key [32]byte, index uint64, err error) {
	if !versionRe.MatchString(string(v)) {
		return key, 0, fmt.Errorf("version id %q: want <64 hex digits>@<block index>: %w", string(v), ErrInvalid)
	}
	hexKey, idx, _ := strings.Cut(string(v), "@")
	for i := range key {
		b, _ := strconv.ParseUint(hexKey[2*i:2*i+2], 16, 8)
		key[i] = byte(b)
	}
	index, err = strconv.ParseUint(idx, 10, 64)
	if err != nil {
		return key, 0, fmt.Errorf("version id %q: %w", string(v), ErrInvalid)
	}
	return key, index, nil
}

// Tag is a tag value: a string, a finite number, a bool, or an array of
// those (not nested).
type Tag struct{ v any }

// String, Number and Bool make tag values.
func String(s string) Tag  { return Tag{s} }
func Number(f float64) Tag { return Tag{f} }
func Bool(b bool) Tag      { return Tag{b} }

// List makes an array tag.
func List(items ...Tag) Tag {
	vs := make([]any, len(items))
	for i, t := range items {
		vs[i] = t.v
	}
	return Tag{vs}
}

// Value is the tag's value: string, float64, bool or []any of those.
func (t Tag) Value() any { return t.v }

// MarshalJSON writes the value; numbers in their shortest form.
func (t Tag) MarshalJSON() ([]byte, error) { return json.Marshal(t.v) }

// UnmarshalJSON accepts only the allowed kinds of value.
func (t *Tag) UnmarshalJSON(b []byte) error {
	// Fast paths for the common scalars (encoding/json hands over one
	// complete, syntactically valid value).
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		t.v = s
		return nil
	case string(b) == "true" || string(b) == "false":
		t.v = string(b) == "true"
		return nil
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		v, err := tagValue(json.Number(b), true)
		if err != nil {
			return err
		}
		t.v = v
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var raw any
	if err := d.Decode(&raw); err != nil {
		return err
	}
	v, err := tagValue(raw, true)
	if err != nil {
		return err
	}
	t.v = v
	return nil
}

func tagValue(raw any, top bool) (any, error) {
	switch x := raw.(type) {
	case string, bool:
		return x, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("tag value %s is not a finite number: %w", x, ErrInvalid)
		}
		return f, nil
	case []any:
		if !top {
			return nil, fmt.Errorf("tag values cannot nest arrays: %w", ErrInvalid)
		}
		out := make([]any, len(x))
		for i, e := range x {
			v, err := tagValue(e, false)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case nil:
		return nil, fmt.Errorf("a tag value cannot be null (untag it instead): %w", ErrInvalid)
	}
	return nil, fmt.Errorf("a tag value must be a string, number, bool or an array of those, not an object: %w", ErrInvalid)
}

// ReservedTagPrefix starts the names exports give their own properties
// (id, version, author...): no tag may use it, so they never collide.
const ReservedTagPrefix = "fieldsync:"

// maxTagKey bounds a tag name.
const maxTagKey = 128

// Validate checks an observation against schema 1.
func (o *Observation) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("observation %q: %s: %w", o.ID, fmt.Sprintf(format, args...), ErrInvalid)
	}
	switch {
	case o.Type != TypeObservation:
		return bad("type is %q, not %q", o.Type, TypeObservation)
	case o.Schema != Schema:
		return bad("schema %d is not supported (this fieldsync reads schema %d)", o.Schema, Schema)
	case o.ID == "" || len(o.ID) > 128:
		return bad("an id of 1 to 128 characters is needed")
	}
	for _, ts := range []struct{ name, v string }{{"created", o.Created}, {"updated", o.Updated}} {
		t, err := time.Parse(time.RFC3339Nano, ts.v)
		if err != nil {
			return bad("%s %q is not an RFC 3339 time", ts.name, ts.v)
		}
		if t.UTC().Format(time.RFC3339Nano) != ts.v {
			return bad("%s %q is not in canonical form (UTC, as %s)", ts.name, ts.v, t.UTC().Format(time.RFC3339Nano))
		}
	}
	if Time(o.Updated).Before(Time(o.Created)) {
		return bad("updated %s is before created %s", o.Updated, o.Created)
	}
	if !o.Deleted && (o.Geometry == nil || o.Geometry.IsZero()) {
		return bad("a geometry is needed")
	}
	if a := o.Accuracy; a != nil && (math.IsNaN(*a) || math.IsInf(*a, 0) || *a < 0) {
		return bad("accuracy must be a non-negative number of metres")
	}
	for k, v := range o.Tags {
		if k == "" || len(k) > maxTagKey {
			return bad("tag names have 1 to %d characters", maxTagKey)
		}
		if strings.HasPrefix(k, ReservedTagPrefix) {
			return bad("tag %q: names starting with %q are reserved for exports", k, ReservedTagPrefix)
		}
		if v.v == nil {
			return bad("tag %q has no value", k)
		}
	}
	seen := map[VersionID]bool{}
	for _, l := range o.Links {
		if _, _, err := l.Parse(); err != nil {
			return bad("link: %v", err)
		}
		if seen[l] {
			return bad("link %s appears twice", l)
		}
		seen[l] = true
	}
	names := map[string]bool{}
	for _, a := range o.Attachments {
		switch {
		case a.Name == "" || strings.ContainsAny(a.Name, "/\\\x00"):
			return bad("attachment name %q must be a plain file name", a.Name)
		case names[a.Name]:
			return bad("two attachments are named %q", a.Name)
		case len(a.SHA256) != 64 || strings.Trim(a.SHA256, "0123456789abcdef") != "":
			return bad("attachment %q: sha256 must be 64 lowercase hex digits", a.Name)
		case len(a.Core) != 64 || strings.Trim(a.Core, "0123456789abcdef") != "":
			return bad("attachment %q: core must be a 64-hex-digit core key", a.Name)
		case a.Blocks != (a.Size+MediaBlockSize-1)/MediaBlockSize:
			return bad("attachment %q: %d bytes take %d blocks of %d, not %d", a.Name, a.Size, (a.Size+MediaBlockSize-1)/MediaBlockSize, MediaBlockSize, a.Blocks)
		}
		names[a.Name] = true
	}
	return nil
}

// MediaBlockSize is the size of an attachment's blocks in a media core.
const MediaBlockSize = 64 << 10

// Encode validates o and returns its canonical block bytes: keys sorted,
// no insignificant space, empty lists and maps written as [] and {}.
func (o *Observation) Encode() ([]byte, error) {
	c := *o
	if c.Attachments == nil {
		c.Attachments = []Attachment{}
	}
	if c.Links == nil {
		c.Links = []VersionID{}
	}
	if c.Tags == nil {
		c.Tags = map[string]Tag{}
	}
	slices.Sort(c.Links)
	sort.SliceStable(c.Attachments, func(i, j int) bool { return c.Attachments[i].Name < c.Attachments[j].Name })
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("encode observation %q: %w", c.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Decode parses and validates an observation block. Unknown fields are
// ignored (a newer schema must bump Schema, which Validate refuses).
func Decode(b []byte) (*Observation, error) {
	var o Observation
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("observation block: %w: %w", err, ErrInvalid)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &o, nil
}

// Kind peeks at a data-core block's "type" without decoding the rest.
func Kind(b []byte) (string, error) {
	var k struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return "", fmt.Errorf("block is not a JSON record: %v: %w", err, ErrInvalid)
	}
	return k.Type, nil
}

// Time parses a record's time (created, updated); the zero time if it is
// not one. Compare times with it, never as strings: the canonical form has
// no fixed width ("…:05Z" and "…:05.25Z").
func Time(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// ParseTag reads a tag written KEY=VALUE, as people type them: "true" and
// "false" are booleans, a number in its plain form (12, -3.5; not 007) is
// a number, anything else a string.
func ParseTag(s string) (string, Tag, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", Tag{}, fmt.Errorf("%q: want KEY=VALUE: %w", s, ErrInvalid)
	}
	switch v {
	case "true", "false":
		return k, Bool(v == "true"), nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && strconv.FormatFloat(f, 'f', -1, 64) == v {
		return k, Number(f), nil
	}
	return k, String(v), nil
}
