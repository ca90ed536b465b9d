package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/fieldsync/fieldsync/observations"
	"github.com/fieldsync/fieldsync/observations/usbsync"
	"github.com/spf13/cobra"
)

// viaFlag adds `sync --via DIR` (and, hidden, the segment size limit, so
// tests can make a small media set span segments).
func viaFlag(c *cobra.Command, via *string) {
	c.Flags().StringVar(via, "via", "", "sync through a folder on a USB stick or other removable media instead of the network (DIR/sync.fieldsync is made if absent)")
	c.Flags().Int64("via-segment-limit", usbsync.DefaultSegment, "largest segment file written to the sync folder, in bytes")
	c.Flags().MarkHidden("via-segment-limit")
	c.Example += "\n  fieldsync sync --via /media/usb              # through a USB stick, both ways"
}

// viaConflicts is the network flags set alongside --via.
func viaConflicts(c *cobra.Command) error {
	for _, f := range []string{"peer", "no-mdns", "listen", "dht", "dht-bootstrap", "dht-listen", "timeout"} {
		if fl := c.Flags().Lookup(f); fl != nil && fl.Changed {
			return usageErr("--via syncs through a folder: --%s does not apply", f)
		}
	}
	return nil
}

// runSyncVia exchanges everything with the sync folder in dir.
func runSyncVia(ctx context.Context, g *globals, p *observations.Project, dir string, noMedia, asJSON bool, limit int64) error {
	start := time.Now()
	res, newObs, err := p.SyncVia(ctx, dir, usbsync.Options{NoMedia: noMedia, SegmentLimit: limit, Step: crashStep()})
	var ie *observations.IndexError
	if err != nil && !errors.As(err, &ie) {
		return viaError(dir, res, err)
	}
	var idxErr error
	if ie != nil {
		idxErr = ie.Err
	}
	peer := observations.PeerResult{Key: "folder", Complete: true, Downloaded: res.BlocksIn, BytesIn: res.BytesIn, Uploaded: res.BlocksOut, BytesOut: res.BytesOut, Behind: res.Skipped}
	took := time.Since(start)
	if asJSON {
		sum := map[string]any{"event": "summary", "folder": res.Folder, "created": res.Created, "peers": []observations.PeerResult{peer}, "strangers": 0,
			"newObservations": newObs, "bytesDownloaded": res.BytesIn, "bytesUploaded": res.BytesOut, "complete": true,
			"seconds": took.Seconds(), "ms": took.Milliseconds()}
		if idxErr != nil {
			sum["indexError"] = idxErr.Error()
		}
		writeJSON(g.stdout, sum)
	} else {
		if res.Created {
			fmt.Fprintf(g.stdout, "made sync folder %s\n", res.Folder)
		}
		fmt.Fprintf(g.stdout, "folder %s: complete, %d blocks (%s) in, %d blocks (%s) out\n", res.Folder, res.BlocksIn, sizeOf(res.BytesIn), res.BlocksOut, sizeOf(res.BytesOut))
		for _, s := range res.Skipped {
			fmt.Fprintf(g.stdout, "  skipped %s\n", s)
		}
		fmt.Fprintf(g.stdout, "synced with the folder in %.1fs: %d new observation(s), %s received, %s sent\n", took.Seconds(), newObs, sizeOf(res.BytesIn), sizeOf(res.BytesOut))
	}
	if idxErr != nil {
		return fmt.Errorf("synced, but indexing failed: %w", idxErr)
	}
	return nil
}

// viaError says what went wrong in one line, with the exit code: 2 for a
// folder that is not this project's (or not one at all), 1 otherwise.
func viaError(dir string, res *usbsync.Result, err error) error {
	if res != nil && res.BlocksIn > 0 && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w (%d verified blocks, %s, were taken from the folder first)", err, res.BlocksIn, sizeOf(res.BytesIn))
	}
	switch {
	case errors.Is(err, usbsync.ErrOtherProject), errors.Is(err, usbsync.ErrNewerVersion),
		errors.Is(err, usbsync.ErrNotFolder), errors.Is(err, usbsync.ErrNoDir):
		return &exitError{code: exitUsage, err: err}
	case errors.Is(err, usbsync.ErrDamaged):
		return fmt.Errorf("%w; only blocks that verified were kept: sync this folder again from a device that holds the data, or use a fresh folder", err)
	case errors.Is(err, usbsync.ErrBusy):
		return fmt.Errorf("%w: stop it (or wait for it) and run sync --via again", err)
	}
	return err
}

// syncVia is `sync --via DIR` from the command line.
func syncVia(cmd *cobra.Command, g *globals, dir string, noMedia, asJSON bool) error {
	if err := viaConflicts(cmd); err != nil {
		return err
	}
	p, err := openProject(cmd, g)
	if err != nil {
		return err
	}
	limit, _ := cmd.Flags().GetInt64("via-segment-limit")
	if limit < 1<<16 || limit > usbsync.DefaultSegment {
		return usageErr("--via-segment-limit must be between 65536 and %d", int64(usbsync.DefaultSegment))
	}
	return runSyncVia(cmd.Context(), g, p, dir, noMedia, asJSON, limit)
}

// crashStep is the crash tests' hook: with FIELDSYNC_TEST_KILL_AT=N the
// process kills itself (SIGKILL on Unix) at the Nth write of a --via sync.
func crashStep() func() {
	n, err := strconv.Atoi(os.Getenv("FIELDSYNC_TEST_KILL_AT"))
	if err != nil || n <= 0 {
		return nil
	}
	steps := 0
	return func() {
		if steps++; steps == n {
			if self, err := os.FindProcess(os.Getpid()); err == nil {
				self.Kill()
				for {
					time.Sleep(time.Second) // until the signal lands
				}
			}
		}
	}
}
