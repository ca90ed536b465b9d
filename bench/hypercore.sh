#!/usr/bin/env bash
# Runs the JS reference Hypercore benchmarks (bench/js, a copy of
# shared/bench-js) and the Go hypercore package (bench/hcbench) in the same
# run, interleaved, and prints medians and Go/JS ratios. See bench/README.md.
#
#   bench/hypercore.sh                 # full: 3 runs of every case, ~15-30 min
#   bench/hypercore.sh --quick         # smoke: N/10, 1 run, ~2 min
#   bench/hypercore.sh --runs 5 --only append-1k-single,verify-cost-1k
#
# Options of this script (everything else goes to `hcbench compare`):
#   --out FILE       raw JSON lines (default bench/results/hypercore-<stamp>.jsonl;
#                    the markdown table goes next to it as .md)
#   --js-dir DIR     reuse a directory where the JS scripts are already installed
#   --keep-workdir   keep the scratch directory (npm install, hcbench binary)
# Environment: BENCH_TMPDIR = where the cores are written (JS and Go alike;
# default the OS temp dir), NODE = node executable (default node).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

out=""
js_dir=""
keep=0
pass=()
while [[ $# -gt 0 ]]; do
	case "$1" in
	--out) out="$2"; shift 2 ;;
	--js-dir) js_dir="$2"; shift 2 ;;
	--keep-workdir) keep=1; shift ;;
	-h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) pass+=("$1"); shift ;;
	esac
done

node="${NODE:-node}"
command -v "$node" >/dev/null || { echo "hypercore.sh: node not found (Node.js >= 20 needed)" >&2; exit 1; }
command -v go >/dev/null || { echo "hypercore.sh: go not found" >&2; exit 1; }
node_major="$("$node" -p 'process.versions.node.split(".")[0]')"
if (( node_major < 20 )); then
	echo "hypercore.sh: Node.js >= 20 needed, found $("$node" --version)" >&2
	exit 1
fi

work="$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/hcbench-work-XXXXXX")"
cleanup() {
	if (( keep )); then
		echo "hypercore.sh: scratch directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

if [[ -z "$js_dir" ]]; then
	# Install the JS side in the scratch directory, never in the repo.
	js_dir="$work/js"
	mkdir -p "$js_dir"
	cp "$here"/js/package.json "$here"/js/*.mjs "$js_dir"/
	# peer.mjs (the interop peer) runs the JS side of the mixed replication
	# pairs; its imports are all dependencies of bench/js.
	cp "$repo"/interop/jsref/peer.mjs "$js_dir"/
	echo "hypercore.sh: installing the JS reference in $js_dir" >&2
	if [[ -f "$here/js/package-lock.json" ]]; then
		cp "$here/js/package-lock.json" "$js_dir"/
		(cd "$js_dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
	else
		(cd "$js_dir" && npm install --no-audit --no-fund --loglevel=error) >&2
	fi
fi
[[ -f "$js_dir/peer.mjs" ]] || cp "$repo"/interop/jsref/peer.mjs "$js_dir"/
[[ -f "$js_dir/append.mjs" && -d "$js_dir/node_modules/hypercore" ]] || {
	echo "hypercore.sh: $js_dir has no installed JS bench scripts" >&2
	exit 1
}

# Record which Go code is measured (+dirty: uncommitted changes in hypercore/).
rev="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$repo" status --porcelain --untracked-files=no -- hypercore cmd go.mod go.sum 2>/dev/null)" ]]; then
	rev="$rev+dirty"
fi
echo "hypercore.sh: building hcbench ($rev)" >&2
(cd "$repo" && go build -o "$work/hcbench" ./bench/hcbench && go build -o "$work/fieldsync" ./cmd/fieldsync)

if [[ -z "$out" ]]; then
	mkdir -p "$here/results"
	out="$here/results/hypercore-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
fi
mkdir -p "$(dirname "$out")"

"$work/hcbench" compare --js-dir "$js_dir" --node "$node" --go-rev "$rev" --fieldsync "$work/fieldsync" --out "$out" ${pass[@]+"${pass[@]}"}
