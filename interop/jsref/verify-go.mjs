// Checks a core written by another implementation (fieldsync's Go code) with
// the JavaScript Hypercore 11 verifier, without touching its storage format:
// the caller hands over the manifest bytes, the block bytes and the signed
// heads it read from that core, and this script recomputes everything the
// JS stack would derive from them.
//
//   node verify-go.mjs INPUT.json
//
// INPUT.json:
//   { "key": HEX32, "manifest": HEX, "compat": BOOL, "publicKey": HEX32,
//     "blocks": [HEX, ...],
//     "heads": [{ "length": N, "fork": N, "signature": HEX }, ...] }
//
// Prints one JSON object on stdout:
//   { "key":            core key derived by JS from the manifest (compat: its signer's public key),
//     "discoveryKey":   hypercore-crypto discoveryKey(key),
//     "compat":         what the JS Verifier concludes from (key, manifest),
//     "manifestIsDefault": the manifest bytes equal JS's own default-signer
//                       manifest for publicKey (what `new Hypercore` makes),
//     "heads": [{ "length", "byteLength", "treeHash" (recomputed from the
//                 blocks), "signatureValid" (JS Verifier on the given
//                 signature; null at length 0), "tamperedValid" (the same
//                 with one signature bit flipped: must be false) }] }
// Diagnostics go to stderr. Exit 0 when the output was printed (the caller
// judges it), 1 on a malformed input or an internal error, 2 on usage.

import fs from 'node:fs'
import { createRequire } from 'node:module'

import hcrypto from 'hypercore-crypto'
import flat from 'flat-tree'

const require = createRequire(import.meta.url)
const caps = require('hypercore/lib/caps.js')
const Verifier = require('hypercore/lib/verifier.js')

const hex = (b) => (b == null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'))

function unhex(s, what) {
  if (typeof s !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error(`${what} must be a hex string`)
  return Buffer.from(s, 'hex')
}

// Tree hash of blocks[0..n), from the block bytes with hypercore-crypto only
// (same routine as peer.mjs).
function treeHashOf(blocks) {
  const roots = []
  for (let i = 0; i < blocks.length; i++) {
    roots.push({ index: 2 * i, size: blocks[i].byteLength, hash: hcrypto.data(blocks[i]) })
    while (roots.length > 1) {
      const a = roots[roots.length - 2]
      const b = roots[roots.length - 1]
      if (flat.sibling(b.index) !== a.index) break
      roots.splice(-2, 2, { index: flat.parent(b.index), size: a.size + b.size, hash: hcrypto.parent(a, b) })
    }
  }
  return hcrypto.tree(roots)
}

function verifies(verifier, treeHash, length, fork, signature) {
  const batch = {
    length,
    fork,
    hash: () => treeHash,
    signable: (ns) => caps.treeSignable(ns, treeHash, length, fork),
    signableCompat: (noHeader) => caps.treeSignableCompat(treeHash, length, fork, noHeader),
    clone () { throw new Error('patched signatures not supported') }
  }
  try {
    return !!verifier.verify(batch, signature)
  } catch {
    return false
  }
}

function main() {
  const file = process.argv[2]
  if (!file || process.argv.length > 3) {
    process.stderr.write('usage: node verify-go.mjs INPUT.json\n')
    process.exit(2)
  }
  const inp = JSON.parse(fs.readFileSync(file, 'utf8'))
  const key = unhex(inp.key, 'key')
  const publicKey = unhex(inp.publicKey, 'publicKey')
  const manifestBytes = unhex(inp.manifest, 'manifest')
  if (!Array.isArray(inp.blocks) || !Array.isArray(inp.heads)) throw new Error('blocks and heads must be arrays')
  const blocks = inp.blocks.map((b, i) => unhex(b, `blocks[${i}]`))

  const manifest = Verifier.createManifest(Verifier.decodeManifest(manifestBytes))
  const verifier = new Verifier(key, manifest)
  const derivedKey = verifier.compat ? manifest.signers[0].publicKey : Verifier.manifestHash(manifest)
  const ownManifest = Verifier.encodeManifest(Verifier.defaultSignerManifest(publicKey))

  const heads = inp.heads.map((h) => {
    if (!Number.isSafeInteger(h.length) || h.length < 0 || h.length > blocks.length) {
      throw new Error(`head length ${h.length} outside 0..${blocks.length}`)
    }
    const prefix = blocks.slice(0, h.length)
    const treeHash = treeHashOf(prefix)
    let byteLength = 0
    for (const b of prefix) byteLength += b.byteLength
    let signatureValid = null
    let tamperedValid = null
    if (h.length > 0) {
      const sig = unhex(h.signature, `signature at length ${h.length}`)
      signatureValid = verifies(verifier, treeHash, h.length, h.fork, sig)
      const bad = Buffer.from(sig)
      if (bad.length > 0) bad[bad.length >> 1] ^= 0x01
      tamperedValid = verifies(verifier, treeHash, h.length, h.fork, bad)
    }
    return { length: h.length, byteLength, treeHash: hex(treeHash), signatureValid, tamperedValid }
  })

  process.stdout.write(JSON.stringify({
    key: hex(derivedKey),
    discoveryKey: hex(hcrypto.discoveryKey(derivedKey)),
    compat: !!verifier.compat,
    manifestIsDefault: Buffer.from(ownManifest).equals(manifestBytes),
    heads
  }) + '\n')
}

try {
  main()
} catch (err) {
  process.stderr.write(`verify-go.mjs: error: ${String(err && err.message ? err.message : err).replace(/\s+/g, ' ')}\n`)
  process.exit(1)
}
