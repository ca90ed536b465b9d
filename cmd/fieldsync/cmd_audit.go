package main

import (
	"errors"
	"fmt"

	"github.com/fieldsync/fieldsync/observations"
	"github.com/spf13/cobra"
)

// Exit codes of audit.
const (
	exitAuditIntegrity  = 1
	exitAuditIncomplete = 2
)

// auditReport is the JSON of `fieldsync audit --json`.
type auditReport = observations.Audit

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
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			var prog *progress
			rep, err := p.Audit(cmd.Context(), func(done, total uint64) {
				if prog == nil {
					prog = newProgress(g.stderr, "verify", total)
				}
				prog.update(done, total)
			})
			if prog != nil {
				prog.done()
			}
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
