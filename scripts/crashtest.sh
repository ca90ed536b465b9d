#!/usr/bin/env bash
# Long crash test of the hypercore package: a writer process is SIGKILLed at
# random moments, KILLS times over both sync modes (default 1000), and after
# every kill the core is reopened, verified, checked byte for byte against
# every acknowledged append, and appended to by the next writer. Then the
# torn-head, corruption and concurrent-reader tests run once more.
#
#   scripts/crashtest.sh              # 1000 kills
#   scripts/crashtest.sh 5000         # more
#   RACE=1 scripts/crashtest.sh 300   # with the race detector
#   FIELDSYNC_CRASH_SEED=123 scripts/crashtest.sh   # replay a failing run's plan
#
# go test ./hypercore runs the same test with 100 kills.
set -euo pipefail
cd "$(dirname "$0")/.."

kills="${1:-1000}"
race=()
if [[ "${RACE:-}" == 1 ]]; then
	race=(-race)
fi

echo "== TestCrashKill: $kills SIGKILLs"
go test "${race[@]}" ./hypercore -run '^TestCrashKill$' -count=1 -v -timeout 2h -crash.kills="$kills" |
	grep -Ev '^=== (RUN|PAUSE|CONT|NAME)'

echo "== torn heads, corruption, concurrent readers"
go test "${race[@]}" ./hypercore -run 'Torn|Corrupt|Reader' -count=1 -timeout 30m
