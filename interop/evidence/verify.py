#!/usr/bin/env python3
"""An independent verifier of fieldsync evidence bundles (fieldsync-evidence/2).

Written from VERIFY.md alone, with the Python 3 standard library only (Ed25519
is implemented below from RFC 8032; BLAKE2b-256 and SHA-256 are hashlib's).
It shares no code with fieldsync.

    python3 verify.py BUNDLE.zip|FOLDER

Exit status: 0 valid, 1 invalid (the reason on stderr), 2 unreadable.
"""
import base64
import calendar
import hashlib
import json
import math
import os
import re
import struct
import sys
import zipfile


class Invalid(Exception):
    pass


class Unreadable(Exception):
    pass


# ---------------------------------------------------------------- Ed25519 (RFC 8032)
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _add(a, b):
    A = (a[1] - a[0]) * (b[1] - b[0]) % P
    B = (a[1] + a[0]) * (b[1] + b[0]) % P
    C = 2 * a[3] * b[3] * D % P
    Dd = 2 * a[2] * b[2] % P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return (E * F % P, G * H % P, F * G % P, E * H % P)


def _mul(s, pt):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % P)


def _decompress(b):
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def _same(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def ed25519_verify(pub, msg, sig):
    if len(pub) != 32 or len(sig) != 64:
        return False
    A, R = _decompress(pub), _decompress(sig[:32])
    if A is None or R is None:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        return False
    h = int.from_bytes(hashlib.sha512(sig[:32] + pub + msg).digest(), "little") % L
    return _same(_mul(s, _G), _add(R, _mul(h, A)))


# ---------------------------------------------------------------- hashes
def B(*parts):
    h = hashlib.blake2b(digest_size=32)
    for p in parts:
        h.update(p)
    return h.digest()


NS_TREE = B(B(b"hypercore"), b"\x00")
NS_MANIFEST = B(B(b"hypercore"), b"\x03")
NS_SIGNER = B(B(b"hypercore"), b"\x04")
u64 = lambda n: struct.pack("<Q", n)


# ---------------------------------------------------------------- container
JUNK = re.compile(r"(^__MACOSX/|(^|/)(\.DS_Store|Thumbs\.db|desktop\.ini)$)")


class ZipBundle:
    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.data = data
        if not data.startswith(b"PK\x03\x04"):
            raise Invalid("(container): the file does not start with a zip entry (a polyglot)")
        if len(data) < 22 or data[-22:-18] != b"PK\x05\x06":
            raise Invalid("(container): bytes after the zip's end record (a comment or appended data)")
        try:
            self.z = zipfile.ZipFile(path)
        except zipfile.BadZipFile as e:
            raise Unreadable("not a zip: %s" % e)
        if self.z.comment:
            raise Invalid("(container): the zip has a comment")
        infos = self.z.infolist()
        self.prefix = ""
        tops = {i.filename.split("/")[0] for i in infos if not JUNK.search(i.filename)}
        if len(tops) == 1:
            t = tops.pop()
            if t + "/MANIFEST.json" in {i.filename for i in infos}:
                self.prefix = t + "/"
        # every byte: entries one after the other from 0, then the directory
        pos = 0
        for i in sorted(infos, key=lambda i: i.header_offset):
            if i.header_offset != pos:
                raise Invalid("(container): bytes between the zip's entries at %d (a polyglot)" % pos)
            h = data[pos:pos + 30]
            if h[:4] != b"PK\x03\x04":
                raise Invalid("(container): no local header at %d" % pos)
            flags, n, m = struct.unpack("<H", h[6:8])[0], *struct.unpack("<HH", h[26:30])
            pos += 30 + n + m + i.compress_size
            if flags & 8:
                if data[pos:pos + 4] == b"PK\x07\x08":
                    pos += 4
                pos += 20 if (i.compress_size >= 0xFFFFFFFF or i.file_size >= 0xFFFFFFFF) else 12
        cd_size, cd_off = struct.unpack("<II", data[-10:-2])
        if cd_off != 0xFFFFFFFF and (cd_off != pos or cd_off + cd_size != len(data) - 22):
            raise Invalid("(container): the zip's directory is not right after its entries or not right before its end (a polyglot)")
        self.files = {}
        for i in infos:
            name = i.filename
            if i.comment:
                raise Invalid("(container): entry %s has a comment" % name)
            mode = (i.external_attr >> 16) & 0o170000
            if mode == 0o120000:
                raise Invalid("(container): entry %s is a symbolic link" % name)
            if mode not in (0, 0o100000, 0o040000):
                raise Invalid("(container): entry %s is a special file" % name)
            if i.flag_bits & 1:
                raise Invalid("(container): entry %s is encrypted" % name)
            if name.endswith("/"):
                continue
            if not name.startswith(self.prefix) or JUNK.search(name):
                raise Invalid("(container): %s is not part of the bundle" % name)
            rel = name[len(self.prefix):]
            if rel in self.files:
                raise Invalid("%s: appears twice in the zip" % rel)
            self.files[rel] = i

    def names(self):
        return sorted(self.files)

    def read(self, name):
        if name not in self.files:
            raise Invalid("%s: missing" % name)
        return self.z.read(self.files[name])


class DirBundle:
    def __init__(self, root):
        self.root = root
        self.files = {}
        for dirpath, dirs, files in os.walk(root):
            for n in dirs + files:
                full = os.path.join(dirpath, n)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                if os.path.islink(full):
                    raise Invalid("(container): %s is a symbolic link" % rel)
                if JUNK.search(rel):
                    raise Invalid("(container): %s is not part of the bundle" % rel)
                if n in files:
                    if not os.path.isfile(full):
                        raise Invalid("(container): %s is a special file" % rel)
                    self.files[rel] = full

    def names(self):
        return sorted(self.files)

    def read(self, name):
        if name not in self.files:
            raise Invalid("%s: missing" % name)
        with open(self.files[name], "rb") as f:
            return f.read()


# ---------------------------------------------------------------- JSON and records
def no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Invalid("a JSON object has a key twice")
    return dict(pairs)


def loads(b, what):
    try:
        return json.loads(b.decode("utf-8"), object_pairs_hook=no_dups)
    except Invalid as e:
        raise Invalid("%s: %s" % (what, e))
    except (ValueError, UnicodeDecodeError) as e:
        raise Invalid("%s: not JSON: %s" % (what, e))


TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$")


def parse_time(s):
    m = TIME.match(s) if isinstance(s, str) else None
    if not m:
        return None
    y, mo, d, h, mi, se, frac = m.groups()
    secs = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(se), 0, 0, 0))
    nanos = int((frac or "").ljust(9, "0"))
    return (secs, nanos)


