package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/corenet"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
)

// demoSync has device B fetch device A's core over an encrypted connection
// on 127.0.0.1, as `core serve` and `core download` do between two
// laptops, and checks that B ends with A's signed head and every block.
func demoSync(ctx context.Context, out io.Writer, src *hypercore.Core, dir string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: listen: %w", err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		served <- corenet.ServeConn(ctx, src, conn)
	}()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return fmt.Errorf("demo: connect: %w", err)
	}
	s, err := secretstream.Client(ctx, conn, secretstream.Config{MaxMessageSize: replicate.MaxMessageSize})
	if err != nil {
		conn.Close()
		return fmt.Errorf("demo: handshake: %w", err)
	}
	replicaDir := filepath.Join(dir, "device-b", "copy-of-a")
	p := replicate.NewPeer(s, replicate.Options{})
	rep, err := p.Add(replicate.CoreConfig{Key: src.Key(), Download: true, Create: func(m *hypercore.Manifest) (*hypercore.Core, error) {
		return hypercore.CreateReplica(replicaDir, src.Key(), m, hypercore.DurabilityFsync)
	}})
	if err != nil {
		s.Close()
		return err
	}
	ran := make(chan error, 1)
	go func() { ran <- p.Run(ctx) }()
	select {
	case <-rep.Done():
	case <-ctx.Done():
	}
	p.Close()
	if err := errors.Join(<-ran, rep.Err()); err != nil {
		return fmt.Errorf("demo: sync: %w", err)
	}
	if err := <-served; err != nil {
		return fmt.Errorf("demo: serve: %w", err)
	}
	dst := rep.Core()
	if dst == nil {
		return errors.New("demo: sync made no copy")
	}
	defer dst.Close()
	if err := dst.Verify(ctx, nil); err != nil {
		return fmt.Errorf("demo: verify the copy: %w", err)
	}
	a, b := src.Head(), dst.Head()
	if a.Length != b.Length || a.TreeHash != b.TreeHash || string(a.Signature) != string(b.Signature) || dst.Contiguous() != a.Length {
		return fmt.Errorf("demo: the copy (length %d) differs from the original (length %d)", b.Length, a.Length)
	}
	fmt.Fprintf(out, "7. device B fetched the core from device A over an encrypted connection (%s): %d blocks, each verified against A's signature before it was stored; both hold the same signed head\n",
		ln.Addr(), rep.Stats().BlocksDownloaded)
	return nil
}
