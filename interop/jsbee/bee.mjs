// bee.mjs: JS Hyperbee / Hyperblobs / Hyperdrive (the versions CoMapeo core
// 7.1 pins: hyperbee 2.27.3, hyperblobs 2.3.0, hyperdrive 11.5.3 on
// hypercore 10.19.0 and corestore 6.8.4) for fieldsync's interop tests.
//
// Blocks travel between Go and JS as "block files": for each block of a
// core, u32le length then the bytes.
//
//   node bee.mjs write --ops OPS.json --out BLOCKS.bin
//       applies OPS ([["put",keyHex,valueHex] | ["del",keyHex]], one bee.put
//       or bee.del each) to a new Hyperbee and writes its blocks.
//   node bee.mjs read --blocks BLOCKS.bin --ops OPS.json
//       loads the blocks into a new core, opens it with Hyperbee and checks
//       get, range streams and history against OPS.
//   node bee.mjs drive-write --files FILES.json --db DB.bin --blobs BLOBS.bin
//       FILES = [{path, size, mimeType}]; puts each file (content: see
//       fileContent) into a new Hyperdrive and writes both cores' blocks.
//   node bee.mjs drive-read --files FILES.json --db DB.bin --blobs BLOBS.bin --db-seed HEX --blobs-seed HEX
//       makes the two cores from those seeds' key pairs holding the blocks,
//       opens Hyperdrive(store, dbKey) and checks every file and entry.
//   node bee.mjs bench-get --n N
//       times N gets on a bee of N keys (key i = "key-" + i, zero padded).
// Prints one JSON line; exit 1 on a mismatch.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import crypto from 'node:crypto'
import Hypercore from 'hypercore'
import Hyperbee from 'hyperbee'
import Hyperdrive from 'hyperdrive'
import Corestore from 'corestore'
import hcrypto from 'hypercore-crypto'
import b4a from 'b4a'

const args = process.argv.slice(2)
const cmd = args[0]
function opt (name) {
  const i = args.indexOf('--' + name)
  if (i < 0 || i + 1 >= args.length) throw new Error('missing --' + name)
  return args[i + 1]
}
function fail (msg) {
  console.error('bee.mjs: ' + msg)
  process.exit(1)
}

function writeBlocks (file, blocks) {
  const parts = []
  for (const b of blocks) {
    const len = Buffer.alloc(4)
    len.writeUInt32LE(b.length)
    parts.push(len, b)
  }
  fs.writeFileSync(file, Buffer.concat(parts))
}
function readBlocks (file) {
  const buf = fs.readFileSync(file)
  const out = []
  for (let off = 0; off < buf.length;) {
    const n = buf.readUInt32LE(off)
    out.push(buf.subarray(off + 4, off + 4 + n))
    off += 4 + n
  }
  return out
}
async function dump (core) {
  const out = []
  for (let i = 0; i < core.length; i++) out.push(await core.get(i))
  return out
}
async function load (core, blocks) {
  for (let i = 0; i < blocks.length; i += 1024) await core.append(blocks.slice(i, i + 1024))
}
function tmp () { return fs.mkdtempSync(path.join(os.tmpdir(), 'fieldsync-jsbee-')) }

// fileContent: byte j of file p is byte j%32 of sha256(p + ":" + floor(j/32)).
export function fileContent (p, size) {
  const out = Buffer.alloc(size)
  for (let j = 0; j < size; j += 32) {
    const h = crypto.createHash('sha256').update(p + ':' + (j / 32)).digest()
    h.copy(out, j, 0, Math.min(32, size - j))
  }
  return out
}

function model (ops) {
  const m = new Map()
  const history = []
  for (const [op, k, v] of ops) {
    if (op === 'put') { m.set(k, v); history.push(['put', k, v]) } else if (m.has(k)) { m.delete(k); history.push(['del', k]) }
  }
  return { m, history }
}

