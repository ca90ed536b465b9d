package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
	"github.com/spf13/cobra"
)

// Exit codes of audit.
const (
	exitAuditIntegrity  = 1
	exitAuditIncomplete = 2
)

type auditCore struct {
	Key        string `json:"key"`
	Kind       string `json:"kind"`             // data, media, or unknown (no device record names it)
	Device     string `json:"device,omitempty"` // the device's name
	Length     uint64 `json:"length"`           // signed length
	Contiguous uint64 `json:"contiguous"`       // blocks held from 0
	Verified   bool   `json:"verified"`
	Error      string `json:"error,omitempty"`
}

type auditDevice struct {
	Name         string `json:"name"`
	Identity     string `json:"identity"`
	DataCore     string `json:"dataCore"`
	MediaCore    string `json:"mediaCore"`
	Observations int    `json:"observations"` // current, not deleted
	Versions     int    `json:"versions"`
}

type auditFork struct {
	ID    string   `json:"id"`
	Heads []string `json:"heads"`
}

type auditReport struct {
	Project            string        `json:"project"`
	Integrity          string        `json:"integrity"` // ok or failed
	Complete           bool          `json:"complete"`
	Cores              []auditCore   `json:"cores"`
	Devices            []auditDevice `json:"devices"`
	Observations       countReport   `json:"observations"`
	Forks              []auditFork   `json:"forks"`
	Deleted            []string      `json:"deleted"`
	Incomplete         []auditCore   `json:"incomplete"`
	MissingAttachments []string      `json:"missingAttachments"`
}

func newAuditCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "audit",
		Short: "Re-verify every block of the project and report devices, forks, deletions and gaps",
		Long: `Re-read and re-hash every block and tree node of every core of the project
against its signed head, then report: the devices (from their signed device
records) with their counts, observations with conflicting edits (forks) and
their heads, deletions, cores not yet complete on this device (gaps), and
attachments not on this device.

Exit codes: 0 clean, 1 integrity failure (a block, node or signature that does
not verify), 2 data incomplete here (gaps or missing attachments).`,
		Example: `  fieldsync audit
  fieldsync audit --json | jq .forks`,
		Args: nArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, p, err := openProject(g)
			if err != nil {
				return err
			}
			rep, err := runAudit(cmd, g, p)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(g.stdout, rep); err != nil {
					return err
				}
			} else {
				printAudit(g, rep)
			}
			switch {
			case rep.Integrity != "ok":
				return &exitError{code: exitAuditIntegrity, err: errors.New("integrity check failed: see the cores marked FAILED")}
			case !rep.Complete:
				return &exitError{code: exitAuditIncomplete, err: fmt.Errorf("data incomplete on this device: %d core(s) with gaps, %d attachment(s) missing (sync to complete)", len(rep.Incomplete), len(rep.MissingAttachments))}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

func runAudit(cmd *cobra.Command, g *globals, p *project.Project) (*auditReport, error) {
	rep := &auditReport{Project: p.Name, Integrity: "ok", Complete: true, Cores: []auditCore{}, Devices: []auditDevice{}, Forks: []auditFork{},
		Deleted: []string{}, Incomplete: []auditCore{}, MissingAttachments: []string{}}
	keys, err := p.CoreKeys()
	if err != nil {
		return nil, err
	}
	r := p.NewReader()
	defer r.Close()
	// Device records name the cores.
	kinds := map[string]string{}
	names := map[string]string{}
	var devices []auditDevice
	for _, k := range keys {
		c, err := r.Core(k)
		if err != nil || c.Contiguous() == 0 {
			continue
		}
		b, err := c.Get(0)
		if err != nil {
			continue
		}
		d, err := record.DecodeDevice(b)
		if err != nil || d.Data != hex.EncodeToString(k[:]) {
			continue
		}
		kinds[d.Data], kinds[d.Media] = "data", "media"
		names[d.Data], names[d.Media] = d.Name, d.Name
		devices = append(devices, auditDevice{Name: d.Name, Identity: d.Identity, DataCore: d.Data, MediaCore: d.Media})
	}
	var total uint64
	for _, k := range keys {
		if c, err := r.Core(k); err == nil {
			total += c.Contiguous()
		}
	}
	prog := newProgress(g.stderr, "verify", total)
	var done uint64
	for _, k := range keys {
		hk := hex.EncodeToString(k[:])
		ac := auditCore{Key: hk, Kind: kinds[hk], Device: names[hk]}
		if ac.Kind == "" {
			ac.Kind = "unknown"
		}
		c, err := r.Core(k)
		if err != nil {
			ac.Error = err.Error()
			rep.Integrity = "failed"
			rep.Cores = append(rep.Cores, ac)
			continue
		}
		h := c.Head()
		ac.Length, ac.Contiguous = h.Length, c.Contiguous()
		base := done
		err = c.Verify(cmd.Context(), func(d, _ uint64) { prog.update(base+d, total) })
		done += ac.Contiguous
		var ce *hypercore.CorruptError
		switch {
		case err == nil:
			ac.Verified = true
		case errors.As(err, &ce) || errors.Is(err, hypercore.ErrCorrupt):
			ac.Error = err.Error()
			rep.Integrity = "failed"
		default:
			return nil, err
		}
		if ac.Contiguous < ac.Length {
			rep.Incomplete = append(rep.Incomplete, ac)
			rep.Complete = false
		}
		rep.Cores = append(rep.Cores, ac)
	}
	prog.done()
	rep.Devices = devices
	if err := auditIndex(p, r, rep, devices); err != nil {
		if rep.Integrity != "ok" {
			// Reading a corrupt core fails: what was found is the report.
			return rep, nil
		}
		return nil, err
	}
	return rep, nil
}

// auditIndex adds what the index knows: counts, forks, deletions,
// attachments missing here.
func auditIndex(p *project.Project, r *project.Reader, rep *auditReport, devices []auditDevice) error {
	x, err := openIndex(p)
	if err != nil {
		return err
	}
	defer x.Close()
	cc := &rep.Observations
	if cc.Current, cc.Deleted, cc.Forked, cc.Versions, err = x.Counts(); err != nil {
		return err
	}
	counts, err := x.CoreCounts()
	if err != nil {
		return err
	}
	for i := range devices {
		devices[i].Observations, devices[i].Versions = counts[devices[i].DataCore].Current, counts[devices[i].DataCore].Versions
	}
	sort.Slice(devices, func(i, j int) bool { return devices[i].DataCore < devices[j].DataCore })
	rep.Devices = devices
	forked, err := x.Forked()
	if err != nil {
		return err
	}
	for _, id := range forked {
		h, err := p.History(id)
		if err != nil {
			return err
		}
		f := auditFork{ID: id}
		for _, v := range h.Heads {
			f.Heads = append(f.Heads, string(v.ID))
		}
		rep.Forks = append(rep.Forks, f)
	}
	err = x.Each(&query.Filter{Deleted: true}, func(it *index.Item) error {
		o, err := it.Observation()
		if err != nil {
			return err
		}
		if o.Deleted {
			rep.Deleted = append(rep.Deleted, o.ID)
			return nil
		}
		for _, a := range o.Attachments {
			kb, _ := hex.DecodeString(a.Core)
			c, err := r.Core([32]byte(kb))
			if err != nil || c.Contiguous() < a.Start+a.Blocks {
				rep.MissingAttachments = append(rep.MissingAttachments, o.ID+"/"+a.Name)
				rep.Complete = false
			}
		}
		return nil
	})
	return err
}

func printAudit(g *globals, rep *auditReport) {
	tw := newTable(g.stdout)
	tw.row("project", rep.Project)
	tw.row("integrity", map[string]string{"ok": "every block, tree node and signed head verifies", "failed": "FAILED"}[rep.Integrity])
	for _, c := range rep.Cores {
		state := "verified"
		if !c.Verified {
			state = "FAILED: " + c.Error
		}
		who := c.Kind
		if c.Device != "" {
			who = fmt.Sprintf("%s of %q", c.Kind, c.Device)
		}
		tw.row("core "+c.Key[:16]+"…", fmt.Sprintf("%s, %d of %d blocks, %s", who, c.Contiguous, c.Length, state))
	}
	for _, d := range rep.Devices {
		tw.row("device "+d.Name, fmt.Sprintf("%d observations, %d versions (identity %s…)", d.Observations, d.Versions, d.Identity[:16]))
	}
	o := rep.Observations
	tw.row("observations", fmt.Sprintf("%d current, %d deleted, %d with conflicting edits, %d versions", o.Current, o.Deleted, o.Forked, o.Versions))
	for _, f := range rep.Forks {
		tw.row("fork "+f.ID, fmt.Sprintf("%d heads: %v", len(f.Heads), f.Heads))
	}
	for _, c := range rep.Incomplete {
		tw.row("gap "+c.Key[:16]+"…", fmt.Sprintf("%d of %d blocks here", c.Contiguous, c.Length))
	}
	for _, m := range rep.MissingAttachments {
		tw.row("missing", m)
	}
	tw.flush()
}
