#!/usr/bin/env bash
# 18-optional: status on a kernel without the optional features (BPF
# iterators), forced with CONNREDIR_NO_OPTIONAL=1, and on this kernel as it
# is. In both: no libbpf line on stderr, no fake count (-1); hash maps are
# counted exactly (N held flows: crd_flows_v3 == N, then 0); a map that
# cannot be counted is null in JSON with its reason and "n/a" in text; the
# lacking optional features are listed; the probe is cached at attach. A
# required program the kernel refuses is one clear line. make demo prints
# no libbpf line either.
. "$(dirname "$0")/../lib.sh"

N=5
# A REQUIRED program the kernel refuses: attach without CAP_PERFMON and
# CAP_SYS_ADMIN (the verifier refuses connredir's programs then) says so in
# one line naming the program, the errno and the likely cause.
setpriv --bounding-set=-all,+bpf,+net_admin,+dac_override,+dac_read_search \
	"$CRD" --instance "$INST" attach "$TEST_CG" >"$WORK/req.out" 2>"$WORK/req.err"
rc=$?
check "attach without CAP_PERFMON fails (exit $rc)" [ "$rc" = 1 ]
check "... with one line on stderr ($(wc -l <"$WORK/req.err") lines)" \
	[ "$(wc -l <"$WORK/req.err")" = 1 ]
check "... naming the refused program, its errno and a cause ($(cat "$WORK/req.err"))" \
	grep -qE "refused required program crd_[a-z0-9_]+: .* \(E[A-Z0-9]+\): .*CAP_PERFMON" "$WORK/req.err"
check "... and no instance is left" [ ! -e "/sys/fs/bpf/connredir/$INST" ]

crd attach "$TEST_CG" >"$WORK/attach.out" 2>"$WORK/attach.err" || { fail "attach"; exit; }
check "attach prints no libbpf line ($(grep -m1 libbpf "$WORK/attach.err"))" \
	[ "$(grep -c libbpf "$WORK/attach.err")" = 0 ]
if [ "${CONNREDIR_NO_OPTIONAL:-0}" = 1 ]; then
	check "attach with the switch probes nothing (no features pin)" \
		[ ! -e "/sys/fs/bpf/connredir/$INST/features" ]
else
	check "attach caches what it probed (pin /sys/fs/bpf/connredir/$INST/features)" \
		[ -e "/sys/fs/bpf/connredir/$INST/features" ]
fi
start_origin 127.0.0.1:8080
start_proxy pa 127.0.0.1:15001
crd service add A --proxy 127.0.0.1:15001 --owner-cgroup pa --dport 8080 >/dev/null ||
	fail "service add A"

# st WHAT [ENV...]: status and status --json into $WORK/WHAT.{txt,json,err,jerr}
st() {
	local what=$1
	shift
	env "$@" "$CRD" --instance "$INST" status >"$WORK/$what.txt" 2>"$WORK/$what.err" ||
		fail "$what: status exited $?: $(cat "$WORK/$what.err")"
	env "$@" "$CRD" --instance "$INST" status --json >"$WORK/$what.json" 2>"$WORK/$what.jerr" ||
		fail "$what: status --json exited $?: $(cat "$WORK/$what.jerr")"
}
# jq_py WHAT EXPR: EXPR of the parsed status --json (as m) of WHAT, printed.
jq_py() {
	python3 -c "import json, sys; m = json.load(open(sys.argv[1])); print($2)" "$WORK/$1.json" 2>&1
}
SKMAPS="crd_sk_v3 crd_conn_v3 crd_usk_v3"

# common_checks WHAT FLOWS: what holds on every kernel, with or without the switch.
common_checks() {
	local what=$1 flows=$2 m
	check "$what: status prints nothing on stderr ($(head -c 200 "$WORK/$what.err"))" \
		[ ! -s "$WORK/$what.err" ]
	check "$what: status --json prints nothing on stderr ($(head -c 200 "$WORK/$what.jerr"))" \
		[ ! -s "$WORK/$what.jerr" ]
	check "$what: no -1 in status" [ "$(grep -cE '(^|[^0-9])-1([^0-9]|$)' "$WORK/$what.txt")" = 0 ]
	check "$what: no negative number in status --json" \
		[ "$(jq_py "$what" 'min([v for v in m["maps"].values() if v is not None] + list(m["counters"].values()))')" -ge 0 ]
	check "$what: crd_flows_v3 holds $flows ($(jq_py "$what" 'm["maps"]["crd_flows_v3"]'))" \
		[ "$(jq_py "$what" 'm["maps"]["crd_flows_v3"]')" = "$flows" ]
	check "$what: text shows crd_flows_v3 $flows" \
		grep -qE "^  crd_flows_v3 +$flows\$" "$WORK/$what.txt"
	for m in crd_pend_v3 crd_uflows_v3 crd_ukey_v3 crd_urep_v3; do
		check "$what: $m is counted (a number)" \
			[ "$(jq_py "$what" "type(m['maps']['$m']).__name__")" = int ]
	done
	check "$what: lacking_features is a list" \
		[ "$(jq_py "$what" 'type(m["lacking_features"]).__name__')" = list ]
}

