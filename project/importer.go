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
// feature's index.
func ParseFeatures(r io.Reader, timeProp string) ([]*observation.Observation, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	first, err := firstNonSpace(br)
	if err != nil {
		return nil, fmt.Errorf("empty input: %w", observation.ErrInvalid)
	}
	var raws []json.RawMessage
	if first == '{' {
		dec := json.NewDecoder(br)
		for {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err == io.EOF {
				break
			} else if err != nil {
				return nil, fmt.Errorf("feature %d: not JSON: %v: %w", len(raws), err, observation.ErrInvalid)
			}
			raws = append(raws, raw)
		}
	} else {
		return nil, fmt.Errorf("not GeoJSON (a FeatureCollection, a Feature or one Feature per line): %w", observation.ErrInvalid)
	}
	// One object that is a FeatureCollection: its features.
	if len(raws) == 1 {
		var fc struct {
			Type     string            `json:"type"`
			Features []json.RawMessage `json:"features"`
		}
		if json.Unmarshal(raws[0], &fc) == nil && fc.Type == "FeatureCollection" {
			raws = fc.Features
		}
	}
	now := Now()
	out := make([]*observation.Observation, 0, len(raws))
	for i, raw := range raws {
		o, err := featureObservation(raw, now, timeProp)
		if err != nil {
			return nil, fmt.Errorf("feature %d: %w", i, err)
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no features: %w", observation.ErrInvalid)
	}
	return out, nil
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
