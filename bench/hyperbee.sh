#!/usr/bin/env bash
# Hyperbee get of N keys (default 100,000): JS hyperbee 2.27.3 on hypercore
# 10.19.0 (interop/jsbee, what CoMapeo core 7.1 runs) against Go
# hypercore/hyperbee on a hypercore, in the same run, interleaved, RUNS times
# each (default 3). Both build a bee of N keys "key-%08d", then time N gets
# in the same shuffled order on a fresh bee (no cached blocks). Prints the
# medians and the JS/Go ratio (> 1: Go is faster) and writes them to
# bench/results/hyperbee-<stamp>.md.
#
#   bench/hyperbee.sh [N] [RUNS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
n="${1:-100000}"
runs="${2:-3}"
node="${NODE:-node}"
command -v "$node" >/dev/null || { echo "hyperbee.sh: node not found (Node.js >= 20 needed)" >&2; exit 1; }

work="$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/beebench-XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$repo"/interop/jsbee/package.json "$repo"/interop/jsbee/package-lock.json "$repo"/interop/jsbee/bee.mjs "$work"/
echo "hyperbee.sh: installing interop/jsbee in $work" >&2
(cd "$work" && npm ci --no-audit --no-fund --loglevel=error) >&2
(cd "$repo" && go build -o "$work/hcbench" ./bench/hcbench)

js=() go=()
for ((r = 1; r <= runs; r++)); do
	j="$(cd "$work" && "$node" bee.mjs bench-get --n "$n" | sed -n 's/.*"nsPerGet":\([0-9.]*\).*/\1/p')"
	g="$("$work/hcbench" bee-get --n "$n" | sed -n 's/.*"nsPerGet":\([0-9.]*\).*/\1/p')"
	echo "run $r: JS $j ns/get, Go $g ns/get" >&2
	js+=("$j") go+=("$g")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mj="$(median "${js[@]}")" mg="$(median "${go[@]}")"
ratio="$(awk -v j="$mj" -v g="$mg" 'BEGIN {printf "%.2f", j / g}')"
mkdir -p "$here/results"
outf="$here/results/hyperbee-$(date -u +%Y%m%dT%H%M%SZ).md"
{
	echo "# Hyperbee get, $n keys ($(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$repo" rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null))"
	echo
	echo "| | JS hyperbee 2.27.3 (hypercore 10.19.0) | Go hypercore/hyperbee | JS/Go |"
	echo "|---|---|---|---|"
	echo "| median µs per get ($runs runs) | $(awk -v x="$mj" 'BEGIN{printf "%.1f", x/1000}') | $(awk -v x="$mg" 'BEGIN{printf "%.1f", x/1000}') | **${ratio}×** (target ≥ 3×) |"
	echo
	echo "Runs (ns/get): JS ${js[*]}; Go ${go[*]}."
} | tee "$outf"
