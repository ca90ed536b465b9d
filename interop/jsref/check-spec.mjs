// Independent check of the Hypercore 11 spec (shared/spec/hypercore.md)
// against the vectors (hypercore/testdata/hypercore-v11.json in this repo).
//
// Uses no Holepunch code: only node:crypto (Ed25519 verify, SHA-512,
// ChaCha20-Poly1305) and the @noble packages (BLAKE2b, HMAC, ChaCha20,
// Poly1305, Ed25519 point arithmetic). Every value below is recomputed from
// the rules written in the spec and compared with the JSON vectors.
//
//   node check-spec.mjs [path/to/hypercore-v11.json]
//
// Prints one line per group and a closing "N passed, N failed" line; exits
// non-zero on any failure.

import fs from 'node:fs'
import path from 'node:path'
import nodeCrypto from 'node:crypto'
import { blake2b } from '@noble/hashes/blake2.js'
import { hmac } from '@noble/hashes/hmac.js'
import { chacha20 } from '@noble/ciphers/chacha.js'
import { poly1305 } from '@noble/ciphers/_poly1305.js'
import { ed25519 } from '@noble/curves/ed25519.js'

const here = path.dirname(new URL(import.meta.url).pathname)
const file = process.argv[2] || path.join(here, '..', '..', 'hypercore', 'testdata', 'hypercore-v11.json')
const V = JSON.parse(fs.readFileSync(file, 'utf8'))

// ------------------------------------------------------------ tiny harness

let passed = 0
let failed = 0
const groups = new Map()
function eq(group, what, got, want) {
  const g = groups.get(group) || { ok: 0, bad: 0 }
  groups.set(group, g)
  if (got === want) {
    passed++
    g.ok++
  } else {
    failed++
    g.bad++
    console.log(`FAIL [${group}] ${what}\n  got  ${got}\n  want ${want}`)
  }
}
const ok = (group, what, cond) => eq(group, what, !!cond, true)

// ------------------------------------------------------------ bytes helpers

const H = (s) => Buffer.from(s, 'hex')
const hex = (b) => Buffer.from(b).toString('hex')
const cat = (...bs) => Buffer.concat(bs.map((b) => Buffer.from(b)))
const b2b256 = (msg, key) => Buffer.from(blake2b(msg, key ? { dkLen: 32, key } : { dkLen: 32 }))
const b2b512 = (msg) => Buffer.from(blake2b(msg, { dkLen: 64 }))

function u64le(n) {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(n))
  return b
}

// compact-encoding varint (spec §1)
function cUint(n) {
  if (n <= 0xfc) return Buffer.from([n])
  if (n <= 0xffff) {
    const b = Buffer.alloc(3)
    b[0] = 0xfd
    b.writeUInt16LE(n, 1)
    return b
  }
  if (n <= 0xffffffff) {
    const b = Buffer.alloc(5)
    b[0] = 0xfe
    b.writeUInt32LE(n, 1)
    return b
  }
  return cat([0xff], u64le(n))
}
const cBuf = (b) => cat(cUint(b.length), b)
const cStr = (s) => cBuf(Buffer.from(s, 'utf8'))
const cArr = (xs, f) => cat(cUint(xs.length), ...xs.map(f))

class Reader {
  constructor(buf) {
    this.b = buf
    this.i = 0
  }

  uint() {
    const a = this.b[this.i++]
    if (a <= 0xfc) return a
    if (a === 0xfd) return this.b.readUInt16LE((this.i += 2) - 2)
    if (a === 0xfe) return this.b.readUInt32LE((this.i += 4) - 4)
    return Number(this.b.readBigUInt64LE((this.i += 8) - 8))
  }

  fixed(n) {
    const out = this.b.subarray(this.i, this.i + n)
    if (out.length !== n) throw new Error('short read')
    this.i += n
    return out
  }

  buffer() {
    return this.fixed(this.uint())
  }

  string() {
    return this.buffer().toString('utf8')
  }

  get done() {
    return this.i >= this.b.length
  }
}

// ------------------------------------------------------------ §2 flat tree

const depth = (i) => {
  let d = 0
  while ((i + 1) % 2 ** (d + 1) === 0) d++
  return d
}
const offset = (i) => (i % 2 === 0 ? i / 2 : ((i + 1) / 2 ** depth(i) - 1) / 2)
const indexOf = (d, o) => (1 + 2 * o) * 2 ** d - 1
const parent = (i) => indexOf(depth(i) + 1, Math.floor(offset(i) / 2))
const sibling = (i) => indexOf(depth(i), offset(i) ^ 1)
const leftSpan = (i) => offset(i) * 2 ** (depth(i) + 1)
const rightSpan = (i) => (offset(i) + 1) * 2 ** (depth(i) + 1) - 2
const leftChild = (i) => (i % 2 === 0 ? -1 : indexOf(depth(i) - 1, 2 * offset(i)))
const rightChild = (i) => (i % 2 === 0 ? -1 : indexOf(depth(i) - 1, 2 * offset(i) + 1))
const countLeaves = (i) => 2 ** depth(i)

function fullRoots(length) {
  // roots of a tree with `length` leaves: greedy largest power-of-two subtrees, left to right
  const out = []
  let start = 0
  let left = length
  while (left > 0) {
    let f = 1
    while (f * 2 <= left) f *= 2
    out.push(2 * start + f - 1)
    start += f
    left -= f
  }
  return out
}

// ------------------------------------------------------------ §3 hashing

