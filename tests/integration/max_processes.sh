#!/bin/bash
# max_processes (agentd.conf(5); agentd(8), CONTAINMENT): a purpose's cap on
# the processes of each of its identities, the pids.max of the identity's
# cgroup.
# - With the pids controller in the cgroup2 hierarchy: a task of a capped
#   purpose runs in a cgroup whose pids.max is the cap; its forks past the
#   cap are refused (pids.events counts them) and it never has more
#   processes at once.
# - Without it (a hybrid host keeps pids on cgroup v1, as this project's
#   CI machines do): agentd says at start that max_processes has no effect,
#   and tasks still run.
# - Containment off (cgroup_root = "none", or no cgroup2 at all): the
#   same, said once at start.
# Safety: cgroup_root is this test's own subtree (lib.sh makes and removes
# it); every process is this test's, in its pid namespace.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
install_run_stack
CAP=8
sed -i "s/max_depth = 2; }/max_depth = 2; max_processes = $CAP; }/" "$T/agentd.conf"
check "the ci purpose is capped" grep -q "max_processes = $CAP;" "$T/agentd.conf"

NOEFFECT="max_processes has no effect"
if [ -n "$CG2" ] && grep -qw pids "$CG2/cgroup.controllers"; then
	start_agentd
	check "agentd: containment on, with the pids controller" \
		grep -q "containment: one cgroup per identity under $CGROUP_ROOT (pids controller on)" \
		"$T/agentd.log"
	check "no warning that the cap has no effect" bash -c "! grep -q '$NOEFFECT' '$T/agentd.log'"
	# The task tries to fork 3 x the cap of children that sleep, and says
	# how many forks succeeded (a refused one is skipped, the loop goes on).
	cat >"$T/forker.py" <<-EOF
	import os, sys, time
	n = 0
	for i in range($((3 * CAP))):
	    try:
	        pid = os.fork()
	    except OSError:
	        continue
	    if pid == 0:
	        time.sleep(60)
	        os._exit(0)
	    n += 1
	print("started", n, flush=True)
	time.sleep(60)
	EOF
	chmod 0644 "$T/forker.py"
	ctl run --purpose ci --ttl 5m -- /usr/bin/python3 "$T/forker.py" >"$T/task.out" 2>&1 &
	run_pid=$!
	check "the task started" wait_for 30 grep -q started "$T/task.out"
	forked=$(awk '$1 == "started" { print $2 }' "$T/task.out")
	check "its forks past the cap failed ($forked of $((3 * CAP)) succeeded)" \
		test "${forked:-99}" -lt "$CAP"
	uid=$(ctl list --json | jq -r '.[] | select(.state == "live") | .uid' | head -1)
	name=$(ctl list --json | jq -r '.[] | select(.state == "live") | .name' | head -1)
	cg="$CGROUP_ROOT/agent-$uid"
	check "its cgroup's pids.max is the cap" test "$(cat "$cg/pids.max" 2>/dev/null)" = "$CAP"
	current=$(cat "$cg/pids.current" 2>/dev/null || echo none)
	refused=$(awk '$1 == "max" { print $2 }' "$cg/pids.events" 2>/dev/null || echo 0)
	echo "# pids.current $current, forks refused (pids.events max) $refused"
	check "it never has more processes than the cap" test "${current:-none}" -le "$CAP"
	check "forks past the cap were refused" test "${refused:-0}" -gt 0
	ctl revoke "$name" >/dev/null
	check "revoke ends the task" wait_gone "$run_pid" 30
	stop_agentd
else
	start_agentd
	check "agentd says at start that max_processes has no effect (no pids controller)" \
		grep -q "$NOEFFECT" "$T/agentd.log"
	check "a task of the capped purpose still runs" ctl run --purpose ci --ttl 5m -- /bin/true
	stop_agentd
fi

# Containment off: said once at start; tasks run.
sed -i '/^[[:space:]]*cgroup_root/d' "$T/agentd.conf"
echo 'cgroup_root = "none";' >>"$T/agentd.conf"
: >"$T/agentd.log"
start_agentd
check "containment off: agentd says that max_processes has no effect" \
	grep -q "$NOEFFECT: containment is off" "$T/agentd.log"
check "containment off: a task of the capped purpose still runs" \
	ctl run --purpose ci --ttl 5m -- /bin/true
exit $FAILED
