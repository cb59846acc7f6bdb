#!/bin/bash
# uid allocation in a 4-uid range: a uid that another NSS source knows or a
# process runs with is skipped, a retired uid stays in quarantine, and an
# exhausted range is refused with a clear message.
. "$(dirname "$0")/lib.sh"
require_root
UID_MAX=$((UID_MIN + 3))
enter_sandbox "$@"
# uid_min is taken by a user in /etc/passwd, uid_min+1 by a process, both
# added after agentd started (a local user in the range refuses the start,
# see config_check.sh; a process would be killed at start-up as an orphan).
start_agentd
echo "squatter:x:$UID_MIN:$UID_MIN::/nonexistent:/bin/sh" >>/etc/passwd
spawn_as_uid $((UID_MIN + 1)) sleep 300
runner=$SPAWNED
sleep 0.2

a=$(ctl create --purpose research --json | jq .uid)
b=$(ctl create --purpose research --json | jq .uid)
check "uid known to another NSS source skipped" [ "$a" != $UID_MIN ] && [ "$b" != $UID_MIN ]
check "uid of a running process skipped" [ "$a" != $((UID_MIN + 1)) ] && [ "$b" != $((UID_MIN + 1)) ]
check "the two free uids were used" [ "$(printf '%s\n' "$a" "$b" | sort | tr '\n' ' ')" = \
	"$((UID_MIN + 2)) $((UID_MIN + 3)) " ]
err=$(ctl create --purpose research 2>&1) && rc=0 || rc=$?
check "exhausted range refused" [ "$rc" = 1 ]
check "with a clear message" grep -q "no free uid in the agent range" <<<"$err"
check "refusal audited" grep -q 'event="create" decision="deny".*reason="no free uid in range"' "$T/agentd.log"
name=$(ctl list --json | jq -r --argjson u "$a" '.[] | select(.uid == $u) | .name')
ctl revoke "$name" >/dev/null
wait_for 10 grep -q "event=\"reap\" identity=\"$name\"" "$T/agentd.log"
expect_exit 1 "a retired uid stays in quarantine" ctl create --purpose research
kill "$runner"
wait_gone "$runner" 5
check "a uid freed by its process is used again" ctl create --purpose research
