package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"time"

	"github.com/fieldsync/fieldsync/fixtures"
	"github.com/fieldsync/fieldsync/observations"
	"github.com/fieldsync/fieldsync/observations/project"
)

// demoDevice is one teammate's laptop in the demo.
type demoDevice struct {
	name string
	p    *observations.Project
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
		home := filepath.Join(dir, "team", who)
		var p *observations.Project
		if i == 0 {
			p, err = observations.Create(ctx, home, "rio-negro-team", who+"'s laptop")
		} else {
			code, cerr := project.Invite(team[0].p.Name, team[0].p.Key)
			if cerr != nil {
				return cerr
			}
			p, err = observations.Join(ctx, home, code, who+"'s laptop")
		}
		if err != nil {
			return err
		}
		// A third of the fixtures each, and one with a photo.
		third := feats[i*len(feats)/3 : (i+1)*len(feats)/3]
		if err := p.Project.Import(third[1:], p.Durability, nil); err != nil {
			return err
		}
		n := names[i%len(names)]
		if _, err := p.Observe(ctx, third[0], []project.File{{Name: n, Data: photos[n]}}); err != nil {
			return err
		}
		team = append(team, &demoDevice{who, p})
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
		c, err := d.p.Count(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "    %-9s now holds %d observations from 3 devices\n", d.name, c.Current)
	}
	return demoExport(ctx, out, dir, team[2])
}

// demoPairSync runs one sync between two devices, as `fieldsync sync
// --listen 127.0.0.1:0` on one and `fieldsync sync --peer` on the other
// would, and returns the blocks moved.
func demoPairSync(ctx context.Context, a, b *demoDevice) (uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	listening := make(chan net.Addr, 1)
	type result struct {
		res *observations.SyncResult
		err error
	}
	bDone := make(chan result, 1)
	go func() {
		res, err := b.p.Sync(ctx, observations.SyncOptions{Listen: "127.0.0.1:0", Timeout: time.Minute,
			Listening: func(addr net.Addr) { listening <- addr }})
		bDone <- result{res, err}
	}()
	var addr net.Addr
	select {
	case addr = <-listening:
	case r := <-bDone:
		return 0, fmt.Errorf("no listener: %w", r.err)
	}
	ra, err := a.p.Sync(ctx, observations.SyncOptions{Peers: []string{addr.String()}, Timeout: time.Minute})
	if err != nil {
		cancel()
		<-bDone
		return 0, err
	}
	rb := <-bDone
	if rb.err != nil {
		return 0, rb.err
	}
	var moved uint64
	for _, r := range []*observations.SyncResult{ra, rb.res} {
		for _, p := range r.Peers {
			moved += p.Downloaded
		}
	}
	return moved, nil
}
