// Package projectsync replicates a whole project over one authenticated
// connection: the "fieldsync/project" channel proves membership (its id
// and capability are keyed hashes of the project key bound to the
// handshake hash, so a peer without the key learns nothing, not even the
// discovery key), members exchange the keys and lengths of every core
// they hold (so cores of devices one side never met travel through a
// third), and every core is replicated over its own Hypercore channel,
// each block verified before it is stored.
//
// A Store holds a project's cores for every connection of a process and
// lets only one connection at a time download a given core.
//
// It may import project, hypercore and its subpackages; never index,
// lansync, dht, export or cmd.
package projectsync