const NODE = { LEAF: 0, PARENT: 1, ROOT: 2 }
const leafHash = (data) => b2b256(cat([NODE.LEAF], u64le(data.length), data))
const parentHash = (a, b) => {
  if (a.index > b.index) [a, b] = [b, a]
  return b2b256(cat([NODE.PARENT], u64le(a.size + b.size), a.hash, b.hash))
}
const treeHash = (roots) => b2b256(cat([NODE.ROOT], ...roots.map((r) => cat(r.hash, u64le(r.index), u64le(r.size)))))

function namespace(name, count) {
  const base = b2b256(Buffer.from(name))
  const out = []
  for (let i = 0; i < count; i++) out.push(b2b256(cat(base, [i])))
  return out
}
const [NS_TREE, NS_REPL_INIT, NS_REPL_RESP, NS_MANIFEST, NS_DEFAULT] = namespace('hypercore', 6)
const [SS_INIT, SS_RESP, SS_SEND] = namespace('hyperswarm/secret-stream', 3)

// full node map for a list of blocks: index -> {index,size,hash}
function buildTree(blocks) {
  const nodes = new Map()
  blocks.forEach((b, i) => nodes.set(2 * i, { index: 2 * i, size: b.length, hash: leafHash(b) }))
  for (let d = 1; 2 ** d <= blocks.length; d++) {
    for (let o = 0; (o + 1) * 2 ** d <= blocks.length; o++) {
      const i = indexOf(d, o)
      const l = nodes.get(leftChild(i))
      const r = nodes.get(rightChild(i))
      nodes.set(i, { index: i, size: l.size + r.size, hash: parentHash(l, r) })
    }
  }
  return nodes
}
const rootsOf = (nodes, length) => fullRoots(length).map((i) => nodes.get(i))

// ------------------------------------------------------------ §4 manifest + signatures

function encodeSigner(s) {
  return cat(cUint(0) /* ed25519 */, H(s.namespace), H(s.publicKey))
}
function encodeManifest(m) {
  if (m.version === 0) {
    // legacy layout
    const parts = [cUint(0), cUint(0) /* blake2b */]
    if (m.prologue && m.signers.length === 0) return cat(...parts, cUint(0), H(m.prologue.hash))
    if (m.quorum === 1 && m.signers.length === 1 && !m.allowPatch) return cat(...parts, cUint(1), encodeSigner(m.signers[0]))
    return cat(...parts, cUint(2), cUint(m.allowPatch ? 1 : 0), cUint(m.quorum), cArr(m.signers, encodeSigner))
  }
  const flags = (m.allowPatch ? 1 : 0) | (m.prologue ? 2 : 0) | (m.linked ? 4 : 0) | (m.userData ? 8 : 0)
  const parts = [cUint(m.version), cUint(flags), cUint(0) /* blake2b */, cUint(m.quorum), cArr(m.signers, encodeSigner)]
  if (m.prologue) parts.push(H(m.prologue.hash), cUint(m.prologue.length))
  if (m.linked) parts.push(cArr(m.linked, H))
  if (m.userData) parts.push(cBuf(H(m.userData)))
  return cat(...parts)
}
const manifestHash = (encoded) => b2b256(cat(NS_MANIFEST, encoded))
const discoveryKey = (key) => b2b256(Buffer.from('hypercore'), key)

const signable = (manifestHashBytes, th, length, fork) => cat(NS_TREE, manifestHashBytes, th, u64le(length), u64le(fork))
const signableCompat = (th, length, fork) => cat(NS_TREE, th, u64le(length), u64le(fork))

function edVerify(msg, sig, pub) {
  const key = nodeCrypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pub).toString('base64url') }, format: 'jwk' })
  return nodeCrypto.verify(null, msg, key, sig)
}

function decodeMultisig(buf) {
  const r = new Reader(buf)
  const proofs = []
  const n = r.uint()
  for (let i = 0; i < n; i++) proofs.push({ signer: r.uint(), signature: r.fixed(64), patch: r.uint() })
  const patch = []
  const m = r.uint()
  for (let i = 0; i < m; i++) patch.push({ index: r.uint(), size: r.uint(), hash: r.fixed(32) })
  if (!r.done) throw new Error('trailing bytes in multisig')
  return { proofs, patch }
}

// verify a signature for (roots, length, fork) under a core (spec §4.4)
function verifyCoreSignature(coreInfo, roots, length, fork, sig) {
  const th = treeHash(roots)
  if (coreInfo.compat) return sig.length === 64 && edVerify(signableCompat(th, length, fork), sig, coreInfo.signers[0])
  const msg = signable(coreInfo.manifestHash, th, length, fork)
  const { proofs } = decodeMultisig(sig)
  if (proofs.length < coreInfo.quorum) return false
  const used = new Set()
  for (let i = 0; i < coreInfo.quorum; i++) {
    const p = proofs[i]
    if (p.patch !== 0) return false // patches not exercised by these vectors
    if (p.signer >= coreInfo.signers.length || used.has(p.signer)) return false
    used.add(p.signer)
    if (!edVerify(msg, p.signature, coreInfo.signers[p.signer])) return false
  }
  return true
}

// ------------------------------------------------------------ §6 wire messages

const encNode = (n) => cat(cUint(n.index), cUint(n.size), H(n.hash))
const encNodes = (ns) => cArr(ns, encNode)
const optBuf = (h) => (h ? cBuf(H(h)) : cUint(0))

