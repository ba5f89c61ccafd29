#!/usr/bin/env bash
# 42-systemd: the installed systemd units pass `systemd-analyze verify`
# (their commands exist, their man pages too), and their commands do what
# the units promise when run the way systemd runs them (no unit is enabled
# or started here: systemd is not involved): connredir.service's ExecStart
# applies the configuration, ExecReload applies an edit, ExecStop detaches;
# connredir-proxy@firewall.service's ExecStart, with its environment file,
# runs connredir-proxy in <attached>/proxy-firewall as the proxy of
# [service firewall], and stops with SIGTERM.
. "$(dirname "$0")/../lib.sh"

command -v systemd-analyze >/dev/null || { fail "systemd-analyze is missing (Debian: systemd)"; exit; }
[ -x "$BUILD/connredir-proxy" ] || { fail "no $BUILD/connredir-proxy (run make)"; exit; }

# An install whose paths are real here (PREFIX and SYSCONFDIR under $WORK):
# the units name binaries and files that exist, as on an installed system.
ROOT=$WORK/inst
make -s -C "$T_ROOT" install PREFIX="$ROOT/usr" SYSCONFDIR="$ROOT/etc" >"$WORK/install.log" 2>&1 ||
	{ fail "make install PREFIX=$ROOT/usr: $(cat "$WORK/install.log")"; exit; }
UNITS=$ROOT/usr/lib/systemd/system
ETC=$ROOT/etc/connredir
cat >"$ETC/connredir.conf" <<EOF
[instance]
name = $INST
cgroup = $TEST_CG

[service firewall]
proxy = 127.0.0.1:15001
weight = 300
owner-cgroup = proxy-firewall
EOF
cat >"$ETC/proxy-firewall.conf" <<EOF
CONNREDIR_INSTANCE=$INST
PROXY_OPTS=--listen 127.0.0.1:15001 --log $WORK/firewall.log
EOF

# The installed example configuration is a good one (given a cgroup here).
sed "s|^cgroup = .*|cgroup = $TEST_CG|" "$ETC/connredir.conf.example" >"$WORK/example.conf"
out=$(crd apply --check "$WORK/example.conf" 2>&1)
check "the example configuration passes apply --check" [ "$out" = "+ instance $INST: cgroup $TEST_CG, hop-limit 8
+ service firewall
+ service scanner" ]

# --- systemd-analyze verify --------------------------------------------------
MANPATH=$ROOT/usr/share/man systemd-analyze verify "$UNITS/connredir.service" \
	"$UNITS/connredir-proxy@firewall.service" >"$WORK/verify.out" 2>&1
rc=$?
check "systemd-analyze verify accepts connredir.service and connredir-proxy@firewall.service" \
	eval '[ $rc = 0 ] && ! grep -q connredir "$WORK/verify.out"'
[ -s "$WORK/verify.out" ] && sed 's/^/    verify: /' "$WORK/verify.out"

# The units `make install DESTDIR=... PREFIX=/usr` lays out are these, with
# /usr and /etc for the prefix (their binaries are not on this machine, so
# they cannot be verified in place).
make -s -C "$T_ROOT" install DESTDIR="$WORK/dest" PREFIX=/usr >"$WORK/install2.log" 2>&1 ||
	fail "make install DESTDIR=... PREFIX=/usr: $(cat "$WORK/install2.log")"
for u in connredir.service connredir-proxy@.service; do
	check "DESTDIR install: $u is the verified one with /usr, /etc paths" \
		cmp -s <(sed -e "s|$ROOT/usr|/usr|g" -e "s|$ROOT/etc|/etc|g" "$UNITS/$u") \
		"$WORK/dest/usr/lib/systemd/system/$u"
done

# --- the commands, as systemd runs them ---------------------------------------
# unit_cmd UNIT KEY [INSTANCE]: the command line of KEY= in UNIT, %i replaced.
unit_cmd() { sed -n "s/^$2=//p" "$UNITS/$1" | sed "s/%i/${3:-}/g"; }

out=$(eval "$(unit_cmd connredir.service ExecStart)" 2>&1)
check "connredir.service ExecStart applies the configuration" [ "$out" = "+ instance $INST: cgroup $TEST_CG, hop-limit 8
+ service firewall" ]
check "the instance is attached with service firewall" \
	grep -q '"name":"firewall","weight":300' <<<"$(crd service list --json)"

# setenv: export the KEY=VALUE lines of stdin as systemd reads them (the
# value is the rest of the line; '#' and ';' lines are comments).
setenv() {
	local e
	while IFS= read -r e; do
		case $e in "" | "#"* | ";"*) continue ;; esac
		export "${e%%=*}=${e#*=}"
	done
}
# connredir-proxy@firewall: Environment= lines, then the EnvironmentFile.
start_origin 127.0.0.1:8080
(
	setenv < <(unit_cmd connredir-proxy@.service Environment firewall)
	setenv <"$ETC/proxy-firewall.conf"
	eval "exec $(unit_cmd connredir-proxy@.service ExecStart firewall)"
) 2>"$WORK/firewall.err" &
PX=$!
PIDS+=("$PX")
for ((i = 0; i < 200; i++)); do
	grep -q 'listening on' "$WORK/firewall.err" 2>/dev/null && break
	sleep 0.05
done
check "connredir-proxy@firewall started" grep -q 'listening on' "$WORK/firewall.err"
child=$(pgrep -P "$PX")
check "connredir-proxy (pid ${child:-none}, child of connredir exec) runs in <attached>/proxy-firewall" \
	grep -qx "${child:-none}" "$TEST_CG/proxy-firewall/cgroup.procs"

curl_ok() {
	bg app curl -s -o "$WORK/curl.out" --max-time 10 http://127.0.0.1:8080/x
	wait "$BG_PID" && grep -q "origin ok" "$WORK/curl.out"
}
check "curl reaches the origin through connredir-proxy@firewall" curl_ok
wait_lines "$WORK/firewall.log" 1
check "connredir-proxy logged the flow for service firewall" grep -q '"service":"firewall"' "$WORK/firewall.log"

sed -i 's/^weight = 300$/weight = 310/' "$ETC/connredir.conf"
out=$(eval "$(unit_cmd connredir.service ExecReload)" 2>&1)
check "connredir.service ExecReload applies the edit" [ "$out" = "~ service firewall: weight 300 -> 310" ]
check "after the reload curl still goes through the running proxy" curl_ok

kill -TERM "$PX"
wait "$PX"
rc=$?
check "connredir-proxy@firewall stops on SIGTERM with status 0 (no restart)" [ "$rc" = 0 ]

out=$(eval "$(unit_cmd connredir.service ExecStop)" 2>&1)
check "connredir.service ExecStop detaches" eval '[ "$out" = "- instance $INST" ] &&
	[ ! -e "/sys/fs/bpf/connredir/$INST" ]'

make -s -C "$T_ROOT" uninstall PREFIX="$ROOT/usr" SYSCONFDIR="$ROOT/etc" >/dev/null 2>&1
