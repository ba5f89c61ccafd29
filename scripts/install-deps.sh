#!/bin/sh
# install-deps.sh - the one place that installs the Debian packages connredir
# needs. Building never calls it to install: a plain `make` only checks the
# build packages (--check --build) and stops, naming this script, if one is
# missing. The targets that need packages (make test, test-load, demo, fuzz,
# bench) call it, say so, and it does nothing when everything is present.
# Needs root only when something is missing.
#
#   scripts/install-deps.sh                  install what is missing (all)
#   scripts/install-deps.sh --check          exit 1 and list what is missing
#   --build, with either: only the packages that building needs (make,
#   make install; deploy/Containerfile installs these)
set -eu

# Building: make, the compilers, libbpf/bpftool (BPF objects, skeletons),
# libinih (connredir apply).
BUILD_PKGS="make gcc clang libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config
libinih-dev"
# Tests, demo, fuzzing, benchmarks, the deploy/ manifests (python3-yaml).
TEST_PKGS="llvm libclang-rt-14-dev iproute2 curl procps psmisc valgrind dnsutils
dnsmasq-base nftables iptables redsocks socat openssl systemd man-db python3
python3-yaml util-linux"

check=0 pkgs="$BUILD_PKGS $TEST_PKGS"
for a in "$@"; do
	case $a in
	--check) check=1 ;;
	--build) pkgs=$BUILD_PKGS ;;
	*)
		echo "install-deps: unknown option '$a' (usage: install-deps.sh [--check] [--build])" >&2
		exit 2
		;;
	esac
done

if ! command -v dpkg-query >/dev/null; then
	# Not Debian: nothing to check against; the build's own errors tell.
	[ "$check" = 1 ] && exit 0
	# shellcheck disable=SC2086
	echo "install-deps: not a Debian system (no dpkg-query); install the equivalents of:" $pkgs >&2
	exit 1
fi

# One query for all (a plain `make` runs this): "NAME STATUS" per package.
# shellcheck disable=SC2086
installed=" $(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $pkgs 2>/dev/null |
	awk '$2 == "installed" { printf "%s ", $1 }')"
missing=""
for p in $pkgs; do
	case $installed in *" $p "*) ;; *) missing="$missing $p" ;; esac
done

[ -z "$missing" ] && exit 0
if [ "$check" = 1 ]; then
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
