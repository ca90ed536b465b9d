// Package hyperbee reads and writes Hyperbee v2 B-trees on a Hypercore, byte
// for byte as npm hyperbee 2.27.3 (the version hyperdrive 11.5.3 and
// CoMapeo core 7.1 use) makes them.
//
// A bee is a core whose block 0 is a Header (protocol "hyperbee", optional
// metadata: hyperdrive puts its blob core key in metadata.contentFeed) and
// whose every later block is a Node: the key and value written by one put
// (or one delete: no value) plus a YoloIndex, the tree nodes that this write
// changed. Each tree node is a list of keys (block numbers whose key they
// are) and children (pairs block number, node offset inside that block's
// index). The root of the tree at version v is node 0 of block v-1. The
// three protobuf messages are in messages.go; the B-tree rules (at most 8
// keys a node, split at 9 into 4 + median + 4, delete with borrow and
// merge) follow the JS code so that Go and JS produce the same blocks for
// the same puts.
//
// Reading never trusts the blocks: a pointer to a later block, a child
// offset outside its block's index or a cycle is a decoding error, not a
// loop or a panic.
//
// It works over any core with Get, Length and (for writing) Append, such as
// *hypercore.Core. It must never import anything from fieldsync outside
// hypercore/.
package hyperbee
