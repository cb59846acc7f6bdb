#!/bin/bash
# agentctl run: a command as a fresh identity through a PAM session (service
# "agentd", pam_agent in account and session), with the caller's stdin,
# stdout and stderr, its exit status relayed, and the identity retired (and
# everything the command left killed) when it ends, when the TTL ends, or
# when agentctl goes away.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
if ! why=$(install_nss_module); then
	echo "# NSS module not installed ($why): the command's uid has no name"
	mount -t tmpfs -o mode=0755 tmpfs /run
fi
RUNDIR=/run/agentd # the path compiled into the modules

# The "agentd" PAM service: pam_agent in account and session (and nothing
# that needs the identity to resolve, so this runs in sanitizer builds too).
printf '%s\n' "account [success=ok ignore=ignore default=die] pam_agent.so" \
	"account required pam_permit.so" "session required pam_agent.so" >"$T/agentd.pam"
install_pam_service agentd "$T/agentd.pam"
start_agentd

run_as() { # USER agentctl-run-args...: as USER, in $T/work
	local u=$1
	shift
	(cd "$T/work" && setpriv --reuid="$(uid_of "$u")" --regid="$(uid_of "$u")" --init-groups \
		"$AGENTCTL" -S "$RUNDIR/agentd.sock" run "$@")
}
mkdir -m 0755 "$T/work"

# Output, environment, exit status.
rc=0
out=$(run_as alice --purpose ci --ttl 5m --task "unit" -- sh -c \
	'id -u; echo "name=$AGENT_NAME purpose=$AGENT_PURPOSE subject=$AGENT_SUBJECT"; echo "home=$HOME"; pwd; echo err >&2; exit 7' \
	2>"$T/err") || rc=$?
check "run: the command's exit status is relayed" test "$rc" = 7
uid=$(head -1 <<<"$out")
check "run: the command runs as an agent uid" test "$uid" -ge "$UID_MIN" -a "$uid" -le "$UID_MAX"
name=$(sed -n 's/^name=\([^ ]*\) .*/\1/p' <<<"$out")
check "run: AGENT_NAME, AGENT_PURPOSE and AGENT_SUBJECT come from the session" \
	grep -qx "name=agent-[a-z0-9]* purpose=ci subject=alice" <<<"$out"
check "run: HOME is the identity's ephemeral home" grep -qx "home=$T/home/$name" <<<"$out"
check "run: the command starts in the caller's directory" grep -qx "$T/work" <<<"$out"
check "run: stderr reaches the caller" grep -qx "err" "$T/err"
check "run: nothing else on stderr" test "$(wc -l <"$T/err")" = 1
check "run: the identity is retired when the command ends" test "$(state_of "$name")" = retired
check "run: retirement reason task-ended" test "$(reason_of "$name")" = task-ended
check "run: the run is audited with its command" \
	grep -q "event=\"run\" identity=\"$name\".*command=\"sh -c " "$T/agentd.log"
check "run: the retirement says how the command ended" \
	grep -q "event=\"retire\" identity=\"$name\".*reason=\"task-ended\" text=\"the command exited with status 7\"" "$T/agentd.log"
check "run: the PAM session was opened and closed" \
	bash -c "grep -q 'event=\"session-open\" decision=\"allow\" identity=\"$name\".*service=\"agentd\"' '$T/agentd.log' &&
		grep -q 'event=\"session-close\" identity=\"$name\"' '$T/agentd.log'"

# --json: the command's output, then one object on the last line.
rc=0
out=$(run_as alice --purpose ci --json -- sh -c 'echo hello; exit 3') || rc=$?
last=$(tail -n1 <<<"$out")
check "run --json: the command's output comes first" test "$(head -n1 <<<"$out")" = hello
check "run --json: exit code, null signal, status, the identity" \
	test "$rc:$(jq -c '[.exit_code, .signal, .status, .purpose, .message]' <<<"$last")" = '3:[3,null,3,"ci",null]'
jname=$(jq -r .name <<<"$last")
check "run --json: the name is the identity that ran" test "$(state_of "$jname")" = retired
rc=0
out=$(run_as alice --purpose ci --json -- sh -c 'kill -9 $$') || rc=$?
check "run --json: killed by a signal: null exit code, the signal, 128+N" \
	test "$rc:$(tail -n1 <<<"$out" | jq -c '[.exit_code, .signal, .status]')" = '137:[null,9,137]'

# --help after the command (or after --) is the command's.
out=$(run_as alice --purpose ci -- sh -c 'echo "$1"' sh --help)
check "run: --help after the command is the command's argument" test "$out" = "--help"

