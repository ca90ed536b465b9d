package export

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/record"
)

// ErrMissingAttachments: an evidence bundle cannot be made because some
// attachments are not on this device (--allow-missing makes it anyway and
// lists them).
var ErrMissingAttachments = errors.New("attachments are not on this device")

// EvidenceOptions are what an evidence export selects and how.
type EvidenceOptions struct {
	Selection    Selection
	AllowMissing bool      // list attachments that are not here instead of failing
	Now          time.Time // the export time (zero: now)
}

// EvidenceResult is what an evidence export wrote.
type EvidenceResult struct {
	Observations int                 `json:"observations"`
	Attachments  int                 `json:"attachments"`
	Logs         int                 `json:"logs"`
	Missing      []MissingAttachment `json:"missing"`
}

// snapshot is one data core as the export reads it: open, with the signed
// head taken once (blocks past it are not read).
type snapshot struct {
	key  [32]byte
	core *hypercore.Core
	head hypercore.Head
}

// WriteEvidence writes the evidence bundle of the observations of p that
// the selection picks to w, assembled and signed by this device (key).
//
// It reads the signed blocks of the project's cores, never the index: it
// runs the selection over them with the same code Verify runs, then puts
// in the bundle the complete logs (up to their current signed heads) of
// every device that wrote a version of a selected observation, of every
// device that wrote a version of any observation those logs hold, and of
// this device — so that Verify, running the selection again over those
// logs, finds exactly the same observations and versions. If an
// attachment is missing here and AllowMissing is false, the error wraps
// ErrMissingAttachments and the result lists the missing ones.
func WriteEvidence(ctx context.Context, w io.Writer, p *project.Project, key ed25519.PrivateKey, opt EvidenceOptions) (*EvidenceResult, error) {
	f, err := opt.Selection.Filter()
	if err != nil {
		return nil, err
	}
	r := p.NewReader()
	defer r.Close()
	// 1. The project's data cores, each at its current signed head.
	snaps, err := dataCores(ctx, p, r)
	if err != nil {
		return nil, err
	}
	own := p.OwnCoreKey(record.KindData)
	identity := hex.EncodeToString(key.Public().(ed25519.PublicKey))
	if s := snaps[own]; s == nil {
		return nil, fmt.Errorf("this device's own log is not in the project")
	}
	// 2. The selection over every log, then the logs the bundle needs.
	all := sortedSnaps(snaps)
	global := newLedger(f)
	if err := readLedger(ctx, global, all); err != nil {
		return nil, err
	}
	global.resolve()
	included := closure(global, own)
	led := global
	if len(included) < len(all) {
		// 3. The same selection over the included logs only: what Verify
		// will find.
		var sub []*snapshot
		for _, s := range all {
			if included[s.key] {
				sub = append(sub, s)
			}
		}
		all = sub
		led = newLedger(f)
		if err := readLedger(ctx, led, all); err != nil {
			return nil, err
		}
		led.resolve()
	}
	ownLog := led.logs[led.byKey[hex.EncodeToString(own[:])]]
	if ownLog.device.Identity != identity {
		return nil, fmt.Errorf("this device's log was written by identity %s, not by this device's key %s", ownLog.device.Identity, identity)
	}
	// 4. The bundle.
	created := opt.Now
	if created.IsZero() {
		created = time.Now()
	}
	m := Manifest{Format: BundleFormat, Created: created.UTC().Format(time.RFC3339), Project: p.Name,
		Exporter:  Exporter{Name: ownLog.names[len(ownLog.names)-1].name, Identity: identity, Log: hex.EncodeToString(own[:])},
		Selection: opt.Selection, Missing: []MissingAttachment{}}
	zw := &zipWriter{zw: zip.NewWriter(w), date: created.UTC(), files: map[string]string{}}
	if err := writeLogs(ctx, zw, led, all, &m); err != nil {
		return nil, err
	}
	res, err := writeRendered(ctx, zw, led, all, r, &m, opt.AllowMissing)
	if err != nil {
		return res, err
	}
	return res, finish(zw, &m, key)
}

