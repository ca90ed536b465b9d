package protomux

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
)

// evString renders events compactly for comparisons.
func evString(evs []Event) string {
	var parts []string
	for _, e := range evs {
		s := fmt.Sprintf("%s ch=%d", e.Kind, e.Channel)
		switch e.Kind {
		case EventRemoteOpen:
			s = fmt.Sprintf("%s remote=%d %s/%x hs=%x", e.Kind, e.RemoteID, e.Protocol, e.ID, e.Handshake)
		case EventOpen:
			s += fmt.Sprintf(" remote=%d %s/%x hs=%x", e.RemoteID, e.Protocol, e.ID, e.Handshake)
		case EventMessage:
			s += fmt.Sprintf(" type=%d %x", e.Type, e.Payload)
		case EventClose:
			if e.Rejected {
				s += " rejected"
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// collected holds the events each Mux gave since the test last looked.
var collected = map[*Mux][]Event{}

// drain takes every event m has, into collected.
func drain(m *Mux) error {
	for {
		ev, ok, err := m.NextEvent()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		collected[m] = append(collected[m], ev)
	}
}

// feed receives frames and drains the events of each; it returns the first
// error.
func feed(m *Mux, frames ...[]byte) error {
	for _, f := range frames {
		if err := m.Receive(f); err != nil {
			return err
		}
		if err := drain(m); err != nil {
			return err
		}
	}
	return nil
}

// takeEvents returns the events m gave since the last call.
func takeEvents(t *testing.T, m *Mux) []Event {
	t.Helper()
	if err := drain(m); err != nil {
		t.Fatal(err)
	}
	evs := collected[m]
	delete(collected, m)
	return evs
}

func events(t *testing.T, m *Mux) string { t.Helper(); return evString(takeEvents(t, m)) }

func output(m *Mux) [][]byte { return m.AppendOutput(nil) }

// pump moves frames between a and b until neither has any left.
func pump(t *testing.T, a, b *Mux) {
	t.Helper()
	for range 100 {
		fa, fb := output(a), output(b)
		if len(fa) == 0 && len(fb) == 0 {
			return
		}
		for _, f := range fa {
			if err := feed(b, f); err != nil {
				t.Fatalf("feed(b, %x): %v", f, err)
			}
		}
		for _, f := range fb {
			if err := feed(a, f); err != nil {
				t.Fatalf("feed(a, %x): %v", f, err)
			}
		}
	}
	t.Fatal("frames kept flowing")
}

func mustOpen(t *testing.T, m *Mux, protocol, id string) uint64 {
	t.Helper()
	var idb []byte
	if id != "" {
		idb = []byte(id)
	}
	local, err := m.Open(OpenOptions{Protocol: protocol, ID: idb, Handshake: []byte("hs-" + id)})
	if err != nil {
		t.Fatal(err)
	}
	return local
}

func frame(t *testing.T, hexs string) []byte { return hypercoretest.Unhex(t, hexs) }

func openFrame(r uint64, protocol, id string, hs []byte) []byte {
	var idb []byte
	if id != "" {
		idb = []byte(id)
	}
	return AppendOpen(AppendFrameHeader(nil, 0, TypeOpen), Open{Channel: r, Protocol: protocol, ID: idb, Handshake: hs})
}

func receive(t *testing.T, m *Mux, frames ...[]byte) {
	t.Helper()
	for _, f := range frames {
		if err := feed(m, f); err != nil {
			t.Fatalf("Receive(%x): %v", f, err)
		}
	}
}

func wantOutput(t *testing.T, m *Mux, want ...[]byte) {
	t.Helper()
	got := output(m)
	if len(got) != len(want) {
		t.Fatalf("output %x, want %x", got, want)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("output frame %d = %x, want %x", i, got[i], want[i])
		}
	}
}

func wantEvents(t *testing.T, m *Mux, want string) {
	t.Helper()
	if got := events(t, m); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
}

// Local ids are 1, 2, … and an id freed by closing an open channel is
// reused, last freed first (as JS does).
func TestLocalIDsAllocatedAndReused(t *testing.T) {
	a, b := New(Config{}), New(Config{})
	for i, id := range []string{"x1", "x2", "x3"} {
		if got := mustOpen(t, a, "p", id); got != uint64(i+1) {
			t.Fatalf("open %d got id %d", i, got)
		}
		mustOpen(t, b, "p", id)
	}
	pump(t, a, b)
	wantEvents(t, a, "open ch=1 remote=1 p/7831 hs=68732d7831; open ch=2 remote=2 p/7832 hs=68732d7832; open ch=3 remote=3 p/7833 hs=68732d7833")
	events(t, b)

	if err := a.Close(2); err != nil {
		t.Fatal(err)
	}
	wantOutput(t, a, frame(t, "000302"))
	if a.State(2) != StateNone {
		t.Fatalf("closed open channel is in state %d", a.State(2))
	}
	receive(t, b, frame(t, "000302"))
	wantEvents(t, b, "close ch=2")
	if got := mustOpen(t, a, "p", "x4"); got != 2 {
		t.Fatalf("reopen got id %d, want 2", got)
	}
	mustOpen(t, b, "p", "x4")
	pump(t, a, b)
	wantEvents(t, a, "open ch=2 remote=2 p/7834 hs=68732d7834")
	events(t, b)

	for _, id := range []uint64{1, 3} {
		if err := a.Close(id); err != nil {
			t.Fatal(err)
		}
	}
	pump(t, a, b)
	wantEvents(t, b, "close ch=1; close ch=3")
	if got := mustOpen(t, a, "p", "x5"); got != 3 {
		t.Fatalf("got id %d, want 3 (last freed)", got)
	}
	if got := mustOpen(t, a, "p", "x6"); got != 1 {
		t.Fatalf("got id %d, want 1", got)
	}
	if got := mustOpen(t, a, "p", "x7"); got != 4 {
		t.Fatalf("got id %d, want 4", got)
	}
}

// A channel closed before the remote opened it keeps its id until the
// remote answers (open or reject), so the remote never sees an id reused
// while it may still pair with the old channel.
func TestCloseBeforePairedHoldsID(t *testing.T) {
	t.Run("remote rejects", func(t *testing.T) {
		a, b := New(Config{}), New(Config{})
		b.Pair("q", nil)
		l := mustOpen(t, a, "q", "1")
		if err := a.Close(l); err != nil {
			t.Fatal(err)
		}
		if a.State(l) != StateClosing {
			t.Fatalf("state %d, want closing", a.State(l))
		}
		if got := mustOpen(t, a, "q", "2"); got == l {
			t.Fatal("id reused before the remote answered")
		}
		frames := output(a)
		receive(t, b, frames[0], frames[1]) // open(1), close(1)
		wantEvents(t, b, "remote-open remote=1 q/31 hs=68732d31")
		wantOutput(t, b, frame(t, "000201")) // the withdrawn open is refused
		receive(t, b, frames[2])
		events(t, b)
		receive(t, a, frame(t, "000201"))
		wantEvents(t, a, "")
		if a.State(l) != StateNone {
			t.Fatalf("state %d after the reject, want none", a.State(l))
		}
		if b.Buffered() == 0 {
			t.Fatal("open q/2 is not buffered at b")
		}
		if got := mustOpen(t, a, "q", "3"); got != l {
			t.Fatalf("got id %d, want the freed %d", got, l)
		}
	})
	t.Run("remote opened it meanwhile", func(t *testing.T) {
		a, b := New(Config{}), New(Config{})
		l := mustOpen(t, a, "q", "1")
		if err := a.Close(l); err != nil {
			t.Fatal(err)
		}
		r := mustOpen(t, b, "q", "1") // crosses a's open on the wire
		fa, fb := output(a), output(b)
		receive(t, b, fa...)
		wantEvents(t, b, fmt.Sprintf("open ch=%d remote=%d q/31 hs=68732d31; close ch=%d", r, l, r))
		receive(t, a, fb...)
		wantEvents(t, a, "")
		wantOutput(t, a, frame(t, "000301")) // close again: b may have paired after our close
		if a.State(l) != StateNone {
			t.Fatalf("state %d, want none", a.State(l))
		}
		receive(t, b, frame(t, "000301")) // already closed at b: ignored
		wantEvents(t, b, "")
		if got := mustOpen(t, a, "q", "2"); got != l {
			t.Fatalf("got id %d, want the freed %d", got, l)
		}
	})
}

// The remote's open ids must grow by at most one past the highest seen
// and use a free slot; closed slots are reused.
func TestRemoteIDRules(t *testing.T) {
	m := New(Config{})
	m.Pair("p", nil)
	if err := feed(m, openFrame(2, "p", "a", nil)); !errors.Is(err, ErrProtocol) {
		t.Fatalf("open of id 2 first: %v, want ErrProtocol", err)
	}
	if err := feed(m, openFrame(1, "p", "a", nil)); !errors.Is(err, ErrFailed) {
		t.Fatalf("after a failure: %v, want ErrFailed", err)
	}
	if _, err := m.Open(OpenOptions{Protocol: "p"}); !errors.Is(err, ErrFailed) {
		t.Fatalf("Open after a failure: %v, want ErrFailed", err)
	}

	for name, bad := range map[string][][]byte{
		"id 0":          {openFrame(0, "p", "a", nil)},
		"id in use":     {openFrame(1, "p", "a", nil), openFrame(1, "p", "b", nil)},
		"id two ahead":  {openFrame(1, "p", "a", nil), openFrame(3, "p", "b", nil)},
		"huge id":       {openFrame(MaxUint, "p", "a", nil)},
		"paired in use": {openFrame(1, "p", "mine", nil), openFrame(1, "p", "b", nil)},
	} {
		t.Run(name, func(t *testing.T) {
			m := New(Config{})
			m.Pair("p", nil)
			mustOpen(t, m, "p", "mine")
			var err error
			for _, f := range bad {
				if err = feed(m, f); err != nil {
					break
				}
			}
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v, want ErrProtocol", err)
			}
		})
	}

	t.Run("reuse after close", func(t *testing.T) {
		m := New(Config{})
		m.Pair("p", nil)
		l := mustOpen(t, m, "p", "mine")
		output(m)
		receive(t, m, openFrame(1, "p", "mine", []byte{7}), openFrame(2, "p", "other", nil))
		wantEvents(t, m, fmt.Sprintf("open ch=%d remote=1 p/6d696e65 hs=07; remote-open remote=2 p/6f74686572 hs=", l))
		receive(t, m, frame(t, "000301"), frame(t, "000302")) // remote closes both
		wantEvents(t, m, fmt.Sprintf("close ch=%d", l))
		wantOutput(t, m, frame(t, "000202")) // the pending one is refused
		receive(t, m, openFrame(2, "p", "x", nil), openFrame(1, "p", "y", nil), openFrame(3, "p", "z", nil))
		wantEvents(t, m, "remote-open remote=2 p/78 hs=; remote-open remote=1 p/79 hs=; remote-open remote=3 p/7a hs=")
	})

	t.Run("remote table bound", func(t *testing.T) {
		m := New(Config{MaxChannels: 4})
		for r := uint64(1); r <= 4; r++ {
			receive(t, m, openFrame(r, "unknown", "", nil)) // each refused, slot freed
		}
		receive(t, m, openFrame(2, "unknown", "", nil))
		if err := feed(m, openFrame(5, "unknown", "", nil)); !errors.Is(err, ErrLimit) {
			t.Fatalf("open of a 5th remote id: %v, want ErrLimit", err)
		}
	})
}

// An open nobody registered for is refused at once; a registered one waits
// for Open or Reject.
func TestRejectUnclaimed(t *testing.T) {
	m := New(Config{})
	receive(t, m, openFrame(1, "nobody", "k", []byte{1, 2}))
	wantEvents(t, m, "")
	wantOutput(t, m, frame(t, "000201"))
	receive(t, m, frame(t, "01000f000500")) // a message on the refused channel is ignored
	wantEvents(t, m, "")
	receive(t, m, openFrame(1, "nobody", "k", nil)) // the slot is free again
	wantOutput(t, m, frame(t, "000201"))

	m.Pair("p", []byte("k"))
	receive(t, m, openFrame(1, "p", "other-id", nil))
	wantOutput(t, m, frame(t, "000201"))
	receive(t, m, openFrame(1, "p", "k", []byte{9}))
	wantEvents(t, m, "remote-open remote=1 p/6b hs=09")
	receive(t, m, frame(t, "010501"))
	if m.Buffered() == 0 {
		t.Fatal("nothing buffered")
	}
	if err := m.Reject(1); err != nil {
		t.Fatal(err)
	}
	wantOutput(t, m, frame(t, "000201"))
	if m.Buffered() != 0 {
		t.Fatalf("%d bytes still buffered", m.Buffered())
	}
	if err := m.Reject(1); !errors.Is(err, ErrChannel) {
		t.Fatalf("second Reject: %v, want ErrChannel", err)
	}
	m.Unpair("p", []byte("k"))
	receive(t, m, openFrame(1, "p", "k", nil))
	wantOutput(t, m, frame(t, "000201"))
	wantEvents(t, m, "")
}

// A remote reject closes a local channel waiting for the remote; a reject
// for anything else breaks the protocol.
func TestRemoteReject(t *testing.T) {
	m := New(Config{})
	l := mustOpen(t, m, "p", "a")
	receive(t, m, frame(t, "000201"))
	wantEvents(t, m, "close ch=1 rejected")
	if m.State(l) != StateNone {
		t.Fatal("rejected channel still there")
	}
	if got := mustOpen(t, m, "p", "a"); got != l {
		t.Fatalf("got id %d, want %d", got, l)
	}
	receive(t, m, openFrame(1, "p", "a", nil))
	events(t, m)
	if err := feed(m, frame(t, "000201")); !errors.Is(err, ErrProtocol) {
		t.Fatalf("reject of an open channel: %v, want ErrProtocol", err)
	}
	m = New(Config{})
	if err := feed(m, frame(t, "000207")); !errors.Is(err, ErrProtocol) {
		t.Fatalf("reject of an unknown channel: %v, want ErrProtocol", err)
	}
}

// Messages sent before the local side opened are buffered, copied, and
// delivered in order after EventOpen when Open pairs with the remote open.
func TestBufferedUntilOpen(t *testing.T) {
	m := New(Config{})
	m.Pair("p", nil)
	f1, f2 := frame(t, "0100aa"), frame(t, "0107bbcc")
	receive(t, m, openFrame(1, "p", "k", []byte{5}), f1, frame(t, "00000103010201"), f2)
	wantEvents(t, m, "remote-open remote=1 p/6b hs=05")
	f1[2], f2[2] = 0, 0 // the caller reuses its frame buffers
	want := (bufferOverhead + 3) + (bufferOverhead + 1) + (bufferOverhead + 2) + (bufferOverhead + 2)
	if m.Buffered() != want {
		t.Fatalf("buffered %d, want %d", m.Buffered(), want)
	}
	l := mustOpen(t, m, "p", "k")
	wantEvents(t, m, fmt.Sprintf("open ch=%d remote=1 p/6b hs=05; message ch=%d type=0 aa; message ch=%d type=1 0201; message ch=%d type=7 bbcc", l, l, l, l))
	if m.Buffered() != 0 {
		t.Fatalf("buffered %d after open", m.Buffered())
	}
	receive(t, m, frame(t, "010300"))
	wantEvents(t, m, fmt.Sprintf("message ch=%d type=3 00", l))
}

func TestBufferBound(t *testing.T) {
	m := New(Config{MaxBuffered: 2000})
	m.Pair("p", nil)
	receive(t, m, openFrame(1, "p", "", nil), frame(t, "01000102"))
	err := feed(m, append(frame(t, "0100"), make([]byte, 1000)...))
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("over the bound: %v, want ErrLimit", err)
	}
	if err := feed(m, frame(t, "000301")); !errors.Is(err, ErrFailed) || !errors.Is(err, ErrLimit) {
		t.Fatalf("after failing: %v", err)
	}

	// Pending opens count too.
	m = New(Config{MaxBuffered: 3 * bufferOverhead})
	m.Pair("p", nil)
	receive(t, m, openFrame(1, "p", "a", nil), openFrame(2, "p", "b", nil))
	if err := feed(m, openFrame(3, "p", "c", nil)); !errors.Is(err, ErrLimit) {
		t.Fatalf("third pending open: %v, want ErrLimit", err)
	}
}

func TestLocalChannelBound(t *testing.T) {
	a, b := New(Config{MaxChannels: 2}), New(Config{})
	mustOpen(t, a, "p", "1")
	mustOpen(t, a, "p", "2")
	if _, err := a.Open(OpenOptions{Protocol: "p", ID: []byte("3")}); !errors.Is(err, ErrLimit) {
		t.Fatalf("third open: %v, want ErrLimit", err)
	}
	mustOpen(t, b, "p", "1")
	pump(t, a, b)
	if err := a.Close(1); err != nil {
		t.Fatal(err)
	}
	if got := mustOpen(t, a, "p", "3"); got != 1 {
		t.Fatalf("got %d, want 1", got)
	}
}

// The protocol may be opened under an alias (hypercore/alpha ↔ hypercore),
// in either order.
func TestAliases(t *testing.T) {
	opts := OpenOptions{Protocol: "hypercore/alpha", Aliases: []string{"hypercore"}, ID: []byte{0xdd}, Handshake: []byte{1}}
	m := New(Config{})
	l, err := m.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	receive(t, m, openFrame(1, "hypercore", "\xdd", []byte{2}))
	wantEvents(t, m, fmt.Sprintf("open ch=%d remote=1 hypercore/alpha/dd hs=02", l))

	m = New(Config{})
	m.Pair("hypercore", nil)
	receive(t, m, openFrame(1, "hypercore", "\xdd", []byte{2}))
	events(t, m)
	if _, err := m.Open(opts); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, m, "open ch=1 remote=1 hypercore/alpha/dd hs=02")
	if _, err := m.Open(OpenOptions{Protocol: "hypercore", ID: []byte{0xdd}}); !errors.Is(err, ErrChannel) {
		t.Fatalf("duplicate open under the alias: %v, want ErrChannel", err)
	}
}

