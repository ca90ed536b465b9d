package export

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

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

// ErrNotBundle: the file is not a readable bundle (not a zip or folder,
// too big, a newer format); ErrTampered: a check failed.
var (
	ErrNotBundle = errors.New("not a fieldsync evidence bundle")
	ErrTampered  = errors.New("verification failed")
)

func fail(file, format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrTampered, &VerifyError{file, fmt.Sprintf(format, args...)})
}

// Author is a device whose signed log a bundle holds.
type Author struct {
	Name         string `json:"name"`
	Identity     string `json:"identity"`
	Core         string `json:"core"`
	Length       uint64 `json:"length"`       // blocks of its log in the bundle (the signed length)
	Versions     int    `json:"versions"`     // observation versions in them
	Observations int    `json:"observations"` // selected observations whose current version it wrote
}

// VerifyResult is what a bundle proved.
type VerifyResult struct {
	Format    string `json:"format"`
	Container string `json:"container"`
	// Stated by the exporter and signed only by it.
	Project string `json:"project"`
	Created string `json:"created"`
	// The exporter: its key signed the manifest, and its device record,
	// signed by the same key, is block 0 of one of the logs.
	Exporter     Exporter            `json:"exporter"`
	Selection    Selection           `json:"selection"`
	Observations int                 `json:"observations"`
	Deleted      int                 `json:"deleted"`
	Attachments  int                 `json:"attachments"`
	Missing      []MissingAttachment `json:"missing"`
	Authors      []Author            `json:"authors"`
	Earliest     string              `json:"earliest,omitempty"`
	Latest       string              `json:"latest,omitempty"`
	Warnings     []string            `json:"warnings"`
}

// VerifyOptions change how a bundle's container is read.
type VerifyOptions struct {
	// LenientContainer accepts zip extra fields of any type, any
	// directory entry, and skips files operating systems add
	// (__MACOSX/, .DS_Store...). The evidence checks are the same.
	LenientContainer bool
}

// Verify checks the bundle at path (a zip, or a folder it was extracted
// to) offline, as a stranger would: see VERIFY.md, which describes every
// step. It stops at the first failure with an error wrapping ErrTampered
// (naming the file and what is wrong) or ErrNotBundle, and stops when ctx
// is cancelled.
func Verify(ctx context.Context, path string, opt VerifyOptions) (*VerifyResult, error) {
	// 1. The container: nothing outside the files.
	c, err := openContainer(path, opt.LenientContainer)
	if err != nil {
		return nil, err
	}
	defer c.close()
	// 2. The manifest and the exporter's signature.
	m, err := readManifest(c)
	if err != nil {
		return nil, err
	}
	// 3. Every file listed, none other, each with its SHA-256.
	if err := checkFiles(ctx, c, m); err != nil {
		return nil, err
	}
	// 4. The logs: every block, its tree hash, the signed head; the
	// records they hold; the selection run again over them.
	led, err := readLogs(ctx, c, m)
	if err != nil {
		return nil, err
	}
	// 5. The exporter is one of the devices.
	if err := checkExporter(led, m); err != nil {
		return nil, err
	}
	// 6. What a reader sees, regenerated from the signed blocks.
	res, err := regenerate(ctx, c, m, led)
	if err != nil {
		return nil, err
	}
	res.Container = c.describe()
	return res, nil
}

func openContainer(path string, lenient bool) (container, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return openDir(path, lenient)
	}
	return openZip(path, lenient)
}

// readAll reads one whole file of at most limit bytes.
func readAll(c container, name string, limit uint64) ([]byte, error) {
	n, ok := c.size(name)
	if !ok {
		return nil, fail(name, "missing")
	}
	if n > limit {
		return nil, fail(name, "too large (%d bytes)", n)
	}
	rc, err := c.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, int64(n)+1))
	if err != nil {
		return nil, fail(name, "unreadable: %v", err)
	}
	if uint64(len(b)) != n {
		return nil, fail(name, "holds %d bytes, its header says %d", len(b), n)
	}
	return b, nil
}

var sigRe = regexp.MustCompile(`^[0-9a-f]{128}\n$`)

