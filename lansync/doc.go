// Package lansync finds fieldsync peers on the local network and keeps
// connections to them: it listens on TCP, advertises "_fieldsync._tcp"
// over mDNS under a random instance name with only "v=1" in its TXT
// record (a listener on the Wi-Fi learns nothing of projects or people),
// browses for others, dials them (private and link-local addresses only,
// unless a peer is named), runs the Noise handshake, keeps one connection
// per device pair (the one dialled by the smaller device key), and hands
// each established secret stream to a Handler. It knows nothing of
// projects or observations: the handler decides whether a peer is a
// member.
//
// Lifecycle: Manager.Run owns every goroutine it starts (listener,
// dialers, handlers, mDNS) in one WaitGroup and returns only after they
// have exited; AddPeer outside Run does nothing.
//
// It may import hypercore/secretstream; never project, projectsync,
// index, dht, export or cmd.
package lansync
