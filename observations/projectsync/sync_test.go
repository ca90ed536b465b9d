package projectsync

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
	"github.com/fieldsync/fieldsync/internal/testutil"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/record"
)

// device is one fieldsync home with a project open.
type device struct {
	home *project.Home
	p    *project.Project
	id   ed25519.PrivateKey
}

func newDevice(t *testing.T, name string, join *project.Project) *device {
	t.Helper()
	h, err := project.OpenHome(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	var p *project.Project
	if join == nil {
		p, err = h.Create("river", name)
	} else {
		p, err = h.Join("river", join.Key, name)
	}
	if err != nil {
		t.Fatal(err)
	}
	id, err := h.Identity()
	if err != nil {
		t.Fatal(err)
	}
	return &device{h, p, id}
}

func (d *device) observe(t *testing.T, n int, photo []byte) {
	t.Helper()
	for i := range n {
		g, _ := geo.NewPoint(-60+float64(i)/1000, -3, nil)
		o := &record.Observation{ID: project.NewID(), Created: project.Now(), Updated: project.Now(), Geometry: &g,
			Tags: map[string]record.Tag{"i": record.Number(float64(i))}}
		var files []project.File
		if photo != nil {
			files = []project.File{{Name: fmt.Sprintf("p%d.jpg", i), Type: "image/jpeg", Data: photo}}
		}
		if _, err := d.p.Write(o, files, hypercore.DurabilityOS); err != nil {
			t.Fatal(err)
		}
	}
}

// lengths is every core the device holds and its length.
func (d *device) lengths(t *testing.T) map[[32]byte]uint64 {
	t.Helper()
	s, err := OpenStore(d.p, hypercore.DurabilityOS)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[[32]byte]uint64{}
	for _, c := range s.List() {
		out[c.Key] = c.Length
	}
	return out
}

// pair connects a (dialling) and b over loopback TCP and runs one session
// on each until both return.
func pair(t *testing.T, a, b *device, opts Options) (errA, errB error, pa, pb Progress) {
	t.Helper()
	if opts.Replicate.IdleTimeout == 0 {
		opts.Replicate.IdleTimeout = 5 * time.Second
	}
	opts.Replicate.Logf = t.Logf
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := func(d *device, s *secretstream.Stream, p *Progress) error {
		st, err := OpenStore(d.p, hypercore.DurabilityOS)
		if err != nil {
			return err
		}
		defer st.Close()
		ss := New(s, st, opts)
		err = ss.Run(ctx)
		*p = ss.Progress()
		return err
	}
	cs, ss := streams(t, a.id, b.id)
	done := make(chan error, 1)
	go func() { done <- run(b, ss, &pb) }()
	errA = run(a, cs, &pa)
	errB = <-done
	return
}

// streams connects a client and a server secret stream over loopback TCP,
// with the given device keys (nil: a random one).
func streams(t *testing.T, client, server ed25519.PrivateKey) (*secretstream.Stream, *secretstream.Stream) {
	t.Helper()
	return hypercoretest.TCPStreams(t,
		secretstream.Config{Static: client, MaxMessageSize: replicate.MaxMessageSize},
		secretstream.Config{Static: server, MaxMessageSize: replicate.MaxMessageSize})
}

func sameLengths(t *testing.T, a, b map[[32]byte]uint64) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d cores and %d cores", len(a), len(b))
	}
	for k, l := range a {
		if b[k] != l {
			t.Fatalf("core %x: %d and %d blocks", k[:4], l, b[k])
		}
	}
}

func TestTwoThenThreeDevicesConverge(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := newDevice(t, "a", nil)
	b := newDevice(t, "b", a.p)
	c := newDevice(t, "c", a.p)
	a.observe(t, 200, []byte("photo of a"))
	b.observe(t, 50, nil)
	c.observe(t, 10, nil)
	if errA, errB, pa, pb := pair(t, a, b, Options{Replicate: replicate.Options{IdleTimeout: 5 * time.Second}}); errA != nil || errB != nil {
		t.Fatalf("a↔b: %v / %v\na: %+v\nb: %+v", errA, errB, pa, pb)
	} else if pa.BlocksDownloaded == 0 {
		t.Fatal("a downloaded nothing from b")
	}
	sameLengths(t, a.lengths(t), b.lengths(t))
	if n := len(a.lengths(t)); n != 4 {
		t.Fatalf("a holds %d cores after syncing with b", n)
	}
	// C never met A: A's cores reach it through B.
	if errB, errC, pb, pc := pair(t, b, c, Options{}); errB != nil || errC != nil {
		t.Fatalf("b↔c: %v / %v\nb: %+v\nc: %+v", errB, errC, pb, pc)
	}
	sameLengths(t, b.lengths(t), c.lengths(t))
	if al, cl := a.lengths(t), c.lengths(t); cl[a.p.OwnCoreKey(record.KindData)] != al[a.p.OwnCoreKey(record.KindData)] {
		t.Fatal("c does not hold a's data")
	}
	hs, err := c.p.Histories()
	if err != nil || len(hs) != 260 {
		t.Fatalf("c sees %d observations (%v)", len(hs), err)
	}
	// Again: nothing moves.
	_, _, pb, pc := pair(t, b, c, Options{})
	if pb.BlocksDownloaded+pc.BlocksDownloaded != 0 {
		t.Fatalf("a second sync downloaded %d blocks", pb.BlocksDownloaded+pc.BlocksDownloaded)
	}
}