async function main () {
  const dir = tmp()
  try {
    if (cmd === 'write') {
      const ops = JSON.parse(fs.readFileSync(opt('ops')))
      const core = new Hypercore(dir)
      const bee = new Hyperbee(core)
      await bee.ready()
      for (const [op, k, v] of ops) {
        if (op === 'put') await bee.put(b4a.from(k, 'hex'), b4a.from(v, 'hex'))
        else await bee.del(b4a.from(k, 'hex'))
      }
      writeBlocks(opt('out'), await dump(core))
      console.log(JSON.stringify({ ok: true, length: core.length }))
      await bee.close()
    } else if (cmd === 'read') {
      const ops = JSON.parse(fs.readFileSync(opt('ops')))
      const core = new Hypercore(dir)
      await core.ready()
      await load(core, readBlocks(opt('blocks')))
      const bee = new Hyperbee(core)
      await bee.ready()
      const { m, history } = model(ops)
      for (const [k, v] of m) {
        const node = await bee.get(b4a.from(k, 'hex'))
        if (!node || b4a.toString(node.value, 'hex') !== v) fail('get ' + k + ': ' + (node && b4a.toString(node.value, 'hex')) + ' want ' + v)
      }
      const sorted = [...m.keys()].sort((a, b) => b4a.compare(b4a.from(a, 'hex'), b4a.from(b, 'hex')))
      let i = 0
      for await (const node of bee.createReadStream()) {
        const k = b4a.toString(node.key, 'hex')
        if (k !== sorted[i] || b4a.toString(node.value, 'hex') !== m.get(k)) fail('range entry ' + i + ': ' + k + ' want ' + sorted[i])
        i++
      }
      if (i !== sorted.length) fail('range has ' + i + ' entries, want ' + sorted.length)
      i = sorted.length
      for await (const node of bee.createReadStream({ reverse: true })) {
        if (b4a.toString(node.key, 'hex') !== sorted[--i]) fail('reverse entry ' + i)
      }
      i = 0
      for await (const h of bee.createHistoryStream()) {
        const w = history[i]
        if (!w || h.type !== w[0] || h.seq !== i + 1 || b4a.toString(h.key, 'hex') !== w[1] || (w[0] === 'put' && b4a.toString(h.value, 'hex') !== w[2])) {
          fail('history ' + i + ': ' + JSON.stringify([h.type, h.seq, b4a.toString(h.key, 'hex')]) + ' want ' + JSON.stringify(w))
        }
        i++
      }
      if (i !== history.length) fail('history has ' + i + ' writes, want ' + history.length)
      const header = await bee.getHeader()
      console.log(JSON.stringify({ ok: true, entries: sorted.length, history: i, protocol: header.protocol }))
      await bee.close()
    } else if (cmd === 'drive-write') {
      const files = JSON.parse(fs.readFileSync(opt('files')))
      const store = new Corestore(dir)
      const drive = new Hyperdrive(store)
      await drive.ready()
      for (const f of files) await drive.put(f.path, fileContent(f.path, f.size), { metadata: { mimeType: f.mimeType } })
      writeBlocks(opt('db'), await dump(drive.db.core))
      writeBlocks(opt('blobs'), await dump(drive.blobs.core))
      console.log(JSON.stringify({ ok: true, dbLength: drive.db.core.length, blobsLength: drive.blobs.core.length, blobsByteLength: drive.blobs.core.byteLength, blobsKey: b4a.toString(drive.blobs.core.key, 'hex') }))
      await drive.close()
    } else if (cmd === 'drive-read') {
      const files = JSON.parse(fs.readFileSync(opt('files')))
      const store = new Corestore(dir)
      const dbKP = hcrypto.keyPair(b4a.from(opt('db-seed'), 'hex'))
      const blobsKP = hcrypto.keyPair(b4a.from(opt('blobs-seed'), 'hex'))
      const dbCore = store.get({ keyPair: dbKP })
      const blobsCore = store.get({ keyPair: blobsKP })
      await dbCore.ready()
      await blobsCore.ready()
      await load(dbCore, readBlocks(opt('db')))
      await load(blobsCore, readBlocks(opt('blobs')))
      const drive = new Hyperdrive(store, dbKP.publicKey)
      await drive.ready()
      let bytes = 0
      for (const f of files) {
        const got = await drive.get(f.path)
        const want = fileContent(f.path, f.size)
        if (!got && f.size > 0) fail('file ' + f.path + ' missing')
        if (got && !b4a.equals(got, want)) fail('file ' + f.path + ' differs (' + got.length + ' bytes, want ' + f.size + ')')
        const e = await drive.entry(f.path)
        if (!e || !e.value.metadata || e.value.metadata.mimeType !== f.mimeType) fail('entry ' + f.path + ' metadata ' + JSON.stringify(e && e.value))
        bytes += f.size
      }
      const listed = []
      for await (const e of drive.list('/', { recursive: true })) listed.push(e.key)
      const want = files.map(f => f.path).sort()
      if (JSON.stringify(listed) !== JSON.stringify(want)) fail('list: ' + listed.length + ' entries, want ' + want.length)
      console.log(JSON.stringify({ ok: true, files: files.length, bytes }))
      await drive.close()
    } else if (cmd === 'bench-get') {
      const n = Number(opt('n'))
      const core = new Hypercore(dir)
      const bee = new Hyperbee(core)
      await bee.ready()
      const keys = []
      for (let i = 0; i < n; i++) keys.push(b4a.from('key-' + String(i).padStart(8, '0')))
      const batch = bee.batch()
      for (const k of keys) await batch.put(k, b4a.from('value'))
      await batch.flush()
      // shuffle deterministically
      let x = 1
      for (let i = keys.length - 1; i > 0; i--) { x = (x * 1103515245 + 12345) % 2147483648; const j = x % (i + 1); [keys[i], keys[j]] = [keys[j], keys[i]] }
      const start = process.hrtime.bigint()
      for (const k of keys) { if (!(await bee.get(k))) fail('bench get missing') }
      const ns = Number(process.hrtime.bigint() - start)
      console.log(JSON.stringify({ ok: true, n, nsPerGet: ns / n }))
      await bee.close()
    } else {
      console.error('usage: node bee.mjs write|read|drive-write|drive-read|bench-get ...')
      process.exit(2)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch(err => { console.error(err); process.exit(1) })
