#!/usr/bin/env bash
# 12-valgrind: the CLI's commands and the library's calls run clean under
# Valgrind (no invalid access, no use of uninitialised memory, no definite
# leak), against a real attached instance with real traffic.
. "$(dirname "$0")/../lib.sh"

VG=(valgrind -q --error-exitcode=99 --suppressions="$T_ROOT/tests/valgrind.supp"
	--leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite)
# An ASan build (make test SANITIZE=1) cannot run under Valgrind, and checks
# the same itself: run the commands bare, still checking each exit status.
grep -q __asan_init "$CRD" && VG=()
vg() { # WHAT CMD...: CMD under valgrind passes
	local what=$1 rc
	shift
	"${VG[@]}" "$@" >"$WORK/vg.out" 2>"$WORK/vg.err"
	rc=$?
	if [ "$rc" = 99 ]; then
		fail "$what: valgrind found errors: $(head -c 600 "$WORK/vg.err")"
	elif [ "$rc" != 0 ]; then
		fail "$what: exited $rc: $(head -c 300 "$WORK/vg.err")"
	else
		pass "$what"
	fi
}

vg "attach" "$CRD" --instance "$INST" attach "$TEST_CG"
start_origin 127.0.0.1:8080
start_proxy pa 127.0.0.1:15001
vg "service add" "$CRD" --instance "$INST" service add A --proxy 127.0.0.1:15001 \
	--proxy '[::1]:15001' --weight 3 --dst 127.0.0.0/8 --not-dst 127.0.0.9 --dport 8000-9000 \
	--owner-cgroup pa
vg "service add (udp)" "$CRD" --instance "$INST" service add U --proto udp \
	--proxy 127.0.0.1:16001 --owner-uid 0 --fail open
bg app "$TOOLS/crd-client" --parallel 3 --hold 3 --bytes 10 127.0.0.1 8080 >/dev/null 2>&1
held=$BG_PID
wait_lines "$WORK/pa.log" 3
vg "service list --json" "$CRD" --instance "$INST" service list --json
vg "status" "$CRD" --instance "$INST" status
vg "status --json" "$CRD" --instance "$INST" status --json
# The other path too, whatever this kernel allows: optional features off.
CONNREDIR_NO_OPTIONAL=1 vg "status, optional features forced off" \
	"$CRD" --instance "$INST" status
CONNREDIR_NO_OPTIONAL=1 vg "status --json --verbose, optional features forced off" \
	"$CRD" --instance "$INST" --verbose status --json
vg "flows --json (3 live flows)" "$CRD" --instance "$INST" flows --json
vg "flows" "$CRD" --instance "$INST" flows
vg "stats --json" "$CRD" --instance "$INST" stats --json
vg "events (1 s, no events)" "$CRD" --instance "$INST" events --json
vg "set --hop-limit" "$CRD" --instance "$INST" set --hop-limit 5
vg "upgrade (3 live flows)" "$CRD" --instance "$INST" upgrade
vg "upgrade --json" "$CRD" --instance "$INST" upgrade --json
"${VG[@]}" "$CRD" --instance "$INST" service add bad --proxy 1.2.3.4:x --owner-uid 0 \
	>/dev/null 2>"$WORK/vg.err"
check "a refused service add is clean too (exit 1, no valgrind error)" [ $? = 1 ]
vg "the library's calls on a redirected connection (crd-apicheck)" \
	bash -c "exec $TOOLS/crd-apicheck local"
wait $held
vg "service del" "$CRD" --instance "$INST" service del A
vg "detach" "$CRD" --instance "$INST" detach
