#!/usr/bin/env bash
# bench/sync.sh — issue 7's sync benchmark: two devices over loopback TCP,
# time from starting `fieldsync sync` on the receiver until it exits, by
# when everything is stored, verified and indexed (queryable). Cases:
#   obs10k     10,000 observations
#   photos20   20 photos × 300 KB
#   photos100  100 photos × 300 KB (the same, with less fixed cost per byte)
#   mixed      10,000 observations + 100 photos × 300 KB
# and, as the same-run baseline for photos, the raw replication of the
# sender's media core with `fieldsync core serve` / `core download`.
#
#   bench/sync.sh [--runs 3] [--out FILE]
#
# CoMapeo's figures come from its own harness (shared/bench-comapeo:
# `node bench.mjs sync 10000`, `node bench.mjs blobs 20`), run in the same
# session; the table prints ours.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=3 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-bench/results/sync-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
work=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/syncbench-XXXXXX")
trap 'pkill -f "$work/fieldsync" 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/fieldsync" ./cmd/fieldsync
fs="$work/fieldsync"
quiet() {
  for _ in $(seq 120); do awk '{exit !($1 < 1.0)}' /proc/loadavg && return; sleep 1; done
  echo "warning: machine busy ($(cut -d' ' -f1 /proc/loadavg))" >&2
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }
field() { grep -o "\"$1\":[0-9.]*" | head -1 | cut -d: -f2; }

# setup NAME NOBS NPHOTOS: a sender A with the data, a receiver B joined.
setup() {
  local d="$work/$1"; rm -rf "$d"; mkdir -p "$d"
  "$fs" --home "$d/A" init bench --device-name sender >/dev/null
  local code; code=$("$fs" --home "$d/A" invite --json | grep -o '"code": *"[^"]*"' | cut -d'"' -f4)
  "$fs" --home "$d/B" join "$code" --device-name receiver >/dev/null
  if [ "$2" -gt 0 ]; then
    awk -v n="$2" 'BEGIN{srand(7); for(i=0;i<n;i++) printf "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.5f,%.5f]},\"properties\":{\"category\":\"mining\",\"notes\":\"a note\",\"people\":%d,\"confirmed\":true}}\n", rand()*360-180, rand()*170-85, i%9}' > "$d/in.geojsonl"
    "$fs" --home "$d/A" import "$d/in.geojsonl" >/dev/null
  fi
  for i in $(seq "$3"); do
    head -c 300000 /dev/urandom > "$d/p.jpg"
    "$fs" --home "$d/A" observe --lat -3 --lon -60 --attach "$d/p.jpg" >/dev/null
  done
}

run_case() { # NAME NOBS NPHOTOS
  setup "$1" "$2" "$3"
  local d="$work/$1"
  "$fs" --home "$d/A" serve --listen 127.0.0.1:0 --no-mdns > "$d/serve.out" 2>/dev/null &
  local spid=$!
  for _ in $(seq 50); do [ -s "$d/serve.out" ] && break; sleep 0.1; done
  local port; port=$(field port < "$d/serve.out")
  quiet
  local t0 t1; t0=$(ms)
  "$fs" --home "$d/B" sync --no-mdns --peer "127.0.0.1:$port" --json > "$d/sync.out"
  t1=$(ms)
  local sum; sum=$(grep '"event":"summary"' "$d/sync.out")
  local bytes; bytes=$(echo "$sum" | field bytesDownloaded)
  local n; n=$("$fs" --home "$d/B" status --json | grep -o '"current": *[0-9]*' | grep -o '[0-9]*$')
  echo "{\"case\":\"$1\",\"observations\":$n,\"wall_ms\":$((t1 - t0)),\"bytes\":$bytes}" | tee -a "$OUT" >&2
  kill "$spid"; wait "$spid" 2>/dev/null || true
  if [ "$3" -gt 0 ]; then # the raw baseline: the media core alone
    local media; media=$("$fs" --home "$d/A" status --json | grep -o '"key":"[0-9a-f]*","own":"media"' | cut -d'"' -f4)
    "$fs" core serve "$d/A/projects/bench/cores/$media" --listen 127.0.0.1:0 > "$d/core.out" 2>/dev/null &
    spid=$!
    for _ in $(seq 50); do [ -s "$d/core.out" ] && break; sleep 0.1; done
    port=$(field port < "$d/core.out")
    quiet
    t0=$(ms)
    "$fs" core download "$media" --connect "127.0.0.1:$port" --dir "$d/raw" > "$d/raw.out"
    t1=$(ms)
    echo "{\"case\":\"$1-raw-media\",\"wall_ms\":$((t1 - t0)),\"transfer_ms\":$(field ms < "$d/raw.out"),\"bytes\":$(field byteLength < "$d/raw.out")}" | tee -a "$OUT" >&2
    kill "$spid"; wait "$spid" 2>/dev/null || true
  fi
}

for r in $(seq "$RUNS"); do
  run_case obs10k 10000 0
  run_case photos20 0 20
  run_case photos100 0 100
  run_case mixed 10000 100
done
echo "results: $OUT" >&2