def canonical_time(s):
    m = TIME.match(s) if isinstance(s, str) else None
    return bool(m) and not (m.group(7) or "x").endswith("0")


def scalar_ok(v):
    return isinstance(v, (str, bool)) or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))


def valid_observation(o):
    """Schema 1 as VERIFY.md's records are: skipped otherwise."""
    if not isinstance(o, dict) or o.get("type") != "observation" or o.get("schema") != 1:
        return False
    i = o.get("id")
    if not isinstance(i, str) or not 1 <= len(i) <= 128:
        return False
    if not (canonical_time(o.get("created")) and canonical_time(o.get("updated"))):
        return False
    if parse_time(o["updated"]) < parse_time(o["created"]):
        return False
    if not isinstance(o.get("deleted", False), bool):
        return False
    g = o.get("geometry")
    if not o.get("deleted") and not isinstance(g, dict):
        return False
    tags = o.get("tags") or {}
    if not isinstance(tags, dict):
        return False
    for k, v in tags.items():
        if k.startswith("fieldsync:") or not (scalar_ok(v) or isinstance(v, list) and all(scalar_ok(x) for x in v)):
            return False
    return isinstance(o.get("attachments") or [], list) and isinstance(o.get("links") or [], list)


# ---------------------------------------------------------------- selection
R_EARTH = 6371008.8


