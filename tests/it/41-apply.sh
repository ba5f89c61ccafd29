#!/usr/bin/env bash
# 41-apply: `connredir apply FILE` attaches and makes the services match
# FILE; applying it again changes nothing; a changed file changes exactly
# what differs (a service whose identity is the same keeps its id, its
# counters and its proxy's claimed listener, so traffic goes on through it);
# `apply --check` changes nothing; a file with any problem reports FILE:LINE
# for each and changes nothing, not even the parts that were right;
# `apply --detach` detaches, but never on a file with a problem; an empty
# file is refused unless --allow-empty (then it detaches).
. "$(dirname "$0")/../lib.sh"

# svc NAME [FIELD]: service NAME (or one field of it) from service list --json.
svc() {
	crd service list --json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["name"] == sys.argv[1]:
        print(json.dumps(s if len(sys.argv) < 3 else s[sys.argv[2]], sort_keys=True))' "$@"
}
names() { crd service list --json | python3 -c '
import json, sys
print(" ".join(s["name"] for s in json.load(sys.stdin)))'; }
hop_limit() { crd status --json | grep -o '"hop_limit":[0-9]*' | cut -d: -f2; }
redirected() { crd stats --json | python3 -c '
import json, sys
print(sum(s["redirected"] for s in json.load(sys.stdin)["services"] if s["name"] == sys.argv[1]))' "$1"; }
state() { crd service list --json; hop_limit; }
# same_lines FILE EXPECTED: FILE holds exactly the lines of EXPECTED.
same_lines() { diff <(printf '%s\n' "$2") "$1" >"$WORK/diff" || { cat "$WORK/diff"; return 1; }; }
# line_of FILE TEXT: the number of the first line of FILE holding TEXT.
line_of() { grep -n -F -- "$2" "$1" | head -n1 | cut -d: -f1; }
attached() { [ -d "/sys/fs/bpf/connredir/$INST" ]; }

# The example proxy of the source tree, built against the build tree's
# library: it claims its listener for its service.
SAN=   # a `make SANITIZE=1` library needs the sanitizers' runtime
nm "$BUILD/libconnredir.a" 2>/dev/null | grep -q __asan_ && SAN="-fsanitize=address,undefined"
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror $SAN -I"$T_ROOT/include" -o "$WORK/rp" \
	"$T_ROOT/examples/records-proxy.c" "$BUILD/libconnredir.a" -pthread ||
	{ fail "building examples/records-proxy.c"; exit; }

cat >"$WORK/v1.conf" <<EOF
; version 1
[instance]
cgroup = $TEST_CG
hop-limit = 6

[service firewall]
proxy = 127.0.0.1:15001
weight = 300
owner-cgroup = fw
dst = 127.0.0.0/8

[service av]
proxy = 127.0.0.1:15002, [::1]:15002
weight = 200
owner-cgroup = av
dport = 80          ; only plain HTTP
fail = open

[service old]
proxy = 127.0.0.1:15003
weight = 100
owner-uid = 0
dst = 192.0.2.0/24
EOF

# --- --check on nothing, then apply ----------------------------------------
crd apply --check "$WORK/v1.conf" >"$WORK/out" 2>"$WORK/err"
rc=$?
check "apply --check exits 0 on a good file, nothing on stderr" eval '[ $rc = 0 ] && [ ! -s "$WORK/err" ]'
check "apply --check prints what it would do" same_lines "$WORK/out" \
"+ instance $INST: cgroup $TEST_CG, hop-limit 6
+ service firewall
+ service av
+ service old"
check "apply --check attached nothing" eval "! attached"
check "apply --check made no cgroup" eval '[ ! -e "$TEST_CG/fw" ] && [ ! -e "$TEST_CG/av" ]'

crd apply "$WORK/v1.conf" >"$WORK/out" 2>"$WORK/err"
rc=$?
check "apply attaches and adds (exit 0, nothing on stderr)" eval '[ $rc = 0 ] && [ ! -s "$WORK/err" ]'
check "apply prints one line per change" same_lines "$WORK/out" \
"+ instance $INST: cgroup $TEST_CG, hop-limit 6
+ service firewall
+ service av
+ service old"
check "instance attached with hop limit 6" [ "$(hop_limit)" = 6 ]
check "services in weight order: firewall av old" [ "$(names)" = "firewall av old" ]
check "av has both proxies" [ "$(svc av proxy)" = '["127.0.0.1:15002", "[::1]:15002"]' ]
check "av: dport 80, fail open" [ "$(svc av dport)/$(svc av fail)" = '["80-80"]/"open"' ]
check "the owner cgroups were made in the attached cgroup" eval '[ -d "$TEST_CG/fw" ] && [ -d "$TEST_CG/av" ]'
check "firewall's owner cgroup is <attached>/fw" \
	[ "$(svc firewall owner_cgroup_id)" = "$(stat -c %i "$TEST_CG/fw")" ]

before=$(state)
crd apply "$WORK/v1.conf" >"$WORK/out" 2>&1
check "the same file again: '= no changes'" same_lines "$WORK/out" "= no changes"
check "the same file again changed nothing (ids included)" [ "$(state)" = "$before" ]

# --- traffic through firewall's proxy, which claims its listener -----------
start_origin 127.0.0.1:8080
bg fw "$WORK/rp" firewall 127.0.0.1:15001 >"$WORK/rp.log" 2>&1
wait_lines "$WORK/rp.log" 1 || fail "records-proxy did not start: $(cat "$WORK/rp.log")"
curl_ok() { # curl from the attached cgroup reaches the origin
	bg app curl -s -o "$WORK/curl.out" --max-time 10 http://127.0.0.1:8080/x
	wait "$BG_PID" && grep -q "origin ok" "$WORK/curl.out"
}
check "curl reaches the origin through firewall" curl_ok
check "firewall's proxy saw it" eventually grep -q "state REDIRECTED_BY_SELF app curl .* dst 127.0.0.1 port 8080" "$WORK/rp.log"
fw_id=$(svc firewall id) av_id=$(svc av id) fw_obj=$(svc firewall)
fw_count=$(redirected firewall)

# --- a changed file changes exactly what differs ---------------------------
sed -e 's/^weight = 200$/weight = 250/' -e 's/^dport = 80 .*/dport = 80, 443/' \
	-e 's/^hop-limit = 6$/hop-limit = 4/' \
	-e '/^\[service old\]/,$d' "$WORK/v1.conf" >"$WORK/v2.conf"
cat >>"$WORK/v2.conf" <<EOF
[service dlp]
proxy = 127.0.0.1:15004
weight = 250
owner-uid = 0
dst = 198.51.100.0/24
fail = open
EOF
crd apply --check "$WORK/v2.conf" >"$WORK/check.out" 2>&1
check "apply --check on v2 changed nothing" [ "$(state)" = "$before" ]
crd apply "$WORK/v2.conf" >"$WORK/out" 2>&1
check "v2: exit 0" [ $? = 0 ]
check "v2: the changes, one line each" same_lines "$WORK/out" \
"~ instance $INST: hop-limit 6 -> 4
~ service av: weight 200 -> 250, dport 80 -> 80,443
+ service dlp
- service old"
check "--check printed the same lines as apply" cmp -s "$WORK/check.out" "$WORK/out"
check "v2: hop limit 4" [ "$(hop_limit)" = 4 ]
check "v2: firewall untouched (same object, same id)" [ "$(svc firewall)" = "$fw_obj" ]
check "v2: av changed in place of its old self, same id" \
	[ "$(svc av id)/$(svc av weight)/$(svc av dport)" = "$av_id/250/[\"80-80\", \"443-443\"]" ]
check "v2: old removed, dlp added with a new id" \
	eval '[ "$(names)" = "firewall av dlp" ] && [ "$(svc dlp id)" -gt "$(svc av id)" ]'

# Now firewall's weight changes: same identity, so the same id, the same
# counters, and its proxy's claim still holds: traffic goes on through it.
sed -e 's/^weight = 300$/weight = 150/' "$WORK/v2.conf" >"$WORK/v3.conf"
crd apply "$WORK/v3.conf" >"$WORK/out" 2>&1
check "v3: firewall's weight changed" same_lines "$WORK/out" "~ service firewall: weight 300 -> 150"
check "v3: new weight order: av dlp firewall" [ "$(names)" = "av dlp firewall" ]
check "v3: firewall kept its id $fw_id" [ "$(svc firewall id)" = "$fw_id" ]
check "v3: firewall kept its counters ($fw_count)" [ "$(redirected firewall)" = "$fw_count" ]
check "v3: curl still goes through firewall's claimed listener" curl_ok
check "v3: firewall counted it" [ "$(redirected firewall)" = $((fw_count + 1)) ]
two_flows() { [ "$(grep -c "app curl" "$WORK/rp.log")" = 2 ]; }
check "v3: the proxy saw both flows" eventually two_flows

# A new identity is another proxy: a new id.
sed -e 's/^owner-cgroup = av$/owner-cgroup = av2/' "$WORK/v3.conf" >"$WORK/v4.conf"
crd apply "$WORK/v4.conf" >"$WORK/out" 2>&1
check "v4: av's identity changed" same_lines "$WORK/out" "~ service av: owner-cgroup av -> av2"
check "v4: av has a new id" [ "$(svc av id)" -gt "$(svc dlp id)" ]
check "v4: <attached>/av2 was made" [ -d "$TEST_CG/av2" ]

# --- a file with a problem changes nothing ---------------------------------
good=$(state)
# bad NAME EXPECTED_LINE_TEXT MESSAGE: $WORK/NAME.conf is refused, by
# --check and by apply, with FILE:LINE: MESSAGE; nothing changes.
bad() {
	local f=$WORK/$1.conf ln rc msg
	ln=$(line_of "$f" "$2")
	msg="connredir: $f:$ln: $3"
	for mode in --check ""; do
		crd apply $mode "$f" >"$WORK/out" 2>"$WORK/err"
		rc=$?
		if [ "$rc" = 1 ] && grep -qxF -- "$msg" "$WORK/err" && [ ! -s "$WORK/out" ] &&
			[ "$(state)" = "$good" ]; then
			pass "$1${mode:+ ($mode)}: refused with '$msg', nothing changed"
		else
			fail "$1${mode:+ ($mode)}: rc $rc, stderr '$(cat "$WORK/err")', want '$msg'"
		fi
	done
}
# Each bad file is v3 with something new (dlp goes, a service is added).
mk() { sed '/^\[service dlp\]/,$d' "$WORK/v4.conf" >"$WORK/$1.conf"; cat >>"$WORK/$1.conf"; }
mk badprefix <<EOF
[service new]
proxy = 127.0.0.1:15005
owner-uid = 0
dst = 10.0.0.1/8
EOF
bad badprefix "dst = 10.0.0.1/8" "service 'new': dst '10.0.0.1/8': host bits set"
mk badkey <<EOF
[service new]
proxy = 127.0.0.1:15005
owner-uid = 0
wieght = 5
EOF
bad badkey "wieght" "service 'new': unknown key 'wieght'"
mk badsection <<EOF
[servce new]
proxy = 127.0.0.1:15005
EOF
bad badsection "[servce new]" "unknown section '[servce new]' (expected [instance] or [service NAME])"
mk dupsection <<EOF
[service av]
proxy = 127.0.0.1:15006
owner-uid = 0
EOF
# (bad finds the line by its text: make the first [service av] look
# different, so the second is found.)
first=$(line_of "$WORK/dupsection.conf" "[service av]")
sed -i "${first}s/.*/[service  av]/" "$WORK/dupsection.conf"
bad dupsection "[service av]" "duplicate section [service av] (first on line $first)"
mk badrange <<EOF
[service new]
proxy = 127.0.0.1:15005
owner-uid = 0
dport = 22, 9-3
EOF
bad badrange "dport = 22, 9-3" "service 'new': dport '9-3': range start above range end"
mk noproxy <<EOF
[service new]
owner-uid = 0
EOF
bad noproxy "[service new]" "service 'new': a proxy address is required (proxy = ADDR:PORT)"
mk nocgroup <<EOF
[service new]
proxy = 127.0.0.1:15005
owner-cgroup = /nonexistent/x
EOF
bad nocgroup "owner-cgroup = /nonexistent" "service 'new': owner-cgroup '/nonexistent/x': no such cgroup"
mk garbage <<EOF
[service new]
proxy = 127.0.0.1:15005
owner-uid = 0
this line has no equals sign
EOF
bad garbage "this line" "syntax error (expected 'KEY = VALUE', [instance] or [service NAME])"
sed "s|^cgroup = .*|cgroup = $TEST_CG/av2|" "$WORK/v4.conf" >"$WORK/moved.conf"
bad moved "cgroup = " "[instance]: cgroup '$TEST_CG/av2': instance '$INST' is attached to $TEST_CG; detach it first to move it"
sed "/^\[instance\]/a name = other$$" "$WORK/v4.conf" >"$WORK/othername.conf"
bad othername "name = " "[instance]: name 'other$$' differs from --instance '$INST'"

# Several problems: all reported, in line order, each once.
printf '[instance]\ncgroup = %s\nhop-limit = 0\n[service a]\nweight = x\n[frob]\n' "$TEST_CG" >"$WORK/many.conf"
crd apply --check "$WORK/many.conf" >/dev/null 2>"$WORK/err"
check "several problems: every one, in line order" same_lines "$WORK/err" \
"connredir: $WORK/many.conf:3: [instance]: hop-limit '0': must be at least 1
connredir: $WORK/many.conf:4: service 'a': a proxy address is required (proxy = ADDR:PORT)
connredir: $WORK/many.conf:5: service 'a': weight 'x': not a decimal number
connredir: $WORK/many.conf:6: unknown section '[frob]' (expected [instance] or [service NAME])"

# Binary input: the report is bounded (5 problems and a count of the rest,
# each cut at 200 characters) and escaped.
{
	printf '[instance]\ncgroup = %s\n' "$TEST_CG"
	for i in $(seq 1 40); do printf '\033]0;pwn\007%0150d\377 = 1\n' "$i"; done
	head -c 5000 /dev/urandom
} >"$WORK/binary.conf"
crd apply --check "$WORK/binary.conf" >/dev/null 2>"$WORK/err"
rc=$?
check "binary input: exit 1, at most 6 lines, the last counting the rest" \
	eval '[ $rc = 1 ] && [ "$(wc -l <"$WORK/err")" -le 6 ] && tail -n1 "$WORK/err" | grep -q "more problems"'
check "binary input: each problem cut at 200 characters, nothing raw" \
	eval '! LC_ALL=C grep -q $'"'"'[\x01-\x08\x0b-\x1f\x7f-\xff]'"'"' "$WORK/err" &&
	[ "$(sed "s|^connredir: $WORK/binary.conf:[0-9]*: ||" "$WORK/err" | awk "length > 203" | wc -l)" = 0 ] &&
	grep -qF "\x1b]0;pwn\x07" "$WORK/err"'

# The root of the hierarchy only with system-wide = yes (checked with
# --check only: a test never attaches there).
printf '[instance]\ncgroup = %s\n' "$CG2" >"$WORK/root.conf"
crd --instance "r$INST" apply --check "$WORK/root.conf" >/dev/null 2>"$WORK/err"
check "the cgroup v2 root is refused without system-wide = yes" \
	grep -qF "$WORK/root.conf:2: [instance]: cgroup '$CG2': is the root of the cgroup v2 hierarchy" "$WORK/err"
crd apply "$WORK/none.conf" 2>"$WORK/err"
rc=$?
check "a missing file: named, exit 1" eval '[ $rc = 1 ] &&
	grep -qxF "connredir: $WORK/none.conf: No such file or directory" "$WORK/err"'

# --- --detach, empty files ---------------------------------------------------
names >"$WORK/names4"
crd apply --detach "$WORK/garbage.conf" >"$WORK/out" 2>"$WORK/err"
rc=$?
check "apply --detach of a file with a problem: exit 1, the problem named, still attached" \
	eval '[ $rc = 1 ] && attached && [ ! -s "$WORK/out" ] &&
	grep -qF "garbage.conf:$(line_of "$WORK/garbage.conf" "this line"): syntax error" "$WORK/err"'
head -c 300 /dev/urandom >"$WORK/junk.conf"
printf '\0\1\2binary\n' >>"$WORK/junk.conf"
crd apply --detach "$WORK/junk.conf" >"$WORK/out" 2>"$WORK/err"
rc=$?
check "apply --detach of a binary file: exit 1, still attached" \
	eval '[ $rc = 1 ] && attached && [ -s "$WORK/err" ]'
printf '; nothing here\n\n   \n# nor here\n' >"$WORK/empty.conf"
: >"$WORK/empty0.conf"
for f in empty empty0; do
	for mode in --detach --check ""; do
		crd apply $mode "$WORK/$f.conf" >"$WORK/out" 2>"$WORK/err"
		rc=$?
		check "apply $mode of an empty file ($f): exit 1, 'empty' named, still attached" \
			eval '[ $rc = 1 ] && attached && [ ! -s "$WORK/out" ] &&
			grep -qF "$WORK/$f.conf: the file is empty" "$WORK/err" &&
			grep -qF -- "--allow-empty" "$WORK/err"'
	done
done
check "the empty files changed no service" eval '[ "$(names)" = "$(cat "$WORK/names4")" ]'
crd apply --check --allow-empty "$WORK/empty.conf" >"$WORK/out" 2>&1
check "apply --check --allow-empty of an empty file: '- instance', still attached" \
	eval 'same_lines "$WORK/out" "- instance $INST" && attached'
crd apply --allow-empty "$WORK/empty.conf" >"$WORK/out" 2>&1
check "apply --allow-empty of an empty file detaches" \
	eval 'same_lines "$WORK/out" "- instance $INST" && ! attached'
crd apply "$WORK/v4.conf" >/dev/null 2>&1
crd apply --detach "$WORK/v4.conf" >"$WORK/out" 2>&1
check "apply --detach of a good file detaches" \
	eval 'same_lines "$WORK/out" "- instance $INST" && ! attached'
crd apply --detach "$WORK/v4.conf" >"$WORK/out" 2>&1
rc=$?
check "apply --detach again: '= instance $INST: not attached', exit 0" \
	eval '[ $rc = 0 ] && same_lines "$WORK/out" "= instance $INST: not attached"'

# --- a full instance: 64 services, and changes with no free slot -------------
{
	printf '[instance]\ncgroup = %s\n' "$TEST_CG"
	for i in $(seq 1 64); do
		printf '[service s%d]\nproxy = 127.0.0.1:%d\nweight = %d\nowner-uid = 0\ndst = 192.0.2.0/24\n' \
			"$i" $((20000 + i)) "$i"
	done
} >"$WORK/full.conf"
crd apply "$WORK/full.conf" >/dev/null 2>&1
count() { crd service list --json | grep -o '"id":' | wc -l; }
check "64 services applied" [ "$(count)" = 64 ]
id5=$(svc s5 id)
sed -e '/^\[service s6\]/,/^dst/d' -e 's/^weight = 5$/weight = 500/' "$WORK/full.conf" >"$WORK/full2.conf"
printf '[service s65]\nproxy = 127.0.0.1:20065\nowner-uid = 0\n' >>"$WORK/full2.conf"
crd apply "$WORK/full2.conf" >"$WORK/out" 2>&1
check "full: a change, an addition and a removal with no free slot" same_lines "$WORK/out" \
"~ service s5: weight 5 -> 500
+ service s65
- service s6"
check "full: s5 first in the order, with its id" \
	eval '[ "$(names | cut -d" " -f1)" = s5 ] && [ "$(svc s5 id)" = "$id5" ]'
check "full: 64 services, s6 gone, s65 there" \
	eval '[ "$(count)" = 64 ] && [ -z "$(svc s6)" ] && [ -n "$(svc s65)" ]'
printf '[service s66]\nproxy = 127.0.0.1:20066\nowner-uid = 0\n' >>"$WORK/full2.conf"
crd apply --check "$WORK/full2.conf" >/dev/null 2>"$WORK/err"
check "a 65th service is refused at its line" grep -qxF \
	"connredir: $WORK/full2.conf:$(line_of "$WORK/full2.conf" "[service s66]"): service 's66': too many services (at most 64)" \
	"$WORK/err"