const WIRE = {
  handshake: (m) => cat(cUint(m.seeks ? 1 : 0), H(m.capability.hex)),
  sync: (m) =>
    cat(
      cUint((m.canUpgrade ? 1 : 0) | (m.uploading ? 2 : 0) | (m.downloading ? 4 : 0) | (m.hasManifest ? 8 : 0) | (m.allowPush ? 16 : 0)),
      cUint(m.fork),
      cUint(m.length),
      cUint(m.remoteLength)
    ),
  request: (m) => {
    const flags = (m.block ? 1 : 0) | (m.hash ? 2 : 0) | (m.seek ? 4 : 0) | (m.upgrade ? 8 : 0) | (m.manifest ? 16 : 0) | (m.priority ? 32 : 0)
    const p = [cUint(flags), cUint(m.id), cUint(m.fork)]
    if (m.block) p.push(cUint(m.block.index), cUint(m.block.nodes))
    if (m.hash) p.push(cUint(m.hash.index), cUint(m.hash.nodes))
    if (m.seek) p.push(cUint(m.seek.bytes), cUint(m.seek.padding))
    if (m.upgrade) p.push(cUint(m.upgrade.start), cUint(m.upgrade.length))
    if (m.priority) p.push(cUint(m.priority))
    return cat(...p)
  },
  cancel: (m) => cUint(m.request),
  data: (m) => {
    const flags = (m.block ? 1 : 0) | (m.hash ? 2 : 0) | (m.seek ? 4 : 0) | (m.upgrade ? 8 : 0) | (m.manifest ? 16 : 0)
    const p = [cUint(flags), cUint(m.request), cUint(m.fork)]
    if (m.block) p.push(cUint(m.block.index), cBuf(H(m.block.value.hex ?? m.block.value)), encNodes(unhexNodes(m.block.nodes)))
    if (m.hash) p.push(cUint(m.hash.index), encNodes(unhexNodes(m.hash.nodes)))
    if (m.seek) p.push(cUint(m.seek.bytes), encNodes(unhexNodes(m.seek.nodes)))
    if (m.upgrade) {
      const u = m.upgrade
      const sig = u.signature && (u.signature.hex ?? u.signature)
      p.push(cUint(u.start), cUint(u.length), encNodes(unhexNodes(u.nodes)), encNodes(unhexNodes(u.additionalNodes)), optBuf(sig))
    }
    if (m.manifest) p.push(encodeManifest(unhexManifest(m.manifest)))
    return cat(...p)
  },
  noData: (m) => cat(cUint(m.request), cUint(m.reason ? 1 : 0), m.reason ? cUint(m.reason) : Buffer.alloc(0)),
  want: (m) => cat(cUint(m.start), cUint(m.length), m.any ? cUint(1) : Buffer.alloc(0)),
  unwant: (m) => cat(cUint(m.start), cUint(m.length), m.any ? cUint(1) : Buffer.alloc(0)),
  bitfield: (m) => {
    const words = Buffer.alloc(4 * m.bitfield.length)
    m.bitfield.forEach((w, i) => words.writeUInt32LE(w, 4 * i))
    return cat(cUint(m.start), cUint(m.bitfield.length), words)
  },
  range: (m) => cat(cUint((m.drop ? 1 : 0) | (m.length === 1 ? 2 : 0)), cUint(m.start), m.length === 1 ? Buffer.alloc(0) : cUint(m.length)),
  extension: (m) => cat(cStr(m.name), H(m.message.hex))
}
const unhexNodes = (ns) => ns.map((n) => ({ index: n.index, size: n.size, hash: n.hash.hex ?? n.hash }))
function unhexManifest(m) {
  const h = (x) => (x && typeof x === 'object' && 'hex' in x ? x.hex : x)
  return {
    ...m,
    signers: m.signers.map((s) => ({ signature: s.signature, namespace: h(s.namespace), publicKey: h(s.publicKey) })),
    prologue: m.prologue ? { hash: h(m.prologue.hash), length: m.prologue.length } : null,
    linked: m.linked ? m.linked.map(h) : null,
    userData: m.userData ? h(m.userData) : null
  }
}

// ------------------------------------------------------------ §5 proof verification

// Walk from a starting node up through `siblings` (bottom-up), combining
// into parents. `extra` is an already-computed node that may stand in for
// one sibling (used when a seek proof and a block proof are combined).
function climb(start, siblings, extra = null) {
  let cur = start
  const q = siblings.slice()
  while (q.length > 0 || (extra && extra.index === sibling(cur.index))) {
    const want = sibling(cur.index)
    let s
    if (extra && extra.index === want) {
      s = extra
      extra = null
    } else {
      s = q.shift()
      if (s.index !== want) throw new Error(`expected node ${want}, got ${s.index}`)
    }
    cur = { index: parent(cur.index), size: cur.size + s.size, hash: parentHash(cur, s) }
  }
  return cur
}

// Roots of length `to` from the verifier's roots at `fromRoots` plus proof nodes.
function growRoots(fromRoots, to, queue) {
  const take = (index) => {
    const n = queue.take(index)
    if (!n) throw new Error('proof is missing node ' + index)
    return n
  }
  const target = fullRoots(to)
  const out = []
  let i = 0
  // keep the roots that are unchanged
  while (i < fromRoots.length && i < target.length && fromRoots[i].index === target[i]) out.push(fromRoots[i++])
  let t = i
  if (i < fromRoots.length) {
    // remaining old roots all sit under target[t]: merge them upward with right-hand siblings from the proof
    let cur = fromRoots[fromRoots.length - 1]
    let leftStack = fromRoots.slice(i, -1)
    while (cur.index !== target[t]) {
      const sib = sibling(cur.index)
      let s
      if (sib < cur.index) s = leftStack.pop() // left sibling: an old root
      else s = take(sib)
      if (!s || s.index !== sib) throw new Error('bad grow at ' + cur.index)
      cur = { index: parent(cur.index), size: cur.size + s.size, hash: parentHash(cur, s) }
    }
    out.push(cur)
    t++
  }
  for (; t < target.length; t++) out.push(take(target[t]))
  return out
}

