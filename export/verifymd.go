package export

// verifyMD is VERIFY.md, written into every bundle. Verify checks that a
// bundle's copy is exactly this text.
const verifyMD = `# How to check this evidence bundle

This bundle was exported by fieldsync. Each observation in it was recorded on
a device that signs everything it records. The bundle holds the complete
signed logs of the devices concerned, so it proves three things: that every
observation in it is what its device signed, that each is shown in its current
version, and that nothing the selection matches in those logs was left out.

## The quick way

    fieldsync verify THIS-FILE.zip        (or the folder it was extracted to)

It needs no project and no network. It prints the exporter's key, how many
observations were verified, by which devices, over what time span, and any
missing photos. Exit status: 0 valid, 1 invalid (it names the file and what is
wrong), 2 unreadable (not a bundle, a newer format, a zip bomb).
` + "`--exporter KEY`" + ` also requires the bundle to be signed by that key.

## Which bytes are evidence

The evidence is the content of the files listed below, not the zip around
them. The same files re-zipped (unzip, then zip -r), or extracted to a folder,
verify the same. Around them nothing may hide: bytes before, between or after
the zip's entries (a file that is also HTML or PDF), a zip or entry comment,
links, special files, encrypted entries, files nobody lists, are refused.
By default zip extra fields other than times, owners and zip64 sizes (types
0x0001, 0x000a, 0x5455, 0x7875) and folders other than logs/ and media/ are
refused too; ` + "`--lenient-container`" + ` accepts them and skips __MACOSX/,
.DS_Store, Thumbs.db and desktop.ini, naming what it skipped. A zip holding
one folder with the bundle inside is read as that folder.

## What is in the bundle

- MANIFEST.json: the format (fieldsync-evidence/2); created and project (as
  the exporter states them: no observer signs them); exporter (name, Ed25519
  identity key, and the log of its device); selection (the filter, as data);
  the counts; missing (attachments the exporter did not have); logs (the
  signed head of each log); files (the SHA-256 of every other file except
  MANIFEST.sig).
- MANIFEST.sig: 128 lowercase hex digits and one newline: the exporter's
  Ed25519 signature over the ASCII bytes "fieldsync evidence manifest v2", one
  zero byte, then the exact bytes of MANIFEST.json.
- logs/<core key>.blocks: every block of one device's data log, from block 0 to
  the signed length, one line each: the block in standard base64 (with
  padding), then a newline.
- observations.geojson: the selected observations (RFC 7946), one feature per
  line, in the order of the logs (by core key) and of their blocks.
- media/<sha256><extension>: the attachments, named by the SHA-256 of their
  bytes and the extension of their name (or of their type).
- report.html: a table, a map and thumbnails, for reading.
- VERIFY.md: this text.

## Checking by hand (or with other tools)

Notation: B(x) is BLAKE2b with a 32-byte output (BLAKE2b-256, no key), "‖" is
concatenation, u64(n) is n as 8 bytes little-endian.

1. Files. sha256sum every file; each must equal MANIFEST.json "files", with
   no file missing and none added (MANIFEST.json and MANIFEST.sig excepted).
   Check MANIFEST.sig as above with exporter.identity. If you know the
   exporter's key from elsewhere, compare it.

2. Each log (MANIFEST.json "logs", ordered by core key). Its "manifest" (hex)
   must be the 70 bytes 01 00 00 01 01 00 ‖ NS4 ‖ P, where P is the log's
   signing public key and NS4 = B(B("hypercore") ‖ 04) =
   4144eea531e483d54e0c14f4ca68e0644f355343ff6fcb0f005200e12cd747cb, and
   B(NS3 ‖ manifest) must equal "core", with NS3 = B(B("hypercore") ‖ 03) =
   e64b7108eacce47cfc61ac850568f55f8b15b82ec5ed78c4ec597b036e2a1498. Read the blocks: there must be exactly
   "length" lines. Leaf i is the node 2i with hash B(00 ‖ u64(len(block)) ‖
   block) and size len(block). Split the blocks into the runs given by the
   binary digits of length, largest first (length 13 = 8 + 4 + 1): each run of
   2^k blocks starting at block s is one root, with flat-tree index
   2s + 2^k − 1, size the sum of its blocks' sizes, and the hash of its
   perfect subtree, where a parent of nodes a (left) and b (right) is
   B(01 ‖ u64(a.size + b.size) ‖ a.hash ‖ b.hash). The tree hash is
   B(02 ‖ for each root, left to right: hash ‖ u64(index) ‖ u64(size)); it must
   equal "treeHash". "signature" (hex) is 01 00 ‖ S ‖ 00 00 where S is an
   Ed25519 signature by P over NS0 ‖ core ‖ treeHash ‖ u64(length) ‖ u64(fork),
   NS0 = B(B("hypercore") ‖ 00) =
   9fac70b50ca14efc4e91c833b204e75b8b5aad8b5881bfc0adb5ef38a3275b9c. This is Hypercore 11's signed tree: nobody
   without the device's key can change, add or remove a block.

3. Each device. Block 0 of every log is its device record, JSON:
   {"data","identity","media","name","signature","type":"device"}. "data"
   must be the log's core key; "signature" is Ed25519 by "identity" over
   "fieldsync device record v1", one zero byte, the 32 bytes of "data", the 32
   bytes of "media", then "name" in UTF-8. A later device record in the same
   log with the same data and identity renames the device from that block on.
   The exporter: exporter.log must be one of the logs, whose device record
   has identity = exporter.identity and (latest) name = exporter.name.
   Otherwise whoever signed the bundle is not shown to be a project device.

4. The records. Every other block that is JSON with "type":"observation" and
   "schema":1 and passes fieldsync's record rules is one version of the
   observation "id"; its version id is "<core>@<block index>". Blocks of
   other types are skipped. For each observation, the versions that no other
   version of it lists in "links" are its heads (if none, all are); the
   current version is the head with the latest "updated" time, then the
   greatest version id (compared as text). It is forked if it has more than
   one head. Its first version is the one with the earliest "updated", then the
   smallest version id. A version's author is the name of the latest device
   record of its log at or before its block.

5. Completeness: run the selection. An observation is selected when its
   current version passes every condition of "selection":
   deleted — unless true, a current version with "deleted": true fails;
   since / until — "created" at or after since, strictly before until;
   tags — every tag given is present with an equal value;
   bbox [W, S, E, N] — at least one position of the geometry is inside, edges
   included; W > E means the box crosses the 180° meridian;
   near {lat, lon, radius} — at least one position is within radius metres
   (haversine, Earth radius 6371008.8 m);
   within (a GeoJSON Polygon or MultiPolygon) — every position is inside a
   polygon: inside or on its outer ring and not strictly inside a hole (the
   even-odd ray rule, points on an edge inside).
   With a place condition a record with no geometry fails. The selected
   observations, each in its current version, are exactly the features of
   observations.geojson, in log order then block order, none missing, none
   added. A log that is not in the bundle is not covered: compare the devices
   listed with the project's.

6. Each feature says what its block says: id, geometry, tags as properties,
   and fieldsync:version (the current version id), fieldsync:created,
   fieldsync:updated, fieldsync:author (the current version's author),
   fieldsync:originalAuthor, fieldsync:versions (how many versions the bundle
   holds), fieldsync:device (the log), fieldsync:attachments (names),
   fieldsync:forked and fieldsync:deleted (present only when true).
   fieldsync verify regenerates the whole file and report.html byte for byte.

7. Each attachment of a selected observation's current version is
   media/<its sha256><extension> (the file must hash to it and have its
   size), or is listed in MANIFEST.json "missing" — and then the report says
   so — in the order of the observations. No other file is in media/.

What this proves: each observation was signed by the device whose log holds
it, at the position shown, and has not been changed since; it is shown in its
current version; no observation in the bundled logs that matches the
selection was left out; the photos are the ones the observations name. What it
does not prove: that a device's clock was right, who held the device, or what
a device left out of the bundle entirely (its log would be missing from the
list of devices).
`
