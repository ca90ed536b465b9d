package project

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/record"
)

// ParseFeatures reads GeoJSON: a FeatureCollection, a single Feature, or
// newline-delimited Features, and makes one new observation per feature
// (properties become tags; a feature id is kept as the tag "import_id";
// null properties are dropped). If timeProp names a property holding an
// RFC 3339 time or a date, it sets the observation's created and updated
// times (else: now). Any invalid feature fails the whole read, naming the
// feature's index. It holds every observation in memory: ImportFeatures
// streams.
func ParseFeatures(r io.Reader, timeProp string) ([]*record.Observation, error) {
	now := Now()
	var out []*record.Observation
	err := forEachFeature(r, func(i int, raw json.RawMessage) error {
		o, _, err := featureObservation(raw, now, timeProp)
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
		return fmt.Errorf("empty input: %w", record.ErrInvalid)
	} else if first != '{' {
		return fmt.Errorf("not GeoJSON (a FeatureCollection, a Feature or one Feature per line): %w", record.ErrInvalid)
	}
	dec := json.NewDecoder(br)
	n := 0
	bad := func(err error) error {
		return fmt.Errorf("feature %d: not JSON: %v: %w", n, err, record.ErrInvalid)
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
			return fmt.Errorf("feature %d: not a JSON object: %w", n, record.ErrInvalid)
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
					return fmt.Errorf(`"features" is not an array: %w`, record.ErrInvalid)
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
		return fmt.Errorf("no features: %w", record.ErrInvalid)
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

// importChunk is how many observations a streamed import writes at a time
// (all of them are then signed once).
const importChunk = 10000

// importMemory is how many bytes of encoded records an import keeps in
// memory between its check and its write; beyond it they wait in a
// temporary file.
const importMemory = 64 << 20

// parseBatch is how many features are handed to the CPUs at a time.
const parseBatch = 2048

// ImportFeatures imports GeoJSON features from in (see ParseFeatures)
// without holding them all: a first pass checks and encodes every feature
// on every CPU (one invalid feature: nothing is written), keeping the
// records in memory up to 64 MiB and in a temporary file in the project's
// directory beyond; then they are written 10,000 at a time and signed
// once, as one batch (see appendSpooled). The input is read once. It
// returns how many were imported.
//
// Cancelling ctx, a failure or a killed process leaves the data core as it
// was: nothing of the import is visible until all of it is.
func (p *Project) ImportFeatures(ctx context.Context, in io.Reader, timeProp string, dur hypercore.Durability, progress func(done, total uint64)) (int, error) {
	return p.importFeatures(ctx, in, timeProp, dur, progress, importMemory)
}

func (p *Project) importFeatures(ctx context.Context, in io.Reader, timeProp string, dur hypercore.Durability, progress func(done, total uint64), memory int) (int, error) {
	recs := &spool{dir: p.Dir, memory: memory}
	defer recs.close()
	total, err := checkFeatures(ctx, in, timeProp, recs)
	if err != nil {
		return 0, err
	}
	return p.appendSpooled(ctx, recs, total, dur, progress)
}

// checkFeatures is the first pass of an import: every feature of in is
// checked and encoded (on every CPU) into recs. It returns how many.
func checkFeatures(ctx context.Context, in io.Reader, timeProp string, recs *spool) (int, error) {
	now := Now()
	total := 0
	err := forEachFeatureBatch(in, parseBatch, func(first int, raws []json.RawMessage) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		out := make([][]byte, len(raws))
		errs := make([]error, len(raws))
		parallel(len(raws), func(i int) {
			_, out[i], errs[i] = featureObservation(raws[i], now, timeProp)
		})
		for i, err := range errs {
			if err != nil {
				return fmt.Errorf("feature %d: %w", first+i, err)
			}
		}
		for _, b := range out {
			if err := recs.add(b); err != nil {
				return err
			}
		}
		total += len(raws)
		return nil
	})
	return total, err
}

// appendSpooled is the second pass of an import: the checked records are
// appended in batches of 10,000 as ONE signed batch (hypercore's
// AppendStream): the core's head is signed and written once, after the
// last batch, so a failure, a cancelled ctx or a killed process between
// batches leaves nothing visible — not here, not to teammates — while
// memory holds one batch at a time. progress is called after each batch
// is written (before the whole is visible).
func (p *Project) appendSpooled(ctx context.Context, recs *spool, total int, dur hypercore.Durability, progress func(done, total uint64)) (int, error) {
	data, err := p.OpenOwnCore(record.KindData, dur)
	if err != nil {
		return 0, err
	}
	defer data.Close()
	next := recs.reader()
	batch := make([][]byte, 0, importChunk)
	_, err = data.AppendStream(func() ([][]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch = batch[:0]
		for len(batch) < importChunk {
			b, err := next()
			if err != nil {
				return nil, err
			}
			if b == nil {
				break
			}
			batch = append(batch, b)
		}
		return batch, nil
	}, func(done uint64) error {
		if progress != nil {
			progress(done, uint64(total))
		}
		return ctx.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("store %d observations (none was stored): %w", total, err)
	}
	return total, nil
}

// spool keeps encoded records in order: in memory up to memory bytes,
// then in a temporary file (length-prefixed) that close removes.
type spool struct {
	dir    string
	memory int
	mem    [][]byte
	size   int
	file   *os.File
	w      *bufio.Writer
}

func (s *spool) add(b []byte) error {
	if s.file == nil && s.size+len(b) <= s.memory {
		s.mem = append(s.mem, b)
		s.size += len(b)
		return nil
	}
	if s.file == nil {
		f, err := os.CreateTemp(s.dir, "import-*.tmp")
		if err != nil {
			return fmt.Errorf("import: temporary file: %w", err)
		}
		s.file, s.w = f, bufio.NewWriterSize(f, 1<<20)
	}
	var n [binary.MaxVarintLen64]byte
	s.w.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("import: temporary file: %w", err)
	}
	return nil
}

// reader returns the records in the order added, one per call, then nil.
func (s *spool) reader() func() ([]byte, error) {
	i := 0
	var r *bufio.Reader
	return func() ([]byte, error) {
		if i < len(s.mem) {
			i++
			return s.mem[i-1], nil
		}
		if s.file == nil {
			return nil, nil
		}
		if r == nil {
			if err := s.w.Flush(); err != nil {
				return nil, fmt.Errorf("import: temporary file: %w", err)
			}
			if _, err := s.file.Seek(0, io.SeekStart); err != nil {
				return nil, fmt.Errorf("import: temporary file: %w", err)
			}
			r = bufio.NewReaderSize(s.file, 1<<20)
		}
		n, err := binary.ReadUvarint(r)
		if err == io.EOF {
			return nil, nil
		}
		if err != nil || n > hypercore.MaxBlockSize {
			return nil, fmt.Errorf("import: temporary file damaged: %v", err)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("import: temporary file damaged: %w", err)
		}
		return b, nil
	}
}

func (s *spool) close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
}

// forEachFeatureBatch is forEachFeature in batches of up to n features:
// fn gets the index of the first. The features of the next batch are
// read while fn works on one.
func forEachFeatureBatch(r io.Reader, n int, fn func(first int, raws []json.RawMessage) error) error {
	type batch struct {
		first int
		raws  []json.RawMessage
	}
	batches := make(chan batch, 1)
	stop := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		cur := batch{}
		send := func() bool {
			select {
			case batches <- cur:
				return true
			case <-stop:
				return false
			}
		}
		errStopped := errors.New("stopped")
		err := forEachFeature(r, func(i int, raw json.RawMessage) error {
			if len(cur.raws) == 0 {
				cur.first = i
			}
			cur.raws = append(cur.raws, raw)
			if len(cur.raws) == n {
				if !send() {
					return errStopped
				}
				cur = batch{}
			}
			return nil
		})
		if err == nil && len(cur.raws) > 0 {
			send()
		}
		readErr <- err
	}()
	var fnErr error
	for b := range batches {
		if fnErr == nil {
			if fnErr = fn(b.first, b.raws); fnErr != nil {
				close(stop)
			}
		}
	}
	err := <-readErr
	if fnErr != nil {
		return fnErr
	}
	return err
}

