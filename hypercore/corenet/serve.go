package corenet

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
)

// KeepAlive is how often an idle connection sends an empty message (as
// hypercore does), so peers with idle timeouts keep it.
const KeepAlive = 5 * time.Second

// Serve serves core to every connection ln accepts, at most maxConns at
// once (more wait), uploading live: peers hear of new blocks as they are
// appended. A connection's failure goes to onErr (if set) and does not
// stop Serve. Serve returns nil once ctx ends, after every connection it
// served has ended; an accept failure before that is returned.
func Serve(ctx context.Context, core *hypercore.Core, ln net.Listener, maxConns int, onErr func(addr net.Addr, err error)) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	slots := make(chan struct{}, max(maxConns, 1))
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped: a normal end
			}
			return fmt.Errorf("accept: %w", err)
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			conn.Close()
			return nil
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := ServeConn(ctx, core, conn); err != nil && ctx.Err() == nil && onErr != nil {
				onErr(conn.RemoteAddr(), err)
			}
		})
	}
}

// ServeConn serves core on one accepted connection until the peer goes or
// ctx ends (then it returns nil).
func ServeConn(ctx context.Context, core *hypercore.Core, conn net.Conn) error {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	s, err := secretstream.Server(ctx, conn, secretstream.Config{MaxMessageSize: replicate.MaxMessageSize, KeepAlive: KeepAlive})
	if err != nil {
		conn.Close()
		return err
	}
	p := replicate.NewPeer(s, replicate.Options{})
	if _, err := p.Add(replicate.CoreConfig{Key: core.Key(), Core: core, Upload: true, Live: true}); err != nil {
		s.Close()
		return err
	}
	err = p.Run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
