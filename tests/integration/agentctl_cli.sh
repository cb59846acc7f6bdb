#!/bin/bash
# agentctl's exit statuses and messages: usage errors 2, refusals 1,
# unreachable agentd 3, each with one line on stderr.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
start_agentd

expect_exit 0 "--help" ctl --help
expect_exit 0 "--version" ctl --version
expect_exit 2 "no command" ctl
expect_exit 2 "unknown command" ctl frobnicate
expect_exit 2 "unknown option" ctl list --bogus
expect_exit 2 "create without --purpose" ctl create
expect_exit 2 "bad --ttl" ctl create --purpose ci --ttl 5x
expect_exit 2 "--ttl 0" ctl create --purpose ci --ttl 0
expect_exit 2 "invalid purpose name" ctl create --purpose 'Bad Name'
expect_exit 2 "control character in --task" ctl create --purpose ci --task $'a\nb'
expect_exit 2 "invalid identity name" ctl show '../etc'
expect_exit 2 "show needs one name" ctl show
expect_exit 2 "stray argument" ctl status extra
expect_exit 1 "refused by policy" ctl create --purpose nosuch
check "status --json has the range" [ "$(ctl status --json | jq -c '[.uid_min,.uid_max]')" = "[$UID_MIN,$UID_MAX]" ]
check "show NAME --json (option after the name)" \
	ctl show "$(ctl create --purpose ci --json | jq -r .name)" --json
err=$("$AGENTCTL" -S "$T/nope.sock" status 2>&1 >/dev/null) && rc=0 || rc=$?
check "unreachable agentd exits 3" [ "$rc" = 3 ]
check "with one line on stderr" [ "$(wc -l <<<"$err")" = 1 ]
check "naming the socket" grep -q "nope.sock" <<<"$err"

# A hostile client: garbage and oversized datagrams get an error or a
# disconnect and change nothing.
before=$(ctl list --all --json | jq length)
python3 - "$T/run/agentd.sock" <<'PY'
import socket, sys
for payload in [b"", b"\x01", b"\x01\x00\x01\x00\xff\xff\x05\x00abc", b"A" * 70000,
                b"\x01\x00\x01\x00\x02\x00\x03\x00ci\x00\x02\x00\x03\x00ci\x00"]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(2)
    s.connect(sys.argv[1])
    try:
        s.send(payload)
        s.recv(9000)
    except OSError:
        pass
    s.close()
PY
check "garbage changed nothing" [ "$(ctl list --all --json | jq length)" = "$before" ]
check "agentd still answers" ctl status

# --ssh-key: a key file as ssh-keygen writes it with an empty comment (a
# trailing blank) is taken, bound, and handed back to AuthorizedKeysCommand.
key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKgdmWDPqcYU7V537jr+xOc5Irooz8ry5ZEfxv+zCH7V"
printf '%s \n' "$key" >"$T/id_empty_comment.pub"
printf 'command="/bin/sh" %s\n' "$key" >"$T/id_options.pub"
expect_exit 2 "--ssh-key with authorized_keys options is refused" \
	ctl create --purpose ci --ssh-key "$T/id_options.pub"
kname=$(ctl create --purpose ci --ssh-key "$T/id_empty_comment.pub" --json | jq -r .name) || kname=""
check "--ssh-key takes ssh-keygen's empty-comment form" [ -n "$kname" ]
line=$(ctl authorized-keys "$kname") || line=""
check "authorized-keys prints the bound key with its expiry" \
	matches "$line" "^expiry-time=\"[0-9]{14}Z\" ssh-ed25519 [A-Za-z0-9+/]+\$"
check "authorized-keys: the key exactly as bound, blank trimmed" [ "${line#* }" = "$key" ]
json=$(ctl authorized-keys "$kname" --json) || json=""
check "authorized-keys --json: user, key, expires" test "$(jq -r '[.user, .key, (.expires |
	test("^[0-9-]{10}T[0-9:]{8}Z$"))] | join(" ")' <<<"$json")" = "$kname $key true"
