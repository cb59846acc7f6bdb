#!/bin/bash
# A TTL of 2 s retires the identity and kills its processes, including one
# that ignores SIGTERM; the uid then stays in quarantine.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
start_agentd

out=$(ctl create --purpose ci --ttl 2s --json)
name=$(jq -r .name <<<"$out")
uid=$(jq -r .uid <<<"$out")
spawn_as_uid "$uid" sleep 300
p1=$SPAWNED
spawn_as_uid "$uid" bash -c 'trap "" TERM; while :; do sleep 0.2; done'
p2=$SPAWNED
sleep 0.3
check "processes run as the identity" kill -0 $p1
check "identity retires at its TTL" wait_for 10 bash -c \
	"[ \"\$($AGENTCTL -S $T/run/agentd.sock show $name --json | jq -r .state)\" = retired ]"
check "reason is expired" [ "$(reason_of "$name")" = expired ]
check "plain process killed" wait_gone $p1 10
check "TERM-ignoring process killed" wait_gone $p2 10
# The looping shell's own sleep children count too: at least 2.
check "reap record counts them" wait_for 10 grep -qE "event=\"reap\" identity=\"$name\" uid=$uid killed=([2-9]|[1-9][0-9])" "$T/agentd.log"
check "status shows the uid quarantined" wait_for 5 bash -c \
	"[ \"\$($AGENTCTL -S $T/run/agentd.sock status --json | jq .quarantined)\" = 1 ]"
next=$(ctl create --purpose ci --json | jq .uid)
check "quarantined uid not reissued" [ "$next" != "$uid" ]
