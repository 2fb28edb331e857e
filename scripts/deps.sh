#!/usr/bin/env bash
# Installs what building and testing minirtc needs, when it is missing, on
# Debian/Ubuntu. Prints the path of the go binary to use on its last line.
#
#   scripts/deps.sh build   Go, gcc, pkg-config and FFmpeg's -dev packages (the server
#                           links FFmpeg's libraries to transcode AAC<->Opus)
#   scripts/deps.sh test    the same, ffmpeg as the media test peer, Node.js 20+ and
#                           npm for the SDK tests, Debian's chromium for the browser SDK,
#                           postgresql (its service is not started) for the store tests
#
# Go comes from the Go module proxy as the official toolchain module
# (golang.org/toolchain), because Debian's golang package is too old.
set -euo pipefail

GO_VERSION="${MINIRTC_GO_VERSION:-1.26.8}"
GO_HOME="${MINIRTC_GO_HOME:-$HOME/.cache/minirtc/go$GO_VERSION}"
GOPROXY_URL="${GOPROXY:-https://proxy.golang.org}"
GOPROXY_URL="${GOPROXY_URL%%,*}"
[ "$GOPROXY_URL" = "direct" ] || [ "$GOPROXY_URL" = "off" ] && GOPROXY_URL=https://proxy.golang.org

say() { echo "deps: $*" >&2; }

# sudo when not root and sudo exists.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*"; return 1; fi
}

apt_updated=""
# apt_install PKG... installs the Debian packages that are not installed yet.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    say "missing ${missing[*]} and this is not a Debian/Ubuntu system: install them by hand"; return 1
  fi
  say "installing ${missing[*]}"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq >&2; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# go_ok BIN: is BIN a Go at least as new as GO_VERSION's minor (1.26)?
go_ok() {
  local v
  v=$("$1" env GOVERSION 2>/dev/null) || return 1
  v=${v#go}
  local want_minor=${GO_VERSION#1.}; want_minor=${want_minor%%.*}
  local minor=${v#1.}; minor=${minor%%[.a-z]*}
  [ "${v%%.*}" = "1" ] && [ "$minor" -ge "$want_minor" ]
}

ensure_go() {
  local candidate
  for candidate in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go "$GO_HOME/bin/go"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && go_ok "$candidate"; then
      echo "$candidate"; return 0
    fi
  done
  apt_install ca-certificates curl unzip
  local arch
  case "$(uname -m)" in
    x86_64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;;
    *) say "no Go toolchain for $(uname -m)"; return 1 ;;
  esac
  local zip="v0.0.1-go$GO_VERSION.linux-$arch.zip"
  local tmp; tmp=$(mktemp -d)
  say "downloading Go $GO_VERSION from $GOPROXY_URL"
  curl -fsSL -o "$tmp/go.zip" "$GOPROXY_URL/golang.org/toolchain/@v/$zip"
  unzip -q "$tmp/go.zip" -d "$tmp"
  mkdir -p "$(dirname "$GO_HOME")"
  rm -rf "$GO_HOME"
  mv "$tmp/golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-$arch" "$GO_HOME"
  chmod +x "$GO_HOME"/bin/* "$GO_HOME"/pkg/tool/*/* 2>/dev/null || true
  rm -rf "$tmp"
  go_ok "$GO_HOME/bin/go" || { say "downloaded Go does not run"; return 1; }
  echo "$GO_HOME/bin/go"
}

# node_ok: is there a Node.js 20 or newer with npm?
node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null &&
    [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 20 ]
}

ensure_node() {
  node_ok && return 0
  apt_install nodejs npm || true
  node_ok && return 0
  say "the WeChat SDK's tests need Node.js 20 or newer with npm; found $(node --version 2>/dev/null || echo none)."
  say "Debian 13 and Ubuntu 24.10 ship it; elsewhere install Node.js 20 (nodejs.org) and run make test again."
  return 1
}

# FFmpeg 5.1 (Debian 12) for internal/transcode: cgo needs gcc and
# pkg-config, and go-astiav links all of these libraries.
FFMPEG_DEV=(gcc libc6-dev pkg-config libavcodec-dev libavformat-dev libavfilter-dev
  libavdevice-dev libswscale-dev libswresample-dev libavutil-dev libopus-dev)

# ensure_postgresql installs Debian's postgresql package (initdb and the
# server; the store tests start a throwaway cluster of their own with them,
# see internal/store/pgtest) without starting its service: a policy-rc.d that
# answers 101 makes invoke-rc.d and deb-systemd-invoke leave services alone
# during the install. An existing policy-rc.d (containers have one) is kept.
ensure_postgresql() {
  dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed" && return 0
  local policy=/usr/sbin/policy-rc.d added="" rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# minirtc scripts/deps.sh: do not start services while installing postgresql\nexit 101\n' |
      as_root tee "$policy" >/dev/null && as_root chmod 0755 "$policy" && added=1
  fi
  apt_install postgresql || rc=$?
  if [ -n "$added" ]; then as_root rm -f "$policy"; fi
  return "$rc"
}

what="${1:-build}"
case "$what" in
  build)
    apt_install "${FFMPEG_DEV[@]}"
    ensure_go
    ;;
  test)
    # gcc: cgo and the race detector. ffmpeg: the real RTMP/FLV peer of
    # the media tests (pushes, plays and decodes). Node.js + npm: the WeChat
    # SDK's tests (vitest needs Node 20 or newer). chromium: the browser
    # SDK's tests drive Debian's Chromium (never a downloaded browser).
    apt_install "${FFMPEG_DEV[@]}" ffmpeg chromium
    ensure_postgresql
    ensure_node
    ensure_go
    ;;
  *)
    say "usage: $0 build|test"; exit 2 ;;
esac
