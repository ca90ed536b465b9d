package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestServeChurn: a base station serves while three teammates keep
// recording and syncing with it (connections come and go all the time).
// Its goroutines must come back to where they were and its heap must
// stay flat. It runs 20 s by default; FIELDSYNC_CHURN=10m runs the long
// version (bench/churn.sh).
func TestServeChurn(t *testing.T) {
	dur := 20 * time.Second
	if v := os.Getenv("FIELDSYNC_CHURN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("FIELDSYNC_CHURN=%q: %v", v, err)
		}
		dur = d
	}
	team := newTeam(t, "base", "ana", "bea", "cai")
	base := team[0]
	srv := base.serve()
	state := func() serveState {
		t.Helper()
		var st serveState
		for range 50 {
			b, err := os.ReadFile(filepath.Join(base.home, "projects", "river", serveStateFile))
			if err == nil && json.Unmarshal(b, &st) == nil {
				return st
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("no serve.json")
		return st
	}
	time.Sleep(1500 * time.Millisecond)
	first := state()
	t.Logf("start: %d goroutines, heap %.1f MB", first.Goroutines, first.HeapMB)
	end := time.Now().Add(dur)
	rounds := 0
	var samples []serveState
	for time.Now().Before(end) {
		for _, d := range team[1:] {
			d.must("observe", "--lat", "-3", "--lon", fmt.Sprint(-60-float64(rounds)/1000), "--tag", "round="+fmt.Sprint(rounds))
			if code, sum, errs := d.sync("--peer", srv.addr(), "--timeout", "30s"); code != 0 {
				t.Fatalf("round %d: sync exit %d %v %s", rounds, code, sum, errs)
			}
		}
		rounds++
		if rounds%10 == 0 {
			samples = append(samples, state())
		}
	}
	time.Sleep(1500 * time.Millisecond) // every connection has ended
	last := state()
	t.Logf("after %d rounds (%d syncs) in %v: %d goroutines, heap %.1f MB; samples (goroutines/heap MB):", rounds, 3*rounds, dur, last.Goroutines, last.HeapMB)
	for _, s := range samples {
		t.Logf("  %d / %.1f", s.Goroutines, s.HeapMB)
	}
	if len(last.Peers) != 0 {
		t.Fatalf("%d peers still connected", len(last.Peers))
	}
	if last.Goroutines > first.Goroutines+5 {
		t.Fatalf("goroutines %d at the start, %d at the end: a leak", first.Goroutines, last.Goroutines)
	}
	if last.HeapMB > first.HeapMB+32 {
		t.Fatalf("heap %.1f MB at the start, %.1f MB at the end", first.HeapMB, last.HeapMB)
	}
	if n := len(base.ids()); n != 3*rounds {
		t.Fatalf("base lists %d observations, want %d", n, 3*rounds)
	}
	srv.stop(t)
}
