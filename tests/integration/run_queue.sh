#!/bin/bash
# The queue of runs (run.h, AGENTD_RUNS_STARTING_MAX): at most 32 runners
# are in their PAM stage at once; a further RUN waits, undecided, with no
# identity made for it. Here the PAM stack of service agentd holds every
# runner for a second (pam_exec sleep), so 32 runs fill the room and a 33rd
# waits. 96 runs start at once: 32 fill the room, the others wait; one
# more comes behind them and its client is killed while it waits: agentd must drop
# that request (no identity, no command) and serve every other; a run after
# that still works. Outcomes only, no timing assertions.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
write_config 'max_connections = 512; max_connections_per_uid = 256;'
if ! why=$(install_nss_module); then
	echo "# NSS module not installed ($why)"
	mount -t tmpfs -o mode=0755 tmpfs /run
fi
RUNDIR=/run/agentd # the path compiled into the modules
SLEEP=$(command -v sleep)
printf '%s\n' "account [success=ok ignore=ignore default=die] pam_agent.so" \
	"account required pam_exec.so quiet $SLEEP 1" \
	"session required pam_agent.so" >"$T/agentd.pam"
install_pam_service agentd "$T/agentd.pam"
start_agentd

ROOM=32 # AGENTD_RUNS_STARTING_MAX
R=$((3 * ROOM))
mkdir -p "$T/out" "$T/work"
chmod 0777 "$T/out"
run_one() { # I
	local i=$1 rc=0
	(cd "$T/work" && "$AGENTCTL" -S "$RUNDIR/agentd.sock" --timeout 120 run --purpose ci --ttl 2m \
		-- sh -c 'echo "$AGENT_NAME"') >"$T/out/r$i" 2>"$T/out/r$i.err" || rc=$?
	echo "$rc" >"$T/out/r$i.rc"
}
pids=()
for i in $(seq $R); do
	run_one "$i" &
	pids+=($!)
done
# Until the first 32 have their identity: those runners are then in their
# PAM stage, the room is full, and the other runs wait (a run counts until
# its command starts, at most 2 s): the waiting ones take the room after
# them, so the one below cannot start for a second or more.
for _ in $(seq 600); do
	[ "$(audit_count create 'decision="allow"')" -ge "$ROOM" ] && break
	sleep 0.02
done
creates=$(audit_count create 'decision="allow"')
check "the first $ROOM runs have their identities ($creates)" test "$creates" -ge "$ROOM"
sleep 0.2 # the other runs' requests are in
# One more: it waits in the queue. Its client goes away while it waits.
(cd "$T/work" && exec "$AGENTCTL" -S "$RUNDIR/agentd.sock" --timeout 120 run --purpose ci --ttl 2m \
	-- touch "$T/out/held-ran") >/dev/null 2>&1 &
held=$!
sleep 0.3
kill -KILL "$held" 2>/dev/null
wait "$held" 2>/dev/null || true
for p in "${pids[@]}"; do wait "$p" || true; done
ok=0
for i in $(seq $R); do
	if [ "$(cat "$T/out/r$i.rc" 2>/dev/null)" = 0 ] && grep -q '^agent-' "$T/out/r$i"; then
		ok=$((ok + 1))
	else
		echo "# run $i: $(cat "$T/out/r$i.err" 2>/dev/null)"
	fi
done
check "every one of the $R runs succeeded ($ok)" test "$ok" = "$R"
# Had the request stayed queued, it would have been started by now (the room
# emptied when the runs above started their commands); a last run proves
# the queue moves.
out=$(cd "$T/work" && "$AGENTCTL" -S "$RUNDIR/agentd.sock" --timeout 60 run --purpose ci --ttl 1m \
	-- sh -c 'echo "$AGENT_NAME"' 2>&1)
check "a run after it is served" grep -q '^agent-' <<<"$out"
sleep 1
check "the request of the client that went away never ran its command" \
	test ! -e "$T/out/held-ran"
check "nor was an identity made for it ($((R + 1)) creates in all)" \
	test "$(audit_count create 'decision="allow"')" = $((R + 1))
check "agentd is still running" kill -0 "$AGENTD_PID"
exit $FAILED