func TestNoMediaLeavesMedia(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := newDevice(t, "a", nil)
	b := newDevice(t, "b", a.p)
	a.observe(t, 5, make([]byte, 200000))
	if errA, errB, _, _ := pair(t, a, b, Options{NoMedia: true}); errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	l := b.lengths(t)
	if l[a.p.OwnCoreKey(record.KindData)] == 0 {
		t.Fatal("no data")
	}
	if l[a.p.OwnCoreKey(record.KindMedia)] != 0 {
		t.Fatal("media downloaded with NoMedia")
	}
}

func TestOtherProjectLearnsNothing(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := newDevice(t, "a", nil)
	a.observe(t, 20, nil)
	stranger := newDevice(t, "x", nil) // its own project of the same name
	before := stranger.lengths(t)
	errA, errX, _, px := pair(t, a, stranger, Options{})
	if !errors.Is(errA, ErrNotMember) || !errors.Is(errX, ErrNotMember) {
		t.Fatalf("want ErrNotMember both ways: %v / %v", errA, errX)
	}
	if px.BlocksDownloaded != 0 || px.Cores != len(before) {
		t.Fatalf("stranger learned %d cores, downloaded %d blocks", px.Cores, px.BlocksDownloaded)
	}
	sameLengths(t, before, stranger.lengths(t))
}

func TestListCodec(t *testing.T) {
	testutil.CheckGoroutines(t)
	list := []CoreState{{Key: [32]byte{1}, Kind: record.KindMedia, Length: 1 << 40}, {Key: [32]byte{2}}}
	got, err := decodeList(encodeList(list))
	if err != nil || !equalLists(got, list) {
		t.Fatalf("%v %v", got, err)
	}
	bad := encodeList(list)
	for i := range len(bad) - 1 {
		if _, err := decodeList(bad[:i]); err == nil {
			t.Fatalf("a list cut at %d decoded", i)
		}
	}
	if _, err := decodeList(append(bad, 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

// TestForgedCapability: a peer that opens the project channel with the
// right id (echoing ours) but a capability it cannot make is dropped, and
// learns no core key.
func TestForgedCapability(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := newDevice(t, "a", nil)
	a.observe(t, 20, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, ss := streams(t, a.id, nil)
	got := make(chan []byte, 16)
	done := make(chan error, 1)
	go func() {
		p := replicate.NewPeer(ss, replicate.Options{})
		// The forger knows the id (as if relayed) but not the key.
		id := channelID(a.p.Key, ss.HandshakeHash())
		p.OpenChannel(&replicate.ChannelHandler{Protocol: Protocol, ID: id, Handshake: make([]byte, 32),
			OnOpen:    func([]byte) error { return nil },
			OnMessage: func(_ uint64, b []byte) error { got <- append([]byte(nil), b...); return nil }})
		done <- p.Run(ctx)
	}()
	st, err := OpenStore(a.p, hypercore.DurabilityOS)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := New(cs, st, Options{}).Run(ctx); !errors.Is(err, ErrCapability) {
		t.Fatalf("want ErrCapability, got %v", err)
	}
	<-done
	if len(got) != 0 {
		t.Fatalf("the forger received %d core lists", len(got))
	}
}

// FuzzDecodeList: any bytes a member sends as its core list decode or
// fail cleanly, and what decodes encodes back to no more bytes.
func FuzzDecodeList(f *testing.F) {
	f.Add(encodeList([]CoreState{{Key: [32]byte{1}, Kind: record.KindMedia, Length: 300}, {Key: [32]byte{2}}}))
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		list, err := decodeList(b)
		if err != nil {
			return
		}
		if again := encodeList(list); len(again) > len(b) {
			t.Fatalf("re-encoded %d bytes from %d", len(again), len(b))
		}
	})
}

// TestPeerClosingEarlyIsIncomplete: a member that closes the connection
// gracefully before the sync is complete does not make it look complete.
func TestPeerClosingEarlyIsIncomplete(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := newDevice(t, "a", nil)
	b := newDevice(t, "b", a.p)
	a.observe(t, 50, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, ss := streams(t, b.id, a.id)
	go func() {
		st, _ := OpenStore(a.p, hypercore.DurabilityOS)
		defer st.Close()
		sess := New(ss, st, Options{Live: true})
		go func() {
			for !sess.Member() {
				time.Sleep(time.Millisecond)
			}
			sess.Close() // gracefully, at once
		}()
		sess.Run(ctx)
	}()
	st, err := OpenStore(b.p, hypercore.DurabilityOS)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := New(cs, st, Options{}).Run(ctx); err == nil {
		t.Fatal("a sync cut short by the peer returned nil (complete)")
	} else {
		t.Logf("ended with: %v", err)
	}
}