// readManifest reads MANIFEST.json (strictly: known fields only, once
// each) and checks MANIFEST.sig over it.
func readManifest(c container) (*Manifest, error) {
	if _, ok := c.size(manifestName); !ok {
		return nil, fmt.Errorf("%w: it holds no %s", ErrNotBundle, manifestName)
	}
	b, err := readAll(c, manifestName, maxJSONFile)
	if err != nil {
		return nil, err
	}
	var probe struct {
		Format string `json:"format"`
	}
	if json.Unmarshal(b, &probe) == nil && probe.Format != BundleFormat {
		if probe.Format == "fieldsync-evidence/1" {
			return nil, fmt.Errorf("%w: format %q, which cannot prove that nothing was left out: export the bundle again with this fieldsync", ErrNotBundle, probe.Format)
		}
		if strings.HasPrefix(probe.Format, "fieldsync-evidence/") {
			return nil, fmt.Errorf("%w: format %q is newer than this fieldsync reads (%q): update fieldsync", ErrNotBundle, probe.Format, BundleFormat)
		}
	}
	var m Manifest
	if err := strictJSON(b, &m); err != nil {
		return nil, fail(manifestName, "not a manifest: %v", err)
	}
	if m.Format != BundleFormat {
		return nil, fail(manifestName, "unknown format %q", m.Format)
	}
	sig, err := readAll(c, signatureName, 1<<10)
	if err != nil {
		return nil, err
	}
	if !sigRe.Match(sig) {
		return nil, fail(signatureName, "must be exactly 128 lowercase hex digits and one newline, as fieldsync writes it")
	}
	raw, _ := hex.DecodeString(string(sig[:128]))
	pub, err := hex.DecodeString(m.Exporter.Identity)
	if err != nil || len(pub) != ed25519.PublicKeySize || hex.EncodeToString(pub) != m.Exporter.Identity {
		return nil, fail(manifestName, "exporter.identity %q is not an Ed25519 public key in lowercase hex", m.Exporter.Identity)
	}
	if !ed25519.Verify(pub, append([]byte(manifestDomain), b...), raw) {
		return nil, fail(signatureName, "the exporter's signature over MANIFEST.json does not verify with exporter.identity %s", m.Exporter.Identity)
	}
	if _, err := time.Parse(time.RFC3339, m.Created); err != nil {
		return nil, fail(manifestName, "created %q is not an RFC 3339 time", m.Created)
	}
	return &m, nil
}

// A listed file's name says what it is.
var (
	logFileRe   = regexp.MustCompile(`^logs/[0-9a-f]{64}\.blocks$`)
	mediaFileRe = regexp.MustCompile(`^media/[0-9a-f]{64}(\.[a-z0-9]{1,8})?$`)
)

