#!/usr/bin/env bash
# 43-deploy: the deploy/ manifests are well-formed YAML (PyYAML, Debian's
# python3-yaml from scripts/install-deps.sh) and say what deploy/README.md
# says: the DaemonSet mounts the host's cgroup2 and bpffs where connredir
# looks for them and the ConfigMap at /etc/connredir, is not privileged,
# and adds exactly the capabilities the README lists; the image's runtime
# stage installs the package of every library connredir links. The ConfigMap's
# configuration, pointed at this test's cgroup, is accepted by `connredir
# apply`. The image's entry point, deploy/entrypoint.sh, run directly the
# way the image runs it (environment pointing at this test's instance,
# cgroup and configuration directory) and with only the DaemonSet's
# capabilities: applies the configuration, applies a change, keeps the
# instance as it was on a broken change, exits 0 on SIGTERM leaving the
# instance attached (a restart finds "= no changes"), detaches on SIGTERM
# with CONNREDIR_DETACH_ON_EXIT=1, and exits 1 on a broken configuration at
# start. Each of the three capabilities alone missing, apply fails. No image
# is built: no container runtime is needed.
. "$(dirname "$0")/../lib.sh"

D=$T_ROOT/deploy
python3 -c 'import yaml' 2>/dev/null ||
	{ fail "python3 has no PyYAML (Debian: python3-yaml; scripts/install-deps.sh installs it)"; exit; }

# --- the manifests ------------------------------------------------------------
# yq FILE EXPR: EXPR (Python, on the documents `docs`, the first `d`) of FILE.
yq() {
	python3 -c '
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
d = docs[0]
print(eval(sys.argv[2]))' "$@"
}
for f in daemonset.yaml configmap.yaml; do
	check "deploy/$f parses as YAML (one document)" eval '[ "$(yq "$D/$f" "len(docs)" 2>&1)" = 1 ]'
done
check "deploy/daemonset.yaml is an apps/v1 DaemonSet" \
	[ "$(yq "$D/daemonset.yaml" 'd["apiVersion"] + " " + d["kind"]')" = "apps/v1 DaemonSet" ]
check "deploy/configmap.yaml is a v1 ConfigMap" \
	[ "$(yq "$D/configmap.yaml" 'd["apiVersion"] + " " + d["kind"]')" = "v1 ConfigMap" ]
