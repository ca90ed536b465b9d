// Package replicate runs the Hypercore 11 replication protocol over one
// secret stream: the "hypercore/alpha" protomux channel per core, with its
// capability check, sync, request/data/noData, range and want messages,
// upgrades, block downloads with pipelined requests, and live updates.
//
// A Peer owns one connection. It serves the cores it was given (answering
// requests with proofs built from the signed tree) and downloads into
// replicas, verifying every block against a signed tree before anything
// is stored. Any protocol violation, bad proof or bad signature drops the
// whole connection, and nothing the peer sent after its last verified
// batch is kept (what it proved before — a signed head, verified blocks —
// is the writer's data and stays).
// Memory per peer is bounded: in-flight requests, buffered answers, the
// send queue (reading pauses while it is full) and message sizes.
//
// Blocks are downloaded in order, so a replica always holds a prefix of
// its core (hypercore.Core.Contiguous); an interrupted download resumes
// from there.
//
// Lifecycle: Peer.Run owns every goroutine it starts (the writer, the
// reader, the hash workers and each replica's storage goroutine) in one
// WaitGroup, and returns only after all of them have exited; once Run has
// returned nothing writes to a core or to the connection.
//
// Extension messages (CoMapeo's mapeo/project, mapeo/have, ...) travel on
// a core's channel: Replication.SendExtension queues one, CoreConfig.
// OnExtension receives them, with hypercore 10's empty name ("same as the
// last one") resolved.
//
// This package knows nothing of observations, projects or discovery; it
// must never import fieldsync's higher layers (observation, index, export,
// lansync, dht, cmd).
package replicate
