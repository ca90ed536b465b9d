package hypercore

import (
	"crypto/subtle"
	"fmt"

	"golang.org/x/crypto/blake2b"
)

// ReplicationCapability is the capability a peer puts in the handshake of
// its replication channel for the core with key (spec §7.1, JS
// lib/caps.js replicate):
//
//	B256k(key = handshakeHash,
//	      message = (REPLICATE_INITIATOR if isInitiator else REPLICATE_RESPONDER) ‖ key)
//
// isInitiator is the role of the peer that sends the capability in the
// Noise handshake of the connection, and handshakeHash is that handshake's
// hash (64 bytes; both ends know it). The capability proves knowledge of
// the core key, which the discovery key in the channel id does not, and
// binds it to this one encrypted session.
//
// handshakeHash is a BLAKE2b key, so it must be at most 64 bytes; a longer
// one is a programming error and panics (libsodium refuses it too).
func ReplicationCapability(isInitiator bool, key Hash, handshakeHash []byte) Hash {
	ns := nsReplicateResponder()
	if isInitiator {
		ns = nsReplicateInitiator()
	}
	h, err := blake2b.New256(handshakeHash)
	if err != nil {
		panic(fmt.Sprintf("hypercore: replication capability: handshake hash of %d bytes: %v", len(handshakeHash), err))
	}
	h.Write(ns[:])
	h.Write(key[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

// CheckReplicationCapability reports whether capability, received from the
// remote peer of a connection, is the one that peer must send for the core
// with key: remoteIsInitiator is the remote's role in the Noise handshake
// (the opposite of ours). The comparison takes constant time. JS destroys
// the whole connection when this fails.
func CheckReplicationCapability(remoteIsInitiator bool, key Hash, handshakeHash, capability []byte) bool {
	want := ReplicationCapability(remoteIsInitiator, key, handshakeHash)
	return subtle.ConstantTimeCompare(want[:], capability) == 1
}