function verifyDataProof(p, { rootsAt, knownNodes, coreInfo }) {
  const queueFrom = (nodes, extra) => ({
    nodes: nodes.slice(),
    extra,
    take(index) {
      if (this.extra && this.extra.index === index) {
        const n = this.extra
        this.extra = null
        return n
      }
      const n = this.nodes.shift()
      if (!n || n.index !== index) throw new Error(`expected node ${index}, got ${n && n.index}`)
      return n
    }
  })

  // 1. block / hash / seek part -> one untrusted subtree root
  let seekRoot = null
  if (p.seek && p.seek.nodes.length) seekRoot = climb(p.seek.nodes[0], p.seek.nodes.slice(1))
  let untrusted = seekRoot
  if (p.block) {
    const leaf = { index: 2 * p.block.index, size: p.block.value.length, hash: leafHash(p.block.value) }
    untrusted = climb(leaf, p.block.nodes, seekRoot)
  } else if (p.hash) {
    untrusted = climb(p.hash.nodes[0], p.hash.nodes.slice(1), seekRoot)
  }

  if (!p.upgrade) {
    const known = knownNodes.get(untrusted.index)
    return !!known && Buffer.from(known.hash).equals(untrusted.hash)
  }

  // 2. upgrade part
  const u = p.upgrade
  const q = queueFrom(u.nodes, untrusted)
  const N = u.start + u.length
  let roots = growRoots(rootsAt(u.start), N, q)
  if (q.nodes.length) throw new Error('unused upgrade nodes')
  let M = N
  if (u.additionalNodes.length) {
    M = rightSpan(u.additionalNodes[u.additionalNodes.length - 1].index) / 2 + 1
    const q2 = queueFrom(u.additionalNodes, null)
    roots = growRoots(roots, M, q2)
    if (q2.nodes.length) throw new Error('unused additional nodes')
  }
  if (!verifyCoreSignature(coreInfo, roots, M, p.fork, u.signature)) return false
  if (q.extra) {
    // the block/hash subtree root was not part of the upgrade: must be known
    const known = knownNodes.get(q.extra.index)
    return !!known && Buffer.from(known.hash).equals(q.extra.hash)
  }
  return true
}

function decodeDataMessage(buf) {
  const r = new Reader(buf)
  const nodes = () => {
    const n = r.uint()
    const out = []
    for (let i = 0; i < n; i++) out.push({ index: r.uint(), size: r.uint(), hash: Buffer.from(r.fixed(32)) })
    return out
  }
  const flags = r.uint()
  const m = { request: r.uint(), fork: r.uint(), block: null, hash: null, seek: null, upgrade: null }
  if (flags & 1) m.block = { index: r.uint(), value: Buffer.from(r.buffer()), nodes: nodes() }
  if (flags & 2) m.hash = { index: r.uint(), nodes: nodes() }
  if (flags & 4) m.seek = { bytes: r.uint(), nodes: nodes() }
  if (flags & 8) {
    m.upgrade = { start: r.uint(), length: r.uint(), nodes: nodes(), additionalNodes: nodes() }
    const sig = r.buffer()
    m.upgrade.signature = sig.length ? Buffer.from(sig) : null
  }
  if (flags & 16) throw new Error('manifest in data not handled here')
  if (!r.done) throw new Error('trailing bytes')
  return m
}

// ------------------------------------------------------------ §7 noise (XX, Ed25519 DH, ChaChaPoly, BLAKE2b)

const L = 2n ** 252n + 27742317777372353535851937790883648493n
function edScalarFromSeed(seed) {
  const h = nodeCrypto.createHash('sha512').update(seed).digest()
  const s = Buffer.from(h.subarray(0, 32))
  s[0] &= 248
  s[31] &= 127
  s[31] |= 64
  return s
}
const leToBig = (b) => BigInt('0x' + Buffer.from(b).reverse().toString('hex'))
function edPublicFromSeed(seed) {
  return Buffer.from(ed25519.Point.BASE.multiply(leToBig(edScalarFromSeed(seed)) % L).toBytes())
}
function dh(seed, remotePublic) {
  const P = ed25519.Point.fromBytes(remotePublic)
  return Buffer.from(P.multiply(leToBig(edScalarFromSeed(seed)) % L).toBytes())
}

const HMAC = (key, ...data) => Buffer.from(hmac(blake2b, key, cat(...data)))
function hkdf2(ck, ikm) {
  const temp = HMAC(ck, ikm)
  const o1 = HMAC(temp, [1])
  const o2 = HMAC(temp, o1, [2])
  return [o1, o2]
}
function aead(encrypt, key, n, ad, data) {
  const nonce = Buffer.alloc(12)
  nonce.writeUInt32LE(n, 4)
  if (encrypt) {
    const c = nodeCrypto.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    c.setAAD(ad, { plaintextLength: data.length })
    return cat(c.update(data), c.final(), c.getAuthTag())
  }
  const d = nodeCrypto.createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
  d.setAAD(ad, { plaintextLength: data.length - 16 })
  d.setAuthTag(data.subarray(data.length - 16))
  return cat(d.update(data.subarray(0, data.length - 16)), d.final())
}

class Symmetric {
  constructor(name) {
    const n = Buffer.from(name)
    this.h = n.length <= 64 ? cat(n, Buffer.alloc(64 - n.length)) : b2b512(n)
    this.ck = Buffer.from(this.h)
    this.k = null
    this.n = 0
  }