// parallel calls fn(0..n-1) on every CPU.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// featureObservation makes the observation of one feature and its block.
func featureObservation(raw json.RawMessage, now, timeProp string) (*record.Observation, []byte, error) {
	var f struct {
		Type       string                     `json:"type"`
		ID         json.RawMessage            `json:"id"`
		Geometry   json.RawMessage            `json:"geometry"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, nil, fmt.Errorf("not a Feature: %v: %w", err, record.ErrInvalid)
	}
	if f.Type != "Feature" {
		return nil, nil, fmt.Errorf("type is %q, not \"Feature\": %w", f.Type, record.ErrInvalid)
	}
	if len(f.Geometry) == 0 || string(f.Geometry) == "null" {
		return nil, nil, fmt.Errorf("no geometry: %w", record.ErrInvalid)
	}
	g, err := geo.Parse(f.Geometry)
	if err != nil {
		return nil, nil, fmt.Errorf("geometry: %w", err)
	}
	o := &record.Observation{ID: NewID(), Created: now, Updated: now, Geometry: &g, Tags: map[string]record.Tag{}}
	for k, v := range f.Properties {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			continue
		}
		var t record.Tag
		if err := json.Unmarshal(v, &t); err != nil {
			return nil, nil, fmt.Errorf("property %q: %w", k, err)
		}
		o.Tags[k] = t
	}
	if len(f.ID) > 0 && string(f.ID) != "null" {
		var s string
		if json.Unmarshal(f.ID, &s) != nil {
			if n, err := strconv.ParseFloat(string(f.ID), 64); err == nil {
				s = strconv.FormatFloat(n, 'f', -1, 64)
			} else {
				return nil, nil, fmt.Errorf("id must be a string or a number: %w", record.ErrInvalid)
			}
		}
		o.Tags["import_id"] = record.String(s)
	}
	if timeProp != "" {
		if t, ok := o.Tags[timeProp].Value().(string); ok {
			when, err := parseWhen(t)
			if err != nil {
				return nil, nil, fmt.Errorf("property %q: %w", timeProp, err)
			}
			o.Created, o.Updated = when, when
		}
	}
	o.Type, o.Schema = record.TypeObservation, record.Schema
	b, err := o.Encode()
	if err != nil {
		return nil, nil, err
	}
	if len(b) > hypercore.MaxBlockSize {
		return nil, nil, fmt.Errorf("too large to store: %d bytes as a record, more than the %d allowed: %w", len(b), hypercore.MaxBlockSize, record.ErrInvalid)
	}
	return o, b, nil
}

// Import appends observations to this device's data core as one signed
// batch: all of them are stored, or none. progress, if set, is called as
// blocks are encoded.
func (p *Project) Import(obs []*record.Observation, dur hypercore.Durability, progress func(done, total uint64)) error {
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
	data, err := p.OpenOwnCore(record.KindData, dur)
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
	return "", fmt.Errorf("%q is not an RFC 3339 time or a date: %w", s, record.ErrInvalid)
}
