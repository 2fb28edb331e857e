#!/usr/bin/env bash
# Runs the example app server against a local minirtc (`make run` in another
# terminal). `make app-server` calls it after building both binaries.
#
# The app id and secret come from MINIRTC_APP_ID / MINIRTC_APP_SECRET, or
# else from the server's data directory (DATA, default ./data): the first
# app there, which is the development app `minirtc serve` created. Every
# other setting passes through the environment (MINIRTC_URL,
# APP_SERVER_LISTEN, ...; see README.md) or as arguments.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${DATA:-./data}"
MINIRTC_BIN="${MINIRTC_BIN:-bin/minirtc}"
APP_SERVER_BIN="${APP_SERVER_BIN:-bin/minirtc-app-server}"

if [ -z "${MINIRTC_APP_ID:-}" ] || [ -z "${MINIRTC_APP_SECRET:-}" ]; then
  if [ ! -d "$DATA" ]; then
    echo "app-server: no data directory $DATA; start the server first (make run), or set MINIRTC_APP_ID and MINIRTC_APP_SECRET" >&2
    exit 1
  fi
  # The JSON is indented, one field per line; ids and secrets never hold quotes.
  apps=$("$MINIRTC_BIN" app list --data "$DATA" --json --show-secrets)
  MINIRTC_APP_ID=$(printf '%s\n' "$apps" | sed -n 's/^ *"id": *"\([^"]*\)".*/\1/p' | head -n1)
  MINIRTC_APP_SECRET=$(printf '%s\n' "$apps" | sed -n 's/^ *"secret": *"\([^"]*\)".*/\1/p' | head -n1)
  if [ -z "$MINIRTC_APP_ID" ] || [ -z "$MINIRTC_APP_SECRET" ]; then
    echo "app-server: no app in $DATA; start the server once (make run) to create the development app" >&2
    exit 1
  fi
fi
export MINIRTC_APP_ID MINIRTC_APP_SECRET
echo "app-server: app $MINIRTC_APP_ID, minirtc at ${MINIRTC_URL:-http://127.0.0.1:7880}" >&2
exec "$APP_SERVER_BIN" "$@"
