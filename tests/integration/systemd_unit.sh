#!/bin/bash
# The systemd unit (examples/agentd.service.in), with the unit's real paths
# replaced by this build's:
# - `systemd-analyze verify` accepts it, and `systemd-analyze security`
#   scores it as README says;
# - nothing in it reaches the tasks agentd starts (no capability bounding
#   set, no no_new_privs, no seccomp or namespace sandbox): tasks get what a
#   login session gets; it keeps KillMode=process, Delegate=yes, Type=notify;
# - agentd under the unit's exact capability bounding set and no_new_privs
#   (as set by setpriv, read from the unit) passes run.sh, and a task it
#   starts has the full bounding set, no no_new_privs, the network and a
#   writable /tmp; under the old unit's set (no CAP_SETUID/CAP_SETGID) a run
#   fails, so the harness can tell;
# - agentd sends READY=1 to NOTIFY_SOCKET once its socket listens.
. "$(dirname "$0")/lib.sh"
if ! command -v systemd-analyze >/dev/null; then
	echo "skip: systemd-analyze is not installed (./bootstrap installs the systemd package)"
	exit 77
fi
require_root
enter_sandbox "$@"
UNIT_IN="$top_srcdir/examples/agentd.service.in"
mkdir "$T/unit"
sed -e "s|@sbindir@|$top_builddir/agentd|g" -e 's|@sysconfdir@|/etc|g' \
	-e 's|@localstatedir@|/var|g' -e 's|@runstatedir@|/run|g' "$UNIT_IN" >"$T/unit/agentd.service"
(cd "$T/unit" && systemd-analyze verify --man=no ./agentd.service) >"$T/verify.out" 2>&1
check "systemd-analyze verify accepts the unit" bash -c "! grep -q . '$T/verify.out'"
cat "$T/verify.out"
score=$(cd "$T/unit" && systemd-analyze security --offline=true ./agentd.service 2>/dev/null |
	sed -n 's/.*Overall exposure level for agentd.service: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security: $score"
check "systemd-analyze security scores the unit" matches "$score" '^[0-9]+\.[0-9]$'
check "README quotes that score" grep -q "systemd-analyze security.*exposure $score" "$top_srcdir/README.md"

prop() { sed -n "s/^$1=//p" "$T/unit/agentd.service" | tail -1; }
for p in Type=notify KillMode=process Delegate=yes; do
	check "the unit has $p" test "$(prop "${p%%=*}")" = "${p#*=}"
done
for p in NoNewPrivileges CapabilityBoundingSet RestrictAddressFamilies PrivateTmp ProtectSystem \
	ProtectHome PrivateNetwork PrivateDevices MemoryDenyWriteExecute SystemCallFilter \
	RestrictNamespaces RestrictSUIDSGID IPAddressDeny PrivateUsers ProtectKernelTunables; do
	check "the unit sets no $p (it would reach tasks)" test -z "$(prop "$p")"
done

# The unit's bounding set and no_new_privs as setpriv arguments.
bset=$(prop CapabilityBoundingSet)
if [ -n "$bset" ]; then
	bset="-all$(for c in $bset; do printf ',+%s' "$(tr 'A-Z' 'a-z' <<<"${c#CAP_}")"; done)"
	WRAP="setpriv --bounding-set=$bset"
else
	WRAP="setpriv --bounding-set=+all"
fi
[ "$(prop NoNewPrivileges)" = yes ] && WRAP="$WRAP --no-new-privs"
echo "# agentd runs under: $WRAP"

rc=0
env -u AGENTD_SANDBOX AGENTD_WRAP="$WRAP" "$top_srcdir/tests/integration/run.sh" >"$T/run.out" 2>&1 || rc=$?
check "run.sh passes under the unit's bounding set and no_new_privs" test "$rc" = 0
[ "$rc" = 0 ] || cat "$T/run.out"

# A task under the unit: what a login would have.
install_run_stack
AGENTD_WRAP=$WRAP start_agentd
task() {
	setpriv --reuid=2901 --regid=2901 --init-groups "$AGENTCTL" -S "$RUNDIR/agentd.sock" \
		run --purpose ci -- "$@"
}
full=$(sed -n 's/^CapBnd:\t//p' /proc/self/status)
out=$(task sh -c 'sed -n "s/^CapBnd:\t//p;s/^NoNewPrivs:\t//p" /proc/self/status; umask' 2>&1) || true
check "a task has the full capability bounding set" test "$(sed -n 1p <<<"$out")" = "$full"
check "a task has no no_new_privs (sudo works)" test "$(sed -n 2p <<<"$out")" = 0
check "a task's umask is 0022" test "$(sed -n 3p <<<"$out")" = 0022
rc=0
task python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()' || rc=$?
check "a task may open an AF_INET socket" test "$rc" = 0
rc=0
task sh -c 'f=$(mktemp /tmp/agentd-task.XXXXXX) && rm "$f"' || rc=$?
check "a task may write /tmp" test "$rc" = 0

# KillMode=process: `systemctl restart agentd` signals agentd alone. A task
# lives through agentd's stop and start, and still dies at retirement.
task sh -c 'echo $$; exec sleep 300' >"$T/task.pid" 2>&1 &
ctlpid=$!
wait_for 10 test -s "$T/task.pid"
tpid=$(cat "$T/task.pid")
# The name comes from agentd, not NSS: a sanitizer build runs without the
# module installed, and ps would print the bare uid.
tuid=$(ps -o uid= -p "$tpid" | tr -d ' ')
tname=$(ctl list --json | jq -r ".[] | select(.uid == $tuid) | .name")
stop_agentd
check "a task lives through agentd's stop" kill -0 "$tpid"
AGENTD_WRAP=$WRAP start_agentd
check "a task lives through agentd's start" kill -0 "$tpid"
check "its identity is still live" test "$(state_of "$tname")" = live
ctl revoke "$tname" >/dev/null
check "and it dies when its identity is retired" wait_gone "$tpid" 15
wait "$ctlpid" 2>/dev/null || true
stop_agentd

# The harness bites: the old unit's set, without CAP_SETUID and CAP_SETGID.
AGENTD_WRAP="setpriv --bounding-set=-all,+kill,+chown,+fowner,+dac_override,+dac_read_search,+sys_ptrace,+ipc_owner --no-new-privs" \
	start_agentd
rc=0
task true 2>"$T/err" || rc=$?
check "without CAP_SETUID/CAP_SETGID a run fails (125)" test "$rc" = 125
check "and says it cannot become the identity" grep -q "cannot become agent-" "$T/err"
stop_agentd

# Type=notify: READY=1 arrives once the socket listens.
python3 - "$T/notify" "$RUNDIR/agentd.sock" >"$T/notify.out" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(30)
msg = s.recv(256).decode()
print(msg, "listening" if os.path.exists(sys.argv[2]) else "not-listening")
PY
py=$!
wait_for 10 test -S "$T/notify"
NOTIFY_SOCKET="$T/notify" start_agentd
wait "$py" || true
check "agentd sends READY=1, with its socket in place" grep -qx "READY=1 listening" "$T/notify.out"
