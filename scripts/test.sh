#!/usr/bin/env bash
# Runs every check and test. Called by `make test` with go on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
timeout="${1:-15m}"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout "$timeout" ./...

echo "== WeChat SDK (sdk/wechat) against a real server"
bin="$(mktemp -d)/minirtc"
go build -o "$bin" ./cmd/minirtc
MINIRTC_BIN="$bin" scripts/test-wechat-sdk.sh
echo "== browser SDK (sdk/web) in Chromium against a real server"
MINIRTC_BIN="$bin" scripts/test-web-sdk.sh
rm -rf "$(dirname "$bin")"
echo "== all tests passed"
