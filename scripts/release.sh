#!/usr/bin/env bash
# Build fieldsync's release binaries into a dist directory, with SHA256SUMS.
#
#   scripts/release.sh [DIST]            (default DIST: ./dist)
#   VERSION=1.2.0 scripts/release.sh     (default: git describe, else "devel")
#   TARGETS="linux/amd64 windows/amd64" scripts/release.sh
#
# Default targets: linux/amd64, windows/amd64 and linux/arm64 on Linux;
# darwin/amd64 and darwin/arm64 on a Mac. Every binary is built with cgo,
# because the GeoPackage index needs SQLite (mattn/go-sqlite3): a binary
# built without it would fail at its first list, export or web. So each
# target needs its C compiler:
#   linux/amd64    gcc                          (apt install gcc)
#   windows/amd64  x86_64-w64-mingw32-gcc       (apt install gcc-mingw-w64-x86-64)
#   linux/arm64    aarch64-linux-gnu-gcc        (apt install gcc-aarch64-linux-gnu)
#   darwin/*       clang from the Xcode command line tools, on a Mac
# A missing compiler stops the script; nothing half-built is left in DIST.
#
# Reproducible: -trimpath, no build id, fixed -ldflags (version and the
# commit from git), VCS stamping on, the Go toolchain from go.mod. The same
# commit, Go version and C compiler give the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

dist=${1:-dist}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
version=${VERSION:-$(git describe --tags --always --dirty=-changes 2>/dev/null || echo devel)}

if [ -z "${TARGETS:-}" ]; then
  case "$(uname -s)" in
    Darwin) TARGETS="darwin/amd64 darwin/arm64" ;;
    *) TARGETS="linux/amd64 windows/amd64 linux/arm64" ;;
  esac
fi

cc_for() {
  case "$1" in
    linux/amd64) [ "$(uname -s)/$(uname -m)" = "Linux/x86_64" ] && echo gcc || echo x86_64-linux-gnu-gcc ;;
    linux/arm64) [ "$(uname -s)/$(uname -m)" = "Linux/aarch64" ] && echo gcc || echo aarch64-linux-gnu-gcc ;;
    windows/amd64) echo x86_64-w64-mingw32-gcc ;;
    darwin/*) echo clang ;;
    *) echo "release: no C compiler known for $1" >&2; return 1 ;;
  esac
}

# Check every compiler before building anything.
for t in $TARGETS; do
  cc=$(cc_for "$t")
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "release: $t needs the C compiler $cc (see the top of $0)" >&2
    exit 1
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-release.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

ldflags="-s -w -buildid= -X main.version=$version -X main.commit=$commit"
for t in $TARGETS; do
  goos=${t%/*} goarch=${t#*/}
  ext=""
  [ "$goos" = windows ] && ext=.exe
  name="fieldsync-$version-$goos-$goarch$ext"
  echo "release: building $name (the first build of a target compiles SQLite: a few minutes)"
  # darwin/amd64 on an arm64 Mac (and back) is one clang with -arch.
  cflags=""
  [ "$goos" = darwin ] && cflags="-arch $([ "$goarch" = amd64 ] && echo x86_64 || echo arm64)"
  CGO_ENABLED=1 GOOS=$goos GOARCH=$goarch CC=$(cc_for "$t") CGO_CFLAGS="-O2 $cflags" CGO_LDFLAGS="$cflags" \
    GOFLAGS= go build -trimpath -buildvcs=true -ldflags "$ldflags" -o "$tmp/$name" ./cmd/fieldsync
done

(cd "$tmp" && sha256sum -- fieldsync-* > SHA256SUMS 2>/dev/null || shasum -a 256 -- fieldsync-* > SHA256SUMS)
mkdir -p "$dist"
for f in "$tmp"/*; do
  mv -f "$f" "$dist/"
done
echo "release: $(wc -l < "$dist/SHA256SUMS") binaries and SHA256SUMS in $dist"
