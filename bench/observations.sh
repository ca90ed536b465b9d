#!/usr/bin/env bash
# bench/observations.sh — issue 6's benchmarks, side by side with CoMapeo
# core when its harness is installed (see shared/bench-comapeo/README.md).
#
#   bench/observations.sh [--n 1000000] [--runs 3] [--comapeo DIR] [--out FILE]
#
# Runs, each in a fresh process after waiting for a quiet machine:
# obsbench observe (no fsync, fsync), list 10,000, import N (+ index build,
# then `fieldsync export geojson` of all N, its rate and peak RSS),
# `go test -bench BenchmarkQuery` at N points (index: 200 queries per kind;
# the table-scan baseline: 5), and with --comapeo DIR, CoMapeo's
# `bench.mjs create 1000` and `query 10000`. Raw JSON lines go to FILE
# (default bench/results/observations-<time>.jsonl), the table to FILE.md
# and stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
N=1000000 RUNS=3 COMAPEO="" OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --n) N=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --comapeo) COMAPEO=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-bench/results/observations-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
work=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/obsbench-XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/obsbench" ./bench/obsbench
go build -o "$work/fieldsync" ./cmd/fieldsync

# quiet waits (up to 2 minutes) until the 1-minute load is under 1.
quiet() {
  for _ in $(seq 120); do
    awk '{exit !($1 < 1.0)}' /proc/loadavg && return
    sleep 1
  done
  echo "warning: machine still busy ($(cut -d' ' -f1 /proc/loadavg)); measuring anyway" >&2
}
run() { quiet; echo "+ $*" >&2; "$@" | tee -a "$OUT" >&2; }

for r in $(seq "$RUNS"); do
  run "$work/obsbench" observe --n 2000 --sync os
  run "$work/obsbench" observe --n 300 --sync fsync
  run "$work/obsbench" list --n 10000
  if [ -n "$COMAPEO" ]; then
    quiet; (cd "$COMAPEO" && node bench.mjs create 1000) | "$work/obsbench" wrap comapeo-create | tee -a "$OUT" >&2
    quiet; (cd "$COMAPEO" && node bench.mjs query 10000) | "$work/obsbench" wrap comapeo-query | tee -a "$OUT" >&2
  fi
done
run "$work/obsbench" import --n "$N" --fieldsync "$work/fieldsync"
quiet
FIELDSYNC_BENCH_N=$N go test -run '^$' -bench 'BenchmarkQuery/.*/index' -benchtime 200x ./index | "$work/obsbench" gobench | tee -a "$OUT" >&2
quiet
FIELDSYNC_BENCH_N=$N go test -run '^$' -bench 'BenchmarkQuery/.*/scan-table' -benchtime 5x ./index | "$work/obsbench" gobench | tee -a "$OUT" >&2
"$work/obsbench" table < "$OUT" | tee "${OUT%.jsonl}.md"
