#!/usr/bin/env bash
# Runs every go fuzz target for the given time each (seed corpora in
# testdata/fuzz are also run by the normal tests).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-30s}"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "== $pkg $target ($fuzztime)"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"
  done
done
