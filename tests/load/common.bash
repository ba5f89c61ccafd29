# shellcheck shell=bash
# tests/load/common.bash - what the load tests share; sourced after
# ../lib.sh (not a test itself: tests/run.sh --load runs tests/load/*.sh).
#
# load_setup K makes K two-proxy chains, chain i for destination port
# 8080+i:
#
#   app (crd-client) -> connredir-proxy pa<i> (service A<i>, weight 2)
#                    -> connredir-proxy pb<i> (service B<i>, weight 1)
#                    -> crd-origin 127.0.0.1:8080+i
#
# and measures the idle state: every connredir map's entry count (all of
# status --json "maps", before any flow), and each proxy's descriptors and
# RSS after 20 warm-up flows through its chain (what a proxy allocates
# once, at its first flow, is idle state too). load_back_to_idle checks
# that after the load everything is back there: the maps and descriptors
# exactly, the RSS within 10% + 1 MiB of the idle RSS.
#
# One chain is enough unless a proxy's descriptor limit cannot hold its
# share of the flows: connredir-proxy needs 6 descriptors per flow (two
# sockets, two pipes) and the test can raise RLIMIT_NOFILE's hard limit only
# with CAP_SYS_RESOURCE (see chains_for).

NOFILE_WANT=200000
FDS_PER_FLOW=6     # proxy/main.c
FDS_SPARE=64       # proxy/main.c

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }
hwm_kib() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"; }
rss_limit() { echo $(($1 + $1 / 10 + 1024)); } # IDLE_KIB: 10% + 1 MiB over idle