  mixHash(d) {
    this.h = b2b512(cat(this.h, d))
  }

  mixKey(ikm) {
    const [ck, k] = hkdf2(this.ck, ikm)
    this.ck = ck
    this.k = k.subarray(0, 32)
    this.n = 0
  }

  encryptAndHash(pt) {
    const ct = this.k ? aead(true, this.k, this.n++, this.h, pt) : Buffer.from(pt)
    this.mixHash(ct)
    return ct
  }

  split() {
    const [a, b] = hkdf2(this.ck, Buffer.alloc(0))
    return [a.subarray(0, 32), b.subarray(0, 32)]
  }
}

function noiseXX(iStaticSeed, rStaticSeed, iEphSeed, rEphSeed) {
  const name = 'Noise_XX_Ed25519_ChaChaPoly_BLAKE2b'
  const I = new Symmetric(name)
  const R = new Symmetric(name)
  I.mixHash(Buffer.alloc(0)) // empty prologue
  R.mixHash(Buffer.alloc(0))
  const ie = edPublicFromSeed(iEphSeed)
  const re = edPublicFromSeed(rEphSeed)
  const is = edPublicFromSeed(iStaticSeed)
  const rs = edPublicFromSeed(rStaticSeed)

  // -> e
  I.mixHash(ie)
  const m1 = cat(ie, I.encryptAndHash(Buffer.alloc(0)))
  R.mixHash(ie)
  R.encryptAndHash(Buffer.alloc(0)) // same transcript update as the receiver's decryptAndHash of an empty payload

  // <- e, ee, s, es
  R.mixHash(re)
  R.mixKey(dh(rEphSeed, ie)) // ee
  const encS = R.encryptAndHash(rs)
  R.mixKey(dh(rStaticSeed, ie)) // es: responder uses its static, initiator's ephemeral
  const m2 = cat(re, encS, R.encryptAndHash(Buffer.alloc(0)))
  // initiator mirrors
  I.mixHash(re)
  I.mixKey(dh(iEphSeed, re))
  I.mixHash(encS) // decryptAndHash(encS) hashes the ciphertext
  I.n++
  I.mixKey(dh(iEphSeed, rs)) // es from the initiator side
  I.mixHash(m2.subarray(32 + 48))
  I.n++

  // -> s, se
  const encIS = I.encryptAndHash(is)
  I.mixKey(dh(iStaticSeed, re)) // se: initiator static, responder ephemeral
  const m3 = cat(encIS, I.encryptAndHash(Buffer.alloc(0)))
  R.mixHash(encIS)
  R.n++
  R.mixKey(dh(rEphSeed, is))
  R.mixHash(m3.subarray(48))

  const [ik1, ik2] = I.split()
  const [rk1, rk2] = R.split()
  return {
    m1, m2, m3,
    hashI: I.h, hashR: R.h,
    initiator: { tx: ik1, rx: ik2 },
    responder: { tx: rk2, rx: rk1 },
    publics: { ie, re, is, rs }
  }
}

// ------------------------------------------------------------ §7 secretstream (libsodium xchacha20poly1305)

const rotl = (v, c) => ((v << c) | (v >>> (32 - c))) >>> 0
function hchacha20(key, in16) {
  const s = new Uint32Array(16)
  s.set([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574])
  for (let i = 0; i < 8; i++) s[4 + i] = key.readUInt32LE(4 * i)
  for (let i = 0; i < 4; i++) s[12 + i] = in16.readUInt32LE(4 * i)
  const qr = (a, b, c, d) => {
    s[a] += s[b]; s[d] = rotl(s[d] ^ s[a], 16)
    s[c] += s[d]; s[b] = rotl(s[b] ^ s[c], 12)
    s[a] += s[b]; s[d] = rotl(s[d] ^ s[a], 8)
    s[c] += s[d]; s[b] = rotl(s[b] ^ s[c], 7)
  }
  for (let r = 0; r < 10; r++) {
    qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
    qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
  }
  const out = Buffer.alloc(32)
  ;[0, 1, 2, 3, 12, 13, 14, 15].forEach((w, i) => out.writeUInt32LE(s[w], 4 * i))
  return out
}

class SecretStreamPush {
  constructor(key, header) {
    this.k = hchacha20(key, header.subarray(0, 16))
    this.counter = 1
    this.inonce = Buffer.from(header.subarray(16, 24))
  }

  nonce() {
    const n = Buffer.alloc(12)
    n.writeUInt32LE(this.counter, 0)
    this.inonce.copy(n, 4)
    return n
  }

  push(m, tag = 0) {
    const nonce = this.nonce()
    const polyKey = chacha20(this.k, nonce, new Uint8Array(64), undefined, 0).subarray(0, 32)
    const block = Buffer.alloc(64)
    block[0] = tag
    const encBlock = Buffer.from(chacha20(this.k, nonce, block, undefined, 1))
    const c = Buffer.from(chacha20(this.k, nonce, m, undefined, 2))
    // libsodium quirk: pad length is (0x10 - 64 + mlen) & 0xf == mlen mod 16, not the usual 16-alignment
    const pad = Buffer.alloc(c.length % 16)
    const mac = Buffer.from(poly1305(cat(encBlock, c, pad, u64le(0), u64le(64 + c.length)), polyKey))
    for (let i = 0; i < 8; i++) this.inonce[i] ^= mac[i]
    this.counter = (this.counter + 1) >>> 0
    if (this.counter === 0) throw new Error('rekey not implemented in this check')
    return cat([encBlock[0]], c, mac)
  }
}

