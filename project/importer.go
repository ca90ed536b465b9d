package project

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observation"
)

// ParseFeatures reads GeoJSON: a FeatureCollection, a single Feature, or
// newline-delimited Features, and makes one new observation per feature
// (properties become tags; a feature id is kept as the tag "import_id";
// null properties are dropped). If timeProp names a property holding an
// RFC 3339 time or a date, it sets the observation's created and updated
// times (else: now). Any invalid feature fails the whole read, naming the
// feature's index. It holds every observation in memory: ImportFeatures
// streams.
func ParseFeatures(r io.Reader, timeProp string) ([]*observation.Observation, error) {
	now := Now()
	var out []*observation.Observation
	err := forEachFeature(r, func(i int, raw json.RawMessage) error {
		o, err := featureObservation(raw, now, timeProp)
		if err != nil {
			return fmt.Errorf("feature %d: %w", i, err)
		}
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// forEachFeature calls fn with each feature of a GeoJSON FeatureCollection
// (streamed: memory does not grow with the collection), a single Feature,
// or a sequence of Features, in order.
func forEachFeature(r io.Reader, fn func(i int, raw json.RawMessage) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	if first, err := firstNonSpace(br); err != nil {
		return fmt.Errorf("empty input: %w", observation.ErrInvalid)
	} else if first != '{' {
		return fmt.Errorf("not GeoJSON (a FeatureCollection, a Feature or one Feature per line): %w", observation.ErrInvalid)
	}
	dec := json.NewDecoder(br)
	n := 0
	bad := func(err error) error {
		return fmt.Errorf("feature %d: not JSON: %v: %w", n, err, observation.ErrInvalid)
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bad(err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return fmt.Errorf("feature %d: not a JSON object: %w", n, observation.ErrInvalid)
		}
		// One top-level object: a collection (its features are streamed)
		// or a feature (its members are gathered).
		members := map[string]json.RawMessage{}
		streamed := false
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return bad(err)
			}
			key, _ := kt.(string)
			if key == "features" {
				if t, err := dec.Token(); err != nil {
					return bad(err)
				} else if d, ok := t.(json.Delim); !ok || d != '[' {
					return fmt.Errorf(`"features" is not an array: %w`, observation.ErrInvalid)
				}
				for dec.More() {
					var raw json.RawMessage
					if err := dec.Decode(&raw); err != nil {
						return bad(err)
					}
					if err := fn(n, raw); err != nil {
						return err
					}
					n++
				}
				if _, err := dec.Token(); err != nil { // ']'
					return bad(err)
				}
				streamed = true
				continue
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return bad(err)
			}
			members[key] = v
		}
		if _, err := dec.Token(); err != nil { // '}'
			return bad(err)
		}
		if streamed {
			continue
		}
		raw, _ := json.Marshal(members)
		if err := fn(n, raw); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("no features: %w", observation.ErrInvalid)
	}
	return nil
}

func firstNonSpace(r *bufio.Reader) (byte, error) {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\n' && b != '\r' && b != '\t' && b != 0xef && b != 0xbb && b != 0xbf {
			return b, r.UnreadByte()
		}
	}
}

// importChunk is how many observations one signed batch holds in a
// streamed import.
const importChunk = 10000

// importMemory is how many bytes of encoded records an import keeps from
// its first pass to skip the second.
const importMemory = 64 << 20

// ImportFeatures imports GeoJSON features from in (see ParseFeatures)
// without holding them all: a first pass validates every feature (one
// invalid feature: nothing is written), then they are appended in signed
// batches of 10,000 — from the first pass's records when they fit in 64
// MiB, else from a second read of the input (rewind gives it back from
// the start). It returns how many were imported.
func (p *Project) ImportFeatures(in io.Reader, rewind func() (io.Reader, error), timeProp string, sync hypercore.SyncMode, progress func(done, total uint64)) (int, error) {
	return p.importFeatures(in, rewind, timeProp, sync, progress, importMemory)
}

