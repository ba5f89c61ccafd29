#!/usr/bin/env bash
# 44-build-deps: building never installs system packages. `make -n -B` (every
# recipe of a plain `make`, printed, not run) and `make -n -B install` never
# run scripts/install-deps.sh to install nor apt-get; the targets that need
# packages (test, test-load, demo, fuzz, bench) run it first and print one
# line saying so; a plain `make` that lacks a build package stops before
# building, naming the package and scripts/install-deps.sh, and calls no
# apt-get. apt-get and dpkg-query are replaced by fakes on PATH (the fake
# apt-get only logs), so nothing here can install anything.
. "$(dirname "$0")/../lib.sh"

FAKE=$WORK/bin
mkdir -p "$FAKE"
printf '#!/bin/sh\necho "apt-get $*" >>"%s/apt.log"\n' "$WORK" >"$FAKE/apt-get"
cp "$FAKE/apt-get" "$FAKE/apt"
chmod +x "$FAKE/apt-get" "$FAKE/apt"
apt_calls() { cat "$WORK/apt.log" 2>/dev/null; }
mk() { PATH=$FAKE:$PATH make --no-print-directory -C "$T_ROOT" "$@"; }

# The harness can see an install: install-deps.sh with a package "missing"
# (a fake dpkg-query hides libinih-dev) calls the fake apt-get.
REAL_DPKG=$(command -v dpkg-query)
mkdir -p "$WORK/hide"
printf '#!/bin/sh\n"%s" "$@" | grep -v "^libinih-dev "\n' "$REAL_DPKG" >"$WORK/hide/dpkg-query"
chmod +x "$WORK/hide/dpkg-query"
PATH=$WORK/hide:$FAKE:$PATH "$T_ROOT/scripts/install-deps.sh" >"$WORK/out" 2>&1
check "control: install-deps.sh with libinih-dev missing calls apt-get (the fake sees it)" \
	grep -q "^apt-get install .*libinih-dev" <<<"$(apt_calls)"
rm -f "$WORK/apt.log"

# --- a plain make: no install -------------------------------------------------
mk -n -B >"$WORK/all.n" 2>&1
rc=$?
check "make -n -B exits 0 and prints the build ($(wc -l <"$WORK/all.n") lines)" \
	eval '[ $rc = 0 ] && grep -q -- "-target bpf" "$WORK/all.n"'
check "make -n -B: no recipe runs install-deps.sh or apt-get" \
	eval '! grep -E "install-deps|apt-get|apt " "$WORK/all.n"'
mk -n -B install DESTDIR="$WORK/dest" >"$WORK/install.n" 2>&1
check "make -n -B install: no recipe runs install-deps.sh or apt-get" \
	eval '! grep -E "install-deps|apt-get|apt " "$WORK/install.n"'
mk -s >"$WORK/all.out" 2>&1
check "make (real, on the built tree) exits 0 and says nothing about packages" \
	eval '[ $? = 0 ] && ! grep -q install-deps "$WORK/all.out"'
check "no apt-get was called by any of them" [ -z "$(apt_calls)" ]

# --- a missing build package: a clear stop ------------------------------------
PATH=$WORK/hide:$PATH mk -n >"$WORK/missing.out" 2>&1
rc=$?
check "make with libinih-dev missing fails before building" eval '[ $rc != 0 ] &&
	! grep -q -- "-target bpf" "$WORK/missing.out"'
check "... naming the package and scripts/install-deps.sh" \
	grep -q "missing Debian packages: libinih-dev: .*run scripts/install-deps.sh" "$WORK/missing.out"
sed 's/^/    /' "$WORK/missing.out"
PATH=$WORK/hide:$PATH mk -n clean >"$WORK/clean.out" 2>&1
check "make clean needs no build package" [ $? = 0 ]
check "still no apt-get" [ -z "$(apt_calls)" ]

# --- the targets that need packages: install through the script, and say so ---
for t in test test-load demo fuzz bench; do
	mk -n "$t" >"$WORK/$t.n" 2>&1
	want="echo \"install-deps: checking Debian packages for \\\`make $t' (scripts/install-deps.sh)\"
scripts/install-deps.sh
make --no-print-directory run-$t"
	check "make -n $t: first the line saying so, then scripts/install-deps.sh, then the job" \
		[ "$(head -n 3 "$WORK/$t.n")" = "$want" ]
done
check "make -n test/...: still no apt-get run" [ -z "$(apt_calls)" ]
