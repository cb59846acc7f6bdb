#!/bin/bash
# SIGKILL agentd during a burst of creates, then restart: every acknowledged
# identity is still there, nothing is resurrected, what expired while agentd
# was down is retired and its processes killed before requests are served,
# and processes in the range that belong to no identity are killed.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
start_agentd

acked="$T/acked"
: >"$acked"
(
	for _ in $(seq 200); do
		n=$("$AGENTCTL" -S "$T/run/agentd.sock" -t 2 create --purpose research --json 2>/dev/null |
			jq -r .name) || break
		[ -n "$n" ] && echo "$n" >>"$acked"
	done
) &
burst=$!
wait_for 30 bash -c "[ \$(wc -l <'$acked') -ge 50 ]" || true
crash_agentd
wait "$burst" 2>/dev/null || true
n_acked=$(wc -l <"$acked")
check "burst acknowledged some creates before the crash ($n_acked)" [ "$n_acked" -ge 50 ]

start_agentd
missing=0
while read -r n; do
	[ "$(state_of "$n")" = live ] || missing=$((missing + 1))
done <"$acked"
check "every acknowledged identity survived the crash" [ "$missing" = 0 ]
live=$(ctl list --json | jq length)
# A create committed to the database whose reply the crash swallowed is
# live but unacknowledged: at most one such (one request in flight).
check "no identity beyond the acknowledged ones (+1 in flight): $live vs $n_acked" \
	test "$live" -ge "$n_acked" -a "$live" -le $((n_acked + 1))

# Expiry while agentd is down.
out=$(ctl create --purpose ci --ttl 3s --json)
name=$(jq -r .name <<<"$out")
uid=$(jq -r .uid <<<"$out")
crash_agentd
spawn_as_uid "$uid" sleep 300
sleeper=$SPAWNED
# An orphan: a process with an in-range uid that no identity holds.
spawn_as_uid $UID_MAX sleep 300
orphan=$SPAWNED
sleep 4
start_agentd
check "expired-while-down identity retired before serving" \
	[ "$(state_of "$name"):$(reason_of "$name")" = retired:expired ]
check "its process was killed at start-up" wait_gone $sleeper 1
check "orphan process killed at start-up" wait_gone $orphan 1
check "orphan-kill audited" grep -q "event=\"orphan-kill\" uid=$UID_MAX killed=1" "$T/agentd.log"
