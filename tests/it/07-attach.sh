#!/usr/bin/env bash
# 07-attach: attach refuses the cgroup v2 root without --system-wide (and
# changes nothing); detach removes only this instance's programs, while a
# second instance and somebody else's program on the same cgroup keep working.
. "$(dirname "$0")/../lib.sh"

FOREIGN_PIN=/sys/fs/bpf/connredir-test-foreign-$$
foreign_cleanup() {
	bpftool cgroup detach "$TEST_CG" connect4 pinned "$FOREIGN_PIN" 2>/dev/null
	rm -f "$FOREIGN_PIN"
	[ -d "/sys/fs/bpf/connredir/${INST}b" ] && "$CRD" --instance "${INST}b" detach >/dev/null
	t_cleanup
}
trap foreign_cleanup EXIT

progs_on_root() { bpftool cgroup show "$CG2" 2>/dev/null | awk 'NR > 1 && NF' | wc -l; }
root_before=$(progs_on_root)
out=$(crd attach "$CG2" 2>&1)
rc=$?
check "attach on the cgroup v2 root is refused (rc=$rc)" [ "$rc" = 1 ]
check "the refusal names the root and --system-wide" bash -c "grep -q 'root of the cgroup v2 hierarchy' <<<'$out' && grep -q -- '--system-wide' <<<'$out'"
check "nothing was attached to the root" [ "$(progs_on_root)" = "$root_before" ]
check "no instance was pinned" [ ! -e "/sys/fs/bpf/connredir/$INST" ]
out=$(crd attach "$CG2/." 2>&1)
check "the root is recognised through another spelling ($CG2/.)" [ $? = 1 ]

# Three parties on one cgroup: this instance, a second one, a foreign program.
crd attach "$TEST_CG" >/dev/null || fail "attach instance 1"
"$CRD" --instance "${INST}b" attach "$TEST_CG" >/dev/null || fail "attach instance 2"
bpftool prog load "$BUILD/tests/foreign.bpf.o" "$FOREIGN_PIN" type cgroup/connect4 &&
	bpftool cgroup attach "$TEST_CG" connect4 pinned "$FOREIGN_PIN" multi ||
	fail "attach the foreign program"
out=$(crd attach "$TEST_CG" 2>&1)
check "attaching the same instance twice is refused" [ $? = 1 ]

start_origin 127.0.0.1:8080
start_proxy pa 127.0.0.1:15001
start_proxy pb 127.0.0.1:15002
crd service add A --proxy 127.0.0.1:15001 --owner-cgroup pa --dport 8080 >/dev/null
"$CRD" --instance "${INST}b" service add B --proxy 127.0.0.1:15002 --owner-cgroup pb \
	--dport 8080 >/dev/null

n_progs() { bpftool cgroup show "$TEST_CG" | awk 'NR > 1 && NF' | wc -l; }
check "31 programs on the cgroup (15 + 15 + 1 foreign)" [ "$(n_progs)" = 31 ]

bg app "$TOOLS/crd-client" --bytes 100 127.0.0.1 9999 >/dev/null 2>&1
wait $BG_PID
check "with all three: the foreign rewrite works too" [ $? = 0 ]

crd detach >/dev/null
check "detach: 16 programs left (the other instance's 15 + the foreign one)" [ "$(n_progs)" = 16 ]
check "detach: this instance's pins are gone" [ ! -e "/sys/fs/bpf/connredir/$INST" ]
check "detach: the other instance's pins stay" [ -e "/sys/fs/bpf/connredir/${INST}b/crd_svc_v3" ]
check "the foreign program is still attached" bash -c "bpftool cgroup show '$TEST_CG' | grep -q foreign_connect"

: >"$WORK/pa.log"
: >"$WORK/pb.log"
bg app "$TOOLS/crd-client" --bytes 100 127.0.0.1 8080 >/dev/null 2>&1
wait $BG_PID
check "after detach: a client still reaches the origin" [ $? = 0 ]
sleep 0.2
check "after detach: the other instance still redirects (its proxy saw the flow)" [ "$(wc -l <"$WORK/pb.log")" = 1 ]
check "after detach: the detached instance's proxy saw nothing" [ "$(wc -l <"$WORK/pa.log")" = 0 ]
bg app "$TOOLS/crd-client" --bytes 100 127.0.0.1 9999 >/dev/null 2>&1
wait $BG_PID
check "after detach: the foreign program still rewrites 9999 -> 8080" [ $? = 0 ]
out=$(crd detach 2>&1)
check "a second detach says it is not attached" bash -c "[ $? = 1 ] && grep -q 'not attached' <<<'$out'"
