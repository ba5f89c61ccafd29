#!/bin/sh
# deploy/entrypoint.sh - the entry point of the connredir agent image
# (deploy/Containerfile): one agent per node (deploy/daemonset.yaml).
#
# Applies every *.conf of the configuration directory (the ConfigMap,
# deploy/configmap.yaml) with connredir-apply-dir(8), then stays in the
# foreground: every CONNREDIR_INTERVAL seconds it compares the directory's
# files (names and contents) with what it applied and applies them again
# when they differ (a ConfigMap update swaps them all at once). A broken
# configuration at start exits 1 (the pod restarts, the error in its log);
# a broken change is logged and changes nothing, and the agent goes on.
# SIGTERM or SIGINT: exit 0, leaving the instances attached (their state is
# pinned in the host's bpffs, so redirection goes on across a restart or an
# upgrade of the pod, and the next start finds "= no changes"), unless
# CONNREDIR_DETACH_ON_EXIT=1.
#
# Environment:
#   CONNREDIR_CONFIG_DIR      the configuration directory (/etc/connredir)
#   CONNREDIR_INTERVAL        seconds between looks at it (5)
#   CONNREDIR_DETACH_ON_EXIT  1: detach every instance on SIGTERM (0)
#   CONNREDIR_APPLY_DIR       the connredir-apply-dir to run (from PATH)
#   CONNREDIR, CONNREDIR_INSTANCE, CONNREDIR_STATE: for connredir-apply-dir
set -u
dir=${CONNREDIR_CONFIG_DIR:-/etc/connredir}
interval=${CONNREDIR_INTERVAL:-5}
apply_dir=${CONNREDIR_APPLY_DIR:-connredir-apply-dir}

log() { echo "connredir-agent: $*"; }
# fingerprint: the names and contents of the files connredir-apply-dir reads.
fingerprint() {
	for f in "$dir"/*.conf; do
		[ -f "$f" ] && printf '%s\n' "$f" && cat "$f"
	done 2>/dev/null | cksum
}

stop=0 sleeper=
trap 'stop=1; [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null' TERM INT

log "applying $dir"
last=$(fingerprint)
"$apply_dir" "$dir" || {
	log "applying $dir failed (see above); exiting"
	exit 1
}
log "applied; watching $dir every ${interval}s"
while [ "$stop" = 0 ]; do
	sleep "$interval" &
	sleeper=$!
	wait "$sleeper"
	sleeper=
	[ "$stop" = 1 ] && break
	now=$(fingerprint)
	[ "$now" = "$last" ] && continue
	last=$now
	log "$dir changed: applying it again"
	"$apply_dir" "$dir" || log "applying $dir failed (see above); the instances stay as they were"
done
if [ "${CONNREDIR_DETACH_ON_EXIT:-0}" = 1 ]; then
	log "stopping: detaching"
	"$apply_dir" --detach "$dir"
	exit
fi
log "stopping; the instances stay attached"
exit 0
