#!/usr/bin/env bash
# Runs every fuzz target of the wire stack for a fixed time each and
# logs how long each ran and what it found.
#
#   scripts/fuzz.sh [DURATION] [PARALLEL]     (default 5m, 1 worker)
#
# The coverage-expanding inputs the fuzzer keeps live in Go's cache
# ($GOCACHE/fuzz); failing inputs land in the package's testdata/fuzz
# and make `go test` fail until fixed. The log goes to bench/out/fuzz.log.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-5m}
par=${2:-1}
mkdir -p bench/out
log=bench/out/fuzz.log
: >"$log"
status=0
for pkg in ./hypercore/secretstream ./hypercore/protomux ./hypercore/wire ./hypercore ./hypercore/internal/cenc; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		start=$(date +%s)
		if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$dur" -parallel "$par" "$pkg" >bench/out/fuzz-"$target".out 2>&1; then
			res=ok
		else
			res=FAIL
			status=1
		fi
		end=$(date +%s)
		execs=$(grep -o 'execs: [0-9]*' bench/out/fuzz-"$target".out | tail -1 | awk '{print $2}')
		echo "$pkg $target $res $((end - start))s execs=${execs:-?}" | tee -a "$log"
	done
done
exit $status
