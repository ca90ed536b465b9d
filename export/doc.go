// Package export writes what a project holds for maps and for court:
// GeoJSON (RFC 7946), CSV and GeoPackage files of the current
// observations, streamed from the index so memory does not grow with
// their number, and evidence bundles — a zip of the complete signed logs
// of the devices concerned, the selection as data, the observations, their
// attachments and a report — which Verify checks offline, without any
// project, as a stranger would: every block against its signed head, then
// the selection run again over the logs (ledger.go, shared with the
// exporter), then every file a reader sees regenerated and compared.
//
// It reads through index, project and hypercore cores (evidence only from
// the cores' signed blocks, never from the index); it never writes
// to a core. It must never import lansync, projectsync, dht or cmd.
package export
