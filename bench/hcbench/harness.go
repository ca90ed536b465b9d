package main

// The compare harness: runs every case of the JS reference (node append.mjs
// / verify-cost.mjs from an installed copy of bench/js) and of this program
// (Go, durability os and fsync) alternately, each run a fresh process,
// rounds interleaved, with run-all.mjs's quiet-machine guard; then prints
// medians and Go/JS ratios as a markdown table.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// benchCase is one workload, run by every variant.
type benchCase struct {
	name        string
	kind        string // "append", "verify-cost" or "replicate"
	count, size int
	batch       int
	enc         bool // blocks encrypted with benchEncKey (hypercore's encryption option)
}

// benchEncKey is the encryption key of the encrypted cases.
const benchEncKey = "abababababababababababababababababababababababababababababababab" // letters: common.mjs parseArgs turns digit strings into numbers

func (c benchCase) encArgs() []string {
	if !c.enc {
		return nil
	}
	return []string{"--encryption-key", benchEncKey}
}

func (c benchCase) jsArgs(dir string) []string {
	switch c.kind {
	case "append":
		return append([]string{filepath.Join(dir, "append.mjs"), "--count", strconv.Itoa(c.count), "--size", strconv.Itoa(c.size), "--batch", strconv.Itoa(c.batch)}, c.encArgs()...)
	case "replicate":
		return append([]string{filepath.Join(dir, "replicate-tcp.mjs"), "--count", strconv.Itoa(c.count), "--size", strconv.Itoa(c.size)}, c.encArgs()...)
	default:
		return []string{filepath.Join(dir, "verify-cost.mjs"), "--count", strconv.Itoa(c.count), "--size", strconv.Itoa(c.size)}
	}
}

func (c benchCase) goArgs(durability string) []string {
	switch c.kind {
	case "append":
		return append([]string{"append", "--count", strconv.Itoa(c.count), "--size", strconv.Itoa(c.size), "--batch", strconv.Itoa(c.batch), "--sync", durability}, c.encArgs()...)
	default:
		return []string{"verify-cost", "--count", strconv.Itoa(c.count), "--size", strconv.Itoa(c.size)}
	}
}

// variant is who runs a case: JS, Go without fsync, Go with fsync; for
// replication, pair names the writer and reader ("go-js": a Go writer
// serving a JS reader), run by `hcbench replicate`.
type variant struct{ impl, durability, pair string }

func (v variant) label() string {
	switch {
	case v.pair == "go-go":
		return "go-os" // the Go column of the main table
	case v.pair != "":
		return v.pair
	case v.impl == "js":
		return "js"
	}
	return "go-" + v.durability
}

var (
	vJS      = variant{"js", "os", ""}
	vGoOS    = variant{"go", "os", ""}
	vGoFsync = variant{"go", "fsync", ""}
	// Replication pairs besides the JS reference (replicate-tcp.mjs):
	// Go→Go, the two mixed pairs, and peer.mjs on both sides (the same
	// JS stack as replicate-tcp.mjs, through the interop harness).
	vPairs = []variant{{"go", "os", "go-go"}, {"mixed", "os", "js-go"}, {"mixed", "os", "go-js"}, {"js", "os", "js-js"}}
)

// variants of a case. Reads do not depend on the durability of the
// appends, so verify-cost runs once per implementation.
func (c benchCase) variants(skipFsync bool) []variant {
	if c.kind == "replicate" {
		return append([]variant{vJS}, vPairs...)
	}
	if c.kind == "append" && !skipFsync {
		return []variant{vJS, vGoOS, vGoFsync}
	}
	return []variant{vJS, vGoOS}
}

// figure is one row of the table.
type figure struct {
	caseName string
	field    string
	label    string
	lowerIs  bool    // a time: the ratio is JS/Go so that > 1 means Go is faster
	ratioMin float64 // target: Go(os)/JS >= ratioMin (0: none)
	absMin   float64 // target: Go(os) >= absMin (0: none)
}