// ------------------------------------------------------------ run checks

// namespaces
{
  const g = 'namespaces'
  eq(g, 'hypercore base', hex(b2b256(Buffer.from('hypercore'))), V.namespaces.hypercore_base)
  const names = ['TREE', 'REPLICATE_INITIATOR', 'REPLICATE_RESPONDER', 'MANIFEST', 'DEFAULT_NAMESPACE', 'DEFAULT_ENCRYPTION']
  namespace('hypercore', 6).forEach((ns, i) => eq(g, names[i], hex(ns), V.namespaces.hypercore[names[i]]))
  ;[SS_INIT, SS_RESP, SS_SEND].forEach((ns, i) => eq(g, 'secret-stream ' + i, hex(ns), V.namespaces.secret_stream[['INITIATOR', 'RESPONDER', 'SEND'][i]]))
}

// micro
{
  const g = 'micro'
  for (const b of V.micro.blake2b) {
    if (b.blake2b_256) eq(g, 'blake2b-256 ' + b.input_hex, hex(b2b256(H(b.input_hex))), b.blake2b_256)
    if (b.blake2b_512) eq(g, 'blake2b-512 ' + b.input_hex, hex(b2b512(H(b.input_hex))), b.blake2b_512)
    if (b.blake2b_256_keyed) eq(g, 'keyed blake2b-256', hex(b2b256(H(b.input_hex), H(b.key_hex))), b.blake2b_256_keyed)
  }
  for (const l of V.micro.leaf_hash) eq(g, 'leaf ' + l.size, hex(leafHash(H(l.data))), l.hash)
  const p = V.micro.parent_hash
  eq(g, 'parent', hex(parentHash({ ...p.left, hash: H(p.left.hash) }, { ...p.right, hash: H(p.right.hash) })), p.parent.hash)
  eq(g, 'parent (args swapped)', hex(parentHash({ ...p.right, hash: H(p.right.hash) }, { ...p.left, hash: H(p.left.hash) })), p.parent.hash)
  eq(g, 'tree', hex(treeHash(V.micro.tree_hash.roots.map((r) => ({ ...r, hash: H(r.hash) })))), V.micro.tree_hash.hash)
  for (const f of V.micro.flat_tree) {
    const i = f.index
    eq(g, 'flat ' + i, JSON.stringify([depth(i), offset(i), parent(i), sibling(i), leftChild(i), rightChild(i), leftSpan(i), rightSpan(i), countLeaves(i)]),
      JSON.stringify([f.depth, f.offset, f.parent, f.sibling, f.left_child, f.right_child, f.left_span, f.right_span, f.count_leaves]))
  }
  for (const r of V.micro.full_roots) eq(g, 'fullRoots ' + r.length, JSON.stringify(fullRoots(r.length)), JSON.stringify(r.full_roots))
  for (const u of V.micro.compact_uint) eq(g, 'uint ' + u.n, hex(cUint(u.n)), u.hex)
  for (const u of V.micro.compact_uint64_fixed) eq(g, 'uint64 ' + u.n, hex(u64le(u.n)), u.hex)
}

// manifests
{
  const g = 'manifests'
  for (const m of V.manifests) {
    const encoded = encodeManifest(m.manifest)
    eq(g, m.description + ' encoding', hex(encoded), m.encoded)
    eq(g, m.description + ' hash', hex(manifestHash(encoded)), m.manifest_hash)
    eq(g, m.description + ' key', hex(manifestHash(encoded)), m.key)
    eq(g, m.description + ' discovery key', hex(discoveryKey(manifestHash(encoded))), m.discovery_key)
  }
}

