#!/usr/bin/env bash
# bench/via.sh — issue 21's throughput check: `sync --via` through a folder
# on the same disk against a loopback network sync of the same data, in the
# same run. For each case a sender A holds the data; B syncs it from A over
# loopback TCP (the anchor: from starting `sync` until it exits, everything
# stored, verified and indexed); A writes it to a sync folder (`via out`)
# and C, who never met A, takes it from the folder (`via in`, also stored,
# verified and indexed). Ratios are throughputs relative to the network
# sync (1.00 = as fast; the goal is >= 0.80 for each leg).
#
#   bench/via.sh [--runs 3] [--cases obs10k,photos100,mixed] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=3 OUT="" CASES="obs10k,photos100,mixed"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --cases) CASES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-bench/results/via-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
work=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/viabench-XXXXXX")
spid=""
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/fieldsync" ./cmd/fieldsync
fs="$work/fieldsync"
quiet() {
  for _ in $(seq 10); do awk '{exit !($1 < 1.0)}' /proc/loadavg && return; sleep 1; done
  echo "warning: machine busy ($(cut -d' ' -f1 /proc/loadavg))" >&2
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# ticks PID: user+system CPU clock ticks of a running process so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_ms=$(( 1000 / $(getconf CLK_TCK) ))
# cpu FILE: the user+system milliseconds /usr/bin/time wrote to FILE.
cpu() { awk '{printf "%d", ($1 + $2) * 1000}' "$1"; }
TIME=/usr/bin/time
field() { grep -o "\"$1\":[0-9.]*" | head -1 | cut -d: -f2; }

# setup NAME NOBS NPHOTOS: a sender A with the data; B and C joined.
setup() {
  local d="$work/$1"; rm -rf "$d"; mkdir -p "$d/stick"
  "$fs" --home "$d/A" init bench --device-name sender >/dev/null
  local code; code=$("$fs" --home "$d/A" invite --json | grep -o '"code": *"[^"]*"' | cut -d'"' -f4)
  "$fs" --home "$d/B" join "$code" --device-name net >/dev/null
  "$fs" --home "$d/C" join "$code" --device-name stick >/dev/null
  if [ "$2" -gt 0 ]; then
    awk -v n="$2" 'BEGIN{srand(7); for(i=0;i<n;i++) printf "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.5f,%.5f]},\"properties\":{\"category\":\"mining\",\"notes\":\"a note\",\"people\":%d,\"confirmed\":true}}\n", rand()*360-180, rand()*170-85, i%9}' > "$d/in.geojsonl"
    "$fs" --home "$d/A" import "$d/in.geojsonl" >/dev/null
  fi
  for i in $(seq "$3"); do
    head -c 300000 /dev/urandom > "$d/p.jpg"
    "$fs" --home "$d/A" observe --lat -3 --lon -60 --attach "$d/p.jpg" >/dev/null
  done
}

run_case() { # NAME NOBS NPHOTOS RUN
  setup "$1" "$2" "$3"
  local d="$work/$1"
  "$fs" --home "$d/A" serve --listen 127.0.0.1:0 --no-mdns > "$d/serve.out" 2>/dev/null &
  spid=$!
  for _ in $(seq 100); do [ -s "$d/serve.out" ] && break; sleep 0.1; done
  local port; port=$(field port < "$d/serve.out")
  quiet
  local t0 t1 net out in s0 s1; s0=$(ticks "$spid"); t0=$(ms)
  $TIME -o "$d/net.cpu" -f "%U %S" "$fs" --home "$d/B" sync --no-mdns --peer "127.0.0.1:$port" --json > "$d/sync.out"
  t1=$(ms); net=$((t1 - t0)); s1=$(ticks "$spid")
  local netcpu=$(( $(cpu "$d/net.cpu") + (s1 - s0) * tick_ms ))
  kill "$spid"; wait "$spid" 2>/dev/null || true; spid=""
  local bytes; bytes=$(grep '"event":"summary"' "$d/sync.out" | field bytesDownloaded)
  quiet
  t0=$(ms)
  $TIME -o "$d/out.cpu" -f "%U %S" "$fs" --home "$d/A" sync --via "$d/stick" --json > "$d/out.json"
  t1=$(ms); out=$((t1 - t0))
  quiet
  t0=$(ms)
  $TIME -o "$d/in.cpu" -f "%U %S" "$fs" --home "$d/C" sync --via "$d/stick" --json > "$d/in.json"
  t1=$(ms); in=$((t1 - t0))
  local vin; vin=$(field bytesDownloaded < "$d/in.json")
  local nb nc
  nb=$("$fs" --home "$d/B" status --json | grep -o '"current": *[0-9]*' | grep -o '[0-9]*$')
  nc=$("$fs" --home "$d/C" status --json | grep -o '"current": *[0-9]*' | grep -o '[0-9]*$')
  # (C may take a little more than B: A's folder also carries B's device
  # record, which A received while serving B.)
  if [ "$nb" != "$nc" ]; then
    echo "case $1: B holds $nb observations ($bytes bytes), C $nc ($vin bytes)" >&2; exit 1
  fi
  echo "{\"case\":\"$1\",\"run\":$4,\"observations\":$nc,\"bytes\":$bytes,\"net_ms\":$net,\"via_out_ms\":$out,\"via_in_ms\":$in,\"net_cpu_ms\":$netcpu,\"via_out_cpu_ms\":$(cpu "$d/out.cpu"),\"via_in_cpu_ms\":$(cpu "$d/in.cpu")}" | tee -a "$OUT" >&2
  rm -rf "$d"
}

for run in $(seq "$RUNS"); do
  for c in ${CASES//,/ }; do
    case "$c" in
      obs10k) run_case obs10k 10000 0 "$run" ;;
      photos100) run_case photos100 0 100 "$run" ;;
      mixed) run_case mixed 10000 100 "$run" ;;
      *) echo "unknown case $c" >&2; exit 2 ;;
    esac
  done
done

# Medians per case, and throughput ratios against the network sync.
python3 - "$OUT" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("Wall time (median ms) and throughput relative to the network sync (higher is better):")
print("| case | bytes | net sync ms | via out ms | via in ms | out/net | in/net | out+in/net |")
print("|---|---|---|---|---|---|---|---|")
for c in dict.fromkeys(r["case"] for r in rows):
    rs = [r for r in rows if r["case"] == c]
    n, o, i = (st.median(r[k] for r in rs) for k in ("net_ms", "via_out_ms", "via_in_ms"))
    print(f"| {c} | {rs[0]['bytes']} | {n:.0f} | {o:.0f} | {i:.0f} | {n/o:.2f} | {n/i:.2f} | {n/(o+i):.2f} |")
print()
print("CPU time (user+system, median ms; the network sync counts both processes), the same ratios:")
print("| case | net sync cpu | via out cpu | via in cpu | out/net | in/net | out+in/net |")
print("|---|---|---|---|---|---|---|")
for c in dict.fromkeys(r["case"] for r in rows):
    rs = [r for r in rows if r["case"] == c]
    n, o, i = (st.median(r[k] for r in rs) for k in ("net_cpu_ms", "via_out_cpu_ms", "via_in_cpu_ms"))
    print(f"| {c} | {n:.0f} | {o:.0f} | {i:.0f} | {n/max(o,1):.2f} | {n/max(i,1):.2f} | {n/max(o+i,1):.2f} |")
PY
