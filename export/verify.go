package export

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/record"
)

// VerifyError names the file of a bundle that failed and why.
type VerifyError struct {
	File, Reason string
}

func (e *VerifyError) Error() string {
	if e.File == "" {
		return e.Reason
	}
	return e.File + ": " + e.Reason
}

// ErrNotBundle: the file is not a readable bundle (not a zip, too big,
// a newer format); ErrTampered: a check failed.
var (
	ErrNotBundle = errors.New("not a fieldsync evidence bundle")
	ErrTampered  = errors.New("verification failed")
)

func fail(file, format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrTampered, &VerifyError{file, fmt.Sprintf(format, args...)})
}

// Author is a device that signed observations in a bundle.
type Author struct {
	Name         string `json:"name"`
	Identity     string `json:"identity"`
	Core         string `json:"core"`
	Observations int    `json:"observations"`
}

// VerifyResult is what a bundle proved.
type VerifyResult struct {
	Format       string         `json:"format"`
	Project      string         `json:"project"`
	Created      string         `json:"created"`
	Exporter     Exporter       `json:"exporter"`
	Selection    map[string]any `json:"selection"`
	Observations int            `json:"observations"`
	Attachments  int            `json:"attachments"`
	Authors      []Author       `json:"authors"`
	Earliest     string         `json:"earliest,omitempty"`
	Latest       string         `json:"latest,omitempty"`
}

// Limits of what Verify reads: a bundle beyond them is refused before
// anything is decompressed (a zip bomb).
const (
	maxEntries    = 1 << 20
	maxEntrySize  = 1 << 30
	maxTotalSize  = 16 << 30
	maxBombRatio  = 200 // uncompressed/compressed, for entries over 1 MiB
	maxJSONFile   = 1 << 30
	proofsDir     = "proofs/"
	devicesDir    = "devices/"
	mediaDir      = "media/"
	manifestName  = "MANIFEST.json"
	signatureName = "MANIFEST.sig"
)

