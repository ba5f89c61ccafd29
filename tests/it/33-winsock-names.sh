#!/usr/bin/env bash
# 33-winsock-names: the Winsock surface real proxies compile against.
# 1. The names connredir-winsock(3) lists under SUPPORTED NAMES are each
#    defined in winsock.h and used in 33-winsock-names.c (outside comments),
#    and every name winsock.h defines is listed there or under UNSUPPORTED
#    NAMES: the page, the header and the test cannot drift apart.
# 2. 33-winsock-names.c, which includes only winsock.h, compiles and links
#    as C (gcc -std=gnu11 -Wall -Werror) and as C++ (g++ -Wall -Werror),
#    C++ with int * / unsigned long * lengths and NULL arguments.
# 3. SO_ORIGINAL_DST and IP6T_SO_ORIGINAL_DST work with winsock.h whatever
#    the include order of <linux/netfilter_ipv4.h> and ip6_tables.h, in C and C++.
# 4. 33-winsock-cxx.cc runs: the C++ overloads take int * and unsigned long *
#    lengths and counts and give them back right; NULL reaches libc.
. "$(dirname "$0")/../lib.sh"

MAN=$T_ROOT/man/connredir-winsock.3
HDR=$T_ROOT/include/connredir/winsock.h
SRC=$T_ROOT/tests/it/33-winsock-names.c
LIBS=("$BUILD/libconnredir-winsock.a" "$BUILD/libconnredir.a")

command -v g++ >/dev/null || { skip "g++ is missing (scripts/install-deps.sh installs it)"; exit; }

# The names in the .nf blocks of a section of the page.
man_names() { # SECTION
	awk -v sec="$1" '
		/^\.SH / { on = ($0 == ".SH " sec); next }
		on && /^\.nf/ { nf = 1; next }
		on && /^\.fi/ { nf = 0; next }
		on && nf { for (i = 1; i <= NF; i++) print $i }' "$MAN" | sort -u
}
# Every word of a section (for the UNSUPPORTED list, which is prose).
man_words() { # SECTION
	awk -v sec="$1" '/^\.SH / { on = ($0 == ".SH " sec); next } on' "$MAN" |
		tr -c 'A-Za-z0-9_\n' ' ' | tr ' ' '\n' | grep . | sort -u
}
# The names winsock.h defines: macros, functions, typedef names. Not its
# internals (crd_*, CRD_*, the include guard) nor the libc names it defines
# only when <linux/in.h> came first (see INCLUDE ORDER).
header_names() {
	{
		sed -n 's/^#define \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$HDR"
		grep -E '^(static inline |inline )?[A-Za-z_][A-Za-z0-9_ ]*[ *]+[A-Za-z_][A-Za-z0-9_]*\(' "$HDR" |
			grep -v '^typedef' | sed -E 's/^[^(]*[ *]([A-Za-z_][A-Za-z0-9_]*)\(.*/\1/'
		sed -n 's/^typedef[^(]*(\*\([A-Za-z_][A-Za-z0-9_]*\)).*/\1/p' "$HDR"
		grep -E '^typedef [^(]*;' "$HDR" | sed -E 's/;.*//' | tr -d '*' |
			awk -F, '{ n = split($1, w, " "); print w[n]; for (i = 2; i <= NF; i++) print $i }' |
			tr -d ' '
		grep -E '^\} [A-Za-z_]' "$HDR" | sed -E 's/^\} //; s/;.*//' | tr ',*' '\n ' | tr -d ' '
	} | grep -E '^[A-Za-z_][A-Za-z0-9_]*$' |
		grep -vE '^(crd_|CRD_|CONNREDIR_WINSOCK_H$|htons$|ntohs$|htonl$|ntohl$|INET6?_ADDRSTRLEN$|SOL_IPV?6?$)' |
		sort -u
}

supported=$(man_names "SUPPORTED NAMES")
unsupported=$(man_words "UNSUPPORTED NAMES")
[ "$(wc -l <<<"$supported")" -gt 200 ] && pass "the page lists $(wc -l <<<"$supported") supported names" ||
	fail "the page's SUPPORTED NAMES has only $(wc -l <<<"$supported") names: not parsed?"