// Corked sends come out as one batch frame, byte for byte as the JS
// protomux made the captured frames.
func TestCorkMatchesJSBatches(t *testing.T) {
	v := loadCaptured(t)
	captured := func(prefix string) []byte {
		for _, c := range v.Captured {
			if strings.HasPrefix(c.What, prefix) {
				return hypercoretest.Unhex(t, c.Frames[0])
			}
		}
		t.Fatalf("no captured frame %q", prefix)
		return nil
	}
	dk := hypercoretest.Unhex(t, v.DiscoveryKey)
	m := New(Config{})
	l, err := m.Open(OpenOptions{Protocol: "hypercore/alpha", ID: dk, Handshake: append([]byte{1}, bytes.Repeat([]byte{0xaa}, 32)...)})
	if err != nil || l != 1 {
		t.Fatal(l, err)
	}
	wantOutput(t, m, captured("channel open"))

	m.Cork()
	must(t, m.Send(1, 0, hypercoretest.Unhex(t, "0f000500")))
	must(t, m.Send(1, 8, hypercoretest.Unhex(t, "000005")))
	must(t, m.Send(1, 5, hypercoretest.Unhex(t, "00fd0004")))
	wantOutput(t, m)
	m.Uncork()
	wantOutput(t, m, captured("corked batch:"))

	m.Cork()
	m.Cork()
	if l2, err := m.Open(OpenOptions{Protocol: "example/other"}); err != nil || l2 != 2 {
		t.Fatal(l2, err)
	}
	must(t, m.Send(1, 2, []byte{1}))
	must(t, m.Send(2, 0, hypercoretest.Unhex(t, "026869")))
	m.Uncork()
	wantOutput(t, m)
	m.Uncork()
	wantOutput(t, m, captured("corked batch spanning"))

	must(t, m.Send(1, 0, hypercoretest.Unhex(t, "0f000500")))
	wantOutput(t, m, captured("sync message"))
	must(t, m.Close(1))
	wantOutput(t, m, captured("channel close"))
	m.Uncork() // unbalanced: no effect
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCorkSplitsAtMaxBatch(t *testing.T) {
	m := New(Config{MaxBatch: 100})
	mustOpen(t, m, "p", "")
	output(m)
	m.Cork()
	for range 5 {
		must(t, m.Send(1, 0, make([]byte, 40)))
	}
	m.Uncork()
	frames := output(m)
	// 3+42 = 45, +42 = 87, +42 = 129 ≥ 100 → cut; then 2 more.
	if len(frames) != 2 || len(frames[0]) != 129 || len(frames[1]) != 87 {
		t.Fatalf("frame sizes %d", len(frames))
	}
	var n int
	for _, f := range frames {
		_, items, err := decodeAll(f)
		if err != nil {
			t.Fatal(err)
		}
		n += len(items)
	}
	if n != 5 {
		t.Fatalf("%d messages in the batches, want 5", n)
	}
}

// What JS ignores is ignored: empty frames, messages for channels never
// opened or already closed, unknown control types, closes of unknown ids.
func TestIgnored(t *testing.T) {
	m := New(Config{})
	for _, f := range []string{"", "0500", "0700ff", "0009", "00090102", "000300", "000305", "0000050100", "00000103030500"} {
		receive(t, m, frame(t, f))
	}
	wantEvents(t, m, "")
	wantOutput(t, m)
}

func TestLocalCallErrors(t *testing.T) {
	m := New(Config{})
	if err := m.Send(1, 0, nil); !errors.Is(err, ErrChannel) {
		t.Fatalf("send on unknown channel: %v", err)
	}
	if err := m.Close(0); !errors.Is(err, ErrChannel) {
		t.Fatalf("close 0: %v", err)
	}
	l := mustOpen(t, m, "p", "a")
	if _, err := m.Open(OpenOptions{Protocol: "p", ID: []byte("a")}); !errors.Is(err, ErrChannel) {
		t.Fatalf("duplicate open: %v", err)
	}
	must(t, m.Send(l, 0, []byte{1})) // before the remote opened: allowed, as in JS
	must(t, m.Close(l))
	if err := m.Close(l); !errors.Is(err, ErrChannel) {
		t.Fatalf("second close: %v", err)
	}
	if err := m.Send(l, 0, nil); !errors.Is(err, ErrChannel) {
		t.Fatalf("send on closing channel: %v", err)
	}
	if err := m.Reject(3); !errors.Is(err, ErrChannel) {
		t.Fatalf("reject unknown: %v", err)
	}
	// A closing channel does not block a new one for the same key.
	mustOpen(t, m, "p", "a")
}

// Two Muxes replicate many channels over one link, opening in both orders,
// then close them from either side.
func TestManyChannels(t *testing.T) {
	a, b := New(Config{}), New(Config{})
	b.Pair("p", nil)
	var la []uint64
	for i := range 50 {
		la = append(la, mustOpen(t, a, "p", fmt.Sprint(i)))
	}
	pump(t, a, b)
	evs := takeEvents(t, b)
	if len(evs) != 50 {
		t.Fatalf("%d events at b", len(evs))
	}
	lb := map[uint64]uint64{}
	for _, e := range evs {
		if e.Kind != EventRemoteOpen {
			t.Fatalf("event %s", e.Kind)
		}
		l, err := b.Open(OpenOptions{Protocol: e.Protocol, ID: e.ID})
		if err != nil {
			t.Fatal(err)
		}
		lb[e.RemoteID] = l
	}
	pump(t, a, b)
	if got := len(takeEvents(t, a)); got != 50 {
		t.Fatalf("%d open events at a", got)
	}
	events(t, b)
	for _, l := range la {
		must(t, a.Send(l, 1, []byte{byte(l)}))
	}
	pump(t, a, b)
	for _, e := range takeEvents(t, b) {
		if e.Kind != EventMessage || lb[e.RemoteID] != e.Channel || e.Payload[0] != byte(e.RemoteID) {
			t.Fatalf("bad delivery %s", evString([]Event{e}))
		}
	}
	for i, l := range la {
		if i%2 == 0 {
			must(t, a.Close(l))
		} else {
			must(t, b.Close(lb[l]))
		}
	}
	pump(t, a, b)
	if n := len(takeEvents(t, a)) + len(takeEvents(t, b)); n != 50 {
		t.Fatalf("%d close events, want 50", n)
	}
	for _, l := range la {
		if a.State(l) != StateNone {
			t.Fatalf("channel %d still in state %d", l, a.State(l))
		}
	}
}

// Messages are processed one at a time as NextEvent is called: Receive
// refuses a new frame until the last one is done, and what a handler does
// applies to the rest of the batch.
func TestEventsArePulled(t *testing.T) {
	m := New(Config{})
	l := mustOpen(t, m, "p", "")
	receive(t, m, openFrame(1, "p", "", nil))
	events(t, m)
	output(m)
	b := frame(t, "000001 020001 020002 020003")
	must(t, m.Receive(b))
	if err := m.Receive(frame(t, "010000")); !errors.Is(err, ErrBusy) {
		t.Fatalf("Receive before the batch was processed: %v, want ErrBusy", err)
	}
	ev, ok, err := m.NextEvent()
	if err != nil || !ok || ev.Kind != EventMessage || !bytes.Equal(ev.Payload, []byte{1}) {
		t.Fatalf("first event %+v %v %v", ev, ok, err)
	}
	must(t, m.Send(l, 5, []byte{0xaa})) // a reply: corked while the batch is processed
	must(t, m.Close(l))                 // the rest of the batch meets a closed channel
	if ev, ok, err := m.NextEvent(); ok || err != nil {
		t.Fatalf("event after close: %+v %v", ev, err)
	}
	wantOutput(t, m, frame(t, "000001 0205aa 00 00 0203 01")) // one batch: the reply, then the close
	must(t, m.Receive(frame(t, "010000")))                    // done: the next frame is taken
	wantEvents(t, m, "")
}

// Replies sent while a received batch is processed leave as one batch
// frame, as JS corks around a batch; a single message is not corked.
func TestRepliesToABatchAreBatched(t *testing.T) {
	m := New(Config{})
	l := mustOpen(t, m, "p", "")
	receive(t, m, openFrame(1, "p", "", nil))
	events(t, m)
	output(m)
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"000001 020001 020002", []string{"000001 020101 020102"}},
		{"010003", []string{"010103"}},
		{"000001 020004", []string{"010104"}},
	} {
		must(t, m.Receive(frame(t, tc.in)))
		for {
			ev, ok, err := m.NextEvent()
			must(t, err)
			if !ok {
				break
			}
			must(t, m.Send(l, 1, ev.Payload))
		}
		var want [][]byte
		for _, w := range tc.want {
			want = append(want, frame(t, w))
		}
		wantOutput(t, m, want...)
	}
}

// A batch of a million messages costs no memory per message: they are
// decoded one at a time as they are taken.
func TestHugeBatchIsStreamed(t *testing.T) {
	m := New(Config{})
	mustOpen(t, m, "p", "")
	receive(t, m, openFrame(1, "p", "", nil))
	events(t, m)
	const n = 1 << 20
	b := append(frame(t, "000001"), bytes.Repeat([]byte{1, 0}, n)...)
	count := 0
	used := hypercoretest.AllocDuring(1, func() {
		must(t, m.Receive(b))
		for {
			_, ok, err := m.NextEvent()
			must(t, err)
			if !ok {
				break
			}
			count++
		}
	})
	if count != n {
		t.Fatalf("%d events, want %d", count, n)
	}
	if used > 64<<10 {
		t.Fatalf("allocated %d bytes for a batch of %d messages", used, n)
	}
}
