// Package record defines the records fieldsync writes to a device's
// data core (DESIGN.md, Observations): observation versions and device
// records, their canonical JSON encoding (sorted keys, so the signed bytes
// are stable and anyone can re-derive them), their validation, and how the
// versions of one observation resolve into heads, forks and the current
// version.
//
// It is pure data: no storage, no network, no index. It may import geo and
// hypercore (for key types); never lansync, dht, export or cmd.
package record
