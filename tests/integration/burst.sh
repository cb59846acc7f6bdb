#!/bin/bash
# A burst of creates (issue 14): N concurrent `agentctl create` from several
# callers at once, plus concurrent `agentctl run`, while pam_agent's
# requests (the runs' PAM sessions) interleave. Every request must succeed,
# every identity must be live, resolve and be audited once; nothing is
# refused for being busy. agentd serves the requests that are ready in one
# turn together (group commit, create.c): this test checks the outcome,
# never the timing (that is tests/bench/).
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
# Enough connections for the burst; per-uid caps make agentctl retry.
write_config 'max_connections = 256; max_connections_per_uid = 16;'
NSS=1
if ! why=$(install_nss_module); then
	echo "# NSS module not installed ($why): names are checked with agentctl show"
	NSS=0
	mount -t tmpfs -o mode=0755 tmpfs /run
fi
RUNDIR=/run/agentd # the path compiled into the modules
printf '%s\n' "account [success=ok ignore=ignore default=die] pam_agent.so" \
	"account required pam_permit.so" "session required pam_agent.so" >"$T/agentd.pam"
install_pam_service agentd "$T/agentd.pam"
start_agentd

N=96    # creates: a third each from root, alice, orchestrator
R=48    # runs, from root: more than AGENTD_RUNS_STARTING_MAX (run.h) at once
mkdir -p "$T/out" "$T/work"
chmod 0777 "$T/out"
start_gate="$T/gate"
mkfifo "$start_gate"
create_one() { # I UID
	local i=$1 u=$2 rc=0
	read -r _ <"$start_gate" || true
	setpriv --reuid="$u" --regid="$u" --clear-groups \
		"$AGENTCTL" -S "$RUNDIR/agentd.sock" --timeout 60 create --purpose ci --ttl 10m --json \
		>"$T/out/c$i" 2>"$T/out/c$i.err" || rc=$?
	echo "$rc" >"$T/out/c$i.rc"
}
run_one() { # I
	local i=$1 rc=0
	read -r _ <"$start_gate" || true
	(cd "$T/work" && "$AGENTCTL" -S "$RUNDIR/agentd.sock" --timeout 60 run --purpose ci --ttl 1m \
		-- sh -c 'echo "$AGENT_NAME"') >"$T/out/r$i" 2>"$T/out/r$i.err" || rc=$?
	echo "$rc" >"$T/out/r$i.rc"
}
pids=()
for i in $(seq $N); do
	case $((i % 3)) in 0) u=0 ;; 1) u=2901 ;; 2) u=2902 ;; esac
	create_one "$i" "$u" &
	pids+=($!)
done
for i in $(seq $R); do
	run_one "$i" &
	pids+=($!)
done
# Open the gate: every reader of the fifo is released at once.
sleep 1
exec 8>"$start_gate"
exec 8>&-
for p in "${pids[@]}"; do wait "$p" || true; done

ok_c=0 names=()
for i in $(seq $N); do
	if [ "$(cat "$T/out/c$i.rc" 2>/dev/null)" = 0 ] && n=$(jq -er .name "$T/out/c$i" 2>/dev/null) &&
		jq -er .token "$T/out/c$i" >/dev/null 2>&1; then
		ok_c=$((ok_c + 1))
		names+=("$n")
	else
		echo "# create $i: $(cat "$T/out/c$i.err" 2>/dev/null)"
	fi
done
check "every one of $N concurrent creates succeeded ($ok_c)" test "$ok_c" = "$N"
check "every create got its own name" test "$(printf '%s\n' "${names[@]}" | sort -u | wc -l)" = "$N"
uids=$(for n in "${names[@]}"; do ctl show "$n" --json | jq -r .uid; done | sort -u | wc -l)
check "every create got its own uid" test "$uids" = "$N"
live=0 resolves=0
for n in "${names[@]}"; do
	[ "$(state_of "$n")" = live ] && live=$((live + 1))
	if [ "$NSS" = 1 ]; then
		getent passwd "$n" >/dev/null && resolves=$((resolves + 1))
	else
		resolves=$((resolves + 1))
	fi
done
check "every created identity is live" test "$live" = "$N"
[ "$NSS" = 1 ] && check "every created identity resolves (getent passwd)" test "$resolves" = "$N"
check "each create audited as allowed once" test "$(audit_count create 'decision="allow"')" -ge "$N"

ok_r=0
for i in $(seq $R); do
	if [ "$(cat "$T/out/r$i.rc" 2>/dev/null)" = 0 ] && grep -q '^agent-' "$T/out/r$i"; then
		ok_r=$((ok_r + 1))
	else
		echo "# run $i: $(cat "$T/out/r$i.err" 2>/dev/null)"
	fi
done
check "every one of $R concurrent runs succeeded ($ok_r)" test "$ok_r" = "$R"
check "no create was refused" test "$(audit_count create 'decision="deny"')" = 0
check "agentd is still running" kill -0 "$AGENTD_PID"

# Concurrent revokes: the retirements of one turn's requests are written in
# one transaction before any of their replies (deferred.h). Every revoke is
# answered, and every answered one is durable: after SIGKILL and a restart,
# none of them is live again.
pids=()
for n in "${names[@]}"; do
	ctl --timeout 60 revoke "$n" >"$T/out/v.$n" 2>&1 &
	pids+=($!)
done
ok_v=0
for p in "${pids[@]}"; do wait "$p" && ok_v=$((ok_v + 1)); done
check "every one of $N concurrent revokes was answered OK ($ok_v)" test "$ok_v" = "$N"
crash_agentd
start_agentd
retired=0
for n in "${names[@]}"; do
	[ "$(state_of "$n")" = retired ] && retired=$((retired + 1))
done
check "after a crash and restart, every revoked identity is still retired ($retired)" \
	test "$retired" = "$N"
exit $FAILED
