#!/usr/bin/env bash
# bench/evidence.sh — issue 19: an evidence bundle of N observations
# (default 200,000) is exported and verified in bounded memory.
#
#   bench/evidence.sh [--n 200000] [--python] [--out FILE]
#
# Imports N point observations (8 tags each) into a fresh project, then
# runs, each in its own process after waiting for a quiet machine:
# `fieldsync export geojson` of all N (the anchor: the streamed map export),
# `fieldsync export evidence` of all N, `fieldsync verify` of the bundle, and
# with --python `interop/evidence/verify.py` (it reads whole files: not
# bounded, shown for comparison). QUIET_WAIT (seconds, default 120) bounds
# the wait for a quiet machine before each step. For each: wall time and the child's
# peak resident set (VmHWM from /proc, polled until it exits). The table
# goes to FILE (default bench/results/evidence-<time>.md) and stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
N=200000 OUT="" PY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --n) N=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --python) PY=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-bench/results/evidence-$(date -u +%Y%m%dT%H%M%SZ).md}
mkdir -p "$(dirname "$OUT")"
work=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/evbench-XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/fieldsync" ./cmd/fieldsync
fs() { "$work/fieldsync" --home "$work/home" "$@"; }

quiet() {
  for _ in $(seq "${QUIET_WAIT:-120}"); do
    awk '{exit !($1 < 1.0)}' /proc/loadavg && return
    sleep 1
  done
  echo "warning: machine still busy ($(cut -d' ' -f1 /proc/loadavg)); measuring anyway" >&2
}

# measure NAME CMD...: wall seconds and peak RSS (MiB) of CMD, one table row.
measure() {
  local name=$1; shift
  quiet
  local start hwm=0 v
  start=$(date +%s.%N)
  "$@" > "$work/$name.out" 2> "$work/$name.err" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    if [ -n "$v" ] && [ "$v" -gt "$hwm" ]; then hwm=$v; fi
    sleep 0.02
  done
  if ! wait "$pid"; then
    echo "$name failed:" >&2; cat "$work/$name.err" >&2; exit 1
  fi
  local secs
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  printf '| %s | %.1f | %.0f |\n' "$name" "$secs" "$(echo "$hwm / 1024" | bc -l)" | tee -a "$OUT.rows"
}

echo "+ generating and importing $N observations" >&2
awk -v n="$N" 'BEGIN { srand(7); for (i = 0; i < n; i++) {
  printf "{\"type\":\"Feature\",\"id\":\"f%d\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.6f,%.6f]},\"properties\":{\"category\":\"%s\",\"n\":%d,\"ok\":%s,\"observer\":\"team %d\",\"river\":\"r%d\",\"depth\":%.2f,\"notes\":\"sample %d\",\"when\":\"2026-03-%02dT%02d:00:00Z\"}}\n",
    i, -62 + rand() * 4, -4 + rand() * 3, (i % 3 ? "fire" : "mining"), i, (i % 2 ? "true" : "false"), i % 17, i % 40, rand() * 30, i, 1 + i % 28, i % 24 } }' > "$work/in.geojsonl"
fs init bench >/dev/null
fs import "$work/in.geojsonl" --durability os --time-property when >/dev/null
fs export geojson -o "$work/warm.geojson" >/dev/null   # builds the index, outside the measurement
rm -f "$work/warm.geojson" "$OUT.rows"

measure "export geojson (anchor)" "$work/fieldsync" --home "$work/home" export geojson -o "$work/all.geojson"
measure "export evidence" "$work/fieldsync" --home "$work/home" export evidence -o "$work/bundle.zip"
measure "verify" "$work/fieldsync" verify "$work/bundle.zip"
if [ -n "$PY" ]; then
  measure "verify.py (independent, unbounded)" python3 interop/evidence/verify.py "$work/bundle.zip"
fi
{
  echo "# evidence bundle of $N observations ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
  echo
  echo "bundle: $(du -m "$work/bundle.zip" | cut -f1) MB; $(grep -o '[0-9]* observation(s) in their current version' "$work/verify.out")"
  echo
  echo "| step | seconds | peak RSS (MiB) |"
  echo "| --- | --- | --- |"
  cat "$OUT.rows"
} > "$OUT"
rm -f "$OUT.rows"
cat "$OUT"
