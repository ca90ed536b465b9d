package export

import (
	"archive/zip"
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/record"
)

// BundleFormat is the evidence bundle format this version writes and reads.
const BundleFormat = "fieldsync-evidence/1"

// manifestDomain prefixes the bytes an exporter signs.
const manifestDomain = "fieldsync evidence manifest v1\x00"

// Manifest is MANIFEST.json: what the bundle holds, and the SHA-256 of
// every other file in it. MANIFEST.sig is the exporter's Ed25519
// signature over manifestDomain followed by MANIFEST.json's bytes.
type Manifest struct {
	Format       string            `json:"format"`
	Created      string            `json:"created"`
	Project      string            `json:"project"`
	Exporter     Exporter          `json:"exporter"`
	Selection    map[string]any    `json:"selection"`
	Observations int               `json:"observations"`
	Files        map[string]string `json:"files"` // path → SHA-256 hex
}

// Exporter is the device that assembled the bundle.
type Exporter struct {
	Name     string `json:"name"`
	Identity string `json:"identity"` // Ed25519 public key, hex
}

// ProofFile is proofs/<observation id>.json: the signed block of the
// observation's current version and the Merkle proof from it to a signed
// tree head of its author's core. Proof is the Hypercore 11 "data"
// message (request id 0) with block, tree nodes, upgrade and manifest;
// the other fields repeat what it proves, for reading by eye (Verify
// checks they agree).
type ProofFile struct {
	Observation string      `json:"observation"`
	Version     string      `json:"version"`
	Core        string      `json:"core"` // the core key, hex
	Index       uint64      `json:"index"`
	Block       string      `json:"block"` // the block's bytes, base64
	Length      uint64      `json:"length"`
	TreeHash    string      `json:"treeHash"`
	Signature   string      `json:"signature"`
	Nodes       []ProofNode `json:"nodes"`
	Proof       string      `json:"proof"` // base64
}

// ProofNode is one tree node of a proof (flat-tree index, hash, size).
type ProofNode struct {
	Index uint64 `json:"index"`
	Hash  string `json:"hash"`
	Size  uint64 `json:"size"`
}

// DeviceFile is devices/<data core key>.json: the device record that
// starts the core (block 0), with its proof.
type DeviceFile struct {
	ProofFile
	Name     string `json:"name"`
	Identity string `json:"identity"`
}

// BundleItem is one observation for a bundle.
type BundleItem struct {
	Record
	Proof *hypercore.Proof // for Record.Version's block, with an upgrade from 0 and the manifest
}

// BundleWriter writes an evidence bundle as a zip, streaming.
type BundleWriter struct {
	zw      *zip.Writer
	m       Manifest
	feats   *os.File // observations.geojson's features, spooled here, copied in at Close
	featsW  *bufio.Writer
	nfeat   int
	devices map[string]bool
	media   map[string]bool
	report  *reportBuilder
	key     ed25519.PrivateKey
}

// NewBundle starts a bundle on w, assembled by the device with identity
// key and name, for project, with the selection described.
func NewBundle(w io.Writer, project, deviceName string, key ed25519.PrivateKey, selection map[string]any) *BundleWriter {
	return &BundleWriter{
		zw: zip.NewWriter(w),
		m: Manifest{Format: BundleFormat, Created: time.Now().UTC().Format(time.RFC3339), Project: project,
			Exporter:  Exporter{Name: deviceName, Identity: hex.EncodeToString(key.Public().(ed25519.PublicKey))},
			Selection: selection, Files: map[string]string{}},
		devices: map[string]bool{},
		media:   map[string]bool{},
		report:  newReport(project),
		key:     key,
	}
}

func (b *BundleWriter) file(name string, data []byte) error {
	f, err := b.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Unix(0, 0).UTC()})
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	b.m.Files[name] = hex.EncodeToString(sum[:])
	return nil
}

// proofFile describes a verified proof.
func proofFile(obsID string, version record.VersionID, key [32]byte, p *hypercore.Proof) (ProofFile, error) {
	v, err := hypercore.NewVerifier(key, p.Manifest)
	if err != nil {
		return ProofFile{}, err
	}
	vp, err := hypercore.VerifyProof(v, hypercore.TreeState{}, nil, p)
	if err != nil {
		return ProofFile{}, fmt.Errorf("the proof of %s does not verify: %w", version, err)
	}
	pf := ProofFile{Observation: obsID, Version: string(version), Core: hex.EncodeToString(key[:]), Index: vp.Block.Index,
		Block: base64.StdEncoding.EncodeToString(vp.Block.Value), Length: vp.Length, TreeHash: hex.EncodeToString(vp.TreeHash[:]),
		Signature: hex.EncodeToString(p.Upgrade.Signature), Proof: base64.StdEncoding.EncodeToString(hypercore.AppendDataMessage(nil, 0, p))}
	for _, n := range p.Block.Nodes {
		pf.Nodes = append(pf.Nodes, ProofNode{n.Index, hex.EncodeToString(n.Hash[:]), n.Size})
	}
	for _, n := range p.Upgrade.Nodes {
		pf.Nodes = append(pf.Nodes, ProofNode{n.Index, hex.EncodeToString(n.Hash[:]), n.Size})
	}
	for _, n := range p.Upgrade.AdditionalNodes {
		pf.Nodes = append(pf.Nodes, ProofNode{n.Index, hex.EncodeToString(n.Hash[:]), n.Size})
	}
	return pf, nil
}

