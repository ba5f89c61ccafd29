#!/usr/bin/env bash
# demo/demo.sh - `make demo`: three inspection services chained on one real
# curl request, each seeing the flow once, in weight order, with the
# original application and destination.
#
# Everything happens in a private network namespace (loopback only) and a
# child cgroup made for the demo; both, the demo's connredir instance and
# every process it started are removed on exit, whatever happens.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CRD=$ROOT/build/connredir
TOOLS=$ROOT/build/tools

if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root (it loads BPF programs and makes a cgroup)" >&2
	exit 1
fi
if [ -z "${CRD_DEMO_NETNS:-}" ]; then
	export CRD_DEMO_NETNS=1
	exec unshare --net -- "$0" "$@"
fi
ip link set lo up

CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CG2" ] || { echo "demo: no cgroup v2 hierarchy mounted" >&2; exit 1; }
CG=$CG2/connredir-demo-$$
INST=demo$$
WORK=$(mktemp -d /tmp/connredir-demo.XXXXXX)
PIDS=()
bpffs_was=$(stat -f -c %T /sys/fs/bpf 2>/dev/null)

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ -d "/sys/fs/bpf/connredir/$INST" ] && "$CRD" --instance "$INST" detach >/dev/null
	find "$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
	rm -rf "$WORK"
	if [ "$bpffs_was" != bpf_fs ] &&
		[ -z "$(find /sys/fs/bpf -mindepth 1 ! -name '*.debug' 2>/dev/null)" ]; then
		umount /sys/fs/bpf 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$CG"

crd() { "$CRD" --instance "$INST" "$@"; }
in_cg() { # NAME CMD...: start CMD in child cgroup NAME, in the background
	local cg=$CG/$1
	shift
	mkdir -p "$cg"
	(
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 126
		exec "$@"
	) &
	PIDS+=($!)
}
wait_for() { local i; for ((i = 0; i < 100; i++)); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }

echo "== connredir demo: a chain of three inspection services =="
echo
echo "-- attach to a fresh cgroup ($CG)"
crd attach "$CG" || exit 1

"$TOOLS/crd-origin" --ready "$WORK/origin.ready" 127.0.0.1:8080 >/dev/null 2>&1 &
PIDS+=($!)
wait_for "$WORK/origin.ready"

echo "-- start three proxies, each in its own cgroup (its identity)"
port=15001
for name in firewall antivirus dlp; do
	in_cg "$name" "$TOOLS/crd-testproxy" --name "$name" --listen "127.0.0.1:$port" \
		--log "$WORK/hops.log" --ready "$WORK/$name.ready"
	wait_for "$WORK/$name.ready"
	port=$((port + 1))
done
echo "-- register them as redirect services (higher weight sees the flow first)"
crd service add firewall --proxy 127.0.0.1:15001 --weight 300 --owner-cgroup firewall
crd service add antivirus --proxy 127.0.0.1:15002 --weight 200 --owner-cgroup antivirus
crd service add dlp --proxy 127.0.0.1:15003 --weight 100 --owner-cgroup dlp
echo
crd service list
echo
echo "-- an unmodified application: curl http://127.0.0.1:8080/ (in cgroup 'app')"
mkdir -p "$CG/app"
(
	echo "$BASHPID" >"$CG/app/cgroup.procs"
	exec curl -s --max-time 10 http://127.0.0.1:8080/demo
) >"$WORK/curl.out"
rc=$?
echo "   curl exit status: $rc"
echo "   curl received:    $(cat "$WORK/curl.out")"
echo
for _ in $(seq 1 50); do [ "$(wc -l <"$WORK/hops.log" 2>/dev/null)" -ge 3 ] && break; sleep 0.05; done
echo "-- what each proxy saw (from the kernel's records and its context):"
sort -t= -k1,1 "$WORK/hops.log" | awk '{
	for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	printf "   hop %d  %-10s state=%-19s chain=%-7s app=%s(pid %s) orig=%s records-set=%s\n",
		v["hop"] + 1, v["proxy"], v["state"], v["chain"], v["app_comm"], v["app_pid"], v["orig"], v["set"]
}' | sort -k2,2n
echo
echo "-- status"
crd status
echo
if [ "$rc" = 0 ] && [ "$(wc -l <"$WORK/hops.log")" = 3 ]; then
	echo "demo OK: one curl request, three services, each saw it once, in weight order"
else
	echo "demo FAILED" >&2
	exit 1
fi
