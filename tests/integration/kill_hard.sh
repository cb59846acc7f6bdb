#!/bin/bash
# Retirement kills what is hard to kill: a bounded fork bomb whose children
# fork again when killed, a setsid double-forked daemon, a stopped process,
# a SIGTERM-ignoring one, and one whose only link to the uid is its
# effective uid. After the revoke's reap record, no process of
# the uid is left (a /proc scan, zombies aside), in each of 5 runs.
# Everything runs in the sandbox's pid namespace; the bomb is bounded by
# ulimit -u and a fixed number of forkers, so it cannot hurt the host.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
start_agentd

# alive UID: processes (not zombies) whose real, effective or saved uid is UID.
alive() {
	{ cat /proc/[0-9]*/status 2>/dev/null || true; } | awk -v u="$1" '
		/^Name:/ { st = "" }
		/^State:/ { st = $2 }
		/^Uid:/ { if (st != "Z" && st != "X" && ($2 == u || $3 == u || $4 == u)) n++ }
		END { print n + 0 }'
}

alive_n() { alive "$1"; }
export -f alive alive_n

# A stopped process that is not the identity's (root's, in agentd's
# session): retirements must leave it stopped (SIGCONT reaches a process of
# the sender's session whatever its uid).
sleep 600 &
bystander=$!
kill -STOP "$bystander"

for run in 1 2 3 4 5; do
	out=$(ctl create --purpose ci --ttl 15m --json)
	name=$(jq -r .name <<<"$out")
	uid=$(jq -r .uid <<<"$out")
	# The bomb: 150 forkers, each keeps a sleeping child and forks a new
	# one whenever it dies; TERM ignored. At most 400 processes.
	spawn_as_uid "$uid" bash -c 'ulimit -u 400; trap "" TERM
		for i in $(seq 150); do
			( trap "" TERM; while :; do sleep 60 & wait; done ) &
		done
		wait' 2>/dev/null
	# A daemon: double fork and setsid, its parent gone.
	spawn_as_uid "$uid" setsid bash -c '( trap "" TERM HUP; exec sleep 300 ) & exit 0'
	# A stopped process and a TERM-ignoring one.
	spawn_as_uid "$uid" sleep 300
	stopped=$SPAWNED
	spawn_as_uid "$uid" bash -c 'trap "" TERM; while :; do sleep 0.2; done'
	# Only its effective uid is the identity's (real and saved uid root,
	# as a setuid-to-the-agent program run by root would be): kill(-1) as
	# the uid cannot reach it; the reaper's scan must.
	perl -e '$> = shift; $SIG{TERM} = "IGNORE";
		sleep 1 while 1' "$uid" &
	euid_only=$!
	disown "$euid_only"
	wait_for 20 bash -c "[ \$(ps -o uid= -p $stopped | tr -d ' ') = $uid ]" || true
	kill -STOP "$stopped" 2>/dev/null || true
	check "run $run: the processes run (>= 250)" wait_for 30 bash -c "[ \$(alive_n $uid) -ge 250 ]"
	check "run $run: one runs with only its effective uid" wait_for 10 bash -c \
		"grep -q '^Uid:[[:space:]]*0[[:space:]]*$uid[[:space:]]*0' /proc/$euid_only/status"
	check "run $run: revoke" ctl revoke "$name"
	check "run $run: a reap record" wait_for 20 bash -c \
		"grep -q 'event=\"reap\" identity=\"$name\"' $T/agentd.log"
	left=$(alive "$uid")
	check "run $run: the effective-uid-only process is gone" bash -c \
		"! grep -q '^State:[[:space:]]*[^Z]' /proc/$euid_only/status 2>/dev/null"
	check "run $run: no process of uid $uid survives the reap (found $left)" [ "$left" = 0 ]
	check "run $run: the reap reports no survivors" bash -c \
		"! grep 'event=\"reap\" identity=\"$name\"' $T/agentd.log | grep -q 'survivors=\|error='"
done
check "another uid's stopped process in agentd's session stays stopped" \
	[ "$(ps -o stat= -p "$bystander" | cut -c1)" = T ]
kill -KILL "$bystander" 2>/dev/null || true