check "the DaemonSet's selector matches its pod labels" [ "$(yq "$D/daemonset.yaml" '
all(d["spec"]["template"]["metadata"]["labels"].get(k) == v
    for k, v in d["spec"]["selector"]["matchLabels"].items())')" = True ]

POD='d["spec"]["template"]["spec"]'
C="${POD}[\"containers\"][0]"
# The container's mounts: "mountPath hostPath-path|configMap-name|other".
mounts=$(yq "$D/daemonset.yaml" "'\\n'.join(
    m['mountPath'] + ' ' + (v['hostPath']['path'] if 'hostPath' in v else
                            v['configMap']['name'] if 'configMap' in v else 'other')
    for vol in [{v['name']: v for v in ${POD}['volumes']}]
    for m in ${C}['volumeMounts'] for v in [vol[m['name']]])")
check "hostPath /sys/fs/cgroup at /sys/fs/cgroup ($(tr '\n' ';' <<<"$mounts"))" \
	grep -qx "/sys/fs/cgroup /sys/fs/cgroup" <<<"$mounts"
check "hostPath /sys/fs/bpf at /sys/fs/bpf" grep -qx "/sys/fs/bpf /sys/fs/bpf" <<<"$mounts"
cm=$(yq "$D/configmap.yaml" 'd["metadata"]["name"]')
check "the ConfigMap ($cm) at /etc/connredir" grep -qx "/etc/connredir $cm" <<<"$mounts"
check "DaemonSet and ConfigMap are in one namespace" [ "$(yq "$D/daemonset.yaml" 'd["metadata"]["namespace"]')" = \
	"$(yq "$D/configmap.yaml" 'd["metadata"]["namespace"]')" ]
check "the container is not privileged and drops every capability" [ "$(yq "$D/daemonset.yaml" "(lambda sc:
    sc.get('privileged') is False and sc['capabilities']['drop'] == ['ALL'] and
    sc.get('allowPrivilegeEscalation') is False)(${C}['securityContext'])")" = True ]
caps=$(yq "$D/daemonset.yaml" "' '.join(sorted(${C}['securityContext']['capabilities']['add']))")
readme_caps=$(sed -n 's/^| `CAP_\([A-Z_]*\)` |.*/\1/p' "$D/README.md" | sort | tr '\n' ' ')
check "the DaemonSet adds exactly the capabilities deploy/README.md explains ($caps)" \
	[ "$caps " = "$readme_caps" ]
check "the image's entry point is deploy/entrypoint.sh" eval '
	dst=$(sed -n "s|^COPY deploy/entrypoint.sh ||p" "$D/Containerfile") &&
	grep -qx "ENTRYPOINT \[\"$dst\"\]" "$D/Containerfile" && grep -q "^FROM debian:12" "$D/Containerfile"'

# The runtime stage installs the packages of every library connredir links
# against (found by dpkg on this Debian machine; the sanitizers' aside).
rt_pkgs=" $(sed -n 's/.*apt-get install -y --no-install-recommends \(.*\) \\$/\1/p' "$D/Containerfile") "
for lib in $(ldd "$CRD" | awk '$3 ~ /^\// { print $3 }' | grep -v -e '/libc\.so' -e 'libasan' -e 'libubsan' -e 'libstdc'); do
	real=$(readlink -f "$lib") # (merged /usr: dpkg may know it as /lib/...)
	pkg=$({ dpkg -S "$real" || dpkg -S "${real#/usr}"; } 2>/dev/null | head -n1 | cut -d: -f1)
	check "the image installs $pkg, for connredir's $(basename "$lib")" eval '[ -n "$pkg" ] && [[ "$rt_pkgs" == *" $pkg "* ]]'
done

# --- the ConfigMap's configuration, on this test's cgroup -----------------------
CONF=$WORK/conf
mkdir -p "$CONF"
keys=$(yq "$D/configmap.yaml" '" ".join(k for k in d["data"] if k.endswith(".conf"))')
check "the ConfigMap has configuration files ($keys)" [ -n "$keys" ]
for k in $keys; do
	yq "$D/configmap.yaml" "d['data']['$k'].rstrip('\n')" >"$WORK/$k.orig"
	sed "s|^cgroup = .*|cgroup = $TEST_CG|" "$WORK/$k.orig" >"$CONF/$k"
	# Never the root, nor anything but this test's cgroup.
	check "$k: its one cgroup line now names the test's cgroup, no system-wide" eval '
		[ "$(grep -c "^cgroup = " "$CONF/$k")" = 1 ] && grep -qx "cgroup = $TEST_CG" "$CONF/$k" &&
		! grep -q "^system-wide" "$CONF/$k" && ! grep -q "^name" "$CONF/$k"'
	crd apply --check "$CONF/$k" >"$WORK/check.out" 2>&1
	check "$k: connredir apply --check accepts it ($(head -n1 "$WORK/check.out"))" eval '[ $? = 0 ] &&
		[ "$(head -n1 "$WORK/check.out")" = "+ instance $INST: cgroup $TEST_CG, hop-limit 8" ]'
done
grep -qx "cgroup = $TEST_CG" "$CONF"/*.conf || { fail "no configuration for the test's cgroup: stopping"; exit; }

# --- the entry point, as the image runs it ----------------------------------------
# Only the DaemonSet's capabilities (bounding set; uid 0 as in the pod).
CAPS=$(for c in $caps; do printf ',+%s' "${c,,}"; done)
export CONNREDIR=$CRD CONNREDIR_INSTANCE=$INST CONNREDIR_STATE=$WORK/applied \
	CONNREDIR_CONFIG_DIR=$CONF CONNREDIR_APPLY_DIR=$T_ROOT/dist/connredir-apply-dir \
	CONNREDIR_INTERVAL=0.2
AGENT=
start_agent() { # OUT: the entry point in the background, output in OUT
	setpriv --bounding-set="-all$CAPS" --inh-caps=-all -- "$D/entrypoint.sh" >"$1" 2>&1 &
	AGENT=$!
	PIDS+=("$AGENT")
}
# stop_agent: SIGTERM; its exit status in rc (124 if it still ran 5 s later).
stop_agent() {
	local i
	kill -TERM "$AGENT"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$AGENT" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$AGENT" 2>/dev/null; then
		kill -KILL "$AGENT"
		rc=124
	else
		wait "$AGENT"
		rc=$?
	fi
}
attached() { [ -d "/sys/fs/bpf/connredir/$INST" ]; }
# started OUT: wait (attaching takes seconds) for the agent's first apply.
started() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -qs "applied; watching\|failed" "$1" && return 0
		kill -0 "$AGENT" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
svc_json() { crd service list --json; }

A=$WORK/agent.out
start_agent "$A"
started "$A"
check "entrypoint.sh (caps$CAPS) applies the example: instance and service sidecar" eval '
	grep -qx "connredir.conf: + instance $INST: cgroup $TEST_CG, hop-limit 8" "$A" &&
	grep -qx "connredir.conf: + service sidecar" "$A" && grep -q "applied; watching $CONF" "$A"'
check "the instance is attached with service sidecar (owner uid 1337, dport 80, 443)" eval '
	attached && grep -q "\"name\":\"sidecar\"" <<<"$(svc_json)" && grep -q "1337" <<<"$(svc_json)"'

# A change, written as the kubelet writes a ConfigMap update (a rename).
sed 's/^weight = 100$/weight = 150/' "$CONF/connredir.conf" >"$WORK/new.conf" && mv "$WORK/new.conf" "$CONF/connredir.conf"
check "a change is applied by the running agent" \
	eventually grep -qx "connredir.conf: ~ service sidecar: weight 100 -> 150" "$A"
before=$(svc_json)
printf 'this is not a key\n' >>"$CONF/connredir.conf"
check "a broken change: logged, the agent goes on" \
	eventually grep -q "failed (see above); the instances stay as they were" "$A"
check "... and nothing changed" eval '[ "$(svc_json)" = "$before" ] && kill -0 "$AGENT"'
check "... the error names the file and line" grep -q "$CONF/connredir.conf:[0-9]*: syntax error" "$A"
sed -i '$d' "$CONF/connredir.conf"

stop_agent
check "SIGTERM: entrypoint.sh exits 0 (rc $rc)" [ "$rc" = 0 ]
check "SIGTERM: the instance stays attached" eval 'attached && grep -q "instances stay attached" "$A"'
sed 's/^/    agent: /' "$A"

A2=$WORK/agent2.out
CONNREDIR_DETACH_ON_EXIT=1 start_agent "$A2"
started "$A2"
check "a restarted agent finds no changes" grep -qx "connredir.conf: = no changes" "$A2"
stop_agent
check "CONNREDIR_DETACH_ON_EXIT=1: SIGTERM detaches, exit 0 (rc $rc)" eval '[ "$rc" = 0 ] && ! attached &&
	grep -qx "connredir.conf: - instance $INST" "$A2"'

printf '[instance]\ncgroup = %s\nfrob = 1\n' "$TEST_CG" >"$CONF/connredir.conf"
A3=$WORK/agent3.out
start_agent "$A3"
for ((i = 0; i < 100; i++)); do kill -0 "$AGENT" 2>/dev/null || break; sleep 0.05; done
wait "$AGENT"
rc=$?
check "a broken configuration at start: exit 1, nothing attached (rc $rc)" eval '[ "$rc" = 1 ] && ! attached &&
	grep -q "exiting" "$A3"'

# --- each capability is needed ------------------------------------------------------
first=${keys%% *}
sed "s|^cgroup = .*|cgroup = $TEST_CG|" "$WORK/$first.orig" >"$WORK/caps.conf"
for c in $caps; do
	less=$(for o in $caps; do [ "$o" = "$c" ] || printf ',+%s' "${o,,}"; done)
	setpriv --bounding-set="-all$less" --inh-caps=-all -- "$CRD" --instance "$INST" apply "$WORK/caps.conf" \
		>"$WORK/caps.out" 2>&1
	rc=$?
	check "without CAP_$c apply fails, nothing attached ($(grep -m1 -o 'loading BPF programs: [A-Za-z ]*' "$WORK/caps.out"))" \
		eval '[ $rc != 0 ] && ! attached'
	attached && crd detach >/dev/null
done
