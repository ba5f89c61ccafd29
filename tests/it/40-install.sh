#!/usr/bin/env bash
# 40-install: `make install DESTDIR=... PREFIX=/usr` lays out every file
# (tools, libconnredir and libconnredir-winsock with their sonames and
# symbol versions, public headers, pkg-config files, man pages, bash completion, systemd units, example
# configuration) and nothing else; examples/records-proxy.c builds against
# the installed headers and library through pkg-config, static and shared,
# and both builds work as chained proxies of two services;
# examples/wfp-tcp-proxy.c builds the same way against libconnredir-winsock; the installed
# bash completion completes commands, options and the instance's service
# names; `make uninstall` removes every file install put there, and keeps
# a configuration of the user's.
. "$(dirname "$0")/../lib.sh"

DEST=$WORK/dest
USR=$DEST/usr

make -s -C "$T_ROOT" install DESTDIR="$DEST" PREFIX=/usr >"$WORK/install.log" 2>&1
rc=$?
check "make install DESTDIR=... PREFIX=/usr exits 0" [ "$rc" = 0 ]
[ "$rc" = 0 ] || { cat "$WORK/install.log"; exit; }

# --- the layout ---------------------------------------------------------------
expected=(
	usr/sbin/connredir
	usr/sbin/connredir-apply-dir
	usr/lib/libconnredir.a
	usr/lib/libconnredir.so.1
	usr/lib/libconnredir.so
	usr/lib/libconnredir-winsock.a
	usr/lib/libconnredir-winsock.so.1
	usr/lib/libconnredir-winsock.so
	usr/lib/pkgconfig/connredir.pc
	usr/lib/pkgconfig/connredir-winsock.pc
	usr/share/bash-completion/completions/connredir
	usr/lib/systemd/system/connredir.service
	usr/lib/systemd/system/connredir-proxy@.service
	usr/lib/systemd/system/connredir.path
	usr/lib/systemd/system/connredir-reload.service
	etc/connredir/connredir.conf.example
	etc/connredir/proxy-firewall.conf.example
)
[ -x "$BUILD/connredir-proxy" ] && expected+=(usr/sbin/connredir-proxy)
for h in "$T_ROOT"/include/connredir/*.h; do
	expected+=("usr/include/connredir/$(basename "$h")")
done
for m in "$T_ROOT"/man/*.[1-8]; do
	expected+=("usr/share/man/man${m##*.}/$(basename "$m")")
done
for f in "${expected[@]}"; do
	check "installed: /$f" [ -e "$DEST/$f" ]
done
(cd "$DEST" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) >"$WORK/have"
printf '%s\n' "${expected[@]}" | sort >"$WORK/want"
check "nothing else is installed" diff "$WORK/want" "$WORK/have"
check "man/connredir.conf.5 is installed in man5" [ -f "$USR/share/man/man5/connredir.conf.5" ]

check "the tools are executable" eval '[ -x "$USR/sbin/connredir" ] && [ -x "$USR/sbin/connredir-apply-dir" ]'
check "the installed connredir runs (--version)" grep -q "^connredir 0" <<<"$("$USR/sbin/connredir" --version)"
check "libconnredir.so -> libconnredir.so.1" [ "$(readlink "$USR/lib/libconnredir.so")" = libconnredir.so.1 ]
check "soname libconnredir.so.1" grep -q 'SONAME.*\[libconnredir.so.1\]' <<<"$(readelf -d "$USR/lib/libconnredir.so.1")"
check "exported symbols carry the version LIBCONNREDIR_0.1" \
	grep -q 'LIBCONNREDIR_0.1.*connredir_set_records' <<<"$(objdump -T "$USR/lib/libconnredir.so.1")"
check "no internal symbol is exported" eval '! objdump -T "$USR/lib/libconnredir.so.1" | grep -q " crd_"'
check "libconnredir exports the native API only (no Winsock name)" \
	eval '! objdump -T "$USR/lib/libconnredir.so.1" | grep -E -q "LIBCONNREDIR.* (WSA|closesocket|ioctlsocket|connredir_ws_)"'
WS_SO=$USR/lib/libconnredir-winsock.so.1
check "libconnredir-winsock.so -> libconnredir-winsock.so.1" \
	[ "$(readlink "$USR/lib/libconnredir-winsock.so")" = libconnredir-winsock.so.1 ]
check "soname libconnredir-winsock.so.1, needs libconnredir.so.1" eval \
	'readelf -d "$WS_SO" | grep -q "SONAME.*\[libconnredir-winsock.so.1\]" &&
	 readelf -d "$WS_SO" | grep -q "NEEDED.*\[libconnredir.so.1\]"'
check "the Winsock symbols carry the version LIBCONNREDIR_WINSOCK_0.1" \
	grep -q 'LIBCONNREDIR_WINSOCK_0.1.*WSAIoctl' <<<"$(objdump -T "$WS_SO")"
check "libconnredir-winsock exports no internal symbol, no native one" \
	eval '! objdump -T "$WS_SO" | grep -v -e "\*UND\*" -e " connredir_ws_" | grep -E -q " (crd_|connredir_)"'
check "the headers are the public ones, unchanged" diff -r "$T_ROOT/include/connredir" "$USR/include/connredir"
check "the units name the installed paths" grep -q \
	'^ExecStart=/usr/sbin/connredir-apply-dir /etc/connredir$' \
	"$USR/lib/systemd/system/connredir.service"
check "the example configuration is the one in dist/" cmp -s "$T_ROOT/dist/connredir.conf" \
	"$DEST/etc/connredir/connredir.conf.example"

# --- pkg-config and the example program --------------------------------------
PC=(env PKG_CONFIG_PATH="$USR/lib/pkgconfig" pkg-config --define-variable=prefix="$USR")
check "pkg-config knows connredir $("${PC[@]}" --modversion connredir)" "${PC[@]}" --exists connredir
# (echo: pkg-config ends its output with a blank)
cflags=$(echo $("${PC[@]}" --cflags connredir)) libs=$(echo $("${PC[@]}" --libs connredir))
check "pkg-config --cflags points at the installed headers ($cflags)" [ "$cflags" = "-I$USR/include" ]
check "pkg-config --libs: -L the installed library -lconnredir ($libs)" [ "$libs" = "-L$USR/lib -lconnredir" ]
# A library built with `make SANITIZE=1` needs the sanitizers' runtime in
# the programs that use it too.
SAN=
nm "$BUILD/libconnredir.a" 2>/dev/null | grep -q __asan_ && SAN="-fsanitize=address,undefined"
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror $SAN -o "$WORK/rp-shared" "$T_ROOT/examples/records-proxy.c" $cflags $libs \
	2>"$WORK/cc.log"
check "records-proxy builds with the shared library" [ -x "$WORK/rp-shared" ]
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror $SAN -o "$WORK/rp-static" "$T_ROOT/examples/records-proxy.c" $cflags \
	-Wl,-Bstatic $("${PC[@]}" --static --libs connredir) -Wl,-Bdynamic 2>>"$WORK/cc.log"
check "records-proxy builds with the static library" [ -x "$WORK/rp-static" ]
# The Windows-style example, against libconnredir-winsock.
wlibs=$(echo $("${PC[@]}" --libs connredir-winsock))
check "pkg-config --libs connredir-winsock: -lconnredir-winsock ($wlibs)" \
	[ "$wlibs" = "-L$USR/lib -lconnredir-winsock" ]
# (-rpath-link: the linker looks for libconnredir.so.1, which
# libconnredir-winsock.so.1 needs, in the system's directories, not in DESTDIR)
# shellcheck disable=SC2086
cc -Wall -Werror $SAN -o "$WORK/wfp-shared" "$T_ROOT/examples/wfp-tcp-proxy.c" \
	$("${PC[@]}" --cflags connredir-winsock) $wlibs -Wl,-rpath-link,"$USR/lib" -pthread \
	2>>"$WORK/cc.log"
check "wfp-tcp-proxy builds with the shared libconnredir-winsock" [ -x "$WORK/wfp-shared" ]
# shellcheck disable=SC2086
cc -Wall -Werror $SAN -o "$WORK/wfp-static" "$T_ROOT/examples/wfp-tcp-proxy.c" \
	$("${PC[@]}" --cflags connredir-winsock) \
	-Wl,-Bstatic $("${PC[@]}" --static --libs connredir-winsock) -Wl,-Bdynamic -pthread \
	2>>"$WORK/cc.log"
check "wfp-tcp-proxy builds with the static libconnredir-winsock" [ -x "$WORK/wfp-static" ]
check "the shared build uses the installed libconnredir-winsock.so.1 and libconnredir.so.1" eval \
	'l=$(LD_LIBRARY_PATH=$USR/lib ldd "$WORK/wfp-shared");
	 grep -q "libconnredir-winsock.so.1 => $USR/lib/libconnredir-winsock.so.1" <<<"$l" &&
	 grep -q "libconnredir.so.1 => $USR/lib/libconnredir.so.1" <<<"$l"'
check "the static build needs no libconnredir*.so" eval '! ldd "$WORK/wfp-static" | grep -q libconnredir'
check "both builds run (--help)" eval \
	'LD_LIBRARY_PATH=$USR/lib "$WORK/wfp-shared" --help >/dev/null && "$WORK/wfp-static" --help >/dev/null'
[ -s "$WORK/cc.log" ] && cat "$WORK/cc.log"
check "the shared build uses the installed libconnredir.so.1" grep -q \
	"libconnredir.so.1 => $USR/lib/libconnredir.so.1" <<<"$(LD_LIBRARY_PATH=$USR/lib ldd "$WORK/rp-shared")"
check "the static build needs no libconnredir.so" eval '! ldd "$WORK/rp-static" | grep -q libconnredir'

# Both as proxies of a chain: static (weight 20) first, shared (10) next.
crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
crd service add ex1 --proxy 127.0.0.1:15001 --weight 20 --owner-cgroup p1 >/dev/null
crd service add ex2 --proxy 127.0.0.1:15002 --weight 10 --owner-cgroup p2 >/dev/null
start_origin 127.0.0.1:8080
bg p1 "$WORK/rp-static" ex1 127.0.0.1:15001 >"$WORK/p1.log" 2>&1
bg p2 env LD_LIBRARY_PATH="$USR/lib" "$WORK/rp-shared" ex2 127.0.0.1:15002 >"$WORK/p2.log" 2>&1
wait_lines "$WORK/p1.log" 1 && wait_lines "$WORK/p2.log" 1 ||
	fail "the example proxies did not start: $(cat "$WORK/p1.log" "$WORK/p2.log")"
bg app curl -s -o "$WORK/curl.out" --max-time 10 http://127.0.0.1:8080/hello
wait "$BG_PID"
check "curl reaches the origin through both example proxies" grep -q "origin ok" "$WORK/curl.out"
wait_lines "$WORK/p1.log" 2
wait_lines "$WORK/p2.log" 2
l1=$(grep '^flow' "$WORK/p1.log") l2=$(grep '^flow' "$WORK/p2.log")
check "static build: hop 0, REDIRECTED_BY_SELF, app curl, dst 127.0.0.1:8080 ($l1)" \
	grep -q "hop 0 state REDIRECTED_BY_SELF app curl pid [0-9]* dst 127.0.0.1 port 8080" <<<"$l1"
check "shared build: hop 1 of the same flow ($l2)" \
	grep -q "hop 1 state REDIRECTED_BY_SELF app curl" <<<"$l2"
check "one flow id along the chain" eval '[ -n "$l1" ] && [ "${l1%% service*}" = "${l2%% service*}" ]'

# --- bash completion ---------------------------------------------------------
complete_words() { # WORD...: what the installed completion offers for the last
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _connredir
		printf "%s\n" "${COMPREPLY[@]}"' _ "$USR/share/bash-completion/completions/connredir" "$@" |
		sort | tr '\n' ' '
}
check "completion: commands" [ "$(complete_words connredir a)" = "apply attach " ]
check "completion: apply's options" [ "$(complete_words connredir apply --)" = "--check --detach --help " ]
check "completion: service add options" [ "$(complete_words connredir service add x --own)" = "--owner-cgroup --owner-uid " ]
check "completion: --fail values" [ "$(complete_words connredir service add x --fail "")" = "closed open " ]
check "completion: service del offers the instance's services" \
	[ "$(complete_words "$CRD" --instance "$INST" service del "")" = "ex1 ex2 " ]

# --- uninstall -----------------------------------------------------------------
echo "# mine" >"$DEST/etc/connredir/connredir.conf"
make -s -C "$T_ROOT" uninstall DESTDIR="$DEST" PREFIX=/usr >"$WORK/uninstall.log" 2>&1
check "make uninstall exits 0" [ $? = 0 ]
(cd "$DEST" && find . \( -type f -o -type l \) | sed 's|^\./||') >"$WORK/left"
check "make uninstall removed every installed file, kept the user's connredir.conf" \
	[ "$(cat "$WORK/left")" = etc/connredir/connredir.conf ]
check "make uninstall removed include/connredir" [ ! -e "$USR/include/connredir" ]
