package export

// verifyMD is VERIFY.md, written into every bundle.
const verifyMD = "# How to check this evidence bundle\n\n" +
	"This bundle was exported by fieldsync. Each observation in it was recorded on a device that signs everything it records; " +
	"nobody, including whoever exported the bundle, can change an observation without the checks below failing.\n\n" +
	"## The quick way\n\n" +
	"    fieldsync verify THIS-FILE.zip\n\n" +
	"It needs no project and no network. It prints how many observations were verified, by which devices, over what time span, " +
	"and exits 1 naming the file and the reason at the first problem.\n\n" +
	"## What is in the bundle\n\n" +
	"- `MANIFEST.json`: the format (`fieldsync-evidence/1`), when and by which device (`exporter.identity`, an Ed25519 public key) the bundle was made, " +
	"what was selected, and the SHA-256 of every other file except `MANIFEST.sig`.\n" +
	"- `MANIFEST.sig`: the exporter's Ed25519 signature (hex) over the ASCII bytes `fieldsync evidence manifest v1`, one zero byte, then the exact bytes of `MANIFEST.json`.\n" +
	"- `observations.geojson`: the observations (RFC 7946; longitude, latitude). Tags are properties; fieldsync's own fields are named `fieldsync:*`.\n" +
	"- `proofs/<observation id>.json`: the signed block of the observation as recorded (`block`, base64: canonical JSON), " +
	"its position (`core`, `index`), and `proof`: a Hypercore 11 `data` message that proves the block is part of its device's signed log.\n" +
	"- `devices/<core key>.json`: each author's device record (block 0 of its log), signed by the device's identity key, with its proof.\n" +
	"- `media/<sha256>`: the attachments (photos, audio), named by the SHA-256 of their bytes.\n" +
	"- `report.html`: a table, a map and thumbnails, for reading. It is not evidence itself.\n\n" +
	"## Checking by hand (or with other tools)\n\n" +
	"1. **Integrity of the files.** Compute the SHA-256 of every file and compare with `MANIFEST.json` `files`. " +
	"No file may be missing or added. Check `MANIFEST.sig` with the Ed25519 public key `exporter.identity` (e.g. with libsodium or OpenSSL), " +
	"over the bytes described above. If you know the exporter's key from elsewhere, compare it.\n" +
	"2. **Each proof.** In `proofs/X.json`, decode `proof` (base64). It is the body of a Hypercore 11 `data` message (request id 0): " +
	"the block (index, bytes, tree nodes), an upgrade (from 0 to `length`, with the tree's root nodes and the head's signature) and the core's manifest. " +
	"The encodings are Hypercore's compact-encoding; the steps are:\n" +
	"   - The manifest's hash is the core key: BLAKE2b-256(MANIFEST namespace ‖ manifest bytes) must equal `core`. " +
	"The MANIFEST namespace is BLAKE2b-256(BLAKE2b-256(\"hypercore\") ‖ 0x03) = `e64b7108eacce47cfc61ac850568f55f8b15b82ec5ed78c4ec597b036e2a1498`.\n" +
	"   - Leaf hash of the block: BLAKE2b-256(0x00 ‖ uint64le(len(block)) ‖ block). A parent of nodes a, b (a the smaller index): " +
	"BLAKE2b-256(0x01 ‖ uint64le(a.size + b.size) ‖ a.hash ‖ b.hash). Nodes are numbered in flat-tree order (block i is node 2i).\n" +
	"   - Climb from the leaf with the sibling nodes given until you reach one of the roots; the roots of the tree of `length` blocks give the " +
	"tree hash: BLAKE2b-256(0x02 ‖ for each root, left to right: hash ‖ uint64le(index) ‖ uint64le(size)). It must equal `treeHash`.\n" +
	"   - The head signature (in the manifest's multi-signature encoding; one Ed25519 signature for fieldsync's cores) must verify with the manifest's " +
	"signer public key over: TREE namespace (`9fac70b50ca14efc4e91c833b204e75b8b5aad8b5881bfc0adb5ef38a3275b9c`) ‖ manifest hash ‖ tree hash ‖ uint64le(length) ‖ uint64le(fork).\n" +
	"   - The complete byte-level description is the Hypercore 11 specification (holepunchto/hypercore, `lib/merkle-tree.js`, `lib/verifier.js`).\n" +
	"3. **Each observation.** Decode `block` (base64): it is the observation as signed (JSON). The feature with the same id in " +
	"`observations.geojson` must say exactly what the block says: geometry, tags, times, attachments; `fieldsync:version` is `core@index`.\n" +
	"4. **Each author.** `devices/<core>.json` holds block 0 of that core, verified the same way: a device record naming the core, " +
	"the device's name and identity key, and the identity's Ed25519 signature over the record.\n" +
	"5. **Each attachment.** The observation lists every attachment with its SHA-256; `media/<sha256>` must hash to it.\n\n" +
	"What this proves: each observation was signed by the device whose log holds it, at the position shown, and has not been changed since; " +
	"the photos are the ones the observation names. What it does not prove: that the device's clock was right, or who held the device.\n"
