#!/usr/bin/env bash
# Runs fuzz targets of the wire stack for a fixed time each and logs how
# long each ran and what it found.
#
#   scripts/fuzz.sh [DURATION] [JOBS] [PKG:TARGET ...]
#
# DURATION defaults to 5m; JOBS (default 1) targets run at once, one
# fuzzing worker each. Without targets, every Fuzz* function of the
# packages below runs. The coverage-expanding inputs the fuzzer keeps
# live in Go's cache ($GOCACHE/fuzz); a failing input lands in the
# package's testdata/fuzz and makes `go test` fail until fixed. Do not
# SIGSTOP a run: the coordinator takes a stopped worker for a hung one.
# The log goes to bench/out/fuzz.log.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-5m}
jobs=${2:-1}
shift $(( $# > 2 ? 2 : $# ))
mkdir -p bench/out
log=bench/out/fuzz.log
: >"$log"
targets=("$@")
if (( ${#targets[@]} == 0 )); then
	for pkg in ./hypercore/secretstream ./hypercore/protomux ./hypercore/wire ./hypercore ./hypercore/internal/cenc; do
		for t in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
			targets+=("$pkg:$t")
		done
	done
fi
one() {
	local pkg=${1%%:*} target=${1##*:} start end res execs
	start=$(date +%s)
	if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$dur" -parallel 1 "$pkg" >bench/out/fuzz-"$target".out 2>&1; then
		res=ok
	else
		res=FAIL
	fi
	end=$(date +%s)
	execs=$(grep -o 'execs: [0-9]*' bench/out/fuzz-"$target".out | tail -1 | awk '{print $2}')
	echo "$pkg $target $res $((end - start))s execs=${execs:-?}" | tee -a "$log"
	[[ $res == ok ]]
}
export -f one
export dur log
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'one "$@"' _ {}