# stdin is the caller's; works without a terminal.
out=$(printf 'line one\nline two\n' | run_as alice --purpose ci -- sh -c 'cat; tty || true')
check "run: stdin is passed through" grep -qx "line two" <<<"$out"
check "run: no controlling terminal" grep -qx "not a tty" <<<"$out"

# Descriptors: only 0-2 reach the command; no token in its environment.
# (ls runs as a child, so the shell holds no pipe of its own meanwhile)
out=$(run_as alice --purpose ci -- sh -c 'ls -l /proc/$$/fd; env')
check "run: no descriptor beyond 0-2 reaches the command" \
	test "$(grep -cE ' [0-9]+ -> ' <<<"$out")" = 3
check "run: no token in the environment" bash -c "! grep -qi token <<<'$out'"

# Leftovers die with the identity, before agentctl returns.
out=$(run_as alice --purpose ci -- sh -c 'sleep 300 >/dev/null 2>&1 & echo $!')
check "run: a process the command left is killed before agentctl returns" \
	bash -c "! kill -0 $out 2>/dev/null || test \"\$(ps -o stat= -p $out | cut -c1)\" = Z"

# Not found, refused by the PAM stack, refused by policy, usage.
rc=0
run_as alice --purpose ci -- /nonexistent/cmd 2>"$T/err" || rc=$?
check "run: a missing command exits 127" test "$rc" = 127
check "run: and says why" grep -q "/nonexistent/cmd: No such file or directory" "$T/err"
rc=0
run_as orchestrator --purpose research -- true 2>"$T/err" || rc=$?
check "run: a purpose without the agentd service is refused (125)" test "$rc" = 125
check "run: the refusal names the PAM stack" grep -q "refused by the PAM account stack" "$T/err"
check "run: pam_agent's reason reaches the caller" grep -q "service agentd is not allowed for purpose research" "$T/err"
rname=$(grep 'event="run"' "$T/agentd.log" | grep 'purpose="research"' | sed 's/.*identity="\([^"]*\)".*/\1/' | tail -1)
check "run: the refused run's identity is retired" test -n "$rname" -a "$(state_of "$rname")" = retired
rc=0
run_as mallory --purpose ci -- true 2>"$T/err" || rc=$?
check "run: a caller the policy does not allow gets 125" test "$rc" = 125
rc=0
run_as alice --purpose ci 2>"$T/err" || rc=$?
check "run: no command is a usage error (125)" test "$rc" = 125
check "run: the usage error says what is missing" grep -q "a command is required" "$T/err"

# TTL: the command is killed, its signal status relayed.
t0=$SECONDS
rc=0
run_as alice --purpose ci --ttl 2s -- sleep 120 2>"$T/err" || rc=$?
# Contained (lib.sh gives agentd a cgroup subtree when there is cgroup2):
# cgroup.kill, SIGKILL at once; by uid alone: SIGTERM first.
if [ "$CGROUP_ROOT" = none ]; then want=143; else want=137; fi
check "run: killed at the TTL, exit $want (SIG$([ $want = 143 ] && echo TERM || echo KILL))" test "$rc" = "$want"
check "run: the TTL bounds the run" test $((SECONDS - t0)) -lt 30

# agentctl goes away: the identity is retired and the command killed.
(cd "$T/work" && exec setpriv --reuid=2901 --regid=2901 --init-groups \
	"$AGENTCTL" -S "$RUNDIR/agentd.sock" run --purpose ci -- sleep 300) >/dev/null 2>&1 &
ctlpid=$!
wait_for 10 pgrep -x sleep >/dev/null
spid=$(pgrep -x sleep | head -1)
kill -TERM "$ctlpid"
wait "$ctlpid" 2>/dev/null || true
check "run: agentctl killed: the command dies" wait_gone "$spid" 15
check "run: agentctl killed: the retirement says so" \
	grep -q 'reason="task-ended" text="agentctl went away"' "$T/agentd.log"

# A RUN request without descriptors is refused and changes nothing.
before=$(ctl list --all --json | jq length)
check "run: a RUN request without descriptors is refused" matches "$(/usr/bin/python3 - "$RUNDIR/agentd.sock" <<'PY'
import socket, struct, sys
def s(t, v): v = v.encode() + b"\0"; return struct.pack("<HH", t, len(v)) + v
m = struct.pack("<HH", 1, 11) + s(2, "ci") + s(37, "true")
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); c.connect(sys.argv[1]); c.send(m)
r = c.recv(8192); print(struct.unpack("<HH", r[:4])[1])
PY
)" "^101$"
check "run: nothing was created for it" test "$(ctl list --all --json | jq length)" = "$before"