func (p *Project) importFeatures(in io.Reader, rewind func() (io.Reader, error), timeProp string, sync hypercore.SyncMode, progress func(done, total uint64), memory int) (int, error) {
	now := Now()
	total := 0
	// The first pass keeps the encoded records while they fit in
	// importMemory: then they are written from memory, without a second
	// read (most imports); otherwise the input is read again.
	var kept [][]byte
	keptBytes, overflow := 0, false
	if err := forEachFeature(in, func(i int, raw json.RawMessage) error {
		o, err := featureObservation(raw, now, timeProp)
		if err != nil {
			return fmt.Errorf("feature %d: %w", i, err)
		}
		total++
		if !overflow {
			b, err := o.Encode()
			if err != nil {
				return fmt.Errorf("feature %d: %w", i, err)
			}
			kept = append(kept, b)
			keptBytes += len(b)
			if keptBytes > memory {
				kept, overflow = nil, true
			}
		}
		return nil
	}); err != nil {
		return 0, err
	}
	data, err := p.OpenOwnCore(CoreData, sync)
	if err != nil {
		return 0, err
	}
	defer data.Close()
	var batch [][]byte
	done := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := data.Append(batch...); err != nil {
			return fmt.Errorf("store observations %d-%d of %d: %w", done-len(batch)+1, done, total, err)
		}
		batch = batch[:0]
		if progress != nil {
			progress(uint64(done), uint64(total))
		}
		return nil
	}
	if !overflow {
		for _, b := range kept {
			batch = append(batch, b)
			done++
			if len(batch) == importChunk {
				if err := flush(); err != nil {
					return done - len(batch), err
				}
			}
		}
		if err := flush(); err != nil {
			return done - len(batch), err
		}
		return done, nil
	}
	again, err := rewind()
	if err != nil {
		return 0, err
	}
	err = forEachFeature(again, func(i int, raw json.RawMessage) error {
		o, err := featureObservation(raw, now, timeProp)
		if err != nil {
			return fmt.Errorf("feature %d changed between the two reads: %w", i, err)
		}
		b, err := o.Encode()
		if err != nil {
			return err
		}
		batch = append(batch, b)
		done++
		if len(batch) == importChunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return done - len(batch), err
	}
	if err := flush(); err != nil {
		return done - len(batch), err
	}
	return done, nil
}

func featureObservation(raw json.RawMessage, now, timeProp string) (*observation.Observation, error) {
	var f struct {
		Type       string                     `json:"type"`
		ID         json.RawMessage            `json:"id"`
		Geometry   json.RawMessage            `json:"geometry"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("not a Feature: %v: %w", err, observation.ErrInvalid)
	}
	if f.Type != "Feature" {
		return nil, fmt.Errorf("type is %q, not \"Feature\": %w", f.Type, observation.ErrInvalid)
	}
	if len(f.Geometry) == 0 || string(f.Geometry) == "null" {
		return nil, fmt.Errorf("no geometry: %w", observation.ErrInvalid)
	}
	g, err := geo.Parse(f.Geometry)
	if err != nil {
		return nil, fmt.Errorf("geometry: %w", err)
	}
	o := &observation.Observation{ID: NewID(), Created: now, Updated: now, Geometry: &g, Tags: map[string]observation.Tag{}}
	for k, v := range f.Properties {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			continue
		}
		var t observation.Tag
		if err := json.Unmarshal(v, &t); err != nil {
			return nil, fmt.Errorf("property %q: %w", k, err)
		}
		o.Tags[k] = t
	}
	if len(f.ID) > 0 && string(f.ID) != "null" {
		var s string
		if json.Unmarshal(f.ID, &s) != nil {
			if n, err := strconv.ParseFloat(string(f.ID), 64); err == nil {
				s = strconv.FormatFloat(n, 'f', -1, 64)
			} else {
				return nil, fmt.Errorf("id must be a string or a number: %w", observation.ErrInvalid)
			}
		}
		o.Tags["import_id"] = observation.String(s)
	}
	if timeProp != "" {
		if t, ok := o.Tags[timeProp].Value().(string); ok {
			when, err := parseWhen(t)
			if err != nil {
				return nil, fmt.Errorf("property %q: %w", timeProp, err)
			}
			o.Created, o.Updated = when, when
		}
	}
	o.Type, o.Schema = observation.TypeObservation, observation.Schema
	if _, err := o.Encode(); err != nil {
		return nil, err
	}
	return o, nil
}

// Import appends observations to this device's data core as one signed
// batch: all of them are stored, or none. progress, if set, is called as
// blocks are encoded.
func (p *Project) Import(obs []*observation.Observation, sync hypercore.SyncMode, progress func(done, total uint64)) error {
	blocks := make([][]byte, len(obs))
	for i, o := range obs {
		b, err := o.Encode()
		if err != nil {
			return fmt.Errorf("observation %d: %w", i, err)
		}
		blocks[i] = b
		if progress != nil && i%1024 == 0 {
			progress(uint64(i), uint64(len(obs)))
		}
	}
	data, err := p.OpenOwnCore(CoreData, sync)
	if err != nil {
		return err
	}
	defer data.Close()
	if _, err := data.Append(blocks...); err != nil {
		return fmt.Errorf("store %d observations: %w", len(blocks), err)
	}
	if progress != nil {
		progress(uint64(len(obs)), uint64(len(obs)))
	}
	return nil
}

// parseWhen reads an RFC 3339 time or a date into the canonical form.
func parseWhen(s string) (string, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(time.RFC3339Nano), nil
		}
	}
	return "", fmt.Errorf("%q is not an RFC 3339 time or a date: %w", s, observation.ErrInvalid)
}
