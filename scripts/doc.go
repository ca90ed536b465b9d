// Package scripts holds the maintainers' shell scripts (crash and fuzz
// runs, release builds; see README.md) and the Go test of release.sh. It
// has no code of its own and nothing imports it.
package scripts
