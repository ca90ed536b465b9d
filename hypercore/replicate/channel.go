package replicate

import (
	"errors"
	"fmt"
	"slices"

	"github.com/fieldsync/fieldsync/hypercore/protomux"
)

// ChannelHandler is a channel of another protocol carried on a Peer's
// connection beside the cores (fieldsync's project channel). Its
// callbacks run on the Peer's goroutine: they must not block, and byte
// slices they get are only valid during the call. An error from OnOpen or
// OnMessage drops the connection.
type ChannelHandler struct {
	Protocol  string
	ID        []byte
	Handshake []byte
	OnOpen    func(remoteHandshake []byte) error
	OnMessage func(typ uint64, payload []byte) error
	// OnClose: the remote closed the channel, or refused to open it
	// (rejected).
	OnClose func(rejected bool)
}

// Channel is an open ChannelHandler's channel.
type Channel struct {
	p  *Peer
	h  *ChannelHandler
	ch uint64 // main loop only
}

type channelSend struct {
	c       *Channel
	typ     uint64
	payload []byte
}

// OpenChannel opens a channel of another protocol. Open it before Run so
// that the remote's open of the same channel is never refused for arriving
// first.
func (p *Peer) OpenChannel(h *ChannelHandler) (*Channel, error) {
	if h.Protocol == "" || h.OnOpen == nil || h.OnMessage == nil {
		return nil, errors.New("replicate: a channel needs a protocol, OnOpen and OnMessage")
	}
	c := &Channel{p: p, h: h}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("replicate: peer is closed")
	}
	p.chOpens = append(p.chOpens, c)
	p.wake()
	return c, nil
}

// Send queues a message on the channel (payload is copied).
func (c *Channel) Send(typ uint64, payload []byte) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	c.p.chSends = append(c.p.chSends, channelSend{c, typ, slices.Clone(payload)})
	c.p.wake()
}

// stepChannels opens the channels and sends the messages queued since the
// last step.
func (p *Peer) stepChannels() error {
	p.mu.Lock()
	opens, sends := p.chOpens, p.chSends
	p.chOpens, p.chSends = nil, nil
	p.mu.Unlock()
	for _, c := range opens {
		p.mux.Pair(c.h.Protocol, c.h.ID)
		ch, err := p.mux.Open(protomux.OpenOptions{Protocol: c.h.Protocol, ID: c.h.ID, Handshake: c.h.Handshake})
		if err != nil {
			return fmt.Errorf("open %s channel: %w", c.h.Protocol, err)
		}
		c.ch = ch
		p.byExtra[ch] = c
	}
	for _, s := range sends {
		if s.c.ch == 0 {
			continue // never opened (or closed)
		}
		if err := p.mux.Send(s.c.ch, s.typ, s.payload); err != nil {
			return fmt.Errorf("%s channel: %w", s.c.h.Protocol, err)
		}
	}
	return nil
}

// pendingChannel says whether a channel for (protocol, id) waits to be
// opened.
func (p *Peer) pendingChannel(protocol string, id []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.chOpens {
		if c.h.Protocol == protocol && string(c.h.ID) == string(id) {
			return true
		}
	}
	return false
}

// channelEvent handles an event of a ChannelHandler's channel; ok is false
// when the event is not one.
func (p *Peer) channelEvent(ev protomux.Event) (ok bool, err error) {
	c := p.byExtra[ev.Channel]
	if c == nil {
		return false, nil
	}
	switch ev.Kind {
	case protomux.EventOpen:
		if err := c.h.OnOpen(ev.Handshake); err != nil {
			return true, fmt.Errorf("%s channel: %w", c.h.Protocol, err)
		}
	case protomux.EventMessage:
		if err := c.h.OnMessage(ev.Type, ev.Payload); err != nil {
			return true, fmt.Errorf("%s channel: %w", c.h.Protocol, err)
		}
	case protomux.EventClose:
		delete(p.byExtra, ev.Channel)
		c.ch = 0
		if c.h.OnClose != nil {
			c.h.OnClose(ev.Rejected)
		}
	}
	return true, nil
}
