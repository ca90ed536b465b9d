// Package usbsync syncs a project with a sync folder on removable media
// (`fieldsync sync --via DIR`): a USB stick carried between devices that
// never share a network. It works like a sync with a peer, both ways:
// what the folder holds that this device lacks is verified block by block
// with the network path's verifier (hypercore proofs built from the
// folder's untrusted tree and checked against each writer's signed head,
// then stored through CreateReplica, ApplyUpgrade and PutBlocks), and
// what this device holds that the folder lacks is appended to it.
//
// The folder (DIR/sync.fieldsync/) is a small head and, per core,
// append-only segment files, none larger than a limit (2 GiB by default,
// so FAT32 sticks work). A segment is written under a temporary name,
// flushed and renamed; the head is written last the same way, so a
// crash or a yanked stick leaves the head naming only complete segments
// (files it does not name are ignored). Nothing named by a head is ever
// rewritten or truncated. Everything but a magic string, a format
// version, a random folder id and a keyed MAC of the project is sealed
// with XChaCha20-Poly1305 under a key derived from the project key, so
// someone who finds the stick learns no names, keys or discovery keys,
// and a device of another project recognises the folder as "not this
// project" without reading anything.
//
// It may import hypercore, observations/project, observations/record and
// internal/atomicfile; never the index, projectsync, lansync, dht, export
// or cmd.
package usbsync
