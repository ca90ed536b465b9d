package export

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/observations/record"
)

// BundleFormat is the evidence bundle format this version writes and reads.
const BundleFormat = "fieldsync-evidence/2"

// manifestDomain prefixes the bytes an exporter signs.
const manifestDomain = "fieldsync evidence manifest v2\x00"

// The files of a bundle.
const (
	manifestName  = "MANIFEST.json"
	signatureName = "MANIFEST.sig"
	geojsonName   = "observations.geojson"
	reportName    = "report.html"
	verifyName    = "VERIFY.md"
	logsDir       = "logs/"
	mediaDir      = "media/"
	blocksExt     = ".blocks"
)

// Manifest is MANIFEST.json: what the bundle holds, the signed heads of its
// logs, and the SHA-256 of every other file. MANIFEST.sig is the exporter's
// Ed25519 signature (128 lowercase hex digits and a newline) over
// manifestDomain followed by MANIFEST.json's bytes.
type Manifest struct {
	Format       string              `json:"format"`
	Created      string              `json:"created"` // stated by the exporter
	Project      string              `json:"project"` // stated by the exporter: no observer signs it
	Exporter     Exporter            `json:"exporter"`
	Selection    Selection           `json:"selection"`
	Observations int                 `json:"observations"`
	Attachments  int                 `json:"attachments"`
	Missing      []MissingAttachment `json:"missing"`
	Logs         []LogHead           `json:"logs"`
	Files        map[string]string   `json:"files"` // path → SHA-256 hex
}

// Exporter is the device that assembled and signed the bundle. Its log is
// one of the bundle's logs: its device record there, signed by the same
// identity, is what makes it one of the project's devices.
type Exporter struct {
	Name     string `json:"name"`
	Identity string `json:"identity"` // Ed25519 public key, hex
	Log      string `json:"log"`      // its data core key, hex
}

// LogHead is the signed head of one device's data core: logs/<core>.blocks
// holds its blocks 0 to Length-1, one base64 line each.
type LogHead struct {
	Core      string `json:"core"`
	Length    uint64 `json:"length"`
	Fork      uint64 `json:"fork"`
	TreeHash  string `json:"treeHash"`  // hex
	Signature string `json:"signature"` // hex: the Hypercore 11 stored signature
	Manifest  string `json:"manifest"`  // hex: the Hypercore 11 manifest, whose hash is Core
}

// MissingAttachment is an attachment of a selected observation that the
// exporter did not have (export evidence --allow-missing).
type MissingAttachment struct {
	Observation string `json:"observation"`
	Name        string `json:"name"`
	SHA256      string `json:"sha256"`
	Size        uint64 `json:"size"`
	Type        string `json:"type"`
}

// mediaExts names the extension of an attachment's file by its MIME type
// when its own name has none.
var mediaExts = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/heic": ".heic",
	"image/tiff": ".tif", "video/mp4": ".mp4", "video/quicktime": ".mov", "audio/mpeg": ".mp3", "audio/mp4": ".m4a",
	"audio/ogg": ".ogg", "audio/wav": ".wav", "application/pdf": ".pdf", "text/plain": ".txt",
}

var extRe = regexp.MustCompile(`^\.[a-z0-9]{1,8}$`)

// mediaName is the file of an attachment in a bundle: media/<sha256><ext>,
// the extension that of the attachment's name (lowercased) when it is 1
// to 8 letters and digits, else the one of its MIME type, else none.
func mediaName(a record.Attachment) string {
	ext := strings.ToLower(path.Ext(a.Name))
	if !extRe.MatchString(ext) {
		ext = mediaExts[a.Type]
	}
	return mediaDir + a.SHA256 + ext
}

// zipWriter writes a bundle's entries, each deflated, dated, hashed.
type zipWriter struct {
	zw    *zip.Writer
	date  time.Time
	files map[string]string
}

// entry is one file being written; close records its SHA-256.
type entry struct {
	w    io.Writer
	h    hash.Hash
	name string
	zw   *zipWriter
}

func (e *entry) Write(p []byte) (int, error) {
	e.h.Write(p)
	return e.w.Write(p)
}

func (e *entry) close() { e.zw.files[e.name] = hex.EncodeToString(e.h.Sum(nil)) }

func (z *zipWriter) create(name string, hashed bool) (*entry, error) {
	fh := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: z.date}
	fh.SetMode(0o644)
	w, err := z.zw.CreateHeader(fh)
	if err != nil {
		return nil, err
	}
	e := &entry{w: w, h: sha256.New(), name: name, zw: z}
	if !hashed {
		e.h = discardHash{}
	}
	return e, nil
}

func (z *zipWriter) file(name string, data []byte, hashed bool) error {
	e, err := z.create(name, hashed)
	if err != nil {
		return err
	}
	if _, err := e.Write(data); err != nil {
		return err
	}
	if hashed {
		e.close()
	}
	return nil
}

// discardHash is the hash of files that are not listed (the manifest and
// its signature).
type discardHash struct{}

func (discardHash) Write(p []byte) (int, error) { return len(p), nil }
func (discardHash) Sum(b []byte) []byte         { return b }
func (discardHash) Reset()                      {}
func (discardHash) Size() int                   { return 0 }
func (discardHash) BlockSize() int              { return 1 }

// sortedKeys of a map with string keys.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
