// Package corenet serves one Hypercore to peers over TCP and downloads one
// from a TCP peer: the Hypercore 11 protocol (Noise secret stream,
// protomux, hypercore/alpha via hypercore/replicate) over plain TCP
// connections, as `fieldsync core serve` and `core download` do, for any
// Go program and for interop checks with other Hypercore 11 peers.
//
// It may import hypercore and its sub-packages only; never observations,
// lansync, dht or cmd.
package corenet