def positions(g):
    if not isinstance(g, dict):
        return []
    t, c = g.get("type"), g.get("coordinates")
    if t == "Point":
        return [c]
    if t in ("MultiPoint", "LineString"):
        return c
    if t in ("MultiLineString", "Polygon"):
        return [p for r in c for p in r]
    if t == "MultiPolygon":
        return [p for poly in c for r in poly for p in r]
    return []


def ray(p, s, e):
    """orb's planar rayIntersect: (intersects, on)."""
    px, py = p
    if s[0] > e[0]:
        s, e = e, s
    if px == s[0]:
        if py == s[1]:
            return False, True
        if s[0] == e[0]:
            if s[1] > e[1] and s[1] >= py >= e[1] or e[1] > s[1] and e[1] >= py >= s[1]:
                return False, True
        px = math.nextafter(px, math.inf)
    elif px == e[0]:
        if py == e[1]:
            return False, True
        px = math.nextafter(px, math.inf)
    if px < s[0] or px > e[0]:
        return False, False
    if s[1] > e[1]:
        if py > s[1]:
            return False, False
        if py < e[1]:
            return True, False
    else:
        if py > e[1]:
            return False, False
        if py < s[1]:
            return True, False
    rs = (py - s[1]) / (px - s[0])
    ds = (e[1] - s[1]) / (e[0] - s[0])
    if rs == ds:
        return False, True
    return rs <= ds, False


def ring_contains(r, p):
    xs, ys = [q[0] for q in r], [q[1] for q in r]
    if not (min(xs) <= p[0] <= max(xs) and min(ys) <= p[1] <= max(ys)):
        return False
    c, on = ray(p, r[0], r[-1])
    if on:
        return True
    for i in range(len(r) - 1):
        inter, on = ray(p, r[i], r[i + 1])
        if on:
            return True
        if inter:
            c = not c
    return c


def on_ring(r, p):
    for a, b in zip(r, r[1:]):
        if p[0] < min(a[0], b[0]) or p[0] > max(a[0], b[0]) or p[1] < min(a[1], b[1]) or p[1] > max(a[1], b[1]):
            continue
        if (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) == 0:
            return True
    return False


def area_contains(area, p):
    pts = positions(area)
    if not (min(q[0] for q in pts) <= p[0] <= max(q[0] for q in pts) and min(q[1] for q in pts) <= p[1] <= max(q[1] for q in pts)):
        return False
    polys = [area["coordinates"]] if area["type"] == "Polygon" else area["coordinates"]
    for poly in polys:
        if poly and ring_contains(poly[0], p) and not any(ring_contains(h, p) and not on_ring(h, p) for h in poly[1:]):
            return True
    return False


def tag_key(v):
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, (int, float)):
        return ("n", float(v))
    if isinstance(v, list):
        return ("l", tuple(tag_key(x) for x in v))
    return ("s", v)


def matches(sel, o):
    if o.get("deleted") and not sel.get("deleted"):
        return False
    c = parse_time(o["created"])
    if "since" in sel and c < parse_time(sel["since"]):
        return False
    if "until" in sel and not c < parse_time(sel["until"]):
        return False
    tags = o.get("tags") or {}
    for k, v in (sel.get("tags") or {}).items():
        if k not in tags or tag_key(tags[k]) != tag_key(v):
            return False
    if not any(k in sel for k in ("bbox", "near", "within")):
        return True
    g = o.get("geometry")
    pts = positions(g) if g else []
    if not pts:
        return False
    if "bbox" in sel:
        w, s, e, n = sel["bbox"]
        def inb(p):
            if p[1] < s or p[1] > n:
                return False
            return (p[0] >= w or p[0] <= e) if w > e else (w <= p[0] <= e)
        if not any(inb(p) for p in pts):
            return False
    if "near" in sel:
        nr = sel["near"]
        def dist(p):
            lat1, lat2 = math.radians(nr["lat"]), math.radians(p[1])
            dlat, dlon = lat2 - lat1, math.radians(p[0] - nr["lon"])
            h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
            return 2 * R_EARTH * math.asin(min(1, math.sqrt(h)))
        if not any(dist(p) <= nr["radius"] for p in pts):
            return False
    if "within" in sel and not all(area_contains(sel["within"], p) for p in pts):
        return False
    return True


