#!/usr/bin/env bash
# 42-systemd: the installed systemd units pass `systemd-analyze verify`
# (their commands exist, their man pages too), and their commands do what
# the units promise when run the way systemd runs them (no unit is enabled
# or started here: systemd is not involved): connredir.service's ExecStart
# applies every /etc/connredir/*.conf (connredir-apply-dir, skipping the
# proxy-*.conf environment files), ExecReload applies an edit, a new file
# (a second instance) and detaches the instance of a removed file, refuses
# two files of one instance and goes on past a broken file; ExecStop
# detaches; connredir.path watches the directory and starts
# connredir-reload.service, which reloads connredir.service;
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
# connredir-apply-dir's record of the instances it applied (the unit's is
# in /run/connredir).
export CONNREDIR_STATE=$WORK/applied
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
	"$UNITS/connredir.path" "$UNITS/connredir-reload.service" \
	"$UNITS/connredir-proxy@firewall.service" >"$WORK/verify.out" 2>&1
rc=$?
check "systemd-analyze verify accepts connredir.service, .path, connredir-reload.service and connredir-proxy@firewall.service" \
	eval '[ $rc = 0 ] && ! grep -q connredir "$WORK/verify.out"'
[ -s "$WORK/verify.out" ] && sed 's/^/    verify: /' "$WORK/verify.out"

# The units `make install DESTDIR=... PREFIX=/usr` lays out are these, with
# /usr and /etc for the prefix (their binaries are not on this machine, so
# they cannot be verified in place).
make -s -C "$T_ROOT" install DESTDIR="$WORK/dest" PREFIX=/usr >"$WORK/install2.log" 2>&1 ||
	fail "make install DESTDIR=... PREFIX=/usr: $(cat "$WORK/install2.log")"
for u in connredir.service connredir.path connredir-reload.service connredir-proxy@.service; do
	check "DESTDIR install: $u is the verified one with /usr, /etc paths" \
		cmp -s <(sed -e "s|$ROOT/usr|/usr|g" -e "s|$ROOT/etc|/etc|g" "$UNITS/$u") \
		"$WORK/dest/usr/lib/systemd/system/$u"
done

# --- the commands, as systemd runs them ---------------------------------------
# unit_cmd UNIT KEY [INSTANCE]: the command line of KEY= in UNIT, %i replaced.
unit_cmd() { sed -n "s/^$2=//p" "$UNITS/$1" | sed "s/%i/${3:-}/g"; }

# --- reload on change: connredir.path -> connredir-reload -> reload ------------
check "connredir.path watches $ETC for changes" \
	[ "$(unit_cmd connredir.path PathChanged)" = "$ETC" ]
check "connredir.path starts connredir-reload.service" \
	[ "$(unit_cmd connredir.path Unit)" = connredir-reload.service ]
check "connredir-reload.service reloads connredir.service if it runs" \
	[ "$(unit_cmd connredir-reload.service ExecStart)" = "systemctl try-reload-or-restart connredir.service" ]
check "enabling connredir.service enables connredir.path (Also=)" \
	[ "$(unit_cmd connredir.service Also)" = connredir.path ]
check "connredir.service: reload runs the same command as start" \
	eval '[ "$(unit_cmd connredir.service ExecReload)" = "$(unit_cmd connredir.service ExecStart)" ] &&
	[ "$(unit_cmd connredir.service ExecStart)" = "$ROOT/usr/sbin/connredir-apply-dir $ETC" ]'

out=$(eval "$(unit_cmd connredir.service ExecStart)" 2>&1)
check "connredir.service ExecStart applies connredir.conf (proxy-firewall.conf skipped)" [ "$out" = "connredir.conf: + instance $INST: cgroup $TEST_CG, hop-limit 8
connredir.conf: + service firewall" ]
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
reload() { eval "$(unit_cmd connredir.service ExecReload)" >"$WORK/out" 2>"$WORK/err"; }
reload
check "connredir.service ExecReload applies the edit" [ "$(cat "$WORK/out")" = "connredir.conf: ~ service firewall: weight 300 -> 310" ]
check "after the reload curl still goes through the running proxy" curl_ok

# A second file: a second instance (on a child cgroup), detached with its
# file (cleanup detaches it too, if the test stops half way).
OTHER=o$INST
trap '"$CRD" --instance "$OTHER" detach >/dev/null 2>&1; t_cleanup' EXIT
mkdir -p "$TEST_CG/other"
printf '[instance]\nname = %s\ncgroup = %s/other\n' "$OTHER" "$TEST_CG" >"$ETC/other.conf"
reload
rc=$?
check "reload with a new file: its instance is attached, connredir.conf unchanged" eval '[ $rc = 0 ] &&
	[ "$(cat "$WORK/out")" = "connredir.conf: = no changes
other.conf: + instance $OTHER: cgroup $TEST_CG/other, hop-limit 8" ] &&
	[ -d "/sys/fs/bpf/connredir/$OTHER" ]'
cp "$ETC/connredir.conf" "$ETC/dup.conf"
reload
rc=$?
check "two files of one instance: refused, naming both, nothing applied" eval '[ $rc = 1 ] &&
	[ ! -s "$WORK/out" ] && grep -qF "$ETC/connredir.conf and $ETC/dup.conf both configure instance '"'"'$INST'"'"'" "$WORK/err"'
rm "$ETC/dup.conf"
printf '[instance]\nname = b%s\nthis is not a key\n' "$INST" >"$ETC/broken.conf"
reload
rc=$?
check "a broken file: exit 1, named with its line, the others applied" eval '[ $rc = 1 ] &&
	grep -qF "$ETC/broken.conf:3: syntax error" "$WORK/err" &&
	[ "$(cat "$WORK/out")" = "connredir.conf: = no changes
other.conf: = no changes" ] && [ ! -d "/sys/fs/bpf/connredir/b$INST" ]'
rm "$ETC/broken.conf" "$ETC/other.conf"
reload
rc=$?
check "reload after other.conf is removed: its instance is detached, $INST stays" eval '[ $rc = 0 ] &&
	[ "$(cat "$WORK/out")" = "connredir.conf: = no changes
- instance $OTHER (no file in $ETC configures it any more)" ] &&
	[ ! -d "/sys/fs/bpf/connredir/$OTHER" ] && [ -d "/sys/fs/bpf/connredir/$INST" ]'
check "curl still goes through the proxy" curl_ok

kill -TERM "$PX"
wait "$PX"
rc=$?
check "connredir-proxy@firewall stops on SIGTERM with status 0 (no restart)" [ "$rc" = 0 ]

out=$(eval "$(unit_cmd connredir.service ExecStop)" 2>&1)
check "connredir.service ExecStop detaches" eval '[ "$out" = "connredir.conf: - instance $INST" ] &&
	[ ! -e "/sys/fs/bpf/connredir/$INST" ] && [ ! -e "$CONNREDIR_STATE" ]'

make -s -C "$T_ROOT" uninstall PREFIX="$ROOT/usr" SYSCONFDIR="$ROOT/etc" >/dev/null 2>&1
