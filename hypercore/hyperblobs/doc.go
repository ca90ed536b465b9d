// Package hyperblobs stores and reads blobs in a Hypercore as npm
// hyperblobs 2.3.0 (used by hyperdrive 11.5.3 and CoMapeo core 7.1) does:
// a blob is appended as consecutive blocks of at most 64 KiB, and named by
// an ID {blockOffset, blockLength, byteOffset, byteLength}: where its first
// block and byte are in the core, and how many of each it spans. The JSON
// form of an ID (hyperdrive's entry.blob) uses those four names.
//
// It works over any core with Get, Head and (for writing) Append, such as
// *hypercore.Core. It must never import anything from fieldsync outside
// hypercore/.
package hyperblobs