func cases(quick bool) []benchCase {
	k := 1
	if quick {
		k = 10
	}
	return []benchCase{
		{"append-1k-single", "append", 100000 / k, 1024, 1, false},
		{"append-1k-batch100", "append", 100000 / k, 1024, 100, false},
		{"append-64k-single", "append", 10000 / k, 65536, 1, false},
		{"append-64k-batch100", "append", 10000 / k, 65536, 100, false},
		{"verify-cost-1k", "verify-cost", 100000 / k, 1024, 0, false},
		{"replicate-1k", "replicate", 100000 / k, 1024, 0, false},
		{"replicate-64k", "replicate", 10000 / k, 65536, 0, false},
		{"append-enc-1k-single", "append", 100000 / k, 1024, 1, true},
		{"append-enc-1k-batch100", "append", 100000 / k, 1024, 100, true},
		{"append-enc-64k-single", "append", 10000 / k, 65536, 1, true},
		{"append-enc-64k-batch100", "append", 10000 / k, 65536, 100, true},
		{"replicate-enc-1k", "replicate", 100000 / k, 1024, 0, true},
		{"replicate-enc-64k", "replicate", 10000 / k, 65536, 0, true},
	}
}

var figures = []figure{
	{caseName: "append-1k-single", field: "blocks_per_s", label: "append 1 KiB, one at a time (blocks/s)", ratioMin: 3},
	{caseName: "append-1k-batch100", field: "blocks_per_s", label: "append 1 KiB, batches of 100 (blocks/s)", ratioMin: 3},
	{caseName: "append-64k-single", field: "mb_per_s", label: "append 64 KiB, one at a time (MB/s)", ratioMin: 3},
	{caseName: "append-64k-batch100", field: "mb_per_s", label: "append 64 KiB, batches of 100 (MB/s)", ratioMin: 3},
	{caseName: "verify-cost-1k", field: "open_s", label: "cold open (s, lower is better)", lowerIs: true},
	{caseName: "verify-cost-1k", field: "get_seq_blocks_per_s", label: "sequential get 1 KiB (blocks/s)"},
	{caseName: "verify-cost-1k", field: "open_plus_get_seq_s", label: "cold open + sequential get of all (s, lower is better)", lowerIs: true},
	{caseName: "verify-cost-1k", field: "audit_blocks_per_s", label: "full verify / audit 1 KiB (blocks/s)", absMin: 250000},
	{caseName: "replicate-1k", field: "blocks_per_s", label: "replicate 1 KiB over TCP, Go→Go vs JS→JS (blocks/s)", ratioMin: 10},
	{caseName: "replicate-1k", field: "time_to_first_block_s", label: "time to first block (s, lower is better)", lowerIs: true},
	{caseName: "replicate-64k", field: "mb_per_s", label: "replicate 64 KiB over TCP, Go→Go vs JS→JS (MB/s)", ratioMin: 4},
	{caseName: "replicate-64k", field: "time_to_first_block_s", label: "time to first block (s, lower is better)", lowerIs: true},
	{caseName: "append-enc-1k-single", field: "blocks_per_s", label: "encrypted append 1 KiB, one at a time (blocks/s)", ratioMin: 3},
	{caseName: "append-enc-1k-batch100", field: "blocks_per_s", label: "encrypted append 1 KiB, batches of 100 (blocks/s)", ratioMin: 3},
	{caseName: "append-enc-64k-single", field: "mb_per_s", label: "encrypted append 64 KiB, one at a time (MB/s)", ratioMin: 3},
	{caseName: "append-enc-64k-batch100", field: "mb_per_s", label: "encrypted append 64 KiB, batches of 100 (MB/s)", ratioMin: 3},
	{caseName: "replicate-enc-1k", field: "blocks_per_s", label: "replicate encrypted 1 KiB over TCP, Go→Go vs JS→JS (blocks/s)", ratioMin: 3},
	{caseName: "replicate-enc-64k", field: "mb_per_s", label: "replicate encrypted 64 KiB over TCP, Go→Go vs JS→JS (MB/s)", ratioMin: 3},
}

type harness struct {
	jsDir, self, node string
	fieldsync         string // the fieldsync binary (replication pairs)
	quietWait         time.Duration
	quietBusy         float64
	maxForeign        float64
	retries           int
	deadline          time.Time
	timeout           time.Duration
	tick              float64
	ncpu              int
	out               *os.File
}

