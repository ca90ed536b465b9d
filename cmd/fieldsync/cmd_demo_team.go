package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/fieldsync/fieldsync/fixtures"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
	"github.com/fieldsync/fieldsync/lansync"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/projectsync"
)

// demoDevice is one teammate's laptop in the demo.
type demoDevice struct {
	name string
	p    *project.Project
	id   ed25519.PrivateKey
}

// demoTeam: three devices each record a third of the fixtures (with a
// photo each), meet pairwise over loopback as `fieldsync sync` would, and
// end with the same merged project.
func demoTeam(ctx context.Context, out io.Writer, dir string) error {
	feats, err := project.ParseFeatures(bytes.NewReader(fixtures.RiverBasin()), "recorded")
	if err != nil {
		return err
	}
	photos := fixtures.Photos()
	names := make([]string, 0, len(photos))
	for n := range photos {
		names = append(names, n)
	}
	slices.Sort(names)
	var team []*demoDevice
	for i, who := range []string{"Maria", "João", "Raimundo"} {
		h, err := project.OpenHome(filepath.Join(dir, "team", who))
		if err != nil {
			return err
		}
		var p *project.Project
		if i == 0 {
			p, err = h.Create("rio-negro-team", who+"'s laptop")
		} else {
			p, err = h.Join("rio-negro-team", team[0].p.Key, who+"'s laptop")
		}
		if err != nil {
			return err
		}
		id, err := h.Identity()
		if err != nil {
			return err
		}
		// A third of the fixtures each, and one with a photo.
		third := feats[i*len(feats)/3 : (i+1)*len(feats)/3]
		if err := p.Import(third[1:], hypercore.DurabilityFsync, nil); err != nil {
			return err
		}
		n := names[i%len(names)]
		if _, err := p.Write(third[0], []project.File{{Name: n, Data: photos[n]}}, hypercore.DurabilityFsync); err != nil {
			return err
		}
		team = append(team, &demoDevice{who, p, id})
	}
	fmt.Fprintf(out, "11. three teammates joined project %q and recorded %d observations each, one with a photo\n", team[0].p.Name, len(feats)/3)
	for _, pair := range [][2]int{{0, 1}, {1, 2}, {0, 2}} {
		a, b := team[pair[0]], team[pair[1]]
		t0 := time.Now()
		got, err := demoPairSync(ctx, a, b)
		if err != nil {
			return fmt.Errorf("demo: %s ↔ %s: %w", a.name, b.name, err)
		}
		fmt.Fprintf(out, "    %s ↔ %s over an encrypted connection on 127.0.0.1: %d blocks moved in %v\n", a.name, b.name, got, time.Since(t0).Round(time.Millisecond))
	}
	for _, d := range team {
		x, err := openIndex(d.p)
		if err != nil {
			return err
		}
		cur, _, _, _, err := x.Counts()
		x.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "    %-9s now holds %d observations from 3 devices\n", d.name, cur)
	}
	return demoExport(ctx, out, dir, team[2])
}

// demoPairSync runs one sync between two devices through lansync, as two
// `fieldsync sync --peer` would, and returns the blocks moved.
func demoPairSync(ctx context.Context, a, b *demoDevice) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	type result struct {
		moved uint64
		err   error
	}
	results := make(chan result, 2)
	manager := func(d *demoDevice, listen string, peers []string) (*lansync.Manager, *projectsync.Store, error) {
		st, err := projectsync.OpenStore(d.p, hypercore.DurabilityFsync)
		if err != nil {
			return nil, nil, err
		}
		m := lansync.New(lansync.Config{Identity: d.id, Listen: listen, Peers: peers, MaxMessageSize: replicate.MaxMessageSize,
			Handler: func(ctx context.Context, s *secretstream.Stream) error {
				sess := projectsync.New(s, st, projectsync.Options{})
				err := sess.Run(ctx)
				results <- result{sess.Progress().BlocksDownloaded, err}
				return err
			}})
		return m, st, nil
	}
	mb, sb, err := manager(b, "127.0.0.1:0", nil)
	if err != nil {
		return 0, err
	}
	defer sb.Close()
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{}, 2)
	go func() { mb.Run(mctx); done <- struct{}{} }()
	<-mb.Ready()
	if mb.Addr() == nil {
		return 0, fmt.Errorf("no listener")
	}
	ma, sa, err := manager(a, "", []string{mb.Addr().String()})
	if err != nil {
		return 0, err
	}
	defer sa.Close()
	go func() { ma.Run(mctx); done <- struct{}{} }()
	var moved uint64
	for range 2 {
		select {
		case r := <-results:
			if r.err != nil {
				return 0, r.err
			}
			moved += r.moved
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	stop()
	<-done
	<-done
	return moved, nil
}
