#!/usr/bin/env bash
# 14-upgrade: `upgrade` gives an attached instance the programs of another
# build while 100 redirected flows are held open:
# 1. a build with another map layout (CRD_MAX_SERVICES=32; maps renamed
#    _v4) is refused, naming the map and what differs, and changes nothing;
# 2. a link update that fails half way is rolled back (fault injection);
# 3. upgrade --object VARIANT (the same source plus a build tag) switches
#    every link to a program of VARIANT, the old programs are freed, and the
#    held flows then all complete with every byte intact; new connections
#    are still redirected and get their records; services and counters (the
#    maps) were kept; upgrade without --object goes back to the built-in
#    programs;
# 4. upgrading a second instance on the same cgroup leaves the first and a
#    foreign program there alone; upgrade waits for the instance lock;
#    "not attached", --help.
. "$(dirname "$0")/../lib.sh"

FOREIGN_PIN=/sys/fs/bpf/connredir-test-foreign-$$
second_cleanup() {
	bpftool cgroup detach "$TEST_CG" connect4 pinned "$FOREIGN_PIN" 2>/dev/null
	rm -f "$FOREIGN_PIN"
	[ -d "/sys/fs/bpf/connredir/${INST}b" ] && "$CRD" --instance "${INST}b" detach >/dev/null
	t_cleanup
}
trap second_cleanup EXIT

N=100
BYTES=100000
HELLO=64   # what crd-hold exchanges before it holds

# has_tag FILE|id N: the BTF (of an object file, or by id) has the build tag.
has_tag() { bpftool btf dump "$@" | grep -q "VAR '$TAG'"; }
# rc_is WANT RC CMD...: RC is WANT and CMD succeeds.
rc_is() {
	[ "$1" = "$2" ] || return 1
	shift 2
	"$@"
}

# link_ids INSTANCE: "link_NAME=PROG_ID" for each pinned link, sorted.
link_ids() {
	local p id
	for p in /sys/fs/bpf/connredir/"$1"/link_*; do
		id=$(bpftool -j link show pinned "$p" | sed -n 's/.*"prog_id":\([0-9]*\).*/\1/p')
		echo "$(basename "$p")=$id"
	done | sort
}

# --- the variants, built like the Makefile builds connredir.bpf.o -------------
BPF_CFLAGS=(-g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror
	-I"$BUILD" -I"$T_ROOT/bpf" -I"$T_ROOT/include")
SRC=$T_ROOT/bpf/connredir.bpf.c
TAG=crd_build_tag_$$   # has_tag looks for it
echo "const volatile unsigned int $TAG = $$;" >"$WORK/tag.h"
clang "${BPF_CFLAGS[@]}" -include "$WORK/tag.h" -c "$SRC" -o "$WORK/variant.o" ||
	{ fail "build the variant object"; exit; }
clang "${BPF_CFLAGS[@]}" -DCRD_MAX_SERVICES=32 -c "$SRC" -o "$WORK/svc32.o" ||
	{ fail "build the CRD_MAX_SERVICES=32 object"; exit; }
renames=()
for m in $(sed -n 's/^} \(crd_[a-z0-9_]*\)_v3 SEC("\.maps");.*/\1/p' "$SRC"); do
	renames+=("-D${m}_v3=${m}_v4")
done
clang "${BPF_CFLAGS[@]}" "${renames[@]}" -c "$SRC" -o "$WORK/layout4.o" ||
	{ fail "build the layout-4 object"; exit; }
check "the variant object carries the build tag $TAG in its BTF" has_tag file "$WORK/variant.o"

# --- setup: one service, its proxy, 100 held flows -------------------------------
crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080
start_proxy pa 127.0.0.1:15001
crd service add A --proxy 127.0.0.1:15001 --owner-cgroup pa --dport 8080 >/dev/null ||
	fail "service add A"
A=$(crd service list --json | sed -n 's/.*"id":\([0-9]*\),"name":"A".*/\1/p')

bg app "$TOOLS/crd-hold" --count $N --bytes $BYTES --ready "$WORK/hold.ready" \
	127.0.0.1:8080 >"$WORK/hold.out" 2>"$WORK/hold.err"
