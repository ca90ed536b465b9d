// dht.mjs — a JS Mainline DHT node (npm bittorrent-dht) for interop tests.
//
//   node dht.mjs lookup INFOHASH_HEX BOOT1,BOOT2,... WANT_HOST:PORT [TIMEOUT_MS]
//
// Joins the DHT through the bootstrap nodes (listening on 127.0.0.1), looks
// the infohash up every 300 ms and prints one JSON line per peer heard of.
// Exits 0 once WANT is among them, 1 at the timeout.
import DHT from 'bittorrent-dht'

const [, , cmd, infoHash, boot, want, timeoutMs = '20000'] = process.argv
if (cmd !== 'lookup' || !infoHash || !boot || !want) {
  console.error('usage: node dht.mjs lookup INFOHASH_HEX BOOT,... HOST:PORT [TIMEOUT_MS]')
  process.exit(2)
}
const dht = new DHT({ bootstrap: boot.split(',') })
const seen = new Set()
const start = Date.now()
const done = (code) => { dht.destroy(() => process.exit(code)) }
setTimeout(() => { console.error(`dht.mjs: ${want} not found in ${timeoutMs} ms (saw ${[...seen].join(' ') || 'nothing'})`); done(1) }, Number(timeoutMs))
dht.on('peer', (peer, ih) => {
  const addr = `${peer.host}:${peer.port}`
  if (ih.toString('hex') !== infoHash || seen.has(addr)) return
  seen.add(addr)
  console.log(JSON.stringify({ peer: addr, ms: Date.now() - start }))
  if (addr === want) done(0)
})
dht.on('error', (err) => { console.error('dht.mjs:', err.message); done(1) })
dht.listen(0, '127.0.0.1', () => {
  const look = () => dht.lookup(infoHash)
  look()
  setInterval(look, 300)
})