# The runner spawner: runners are its children (forked with the stack's PAM
# modules loaded); agentd's reload has it load them again; killed, it is
# not missed: agentd forks runners itself.
sp=$(pgrep -x agentd-spawner || true)
check "run: one runner spawner runs beside agentd" test "$(wc -w <<<"$sp")" = 1
# keys_in PID: how many of agentd's two keys (token, audit chain) are in the
# writable memory of PID, read 1 MiB at a time (overlapping by a key's
# length). Mappings over 1 GiB are passed over: a sanitizer's shadow
# memory, reserved, not the process's data.
keys_in() {
	/usr/bin/python3 - "$1" "$T/state/token.key" "$T/state/audit.key" <<'PY'
import re, sys
pid, keys = sys.argv[1], [open(f, "rb").read() for f in sys.argv[2:]]
found, step = set(), 1 << 20
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) rw", line)
        if not m or int(m[2], 16) - int(m[1], 16) > 1 << 30:
            continue
        for a in range(int(m[1], 16), int(m[2], 16), step):
            try:
                mem.seek(a)
                data = mem.read(min(step + 64, int(m[2], 16) - a))
            except (OSError, ValueError, OverflowError):
                break
            found |= {i for i, k in enumerate(keys) if len(k) >= 16 and k in data}
print(len(found))
PY
}
# start_sleep_run: alice runs `sleep 60` in the background; sets ctlpid
# (agentctl), spid (the command) and runner (its parent).
start_sleep_run() {
	(cd "$T/work" && exec setpriv --reuid=2901 --regid=2901 --init-groups \
		"$AGENTCTL" -S "$RUNDIR/agentd.sock" run --purpose ci -- sleep 60) >/dev/null 2>&1 &
	ctlpid=$!
	wait_for 10 pgrep -x sleep >/dev/null
	spid=$(pgrep -x sleep | head -1)
	runner=$(ps -o ppid= -p "$spid" | tr -d ' ')
}
check "run: agentd holds its two keys (the search works)" test "$(keys_in "$AGENTD_PID")" = 2
check "run: the spawner holds neither key" test "$(keys_in "$sp")" = 0
start_sleep_run
check "run: the runner is the spawner's child" test "$(ps -o ppid= -p "$runner" | tr -d ' ')" = "$sp"
check "run: the runner is named in ps" test "$(cat "/proc/$runner/comm")" = agentd-runner
check "run: the runner holds neither key" test "$(keys_in "$runner")" = 0
kill -TERM "$ctlpid"
wait "$ctlpid" 2>/dev/null || true
check "run: ... and its command dies with agentctl as before" wait_gone "$spid" 15
kill -HUP "$AGENTD_PID"
rc=0
out=$(run_as alice --purpose ci -- echo reloaded 2>"$T/err") || rc=$?
check "run: after agentd's reload (the spawner loads its modules again), a run works" \
	test "$rc:$out" = "0:reloaded"
check "run: ... the spawner is the same process" test "$(pgrep -x agentd-spawner)" = "$sp"
# The spawner killed: the next run is forked by agentd itself (which says
# why), its runner wipes the keys too, and a new spawner follows (agentd
# starts one at a run 5 s after it found the last one gone).
kill -KILL "$sp"
check "run: agentd reaps a spawner that dies (no zombie is left)" wait_for 10 test ! -e "/proc/$sp"
start_sleep_run
check "run: with the spawner killed, the next runner is agentd's child" \
	test "$(ps -o ppid= -p "$runner" | tr -d ' ')" = "$AGENTD_PID"
check "run: ... and holds neither key" test "$(keys_in "$runner")" = 0
check "run: ... and agentd says why" grep -q "runner spawner is gone" "$T/agentd.log"
kill -TERM "$ctlpid"
wait "$ctlpid" 2>/dev/null || true
check "run: ... and its command dies with agentctl" wait_gone "$spid" 15
again() { run_as alice --purpose ci -- true 2>/dev/null && pgrep -x agentd-spawner >/dev/null; }
check "run: a new spawner is started at a later run" wait_for 15 again
# A spawner that does not answer (stopped): the run is refused within its
# 2 s bound, the spawner is killed, the identity retired; the next run works.
sp=$(pgrep -x agentd-spawner)
kill -STOP "$sp"
rc=0
run_as alice --purpose ci -- echo never 2>"$T/err" >"$T/out" || rc=$?
check "run: a stopped spawner: the run is refused (125)" test "$rc" = 125
check "run: ... nothing ran" test ! -s "$T/out"
check "run: ... agentd says why" grep -q "runner spawner did not answer within 2000 ms" "$T/agentd.log"
check "run: ... and killed it" wait_gone "$sp" 10
check "run: ... and retired the identity" \
	grep -q 'reason="task-ended" text="the command could not be started"' "$T/agentd.log"
rc=0
out=$(run_as alice --purpose ci -- echo next 2>"$T/err") || rc=$?
check "run: ... the next run works" test "$rc:$out" = "0:next"