// checkFiles: the container holds exactly the manifest, its signature and
// the listed files, and each hashes to what the manifest says.
func checkFiles(ctx context.Context, c container, m *Manifest) error {
	for _, name := range c.files() {
		if name == manifestName || name == signatureName {
			continue
		}
		if _, ok := m.Files[name]; !ok {
			return fail(name, "not listed in MANIFEST.json (added after the export)")
		}
	}
	for _, name := range sortedKeys(m.Files) {
		switch {
		case name == geojsonName || name == reportName || name == verifyName:
		case logFileRe.MatchString(name), mediaFileRe.MatchString(name):
		default:
			return fail(manifestName, "lists %s, which is no file a bundle has", name)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		size, ok := c.size(name)
		if !ok {
			return fail(name, "listed in MANIFEST.json but missing from the bundle")
		}
		rc, err := c.open(name)
		if err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(h, io.LimitReader(rc, int64(size)+1))
		rc.Close()
		if err != nil || uint64(n) != size {
			return fail(name, "unreadable or of the wrong size")
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != m.Files[name] {
			return fail(name, "SHA-256 %s, MANIFEST.json says %s", got, m.Files[name])
		}
	}
	for _, name := range []string{geojsonName, reportName, verifyName} {
		if _, ok := m.Files[name]; !ok {
			return fail(name, "missing (not listed in MANIFEST.json)")
		}
	}
	return nil
}

// readLogs checks every log against its signed head and reads its records
// into a ledger, then runs the selection.
func readLogs(ctx context.Context, c container, m *Manifest) (*ledger, error) {
	f, err := m.Selection.Filter()
	if err != nil {
		return nil, fail(manifestName, "%v", err)
	}
	led := newLedger(f)
	for i, h := range m.Logs {
		if i > 0 && h.Core <= m.Logs[i-1].Core {
			return nil, fail(manifestName, "logs must be listed once each, ordered by core key")
		}
		kb, err := hex.DecodeString(h.Core)
		if err != nil || len(kb) != 32 || hex.EncodeToString(kb) != h.Core {
			return nil, fail(manifestName, "log core %q is not a key in lowercase hex", h.Core)
		}
		led.addLog([32]byte(kb))
	}
	for name := range m.Files {
		if logFileRe.MatchString(name) {
			if _, ok := led.byKey[strings.TrimSuffix(strings.TrimPrefix(name, logsDir), blocksExt)]; !ok {
				return nil, fail(name, "a log with no signed head in MANIFEST.json")
			}
		}
	}
	for i, h := range m.Logs {
		if err := readLog(ctx, c, led, i, h); err != nil {
			return nil, err
		}
	}
	led.resolve()
	return led, nil
}

// readLog checks one log: the manifest is the core's, every block adds
// up to the signed tree hash at the signed length, and the signature
// over it verifies.
func readLog(ctx context.Context, c container, led *ledger, i int, h LogHead) error {
	name := logsDir + h.Core + blocksExt
	lg := led.logs[i]
	mb, err := hex.DecodeString(h.Manifest)
	if err != nil {
		return fail(manifestName, "log %s: manifest is not hex", h.Core)
	}
	man, err := hypercore.DecodeManifest(mb)
	if err != nil || len(man.Signers) != 1 || !bytes.Equal(hypercore.DefaultManifest(man.Signers[0].PublicKey[:]).Encode(), mb) {
		return fail(manifestName, "log %s: not the manifest of a single-signer Hypercore 11 core, as fieldsync makes", h.Core)
	}
	v, err := hypercore.NewVerifier(lg.key, man)
	if err != nil {
		return fail(manifestName, "log %s: its manifest does not hash to its key: %v", h.Core, err)
	}
	sig, err := hex.DecodeString(h.Signature)
	if err != nil {
		return fail(manifestName, "log %s: signature is not hex", h.Core)
	}
	var n uint64
	err = eachBlock(ctx, c, name, func(idx uint64, b []byte) error {
		n++
		if err := led.block(i, idx, b); err != nil {
			return fail(name, "%v", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n != h.Length {
		return fail(name, "holds %d blocks, the signed head is at length %d", n, h.Length)
	}
	if n == 0 {
		return fail(name, "an empty log: it has no device record")
	}
	th := lg.roots.treeHash()
	if hex.EncodeToString(th[:]) != h.TreeHash {
		return fail(name, "its blocks give the tree hash %x, not the signed head's %s: a block was changed, added or removed", th, h.TreeHash)
	}
	if err := v.Verify(th, h.Length, h.Fork, sig); err != nil {
		return fail(name, "the signature of its head (length %d) does not verify with the core's key: %v", h.Length, err)
	}
	return nil
}

// eachBlock reads a log file: one line per block, standard base64 with
// padding, each ending in a newline.
func eachBlock(ctx context.Context, c container, name string, fn func(idx uint64, b []byte) error) error {
	rc, err := c.open(name)
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1<<16)
	var buf []byte
	for idx := uint64(0); ; idx++ {
		if idx%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, err := readLine(br, 64<<20)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fail(name, "line %d: %v", idx+1, err)
		}
		buf = buf[:0]
		buf, err = base64.StdEncoding.Strict().AppendDecode(buf, line)
		if err != nil || base64.StdEncoding.EncodedLen(len(buf)) != len(line) {
			return fail(name, "line %d (block %d) is not one block in base64", idx+1, idx)
		}
		if err := fn(idx, buf); err != nil {
			return err
		}
	}
}

// readLine reads one line ending in "\n" (which it drops), at most limit
// bytes; io.EOF at the end, an error for a last line with no newline.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		if len(line)+len(part) > limit {
			return nil, fmt.Errorf("longer than %d bytes", limit)
		}
		switch err {
		case nil:
			if line == nil {
				return part[:len(part)-1], nil
			}
			return append(line, part[:len(part)-1]...), nil
		case bufio.ErrBufferFull:
			line = append(line, part...)
		case io.EOF:
			if len(line)+len(part) == 0 {
				return nil, io.EOF
			}
			return nil, errors.New("the last line has no newline")
		default:
			return nil, err
		}
	}
}

// checkExporter: the key that signed the manifest is the identity of one
// of the logs' devices, and the manifest names it as that device does.
func checkExporter(led *ledger, m *Manifest) error {
	i, ok := led.byKey[m.Exporter.Log]
	if !ok {
		return fail(manifestName, "exporter.log %s is not one of the bundle's logs: the key %s that signed this bundle is not shown to be one of the project's devices", m.Exporter.Log, m.Exporter.Identity)
	}
	lg := led.logs[i]
	if lg.device.Identity != m.Exporter.Identity {
		return fail(manifestName, "the bundle is signed by key %s, but log %s belongs to device %q with key %s: whoever signed it is not that device", m.Exporter.Identity, lg.core, lg.device.Name, lg.device.Identity)
	}
	if name := lg.names[len(lg.names)-1].name; name != m.Exporter.Name {
		return fail(manifestName, "exporter.name %q is not the name %q the exporter's device record gives", m.Exporter.Name, name)
	}
	return nil
}

// regenerate renders observations.geojson and report.html again from the
// signed blocks and compares them, and VERIFY.md, with the bundle's; it
// checks the attachments and the manifest's counts and missing list.
func regenerate(ctx context.Context, c container, m *Manifest, led *ledger) (*VerifyResult, error) {
	rc, err := c.open(geojsonName)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	cw := &cmpWriter{r: bufio.NewReaderSize(rc, 1<<16)}
	rb := &reportBuilder{head: newReportHead(led, m)}
	present := func(a record.Attachment, name string) (bool, error) {
		size, ok := c.size(name)
		if !ok {
			return false, nil
		}
		if size != a.Size || m.Files[name] != a.SHA256 {
			return false, fail(name, "is not the attachment %q its signed record names (%d bytes, SHA-256 %s)", a.Name, a.Size, a.SHA256)
		}
		return true, nil
	}
	rd, err := newRender(cw, rb, present)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{Format: m.Format, Project: m.Project, Created: m.Created, Exporter: m.Exporter, Selection: m.Selection, Warnings: []string{}}
	for i, lg := range led.logs {
		a := Author{Name: lg.names[len(lg.names)-1].name, Identity: lg.device.Identity, Core: lg.core, Length: lg.roots.n, Versions: lg.versions, Observations: len(lg.selected)}
		res.Authors = append(res.Authors, a)
		if len(lg.selected) == 0 {
			continue
		}
		sel := lg.selected
		err := eachBlock(ctx, c, logsDir+lg.core+blocksExt, func(idx uint64, b []byte) error {
			if len(sel) == 0 || sel[0].index != idx {
				return nil
			}
			o, err := record.Decode(b)
			if err != nil {
				return err
			}
			rec := led.record(i, sel[0], o)
			sel = sel[1:]
			if _, _, err := rd.add(rec); err != nil {
				return err
			}
			if cw.bad {
				return fail(geojsonName, "feature %d should be observation %s in its current version %s, as the signed blocks give it; the file differs at byte %d: it has %q where the signed blocks give %q",
					rd.n, o.ID, rec.Version, cw.badOff, cw.got, cw.want)
			}
			if o.Deleted {
				res.Deleted++
			}
			if res.Earliest == "" || record.Time(o.Created).Before(record.Time(res.Earliest)) {
				res.Earliest = o.Created
			}
			if record.Time(o.Created).After(record.Time(res.Latest)) {
				res.Latest = o.Created
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if err := rd.close(); err != nil {
		return nil, err
	}
	if err := cw.end(); err != nil || cw.bad {
		return nil, fail(geojsonName, "after the %d observations the signed blocks select, the file differs at byte %d: it has %q where the signed blocks give %q (an observation added, or bytes changed)", rd.n, cw.badOff, cw.got, cw.want)
	}
	if err := checkRendered(c, m, rd, rb); err != nil {
		return nil, err
	}
	res.Observations, res.Attachments, res.Missing = rd.n, rd.attachments(), rd.missing
	if res.Missing == nil {
		res.Missing = []MissingAttachment{}
	}
	names := map[string]string{}
	for _, a := range res.Authors {
		if other, dup := names[a.Name]; dup && other != a.Identity {
			res.Warnings = append(res.Warnings, fmt.Sprintf("two devices are named %q (keys %s and %s): tell them apart by key", a.Name, other, a.Identity))
		}
		names[a.Name] = a.Identity
	}
	return res, nil
}

// checkRendered compares the manifest's counts and missing list, the
// media files, report.html and VERIFY.md with what the blocks give.
func checkRendered(c container, m *Manifest, rd *render, rb *reportBuilder) error {
	if m.Observations != rd.n {
		return fail(manifestName, "says %d observations, the signed blocks select %d", m.Observations, rd.n)
	}
	missing := rd.missing
	if missing == nil {
		missing = []MissingAttachment{}
	}
	if !reflect.DeepEqual(m.Missing, missing) {
		for _, x := range missing {
			if !containsMissing(m.Missing, x) {
				return fail(mediaName(record.Attachment{Name: x.Name, SHA256: x.SHA256, Type: x.Type}), "attachment %q of observation %s is missing from the bundle and MANIFEST.json does not list it as missing", x.Name, x.Observation)
			}
		}
		for _, x := range m.Missing {
			if !containsMissing(missing, x) {
				return fail(manifestName, "lists attachment %q of observation %s as missing, but the bundle holds it or no selected observation has it", x.Name, x.Observation)
			}
		}
		return fail(manifestName, "its list of missing attachments is not in the order the observations give")
	}
	if m.Attachments != rd.attachments() {
		return fail(manifestName, "says %d attachments, the selected observations have %d in the bundle", m.Attachments, rd.attachments())
	}
	kept := map[string]bool{}
	for sha, name := range rd.media {
		if !rd.missed[sha] {
			kept[name] = true
		}
	}
	for name := range m.Files {
		if strings.HasPrefix(name, mediaDir) && !kept[name] {
			return fail(name, "an attachment no selected observation names (or named otherwise: media/<sha256><extension of its name>)")
		}
	}
	report, err := readAll(c, reportName, maxJSONFile)
	if err != nil {
		return err
	}
	if want := rb.html(m.Missing); !bytes.Equal(report, want) {
		line, got, exp := firstLineDifference(report, want)
		return fail(reportName, "line %d is not what the signed blocks give: it has %q where they give %q", line, got, exp)
	}
	vm, err := readAll(c, verifyName, maxJSONFile)
	if err != nil {
		return err
	}
	if !bytes.Equal(vm, []byte(verifyMD)) {
		line, got, exp := firstLineDifference(vm, []byte(verifyMD))
		return fail(verifyName, "is not the text fieldsync writes into every bundle of this format: line %d has %q where it should have %q", line, got, exp)
	}
	return nil
}

func containsMissing(list []MissingAttachment, x MissingAttachment) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}

// cmpWriter compares what is written with what r holds.
type cmpWriter struct {
	r         *bufio.Reader
	off       int64
	buf       []byte
	bad       bool
	badOff    int64
	got, want string
}

func (c *cmpWriter) Write(p []byte) (int, error) {
	if c.bad {
		return len(p), nil
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	b := c.buf[:len(p)]
	n, _ := io.ReadFull(c.r, b)
	b = b[:n]
	if !bytes.Equal(b, p) {
		i := 0
		for i < len(b) && b[i] == p[i] {
			i++
		}
		c.bad, c.badOff = true, c.off+int64(i)
		c.got, c.want = clip(b[i:]), clip(p[i:])
	}
	c.off += int64(len(p))
	return len(p), nil
}

// end checks that nothing follows what was written.
func (c *cmpWriter) end() error {
	if c.bad {
		return nil
	}
	rest, _ := c.r.Peek(40)
	if len(rest) > 0 {
		c.bad, c.badOff, c.got, c.want = true, c.off, clip(rest), ""
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

// firstLineDifference is the first line (1-based) where a and b differ,
// with both lines.
func firstLineDifference(a, b []byte) (int, string, string) {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; ; i++ {
		var x, y []byte
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if !bytes.Equal(x, y) || i >= len(la) || i >= len(lb) {
			j := 0
			for j < len(x) && j < len(y) && x[j] == y[j] {
				j++
			}
			lo := max(j-20, 0)
			return i + 1, clip(x[lo:]), clip(y[lo:])
		}
	}
}

// strictJSON decodes b into v, refusing unknown fields, a key given
// twice, and trailing data.
func strictJSON(b []byte, v any) error {
	if err := noDuplicateKeys(b); err != nil {
		return err
	}
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

// noDuplicateKeys refuses a JSON text with a key twice in one object (Go
// would keep the last, another reader the first).
func noDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	var walk func() error
	walk = func() error {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return fmt.Errorf("the key %q appears twice in one object", key)
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	return walk()
}