// cores: keys, tree hashes, roots, signables, signatures, proofs
for (const core of V.cores) {
  const g = 'core ' + core.name
  const encoded = encodeManifest(core.manifest)
  eq(g, 'manifest encoding', hex(encoded), core.manifest_encoded)
  const mh = manifestHash(encoded)
  eq(g, 'manifest hash', hex(mh), core.manifest_hash)
  const pubs = core.manifest.signers.map((s) => H(s.publicKey))
  const key = core.compat ? pubs[0] : mh
  eq(g, 'core key', hex(key), core.key)
  eq(g, 'discovery key', hex(discoveryKey(key)), core.discovery_key)
  if (core.seed) eq(g, 'public key from seed', hex(edPublicFromSeed(H(core.seed))), core.public_key)
  const coreInfo = { compat: core.compat, manifestHash: mh, quorum: core.manifest.quorum, signers: pubs }

  let blocks = []
  const rootsByLength = new Map()
  for (const st of core.states) {
    if (st.appended.op === 'append') blocks = blocks.concat(st.appended.values.map(H))
    else blocks = blocks.slice(0, st.appended.to)
    const nodes = buildTree(blocks)
    const roots = rootsOf(nodes, blocks.length)
    const tag = `${st.appended.op}@${st.length}`
    eq(g, tag + ' length', blocks.length, st.length)
    eq(g, tag + ' byteLength', blocks.reduce((a, b) => a + b.length, 0), st.byteLength)
    eq(g, tag + ' roots', JSON.stringify(roots.map((r) => [r.index, r.size, hex(r.hash)])), JSON.stringify(st.roots.map((r) => [r.index, r.size, r.hash])))
    const th = treeHash(roots)
    eq(g, tag + ' tree hash', hex(th), st.tree_hash)
    const sgb = core.compat ? signableCompat(th, st.length, st.fork) : signable(mh, th, st.length, st.fork)
    eq(g, tag + ' signable', hex(sgb), st.signable)
    ok(g, tag + ' signature verifies', verifyCoreSignature(coreInfo, roots, st.length, st.fork, H(st.signature)))
    if (!core.compat) {
      // negative: the signature must not verify for another fork or length
      ok(g, tag + ' signature rejects other fork', !verifyCoreSignature(coreInfo, roots, st.length, st.fork + 1, H(st.signature)))
    }
  }
  const nodes = buildTree(blocks)
  for (let len = 0; len <= blocks.length; len++) rootsByLength.set(len, rootsOf(nodes, len))
  if (core.tree_nodes) {
    eq(g, 'all tree nodes', JSON.stringify([...nodes.values()].sort((a, b) => a.index - b.index).map((n) => [n.index, n.size, hex(n.hash)])),
      JSON.stringify(core.tree_nodes.map((n) => [n.index, n.size, n.hash])))
  }
  if (core.leaf_hashes) core.leaf_hashes.forEach((h, i) => eq(g, 'leaf ' + i, hex(leafHash(blocks[i])), h))

  for (const pv of core.proofs || []) {
    const tag = 'proof ' + JSON.stringify(pv.request)
    // our own encoding of the JSON proof must equal the JS wire bytes
    const asMsg = { request: pv.wire_data_message.request_id, ...pv.proof, manifest: null }
    eq(g, tag + ' wire encoding', hex(WIRE.data(asMsg)), pv.wire_data_message.hex)
    const msg = decodeDataMessage(H(pv.wire_data_message.hex))
    let verified = false
    try {
      verified = verifyDataProof(msg, { rootsAt: (n) => rootsByLength.get(n), knownNodes: nodes, coreInfo })
    } catch (err) {
      console.log('  proof error:', err.message)
    }
    ok(g, tag + ' verifies', verified)
    if (msg.block) {
      // negative: a flipped block byte must fail
      const bad = { ...msg, block: { ...msg.block, value: Buffer.from(msg.block.value) } }
      if (bad.block.value.length) bad.block.value[0] ^= 1
      else bad.block.value = Buffer.from([0])
      let v = false
      try {
        v = verifyDataProof(bad, { rootsAt: (n) => rootsByLength.get(n), knownNodes: nodes, coreInfo })
      } catch {}
      ok(g, tag + ' rejects tampered block', !v)
    }
  }
}

// wire messages
{
  const g = 'wire messages'
  for (const m of V.wire.hypercore_messages) eq(g, m.type + ' ' + JSON.stringify(m.value).slice(0, 60), hex(WIRE[m.type](m.value)), m.hex)
}

// protomux frames (captured from the real protomux)
{
  const g = 'protomux'
  const dk = H(V.wire.protomux.discovery_key)
  const cap = Buffer.alloc(32, 0xaa)
  const caps = V.wire.protomux.captured
  const sync = { fork: 0, length: 5, remoteLength: 0, canUpgrade: true, uploading: true, downloading: true, hasManifest: true, allowPush: false }
  const open1 = cat([0, 1], cUint(1), cStr('hypercore/alpha'), cBuf(dk), WIRE.handshake({ seeks: true, capability: { hex: hex(cap) } }))
  eq(g, 'open', hex(open1), caps[0].frames[0])
  eq(g, 'message', hex(cat(cUint(1), cUint(0), WIRE.sync(sync))), caps[1].frames[0])
  const req = { id: 1, fork: 0, block: { index: 3, nodes: 2 }, hash: null, seek: null, upgrade: null, manifest: false, priority: 0 }
  eq(g, 'request', hex(cat(cUint(1), cUint(1), WIRE.request(req))), caps[2].frames[0])
  const item = (type, body) => cBuf(cat(cUint(type), body))
  const batch1 = cat([0, 0], cUint(1), item(0, WIRE.sync(sync)), item(8, WIRE.range({ drop: false, start: 0, length: 5 })), item(5, WIRE.want({ start: 0, length: 1024, any: false })))
  eq(g, 'batch one channel', hex(batch1), caps[3].frames[0])
  const open2Body = cat(cUint(1) /* open */, cUint(2), cStr('example/other'), cUint(0) /* no id */)
  const batch2 = cat([0, 0], cUint(0), cBuf(open2Body), [0], cUint(1), item(2, WIRE.cancel({ request: 1 })), [0], cUint(2), item(0, cStr('hi')))
  eq(g, 'batch across channels', hex(batch2), caps[4].frames[0])
  eq(g, 'close', hex(cat([0, 3], cUint(1))), caps[5].frames[0])
  for (const c of caps) eq(g, 'one frame per capture: ' + c.what.slice(0, 30), c.frames.length, 1)
}

