// Package export writes what a project holds for maps and for court:
// GeoJSON (RFC 7946), CSV and GeoPackage files of the current
// observations, streamed from the index so memory does not grow with
// their number, and evidence bundles — a zip of the observations, their
// attachments, and for each one the signed block and the Merkle proof to
// its author's signed tree — which Verify checks offline, without any
// project, as a stranger would.
//
// It reads through index, project and hypercore proofs; it never writes
// to a core. It must never import lansync, projectsync, dht or cmd.
package export
