package interop

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Block encryption against JS hypercore 11.39.5 (shared/spec/hypercore-
// encryption.md): the same seed, encryption key and blocks give the same
// stored bytes, tree hash and signature on both sides; each side downloads
// the other's encrypted core with the key (and decrypts it) and without it
// (storing and verifying the ciphertext).

var encCases = []struct {
	name         string
	blocks, size int
	compat       bool
	seed         byte
}{
	{"default-1KiBx300", 300, 1024, false, 0x31},
	{"default-64KiBx20", 20, 64 << 10, false, 0x32},
	{"compat-300Bx100", 100, 300, true, 0x33},
}

var encKey = bytes.Repeat([]byte{0x22}, 32)

type goDownloadEnc struct {
	goDownload
	PlaintextSha256 string `json:"plaintextSha256"`
}

type jsDownloadEnc struct {
	jsDownload
	PlaintextSha256 string `json:"plaintextSha256"`
}

// TestEncryptedJSToGo: Go downloads an encrypted core the JS reference
// serves, with and without the key.
func TestEncryptedJSToGo(t *testing.T) {
	e := needJS(t)
	for _, tc := range encCases {
		t.Run(tc.name, func(t *testing.T) {
			seed := bytes.Repeat([]byte{tc.seed}, 32)
			args := []string{"--seed", hex.EncodeToString(seed), "--blocks", strconv.Itoa(tc.blocks), "--size", strconv.Itoa(tc.size),
				"--encryption-key", hex.EncodeToString(encKey)}
			if tc.compat {
				args = append(args, "--compat")
			}
			_, ready := jsServe(t, e, args...)
			if want := uint64(tc.blocks * (tc.size + 8)); ready.ByteLength != want {
				t.Fatalf("JS byte length %d, want %d (8-byte pads)", ready.ByteLength, want)
			}
			plain := peerBlocksSHA256(seed, tc.blocks, tc.size)
			connect := fmt.Sprintf("127.0.0.1:%d", ready.Port)

			// With the key: verified, then decrypted.
			dir := filepath.Join(t.TempDir(), "copy")
			var g goDownloadEnc
			decodeStrict(t, "fieldsync core download", fieldsync(t, nil, "core", "download", ready.Key, "--connect", connect, "--dir", dir,
				"--timeout", "60s", "--encryption-key", hex.EncodeToString(encKey)), append(goDownloadFields, "plaintextSha256"), &g)
			if d := diffDownload(g.goDownload, ready); len(d) > 0 {
				t.Fatalf("Go download differs from the JS core:\n\t%v", d)
			}
			if g.PlaintextSha256 != plain {
				t.Fatalf("decrypted blocks sha256 %s, want %s", g.PlaintextSha256, plain)
			}

			// Without it: the same verified ciphertext; the key decrypts
			// the copy later.
			dir2 := filepath.Join(t.TempDir(), "copy-nokey")
			g2 := parseGoDownload(t, fieldsync(t, nil, "core", "download", ready.Key, "--connect", connect, "--dir", dir2, "--timeout", "60s"))
			if d := diffDownload(g2, ready); len(d) > 0 {
				t.Fatalf("keyless Go download differs from the JS core:\n\t%v", d)
			}
			fieldsync(t, nil, "core", "verify", dir2)
			last := tc.blocks - 1
			got := fieldsync(t, nil, "core", "get", dir2, strconv.Itoa(last), "--encryption-key", hex.EncodeToString(encKey))
			if !bytes.Equal(got, peerBlock(seed, last, tc.size)) {
				t.Fatalf("block %d of the keyless copy does not decrypt to the JS plaintext", last)
			}
			if raw := fieldsync(t, nil, "core", "get", dir2, strconv.Itoa(last)); len(raw) != tc.size+8 || bytes.Equal(raw[8:], got) {
				t.Fatalf("raw block %d: %d bytes, want %d of ciphertext", last, len(raw), tc.size+8)
			}
		})
	}
}

// TestEncryptedGoToJS: Go writes an encrypted core (the same bytes JS
// writes for the same inputs) and serves it; JS downloads it with the key.
func TestEncryptedGoToJS(t *testing.T) {
	e := needJS(t)
	for _, tc := range encCases {
		t.Run(tc.name, func(t *testing.T) {
			seed := bytes.Repeat([]byte{tc.seed}, 32)
			dir := filepath.Join(t.TempDir(), "core")
			args := []string{"core", "create", dir, "--seed", hex.EncodeToString(seed), "--durability", "os", "--encryption-key", hex.EncodeToString(encKey)}
			if tc.compat {
				args = append(args, "--compat")
			}
			fieldsync(t, nil, args...)
			bdir := t.TempDir()
			app := []string{"core", "append", dir, "--batch", "--durability", "os", "--encryption-key", hex.EncodeToString(encKey)}
			for i := range tc.blocks {
				f := filepath.Join(bdir, fmt.Sprintf("%06d", i))
				if err := os.WriteFile(f, peerBlock(seed, i, tc.size), 0o644); err != nil {
					t.Fatal(err)
				}
				app = append(app, f)
			}
			fieldsync(t, nil, app...)
			info := coreInfo(t, dir)
			_, ready := goServe(t, dir)
			jargs := []string{filepath.Join(e.scriptDir, "peer.mjs"), "download", "--key", info.Key,
				"--connect", fmt.Sprintf("127.0.0.1:%d", ready.Port), "--timeout", "60", "--encryption-key", hex.EncodeToString(encKey)}
			if tc.compat {
				jargs = append(jargs, "--compat") // see peer.mjs: JS 11.39.5 needs it for encrypted compat cores
			}
			res := run(t, nodeTimeout, nil, e.node, jargs...)
			if res.code != 0 {
				t.Fatalf("peer.mjs download: %v", res)
			}
			var j jsDownloadEnc
			decodeStrict(t, "peer.mjs download", res.stdout, []string{"key", "length", "byteLength", "fork", "treeHash", "signature", "blocksSha256", "plaintextSha256", "compat"}, &j)
			plain := peerBlocksSHA256(seed, tc.blocks, tc.size)
			if j.Key != info.Key || j.Length != info.Length || j.ByteLength != info.ByteLength || j.TreeHash != info.TreeHash ||
				j.Signature == nil || *j.Signature != info.Signature || j.PlaintextSha256 != plain || j.Compat != tc.compat {
				t.Fatalf("JS download %+v differs from the Go core %+v (plaintext sha256 %s)", j, info, plain)
			}
		})
	}
}