func cmdCompare(args []string) error {
	fl := flag.NewFlagSet("compare", flag.ExitOnError)
	jsDir := fl.String("js-dir", "", "directory with the JS bench scripts and their node_modules (required)")
	node := fl.String("node", "node", "Node.js executable")
	runs := fl.Int("runs", 0, "runs of every case and variant (default 3; 1 with --quick)")
	quick := fl.Bool("quick", false, "smoke run: N / 10 in every case")
	only := fl.String("only", "", "comma-separated case names to run")
	outPath := fl.String("out", "hcbench-results.jsonl", "file for the raw JSON lines (one per attempt)")
	mdPath := fl.String("md", "", "also write the markdown table here (default: --out with .md)")
	skipFsync := fl.Bool("skip-fsync", false, "do not run the Go fsync variant")
	quietWait := fl.Float64("quiet-wait", 300, "max seconds to wait for a quiet machine before each run")
	quietBusy := fl.Float64("quiet-busy", 0.15, "machine busy fraction below which a second counts as quiet")
	maxForeign := fl.Float64("max-foreign", 0.10, "foreign CPU fraction above which a run is retried")
	retries := fl.Int("retries", 2, "retries of a contaminated run")
	deadline := fl.Float64("deadline", 3600, "seconds after which the harness stops waiting and retrying")
	timeout := fl.Float64("timeout", 1200, "seconds before one run is killed")
	goRev := fl.String("go-rev", "", "revision of the Go code under test, recorded in the results")
	fieldsync := fl.String("fieldsync", "", "fieldsync binary, for the replication cases")
	fl.Parse(args)
	if *jsDir == "" {
		return errors.New("--js-dir is required")
	}
	if *runs <= 0 {
		*runs = 3
		if *quick {
			*runs = 1
		}
	}
	if *mdPath == "" {
		*mdPath = strings.TrimSuffix(*outPath, filepath.Ext(*outPath)) + ".md"
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	all := cases(*quick)
	var sel []benchCase
	for _, c := range all {
		if *only == "" || slices.Contains(strings.Split(*only, ","), c.name) {
			sel = append(sel, c)
		}
	}
	if len(sel) == 0 {
		return fmt.Errorf("no case selected by --only %q", *only)
	}
	for _, c := range sel {
		if c.kind == "replicate" && *fieldsync == "" {
			return fmt.Errorf("case %s needs --fieldsync", c.name)
		}
	}
	out, err := os.Create(*outPath)
	if err != nil {
		return err
	}
	defer out.Close()
	h := &harness{
		jsDir: *jsDir, self: self, node: *node, fieldsync: *fieldsync,
		quietWait:  time.Duration(*quietWait * float64(time.Second)),
		quietBusy:  *quietBusy,
		maxForeign: *maxForeign,
		retries:    *retries,
		deadline:   time.Now().Add(time.Duration(*deadline * float64(time.Second))),
		timeout:    time.Duration(*timeout * float64(time.Second)),
		tick:       clkTck(),
		ncpu:       runtime.NumCPU(),
		out:        out,
	}

	info := h.machineInfo(*quick, *runs)
	info["go_rev"] = *goRev
	if err := writeJSONLine(out, info); err != nil {
		return err
	}
	logf("hcbench compare: %d case(s) × %d run(s); results to %s", len(sel), *runs, *outPath)

	// results[case][variant] = kept runs
	results := map[string]map[string][]map[string]any{}
	failures := 0
	for r := 1; r <= *runs; r++ {
		for ci, c := range sel {
			vs := c.variants(*skipFsync)
			// Rotate the order every round and case so no variant always runs
			// first (right after the previous case) or last.
			rot := (r - 1 + ci) % len(vs)
			vs = append(vs[rot:], vs[:rot]...)
			for _, v := range vs {
				kept, err := h.runBest(c, v, r)
				if err != nil {
					failures++
					logf("[%s %s run %d] FAILED: %v", c.name, v.label(), r, err)
					continue
				}
				if results[c.name] == nil {
					results[c.name] = map[string][]map[string]any{}
				}
				results[c.name][v.label()] = append(results[c.name][v.label()], kept)
			}
		}
	}

	md := renderTable(sel, results, info, *quick, *skipFsync)
	fmt.Print(md)
	if err := os.WriteFile(*mdPath, []byte(md), 0o644); err != nil {
		return err
	}
	logf("raw JSON lines: %s; table: %s", *outPath, *mdPath)
	if failures > 0 {
		return fmt.Errorf("%d run(s) failed", failures)
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// runBest runs a case up to 1+retries times until the foreign CPU share is
// under the limit, writes every attempt to the results file and returns the
// cleanest one.
func (h *harness) runBest(c benchCase, v variant, run int) (map[string]any, error) {
	var best map[string]any
	var lastErr error
	var attempts []map[string]any
	for attempt := 1; attempt <= h.retries+1; attempt++ {
		obj, err := h.runOnce(c, v)
		if err != nil {
			lastErr = err
			logf("[%s %s run %d attempt %d] failed: %v", c.name, v.label(), run, attempt, err)
			continue
		}
		obj["case"], obj["run"], obj["attempt"] = c.name, run, attempt
		ff, _ := obj["foreign_frac"].(float64)
		logf("[%s %s run %d attempt %d] %.1f s wall, waited %v s, foreign %.3f", c.name, v.label(), run, attempt, obj["wall_s"], obj["waited_quiet_s"], ff)
		attempts = append(attempts, obj)
		if best == nil || ff < best["foreign_frac"].(float64) {
			best = obj
		}
		if ff <= h.maxForeign || time.Now().After(h.deadline) {
			break
		}
	}
	if best == nil {
		return nil, lastErr
	}
	best["contaminated"] = best["foreign_frac"].(float64) > h.maxForeign
	for _, a := range attempts {
		a["kept"] = sameRun(a, best)
		if err := writeJSONLine(h.out, a); err != nil {
			return nil, err
		}
	}
	return best, nil
}

func sameRun(a, b map[string]any) bool { return a["attempt"] == b["attempt"] }

// runOnce waits for a quiet machine, runs one fresh process and accounts
// the CPU time other processes used meanwhile.
func (h *harness) runOnce(c benchCase, v variant) (map[string]any, error) {
	waited := h.waitQuiet()
	var cmd *exec.Cmd
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	switch {
	case v.pair != "":
		cmd = exec.CommandContext(ctx, h.self, append([]string{"replicate", "--pair", v.pair, "--count", strconv.Itoa(c.count), "--size", strconv.Itoa(c.size),
			"--fieldsync", h.fieldsync, "--js-dir", h.jsDir, "--node", h.node}, c.encArgs()...)...)
	case v.impl == "js":
		cmd = exec.CommandContext(ctx, h.node, c.jsArgs(h.jsDir)...)
		cmd.Dir = h.jsDir
	default:
		cmd = exec.CommandContext(ctx, h.self, c.goArgs(v.durability)...)
	}
	var stdout strings.Builder
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	s0, ok0 := sysCPU()
	self0 := selfCPU()
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0).Seconds()
	s1, ok1 := sysCPU()
	self1 := selfCPU()
	if err != nil {
		return nil, fmt.Errorf("%v: %v\n%s", cmd.Args, err, tail(stderr.String(), 2000))
	}
	line := lastJSONLine(stdout.String())
	if line == nil {
		return nil, fmt.Errorf("%v printed no JSON line\n%s", cmd.Args, tail(stderr.String(), 2000))
	}
	obj := map[string]any{}
	if err := json.Unmarshal(line, &obj); err != nil {
		return nil, fmt.Errorf("%v: bad JSON line: %v", cmd.Args, err)
	}
	obj["impl"], obj["durability"] = v.impl, v.durability
	obj["wall_s"] = round(wall, 3)
	obj["waited_quiet_s"] = math.Round(waited.Seconds())
	// wait4's rusage covers the child and its reaped descendants.
	own := cpuOf(cmd.ProcessState) + self1 - self0
	obj["run_cpu_s"] = round(own, 2)
	if ok0 && ok1 {
		busy := float64(s1.busy-s0.busy) / h.tick
		foreign := math.Max(0, busy-own)
		obj["foreign_cpu_s"] = round(foreign, 2)
		obj["foreign_frac"] = round(foreign/(wall*float64(h.ncpu)), 3)
	} else {
		obj["foreign_cpu_s"], obj["foreign_frac"] = 0.0, 0.0
	}
	return obj, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

type cpuSample struct{ busy, total uint64 }

// sysCPU is the busy/total jiffies of all CPUs together (/proc/stat).
func sysCPU() (cpuSample, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuSample{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return cpuSample{}, false
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return cpuSample{}, false
	}
	var v [8]uint64
	for i := 0; i < 8 && i+1 < len(fields); i++ {
		v[i], _ = strconv.ParseUint(fields[i+1], 10, 64)
	}
	user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	busy := user + nice + system + irq + softirq + steal
	return cpuSample{busy, busy + idle + iowait}, true
}

// waitQuiet waits (at most quietWait, never past the deadline) until the
// machine has been less than quietBusy busy for 3 consecutive seconds.
func (h *harness) waitQuiet() time.Duration {
	t0 := time.Now()
	prev, ok := sysCPU()
	if !ok {
		return 0
	}
	quietFor := 0
	for time.Since(t0) < h.quietWait && time.Now().Before(h.deadline) {
		time.Sleep(time.Second)
		cur, _ := sysCPU()
		frac := float64(cur.busy-prev.busy) / math.Max(1, float64(cur.total-prev.total))
		prev = cur
		if frac < h.quietBusy {
			quietFor++
		} else {
			quietFor = 0
		}
		if quietFor >= 3 {
			break
		}
	}
	return time.Since(t0)
}

func clkTck() float64 {
	if b, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > 0 {
			return float64(v)
		}
	}
	return 100
}

// machineInfo is the first line of the results file.
func (h *harness) machineInfo(quick bool, runs int) map[string]any {
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	nodeV := ""
	if b, err := exec.Command(h.node, "--version").Output(); err == nil {
		nodeV = strings.TrimSpace(string(b))
	}
	js := map[string]any{}
	for _, p := range []string{"hypercore", "hypercore-storage", "rocksdb-native", "hypercore-crypto", "sodium-native"} {
		var pj struct{ Version string }
		if b, err := os.ReadFile(filepath.Join(h.jsDir, "node_modules", p, "package.json")); err == nil && json.Unmarshal(b, &pj) == nil {
			js[p] = pj.Version
		}
	}
	tmp := os.Getenv("BENCH_TMPDIR")
	if tmp == "" {
		tmp = os.TempDir()
	}
	host, _ := os.Hostname()
	return map[string]any{
		"harness":     "hcbench compare",
		"date":        time.Now().UTC().Format(time.RFC3339),
		"quick":       quick,
		"runs":        runs,
		"nproc":       h.ncpu,
		"cpu_model":   cpu,
		"host":        host,
		"go":          runtime.Version(),
		"node":        nodeV,
		"js_versions": js,
		"bench_tmp":   tmp,
		"guard": map[string]any{
			"quiet_wait_s": h.quietWait.Seconds(), "quiet_busy": h.quietBusy,
			"max_foreign": h.maxForeign, "retries": h.retries,
		},
	}
}

// ---- summary ----

type stat struct {
	median, min, max float64
	n, contaminated  int
}

func summarize(rows []map[string]any, field string) (stat, bool) {
	var xs []float64
	s := stat{}
	for _, r := range rows {
		x, ok := r[field].(float64)
		if !ok {
			continue
		}
		xs = append(xs, x)
		if c, _ := r["contaminated"].(bool); c {
			s.contaminated++
		}
	}
	if len(xs) == 0 {
		return s, false
	}
	slices.Sort(xs)
	n := len(xs)
	s.n, s.min, s.max = n, xs[0], xs[n-1]
	if n%2 == 1 {
		s.median = xs[n/2]
	} else {
		s.median = (xs[n/2-1] + xs[n/2]) / 2
	}
	return s, true
}

func fmtNum(x float64) string {
	ax := math.Abs(x)
	switch {
	case ax >= 1000:
		s := strconv.FormatInt(int64(math.Round(x)), 10)
		// thousands separators
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		var b strings.Builder
		for i, ch := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(ch)
		}
		if neg {
			return "-" + b.String()
		}
		return b.String()
	case ax >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case ax >= 0.01 || ax == 0:
		return strconv.FormatFloat(x, 'f', 3, 64)
	default:
		return strconv.FormatFloat(x, 'g', 2, 64) // small times: 0.00041
	}
}

func renderTable(sel []benchCase, results map[string]map[string][]map[string]any, info map[string]any, quick, skipFsync bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Hypercore: JS reference vs Go (%s)\n\n", info["date"])
	fmt.Fprintf(&b, "Go code: %v. Machine: %v × %v; %v; node %v (hypercore %v). Medians of %v run(s) per column, rounds interleaved, each run a fresh process. MB = 10^6 bytes.\n",
		info["go_rev"], info["nproc"], info["cpu_model"], info["go"], info["node"], info["js_versions"].(map[string]any)["hypercore"], info["runs"])
	b.WriteString("Durability: JS = os (RocksDB, no fsync per append); Go(os) = DurabilityOS (same durability as JS); Go(fsync) = DurabilityFsync (fdatasync of data and tree, then of the head, before each Append returns).\n")
	b.WriteString("Ratios are Go/JS speed-ups (for times: JS time / Go time), so > 1 means Go is faster. Targets apply to Go(os): ≥ 3× JS for appends, ≥ 250,000 blocks/s for full verify.\n")
	if quick {
		b.WriteString("**--quick run: N/10, 1 run — indicative only, not the targets' workload.**\n")
	}
	b.WriteString("\n| case | figure | JS median | Go(os) median | Go(fsync) median | Go(os)/JS | Go(fsync)/JS | target | met |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---|---|\n")
	inSel := map[string]bool{}
	for _, c := range sel {
		inSel[c.name] = true
	}
	ratio := func(f figure, goV, jsV float64) float64 {
		if f.lowerIs {
			return jsV / goV
		}
		return goV / jsV
	}
	var detail strings.Builder
	detail.WriteString("\n| case | figure | variant | median | min | max | runs | contaminated |\n|---|---|---|---:|---:|---:|---:|---:|\n")
	for _, f := range figures {
		if !inSel[f.caseName] {
			continue
		}
		rs := results[f.caseName]
		js, jsOK := summarize(rs["js"], f.field)
		gos, gosOK := summarize(rs["go-os"], f.field)
		gfs, gfsOK := summarize(rs["go-fsync"], f.field)
		cell := func(s stat, ok bool) string {
			if !ok {
				return "—"
			}
			t := fmtNum(s.median)
			if s.contaminated > 0 {
				t += fmt.Sprintf(" (%d contaminated)", s.contaminated)
			}
			return t
		}
		rcell := func(s stat, ok bool) string {
			if !ok || !jsOK || js.median == 0 || s.median == 0 {
				return "—"
			}
			return fmt.Sprintf("%.2f×", ratio(f, s.median, js.median))
		}
		target, met := "—", "—"
		switch {
		case f.ratioMin > 0:
			target = fmt.Sprintf("Go(os) ≥ %g× JS", f.ratioMin)
			if gosOK && jsOK {
				met = yesNo(ratio(f, gos.median, js.median) >= f.ratioMin)
			}
		case f.absMin > 0:
			target = "Go(os) ≥ " + fmtNum(f.absMin)
			if gosOK {
				met = yesNo(gos.median >= f.absMin)
			}
		}
		fsyncCell, fsyncRatio := cell(gfs, gfsOK), rcell(gfs, gfsOK)
		if !gfsOK && (skipFsync || strings.HasPrefix(f.caseName, "verify") || strings.HasPrefix(f.caseName, "replicate")) {
			fsyncCell, fsyncRatio = "n/a", "n/a"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			f.caseName, f.label, cell(js, jsOK), cell(gos, gosOK), fsyncCell, rcell(gos, gosOK), fsyncRatio, target, met)
		for _, vl := range allLabels {
			if s, ok := summarize(rs[vl], f.field); ok {
				fmt.Fprintf(&detail, "| %s | %s | %s | %s | %s | %s | %d | %d |\n", f.caseName, f.field, vl, fmtNum(s.median), fmtNum(s.min), fmtNum(s.max), s.n, s.contaminated)
			}
		}
	}
	b.WriteString(pairsTable(sel, results))
	b.WriteString("\nMedian, min and max of every figure:\n")
	b.WriteString(detail.String())
	// foreign CPU per run, for judging the figures
	b.WriteString("\nForeign CPU share per run (other processes' CPU / (wall × nproc)); runs above the limit were retried, the cleanest kept:\n\n")
	for _, c := range sel {
		for _, vl := range allLabels {
			rows := results[c.name][vl]
			if len(rows) == 0 {
				continue
			}
			var fs []string
			for _, r := range rows {
				fs = append(fs, fmt.Sprintf("%.3f", r["foreign_frac"]))
			}
			fmt.Fprintf(&b, "- %s %s: %s\n", c.name, vl, strings.Join(fs, ", "))
		}
	}
	return b.String()
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// allLabels are the variant labels, in table order.
var allLabels = []string{"js", "go-os", "go-fsync", "js-go", "go-js", "js-js"}

// pairsTable is the replication section: every writer→reader pair.
func pairsTable(sel []benchCase, results map[string]map[string][]map[string]any) string {
	var b strings.Builder
	for _, c := range sel {
		if c.kind != "replicate" {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("\nReplication over TCP on 127.0.0.1, every writer→reader pair (medians). JS→JS (ref) is replicate-tcp.mjs from shared/bench-js; the other rows run `fieldsync core serve` / `core download --durability os` and `peer.mjs serve` / `peer.mjs download` as separate processes (`hcbench replicate`). Times run from connecting to holding every block verified. Reader CPU of the CLI/peer.mjs rows also counts process start and re-reading every block to print blocksSha256; writer CPU is given where the writer only served (JS writers prepare their blocks in the same process).\n\n")
			b.WriteString("| case | writer→reader | blocks/s | MB/s | first block (s) | reader CPU (s) | writer CPU (s) | × JS→JS (ref) |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
		}
		ref, refOK := summarize(results[c.name]["js"], "blocks_per_s")
		for _, row := range []struct{ label, name string }{{"js", "JS→JS (ref)"}, {"go-os", "Go→Go"}, {"js-go", "JS→Go"}, {"go-js", "Go→JS"}, {"js-js", "JS→JS (peer.mjs)"}} {
			rs := results[c.name][row.label]
			if len(rs) == 0 {
				continue
			}
			cell := func(field string) string {
				if st, ok := summarize(rs, field); ok {
					return fmtNum(st.median)
				}
				return "—"
			}
			readerCPU, writerCPU := cell("reader_cpu_s"), cell("writer_cpu_s")
			if row.label == "js" {
				readerCPU = sumCell(rs, "reader_cpu_user_s", "reader_cpu_sys_s")
				writerCPU = sumCell(rs, "writer_cpu_user_s", "writer_cpu_sys_s")
			}
			ratio := "—"
			if bps, ok := summarize(rs, "blocks_per_s"); ok && refOK && ref.median > 0 {
				ratio = fmt.Sprintf("%.2f×", bps.median/ref.median)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", c.name, row.name, cell("blocks_per_s"), cell("mb_per_s"), cell("time_to_first_block_s"), readerCPU, writerCPU, ratio)
		}
	}
	return b.String()
}

// sumCell is the median over runs of a+b.
func sumCell(rows []map[string]any, a, b string) string {
	var sums []map[string]any
	for _, r := range rows {
		x, ok1 := r[a].(float64)
		y, ok2 := r[b].(float64)
		if ok1 && ok2 {
			sums = append(sums, map[string]any{"v": x + y, "foreign_frac": r["foreign_frac"], "contaminated": r["contaminated"]})
		}
	}
	if st, ok := summarize(sums, "v"); ok {
		return fmtNum(st.median)
	}
	return "—"
}
