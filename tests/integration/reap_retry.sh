#!/bin/bash
# A reap that fails is tried again. A process of a revoked identity that
# cannot die yet (here: frozen by the cgroup v1 freezer, where SIGKILL waits
# until it is thawed; on a host, a process in uninterruptible sleep, or one
# still tearing down when thousands die at once) outlasts the reaper's
# bound: the reap is audited with survivors and an error, and the identity
# is not marked reaped. Once the process can die, a retry (2 s later,
# doubling) kills it and records the reap (audit record, reaped_at): the
# uid does not stay out of circulation until agentd restarts.
. "$(dirname "$0")/lib.sh"
require_root
FREEZER=/sys/fs/cgroup/freezer
if [ "$(stat -fc %T "$FREEZER" 2>/dev/null)" != cgroupfs ] || [ ! -e "$FREEZER/cgroup.procs" ]; then
	echo "skip: no cgroup v1 freezer at $FREEZER to hold a process past SIGKILL"
	exit 77
fi
enter_sandbox "$@"
FZ="$FREEZER/${T##*/}"
mkdir "$FZ"
freezer_cleanup() {
	[ -d "$FZ" ] || return 0
	echo THAWED >"$FZ/freezer.state" 2>/dev/null || true
	wait_for 10 test ! -s "$FZ/cgroup.procs" || true
	rmdir "$FZ" 2>/dev/null || true
}
trap 'rc=$?; freezer_cleanup; (exit $rc); sandbox_exit' EXIT
start_agentd

id=$(ctl create --purpose research --json)
name=$(jq -r .name <<<"$id")
uid=$(jq -r .uid <<<"$id")
spawn_as_uid "$uid" sleep 600
pid=$SPAWNED
# Frozen only once it runs as the identity (setpriv changes its uid, then
# execs): frozen before, it would be a root process the reaper leaves alone.
runs_as_uid() { awk -v u="$uid" '/^Uid:/ { ok = $2 == u } END { exit !ok }' "/proc/$pid/status"; }
check "the process runs as the identity" wait_for 10 runs_as_uid
echo "$pid" >"$FZ/cgroup.procs"
echo FROZEN >"$FZ/freezer.state"
check "the identity's process is frozen" wait_for 10 grep -qx FROZEN "$FZ/freezer.state"
ctl revoke "$name" >/dev/null
check "the reap that cannot kill it ends at its bound, audited with the survivor" \
	wait_for 30 grep -q "event=\"reap\" identity=\"$name\" .*survivors=1.*error=" "$T/agentd.log"
check "the process is still there (SIGKILL waits for the thaw)" kill -0 "$pid"
st=$(ctl status --json)
check "status counts the uid as reaping, with survivors" \
	test "$(jq -c '[.reaping, .survivors, .survivor_uids]' <<<"$st")" = "[1,1,[$uid]]"
check "status text names it" grep -q "survivor uids: *1 ($uid)" < <(ctl status)
echo THAWED >"$FZ/freezer.state"
check "thawed, it dies (its SIGKILL was pending)" wait_gone "$pid" 30
check "and a retry of the reap records it" \
	wait_for 30 grep -q "event=\"reap\" identity=\"$name\" uid=$uid killed=[0-9]* prev=" "$T/agentd.log"
check "status no longer counts it" \
	test "$(ctl status --json | jq -c '[.reaping, .survivors, .survivor_uids]')" = "[0,0,[]]"
grep -E 'event="(reap|retire)"' "$T/agentd.log" | cut -c1-250 | sed 's/^/# /'
check "agentd is still running" kill -0 "$AGENTD_PID"
exit $FAILED
