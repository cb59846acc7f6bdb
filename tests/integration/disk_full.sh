#!/bin/bash
# Kill first, record after: with the state directory's file system full
# (a small tmpfs inside the sandbox, filled with a file), an expired
# identity's process dies and its name stops resolving, a revoke works and
# kills, creates are refused with a clear error, and the log names the full
# disk. Once the filler is removed the deferred records reach the store by
# themselves (seen after a restart), and creates work again. A revoke that
# was enforced but never recorded survives a crash through the journal in
# the runtime directory: the identity is retired again at start, not
# resurrected.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
if ! why=$(install_nss_module); then
	echo "skip: $why"
	exit 77
fi
RUNDIR=/run/agentd
mkdir -p "$T/state"
mount -t tmpfs -o size=4m,mode=0700 tmpfs "$T/state"
# agentd stops before the small file system goes, and $T can be removed.
disk_full_exit() {
	local rc=$?
	stop_agentd
	[ "$FAILED" = 0 ] || tail -n 40 "$T/agentd.log"
	umount -l "$T/state" 2>/dev/null || true
	(exit "$rc")
	sandbox_exit
}
trap disk_full_exit EXIT
start_agentd

fill() { # fills $T/state to the last block
	dd if=/dev/zero of="$T/state/filler" bs=4k 2>/dev/null || true
	sync
}

out=$(ctl create --purpose ci --ttl 3s --json)
a=$(jq -r .name <<<"$out")
ua=$(jq -r .uid <<<"$out")
out=$(ctl create --purpose ci --ttl 15m --json)
b=$(jq -r .name <<<"$out")
ub=$(jq -r .uid <<<"$out")
spawn_as_uid "$ua" sleep 300
pa=$SPAWNED
spawn_as_uid "$ub" bash -c 'trap "" TERM; while :; do sleep 0.2; done'
pb=$SPAWNED
check "A resolves while live" getent passwd "$a"
fill
check "the state file system is full" bash -c "! dd if=/dev/zero of=$T/state/probe bs=4k count=1 2>/dev/null"
rm -f "$T/state/probe"

check "A's process dies at its TTL although the store is full" wait_gone "$pa" 15
check "A no longer resolves" wait_for 5 bash -c "! getent passwd $a"
check "A shows as retired (expired)" wait_for 5 bash -c "[ \"\$($AGENTCTL -S $RUNDIR/agentd.sock show $a --json | jq -r .state)\" = retired ]"
check "the log names the full disk" wait_for 5 grep -q "cannot write the state database (No space left on device)" "$T/agentd.log"

check "revoke B works" ctl revoke "$b" --reason "disk full test"
check "B's TERM-ignoring process is killed" wait_gone "$pb" 15
check "B no longer resolves" bash -c "! getent passwd $b"
check "B shows as revoked" [ "$(reason_of "$b")" = revoked ]
rc=0
msg=$(ctl create --purpose ci --ttl 5m 2>&1) || rc=$?
check "create is refused" [ "$rc" -ne 0 ]
check "with a clear error" matches "$msg" "agentd cannot write its state: No space left on device"
check "status still answers" ctl status
check "the cause is logged once" [ "$(grep -c 'cannot write the state database' "$T/agentd.log")" = 1 ]

rm -f "$T/state/filler"
check "recovery is logged" wait_for 10 grep -q "the state database takes writes again" "$T/agentd.log"
check "create works again" wait_for 5 ctl create --purpose ci --ttl 5m
# The store itself, not agentd's memory: a new agentd reads it.
stop_agentd
check "no journal is left behind" [ ! -e "$RUNDIR/deferred-retire" ]
start_agentd
check "after restart A is retired (expired) in the store" [ "$(reason_of "$a")" = expired ]
check "after restart B is retired (revoked) in the store" [ "$(reason_of "$b")" = revoked ]
check "list --all shows both retired" bash -c \
	"[ \"\$($AGENTCTL -S $RUNDIR/agentd.sock list --all --json | jq -r '[.[] | select(.name == \"$a\" or .name == \"$b\") | .state] | join(\",\")')\" = retired,retired ]"
# Quarantine starts at the reap record: both reaps reached the store.
check "the reaps of A and B are recorded (both uids quarantined)" \
	[ "$(ctl status --json | jq .quarantined)" = 2 ]

# A crash while the disk is full: the journal in the runtime directory.
out=$(ctl create --purpose ci --ttl 15m --json)
c=$(jq -r .name <<<"$out")
uc=$(jq -r .uid <<<"$out")
fill
check "revoke C on a full disk" ctl revoke "$c"
check "the retirement is journalled" grep -q "^$c	" "$RUNDIR/deferred-retire"
crash_agentd
rm -f "$T/state/filler"
spawn_as_uid "$uc" sleep 300 # as if it had survived
pc=$SPAWNED
check "C's stand-in runs as its uid" wait_for 5 bash -c "[ \"\$(ps -o uid= -p $pc | tr -d ' ')\" = $uc ]"
start_agentd
check "after the crash C is not live again" [ "$(state_of "$c")" = retired ]
check "with the journalled reason" [ "$(reason_of "$c")" = revoked ]
check "C does not resolve" bash -c "! getent passwd $c"
check "C's process is killed at start" wait_gone "$pc" 10
check "the journal is gone once recorded" wait_for 5 bash -c "[ ! -e $RUNDIR/deferred-retire ]"
