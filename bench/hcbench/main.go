// Command hcbench benchmarks the Go hypercore package the way the JS
// reference benchmarks (bench/js, a copy of shared/bench-js) measure the JS
// Hypercore, so the two can be compared side by side.
//
//	hcbench append --count 100000 --size 1024 --batch 1 --sync os
//	hcbench verify-cost --count 100000 --size 1024
//	hcbench replicate --pair go-go --count 100000 --size 1024 --fieldsync BIN
//	hcbench compare --js-dir DIR --fieldsync BIN [--runs 3] [--quick] [--out results.jsonl]
//
// append and verify-cost each print exactly one JSON line with the field
// names of append.mjs / verify-cost.mjs where they overlap, plus impl "go"
// and durability "os" (DurabilityOS, like JS) or "fsync" (DurabilityFsync). compare
// is the harness that runs JS and Go alternately (see harness.go and
// bench/README.md). MB = 10^6 bytes.
package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "append":
		err = cmdAppend(os.Args[2:])
	case "verify-cost":
		err = cmdVerifyCost(os.Args[2:])
	case "bee-get":
		err = cmdBeeGet(os.Args[2:])
	case "compare":
		err = cmdCompare(os.Args[2:])
	case "replicate":
		err = cmdReplicate(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hcbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  hcbench append      --count N --size BYTES --batch B --sync os|fsync [--keep]
  hcbench verify-cost --count N --size BYTES [--prep-batch 100] [--no-audit]
  hcbench bee-get     --n N   (Hyperbee gets; bench/hyperbee.sh runs it against JS)
  hcbench replicate   --pair go-go|js-go|go-js|js-js --count N --size BYTES --fieldsync BIN --js-dir DIR
  hcbench compare     --js-dir DIR --fieldsync BIN [--runs 3] [--quick] [--out FILE] [--only a,b] ...`)
	os.Exit(2)
}

// ---- helpers shared with the JS scripts (common.mjs) ----

// tmpDir makes a temp dir under $BENCH_TMPDIR or the OS temp dir.
func tmpDir(prefix string) (string, error) {
	base := os.Getenv("BENCH_TMPDIR")
	if base == "" {
		base = os.TempDir()
	}
	return os.MkdirTemp(base, prefix)
}

// makeBlocks returns count distinct random (incompressible) blocks of size
// bytes, slices of one pool, like common.mjs makeBlocks.
func makeBlocks(count, size int) [][]byte {
	pool := make([]byte, count*size)
	var seed [32]byte
	ns := uint64(time.Now().UnixNano())
	for i := range 8 {
		seed[i] = byte(ns >> (8 * i))
	}
	rand.NewChaCha8(seed).Read(pool)
	out := make([][]byte, count)
	for i := range out {
		out[i] = pool[i*size : (i+1)*size : (i+1)*size]
	}
	return out
}

type diskInfo struct {
	Apparent  int64
	Allocated int64
	Files     int
	ByKind    map[string]int64
}

var kindRe = regexp.MustCompile(`\.([a-z]+)$`)
var numSuffix = regexp.MustCompile(`-\d+$`)

// diskUsage is common.mjs diskUsage: apparent and allocated bytes under dir.
func diskUsage(dir string) diskInfo {
	d := diskInfo{ByKind: map[string]int64{}}
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		d.Apparent += fi.Size()
		d.Allocated += allocated(fi)
		d.Files++
		kind := numSuffix.ReplaceAllString(e.Name(), "")
		if m := kindRe.FindStringSubmatch(e.Name()); m != nil {
			kind = m[1]
		}
		d.ByKind[kind] += fi.Size()
		return nil
	})
	return d
}

func round(x float64, d int) float64 {
	m := math.Pow(10, float64(d))
	return math.Round(x*m) / m
}

// rates is common.mjs rates.
func rates(count, size int, seconds float64) (s, blocks, mb, mib float64) {
	return round(seconds, 4), round(float64(count)/seconds, 1),
		round(float64(count*size)/seconds/1e6, 2), round(float64(count*size)/seconds/(1<<20), 2)
}

func emit(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(b, '\n'))
	return err
}

func parseDurability(s string) (hypercore.Durability, error) {
	switch s {
	case "os", "none":
		return hypercore.DurabilityOS, nil
	case "fsync", "always":
		return hypercore.DurabilityFsync, nil
	}
	return 0, fmt.Errorf("--sync must be os or fsync, not %q", s)
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }

// ---- append: the timed region of append.mjs ----

func cmdAppend(args []string) error {
	fl := flag.NewFlagSet("append", flag.ExitOnError)
	count := fl.Int("count", 100000, "blocks")
	size := fl.Int("size", 1024, "block size in bytes")
	batch := fl.Int("batch", 1, "blocks per Append call (1 = one call per block)")
	syncS := fl.String("sync", "os", "durability: os (DurabilityOS, as JS) or fsync (DurabilityFsync)")
	keep := fl.Bool("keep", false, "keep the core directory")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile of the timed region to this file")
	encHex := fl.String("encryption-key", "", "encrypt the blocks (AppendEncrypted) with this 32-byte key in hex")
	fl.Parse(args)
	durability, err := parseDurability(*syncS)
	if err != nil {
		return err
	}
	if *count <= 0 || *size <= 0 || *batch <= 0 {
		return fmt.Errorf("count, size and batch must be > 0")
	}

	blocks := makeBlocks(*count, *size)
	parent, err := tmpDir("hcbench-go-append-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(parent)
	}
	dir := filepath.Join(parent, "core")
	core, err := hypercore.Create(dir, hypercore.CreateOptions{Durability: durability})
	if err != nil {
		return err
	}
	appendBlocks := core.Append
	if *encHex != "" {
		key, err := hex.DecodeString(*encHex)
		if err != nil {
			return fmt.Errorf("--encryption-key: %v", err)
		}
		enc, err := core.Encryption(key)
		if err != nil {
			return err
		}
		appendBlocks = func(bs ...[]byte) (uint64, error) { return core.AppendEncrypted(enc, bs...) }
	}

	if *cpuProfile != "" {
		stop, err := startProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	// Timed: the appends, one call per block or per batch (append.mjs appendAll).
	t0 := time.Now()
	if *batch <= 1 {
		for _, b := range blocks {
			if _, err := appendBlocks(b); err != nil {
				return err
			}
		}
	} else {
		for i := 0; i < len(blocks); i += *batch {
			if _, err := appendBlocks(blocks[i:min(i+*batch, len(blocks))]...); err != nil {
				return err
			}
		}
	}
	seconds := since(t0)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}

	length := core.Length()
	byteLength := core.Head().ByteLength
	t1 := time.Now()
	if err := core.Close(); err != nil {
		return err
	}
	closeS := since(t1)
	du := diskUsage(dir)

	t3 := time.Now()
	again, err := hypercore.Open(dir, hypercore.OpenOptions{Durability: durability})
	if err != nil {
		return err
	}
	reopenLength := again.Length()
	if err := again.Close(); err != nil {
		return err
	}
	reopenS := since(t3)
	settled := diskUsage(dir)
	if reopenLength != uint64(*count) {
		return fmt.Errorf("reopen length mismatch %d != %d", reopenLength, *count)
	}
	if length != uint64(*count) {
		return fmt.Errorf("length mismatch %d != %d", length, *count)
	}

	s, bps, mbps, mibps := rates(*count, *size, seconds)
	out := map[string]any{
		"bench":                       "append",
		"impl":                        "go",
		"durability":                  durability.String(),
		"count":                       *count,
		"size":                        *size,
		"batch":                       *batch,
		"encrypted":                   *encHex != "",
		"seconds":                     s,
		"blocks_per_s":                bps,
		"mb_per_s":                    mbps,
		"mib_per_s":                   mibps,
		"close_s":                     round(closeS, 4),
		"byte_length":                 byteLength,
		"disk_apparent_bytes":         du.Apparent,
		"disk_allocated_bytes":        du.Allocated,
		"disk_files":                  du.Files,
		"disk_bytes_by_kind":          du.ByKind,
		"disk_overhead_ratio":         round(float64(du.Apparent)/float64(*count**size), 4),
		"reopen_s":                    round(reopenS, 4),
		"settled_disk_apparent_bytes": settled.Apparent,
		"settled_disk_bytes_by_kind":  settled.ByKind,
		"settled_overhead_ratio":      round(float64(settled.Apparent)/float64(*count**size), 4),
		"go":                          runtime.Version(),
		"gomaxprocs":                  runtime.GOMAXPROCS(0),
	}
	if *keep {
		out["dir"] = dir
	}
	return emit(out)
}

// ---- verify-cost: the timed regions of verify-cost.mjs ----

func cmdVerifyCost(args []string) error {
	fl := flag.NewFlagSet("verify-cost", flag.ExitOnError)
	count := fl.Int("count", 100000, "blocks")
	size := fl.Int("size", 1024, "block size in bytes")
	prepBatch := fl.Int("prep-batch", 100, "batch size used to prepare the core")
	noAudit := fl.Bool("no-audit", false, "skip the full Verify")
	role := fl.String("role", "", "internal: measure")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile of the measured process (open, get, verify) to this file")
	dir := fl.String("dir", "", "internal: core directory for --role measure")
	fl.Parse(args)
	if *role == "measure" {
		if *cpuProfile != "" {
			stop, err := startProfile(*cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
		}
		return measure(*dir, *count, *size, *noAudit)
	}
	if *count <= 0 || *size <= 0 || *prepBatch <= 0 {
		return fmt.Errorf("count, size and prep-batch must be > 0")
	}

	parent, err := tmpDir("hcbench-go-vc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(parent)
	cdir := filepath.Join(parent, "core")

	// Preparation (untimed by the measure step): N blocks in batches, no fsync.
	tp0 := time.Now()
	w, err := hypercore.Create(cdir, hypercore.CreateOptions{Durability: hypercore.DurabilityOS})
	if err != nil {
		return err
	}
	blocks := makeBlocks(*count, *size)
	for i := 0; i < len(blocks); i += *prepBatch {
		if _, err := w.Append(blocks[i:min(i+*prepBatch, len(blocks))]...); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	blocks = nil
	prepS := since(tp0)

	// The first reopen (JS: RocksDB replays its WAL here; Go has no WAL).
	tr0 := time.Now()
	again, err := hypercore.Open(cdir, hypercore.OpenOptions{Durability: hypercore.DurabilityOS})
	if err != nil {
		return err
	}
	if err := again.Close(); err != nil {
		return err
	}
	reopenS := since(tr0)
	du := diskUsage(cdir)

	// Measure in a fresh process, as verify-cost.mjs forks itself.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cargs := []string{"verify-cost", "--role", "measure", "--dir", cdir, "--count", fmt.Sprint(*count), "--size", fmt.Sprint(*size)}
	if *noAudit {
		cargs = append(cargs, "--no-audit")
	}
	if *cpuProfile != "" {
		cargs = append(cargs, "--cpuprofile", *cpuProfile)
	}
	cmd := exec.Command(self, cargs...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("measure child: %w", err)
	}
	result := map[string]any{}
	if err := json.Unmarshal(lastJSONLine(stdout.String()), &result); err != nil {
		return fmt.Errorf("measure child output: %w", err)
	}
	out := map[string]any{
		"bench":                  "verify-cost",
		"impl":                   "go",
		"durability":             "os",
		"count":                  *count,
		"size":                   *size,
		"open_with_wal_replay_s": round(reopenS, 4),
		"disk_apparent_bytes":    du.Apparent,
		"prep_s":                 round(prepS, 3),
		"go":                     runtime.Version(),
		"gomaxprocs":             runtime.GOMAXPROCS(0),
	}
	for k, v := range result {
		out[k] = v
	}
	return emit(out)
}

// measure is the fresh process of verify-cost: cold open (page cache warm),
// sequential Get of every block, then a full Verify (JS: core.core.audit).
// JS also times createReadStream(); the Go core has no stream API, so the
// stream_* fields are absent.
func measure(dir string, count, size int, noAudit bool) error {
	t0 := time.Now()
	core, err := hypercore.Open(dir, hypercore.OpenOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	openS := since(t0)
	if core.Length() != uint64(count) {
		return fmt.Errorf("length %d != %d", core.Length(), count)
	}

	bytesRead := 0
	t2 := time.Now()
	for i := range uint64(count) {
		b, err := core.Get(i)
		if err != nil {
			return err
		}
		bytesRead += len(b)
	}
	getS := since(t2)
	openPlusGet := since(t0)
	if bytesRead != count*size {
		return fmt.Errorf("byte count mismatch (get): %d", bytesRead)
	}

	out := map[string]any{
		"open_s":              round(openS, 4),
		"open_plus_get_seq_s": round(openPlusGet, 4),
		"audit_s":             nil,
		"audit_blocks_per_s":  nil,
		"audit_corrupt":       nil,
	}
	gs, gbps, gmbps, _ := rates(count, size, getS)
	out["get_seq_s"], out["get_seq_blocks_per_s"], out["get_seq_mb_per_s"] = gs, gbps, gmbps

	if !noAudit {
		var checked atomic.Uint64
		t6 := time.Now()
		verr := core.Verify(context.Background(), func(done, total uint64) {
			for cur := checked.Load(); done > cur && !checked.CompareAndSwap(cur, done); cur = checked.Load() {
			}
		})
		auditS := since(t6)
		corrupt := 0
		if verr != nil {
			corrupt = 1
			out["audit_error"] = verr.Error()
		}
		out["audit_s"] = round(auditS, 4)
		out["audit_blocks_per_s"] = round(float64(count)/auditS, 1)
		out["audit_mb_per_s"] = round(float64(count*size)/auditS/1e6, 2)
		out["audit_corrupt"] = corrupt
		out["audit_blocks_checked"] = checked.Load()
		if verr == nil && checked.Load() != uint64(count) {
			return fmt.Errorf("verify checked %d blocks, want %d", checked.Load(), count)
		}
	}
	if err := core.Close(); err != nil {
		return err
	}
	return emit(out)
}

// startProfile starts a CPU profile; the returned func closes its file.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// lastJSONLine is the last line of s starting with '{' (as run-all.mjs parses).
func lastJSONLine(s string) []byte {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "{") {
			return []byte(l)
		}
	}
	return nil
}