# ---------------------------------------------------------------- the checks
EXTS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/heic": ".heic",
        "image/tiff": ".tif", "video/mp4": ".mp4", "video/quicktime": ".mov", "audio/mpeg": ".mp3", "audio/mp4": ".m4a",
        "audio/ogg": ".ogg", "audio/wav": ".wav", "application/pdf": ".pdf", "text/plain": ".txt"}


def media_name(a):
    name = a["name"]
    ext = os.path.splitext(name)[1].lower() if "." in name else ""
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", ext):
        ext = EXTS.get(a.get("type"), "")
    return "media/" + a["sha256"] + ext


def check_log(bundle, head):
    core = head["core"]
    man = bytes.fromhex(head["manifest"])
    if len(man) != 70 or man[:6] != b"\x01\x00\x00\x01\x01\x00" or man[6:38] != NS_SIGNER:
        raise Invalid("MANIFEST.json: log %s: not a single-signer Hypercore 11 manifest" % core)
    signer = man[38:70]
    if B(NS_MANIFEST, man).hex() != core:
        raise Invalid("MANIFEST.json: log %s: its manifest does not hash to its key" % core)
    name = "logs/%s.blocks" % core
    data = bundle.read(name)
    if data and not data.endswith(b"\n"):
        raise Invalid("%s: the last line has no newline" % name)
    blocks = []
    for i, line in enumerate(data.split(b"\n")[:-1] if data else []):
        try:
            b = base64.b64decode(line, validate=True)
        except ValueError:
            raise Invalid("%s: line %d is not base64" % (name, i + 1))
        if base64.b64encode(b) != line:
            raise Invalid("%s: line %d is not one block in base64" % (name, i + 1))
        blocks.append(b)
    if len(blocks) != head["length"]:
        raise Invalid("%s: holds %d blocks, the signed head is at length %d" % (name, len(blocks), head["length"]))
    # the roots: runs of 2^k blocks, largest first
    roots, start, n = [], 0, len(blocks)
    for k in range(63, -1, -1):
        if n & (1 << k):
            level = [(B(b"\x00", u64(len(b)), b), len(b)) for b in blocks[start:start + (1 << k)]]
            while len(level) > 1:
                level = [(B(b"\x01", u64(a[1] + c[1]), a[0], c[0]), a[1] + c[1]) for a, c in zip(level[::2], level[1::2])]
            roots.append((level[0][0], 2 * start + (1 << k) - 1, level[0][1]))
            start += 1 << k
    tree = B(b"\x02", *[h + u64(i) + u64(s) for h, i, s in roots])
    if tree.hex() != head["treeHash"]:
        raise Invalid("%s: its blocks do not give the signed tree hash" % name)
    sig = bytes.fromhex(head["signature"])
    if len(sig) != 68 or sig[:2] != b"\x01\x00" or sig[66:] != b"\x00\x00":
        raise Invalid("%s: the head signature is not one signer's" % name)
    if not ed25519_verify(signer, NS_TREE + bytes.fromhex(core) + tree + u64(head["length"]) + u64(head["fork"]), sig[2:66]):
        raise Invalid("%s: the head signature does not verify" % name)
    return blocks


def check_device(core, b):
    d = loads(b, "logs/%s.blocks block 0" % core)
    if not isinstance(d, dict) or d.get("type") != "device" or d.get("data") != core:
        raise Invalid("logs/%s.blocks: block 0 is not this log's device record" % core)
    msg = b"fieldsync device record v1\x00" + bytes.fromhex(d["data"]) + bytes.fromhex(d["media"]) + d["name"].encode()
    if not ed25519_verify(bytes.fromhex(d["identity"]), msg, bytes.fromhex(d["signature"])):
        raise Invalid("logs/%s.blocks: the device record's signature does not verify" % core)
    return d


