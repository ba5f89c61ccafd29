#!/usr/bin/env bash
# 09-cli: every command has --help; misuse prints usage to stderr and exits
# 1; errors name the object and the bad value; a refused command changes
# nothing; 64 services fit and the 65th is refused.
. "$(dirname "$0")/../lib.sh"

# run EXPECTED_RC STDERR_REGEX ARGS...: one CLI call, checked.
run() {
	local rc_want=$1 re=$2 out rc
	shift 2
	out=$("$CRD" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = "$rc_want" ] && grep -qE -- "$re" <<<"$out"; then
		pass "connredir $* -> $rc_want, '$re'"
	else
		fail "connredir $* -> rc $rc (want $rc_want), stderr: $out (want /$re/)"
	fi
}

help_ok() { # COMMAND: --help prints usage on stdout, nothing on stderr, exits 0
	local out err rc
	out=$("$CRD" "$1" --help 2>"$WORK/err")
	rc=$?
	[ "$rc" = 0 ] && [ ! -s "$WORK/err" ] && grep -q '^Usage: connredir' <<<"$out"
}
lists_all() {
	local out c
	out=$("$CRD" --help)
	for c in attach detach service status set exec; do
		grep -q "^  $c " <<<"$out" || return 1
	done
}
for c in attach detach service status set exec; do
	check "'$c --help' prints usage to stdout and exits 0" help_ok "$c"
done
check "'--help' lists every command" lists_all
run 1 "^connredir: a COMMAND is needed" 
run 1 "unknown command 'bogus'" bogus
run 1 "unknown option '--bogus'" --bogus status
run 1 "instance 'a/b': invalid character in name" --instance a/b status
run 1 "instance '$INST': not attached" --instance "$INST" status
run 1 "instance '$INST': not attached" --instance "$INST" service add S --proxy 127.0.0.1:1 --owner-uid 0
run 1 "cgroup '/nonexistent/cg': no such cgroup" --instance "$INST" attach /nonexistent/cg
run 1 "cgroup '/tmp': not inside the cgroup v2 hierarchy" --instance "$INST" attach /tmp
run 1 "--hop-limit '0'" --instance "$INST" attach --hop-limit 0 "$TEST_CG"
run 1 "--hop-limit '17'" --instance "$INST" attach --hop-limit 17 "$TEST_CG"
run 1 "connredir: attach: a CGROUP_PATH is needed" --instance "$INST" attach
check "no instance pinned after refused attaches" [ ! -e "/sys/fs/bpf/connredir/$INST" ]

crd attach "$TEST_CG" >/dev/null || fail "attach"
crd service add good --proxy 127.0.0.1:15001 --weight 5 --owner-uid 0 >/dev/null
before=$(crd service list --json)
S=(--instance "$INST" service add)
run 1 "service 'bad': --proxy '1.2.3.4:x': invalid port" "${S[@]}" bad --proxy 1.2.3.4:x --owner-uid 0
run 1 "service 'bad': --proxy '::1:80': IPv6 address must be in brackets" "${S[@]}" bad --proxy ::1:80 --owner-uid 0
run 1 "service 'bad': --proxy '127.0.0.1:70000': port out of range" "${S[@]}" bad --proxy 127.0.0.1:70000 --owner-uid 0
run 1 "service 'bad': --proxy ADDR:PORT is required" "${S[@]}" bad --owner-uid 0
run 1 "service 'bad': a proxy identity is required" "${S[@]}" bad --proxy 127.0.0.1:1
run 1 "service 'bad': --dst '10.0.0.1/8': host bits set" "${S[@]}" bad --proxy 127.0.0.1:1 --owner-uid 0 --dst 10.0.0.1/8
run 1 "service 'bad': --not-dst '10.0.0.0/33': prefix length out of range" "${S[@]}" bad --proxy 127.0.0.1:1 --owner-uid 0 --not-dst 10.0.0.0/33
run 1 "service 'bad': --dport '9-3': range start above range end" "${S[@]}" bad --proxy 127.0.0.1:1 --owner-uid 0 --dport 9-3
run 1 "service 'bad': --weight 'abc'" "${S[@]}" bad --proxy 127.0.0.1:1 --owner-uid 0 --weight abc
run 1 "service 'bad': --proto 'sctp': expected tcp, udp or all" "${S[@]}" bad --proxy 127.0.0.1:1 --owner-uid 0 --proto sctp
run 1 "service 'bad': --owner-uid '-1'" "${S[@]}" bad --proxy 127.0.0.1:1 --owner-uid -1
run 1 "service 'bad': --app-cgroup '/nonexistent': no such cgroup" "${S[@]}" bad --proxy 127.0.0.1:1 --owner-uid 0 --app-cgroup /nonexistent
run 1 "service 'bad': --proxy '127.0.0.2:2': an IPv4 proxy address is already given" "${S[@]}" bad --proxy 127.0.0.1:1 --proxy 127.0.0.2:2 --owner-uid 0
run 1 "service 'bad': --dst '10.9.0.0/16': at most 8 prefixes" "${S[@]}" bad --proxy 127.0.0.1:1 --owner-uid 0 \
	--dst 10.1.0.0/16 --dst 10.2.0.0/16 --dst 10.3.0.0/16 --dst 10.4.0.0/16 --dst 10.5.0.0/16 \
	--dst 10.6.0.0/16 --dst 10.7.0.0/16 --dst 10.8.0.0/16 --dst 10.9.0.0/16
