// Package demo is `fieldsync demo`: fieldsync's main job run end to end on
// the built-in sample data, in a temporary directory. A device records
// observations in its signed log and verifies them, a stranger checks one
// from a proof alone, a second device downloads the log over an encrypted
// connection (hypercore/corenet), a project imports and queries the
// river-basin fixtures, three teammates sync pairwise through the
// observations façade, and the merged map is exported as GeoJSON and as an
// evidence bundle that verifies.
//
// It wires packages together as the CLI does: it may import observations,
// hypercore, export, fixtures, geo and internal/atomicfile; never cmd, and
// nothing imports it but cmd/fieldsync.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fieldsync/fieldsync/fixtures"
	"github.com/fieldsync/fieldsync/hypercore"
)

// Run runs the demo in dir ("": a temporary directory, removed afterwards
// unless keep), printing each step to out.
func Run(ctx context.Context, out io.Writer, dir string, keep bool) error {
	// The first line comes before any work, so a first-time user sees at
	// once that the demo has started.
	fmt.Fprintln(out, "fieldsync demo: devices record sample observations in signed logs, prove them, sync them and query them (a few seconds)")
	if dir == "" {
		tmp, err := os.MkdirTemp("", "fieldsync-demo-")
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		dir = tmp
		if !keep {
			defer os.RemoveAll(tmp)
		}
	}
	coreDir := filepath.Join(dir, "device-a", "data")
	obs := fixtures.Observations()

	core, err := hypercore.Create(coreDir, hypercore.CreateOptions{Durability: hypercore.DurabilityFsync})
	if err != nil {
		return err
	}
	key := core.Key()
	fmt.Fprintf(out, "1. device A created its data core %x\n", key[:])
	for _, o := range obs {
		if _, err := core.Append(o); err != nil {
			core.Close()
			return err
		}
	}
	h := core.Head()
	fmt.Fprintf(out, "2. recorded %d observations, each signed and on disk (length %d, %d bytes, fork %d)\n", len(obs), h.Length, h.ByteLength, h.Fork)
	if err := core.Close(); err != nil {
		return err
	}

	ro, err := hypercore.Open(coreDir, hypercore.OpenOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer ro.Close()
	if err := ro.Verify(ctx, nil); err != nil {
		return fmt.Errorf("demo: verify: %w", err)
	}
	fmt.Fprintf(out, "3. reopened read-only and re-verified every block, tree node and the head signature\n")
	last, err := ro.Get(h.Length - 1)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "4. latest observation: %s\n", last)
	if err := demoProof(out, ro); err != nil {
		return err
	}
	if err := demoSync(ctx, out, ro, dir); err != nil {
		return err
	}
	if err := demoProject(ctx, out, dir); err != nil {
		return err
	}
	if err := demoTeam(ctx, out, dir); err != nil {
		return err
	}
	if keep {
		fmt.Fprintf(out, "files kept in %s (try: fieldsync core info %s)\n", dir, coreDir)
	}
	return nil
}
