// Package project keeps a fieldsync home on disk: the device's identity
// key, the projects it belongs to (name, secret project key, this
// device's name) and each project's cores, whose signing keys derive from
// the device secret, the project key and the core's name (DESIGN.md,
// Identity and keys). It also makes and reads invitation codes.
//
// What differs by OS: where the home is by default (DefaultDir: the
// local application-data folder on Windows, Application Support on macOS,
// XDG elsewhere); file modes (0600 keys, 0700 home) are kept on Unix and
// mean nothing on Windows, where the user's profile folder is private.
// Project and device names are free text in any script; they never become
// file names (projects/<name> is checked by the name rules).
//
// It may import hypercore and observation; never the index, lansync, dht,
// export or cmd.
package project
