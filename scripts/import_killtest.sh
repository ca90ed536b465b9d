#!/usr/bin/env bash
# Kill test of `fieldsync import`: an import of N features (default
# 1,000,000, one per line) is SIGKILLed at a random moment, KILLS times
# (default 50), and after every kill the project must show either none of
# that import or all of it: the data core's signed length and the number
# of observations go up by 0 or by N, never by anything in between.
#
#   scripts/import_killtest.sh               # 50 kills of a 1M import
#   scripts/import_killtest.sh 20 200000     # 20 kills of a 200k import
#
# The kill moments are spread uniformly over the time one whole import
# takes (measured first), so they fall in the check, the writes of each
# batch, the signing and the indexing. FIELDSYNC_KILLTEST_SEED replays.
set -euo pipefail
cd "$(dirname "$0")/.."

kills="${1:-50}"
n="${2:-1000000}"
seed="${FIELDSYNC_KILLTEST_SEED:-$RANDOM}"
RANDOM=$seed
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bin="$work/fieldsync"
go build -o "$bin" ./cmd/fieldsync
home="$work/home"
"$bin" --home "$home" init killtest >/dev/null

awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "{\"type\":\"Feature\",\"id\":%d,\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.5f,%.5f]},\"properties\":{\"category\":\"c%d\",\"n\":%d}}\n", i, (i % 36000) / 100 - 180, (i % 17000) / 100 - 85, i % 7, i }' >"$work/in.geojsonl"

# counts prints "<data core length> <current observations>".
counts() {
	"$bin" --home "$home" status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(next(c["length"] for c in s["cores"] if c.get("own") == "data"), s["observations"]["current"])'
}

t0=$(date +%s%N)
"$bin" --home "$home" import "$work/in.geojsonl" --durability os >/dev/null
full_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
read -r len obs < <(counts)
echo "seed $seed; one import of $n features: ${full_ms} ms; data core $len blocks, $obs observations"

none=0 all=0 bad=0
for ((k = 1; k <= kills; k++)); do
	delay_ms=$(( (RANDOM * 32768 + RANDOM) % (full_ms + 1) ))
	"$bin" --home "$home" import "$work/in.geojsonl" --durability os >/dev/null 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	read -r nlen nobs < <(counts)
	if [[ "$nlen" == "$len" && "$nobs" == "$obs" ]]; then
		none=$((none + 1))
	elif [[ "$nlen" == $((len + n)) && "$nobs" == $((obs + n)) ]]; then
		all=$((all + 1))
	else
		bad=$((bad + 1))
		echo "kill $k at ${delay_ms} ms: data core $len -> $nlen blocks, observations $obs -> $nobs: PART OF AN IMPORT IS VISIBLE"
	fi
	len=$nlen obs=$nobs
done
echo "$kills kills of a $n-feature import: $none left nothing, $all left everything, $bad left part"
[[ $bad == 0 ]]
