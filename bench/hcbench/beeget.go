package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/hyperbee"
)

// cmdBeeGet is the Go side of `node bee.mjs bench-get` (interop/jsbee): a
// bee of n keys "key-%08d" (value "value") in an on-disk core, then n gets
// in the same shuffled order (the same LCG), timed. One JSON line.
func cmdBeeGet(args []string) error {
	fl := flag.NewFlagSet("bee-get", flag.ExitOnError)
	n := fl.Int("n", 100000, "keys")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile of the timed gets to this file")
	fl.Parse(args)
	parent, err := tmpDir("hcbench-go-bee-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(parent)
	core, err := hypercore.Create(filepath.Join(parent, "bee"), hypercore.CreateOptions{Durability: hypercore.DurabilityOS})
	if err != nil {
		return err
	}
	defer core.Close()
	bee, err := hyperbee.Create(core, nil)
	if err != nil {
		return err
	}
	keys := make([][]byte, *n)
	w, err := bee.Batch()
	if err != nil {
		return err
	}
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key-%08d", i)
		if err := w.Put(keys[i], []byte("value")); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	// A fresh bee over the reopened core: no decoded block is cached, as
	// in the JS run, whose batch leaves its cache to the new session.
	if err := core.Close(); err != nil {
		return err
	}
	core, err = hypercore.Open(filepath.Join(parent, "bee"), hypercore.OpenOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	if bee, err = hyperbee.Open(core); err != nil {
		return err
	}
	x := int64(1)
	for i := len(keys) - 1; i > 0; i-- {
		x = (x*1103515245 + 12345) % 2147483648
		j := x % int64(i+1)
		keys[i], keys[j] = keys[j], keys[i]
	}
	if *cpuProfile != "" {
		stop, err := startProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	t0 := time.Now()
	for _, k := range keys {
		e, err := bee.Get(k)
		if err != nil {
			return err
		}
		if e == nil {
			return fmt.Errorf("bench get %q missing", k)
		}
	}
	ns := float64(time.Since(t0).Nanoseconds())
	return emit(map[string]any{"bench": "bee-get", "impl": "go", "n": *n, "nsPerGet": round(ns/float64(*n), 1)})
}