# The source without its comments.
code=$(sed -E 's#/\*.*\*/##; s#//.*##' "$SRC" | sed '/\/\*/,/\*\//d')
missing_src=() missing_hdr=()
for n in $supported; do
	grep -qw -- "$n" <<<"$code" || missing_src+=("$n")
	grep -qw -- "$n" "$HDR" || missing_hdr+=("$n")
done
check "every supported name is used in 33-winsock-names.c (missing: ${missing_src[*]:-none})" \
	[ "${#missing_src[@]}" = 0 ]
check "every supported name is in winsock.h (missing: ${missing_hdr[*]:-none})" \
	[ "${#missing_hdr[@]}" = 0 ]

unlisted=()
for n in $(header_names); do
	grep -qx -- "$n" <<<"$supported" || grep -qx -- "$n" <<<"$unsupported" || unlisted+=("$n")
done
check "every name winsock.h defines is in the page (unlisted: ${unlisted[*]:-none})" \
	[ "${#unlisted[@]}" = 0 ]

# Compile and link, only winsock.h included; then again with the kernel's
# <linux/netfilter_ipv4.h> (so <linux/in.h>) included first.
for first in "" linux/netfilter_ipv4.h; do
	for lang in c c++; do
		if [ $lang = c ]; then cc=(gcc -std=gnu11 -x c); else cc=(g++ -x c++); fi
		what="every supported name compiles and links as $lang (-Wall -Werror)${first:+, <$first> first}"
		if "${cc[@]}" -Wall -Werror -I"$T_ROOT/include" ${first:+-include "$first"} "$SRC" \
			-x none "${LIBS[@]}" -pthread -o "$WORK/names-$lang" 2>"$WORK/cc-$lang.log"; then
			pass "$what"
		else
			fail "$what: $(head -c 1500 "$WORK/cc-$lang.log")"
		fi
	done
done

# SO_ORIGINAL_DST with winsock.h, the kernel headers before, after, or not at all.
nf='#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>'
ws='#include <connredir/winsock.h>'
body='int orig_dst(SOCKET s, SOCKADDR_STORAGE *ss);
int orig_dst(SOCKET s, SOCKADDR_STORAGE *ss)
{
	socklen_t len = sizeof(*ss);
	return getsockopt(s, SOL_IP, SO_ORIGINAL_DST, ss, &len) == 0 ||
	       getsockopt(s, SOL_IPV6, IP6T_SO_ORIGINAL_DST, ss, &len) == 0 ? (int)htons(1) : 0;
}'
for order in before after none; do
	case $order in
	before) printf '%s\n%s\n%s\n' "$nf" "$ws" "$body" ;;
	after) printf '%s\n%s\n%s\n' "$ws" "$nf" "$body" ;;
	none) printf '%s\n%s\n' "$ws" "$body" ;;
	esac >"$WORK/order-$order.c"
	for lang in c c++; do
		if [ $lang = c ]; then cc=(gcc -std=gnu11 -x c); else cc=(g++ -x c++); fi
		if "${cc[@]}" -Wall -Werror -I"$T_ROOT/include" -c "$WORK/order-$order.c" \
			-o "$WORK/order.o" 2>"$WORK/order.log"; then
			pass "SO_ORIGINAL_DST, netfilter headers $order winsock.h, $lang"
		else
			fail "SO_ORIGINAL_DST, netfilter headers $order winsock.h, $lang: $(head -c 600 "$WORK/order.log")"
		fi
	done
done

# The C++ overloads at run time (loopback of the test's namespace).
if g++ -Wall -Werror -I"$T_ROOT/include" "$T_ROOT/tests/it/33-winsock-cxx.cc" "${LIBS[@]}" -pthread \
	-o "$WORK/cxx" 2>"$WORK/cxx.log"; then
	"$WORK/cxx" >"$WORK/cxx.out" 2>&1
	rc=$?
	while read -r verdict what; do
		case $verdict in
		ok) pass "C++: $what" ;;
		*) fail "C++: $what" ;;
		esac
	done <"$WORK/cxx.out"
	n=$(grep -c '^ok ' "$WORK/cxx.out")
	check "C++: the overload program exits 0 and passed all 13 checks ($n)" [ "$rc" = 0 -a "$n" = 13 ]
else
	fail "33-winsock-cxx.cc does not compile: $(head -c 1500 "$WORK/cxx.log")"
fi
