package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// tool runs the report subcommands.
func tool(name string, args []string, in io.Reader, out io.Writer) error {
	switch name {
	case "gobench":
		return goBench(in, out)
	case "wrap":
		if len(args) != 1 {
			return fmt.Errorf("wrap NAME")
		}
		return wrap(args[0], in, out)
	default:
		return table(in, out)
	}
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+\d+ ns/op(.*)$`)

// goBench turns `go test -bench` lines with p50-ms/p99-ms metrics into
// {"bench":"query","case":"bbox/index","p50_ms":..,"p99_ms":..}.
func goBench(in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	n := 0
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		rec := map[string]any{"bench": "query", "case": strings.TrimPrefix(m[1], "BenchmarkQuery/")}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			rec[strings.NewReplacer("-", "_", "/", "_per_").Replace(f[i+1])] = v
		}
		b, _ := json.Marshal(rec)
		fmt.Fprintln(out, string(b))
		n++
	}
	if n == 0 {
		return fmt.Errorf("gobench: no benchmark lines")
	}
	return sc.Err()
}

// wrap turns CoMapeo's `RESULT {...}` line into a JSON line named name.
func wrap(name string, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "RESULT ")
		if !ok {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(rest), &rec); err != nil {
			return fmt.Errorf("wrap: %w", err)
		}
		rec["bench"] = name
		b, _ := json.Marshal(rec)
		_, err := fmt.Fprintln(out, string(b))
		return err
	}
	return fmt.Errorf("wrap: no RESULT line")
}

// table prints medians of the results and the ratios the issue asks for.
func table(in io.Reader, out io.Writer) error {
	var recs []map[string]any
	dec := json.NewDecoder(in)
	for {
		var r map[string]any
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("table: %w", err)
		}
		recs = append(recs, r)
	}
	// median of field over the records matching want.
	median := func(field string, want map[string]any) float64 {
		var v []float64
		for _, r := range recs {
			ok := true
			for k, w := range want {
				if r[k] != w {
					ok = false
				}
			}
			if f, isNum := r[field].(float64); ok && isNum {
				v = append(v, f)
			}
		}
		if len(v) == 0 {
			return math.NaN()
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	w := func(format string, a ...any) { fmt.Fprintf(out, format, a...) }
	ratio := func(a, b float64) string {
		if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f×", a/b)
	}
	w("| case | fieldsync | baseline | ratio | target |\n|---|---:|---:|---:|---|\n")
	cmSeq, cmPar := median("seqObsPerSec", map[string]any{"bench": "comapeo-create"}), median("parObsPerSec", map[string]any{"bench": "comapeo-create"})
	osRate := median("obs_per_s", map[string]any{"bench": "observe", "sync": "os"})
	fsRate := median("obs_per_s", map[string]any{"bench": "observe", "sync": "fsync"})
	w("| observe one at a time, no fsync (obs/s) | %.0f | CoMapeo create %.0f | %s | reported |\n", osRate, cmSeq, ratio(osRate, cmSeq))
	w("| observe one at a time, fsync each (obs/s) | %.0f | CoMapeo create %.0f | %s | reported |\n", fsRate, cmSeq, ratio(fsRate, cmSeq))
	imp := median("import_obs_per_s", map[string]any{"bench": "import"})
	w("| import N to the signed core (obs/s) | %.0f | CoMapeo batches %.0f | %s | ≥ 50,000 obs/s |\n", imp, cmPar, ratio(imp, cmPar))
	w("| index build after the import (obs/s) | %.0f | | | |\n", median("index_obs_per_s", map[string]any{"bench": "import"}))
	w("| import + index, end to end (obs/s) | %.0f | | | |\n", median("import_plus_index_obs_per_s", map[string]any{"bench": "import"}))
	w("| import peak RSS (MB); with the index build | %.0f; %.0f | | | |\n", median("import_peak_rss_mb", map[string]any{"bench": "import"}), median("peak_rss_mb", map[string]any{"bench": "import"}))
	w("| export N as GeoJSON, CLI (obs/s) | %.0f | | | |\n", median("export_obs_per_s", map[string]any{"bench": "import"}))
	w("| export peak RSS (MB) | %.0f | | | < 150 MB |\n", median("export_peak_rss_mb", map[string]any{"bench": "import"}))
	var listMs []float64
	for _, r := range recs {
		if r["bench"] == "list" {
			if ts, ok := r["times_ms"].([]any); ok {
				for _, t := range ts[1:] {
					listMs = append(listMs, t.(float64))
				}
			}
		}
	}
	list := math.NaN()
	if len(listMs) > 0 {
		slices.Sort(listMs)
		list = listMs[len(listMs)/2]
	}
	cmList := median("warmMedianMs", map[string]any{"bench": "comapeo-query"})
	cmFirst := median("firstMs", map[string]any{"bench": "comapeo-query"})
	first := median("first_ms", map[string]any{"bench": "list"})
	w("| list 10,000 as JSON, warm (ms) | %.1f | CoMapeo getMany %.0f | %s | ≥ 15× |\n", list, cmList, ratio(cmList, list))
	w("| list 10,000 as JSON, first call (ms) | %.1f | CoMapeo getMany %.0f | %s | |\n", first, cmFirst, ratio(cmFirst, first))
	for _, k := range []string{"bbox", "radius", "polygon"} {
		p50 := median("p50_ms", map[string]any{"bench": "query", "case": k + "/index"})
		p99 := median("p99_ms", map[string]any{"bench": "query", "case": k + "/index"})
		scan := median("p50_ms", map[string]any{"bench": "query", "case": k + "/scan-table"})
		w("| %s query, ~100 of N: p50 / p99 (ms) | %.2f / %.2f | table scan p50 %.0f | %s | p50 ≤ 2 ms, ≥ 100× |\n", k, p50, p99, scan, ratio(scan, p50))
	}
	return nil
}