// AddDevice adds the device record of a data core (block 0) and its proof.
func (b *BundleWriter) AddDevice(core [32]byte, p *hypercore.Proof) error {
	k := hex.EncodeToString(core[:])
	if b.devices[k] {
		return nil
	}
	pf, err := proofFile("", record.NewVersionID(core, 0), core, p)
	if err != nil {
		return err
	}
	raw, _ := base64.StdEncoding.DecodeString(pf.Block)
	d, err := record.DecodeDevice(raw)
	if err != nil {
		return fmt.Errorf("core %s: block 0 is not a device record: %w", k[:8], err)
	}
	df := DeviceFile{ProofFile: pf, Name: d.Name, Identity: d.Identity}
	data, _ := json.MarshalIndent(df, "", "  ")
	b.devices[k] = true
	b.report.device(d.Name, d.Identity, k)
	return b.file("devices/"+k+".json", data)
}

// Add adds one observation: its feature, proof and attachments (media
// gives an attachment's bytes, already checked against its SHA-256).
func (b *BundleWriter) Add(it *BundleItem, media func(record.Attachment) ([]byte, error)) error {
	o := it.Obs
	key, idx, err := it.Version.Parse()
	if err != nil {
		return err
	}
	if idx != it.Proof.Block.Index {
		return fmt.Errorf("observation %s: the proof is of block %d, not %d", o.ID, it.Proof.Block.Index, idx)
	}
	pf, err := proofFile(o.ID, it.Version, key, it.Proof)
	if err != nil {
		return err
	}
	data, _ := json.MarshalIndent(pf, "", "  ")
	if err := b.file("proofs/"+o.ID+".json", data); err != nil {
		return err
	}
	var thumbs []string
	for _, a := range o.Attachments {
		if b.media[a.SHA256] {
			continue
		}
		bytes, err := media(a)
		if err != nil {
			return fmt.Errorf("observation %s: %w", o.ID, err)
		}
		if err := b.file("media/"+a.SHA256, bytes); err != nil {
			return err
		}
		b.media[a.SHA256] = true
		if strings.HasPrefix(a.Type, "image/") {
			thumbs = append(thumbs, "media/"+a.SHA256)
		}
	}
	f, err := Feature(&it.Record)
	if err != nil {
		return err
	}
	if b.feats == nil {
		if b.feats, err = os.CreateTemp("", "fieldsync-evidence-*.geojson"); err != nil {
			return err
		}
		b.featsW = bufio.NewWriterSize(b.feats, 1<<16)
	}
	if b.nfeat > 0 {
		b.featsW.WriteByte(',')
	}
	b.featsW.WriteByte('\n')
	if _, err := b.featsW.Write(f); err != nil {
		return err
	}
	b.nfeat++
	b.report.add(&it.Record, thumbs)
	return nil
}

// Close writes observations.geojson, the report, VERIFY.md, the manifest
// and its signature, and finishes the zip.
func (b *BundleWriter) Close() error {
	if err := b.writeFeatures(); err != nil {
		return err
	}
	if err := b.file("report.html", b.report.html()); err != nil {
		return err
	}
	if err := b.file("VERIFY.md", []byte(verifyMD)); err != nil {
		return err
	}
	b.m.Observations = b.nfeat
	man, err := json.MarshalIndent(b.m, "", "  ")
	if err != nil {
		return err
	}
	man = append(man, '\n')
	if err := b.raw("MANIFEST.json", man); err != nil {
		return err
	}
	sig := ed25519.Sign(b.key, append([]byte(manifestDomain), man...))
	if err := b.raw("MANIFEST.sig", []byte(hex.EncodeToString(sig)+"\n")); err != nil {
		return err
	}
	return b.zw.Close()
}

// writeFeatures copies the spooled features into observations.geojson.
func (b *BundleWriter) writeFeatures() error {
	zf, err := b.zw.CreateHeader(&zip.FileHeader{Name: "observations.geojson", Method: zip.Deflate, Modified: time.Unix(0, 0).UTC()})
	if err != nil {
		return err
	}
	h := sha256.New()
	w := io.MultiWriter(zf, h)
	io.WriteString(w, `{"type":"FeatureCollection","features":[`)
	if b.feats != nil {
		defer os.Remove(b.feats.Name())
		defer b.feats.Close()
		if err := b.featsW.Flush(); err != nil {
			return err
		}
		if _, err := b.feats.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.Copy(w, b.feats); err != nil {
			return err
		}
	}
	io.WriteString(w, "\n]}\n")
	b.m.Files["observations.geojson"] = hex.EncodeToString(h.Sum(nil))
	return nil
}

// Abort removes what an unfinished bundle spooled.
func (b *BundleWriter) Abort() {
	if b.feats != nil {
		b.feats.Close()
		os.Remove(b.feats.Name())
	}
}

func (b *BundleWriter) raw(name string, data []byte) error {
	f, err := b.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Unix(0, 0).UTC()})
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return err
}

// sortedKeys of a string set.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