// noise + secretstream + capability
{
  const g = 'noise'
  const N = V.wire.noise
  const r = noiseXX(H(N.initiator.static_seed), H(N.responder.static_seed), H(N.initiator.ephemeral_seed), H(N.responder.ephemeral_seed))
  eq(g, 'initiator static pub', hex(r.publics.is), N.initiator.static_public)
  eq(g, 'responder static pub', hex(r.publics.rs), N.responder.static_public)
  eq(g, 'initiator eph pub', hex(r.publics.ie), N.initiator.ephemeral_public)
  eq(g, 'responder eph pub', hex(r.publics.re), N.responder.ephemeral_public)
  eq(g, 'msg1', hex(r.m1), N.messages[0].noise)
  eq(g, 'msg2', hex(r.m2), N.messages[1].noise)
  eq(g, 'msg3', hex(r.m3), N.messages[2].noise)
  eq(g, 'msg1 framed', hex(cat(Buffer.from([r.m1.length, 0, 0]), r.m1)), N.messages[0].framed)
  eq(g, 'handshake hash (initiator)', hex(r.hashI), N.handshake_hash)
  eq(g, 'handshake hash (responder)', hex(r.hashR), N.handshake_hash)
  eq(g, 'initiator tx', hex(r.initiator.tx), N.initiator.tx)
  eq(g, 'initiator rx', hex(r.initiator.rx), N.initiator.rx)
  eq(g, 'responder tx', hex(r.responder.tx), N.responder.tx)
  eq(g, 'responder rx', hex(r.responder.rx), N.responder.rx)
  // decrypt the responder's static key out of msg2 the way the initiator would
  const g2 = 'secretstream'
  const S = V.wire.secretstream
  const hash = H(N.handshake_hash)
  for (const [side, isInit] of [[S.initiator_to_responder, true], [S.responder_to_initiator, false]]) {
    const key = isInit ? r.initiator.tx : r.responder.tx
    eq(g2, side.name + ' key', hex(key), side.key)
    const id = b2b256(isInit ? SS_INIT : SS_RESP, hash)
    eq(g2, side.name + ' stream id', hex(id), side.stream_id)
    const u24 = (n) => Buffer.from([n & 255, (n >> 8) & 255, (n >> 16) & 255])
    eq(g2, side.name + ' header frame', hex(cat(u24(56), id, H(side.header))), side.header_frame)
    const ps = new SecretStreamPush(key, H(side.header))
    for (const m of side.messages) {
      const ct = ps.push(H(m.plaintext))
      eq(g2, side.name + ' ct ' + m.plaintext.slice(0, 16), hex(ct), m.ciphertext)
      eq(g2, side.name + ' framed', hex(cat(u24(ct.length), ct)), m.framed)
    }
  }
  const g3 = 'capability'
  for (const cv of V.wire.capability) {
    eq(g3, 'initiator', hex(b2b256(cat(NS_REPL_INIT, H(cv.core_key)), H(cv.handshake_hash))), cv.initiator_capability)
    eq(g3, 'responder', hex(b2b256(cat(NS_REPL_RESP, H(cv.core_key)), H(cv.handshake_hash))), cv.responder_capability)
  }
}

// live transcript: capabilities, noise hash, and the upgrade proof the writer sent
{
  const g = 'live transcript'
  const T = V.wire.live_transcript
  const [e1, e2] = T.ephemeral_seeds_in_order.map(H)
  const r = noiseXX(H(T.initiator_static_seed), H(T.responder_static_seed), e1, e2)
  eq(g, 'handshake hash', hex(r.hashI), T.handshake_hash)
  const capI = b2b256(cat(NS_REPL_INIT, H(T.core_key)), r.hashI)
  const capR = b2b256(cat(NS_REPL_RESP, H(T.core_key)), r.hashI)
  eq(g, 'discovery key', hex(discoveryKey(H(T.core_key))), T.discovery_key)
  const first = T.frames.find((f) => f.dir === 'initiator->responder')
  const open = cat([0, 1], cUint(1), cStr('hypercore/alpha'), cBuf(discoveryKey(H(T.core_key))), cUint(1), capI)
  eq(g, 'initiator open frame', hex(open), first.hex)
  const firstR = T.frames.find((f) => f.dir === 'responder->initiator')
  eq(g, 'responder open frame', hex(cat([0, 1], cUint(1), cStr('hypercore/alpha'), cBuf(discoveryKey(H(T.core_key))), cUint(1), capR)), firstR.hex)
  // every single-message frame on channel 1 re-encodes to the same bytes with our encoders
  const types = ['sync', 'request', 'cancel', 'data', 'noData', 'want', 'unwant', 'bitfield', 'range', 'extension']
  for (const f of T.frames) {
    const d = f.decoded
    if (d.batch) {
      const body = [cat([0, 0], cUint(d.batch[0].channel))]
      let ch = d.batch[0].channel
      for (const it of d.batch) {
        if (it.channel !== ch) body.push(Buffer.from([0]), cUint((ch = it.channel)))
        body.push(cBuf(cat(cUint(it.type), WIRE[types[it.type]](it.value))))
      }
      eq(g, 'batch frame re-encodes', hex(cat(...body)), f.hex)
    } else if (d.channel !== 0) {
      eq(g, d.name + ' frame re-encodes', hex(cat(cUint(d.channel), cUint(d.type), WIRE[d.name](d.value))), f.hex)
    }
  }
  // the upgrade proof the writer sent verifies against the core key (manifest comes in the same message)
  const dataFrame = T.frames.find((f) => f.decoded.name === 'data' && f.decoded.value.upgrade)
  const u = dataFrame.decoded.value
  const man = unhexManifest(u.manifest)
  const enc = encodeManifest(man)
  eq(g, 'manifest in data hashes to core key', hex(manifestHash(enc)), T.core_key)
  const nodes = u.upgrade.nodes.map((n) => ({ index: n.index, size: n.size, hash: H(n.hash.hex) }))
  const roots = fullRoots(u.upgrade.start + u.upgrade.length).map((i) => nodes.find((n) => n.index === i))
  ok(g, 'upgrade signature verifies', verifyCoreSignature({ compat: false, manifestHash: manifestHash(enc), quorum: man.quorum, signers: man.signers.map((s) => H(s.publicKey)) }, roots, 5, 0, H(u.upgrade.signature.hex)))
}

for (const [name, g] of groups) console.log(`${g.bad ? 'FAIL' : 'ok  '} ${name}: ${g.ok} ok, ${g.bad} failed`)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