def verify(path):
    bundle = DirBundle(path) if os.path.isdir(path) else ZipBundle(path)
    if "MANIFEST.json" not in bundle.files:
        raise Unreadable("no MANIFEST.json")
    man_bytes = bundle.read("MANIFEST.json")
    m = loads(man_bytes, "MANIFEST.json")
    if m.get("format") != "fieldsync-evidence/2":
        raise Unreadable("format %r is not fieldsync-evidence/2" % m.get("format"))
    # 1. files and the exporter's signature
    sig = bundle.read("MANIFEST.sig")
    if not re.fullmatch(rb"[0-9a-f]{128}\n", sig):
        raise Invalid("MANIFEST.sig: not 128 lowercase hex digits and a newline")
    ex = m["exporter"]
    if not ed25519_verify(bytes.fromhex(ex["identity"]), b"fieldsync evidence manifest v2\x00" + man_bytes, bytes.fromhex(sig[:128].decode())):
        raise Invalid("MANIFEST.sig: the signature does not verify with exporter.identity")
    listed = m["files"]
    for name in bundle.names():
        if name not in ("MANIFEST.json", "MANIFEST.sig") and name not in listed:
            raise Invalid("%s: not listed in MANIFEST.json" % name)
    for name in listed:
        if name not in ("observations.geojson", "report.html", "VERIFY.md") and not re.fullmatch(r"logs/[0-9a-f]{64}\.blocks|media/[0-9a-f]{64}(\.[a-z0-9]{1,8})?", name):
            raise Invalid("MANIFEST.json: lists %s, which is no file a bundle has" % name)
    for name in ("observations.geojson", "report.html", "VERIFY.md"):
        if name not in listed:
            raise Invalid("%s: missing" % name)
    for name, want in listed.items():
        if hashlib.sha256(bundle.read(name)).hexdigest() != want:
            raise Invalid("%s: SHA-256 differs from MANIFEST.json" % name)
    # 2-4. logs, devices, records
    heads = m["logs"]
    cores = [h["core"] for h in heads]
    if cores != sorted(set(cores)):
        raise Invalid("MANIFEST.json: logs not once each in key order")
    for name in listed:
        if name.startswith("logs/") and name[5:-7] not in cores:
            raise Invalid("%s: a log with no signed head" % name)
    sel = m["selection"]
    logs, versions = [], {}  # versions: id -> list of (log, index, record, matches)
    for li, head in enumerate(heads):
        blocks = check_log(bundle, head)
        dev = check_device(head["core"], blocks[0])
        names = [(0, dev["name"])]
        for idx, b in enumerate(blocks[1:], 1):
            try:
                r = json.loads(b)
            except ValueError:
                continue
            if not isinstance(r, dict):
                continue
            if r.get("type") == "device":
                if r.get("data") == head["core"] and r.get("identity") == dev["identity"]:
                    try:
                        check_device(head["core"], b)
                        names.append((idx, r["name"]))
                    except Invalid:
                        pass
            elif valid_observation(r):
                versions.setdefault(r["id"], []).append((li, idx, r, matches(sel, r)))
        logs.append({"core": head["core"], "device": dev, "names": names})
    # the exporter is one of the devices
    ids = {l["core"]: l for l in logs}
    lg = ids.get(ex["log"])
    if lg is None or lg["device"]["identity"] != ex["identity"] or lg["names"][-1][1] != ex["name"]:
        raise Invalid("MANIFEST.json: the exporter is not the device of one of the bundle's logs")

    def vid(v):
        return "%s@%d" % (logs[v[0]]["core"], v[1])

    def author(v):
        return [n for i, n in logs[v[0]]["names"] if i <= v[1]][-1]

    # 4-5. current versions and the selection
    selected = []
    for oid, vs in versions.items():
        superseded = {l for v in vs for l in (v[2].get("links") or []) if l != vid(v)}
        heads_ = [v for v in vs if vid(v) not in superseded] or vs
        cur = max(heads_, key=lambda v: (parse_time(v[2]["updated"]), vid(v)))
        if cur[3]:
            first = min(vs, key=lambda v: (parse_time(v[2]["updated"]), vid(v)))
            selected.append((cur[0], cur[1], cur, len(heads_) > 1, author(first), len(vs)))
    selected.sort(key=lambda s: (s[0], s[1]))
    # 6. the features
    fc = loads(bundle.read("observations.geojson"), "observations.geojson")
    if set(fc) != {"type", "features"} or fc["type"] != "FeatureCollection":
        raise Invalid("observations.geojson: not exactly a FeatureCollection")
    feats = fc["features"]
    if len(feats) != len(selected):
        raise Invalid("observations.geojson: %d features, the selection over the signed logs gives %d" % (len(feats), len(selected)))
    media_files = {}
    missing = []
    for f, (li, idx, cur, forked, orig, nver) in zip(feats, selected):
        o = cur[2]
        p = f.get("properties") or {}
        want = {"fieldsync:id": o["id"], "fieldsync:version": vid(cur), "fieldsync:created": o["created"], "fieldsync:updated": o["updated"],
                "fieldsync:author": author(cur), "fieldsync:device": logs[li]["core"], "fieldsync:originalAuthor": orig, "fieldsync:versions": nver,
                "fieldsync:attachments": [a["name"] for a in o.get("attachments") or []]}
        if forked:
            want["fieldsync:forked"] = True
        if o.get("deleted"):
            want["fieldsync:deleted"] = True
        for k, v in (o.get("tags") or {}).items():
            want[k] = v
        if f.get("id") != o["id"] or f.get("type") != "Feature" or set(f) != {"type", "id", "geometry", "properties"}:
            raise Invalid("observations.geojson: where observation %s should be, there is %r" % (o["id"], f.get("id")))
        if f.get("geometry") != o.get("geometry") or {k: tag_key(v) for k, v in p.items()} != {k: tag_key(v) for k, v in want.items()}:
            raise Invalid("observations.geojson: observation %s does not say what its signed block %s says" % (o["id"], vid(cur)))
        # 7. attachments
        for a in o.get("attachments") or []:
            name = media_files.setdefault(a["sha256"], media_name(a))
            if name in bundle.files:
                data = bundle.read(name)
                if hashlib.sha256(data).hexdigest() != a["sha256"] or len(data) != a["size"]:
                    raise Invalid("%s: not the attachment %s of %s" % (name, a["name"], o["id"]))
            else:
                missing.append({"observation": o["id"], "name": a["name"], "sha256": a["sha256"], "size": a["size"], "type": a["type"]})
    if (m.get("missing") or []) != missing:
        raise Invalid("MANIFEST.json: its missing attachments are not the ones absent from the bundle")
    present = {n for n in media_files.values() if n in bundle.files}
    for name in listed:
        if name.startswith("media/") and name not in present:
            raise Invalid("%s: no selected observation names it" % name)
    if m["observations"] != len(selected):
        raise Invalid("MANIFEST.json: says %d observations, the selection gives %d" % (m["observations"], len(selected)))
    return {"observations": len(selected), "exporter": ex, "logs": len(logs), "missing": missing}


def main():
    if len(sys.argv) != 2:
        print("usage: verify.py BUNDLE.zip|FOLDER", file=sys.stderr)
        return 2
    try:
        res = verify(sys.argv[1])
    except Unreadable as e:
        print("unreadable: %s" % e, file=sys.stderr)
        return 2
    except Invalid as e:
        print("INVALID: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("unreadable: %s" % e, file=sys.stderr)
        return 2
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, zipfile.BadZipFile) as e:
        print("INVALID: malformed bundle: %r" % e, file=sys.stderr)
        return 1
    print("valid: %d observation(s) from %d signed log(s), exported by %s (identity %s), %d missing attachment(s)"
          % (res["observations"], res["logs"], res["exporter"]["name"], res["exporter"]["identity"], len(res["missing"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
