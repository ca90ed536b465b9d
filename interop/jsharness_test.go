package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The JS harness: jsref/ (package.json, package-lock.json, *.mjs) installed
// with `npm ci` into a cache directory keyed by the lock file, so the
// download happens once per machine and lock file, never inside the repo:
//
//	$FIELDSYNC_JSREF_CACHE/jsref-<sha256(package-lock.json)[:16]>/   when set
//	os.UserCacheDir()/fieldsync/jsref-<...>/                          otherwise
//
// The install is serialised by a lock file next to that directory (several
// `go test` processes may start at once) and is complete when its marker
// file exists; an interrupted install has no marker and is redone. The
// scripts are copied per test run into a temp directory whose node_modules
// is a symlink to the cached one, so editing a script needs no reinstall.
const (
	jsrefSrc       = "jsref"
	jsMarker       = ".fieldsync-jsref-complete"
	npmCITimeout   = 10 * time.Minute
	nodeTimeout    = time.Minute
	minNodeMajor   = 20
	cacheEnv       = "FIELDSYNC_JSREF_CACHE"
	installedFiles = "package.json package-lock.json"
)

type jsEnv struct {
	node        string // path of the node binary
	nodeVersion string // e.g. v20.20.2
	cacheDir    string // where node_modules lives
	scriptDir   string // this run's copy of the scripts
}

// prepareJS finds node and npm, installs the harness into the cache when
// needed, and sets up scriptDir. The error says what is missing.
func prepareJS(scriptDir string) (*jsEnv, error) {
	return prepareJSFrom(jsrefSrc, scriptDir)
}

// prepareJSFrom is prepareJS for the harness in directory src (jsref, jsbee).
func prepareJSFrom(src, scriptDir string) (*jsEnv, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("`node` not found in PATH: install Node.js >= 20 with npm")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, errors.New("`npm` not found in PATH: install npm (it comes with Node.js)")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("`node --version` failed: %v", err)
	}
	version := strings.TrimSpace(string(out))
	m := regexp.MustCompile(`^v(\d+)\.`).FindStringSubmatch(version)
	if m == nil {
		return nil, fmt.Errorf("cannot parse `node --version` output %q", version)
	}
	if major, _ := strconv.Atoi(m[1]); major < minNodeMajor {
		return nil, fmt.Errorf("node %s is too old: need Node.js >= %d", version, minNodeMajor)
	}

	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		return nil, fmt.Errorf("read the harness lock file: %v", err)
	}
	sum := sha256.Sum256(lock)
	base := os.Getenv(cacheEnv)
	if base == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			uc = os.TempDir()
		}
		base = filepath.Join(uc, "fieldsync")
	}
	name := filepath.Base(src) + "-" + hex.EncodeToString(sum[:8])
	cacheDir := filepath.Join(base, name)
	if err := installJS(npm, src, cacheDir, filepath.Join(base, name+".lock"), sum); err != nil {
		return nil, err
	}

	if err := os.MkdirAll(scriptDir, 0o755); err != nil {
		return nil, err
	}
	scripts, err := filepath.Glob(filepath.Join(src, "*.mjs"))
	if err != nil || len(scripts) == 0 {
		return nil, fmt.Errorf("no scripts in %s", src)
	}
	for _, s := range append(scripts, filepath.Join(src, "package.json")) {
		if err := copyFile(s, filepath.Join(scriptDir, filepath.Base(s))); err != nil {
			return nil, err
		}
	}
	if err := os.Symlink(filepath.Join(cacheDir, "node_modules"), filepath.Join(scriptDir, "node_modules")); err != nil {
		return nil, fmt.Errorf("link node_modules: %v", err)
	}
	return &jsEnv{node: node, nodeVersion: version, cacheDir: cacheDir, scriptDir: scriptDir}, nil
}

