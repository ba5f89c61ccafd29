#!/usr/bin/env bash
# 26-proxy-options: misuse gives one clear error naming the option and the
# bad value, then the usage, on stderr, and exit status 1; start-up errors
# (the log, the listener, claiming it for the service) name the object and
# exit 1. --help and --version exit 0, and the man page documents every
# option --help lists.
. "$(dirname "$0")/../lib.sh"

PROXY=$BUILD/connredir-proxy
[ -x "$PROXY" ] || { fail "no $PROXY (run make)"; exit; }
MAN=$T_ROOT/man/connredir-proxy.8

# misuse "ERROR LINE" ARGS...: exit 1, stderr's first line, usage, no stdout.
misuse() {
	local want=$1 rc
	shift
	"$PROXY" "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	check "$* -> '$want'" [ "$rc" = 1 -a "$(head -n1 "$WORK/err")" = "connredir-proxy: $want" \
		-a ! -s "$WORK/out" ]
	check "$* -> usage on stderr" grep -q "^Usage: connredir-proxy" "$WORK/err"
}
# startup_error "ERROR LINE" CGROUP|- ARGS...: exit 1 with that error alone.
# (RUN_WITH=prlimit... runs the proxy under that command.)
startup_error() {
	local want=$1 cg=$2 rc
	shift 2
	if [ "$cg" = - ]; then
		timeout 5 ${RUN_WITH:-} "$PROXY" "$@" >"$WORK/out" 2>"$WORK/err"
	else
		in_cg "$cg" timeout 5 ${RUN_WITH:-} "$PROXY" "$@" >"$WORK/out" 2>"$WORK/err"
	fi
	rc=$?
	check "$* -> '${want:0:60}...' (rc=$rc)" [ "$rc" = 1 -a "$(cat "$WORK/err")" = "connredir-proxy: $want" ]
}

L=(--listen 127.0.0.1:15001)
S=(--service Q)
misuse "--listen '1.2.3.4:x': invalid port" --listen 1.2.3.4:x "${S[@]}"
misuse "--listen '127.0.0.1:70000': port out of range (1-65535)" --listen 127.0.0.1:70000 "${S[@]}"
misuse "--listen '::1:80': IPv6 address must be in brackets" --listen ::1:80 "${S[@]}"
misuse "--listen ADDR:PORT is required" "${S[@]}"
misuse "--service NAME is required (or --no-claim)" "${L[@]}"
misuse "--service 'a b': invalid character in name" "${L[@]}" --service 'a b'
misuse "--instance '-x': name must not start with '.' or '-'" "${L[@]}" "${S[@]}" --instance -x
misuse "--inspect 'foo': unknown inspector (log, http, tls, block=RULE)" "${L[@]}" "${S[@]}" --inspect log,foo
misuse "--inspect '': empty inspector name" "${L[@]}" "${S[@]}" --inspect log,,http
misuse "--inspect 'http': inspector given twice" "${L[@]}" "${S[@]}" --inspect http,tls,http
misuse "--inspect 'log=1': this inspector takes no argument" "${L[@]}" "${S[@]}" --inspect log=1
misuse "--inspect 'block': needs a rule: block=dst:PREFIX, block=host:NAME or block=sni:NAME" \
	"${L[@]}" "${S[@]}" --inspect block
misuse "--inspect 'block=url:x': unknown rule kind (dst:, host:, sni:)" "${L[@]}" "${S[@]}" --inspect block=url:x
misuse "--inspect 'block=dst:10.0.0.1/8': host bits set" "${L[@]}" "${S[@]}" --inspect block=dst:10.0.0.1/8
misuse "--inspect 'block=dst:10.0.0.0/8:0': port out of range (1-65535)" "${L[@]}" "${S[@]}" --inspect block=dst:10.0.0.0/8:0
misuse "--inspect 'block=sni:*.': empty name" "${L[@]}" "${S[@]}" --inspect 'block=sni:*.'
misuse "--inspect 'block=host:ex*ample': a wildcard only as '*.' at the start" \
	"${L[@]}" "${S[@]}" --inspect 'block=host:ex*ample'
misuse "--max-flows 'abc': not a decimal number" "${L[@]}" "${S[@]}" --max-flows abc
misuse "--max-flows '0': must be at least 1" "${L[@]}" "${S[@]}" --max-flows 0
misuse "--max-flows '2000000': number out of range" "${L[@]}" "${S[@]}" --max-flows 2000000
misuse "--connect-timeout '0': must be above 0" "${L[@]}" "${S[@]}" --connect-timeout 0
misuse "--connect-timeout '-1': not a decimal number" "${L[@]}" "${S[@]}" --connect-timeout -1
misuse "--idle-timeout '1.2345': at most 3 decimals" "${L[@]}" "${S[@]}" --idle-timeout 1.2345
misuse "--drain-timeout '1.': not a number of seconds" "${L[@]}" "${S[@]}" --drain-timeout 1.
misuse "--log '': empty file name (use - for standard output)" "${L[@]}" "${S[@]}" --log ''
misuse "unknown option '--bogus'" "${L[@]}" "${S[@]}" --bogus
misuse "unknown option '-x'" "${L[@]}" "${S[@]}" -x
misuse "option '--listen' needs a value" "${S[@]}" --listen
misuse "unexpected argument 'extra'" "${L[@]}" "${S[@]}" extra