# maps_all: "NAME=N ..." for every map status --json counts, in its order
# (NAME=null: not countable on this kernel, e.g. without BPF iterators).
maps_all() {
	crd status --json | python3 -c '
import json, sys
print(" ".join("%s=%s" % (k, "null" if v is None else v)
               for k, v in json.load(sys.stdin)["maps"].items()))'
}
# map_of MAPS NAME: the count of NAME in a maps_all line.
map_of() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# until_true SECONDS CMD...: CMD succeeds within SECONDS (polled).
until_true() {
	local i n=$(($1 * 10))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# raise_nofile: the descriptor limit as high as this process may set it
# (NOFILE_WANT with CAP_SYS_RESOURCE, else the hard limit). Sets NOFILE.
raise_nofile() {
	ulimit -Hn "$NOFILE_WANT" 2>/dev/null
	NOFILE=$(ulimit -Hn)
	[ "$NOFILE" = unlimited ] && NOFILE=$NOFILE_WANT
	ulimit -Sn "$NOFILE" || { fail "cannot raise RLIMIT_NOFILE's soft limit to $NOFILE"; exit; }
}

# chains_for N: how many chains carry N concurrent flows, each proxy's
# share (with --max-flows 10% above it) fitting its descriptor limit.
chains_for() {
	local k
	for k in 1 2 4 5 8 10; do
		if [ $(($1 / k * 11 / 10 * FDS_PER_FLOW + FDS_SPARE)) -le "$NOFILE" ]; then
			echo "$k"
			return
		fi
	done
	echo 0
}

load_setup() { # K
	local i origin=()
	K=$1
	[ -x "$PROXY" ] || { fail "no $PROXY (run make)"; exit; }
	crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
	IDLE_MAPS=$(maps_all)
	[ -n "$IDLE_MAPS" ] || { fail "status --json gives no map counts"; exit; }
	for ((i = 0; i < K; i++)); do origin+=("127.0.0.1:$((8080 + i))"); done
	start_origin "${origin[@]}"
	PXA=() PXB=()
	for ((i = 0; i < K; i++)); do
		crd service add "A$i" --proxy "127.0.0.1:$((15100 + i))" --weight 2 \
			--owner-cgroup "pa$i" --dport $((8080 + i)) >/dev/null &&
			crd service add "B$i" --proxy "127.0.0.1:$((15200 + i))" --weight 1 \
				--owner-cgroup "pb$i" --dport $((8080 + i)) >/dev/null ||
			{ fail "service add A$i/B$i"; exit; }
		start_cproxy "pa$i" "pa$i" --service "A$i" --listen "127.0.0.1:$((15100 + i))" \
			--inspect log ${MAX_FLOWS:+--max-flows "$MAX_FLOWS"} || exit
		PXA+=("$PX_PID")
		start_cproxy "pb$i" "pb$i" --service "B$i" --listen "127.0.0.1:$((15200 + i))" \
			--inspect log ${MAX_FLOWS:+--max-flows "$MAX_FLOWS"} || exit
		PXB+=("$PX_PID")
	done
	PX=("${PXA[@]}" "${PXB[@]}")
	PXN=()
	for ((i = 0; i < K; i++)); do PXN+=("pa$i"); done
	for ((i = 0; i < K; i++)); do PXN+=("pb$i"); done

	# Warm-up: 20 flows through each chain, then the idle figures.
	for ((i = 0; i < K; i++)); do
		bg app "$TOOLS/crd-client" --count 20 --bytes 100 127.0.0.1 $((8080 + i)) \
			>"$WORK/warm$i.out" 2>&1
		wait "$BG_PID" || { fail "warm-up flows failed: $(tail -n 3 "$WORK/warm$i.out")"; exit; }
	done
	for i in "${PXN[@]}"; do
		wait_lines "$WORK/$i.log" 20 10 || { fail "proxy $i did not log its 20 warm-up flows"; exit; }
	done
	until_true 10 maps_idle || { fail "maps not idle after the warm-up: $(maps_all)"; exit; }
	sleep 0.5 # the proxies close a flow's sockets right after its log line
	IDLE_FDS=() IDLE_RSS=()
	for i in "${!PX[@]}"; do
		IDLE_FDS+=("$(fds "${PX[i]}")")
		IDLE_RSS+=("$(rss_kib "${PX[i]}")")
	done
	echo "idle: maps $IDLE_MAPS; proxies ${PXN[*]}: descriptors ${IDLE_FDS[*]}, RSS KiB ${IDLE_RSS[*]}"
}

maps_idle() { [ "$(maps_all)" = "$IDLE_MAPS" ]; }
fds_now() {
	local i out=()
	for i in "${!PX[@]}"; do out+=("$(fds "${PX[i]}")"); done
	echo "${out[*]}"
}
fds_idle() { [ "$(fds_now)" = "${IDLE_FDS[*]}" ]; }
rss_near_idle() {
	local i
	for i in "${!PX[@]}"; do
		[ "$(rss_kib "${PX[i]}")" -le "$(rss_limit "${IDLE_RSS[i]}")" ] || return 1
	done
}

# has_lines FILE N: FILE has at least N lines.
has_lines() { [ "$(wc -l <"$1")" -ge "$2" ]; }

# logged_all N BYTES: every proxy logged N more flows than the 20 warm-up
# ones, each closed normally with BYTES bytes relayed each way.
logged_all() {
	local n=$1 bytes=$2 p got
	for p in "${PXN[@]}"; do
		until_true 30 has_lines "$WORK/$p.log" $((20 + n))
		got=$(tail -n "$n" "$WORK/$p.log" |
			grep -c "\"bytes_up\":$bytes,\"bytes_down\":$bytes,.*\"end_reason\":\"closed\"")
		check "proxy $p logged its $n flows, all closed normally with $bytes bytes each way ($got)" \
			[ "$got" = "$n" ]
	done
}

# load_back_to_idle WHAT: after the load, everything is back to idle.
load_back_to_idle() {
	local what=$1 i now peak limit
	until_true 30 maps_idle
	check "$what: every connredir map back to its idle count (idle: $IDLE_MAPS; now: $(maps_all))" \
		maps_idle
	until_true 30 fds_idle
	check "$what: the proxies (${PXN[*]}) are back to their idle descriptors (idle: ${IDLE_FDS[*]}; now: $(fds_now))" \
		fds_idle
	until_true 10 rss_near_idle
	for i in "${!PX[@]}"; do
		now=$(rss_kib "${PX[i]}") peak=$(hwm_kib "${PX[i]}") limit=$(rss_limit "${IDLE_RSS[i]}")
		check "$what: proxy ${PXN[i]} RSS back near idle: idle ${IDLE_RSS[i]} KiB, peak $peak KiB, now $now KiB (limit: idle + 10% + 1 MiB = $limit KiB)" \
			[ "$now" -le "$limit" ]
	done
	for i in "${!PX[@]}"; do
		kill -0 "${PX[i]}" 2>/dev/null || fail "$what: proxy ${PXN[i]} is gone"
	done
}
