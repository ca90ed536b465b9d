#!/usr/bin/env bash
# scripts/via_big.sh [GB] — issue 21's large media set: GB (default 2.5)
# gigabytes of photos go from A to a sync folder with the default segment
# limit (2 GiB - 1) and from the folder to B. Checks that no file in the
# folder reaches 2 GiB, that the media core spans segments, that B's audit
# is clean and that the last photo arrives byte for byte. Needs about 4×GB
# of free disk under ${VIA_BIG_TMPDIR:-/tmp}.
set -euo pipefail
cd "$(dirname "$0")/.."
GB=${1:-2.5}
work=$(mktemp -d "${VIA_BIG_TMPDIR:-/tmp}/viabig-XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/fieldsync" ./cmd/fieldsync
fs="$work/fieldsync"
ms() { echo $(( $(date +%s%N) / 1000000 )); }
"$fs" --home "$work/A" init big --device-name office >/dev/null
code=$("$fs" --home "$work/A" invite --json | grep -o '"code": *"[^"]*"' | cut -d'"' -f4)
"$fs" --home "$work/B" join "$code" --device-name village >/dev/null
photo=100000000
n=$(python3 -c "import math; print(math.ceil($GB * 1e9 / $photo))")
echo "writing $n photos of $photo bytes on A" >&2
for i in $(seq "$n"); do
  head -c "$photo" /dev/urandom > "$work/p$i.jpg"
  "$fs" --home "$work/A" observe --lat -3 --lon -60 --attach "$work/p$i.jpg" --durability os >/dev/null
  [ "$i" = "$n" ] || rm "$work/p$i.jpg"
done
mkdir "$work/stick"
t0=$(ms); "$fs" --home "$work/A" sync --via "$work/stick"; t1=$(ms)
echo "A -> stick: $((t1 - t0)) ms" >&2
ls -l "$work/stick/sync.fieldsync" >&2
max=$(find "$work/stick" -type f -printf '%s\n' | sort -n | tail -1)
big=$(find "$work/stick" -type f -size +1G | wc -l)
echo "largest file: $max bytes; files over 1 GiB: $big" >&2
[ "$max" -lt 2147483648 ] || { echo "FAIL: a file of $max bytes" >&2; exit 1; }
[ "$big" -ge 1 ] && [ "$(find "$work/stick" -name '*.seg' | wc -l)" -ge 3 ] || { echo "FAIL: the media set did not span segments" >&2; exit 1; }
t0=$(ms); "$fs" --home "$work/B" sync --via "$work/stick"; t1=$(ms)
echo "stick -> B: $((t1 - t0)) ms" >&2
"$fs" --home "$work/B" audit >/dev/null || { echo "FAIL: audit on B" >&2; exit 1; }
want=$(sha256sum < "$work/p$n.jpg" | cut -c1-64)
found=no
for id in $("$fs" --home "$work/B" list --format json | grep -o '"id": *"[^"]*"' | cut -d'"' -f4 | sort -u); do
  if "$fs" --home "$work/B" media get "$id" "p$n.jpg" -o "$work/got.jpg" 2>/dev/null; then
    [ "$(sha256sum < "$work/got.jpg" | cut -c1-64)" = "$want" ] && found=yes
    break
  fi
done
[ "$found" = yes ] || { echo "FAIL: the last photo did not arrive intact" >&2; exit 1; }
echo "OK: $n photos ($GB GB) through the stick; largest file $max bytes" >&2
