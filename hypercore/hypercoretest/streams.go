package hypercoretest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/hypercore/secretstream"
)

// TCPConns returns the two ends of a fresh loopback TCP connection, closed
// when t ends.
func TCPConns(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() { // owned: received from below before returning
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close() // ends the Accept
		<-ch
		t.Fatal(err)
	}
	a := <-ch
	if a.err != nil {
		client.Close()
		t.Fatal(a.err)
	}
	t.Cleanup(func() { client.Close(); a.c.Close() })
	return client, a.c
}

// Streams runs the secret-stream handshake over client (the initiator)
// and server with the given configurations (a zero Static is a random
// key) and returns the two streams, closed when t ends. The handshake is
// bounded by 10 s.
func Streams(t testing.TB, client, server net.Conn, cc, sc secretstream.Config) (*secretstream.Stream, *secretstream.Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type result struct {
		s   *secretstream.Stream
		err error
	}
	ch := make(chan result, 1)
	go func() { // owned: received from below before returning
		s, err := secretstream.Server(ctx, server, sc)
		ch <- result{s, err}
	}()
	cs, err := secretstream.Client(ctx, client, cc)
	if err != nil {
		server.Close() // ends the server's handshake at once
	}
	r := <-ch
	if err != nil || r.err != nil {
		if cs != nil {
			cs.Close()
		}
		if r.s != nil {
			r.s.Close()
		}
		t.Fatalf("secret-stream handshake: client: %v; server: %v", err, r.err)
	}
	t.Cleanup(func() { cs.Close(); r.s.Close() })
	return cs, r.s
}

// TCPStreams is Streams over a fresh loopback TCP connection.
func TCPStreams(t testing.TB, cc, sc secretstream.Config) (client, server *secretstream.Stream) {
	t.Helper()
	c, s := TCPConns(t)
	return Streams(t, c, s, cc, sc)
}

// PipeStreams is Streams over net.Pipe: synchronous and unbuffered, so
// every write waits for the other side's read.
func PipeStreams(t testing.TB, cc, sc secretstream.Config) (client, server *secretstream.Stream) {
	t.Helper()
	c, s := net.Pipe()
	t.Cleanup(func() { c.Close(); s.Close() })
	return Streams(t, c, s, cc, sc)
}
