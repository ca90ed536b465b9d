package web

import (
	"bufio"
	"context"
	"io"
	"runtime"
	"sync"

	"github.com/fieldsync/fieldsync/export"
	"github.com/fieldsync/fieldsync/observations/index"
)

// streamBatch is how many observations a worker encodes at a time.
const streamBatch = 256

type batchOut struct {
	b   []byte // features, each preceded by ",\n"
	err error
}

type batchJob struct {
	items []index.Item
	out   chan batchOut
}

// streamGeoJSON writes the selection to w as export's GeoJSON writer
// does (the same bytes: one FeatureCollection, a feature a line, in the
// index's order), reading the index in order on this goroutine's
// helper while every CPU decodes records and encodes features.
func (s *Server) streamGeoJSON(ctx context.Context, w io.Writer, sel *selection) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(runtime.GOMAXPROCS(0), 1)
	jobs := make(chan batchJob)
	order := make(chan chan batchOut, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.out <- encodeBatch(j.items)
			}
		}()
	}
	// The reader: the index in order, the map's own filters applied here.
	scanErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(order)
		defer close(jobs)
		batch := make([]index.Item, 0, streamBatch)
		send := func() error {
			out := make(chan batchOut, 1)
			select {
			case order <- out:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case jobs <- batchJob{items: batch, out: out}:
			case <-ctx.Done():
				return ctx.Err()
			}
			batch = make([]index.Item, 0, streamBatch)
			return nil
		}
		err := s.cfg.Index.Each(sel.f, func(it *index.Item) error {
			if sel.extra() {
				o, err := it.Observation()
				if err != nil {
					return err
				}
				if !sel.match(it, o) {
					return nil
				}
			}
			batch = append(batch, *it)
			if len(batch) == streamBatch {
				return send()
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		scanErr <- err
	}()
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(`{"type":"FeatureCollection","features":[`)
	first := true
	var err error
	for out := range order {
		var res batchOut
		select {
		case res = <-out:
		case <-ctx.Done():
			res.err = ctx.Err()
		}
		if err != nil {
			continue // draining: let the reader finish
		}
		if res.err != nil {
			err = res.err
			cancel()
			continue
		}
		b := res.b
		if first && len(b) > 0 {
			b = b[1:] // no comma before the first feature
			first = false
		}
		if _, werr := bw.Write(b); werr != nil {
			err = werr
			cancel()
		}
	}
	wg.Wait()
	if serr := <-scanErr; err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

func encodeBatch(items []index.Item) batchOut {
	var b []byte
	for i := range items {
		it := &items[i]
		o, err := it.Observation()
		if err != nil {
			return batchOut{err: err}
		}
		f, err := export.Feature(exportRecord(it, o))
		if err != nil {
			return batchOut{err: err}
		}
		b = append(b, ",\n"...)
		b = append(b, f...)
	}
	return batchOut{b: b}
}