// installJS makes cacheDir hold a complete `npm ci` of src's lock file.
func installJS(npm, src, cacheDir, lockPath string, sum [32]byte) error {
	if err := os.MkdirAll(filepath.Dir(cacheDir), 0o755); err != nil {
		return fmt.Errorf("JS harness cache: %v", err)
	}
	unlock, err := lockFile(lockPath)
	if err != nil {
		return fmt.Errorf("JS harness cache lock %s: %v", lockPath, err)
	}
	defer unlock()

	marker := filepath.Join(cacheDir, jsMarker)
	if _, err := os.Stat(marker); err == nil {
		if _, err := os.Stat(filepath.Join(cacheDir, "node_modules")); err == nil {
			return nil
		}
	}
	// Absent or incomplete: start over.
	if err := os.RemoveAll(cacheDir); err != nil {
		return fmt.Errorf("JS harness cache: %v", err)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return fmt.Errorf("JS harness cache: %v", err)
	}
	for _, f := range strings.Fields(installedFiles) {
		if err := copyFile(filepath.Join(src, f), filepath.Join(cacheDir, f)); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "interop: installing the JS harness: npm ci in %s (once per package-lock.json)\n", cacheDir)
	ctx, cancel := context.WithTimeout(context.Background(), npmCITimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = cacheDir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", npmCITimeout)
		}
		return fmt.Errorf("`npm ci` in %s failed (%v; it needs the npm registry once per lock file): %s", cacheDir, err, npmErrors(out))
	}
	stamp := fmt.Sprintf("package-lock.json sha256 %x\ninstalled %s\n", sum, time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(marker, []byte(stamp), 0o644); err != nil {
		return fmt.Errorf("JS harness cache marker: %v", err)
	}
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// npmErrors condenses npm's output to its first few error lines.
func npmErrors(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var errs []string
	for _, l := range lines {
		if strings.HasPrefix(l, "npm error") || strings.HasPrefix(l, "npm ERR!") {
			errs = append(errs, strings.TrimSpace(l))
		}
	}
	if len(errs) == 0 {
		errs = lines
	}
	if len(errs) > 4 {
		errs = errs[:4]
	}
	return strings.Join(errs, " | ")
}

// jsState is a ready line of `node peer.mjs serve` (and the output of
// `peer.mjs info`, which has no event, port or publicKey).
type jsState struct {
	Event        string  `json:"event"`
	Key          string  `json:"key"`
	DiscoveryKey string  `json:"discoveryKey"`
	PublicKey    string  `json:"publicKey"`
	Port         int     `json:"port"`
	Length       uint64  `json:"length"`
	ByteLength   uint64  `json:"byteLength"`
	Fork         uint64  `json:"fork"`
	TreeHash     string  `json:"treeHash"`
	Signature    *string `json:"signature"` // null while the core is empty
	BlocksSha256 string  `json:"blocksSha256"`
	Compat       bool    `json:"compat"`
}

var jsReadyFields = []string{"event", "key", "discoveryKey", "publicKey", "port", "length", "byteLength",
	"fork", "treeHash", "signature", "blocksSha256", "compat"}

// serve makes the JS core in dir hold exactly blocks (dir must be empty or
// hold a prefix of them) with `peer.mjs serve`, reads its ready line, then
// closes its stdin so it exits.
func (e *jsEnv) serve(t *testing.T, seed []byte, compat bool, blocks [][]byte, dir string) jsState {
	t.Helper()
	hexBlocks := make([]string, len(blocks))
	for i, b := range blocks {
		hexBlocks[i] = hex.EncodeToString(b)
	}
	list, err := json.Marshal(hexBlocks)
	if err != nil {
		t.Fatal(err)
	}
	blocksFile := dir + ".blocks.json"
	if err := os.WriteFile(blocksFile, list, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{filepath.Join(e.scriptDir, "peer.mjs"), "serve", "--seed", hex.EncodeToString(seed),
		"--blocks-file", blocksFile, "--dir", dir, "--listen", "127.0.0.1:0"}
	if compat {
		args = append(args, "--compat")
	}

	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.node, args...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe() // a pipe: peer.mjs exits at its EOF
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node peer.mjs serve: %v", err)
	}
	// Keep stdin open until the ready line is read: at an early EOF
	// peer.mjs exits without printing it.
	line, readErr := bufio.NewReader(stdout).ReadBytes('\n')
	stdin.Close()
	io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	what := fmt.Sprintf("node peer.mjs serve (%d blocks, compat %v)", len(blocks), compat)
	if ctx.Err() != nil {
		t.Fatalf("%s: timed out after %v; stderr %q", what, nodeTimeout, stderr.String())
	}
	if waitErr != nil {
		t.Fatalf("%s: %v; stderr %q", what, waitErr, stderr.String())
	}
	if readErr != nil {
		t.Fatalf("%s printed no ready line: %v; stderr %q", what, readErr, stderr.String())
	}
	var st jsState
	decodeStrict(t, what, line, jsReadyFields, &st)
	if st.Event != "ready" {
		t.Fatalf("%s: first line is not a ready event: %s", what, line)
	}
	return st
}

// goHeadInput is one signed head handed to verify-go.mjs.
type goHeadInput struct {
	Length    uint64 `json:"length"`
	Fork      uint64 `json:"fork"`
	Signature string `json:"signature"`
}

type verifyGoInput struct {
	Key       string        `json:"key"`
	Manifest  string        `json:"manifest"`
	Compat    bool          `json:"compat"`
	PublicKey string        `json:"publicKey"`
	Blocks    []string      `json:"blocks"`
	Heads     []goHeadInput `json:"heads"`
}

type verifyGoHead struct {
	Length         uint64 `json:"length"`
	ByteLength     uint64 `json:"byteLength"`
	TreeHash       string `json:"treeHash"`
	SignatureValid *bool  `json:"signatureValid"`
	TamperedValid  *bool  `json:"tamperedValid"`
}

type verifyGoOutput struct {
	Key               string         `json:"key"`
	DiscoveryKey      string         `json:"discoveryKey"`
	Compat            bool           `json:"compat"`
	ManifestIsDefault bool           `json:"manifestIsDefault"`
	Heads             []verifyGoHead `json:"heads"`
}

// verifyGo runs verify-go.mjs: the JS verifier over what Go wrote.
func (e *jsEnv) verifyGo(t *testing.T, in verifyGoInput, scratch string) verifyGoOutput {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(scratch, "verify-go-input.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res := run(t, nodeTimeout, nil, e.node, filepath.Join(e.scriptDir, "verify-go.mjs"), file)
	if res.code != 0 {
		t.Fatalf("node verify-go.mjs: %v", res)
	}
	var out verifyGoOutput
	decodeStrict(t, "verify-go.mjs", res.stdout, []string{"key", "discoveryKey", "compat", "manifestIsDefault", "heads"}, &out)
	return out
}

// decodeStrict decodes one JSON object into v after checking that every
// field in required is present (a renamed field must not read as zero).
func decodeStrict(t *testing.T, what string, b []byte, required []string, v any) {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatalf("%s: output is not one JSON object: %v: %q", what, err, b)
	}
	var missing []string
	for _, f := range required {
		if _, ok := fields[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%s: JSON lacks field(s) %s: %s", what, strings.Join(missing, ", "), bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v: %s", what, err, bytes.TrimSpace(b))
	}
}