hold=$BG_PID
wait_file "$WORK/hold.ready" 60 || fail "crd-hold did not open its flows: $(cat "$WORK/hold.err")"
n_flows() { crd flows --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
check "$N flows are open through the proxy ($(wc -l <"$WORK/pa.log") hops logged)" \
	[ "$(grep -c "chain=$A .*set=ok" "$WORK/pa.log")" = $N ]
flows_before=$(n_flows)
check "flows lists the $N held flows (got $flows_before)" [ "$flows_before" = $N ]
before=$(link_ids "$INST")
check "15 pinned links, each with a program" \
	[ "$(grep -c '=[0-9][0-9]*$' <<<"$before")" = 15 ]

# --- 1. another map layout is refused ---------------------------------------------
out=$(crd upgrade --object "$WORK/svc32.o" 2>&1)
rc=$?
echo "$out" | sed 's/^/    /'
check "CRD_MAX_SERVICES=32: refused (rc=$rc)" [ "$rc" = 1 ]
check "the refusal names crd_svc_v3 and its max_entries (64 pinned, 32 new)" \
	grep -q 'map crd_svc_v3: max_entries 64 pinned, 32 in' <<<"$out"
check "the refusal names crd_order_v3's value size" \
	grep -q 'map crd_order_v3: value size [0-9]* pinned, [0-9]* in' <<<"$out"
check "the refusal says nothing was changed" grep -q 'nothing was changed' <<<"$out"
check "CRD_MAX_SERVICES=32: every link runs the same program as before" \
	[ "$(link_ids "$INST")" = "$before" ]

out=$(crd upgrade --object "$WORK/layout4.o" 2>&1)
rc=$?
echo "$out" | sed 's/^/    /'
check "maps named _v4: refused (rc=$rc), naming both layouts" \
	rc_is 1 "$rc" grep -q 'has map layout 4, the instance map layout 3' <<<"$out"
check "maps named _v4: every link runs the same program as before" \
	[ "$(link_ids "$INST")" = "$before" ]

# --- 2. a link update failing half way is rolled back -----------------------------
out=$(CONNREDIR_TEST_UPGRADE_FAIL=8 crd upgrade --object "$WORK/variant.o" 2>&1)
rc=$?
echo "$out" | sed 's/^/    /'
check "a failing 8th link update: upgrade fails (rc=$rc)" [ "$rc" = 1 ]
check "it reports the 7 switched links rolled back" \
	grep -q 'the 7 links already switched were rolled back' <<<"$out"
check "after the rollback every link runs the same program as before" \
	[ "$(link_ids "$INST")" = "$before" ]

# --- 3. the upgrade ----------------------------------------------------------------
crd upgrade --object "$WORK/variant.o" --json >"$WORK/up.json" 2>"$WORK/up.err"
rc=$?
[ "$rc" = 0 ] || sed 's/^/    /' "$WORK/up.err"
check "upgrade --object variant.o while $N flows are open (rc=$rc)" [ "$rc" = 0 ]
after=$(link_ids "$INST")
res=$(python3 - "$WORK/up.json" 3<<<"$before" 4<<<"$after" <<'EOF'
import json, sys
up = json.load(open(sys.argv[1]))
before = dict(l.split("=") for l in open(3).read().split())
after = dict(l.split("=") for l in open(4).read().split())
progs = up["programs"]
ok = [p for p in progs
      if before[p["link"]] == str(p["old_id"]) and after[p["link"]] == str(p["new_id"])
      and p["new_id"] != p["old_id"]]
print(len(progs), len(ok), len(set(after.values()) & set(before.values())))
EOF
)
check "all 15 links switched: each from its old program to the new id upgrade reports, none kept (programs, switched, ids in common: $res)" \
	[ "$res" = "15 15 0" ]
tagged=0
for id in $(python3 -c 'import json, sys; print(" ".join(str(p["new_id"]) for p in json.load(open(sys.argv[1]))["programs"]))' "$WORK/up.json"); do
	btf=$(bpftool -j prog show id "$id" | sed -n 's/.*"btf_id":\([0-9]*\).*/\1/p')
	[ -n "$btf" ] && has_tag id "$btf" && tagged=$((tagged + 1))
done
check "every link's new program comes from variant.o (its BTF has $TAG): $tagged of 15" [ "$tagged" = 15 ]
old_gone() {
	local l
	for l in $before; do
		bpftool prog show id "${l#*=}" >/dev/null 2>&1 && return 1
	done
	return 0
}
check "the old programs are freed" eventually old_gone
check "the $N held flows are still listed with their records" [ "$(n_flows)" = $N ]

kill -USR1 "$hold"
wait "$hold"
rc=$?
check "after the upgrade all $N held flows complete, every byte echoed intact (rc=$rc: $(tail -n1 "$WORK/hold.out"))" \
	[ "$rc" = 0 -a "$(tail -n1 "$WORK/hold.out")" = "summary ok=$N fail=0 bytes=$((N * (HELLO + BYTES)))" ]
wait_lines "$WORK/origin.log" $N 10
check "the origin saw $((HELLO + BYTES)) bytes each way on each of the $N flows" \
	[ "$(grep -c "in=$((HELLO + BYTES)) out=$((HELLO + BYTES))\$" "$WORK/origin.log")" = $N ]

: >"$WORK/pa.log"
bg app "$TOOLS/crd-client" --bytes 1000 127.0.0.1 8080 >/dev/null 2>&1
wait $BG_PID
check "a new connection after the upgrade works" [ $? = 0 ]
wait_lines "$WORK/pa.log" 1 5
sed 's/^/    /' "$WORK/pa.log"
check "it was redirected by the new programs, with records (state, chain, origin, set-records)" \
	eventually grep -q "state=REDIRECTED_BY_SELF service=$A hop=0 nhops=1 chain=$A orig=127.0.0.1:8080 .*app_comm=crd-client .*set=ok" "$WORK/pa.log"
check "the counters went on from the pinned maps: redirected = $((N + 1))" \
	[ "$(stat_counter redirected)" = $((N + 1)) ]
check "service A is still there with its id $A" grep -q "\"id\":$A,\"name\":\"A\"" <(crd service list --json)

out=$(crd upgrade 2>"$WORK/up2.err")
rc=$?
echo "$out" | head -n1 | sed 's/^/    /'
check "upgrade with the built-in programs (rc=$rc)" \
	rc_is 0 "$rc" grep -q "^instance $INST: 15 programs upgraded (built-in programs), maps kept" <<<"$out"
back=$(link_ids "$INST")
kept=$(comm -12 <(echo "$back") <(echo "$after") | wc -l)
untagged=0
for l in $back; do
	btf=$(bpftool -j prog show id "${l#*=}" | sed -n 's/.*"btf_id":\([0-9]*\).*/\1/p')
	[ -n "$btf" ] && ! has_tag id "$btf" && untagged=$((untagged + 1))
done
check "the links run new programs again ($kept kept), without the build tag ($untagged of 15)" \
	[ "$kept" = 0 -a "$untagged" = 15 ]
bg app "$TOOLS/crd-client" --bytes 1000 127.0.0.1 8080 >/dev/null 2>&1
wait $BG_PID
rc=$?
check "a connection is redirected after the second upgrade (rc=$rc)" \
	rc_is 0 "$rc" [ "$(grep -c "chain=$A .*set=ok" "$WORK/pa.log")" = 2 ]

# --- 4. a second instance, the lock, errors --------------------------------------------
"$CRD" --instance "${INST}b" attach "$TEST_CG" >/dev/null || fail "attach instance 2"
bpftool prog load "$BUILD/tests/foreign.bpf.o" "$FOREIGN_PIN" type cgroup/connect4 &&
	bpftool cgroup attach "$TEST_CG" connect4 pinned "$FOREIGN_PIN" multi ||
	fail "attach the foreign program"
foreign_id() { bpftool cgroup show "$TEST_CG" | awk '/foreign_connect/ { print $1 }'; }
f_before=$(foreign_id)
a_before=$(link_ids "$INST")
b_before=$(link_ids "${INST}b")
"$CRD" --instance "${INST}b" upgrade --object "$WORK/variant.o" >/dev/null
rc=$?
check "upgrade of the second instance on the same cgroup (rc=$rc)" [ "$rc" = 0 ]
b_after=$(link_ids "${INST}b")
check "the second instance's links all switched" \
	[ "$(comm -12 <(echo "$b_before") <(echo "$b_after") | wc -l)" = 0 ]
check "the first instance's links were not touched" [ "$(link_ids "$INST")" = "$a_before" ]
check "the foreign program is still attached (id $f_before, now $(foreign_id))" \
	[ -n "$f_before" -a "$(foreign_id)" = "$f_before" ]
check "31 programs on the cgroup (15 + 15 + 1 foreign)" \
	[ "$(bpftool cgroup show "$TEST_CG" | awk 'NR > 1 && NF' | wc -l)" = 31 ]

flock -x "/sys/fs/bpf/connredir/$INST" -c "touch '$WORK/locked'; sleep 3" &
PIDS+=($!)
wait_file "$WORK/locked" || fail "flock(1) did not take the instance lock"
timeout 1 "$CRD" --instance "$INST" upgrade >/dev/null 2>&1
rc=$?
check "upgrade waits for the instance lock (timed out: rc=$rc) and changed nothing" \
	[ "$rc" = 124 -a "$(link_ids "$INST")" = "$a_before" ]

out=$("$CRD" --instance "nosuch$$" upgrade 2>&1)
rc=$?
check "upgrade of an instance that is not attached: rc=$rc, says so" \
	grep -q "^1 connredir: instance 'nosuch$$': not attached" <<<"$rc $out"
out=$(crd upgrade --object "$WORK/missing.o" 2>&1)
rc=$?
check "--object with a missing file: rc=$rc, names it" grep -q "^1 .*missing.o'" <<<"$rc $out"
# Files that are not BPF objects: a sentence naming the file, never libbpf's
# bare code ("Unknown error 4001").
printf '\177ELF\002\001\001' >"$WORK/short.o"
for o in /etc/passwd "$WORK/short.o"; do
	out=$(crd upgrade --object "$o" 2>&1)
	rc=$?
	check "--object $o: rc=$rc, '$o: not a BPF object file'" \
		eval '[ $rc = 1 ] && grep -qF "connredir: --object '"'$o'"': not a BPF object file" <<<"$out" &&
		! grep -q "Unknown error" <<<"$out"'
done
out=$(crd upgrade --object "$WORK" 2>&1)
rc=$?
check "--object DIRECTORY: rc=$rc, 'a directory'" \
	eval '[ $rc = 1 ] && grep -qF "connredir: --object '"'$WORK'"': a directory, not a BPF object file" <<<"$out"'
check "upgrade --help" grep -q -- '--object FILE' <("$CRD" upgrade --help)