// dataCores opens every core of p that starts with the device record of
// its own device (a data core) and takes its signed head.
func dataCores(ctx context.Context, p *project.Project, r *project.Reader) (map[[32]byte]*snapshot, error) {
	keys, err := p.CoreKeys()
	if err != nil {
		return nil, err
	}
	out := map[[32]byte]*snapshot{}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := r.Core(k)
		if err != nil {
			return nil, err
		}
		h := c.Head()
		if h.Length == 0 || c.Contiguous() == 0 {
			continue
		}
		b, err := c.Get(0)
		if err != nil {
			return nil, fmt.Errorf("core %x: %w", k[:4], err)
		}
		if kind, err := record.Kind(b); err != nil || kind != record.TypeDevice {
			continue // a media core
		}
		if d, err := record.DecodeDevice(b); err != nil || d.Data != hex.EncodeToString(k[:]) {
			continue
		}
		out[k] = &snapshot{key: k, core: c, head: h}
	}
	return out, nil
}

func sortedSnaps(m map[[32]byte]*snapshot) []*snapshot {
	out := make([]*snapshot, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return hex.EncodeToString(out[i].key[:]) < hex.EncodeToString(out[j].key[:]) })
	return out
}

// readLedger reads every block of the logs, up to their signed heads.
func readLedger(ctx context.Context, l *ledger, logs []*snapshot) error {
	for _, s := range logs {
		l.addLog(s.key)
	}
	for i, s := range logs {
		if s.core.Contiguous() < s.head.Length {
			return fmt.Errorf("the log of device %s is not complete on this device (%d of %d blocks): sync with it first", l.logs[i].core[:8], s.core.Contiguous(), s.head.Length)
		}
		for idx := uint64(0); idx < s.head.Length; idx++ {
			if idx%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			b, err := s.core.Get(idx)
			if err != nil {
				return fmt.Errorf("log %s block %d: %w", l.logs[i].core[:8], idx, err)
			}
			if err := l.block(i, idx, b); err != nil {
				return fmt.Errorf("log %s: %w", l.logs[i].core[:8], err)
			}
		}
		if got := l.logs[i].roots.treeHash(); got != s.head.TreeHash {
			return fmt.Errorf("log %s: its blocks do not give its signed tree hash: the stored core is damaged", l.logs[i].core[:8])
		}
	}
	return nil
}

