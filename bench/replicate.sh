#!/usr/bin/env bash
# Replication benchmarks only: 100,000 × 1 KiB and 10,000 × 64 KiB over
# TCP on 127.0.0.1, JS→JS (shared/bench-js replicate-tcp.mjs), Go→Go, JS→Go,
# Go→JS and peer.mjs→peer.mjs, interleaved, in the same run. Options as
# for hypercore.sh (--quick, --runs N, --out FILE, ...). See bench/README.md.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/hypercore.sh" --only replicate-1k,replicate-64k "$@"
