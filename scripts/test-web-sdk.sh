#!/usr/bin/env bash
# Runs the browser SDK's tests (sdk/web): builds the bundles, checks the
# types, and runs vitest, which drives Debian's headless Chromium with
# playwright-core against a real minirtc server binary: MINIRTC_BIN, or
# bin/minirtc (built with go if missing). Needs node 20 + npm and ffmpeg on
# PATH; installs Debian's chromium with apt if it is missing (never a
# downloaded browser). Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sdk="$root/sdk/web"

for tool in node npm ffmpeg; do
  command -v "$tool" >/dev/null || { echo "test-web-sdk: $tool not found on PATH" >&2; exit 1; }
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "test-web-sdk: node 20 or newer needed, found $(node --version)" >&2; exit 1
fi

chromium="${CHROMIUM_BIN:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "test-web-sdk: no chromium at $chromium; install Debian's chromium package (or set CHROMIUM_BIN)" >&2; exit 1
  fi
  echo "== installing chromium (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export CHROMIUM_BIN="$chromium"

bin="${MINIRTC_BIN:-$root/bin/minirtc}"
case "$bin" in /*) ;; *) bin="$sdk/$bin" ;; esac # relative to sdk/web, like the tests
if [ ! -x "$bin" ]; then
  go="$(command -v go || echo /usr/local/go/bin/go)"
  [ -x "$go" ] || { echo "test-web-sdk: no minirtc binary at $bin and no go to build it" >&2; exit 1; }
  echo "== building $bin"
  (cd "$root" && "$go" build -o "$bin" ./cmd/minirtc)
fi
export MINIRTC_BIN="$bin"

cd "$sdk"
echo "== npm ci (sdk/web)"
npm ci --no-audit --no-fund --loglevel=error
echo "== build (esbuild bundles, tsc declarations)"
npm run --silent build
# The server embeds dist/minirtc.js for /demo/ (sdk/web/embed.go), so the
# committed bundle must be what the sources build.
if git -C "$root" ls-files --error-unmatch sdk/web/dist/minirtc.js >/dev/null 2>&1 &&
  ! git -C "$root" diff --quiet -- sdk/web/dist/minirtc.js; then
  echo "test-web-sdk: sdk/web/dist/minirtc.js differs from what src/ builds: commit the rebuilt bundle" >&2
  exit 1
fi
echo "== typecheck (src and tests)"
npm run --silent typecheck
echo "== vitest (sdk/web)"
npx --no-install vitest run
