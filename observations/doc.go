// Package observations is where fieldsync's domain lives, and its front
// door: Open (or Create, Join) gives a Project that records this device's
// observations (Observe, Edit, Delete, Import), keeps the project's index
// up to date (OpenIndex, Reindex), syncs with teammates (Sync once, Serve
// as a base station: lansync, projectsync and the DHT wired together, and
// the decision of when a sync is complete), and audits (Audit, Status).
// Commands and other front ends make one call here and print the result;
// what to do and when it is done is decided here, once.
//
// The sub-packages hold the parts, each with its own import rules
// (internal/deptest): record (canonical records), query (filters), project
// (homes, keys, cores, writes), index (the GeoPackage index) and
// projectsync (membership and whole-project replication).
//
// It may import its sub-packages, hypercore, geo, lansync, dht and
// internal/atomicfile. It must never import export, cmd or any front end:
// they import it. Nothing below it imports it.
package observations
