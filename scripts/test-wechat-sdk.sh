#!/usr/bin/env bash
# Runs the WeChat mini-program SDK's tests (sdk/wechat) against a real minirtc
# server binary: MINIRTC_BIN, or bin/minirtc (built with go if missing).
# Needs node 20 + npm and ffmpeg on PATH. Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sdk="$root/sdk/wechat"

for tool in node npm ffmpeg; do
  command -v "$tool" >/dev/null || { echo "test-wechat-sdk: $tool not found on PATH" >&2; exit 1; }
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "test-wechat-sdk: node 20 or newer needed, found $(node --version)" >&2; exit 1
fi

bin="${MINIRTC_BIN:-$root/bin/minirtc}"
case "$bin" in /*) ;; *) bin="$sdk/$bin" ;; esac # relative to sdk/wechat, like the tests
if [ ! -x "$bin" ]; then
  go="$(command -v go || echo /usr/local/go/bin/go)"
  [ -x "$go" ] || { echo "test-wechat-sdk: no minirtc binary at $bin and no go to build it" >&2; exit 1; }
  echo "== building $bin"
  (cd "$root" && "$go" build -o "$bin" ./cmd/minirtc)
fi
export MINIRTC_BIN="$bin"

cd "$sdk"
echo "== npm ci (sdk/wechat)"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
echo "== build npm (examples/wechat-miniprogram, with miniprogram-ci as WeChat devtools would)"
(cd "$root/examples/wechat-miniprogram" && rm -rf miniprogram_npm &&
  npm ci --no-audit --no-fund --loglevel=error && npm run --silent build-npm)
echo "== type declarations"
npx --no-install tsc -p test/types
echo "== vitest (sdk/wechat)"
npx --no-install vitest run