// closure is the set of logs a bundle must hold: those with a version of
// a selected observation and this device's own, then, until nothing
// changes, every log with a version of an observation that has a version
// in the set. Resolving over those logs then gives every observation in
// them the same current version as over the whole project.
func closure(l *ledger, own [32]byte) map[[32]byte]bool {
	in := make([]bool, len(l.logs))
	in[l.byKey[hex.EncodeToString(own[:])]] = true
	for _, lg := range l.logs {
		for _, s := range lg.selected {
			for _, v := range l.obs[s.obs].versions {
				in[v.ref.log] = true
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, o := range l.obs {
			any, all := false, true
			for _, v := range o.versions {
				any = any || in[v.ref.log]
				all = all && in[v.ref.log]
			}
			if any && !all {
				for _, v := range o.versions {
					in[v.ref.log] = true
				}
				changed = true
			}
		}
	}
	out := map[[32]byte]bool{}
	for i, lg := range l.logs {
		if in[i] {
			out[lg.key] = true
		}
	}
	return out
}

// writeLogs writes logs/<core>.blocks (one base64 line per block) and the
// signed heads into the manifest.
func writeLogs(ctx context.Context, zw *zipWriter, l *ledger, logs []*snapshot, m *Manifest) error {
	for i, s := range logs {
		lg := l.logs[i]
		e, err := zw.create(logsDir+lg.core+blocksExt, true)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(e, 1<<16)
		var line []byte
		for idx := uint64(0); idx < s.head.Length; idx++ {
			if idx%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			b, err := s.core.Get(idx)
			if err != nil {
				return fmt.Errorf("log %s block %d: %w", lg.core[:8], idx, err)
			}
			line = base64.StdEncoding.AppendEncode(line[:0], b)
			line = append(line, '\n')
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		e.close()
		m.Logs = append(m.Logs, LogHead{Core: lg.core, Length: s.head.Length, Fork: s.head.Fork,
			TreeHash: hex.EncodeToString(s.head.TreeHash[:]), Signature: hex.EncodeToString(s.head.Signature),
			Manifest: hex.EncodeToString(s.core.Manifest().Encode())})
	}
	return nil
}

// writeRendered writes the attachments, observations.geojson and
// report.html of the selected observations.
func writeRendered(ctx context.Context, zw *zipWriter, l *ledger, logs []*snapshot, r *project.Reader, m *Manifest, allowMissing bool) (*EvidenceResult, error) {
	spool, err := os.CreateTemp("", "fieldsync-evidence-*.geojson")
	if err != nil {
		return nil, err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	sw := bufio.NewWriterSize(spool, 1<<16)
	rb := &reportBuilder{head: newReportHead(l, m)}
	present := func(a record.Attachment, name string) (bool, error) {
		b, err := r.Attachment(a)
		if errors.Is(err, project.ErrMissing) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return true, zw.file(name, b, true)
	}
	rd, err := newRender(sw, rb, present)
	if err != nil {
		return nil, err
	}
	for i, s := range logs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, sel := range l.logs[i].selected {
			b, err := s.core.Get(sel.index)
			if err != nil {
				return nil, err
			}
			o, err := record.Decode(b)
			if err != nil {
				return nil, err
			}
			if _, _, err := rd.add(l.record(i, sel, o)); err != nil {
				return nil, err
			}
		}
	}
	if err := rd.close(); err != nil {
		return nil, err
	}
	res := &EvidenceResult{Observations: rd.n, Attachments: rd.attachments(), Logs: len(logs), Missing: rd.missing}
	if len(rd.missing) > 0 && !allowMissing {
		return res, fmt.Errorf("%d of them (sync with their authors first, or give --allow-missing to list them in the bundle instead): %w", len(rd.missing), ErrMissingAttachments)
	}
	if err := sw.Flush(); err != nil {
		return nil, err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	e, err := zw.create(geojsonName, true)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(e, spool); err != nil {
		return nil, err
	}
	e.close()
	m.Observations, m.Attachments = rd.n, rd.attachments()
	m.Missing = append(m.Missing, rd.missing...)
	if err := zw.file(reportName, rb.html(m.Missing), true); err != nil {
		return nil, err
	}
	return res, zw.file(verifyName, []byte(verifyMD), true)
}

// record is the export record of a selected block.
func (l *ledger) record(log int, sel selectedBlock, o *record.Observation) *Record {
	cur := vref{int32(log), sel.index}
	return &Record{Version: l.versionID(cur), Author: l.author(cur), Forked: sel.forked, Obs: o,
		OriginalAuthor: l.author(sel.original), Versions: sel.versions}
}

// newReportHead is what the report says before the observations.
func newReportHead(l *ledger, m *Manifest) reportHead {
	h := reportHead{project: m.Project, created: m.Created, exporterName: m.Exporter.Name, exporterKey: m.Exporter.Identity,
		exporterOf: m.Exporter.Log, selection: m.Selection.Describe()}
	for i, lg := range l.logs {
		name := lg.names[len(lg.names)-1].name
		if lg.core == m.Exporter.Log {
			h.exporterDevice = name
		}
		h.logs = append(h.logs, reportLog{name: name, identity: lg.device.Identity, core: lg.core, length: lg.roots.n, versions: l.logs[i].versions})
	}
	return h
}

// finish writes the manifest and its signature and closes the zip.
func finish(zw *zipWriter, m *Manifest, key ed25519.PrivateKey) error {
	m.Files = zw.files
	man, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	man = append(man, '\n')
	if err := zw.file(manifestName, man, false); err != nil {
		return err
	}
	sig := ed25519.Sign(key, append([]byte(manifestDomain), man...))
	if err := zw.file(signatureName, []byte(hex.EncodeToString(sig)+"\n"), false); err != nil {
		return err
	}
	return zw.zw.Close()
}
