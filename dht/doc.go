// Package dht finds teammates across the internet through the BitTorrent
// Mainline DHT (anacrolix/dht), when asked: it announces this device's TCP
// port under a project's topic and looks the topic up periodically,
// handing every address found to a callback (the same dial path as mDNS:
// the project channel then decides whether the peer is a member).
//
// The topic is a 20-byte infohash derived from the project's discovery
// key with a fieldsync-specific keyed hash, so it reveals neither the
// project key nor the discovery key, and differs from any other use of
// them. Announcing reveals this device's IP address to the world: it is
// off unless the user asks.
//
// Lifecycle: Node.Run starts no goroutine of its own; it returns when ctx
// ends, after closing the anacrolix server (which stops its goroutines).
//
// It imports nothing from fieldsync; it must never import project,
// projectsync, index, export, lansync or cmd.
package dht