# --- start-up errors -----------------------------------------------------------
crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
crd service add Q --proxy 127.0.0.1:15001 --owner-cgroup pq >/dev/null
startup_error "--log '/nonexistent/x.log': No such file or directory" pq \
	"${L[@]}" "${S[@]}" --log /nonexistent/x.log
startup_error "service 'nosuch': no such redirect service (add it with 'connredir service add nosuch ...' before starting the proxy)" \
	pq "${L[@]}" --service nosuch
startup_error "service 'Q': --listen '127.0.0.1:15001': this process is not the service's proxy identity (see --owner-cgroup/--owner-uid of 'connredir service add')" \
	other "${L[@]}" "${S[@]}"
startup_error "service 'Q': --listen '127.0.0.1:15001': connredir is not attached to this process's cgroup (start the proxy inside the attached subtree, e.g. with 'connredir exec', or use --no-claim)" \
	- "${L[@]}" "${S[@]}"
"$TOOLS/crd-origin" 127.0.0.1:8080 >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.2
startup_error "--listen '127.0.0.1:8080': bind: Address already in use" pq \
	--listen 127.0.0.1:8080 "${S[@]}"
RUN_WITH="prlimit --nofile=1024:1024" startup_error \
	"--max-flows '1000': needs up to 6064 file descriptors, the limit (RLIMIT_NOFILE) is 1024: at most 160 flows fit" \
	pq "${L[@]}" "${S[@]}" --max-flows 1000

# --- a --listen that is not the service's --proxy: one warning line -----------
start_cproxy pq mism --instance "$INST" --service Q --listen 127.0.0.1:15009 &&
	check "--listen other than the service's --proxy: warned, naming both" grep -qF \
	"connredir-proxy: service 'Q': --listen '127.0.0.1:15009' is not its proxy address (127.0.0.1:15001)" \
	"$WORK/mism.err"
kill "$PX_PID"; wait "$PX_PID" 2>/dev/null
start_cproxy pq match --instance "$INST" --service Q --listen 127.0.0.1:15001 &&
	check "--listen that is the service's --proxy: no warning" eval '! grep -q "is not its proxy address" "$WORK/match.err"'
kill "$PX_PID"; wait "$PX_PID" 2>/dev/null

# --- help, version, man page ---------------------------------------------------
"$PROXY" --help >"$WORK/help" 2>"$WORK/err"
rc=$?
check "--help: exit 0, nothing on stderr" [ "$rc" = 0 -a ! -s "$WORK/err" ]
check "--help: the usage on stdout" grep -q "^Usage: connredir-proxy" "$WORK/help"
check "-h is --help" cmp -s "$WORK/help" <("$PROXY" -h)
check "--version: 'connredir-proxy N.N.N', exit 0" grep -Eq '^connredir-proxy [0-9]+\.[0-9]+\.[0-9]+$' \
	<<<"$("$PROXY" --version)"
if [ -f "$MAN" ]; then
	sed 's/\\-/-/g' "$MAN" >"$WORK/man.txt"
	for o in $(grep -o -- '--[a-z][a-z-]*' "$WORK/help" | sort -u); do
		check "the man page documents $o" grep -q -- "$o" "$WORK/man.txt"
	done
else
	fail "no man page $MAN"
fi

# The audit log is never lost silently: an unwritable --log refuses to start;
# a log that fails at run time (a full disk: /dev/full) is warned about at
# once, and the dropped lines are counted at exit.
"$PROXY" --no-claim --listen 127.0.0.1:19998 --log /proc/nonexistent/x.log >/dev/null 2>"$WORK/err"
rc=$?
check "--log to an unwritable path: exit 1, names it" \
	eval '[ $rc = 1 ] && grep -qF "connredir-proxy: --log '"'"'/proc/nonexistent/x.log'"'"'" "$WORK/err"'
"$PROXY" --no-claim --listen 127.0.0.1:19998 --log /dev/full 2>"$WORK/full.err" &
fp=$!
PIDS+=("$fp")
eventually grep -q "listening on" "$WORK/full.err"
"$TOOLS/crd-client" --bytes 10 --timeout 2 127.0.0.1 19998 >/dev/null 2>&1
eventually grep -q "a log line could not be written (No space left on device); 1 dropped" "$WORK/full.err"
check "a log write that fails at run time is warned about at once" \
	grep -q "a log line could not be written (No space left on device)" "$WORK/full.err"
kill -TERM "$fp"
wait "$fp"
check "at exit, the count of dropped log lines" \
	grep -qF "connredir-proxy: --log '/dev/full': 1 log line could not be written (dropped)" "$WORK/full.err"
