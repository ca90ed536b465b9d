#!/usr/bin/env bash
# Copies the inputs the fuzzer found interesting (kept in Go's cache,
# $GOCACHE/fuzz) into each package's testdata/fuzz, so that `go test`
# replays them as seeds and the next fuzz run starts from them.
#
#   scripts/fuzz-save.sh        (after scripts/fuzz.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
cache="$(go env GOCACHE)/fuzz/$mod"
[[ -d "$cache" ]] || { echo "fuzz-save: no fuzz cache at $cache" >&2; exit 1; }
added=0
while IFS= read -r dir; do
	rel=${dir#"$cache"/}      # e.g. hypercore/wire/FuzzDecodeData
	pkg=${rel%/*}
	target=${rel##*/}
	dst="$pkg/testdata/fuzz/$target"
	[[ -d "$pkg" ]] || continue
	# Only targets this package defines (the cache may hold others').
	grep -qs "^func ${target}(" "$pkg"/*_test.go || continue
	mkdir -p "$dst"
	for f in "$dir"/*; do
		[[ -e "$dst/$(basename "$f")" ]] && continue
		cp "$f" "$dst/"
		added=$((added + 1))
	done
done < <(find "$cache" -mindepth 1 -type d -name 'Fuzz*')
echo "fuzz-save: $added new input(s) copied into testdata/fuzz"