# forced_checks WHAT: the switch is on: iterators are off, the socket-storage
# maps are null with a reason, and status says so.
forced_checks() {
	local what=$1 m
	check "$what: lacking_features names bpf_iterators, forced off by the switch" \
		[ "$(jq_py "$what" '" ".join(f["feature"] + ":" + str("CONNREDIR_NO_OPTIONAL" in f["reason"]) for f in m["lacking_features"])')" = "bpf_iterators:True" ]
	for m in $SKMAPS; do
		check "$what: $m is null in JSON" [ "$(jq_py "$what" "m['maps']['$m']")" = None ]
		check "$what: $m has its reason in maps_not_counted" \
			[ "$(jq_py "$what" "'iterator' in m['maps_not_counted']['$m']")" = True ]
		check "$what: text shows $m as n/a (needs BPF iterators)" \
			grep -qE "^  $m +n/a \(needs BPF iterators\)\$" "$WORK/$what.txt"
	done
	check "$what: text says bpf_iterators is off and why" \
		grep -qE '^  bpf_iterators +off: .*CONNREDIR_NO_OPTIONAL' "$WORK/$what.txt"
}

# natural_checks WHAT: this kernel as it is: a socket-storage map is counted
# (a number) exactly when bpf_iterators is not lacking, else null + reason.
natural_checks() {
	local what=$1 lacking m
	lacking=$(jq_py "$what" '"bpf_iterators" in [f["feature"] for f in m["lacking_features"]]')
	echo "    this kernel lacks bpf_iterators: $lacking"
	for m in $SKMAPS; do
		if [ "$lacking" = True ]; then
			check "$what: $m is null with a reason (iterators lacking)" \
				[ "$(jq_py "$what" "m['maps']['$m'] is None and bool(m['maps_not_counted']['$m'])")" = True ]
		else
			check "$what: $m is a count >= 0 (iterators available)" \
				[ "$(jq_py "$what" "m['maps']['$m'] >= 0")" = True ]
		fi
	done
}

st idle-forced CONNREDIR_NO_OPTIONAL=1
common_checks idle-forced 0
forced_checks idle-forced

bg app "$TOOLS/crd-hold" --count $N --bytes 16 --ready "$WORK/hold.ready" \
	127.0.0.1:8080 >"$WORK/hold.out" 2>"$WORK/hold.err"
hold=$BG_PID
wait_file "$WORK/hold.ready" 30 || fail "crd-hold did not open its flows: $(cat "$WORK/hold.err")"

st held-forced CONNREDIR_NO_OPTIONAL=1
common_checks held-forced $N
forced_checks held-forced
st held-natural
common_checks held-natural $N
natural_checks held-natural

# --verbose says why an optional feature is off (and stays one line).
env CONNREDIR_NO_OPTIONAL=1 "$CRD" --instance "$INST" --verbose status >/dev/null 2>"$WORK/verbose.err"
check "--verbose status: one line on stderr names bpf_iterators ($(cat "$WORK/verbose.err"))" \
	[ "$(grep -c bpf_iterators "$WORK/verbose.err")" = 1 ]

kill -USR1 $hold
wait $hold
check "the $N held flows completed" grep -q "^summary ok=$N fail=0" "$WORK/hold.out"
for _ in $(seq 1 50); do
	st after-forced CONNREDIR_NO_OPTIONAL=1
	[ "$(jq_py after-forced 'm["maps"]["crd_flows_v3"]')" = 0 ] && break
	sleep 0.1
done
common_checks after-forced 0
forced_checks after-forced
st after-natural
common_checks after-natural 0
natural_checks after-natural

# make demo on this kernel (and with the switch, if set for the suite): no
# libbpf line, no -1. The demo runs build/, so only when that is under test.
if [ "$BUILD" = "$T_ROOT/build" ]; then
	"$T_ROOT/demo/demo.sh" >"$WORK/demo.out" 2>&1
	rc=$?
	check "make demo's script runs (exit $rc)" [ "$rc" = 0 ]
	check "make demo prints no libbpf line ($(grep -m1 libbpf "$WORK/demo.out"))" \
		[ "$(grep -c libbpf "$WORK/demo.out")" = 0 ]
	check "make demo's status shows no -1" [ "$(grep -cE '^  crd_[a-z0-9_]+ +-1$' "$WORK/demo.out")" = 0 ]
else
	echo "    (demo not run: it runs build/, the build under test is $BUILD)"
fi
