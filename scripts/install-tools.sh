#!/usr/bin/env bash
# install-tools.sh — install what a fresh machine lacks to build and test Herald.
#
# Checks Go, make, git, gcc (go test -race), Node.js and npm, installing the missing ones
# from Debian's packages. Go itself is not installed here: the machines ship it in
# /usr/local/go and the go command fetches the toolchain go.mod asks for.
#
# Usage: scripts/install-tools.sh [--chromium]
#   --chromium   also install Debian's chromium (the console's browser tests drive it through
#                playwright-core; `playwright install` is never used), chromium-driver and a
#                CJK font so screenshots show Chinese; INSTALL_CHROMIUM=1 does the same.
set -euo pipefail

WANT_CHROMIUM="${INSTALL_CHROMIUM:-0}"
for arg in "$@"; do
	case "$arg" in
	--chromium) WANT_CHROMIUM=1 ;;
	-h | --help)
		sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "install-tools: unknown argument: $arg" >&2
		exit 2
		;;
	esac
done

# The minimum Node.js the UI tool chain (Vite 8, Vitest 4) runs on.
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=19

APT_UPDATED=0
apt_install() {
	command -v apt-get >/dev/null || { echo "install-tools: apt-get not found; install $* by hand" >&2; exit 1; }
	[ "$(id -u)" = 0 ] || { echo "install-tools: installing $* needs root" >&2; exit 1; }
	if [ "$APT_UPDATED" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
		APT_UPDATED=1
	fi
	echo "install-tools: apt-get install $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# Go is looked for in PATH and in /usr/local/go.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null || { echo "install-tools: go not found (expected /usr/local/go/bin/go)" >&2; exit 1; }

missing=()
command -v make >/dev/null || missing+=(make)
command -v git >/dev/null || missing+=(git)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ "$WANT_CHROMIUM" = 1 ]; then
	command -v chromium >/dev/null || missing+=(chromium)
	command -v chromedriver >/dev/null || missing+=(chromium-driver)
	fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-zenhei)
fi
if [ "${#missing[@]}" -gt 0 ]; then
	apt_install "${missing[@]}"
fi

node_version="$(node --version)"
IFS=. read -r major minor _ <<<"${node_version#v}"
if [ "$major" -lt "$NODE_MIN_MAJOR" ] || { [ "$major" -eq "$NODE_MIN_MAJOR" ] && [ "$minor" -lt "$NODE_MIN_MINOR" ]; }; then
	echo "install-tools: Node.js $node_version is too old for the UI build (need >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR)" >&2
	exit 1
fi

echo "install-tools: $(go version | cut -d' ' -f3-), node $node_version, npm $(npm --version)$([ "$WANT_CHROMIUM" = 1 ] && printf ', %s' "$(chromium --version 2>/dev/null)")"
