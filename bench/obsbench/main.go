// Command obsbench measures fieldsync's observation work the way
// shared/bench-comapeo measures CoMapeo core: creating observations one at
// a time (with and without fsync), importing many, indexing them, and
// listing 10,000 as JSON. Each subcommand prints one JSON line.
//
//	obsbench observe --n 1000 --sync os|fsync
//	obsbench import  --n 1000000
//	obsbench list    --n 10000
//
// and turns results into a table (see report.go):
//
//	go test -bench ... | obsbench gobench   # benchmark lines → JSON lines
//	node bench.mjs ... | obsbench wrap NAME # a CoMapeo RESULT line → JSON
//	obsbench table < results.jsonl          # medians and ratios, markdown
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: obsbench observe|import|list --n N [--sync os|fsync] | gobench | wrap NAME | table")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "gobench", "wrap", "table":
		check(tool(os.Args[1], os.Args[2:], os.Stdin, os.Stdout))
		return
	}
	fl := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	n := fl.Int("n", 1000, "observations")
	syncFlag := fl.String("sync", "os", "os or fsync")
	fsBin := fl.String("fieldsync", "", "export: the fieldsync binary whose `export geojson` is timed")
	fl.Parse(os.Args[2:])
	mode := hypercore.DurabilityOS
	if *syncFlag == "fsync" {
		mode = hypercore.DurabilityFsync
	}
	dir, err := os.MkdirTemp(os.Getenv("BENCH_TMPDIR"), "obsbench-")
	check(err)
	defer os.RemoveAll(dir)
	home, err := project.OpenHome(filepath.Join(dir, "home"))
	check(err)
	p, err := home.Create("bench", "bench")
	check(err)
	out := map[string]any{"bench": os.Args[1], "n": *n}
	switch os.Args[1] {
	case "observe":
		rng := rand.New(rand.NewPCG(1, 1))
		t := time.Now()
		for range *n {
			o := randomObs(rng)
			_, err := p.Write(o, nil, mode)
			check(err)
		}
		s := time.Since(t).Seconds()
		out["sync"], out["seconds"], out["obs_per_s"] = *syncFlag, round(s), round(float64(*n)/s)
	case "import":
		path := filepath.Join(dir, "in.geojsonl")
		writeFeatures(path, *n)
		f, err := os.Open(path)
		check(err)
		if path := os.Getenv("OBSBENCH_IMPORTPROFILE"); path != "" {
			pf, err := os.Create(path)
			check(err)
			check(pprof.StartCPUProfile(pf))
		}
		t := time.Now()
		got, err := p.ImportFeatures(context.Background(), f, "", hypercore.DurabilityOS, nil)
		check(err)
		imp := time.Since(t).Seconds()
		out["import_peak_rss_mb"] = peakRSS()
		if os.Getenv("OBSBENCH_IMPORTPROFILE") != "" {
			pprof.StopCPUProfile()
		}
		x, err := index.Open(p.IndexPath())
		check(err)
		dirs, err := p.CoreDirs()
		check(err)
		if path := os.Getenv("OBSBENCH_CPUPROFILE"); path != "" {
			pf, err := os.Create(path)
			check(err)
			check(pprof.StartCPUProfile(pf))
			defer pprof.StopCPUProfile()
		}
		t = time.Now()
		_, err = x.Update(context.Background(), dirs)
		check(err)
		idx := time.Since(t).Seconds()
		x.Close()
		out["imported"], out["import_s"], out["import_obs_per_s"] = got, round(imp), round(float64(got)/imp)
		out["index_s"], out["index_obs_per_s"] = round(idx), round(float64(got)/idx)
		out["import_plus_index_obs_per_s"] = round(float64(got) / (imp + idx))
		out["peak_rss_mb"] = peakRSS()
		if *fsBin != "" {
			// Export them all as GeoJSON with the CLI, in its own process:
			// its peak RSS is the export's alone.
			dst := filepath.Join(dir, "out.geojson")
			cmd := exec.Command(*fsBin, "--home", filepath.Join(dir, "home"), "export", "geojson", "-o", dst)
			cmd.Stderr = os.Stderr
			t = time.Now()
			check(cmd.Start())
			// The child's own high-water mark (rusage would include this
			// process's, which Linux carries across fork): VmHWM, read
			// until it exits; it only grows.
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			hwm := 0.0
		poll:
			for {
				if v := vmHWM(cmd.Process.Pid); v > hwm {
					hwm = v
				}
				select {
				case err := <-done:
					check(err)
					break poll
				case <-time.After(20 * time.Millisecond):
				}
			}
			exp := time.Since(t).Seconds()
			st, err := os.Stat(dst)
			check(err)
			out["export_s"], out["export_obs_per_s"] = round(exp), round(float64(got)/exp)
			out["export_mb"], out["export_peak_rss_mb"] = round(float64(st.Size())/(1<<20)), round(hwm)
		}
	case "list":
		rng := rand.New(rand.NewPCG(2, 2))
		obs := make([]*record.Observation, *n)
		for i := range obs {
			obs[i] = randomObs(rng)
		}
		check(p.Import(obs, hypercore.DurabilityOS, nil))
		x, err := index.Open(p.IndexPath())
		check(err)
		dirs, err := p.CoreDirs()
		check(err)
		_, err = x.Update(context.Background(), dirs)
		check(err)
		var times []float64
		for range 5 {
			t := time.Now()
			items, err := x.Query(&query.Filter{}, 0)
			check(err)
			// As `list --format json` writes them.
			var buf bytes.Buffer
			check(index.WriteJSON(&buf, items))
			times = append(times, time.Since(t).Seconds()*1000)
			if len(items) != *n {
				check(fmt.Errorf("listed %d of %d", len(items), *n))
			}
		}
		x.Close()
		out["first_ms"], out["times_ms"] = round(times[0]), times
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func randomObs(rng *rand.Rand) *record.Observation {
	g, err := geo.NewPoint(rng.Float64()*360-180, rng.Float64()*170-85, nil)
	check(err)
	now := project.Now()
	return &record.Observation{Type: "observation", Schema: 1, ID: project.NewID(), Created: now, Updated: now, Geometry: &g,
		Tags: map[string]record.Tag{"category": record.String("mining"), "notes": record.String("a note"), "people": record.Number(float64(rng.IntN(9))), "confirmed": record.Bool(true)}}
}

func writeFeatures(path string, n int) {
	f, err := os.Create(path)
	check(err)
	rng := rand.New(rand.NewPCG(3, 3))
	w := &bytes.Buffer{}
	for i := range n {
		fmt.Fprintf(w, `{"type":"Feature","geometry":{"type":"Point","coordinates":[%.6f,%.6f]},"properties":{"category":"mining","notes":"a note","people":%d,"confirmed":true}}`+"\n",
			rng.Float64()*360-180, rng.Float64()*170-85, i%9)
		if w.Len() > 1<<20 {
			f.Write(w.Bytes())
			w.Reset()
		}
	}
	f.Write(w.Bytes())
	check(f.Close())
}

// vmHWM is a process's peak resident set (MiB) from /proc (0 if gone).
func vmHWM(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(rest), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

func round(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "obsbench:", err)
		os.Exit(1)
	}
}