rc=0
json=$(ctl authorized-keys root --json) || rc=$?
check "authorized-keys --json for a non-agent: exit 1, nulls" \
	test "$rc:$(jq -c '[.user, .key, .expires]' <<<"$json")" = '1:["root",null,null]'

# COMMAND --help: every command, exit 0, its own synopsis on stdout.
for c in create run list show revoke status pending approve deny authorized-keys audit; do
	rc=0
	ctl "$c" --help >"$T/out" 2>"$T/err" || rc=$?
	check "$c --help exits 0 with its synopsis on stdout, nothing on stderr" \
		bash -c "[ $rc = 0 ] && grep -q '^Usage: agentctl \[OPTIONS\] $c' '$T/out' && [ ! -s '$T/err' ]"
done

# Usage errors: one line on stderr, exit 2.
for args in "--bogus" "list --bogus" "revoke" "create --ttl" "show" "audit" "approve x"; do
	rc=0
	# shellcheck disable=SC2086
	ctl $args >/dev/null 2>"$T/err" || rc=$?
	check "usage error '$args': exit 2, one line" \
		bash -c "[ $rc = 2 ] && [ \$(wc -l <'$T/err') = 1 ] && grep -q '^agentctl: ' '$T/err'"
done

# --json: null for unset; revoke's object.
out=$(ctl create --purpose ci --json)
n=$(jq -r .name <<<"$out")
check "create --json: an unset actor and task are null" \
	[ "$(jq -c '[.actor, .task, .retire_reason, .retired_at, .retire_text]' <<<"$out")" = "[null,null,null,null,null]" ]
out=$(ctl revoke "$n" --json)
check "revoke --json: one object" [ "$(jq -c '[.name, .state, .reason]' <<<"$out")" = "[\"$n\",\"retired\",null]" ]
check "show --json after revoke: the retirement keys are set" \
	[ "$(ctl show "$n" --json | jq -r '.retire_reason')" = revoked ]

# Several names: one request for each 64, all or none of a request.
many=()
for _ in $(seq 70); do many+=("$(ctl create --purpose ci --json | jq -r .name)"); done
keep1=$(ctl create --purpose ci --json | jq -r .name)
keep2=$(ctl create --purpose ci --json | jq -r .name)
expect_exit 1 "revoke: an unknown name among several refuses the request" \
	ctl revoke "$keep1" agent-nosuch "$keep2"
check "  ...and revokes none of them" \
	[ "$(state_of "$keep1")/$(state_of "$keep2")" = live/live ]
expect_exit 1 "revoke: a name given twice refuses the request" ctl revoke "$keep1" "$keep1"
check "  ...and changes nothing" [ "$(state_of "$keep1")" = live ]
out=$(ctl revoke "${many[@]}" --reason "batch" --json)
check "revoke of 70 names: a JSON array of 70 retired" \
	[ "$(jq -r '[.[] | select(.state == "retired")] | length' <<<"$out")" = 70 ]
n_ret=0
for x in "${many[@]}"; do
	[ "$(ctl show "$x" --json | jq -r '.state + "/" + .retire_text')" = retired/batch ] &&
		n_ret=$((n_ret + 1))
done
check "  ...every one retired, with the reason ($n_ret of 70)" [ "$n_ret" = 70 ]
check "  ...each with its own retire record" [ "$(audit_count retire 'text="batch"')" = 70 ]
expect_exit 1 "revoke: a retired name among several refuses the request" \
	ctl revoke "$keep1" "${many[0]}"
check "  ...and leaves the live one live" [ "$(state_of "$keep1")" = live ]
ctl revoke "$keep1" "$keep2" >/dev/null

# Bash completion: every command agentctl --help lists is completed.
cmds=$(bash -c "source '$top_srcdir/agentctl/agentctl.bash'; COMP_WORDS=(agentctl ''); COMP_CWORD=1; _agentctl; printf '%s\n' \"\${COMPREPLY[@]}\"" | grep -v '^-' | sort | tr '\n' ' ')
want=$(ctl --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | sort -u | tr '\n' ' ')
check "completion offers every command of --help ($want)" [ "$cmds" = "$want" ]
