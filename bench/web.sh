#!/usr/bin/env bash
# bench/web.sh — the map with N observations (issue 22): how long
# /api/observations.geojson takes to stream all of them, against the CLI
# writing the same features (`fieldsync export geojson -o -`, the anchor,
# measured in the same run), and the page's first paint of its clustered
# view in headless Chromium (performance.now() when the first clusters
# are on screen, counted from navigation start), against the end of the
# same page's load event (BenchmarkWebFirstPaint in cmd/fieldsync).
#
#   bench/web.sh [--n 100000] [--runs 3]
set -euo pipefail
# (All in one block, read whole before it runs: editing the script while
# it runs cannot break it.)
{
cd "$(dirname "$0")/.."
N=100000 RUNS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --n) N=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v chromium >/dev/null || { echo "bench/web.sh needs chromium (apt-get install chromium)" >&2; exit 1; }
work=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/webbench-XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/fieldsync" ./cmd/fieldsync
fs() { "$work/fieldsync" --home "$work/home" "$@"; }

# N points along the Rio Negro basin, deterministic.
awk -v n="$N" 'BEGIN { srand(22); split("mining illegal-logging fire river-pollution wildlife", cat, " ");
  for (i = 0; i < n; i++) {
    lon = -63 + rand() * 3.2; lat = -3.6 + rand() * 3.0
    printf "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.6f,%.6f]},\"properties\":{\"category\":\"%s\",\"notes\":\"observation %d\",\"recorded\":\"2026-%02d-%02dT10:00:00Z\"}}\n", lon, lat, cat[1 + i % 5], i, 1 + i % 12, 1 + i % 28
  } }' > "$work/obs.geojsonl"
fs init bench --device-name base >/dev/null
fs import "$work/obs.geojsonl" --time-property recorded --durability os >/dev/null
fs list --limit 1 --format json >/dev/null # builds the index

"$work/fieldsync" --home "$work/home" web --http 127.0.0.1:0 --json > "$work/ready" 2> "$work/web.log" &
pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
url=$(sed 's/.*"url":"\([^"]*\)".*/\1/' "$work/ready")
echo "bench/web.sh: $N observations, map at $url" >&2

# quiet waits (up to 2 minutes) until the 1-minute load is under 1.
quiet() {
  for _ in $(seq 120); do
    awk '{exit !($1 < 1.0)}' /proc/loadavg && return
    sleep 1
  done
  echo "warning: machine still busy (load $(cut -d' ' -f1 /proc/loadavg)); measuring anyway" >&2
}
secs() { local s e; s=$(date +%s.%N); "$@" > "$work/out"; e=$(date +%s.%N); echo "$e - $s" | bc; }
# cpu is the web server's CPU time so far (user + system, seconds): on a
# busy machine wall time says little, CPU time spent says what it costs.
tck=$(getconf CLK_TCK)
cpu() { awk -v t="$tck" '{print ($14 + $15) / t}' "/proc/$pid/stat"; }
# get PATH: wall seconds and server CPU seconds of one request.
get() { local c0 c1 t; c0=$(cpu); t=$(secs curl -sf "$url$1"); c1=$(cpu); echo "$t $(echo "$c1 - $c0" | bc)"; }
printf '%-44s %10s %10s %12s\n' "what (run)" "seconds" "server CPU" "bytes"
for r in $(seq "$RUNS"); do
  quiet
  echo "run $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
  a=$(secs "$work/fieldsync" --home "$work/home" export geojson -o - 2>/dev/null)
  printf '%-44s %10.3f %10s %12d\n' "anchor: fieldsync export geojson -o - ($r)" "$a" "" "$(stat -c %s "$work/out")"
  for q in "api/observations.geojson" "api/observations.geojson?zoom=7" "api/observations.geojson?zoom=7&tag=category=fire"; do
    read -r t c < <(get "$q")
    printf '%-44s %10.3f %10.3f %12d   %.2f x anchor\n' "GET /$q ($r)" "$t" "$c" "$(stat -c %s "$work/out")" "$(echo "$t / $a" | bc -l)"
  done
done
# First paint in headless Chromium (network to anything but 127.0.0.1
# blocked), against the end of the page's load event.
quiet
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
FIELDSYNC_WEB_URL=$url go test -run '^$' -bench BenchmarkWebFirstPaint -benchtime "${RUNS}x" ./cmd/fieldsync | grep -E 'Benchmark|ok|FAIL'
exit
}
