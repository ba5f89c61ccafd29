#!/bin/sh
# install-deps.sh - install the Debian packages connredir needs to build, test,
# fuzz and benchmark. Every make target that builds calls it; it does nothing
# when everything is present. Needs root only when something is missing.
#
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --check  exit 1 and list what is missing
set -eu

PKGS="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config
libclang-rt-14-dev iproute2 curl procps psmisc valgrind dnsutils dnsmasq-base
nftables iptables redsocks openssl libinih-dev systemd man-db python3"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0
if [ "${1:-}" = "--check" ]; then
	echo "missing Debian packages:$missing" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: run as root (or: apt-get install$missing)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
