// Package deptest holds the one test that enforces the project's dependency
// rules (DESIGN.md, "Dependency rules"): for every package in the module, which
// other fieldsync packages it may import, tests included. A new package
// fails the test until it is given a row, so the rules are decided, not
// discovered (Tailscale's tstest/deptest).
//
// It has no code; it must never be imported.
package deptest
