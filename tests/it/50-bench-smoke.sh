#!/usr/bin/env bash
# 50-bench-smoke: every benchmark program of bench/ runs for a moment and
# prints one well-formed JSON object with every key it documents, and the
# driver (bench/run.sh, BENCH_QUICK) writes a well-formed build/bench.json
# with every section and removes its cgroup and pins. Speeds are never
# asserted: benchmarks are not tests; only that the runs worked (no
# connection errors, every flow opened).
. "$(dirname "$0")/../lib.sh"

BENCH=$BUILD/bench
for p in bench_server connect_lat conn_rate throughput rr_lat hold_flows min_relay; do
	[ -x "$BENCH/$p" ] || skip "$BENCH/$p is not built (run make)"
done

# json_keys FILE: check that FILE holds exactly one JSON value (an object,
# on one line) and print the path of every key in it ("lat_ns.p50"; keys
# inside arrays keep the array's path). Exit 1 on malformed JSON.
json_keys() {
	awk '
	function fail(m) { printf "malformed JSON: %s at offset %d\n", m, pos > "/dev/stderr"; bad = 1; exit 1 }
	function ws() { while (pos <= n && index(" \t\r\n", substr(s, pos, 1))) pos++ }
	function str(   c, start) {
		pos++; start = pos
		while (pos <= n) {
			c = substr(s, pos, 1)
			if (c == "\\") { pos += 2; continue }
			if (c == "\"") { pos++; return substr(s, start, pos - start - 1) }
			if (c < " ") fail("control character in a string")
			pos++
		}
		fail("unterminated string")
	}
	function obj(path,   k, c) {
		pos++; ws()
		if (substr(s, pos, 1) == "}") { pos++; return }
		for (;;) {
			ws()
			if (substr(s, pos, 1) != "\"") fail("key expected")
			k = str(); print path k; ws()
			if (substr(s, pos, 1) != ":") fail("colon expected")
			pos++; value(path k ".")
			ws(); c = substr(s, pos, 1); pos++
			if (c == "}") return
			if (c != ",") fail("comma or } expected")
		}
	}
	function arr(path,   c) {
		pos++; ws()
		if (substr(s, pos, 1) == "]") { pos++; return }
		for (;;) {
			value(path)
			ws(); c = substr(s, pos, 1); pos++
			if (c == "]") return
			if (c != ",") fail("comma or ] expected")
		}
	}
	function value(path,   c) {
		ws(); c = substr(s, pos, 1)
		if (c == "{") return obj(path)
		if (c == "[") return arr(path)
		if (c == "\"") { str(); return }
		if (match(substr(s, pos), /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) { pos += RLENGTH; return }
		if (substr(s, pos, 4) == "true" || substr(s, pos, 4) == "null") { pos += 4; return }
		if (substr(s, pos, 5) == "false") { pos += 5; return }
		fail("value expected")
	}
	{ s = s $0 "\n"; lines++ }
	END {
		if (bad) exit 1
		n = length(s); pos = 1
		if (lines != 1) fail("not one line")
		ws()
		if (substr(s, pos, 1) != "{") fail("not an object")
		value("")
		ws()
		if (pos <= n) fail("trailing text")
	}' "$1"
}

# check_json WHAT FILE KEY...: FILE is one JSON object with every KEY.
check_json() {
	local what=$1 file=$2 keys k missing=""
	shift 2
	if ! keys=$(json_keys "$file" 2>"$WORK/json.err"); then
		fail "$what: malformed JSON ($(cat "$WORK/json.err")): $(head -c 300 "$file")"
		return
	fi
	for k in "$@"; do
		grep -qxF "$k" <<<"$keys" || missing="$missing $k"
	done
	check "$what: well-formed JSON with every key${missing:+ (missing:$missing)}" [ -z "$missing" ]
}
# value FILE KEY: a top-level number of a JSON object.
value() { tr -s ',{}' '\n' <"$1" | sed -n "s/^\"$2\":\([0-9.e+-]*\)$/\1/p" | head -n1; }

LAT=(lat_ns) RTT=(rtt_ns)
for k in n min p25 p50 p75 p90 p99 p999 max mean; do LAT+=("lat_ns.$k") RTT+=("rtt_ns.$k"); done

# --- the programs, directly ----------------------------------------------------
"$BENCH/bench_server" --threads 2 --ready "$WORK/srv.ready" 127.0.0.1:8080 '[::1]:8080' \
	>"$WORK/srv.json" 2>"$WORK/srv.err" &
srv=$!
PIDS+=("$srv")
wait_file "$WORK/srv.ready" || fail "bench_server did not start: $(cat "$WORK/srv.err")"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
crd service add sl --proxy 127.0.0.1:9201 --owner-cgroup lsn --dport 9200 >/dev/null ||
	fail "service add"

in_cg app "$BENCH/connect_lat" --duration 0.2 --warmup 10 >"$WORK/cl.json"
check "connect_lat exits 0" [ $? = 0 ]
check_json connect_lat "$WORK/cl.json" bench pairs redirect_target iterations duration_s \
	rate_per_s "${LAT[@]}"
n=$(value "$WORK/cl.json" iterations)
check "connect_lat: some iterations ($n)" [ "${n:-0}" -gt 0 ]

in_cg app "$BENCH/connect_lat" --duration 0.2 --warmup 10 --listen 127.0.0.1:9201 \
	--listen-cgroup "$TEST_CG/lsn" --connect 127.0.0.1:9200 >"$WORK/clr.json"
check "connect_lat through a redirect (nothing listens on 9200) exits 0" [ $? = 0 ]
check_json "connect_lat --connect" "$WORK/clr.json" bench pairs redirect_target iterations \
	duration_s rate_per_s "${LAT[@]}"
r=$(stat_counter redirected)
check "the redirect runs were redirected (counter $r)" [ "${r:-0}" -gt 0 ]

"$BENCH/connect_lat" --duration 0.2 --warmup 10 --pairs 2 --listen '[::1]:0' >"$WORK/cl2.json"
check "connect_lat --pairs 2 on IPv6 exits 0" [ $? = 0 ]
check_json "connect_lat --pairs 2" "$WORK/cl2.json" bench pairs iterations "${LAT[@]}"

"$BENCH/conn_rate" --duration 0.2 --concurrency 2 127.0.0.1:8080 >"$WORK/cr.json"
check "conn_rate exits 0" [ $? = 0 ]
check_json conn_rate "$WORK/cr.json" bench concurrency request_bytes reply_bytes connections \
	errors first_error duration_s rate_per_s "${LAT[@]}"
c=$(value "$WORK/cr.json" connections) e=$(value "$WORK/cr.json" errors)
check "conn_rate: connections made ($c), no errors ($e)" [ "${c:-0}" -gt 0 -a "$e" = 0 ]

"$BENCH/throughput" --duration 0.2 --streams 2 '[::1]:8080' >"$WORK/tp.json"
check "throughput exits 0" [ $? = 0 ]
check_json throughput "$WORK/tp.json" bench streams chunk_bytes bytes_sent bytes_received \
	duration_s gbit_per_s mbyte_per_s
check "throughput: the server received every byte sent" \
	[ "$(value "$WORK/tp.json" bytes_sent)" = "$(value "$WORK/tp.json" bytes_received)" ]

"$BENCH/rr_lat" --duration 0.2 --warmup 10 --request 100 --reply 2000 127.0.0.1:8080 >"$WORK/rr.json"
check "rr_lat exits 0" [ $? = 0 ]
check_json rr_lat "$WORK/rr.json" bench request_bytes reply_bytes round_trips duration_s \
	rate_per_s "${RTT[@]}"

"$BENCH/hold_flows" --count 300 --batch 64 --hold 0.2 --ready "$WORK/hold.ready" \
	127.0.0.1:8080 '[::1]:8080' >"$WORK/hf.json"
check "hold_flows exits 0" [ $? = 0 ]
check_json hold_flows "$WORK/hf.json" bench requested opened failed first_error open_s open_rate_per_s
o=$(value "$WORK/hf.json" opened) r=$(cat "$WORK/hold.ready" 2>/dev/null)
check "hold_flows: all 300 opened ($o), the ready file says so ($r)" [ "$o" = 300 -a "$r" = 300 ]

kill -TERM "$srv"
wait "$srv"
check "bench_server exits 0 on SIGTERM" [ $? = 0 ]
check_json bench_server "$WORK/srv.json" bench threads connections requests bytes_in bytes_out

"$BENCH/connect_lat" --pairs 9 >/dev/null 2>&1
check "a usage error exits 2" [ $? = 2 ]
check "--help prints the usage" sh -c "'$BENCH/conn_rate' --help | grep -q '^Usage: conn_rate'"
check "min_relay --help prints the usage" sh -c "'$BENCH/min_relay' --help | grep -q '^Usage: min_relay'"
"$BENCH/min_relay" 127.0.0.1:99999 >/dev/null 2>&1
check "min_relay: a bad address exits 2" [ $? = 2 ]

# --- the driver -----------------------------------------------------------------
BENCH_BUILD=$BUILD BENCH_BIN=$BENCH BENCH_QUICK=1 BENCH_ROUNDS=1 BENCH_SECONDS=0.2 BENCH_FLOWS=200 \
	BENCH_JSON="$WORK/bench.json" \
	"$T_ROOT/bench/run.sh" >"$WORK/run.out" 2>"$WORK/run.err" &
drv=$!
PIDS+=("$drv")
wait "$drv"
rc=$?
check "bench/run.sh (quick) exits 0 (rc=$rc)" [ "$rc" = 0 ]
[ "$rc" = 0 ] || sed 's/^/    /' "$WORK/run.err" | tail -n 20
check "the table ends with the targets" grep -q '^Targets' "$WORK/run.out"
ks=()
for s in none nomatch redirect two; do ks+=("connect.setups.$s.median" "connect.setups.$s.ratio.median"); done
for s in direct crd1 crd2 nft1 nft2 ipt1 ipt2; do ks+=("rate.setups.$s.median" "rate.setups.$s.ratio.p25"); done
# The relay comparison (issue 19): nftables + bench/min_relay beside the proxies.
for k in rate_seq rate_conc; do
	for s in direct min1 nft1 crd1 crd1log; do ks+=("$k.setups.$s.median" "$k.setups.$s.ratio.median"); done
done
for s in direct crd1 crd2 crd1copy crd2copy; do ks+=("throughput.setups.$s.median" "throughput.setups.$s.p75"); done
for s in direct crd1 crd2 nft1; do ks+=("latency_p50.setups.$s.median" "latency_p99.setups.$s.median"); done
check_json "build/bench.json" "$WORK/bench.json" schema date command tree machine.cpu \
	machine.cores machine.kernel machine.shared settings.rounds settings.flows "${ks[@]}" \
	connect.setups.none.rounds connect_costs.redirect_minus_none_us connect_costs.two_minus_none_us \
	rate_crd_vs_nft.one_proxy memory.kernel_bytes_per_flow memory.flows_open \
	memory.proxy_rss_bytes_per_flow memory_nftables.conntrack_bytes_per_flow \
	events_nomatch.setups.nomatch_on.ratio.median events_redirect.setups.redirect_on.median \
	failed_runs elapsed_s targets targets.target targets.status targets.missed_by_pct settings.clients
check "no run of the driver failed" grep -q '"failed_runs":0,' "$WORK/bench.json"
m=$(grep -o '"rate_seq":{[^}]*"setups":{"direct":{[^}]*}[^}]*},"min1":{[^}]*"median":[0-9.e+]*' "$WORK/bench.json" | sed 's/.*"median"://')
check "nftables + min_relay relayed connections (sequential median ${m:-none}/s)" \
	awk -v m="${m:-0}" 'BEGIN { exit !(m > 0) }'
check "every issue-19 target has a status (met or missed by N%)" \
	[ "$(grep -c '^  \[\(met\|missed by [0-9.]*%\)\] .*issue 19' "$WORK/run.out")" = 6 ]
check "no connection errors in the relay comparison" sh -c "! grep -q 'connection errors' '$WORK/run.out'"
CG2=$(dirname "$TEST_CG")
check "the driver removed its cgroup" [ ! -e "$CG2/connredir-bench-$drv" ]
check "the driver removed its pins" \
	[ -z "$(ls -d /sys/fs/bpf/connredir/b"$drv"[rlm] 2>/dev/null)" ]
