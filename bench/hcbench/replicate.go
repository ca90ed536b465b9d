package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
)

// cmdReplicate measures one download over TCP on 127.0.0.1 between two
// processes: a writer serving N blocks (`fieldsync core serve` on a core
// prepared here, untimed, or `node peer.mjs serve`, which prepares its
// own) and a reader downloading all of them (`fieldsync core download`
// --durability os, or `node peer.mjs download`). The time is the
// reader's own: from connecting to holding every block verified, as
// replicate-tcp.mjs times it. One JSON line.
func cmdReplicate(args []string) error {
	fl := flag.NewFlagSet("replicate", flag.ExitOnError)
	pair := fl.String("pair", "go-go", "writer-reader: go-go, js-go, go-js or js-js (peer.mjs on both sides)")
	count := fl.Int("count", 100000, "blocks")
	size := fl.Int("size", 1024, "block size in bytes")
	fieldsync := fl.String("fieldsync", "", "fieldsync binary (needed when a side is go)")
	jsDir := fl.String("js-dir", "", "directory with peer.mjs and node_modules (needed when a side is js)")
	node := fl.String("node", "node", "Node.js executable")
	encHex := fl.String("encryption-key", "", "encrypt the writer's blocks with this key (hex); readers replicate the ciphertext and, with the key, check it")
	fl.Parse(args)
	var encKey []byte
	if *encHex != "" {
		k, err := hex.DecodeString(*encHex)
		if err != nil || len(k) != 32 {
			return fmt.Errorf("--encryption-key must be 64 hex digits")
		}
		encKey = k
	}
	w, r, ok := strings.Cut(*pair, "-")
	if !ok || (w != "go" && w != "js") || (r != "go" && r != "js") {
		return fmt.Errorf("--pair must be go-go, js-go, go-js or js-js, not %q", *pair)
	}
	if (w == "go" || r == "go") && *fieldsync == "" {
		return errors.New("--fieldsync is required for a go side")
	}
	if (w == "js" || r == "js") && *jsDir == "" {
		return errors.New("--js-dir is required for a js side")
	}
	work, err := tmpDir("hcbench-repl-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	// The writer.
	prep := time.Now()
	var serve *exec.Cmd
	if w == "go" {
		dir := filepath.Join(work, "w")
		c, err := hypercore.Create(dir, hypercore.CreateOptions{Durability: hypercore.DurabilityOS})
		if err != nil {
			return err
		}
		var enc *hypercore.Encryption
		if encKey != nil {
			if enc, err = c.Encryption(encKey); err != nil {
				return err
			}
		}
		blocks := makeBlocks(*count, *size)
		for i := 0; i < len(blocks); i += 100 {
			if enc != nil {
				_, err = c.AppendEncrypted(enc, blocks[i:min(i+100, len(blocks))]...)
			} else {
				_, err = c.Append(blocks[i:min(i+100, len(blocks))]...)
			}
			if err != nil {
				return err
			}
		}
		if err := c.Close(); err != nil {
			return err
		}
		serve = exec.CommandContext(ctx, *fieldsync, "core", "serve", dir, "--listen", "127.0.0.1:0")
	} else {
		seed := makeBlocks(1, 32)[0]
		serve = exec.CommandContext(ctx, *node, filepath.Join(*jsDir, "peer.mjs"), "serve", "--seed", hex.EncodeToString(seed),
			"--blocks", strconv.Itoa(*count), "--size", strconv.Itoa(*size), "--listen", "127.0.0.1:0", "--dir", filepath.Join(work, "w"))
		if encKey != nil {
			serve.Args = append(serve.Args, "--encryption-key", *encHex)
		}
		serve.Dir = *jsDir
	}
	serve.Stderr = os.Stderr
	out, err := serve.StdoutPipe()
	if err != nil {
		return err
	}
	if err := serve.Start(); err != nil {
		return err
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			serve.Process.Signal(syscall.SIGTERM)
			serve.Wait()
		}
	}
	defer stop()
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("%s writer printed no ready line: %w", w, err)
	}
	var ready struct {
		Key  string `json:"key"`
		Port int    `json:"port"`
	}
	if err := json.Unmarshal(line, &ready); err != nil || ready.Port == 0 {
		return fmt.Errorf("%s writer ready line %q: %v", w, line, err)
	}
	prepS := time.Since(prep).Seconds()
	addr := fmt.Sprintf("127.0.0.1:%d", ready.Port)

	// The reader.
	var dl *exec.Cmd
	if r == "go" {
		dl = exec.CommandContext(ctx, *fieldsync, "core", "download", ready.Key, "--connect", addr, "--dir", filepath.Join(work, "r"), "--durability", "os", "--timeout", "1200s")
	} else {
		dl = exec.CommandContext(ctx, *node, filepath.Join(*jsDir, "peer.mjs"), "download", "--key", ready.Key, "--connect", addr, "--timeout", "1200", "--dir", filepath.Join(work, "r"))
		dl.Dir = *jsDir
	}
	dl.Stderr = os.Stderr
	res, err := dl.Output()
	if err != nil {
		return fmt.Errorf("%s reader: %w", r, err)
	}
	var got struct {
		Length       uint64  `json:"length"`
		Ms           float64 `json:"ms"`
		FirstBlockMs float64 `json:"firstBlockMs"`
	}
	if err := json.Unmarshal(lastJSONLine(string(res)), &got); err != nil {
		return fmt.Errorf("%s reader output %q: %v", r, res, err)
	}
	if got.Length != uint64(*count) {
		return fmt.Errorf("%s reader got %d blocks, want %d", r, got.Length, *count)
	}
	readerCPU := cpuOf(dl.ProcessState)
	stop()
	obj := map[string]any{
		"bench": "replicate-tcp", "pair": *pair, "count": *count, "size": *size,
		"reader_cpu_s":  round(readerCPU, 3),
		"writer_prep_s": round(prepS, 3),
	}
	for k, v := range rateFields(*count, *size, got.Ms/1000) {
		obj[k] = v
	}
	if got.FirstBlockMs > 0 {
		obj["time_to_first_block_s"] = round(got.FirstBlockMs/1000, 4)
	}
	if w == "go" {
		// The Go writer process only served (its core was prepared here).
		obj["writer_cpu_s"] = round(cpuOf(serve.ProcessState), 3)
	}
	return emit(obj)
}

func rateFields(count, size int, seconds float64) map[string]any {
	return map[string]any{
		"seconds":      round(seconds, 4),
		"blocks_per_s": round(float64(count)/seconds, 1),
		"mb_per_s":     round(float64(count*size)/seconds/1e6, 2),
		"mib_per_s":    round(float64(count*size)/seconds/(1<<20), 2),
	}
}
