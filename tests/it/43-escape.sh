#!/usr/bin/env bash
# 43-escape: text from applications and from the input never reaches the
# terminal raw, and JSON output is valid and lossless for any byte.
# An application whose command name holds escape sequences and bytes >= 0x80
# connects from a cgroup whose path holds them too: `events` (text) and
# `status` show them as \xNN, `events --json` and `status --json` are valid
# JSON that gives the bytes back (\u00XX); error messages of the CLI and of
# connredir-proxy that echo their input escape it too.
. "$(dirname "$0")/../lib.sh"

evil=$'e\e]0;pwn\a\xff\e[2J'          # the command name (15 bytes)
weird=$'cg\e[1m\xfe'                 # a cgroup name
# raw FILE: FILE holds a byte a terminal acts on (a control other than
# newline and tab, DEL, or a byte >= 0x80).
raw() { LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f-\xff]' "$1"; }
# latin1 JSONFILE EXPR: EXPR (python, on `j`) of the JSON, its string
# values' code points read back as bytes (\u00XX is byte XX).
py() { python3 -c "
import json, sys
j = json.loads(open(sys.argv[1], 'rb').read())
print(repr(($2).encode('latin-1')))" "$1"; }

mkdir "$TEST_CG/$weird"
crd attach "$TEST_CG/$weird" >/dev/null || { fail "attach to a cgroup with escapes in its name"; exit; }
# No proxy: the connection fails closed, and that is an event.
crd service add S --proxy 127.0.0.1:15001 --owner-uid 4242 --dport 8080 >/dev/null ||
	fail "service add"
cp "$TOOLS/crd-client" "$WORK/$evil"
# app ARGS: one connection of the evil command from the weird cgroup.
app() { bg "$weird/app" "$WORK/$evil" --bytes 1 --timeout 2 127.0.0.1 8080 >/dev/null 2>&1; wait "$BG_PID"; }

for mode in --json ""; do
	out=$WORK/events${mode:+.json}
	bg ev "$CRD" --instance "$INST" events $mode --count 1 >"$out" 2>&1
	evp=$BG_PID
	sleep 0.5
	app
	for _ in $(seq 50); do kill -0 "$evp" 2>/dev/null || break; sleep 0.1; done
	check "events $mode: no raw control or non-ASCII byte" eval '! raw "$out"'
done
check "events: the command name shown as \\xNN" grep -qF 'app=e\x1b]0;pwn\x07\xff\x1b[2J/' "$WORK/events"
check "events --json: valid JSON, the command name's bytes given back" \
	eval '[ "$(py "$WORK/events.json" "j[\"app_comm\"]")" = "b'"'"'e\\x1b]0;pwn\\x07\\xff\\x1b[2J'"'"'" ]'

crd status >"$WORK/status" 2>&1
crd status --json >"$WORK/status.json" 2>"$WORK/status.err"
check "status: no raw control or non-ASCII byte; the cgroup as \\xNN" \
	eval '! raw "$WORK/status" && grep -qF "cg\\x1b[1m\\xfe" "$WORK/status"'
check "status --json: ASCII, valid, the cgroup path's bytes given back" \
	eval '! raw "$WORK/status.json" &&
	[ "$(py "$WORK/status.json" "j[\"cgroup\"]")" = "$(python3 -c "import sys; print(repr(sys.argv[1].encode(\"utf-8\", \"surrogateescape\")))" "$TEST_CG/$weird")" ]'

# Errors that echo their input.
crd service add $'x\e]0;pwn\a' --proxy 127.0.0.1:1 --owner-uid 1 >"$WORK/err" 2>&1
check "CLI error echoing a bad name: escaped" \
	eval '! raw "$WORK/err" && grep -qF "x\\x1b]0;pwn\\x07" "$WORK/err"'
crd service add T --proxy $'127.0.0.1:1\e[2J\xff' --owner-uid 1 >"$WORK/err" 2>&1
check "CLI error echoing a bad address: escaped" eval '! raw "$WORK/err" && grep -qF "\\x1b[2J\\xff" "$WORK/err"'
"$BUILD/connredir-proxy" --listen $'127.0.0.1:1\e[2J\xff' >"$WORK/err" 2>&1
check "connredir-proxy error echoing a bad --listen: escaped" \
	eval '! raw "$WORK/err" && grep -qF "\\x1b[2J\\xff" "$WORK/err"'
