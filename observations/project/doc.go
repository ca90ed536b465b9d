// Package project keeps a fieldsync home on disk: the device's identity
// key, the projects it belongs to (name, secret project key, this
// device's name) and each project's cores, whose signing keys derive from
// the device secret, the project key and the core's name (DESIGN.md,
// Identity and keys). It also makes and reads invitation codes.
//
// It may import hypercore and observation; never the index, lansync, dht,
// export or cmd.
package project