run 1 "service 'good': already exists" "${S[@]}" good --proxy 127.0.0.1:1 --owner-uid 0
run 1 "service 'a b': invalid character in name" "${S[@]}" "a b" --proxy 127.0.0.1:1 --owner-uid 0
run 1 "service add: a service NAME is needed" "${S[@]}"
run 1 "service 'nope': no such service" --instance "$INST" service del nope
run 1 "service: unknown subcommand 'frob'" --instance "$INST" service frob
run 1 "status: unknown argument '--jsn'" --instance "$INST" status --jsn
run 1 "exec: a COMMAND is needed" --instance "$INST" exec --
run 1 "exec: --cgroup 'x/y': invalid character in name" --instance "$INST" exec --cgroup x/y -- true
run 1 "--hop-limit 'x'" --instance "$INST" set --hop-limit x
# A failed add has no side effects; an --app-cgroup is never created.
run 1 "service 'bad': --app-cgroup 'apq': no such cgroup" "${S[@]}" bad --proxy 127.0.0.1:1 --owner-uid 0 --app-cgroup apq
check "a misspelt --app-cgroup is not created" [ ! -e "$TEST_CG/apq" ]
run 1 "service 'good': already exists" "${S[@]}" good --proxy 127.0.0.1:1 --owner-cgroup newowner
check "a refused add (name taken) creates no --owner-cgroup" [ ! -e "$TEST_CG/newowner" ]
run 1 "service 'bad2': --app-cgroup 'apq': no such cgroup" "${S[@]}" bad2 --proxy 127.0.0.1:1 --owner-cgroup newowner2 --app-cgroup apq
check "a refused add (bad --app-cgroup) creates no --owner-cgroup" [ ! -e "$TEST_CG/newowner2" ]
# One list grammar for the command line and the file (service_spec_opt_list).
run 1 "service 'bad3': --dport '9-3': range start above range end" "${S[@]}" bad3 --proxy 127.0.0.1:1 --owner-uid 0 --dport "80, 9-3"
check "the refused commands changed no service" [ "$(crd service list --json)" = "$before" ]

check "service list --json is valid JSON" python3 -m json.tool <<<"$(crd service list --json)" >/dev/null
check "status --json is valid JSON" python3 -m json.tool <<<"$(crd status --json)" >/dev/null
crd set --hop-limit 3
check "set --hop-limit changes the hop limit" grep -q '"hop_limit":3' <<<"$(crd status --json)"

# exec: runs in a child of the attached cgroup and passes the exit status.
out=$(crd exec --cgroup ex -- cat /proc/self/cgroup)
check "exec runs COMMAND in <attached>/ex" grep -q "connredir-test-$T_NAME-$$/ex$" <<<"$out"
crd exec -- sh -c 'exit 7'
check "exec returns COMMAND's exit status" [ $? = 7 ]
check "exec removed the cgroup it created" [ ! -d "$TEST_CG/ex" ]

# 64 services fit; the 65th is refused.
for i in $(seq 2 64); do
	crd service add "s$i" --proxy "127.0.0.1:$((20000 + i))" --owner-uid 0 >/dev/null || fail "service s$i"
done
check "64 services registered" [ "$(crd service list --json | grep -o '"id":' | wc -l)" = 64 ]
run 1 "service 's65': all 64 service slots are in use" "${S[@]}" s65 --proxy 127.0.0.1:1 --owner-uid 0
crd service del s10 >/dev/null
crd service add s65 --proxy 127.0.0.1:30065 --owner-uid 0 --weight -3 >/dev/null
check "a deleted service's slot is reused, with a new id" \
	grep -q '"id":65,"name":"s65"' <<<"$(crd service list --json)"
crd service del s11 >/dev/null   # room for one more
crd service add lists --proxy "127.0.0.1:7, [::1]:7" --owner-uid 0 --dport "80,443, 8000-8099" \
	--dst "10.0.0.0/8,192.0.2.1" >/dev/null 2>"$WORK/err"
check "service add takes comma lists: --dport 80,443,8000-8099 (rc $?)" eval \
	'[ "$(crd service list --json | python3 -c "
import json, sys
s = [x for x in json.load(sys.stdin) if x[\"name\"] == \"lists\"][0]
print(len(s[\"dport\"]), len(s[\"proxy\"]), len(s[\"dst\"]))")" = "3 2 2" ]'
crd service del lists >/dev/null

# service list names cgroups by path and a one-port range by its port.
mkdir -p "$TEST_CG/own"
crd service add shown --proxy 127.0.0.1:8 --owner-cgroup own --dport 80,81-82 >/dev/null
crd service list >"$WORK/list"
check "service list: owner-cgroup as a path, dport 80 (not 80-80)" \
	eval 'grep -qF "owner-cgroup=$TEST_CG/own" "$WORK/list" && grep -qF "dport=80,81-82" "$WORK/list" &&
	! grep -q "dport=80-80" "$WORK/list"'

# A usage error is one line and a pointer to --help, not the whole help.
for args in "apply --frob x" "" "service" "status --jsn" "attach" "events --nope"; do
	# shellcheck disable=SC2086
	"$CRD" $args >/dev/null 2>"$WORK/err"
	check "usage error '$args': at most 2 lines, the last 'try ... --help'" \
		eval '[ "$(wc -l <"$WORK/err")" -le 2 ] && tail -n1 "$WORK/err" | grep -q "^connredir: try .connredir.*--help.$"'
done