// Verify checks the bundle at path offline: every file's SHA-256 against
// the manifest, the manifest's signature, every proof against its signed
// root and author key, every feature against its signed block, every
// device record, every attachment.
func Verify(path string) (*VerifyResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a zip file (%v)", ErrNotBundle, path, err)
	}
	if len(zr.File) > maxEntries {
		return nil, fmt.Errorf("%w: %d entries", ErrNotBundle, len(zr.File))
	}
	files := map[string]*zip.File{}
	var total uint64
	for _, zf := range zr.File {
		if _, dup := files[zf.Name]; dup {
			return nil, fail(zf.Name, "appears twice in the zip")
		}
		if zf.UncompressedSize64 > maxEntrySize {
			return nil, fmt.Errorf("%w: %s would unpack to %d bytes (more than %d)", ErrNotBundle, zf.Name, zf.UncompressedSize64, uint64(maxEntrySize))
		}
		if zf.UncompressedSize64 > 1<<20 && zf.UncompressedSize64 > maxBombRatio*max(zf.CompressedSize64, 1) {
			return nil, fmt.Errorf("%w: %s unpacks %d times its size: a zip bomb", ErrNotBundle, zf.Name, zf.UncompressedSize64/max(zf.CompressedSize64, 1))
		}
		total += zf.UncompressedSize64
		files[zf.Name] = zf
	}
	if total > maxTotalSize {
		return nil, fmt.Errorf("%w: it would unpack to %d bytes", ErrNotBundle, total)
	}
	read := func(name string, limit int64) ([]byte, error) {
		zf := files[name]
		if zf == nil {
			return nil, fail(name, "missing")
		}
		if int64(zf.UncompressedSize64) > limit {
			return nil, fail(name, "too large (%d bytes)", zf.UncompressedSize64)
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, fail(name, "unreadable: %v", err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, int64(zf.UncompressedSize64)+1))
		if err != nil {
			return nil, fail(name, "unreadable: %v", err)
		}
		if uint64(len(b)) != zf.UncompressedSize64 {
			return nil, fail(name, "holds %d bytes, its zip header says %d", len(b), zf.UncompressedSize64)
		}
		return b, nil
	}

	// 1. The manifest: format, signature, and the exact set of files.
	manBytes, err := read(manifestName, maxJSONFile)
	if err != nil {
		if files[manifestName] == nil {
			return nil, fmt.Errorf("%w: %s holds no %s", ErrNotBundle, path, manifestName)
		}
		return nil, err
	}
	var m Manifest
	if err := strictJSON(manBytes, &m); err != nil {
		return nil, fail(manifestName, "not a manifest: %v", err)
	}
	if m.Format != BundleFormat {
		if strings.HasPrefix(m.Format, "fieldsync-evidence/") {
			return nil, fmt.Errorf("%w: format %q is newer than this fieldsync reads (%q): update fieldsync", ErrNotBundle, m.Format, BundleFormat)
		}
		return nil, fail(manifestName, "unknown format %q", m.Format)
	}
	sigHex, err := read(signatureName, 1<<10)
	if err != nil {
		return nil, err
	}
	sig, err1 := hex.DecodeString(strings.TrimSpace(string(sigHex)))
	pub, err2 := hex.DecodeString(m.Exporter.Identity)
	if err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize ||
		!ed25519.Verify(pub, append([]byte(manifestDomain), manBytes...), sig) {
		return nil, fail(signatureName, "the exporter's signature over MANIFEST.json does not verify (key %s)", m.Exporter.Identity)
	}
	for name := range files {
		if name == manifestName || name == signatureName {
			continue
		}
		if _, ok := m.Files[name]; !ok {
			return nil, fail(name, "not listed in MANIFEST.json (added after the export)")
		}
	}
	for _, name := range sortedKeys(m.Files) {
		zf := files[name]
		if zf == nil {
			return nil, fail(name, "listed in MANIFEST.json but missing from the bundle")
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, fail(name, "unreadable: %v", err)
		}
		h := sha256.New()
		n, err := io.Copy(h, io.LimitReader(rc, int64(zf.UncompressedSize64)+1))
		rc.Close()
		if err != nil || uint64(n) != zf.UncompressedSize64 {
			return nil, fail(name, "unreadable or of the wrong size")
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != m.Files[name] {
			return nil, fail(name, "SHA-256 %s, MANIFEST.json says %s", got, m.Files[name])
		}
	}

	// 2. Devices: block 0 of each data core, proved and signed.
	res := &VerifyResult{Format: m.Format, Project: m.Project, Created: m.Created, Exporter: m.Exporter, Selection: m.Selection}
	authors := map[string]*Author{}
	for _, name := range sortedKeys(m.Files) {
		if !strings.HasPrefix(name, devicesDir) {
			continue
		}
		b, err := read(name, maxJSONFile)
		if err != nil {
			return nil, err
		}
		var df DeviceFile
		if err := strictJSON(b, &df); err != nil {
			return nil, fail(name, "%v", err)
		}
		core := strings.TrimSuffix(strings.TrimPrefix(name, devicesDir), ".json")
		block, err := checkProof(&df.ProofFile, core, 0)
		if err != nil {
			return nil, fail(name, "%v", err)
		}
		d, err := record.DecodeDevice(block)
		if err != nil {
			return nil, fail(name, "block 0 is not a valid, signed device record: %v", err)
		}
		if d.Data != core || d.Name != df.Name || d.Identity != df.Identity {
			return nil, fail(name, "the device record does not say what the file says")
		}
		authors[core] = &Author{Name: d.Name, Identity: d.Identity, Core: core}
	}

	// 3. Observations: each feature is what its proved block says.
	geoBytes, err := read("observations.geojson", maxJSONFile)
	if err != nil {
		return nil, err
	}
	var fc struct {
		Type     string            `json:"type"`
		Features []json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(geoBytes, &fc); err != nil || fc.Type != "FeatureCollection" {
		return nil, fail("observations.geojson", "not a GeoJSON FeatureCollection")
	}
	seen := map[string]bool{}
	media := map[string]bool{}
	for i, raw := range fc.Features {
		var head struct {
			ID         string         `json:"id"`
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(raw, &head); err != nil || head.ID == "" {
			return nil, fail("observations.geojson", "feature %d has no id", i)
		}
		if seen[head.ID] {
			return nil, fail("observations.geojson", "observation %s appears twice", head.ID)
		}
		seen[head.ID] = true
		proofName := proofsDir + head.ID + ".json"
		b, err := read(proofName, maxJSONFile)
		if err != nil {
			return nil, err
		}
		var pf ProofFile
		if err := strictJSON(b, &pf); err != nil {
			return nil, fail(proofName, "%v", err)
		}
		version, _ := head.Properties[PropVersion].(string)
		if pf.Version != version || pf.Observation != head.ID {
			return nil, fail(proofName, "is the proof of %s (%s), the feature says %s (%s)", pf.Observation, pf.Version, head.ID, version)
		}
		key, idx, err := record.VersionID(pf.Version).Parse()
		if err != nil {
			return nil, fail(proofName, "%v", err)
		}
		block, err := checkProof(&pf, hex.EncodeToString(key[:]), idx)
		if err != nil {
			return nil, fail(proofName, "%v", err)
		}
		o, err := record.Decode(block)
		if err != nil {
			return nil, fail(proofName, "the signed block is not an observation: %v", err)
		}
		if o.ID != head.ID {
			return nil, fail(proofName, "the signed block is observation %s, not %s", o.ID, head.ID)
		}
		a := authors[pf.Core]
		if a == nil {
			return nil, fail(proofName, "its author's device record (devices/%s.json) is not in the bundle", pf.Core)
		}
		forked, _ := head.Properties[PropForked].(bool)
		want, err := Feature(&Record{Version: record.VersionID(pf.Version), Author: a.Name, Forked: forked, Obs: o})
		if err != nil {
			return nil, fail(proofName, "%v", err)
		}
		if !bytes.Equal(bytes.TrimSpace(raw), want) {
			return nil, fail("observations.geojson", "feature %s does not say what its signed block says (%s)", head.ID, firstDifference(raw, want))
		}
		for _, att := range o.Attachments {
			name := mediaDir + att.SHA256
			if files[name] == nil {
				return nil, fail(name, "attachment %q of observation %s is missing", att.Name, o.ID)
			}
			if files[name].UncompressedSize64 != att.Size {
				return nil, fail(name, "attachment %q of observation %s: %d bytes, the signed record says %d", att.Name, o.ID, files[name].UncompressedSize64, att.Size)
			}
			// Its SHA-256 was checked against the manifest, and the name
			// is that hash; the signed record names the same hash.
			if m.Files[name] != att.SHA256 {
				return nil, fail(name, "does not hash to %s", att.SHA256)
			}
			media[name] = true
		}
		a.Observations++
		res.Observations++
		if res.Earliest == "" || record.Time(o.Created).Before(record.Time(res.Earliest)) {
			res.Earliest = o.Created
		}
		if record.Time(o.Created).After(record.Time(res.Latest)) {
			res.Latest = o.Created
		}
	}
	// Nothing in the bundle that no observation accounts for.
	for name := range m.Files {
		switch {
		case strings.HasPrefix(name, proofsDir) && !seen[strings.TrimSuffix(strings.TrimPrefix(name, proofsDir), ".json")]:
			return nil, fail(name, "a proof for no observation in observations.geojson")
		case strings.HasPrefix(name, mediaDir) && !media[name]:
			return nil, fail(name, "an attachment no observation names")
		}
	}
	if res.Observations != m.Observations {
		return nil, fail(manifestName, "says %d observations, the bundle holds %d", m.Observations, res.Observations)
	}
	res.Attachments = len(media)
	for _, a := range authors {
		res.Authors = append(res.Authors, *a)
	}
	sort.Slice(res.Authors, func(i, j int) bool { return res.Authors[i].Core < res.Authors[j].Core })
	return res, nil
}

// checkProof verifies a proof file of block index of core (hex) and
// returns the block: the proof must verify against the core key and its
// own manifest, and every readable field must agree with it.
func checkProof(pf *ProofFile, core string, index uint64) ([]byte, error) {
	kb, err := hex.DecodeString(core)
	if err != nil || len(kb) != 32 || pf.Core != core {
		return nil, fmt.Errorf("core %q: not the core this file is about (%s)", pf.Core, core)
	}
	wire, err := base64.StdEncoding.DecodeString(pf.Proof)
	if err != nil {
		return nil, fmt.Errorf("proof: not base64")
	}
	_, p, err := hypercore.DecodeDataMessage(wire)
	if err != nil {
		return nil, fmt.Errorf("proof: %v", err)
	}
	key := [32]byte(kb)
	m := p.Manifest
	if m == nil {
		m = hypercore.DefaultManifest(kb)
	}
	v, err := hypercore.NewVerifier(key, m)
	if err != nil {
		return nil, fmt.Errorf("proof: the manifest does not belong to core %s: %v", core, err)
	}
	if p.Block == nil || p.Upgrade == nil || p.Block.Index != index {
		return nil, fmt.Errorf("proof: not a proof of block %d with a signed head", index)
	}
	vp, err := hypercore.VerifyProof(v, hypercore.TreeState{}, nil, p)
	if err != nil {
		return nil, fmt.Errorf("proof: %v", err)
	}
	block, err := base64.StdEncoding.DecodeString(pf.Block)
	switch {
	case err != nil || !bytes.Equal(block, vp.Block.Value):
		return nil, fmt.Errorf("block: not the block the proof proves")
	case pf.Index != index:
		return nil, fmt.Errorf("index %d, the proof is of block %d", pf.Index, index)
	case pf.Length != vp.Length:
		return nil, fmt.Errorf("length %d, the proof's signed head is at %d", pf.Length, vp.Length)
	case pf.TreeHash != hex.EncodeToString(vp.TreeHash[:]):
		return nil, fmt.Errorf("treeHash is not the proof's tree hash")
	case pf.Signature != hex.EncodeToString(p.Upgrade.Signature):
		return nil, fmt.Errorf("signature is not the proof's signature")
	}
	var nodes []ProofNode
	for _, list := range [][]hypercore.Node{p.Block.Nodes, p.Upgrade.Nodes, p.Upgrade.AdditionalNodes} {
		for _, n := range list {
			nodes = append(nodes, ProofNode{n.Index, hex.EncodeToString(n.Hash[:]), n.Size})
		}
	}
	if len(nodes) != len(pf.Nodes) {
		return nil, fmt.Errorf("nodes: %d listed, the proof has %d", len(pf.Nodes), len(nodes))
	}
	for i := range nodes {
		if nodes[i] != pf.Nodes[i] {
			return nil, fmt.Errorf("nodes: node %d is not the proof's", pf.Nodes[i].Index)
		}
	}
	return vp.Block.Value, nil
}

// strictJSON decodes b into v, refusing unknown fields and trailing data.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// firstDifference shows where two byte strings part.
func firstDifference(a, b []byte) string {
	a = bytes.TrimSpace(a)
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-30, 0)
	return fmt.Sprintf("at byte %d: %q, signed: %q", i, a[lo:min(i+30, len(a))], b[lo:min(i+30, len(b))])
}
