#!/bin/bash
# No local denial of service through held connections (issue 16): an
# unprivileged user holding many idle connections to agentd's socket must
# neither starve root's agentctl nor a live agent's login (pam_agent's
# requests come from root's su), and no client is ever reset.
#
# mallory opens 200 connections and sends nothing: agentd accepts up to
# max_connections_per_uid of them and tells the rest why (an ERROR reply,
# EUSERS, then close); while they are held, root's `agentctl status` and an
# agent's su login with its token work; after connection_idle_timeout the
# held ones are closed. Then root itself opens more connections than
# max_connections: the ones beyond wait in the listen backlog (never reset)
# and a further `agentctl status` is served once the idle ones time out.
. "$(dirname "$0")/lib.sh"
require_root
PY=/usr/bin/python3
if ! [ -x "$PY" ]; then
	echo "skip: python3 is not installed (./bootstrap installs it)"
	exit 77
fi
enter_sandbox "$@"
write_config 'max_connections = 64; max_connections_per_uid = 16; connection_idle_timeout = "4s";'
NSS=1
if ! why=$(install_nss_module); then
	echo "# NSS module not installed ($why): the su part is skipped"
	NSS=0
	mount -t tmpfs -o mode=0755 tmpfs /run
fi
RUNDIR=/run/agentd # the path compiled into the modules
start_agentd
MALLORY=2903
ALICE=2901

# hold N FILE: opens N connections, sends nothing, and on each line read
# from its stdin writes to FILE one line "held N told N reset N": held
# (open, nothing received), told (an ERROR reply, then closed), reset
# (closed with nothing said, or ECONNRESET). Ends on EOF of stdin.
cat >"$T/hold.py" <<'PY'
import os, select, socket, sys
n, out, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
socks, state = [], []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(30)
    s.connect(path)
    s.setblocking(False)
    socks.append(s)
    state.append("held")
def poll_all():
    for i, s in enumerate(socks):
        if state[i] != "held" and state[i] != "told?":
            continue
        while True:
            try:
                b = s.recv(8192)
            except BlockingIOError:
                break
            except ConnectionResetError:
                state[i] = "reset" if state[i] == "held" else "told"
                break
            if not b:
                state[i] = "reset" if state[i] == "held" else "told"
                break
            state[i] = "told?"
    return "held %d told %d reset %d\n" % (state.count("held") + state.count("told?"),
        state.count("told"), state.count("reset"))
with open(out, "a") as f:
    f.write("connected %d\n" % n); f.flush()
    for line in sys.stdin:
        f.write(poll_all()); f.flush()
PY
chmod 0755 "$T/hold.py"

# A live agent and its token (root creates it for alice).
out=$(ctl create --purpose ci --for alice --ttl 10m --json)
NAME=$(jq -r .name <<<"$out")
TOKFILE="$T/tok"
(umask 077 && jq -r .token <<<"$out" >"$TOKFILE")

mkfifo "$T/ctl.fifo"
touch "$T/hold.out"
chown $MALLORY "$T/hold.out"
setpriv --reuid=$MALLORY --regid=$MALLORY --clear-groups \
	"$PY" "$T/hold.py" 200 "$T/hold.out" "$RUNDIR/agentd.sock" <"$T/ctl.fifo" &
HOLDER=$!
exec 7>"$T/ctl.fifo"
check "mallory opened 200 connections" wait_for 20 grep -q "^connected 200" "$T/hold.out"
# Let agentd take them all in (accepted or told), then look.
sleep 0.5
echo >&7
check "the holder reported" wait_for 10 grep -q "^held" "$T/hold.out"
first=$(grep "^held" "$T/hold.out" | tail -1)
echo "# while held: $first"
check "mallory holds max_connections_per_uid (16) connections" matches "$first" "^held 16 "
check "the rest were told why (no reset)" matches "$first" " told 184 reset 0$"

rc=0
ctl status >/dev/null || rc=$?
check "root's agentctl status works while mallory holds her connections" test "$rc" = 0
rc=0
setpriv --reuid=$ALICE --regid=$ALICE --clear-groups \
	"$AGENTCTL" -S "$RUNDIR/agentd.sock" status >/dev/null || rc=$?
check "another user's agentctl status works meanwhile" test "$rc" = 0
if [ "$NSS" = 1 ]; then
	MOD="$top_builddir/.libs/pam_agent.so"
	printf '%s\n' "auth [success=done ignore=ignore default=die] $MOD" "auth required pam_deny.so" \
		"account [success=ok ignore=ignore default=die] $MOD" "account required pam_permit.so" \
		"session required $MOD" "session required pam_permit.so" >"$T/su.pam"
	chmod 0644 "$T/su.pam"
	mount --bind "$T/su.pam" /etc/pam.d/su
	out=$(timeout 20 setpriv --reuid=$ALICE --regid=$ALICE --clear-groups \
		su -c 'id -un' "$NAME" <"$TOKFILE" 2>"$T/su.err") || true
	check "a live agent's su login with its token works meanwhile" test "$out" = "$NAME"
fi
echo >&7
sleep 0.2
now=$(grep "^held" "$T/hold.out" | tail -1)
check "mallory's connections were still held during those checks" matches "$now" "^held 16 "

# After connection_idle_timeout (4 s) the held ones are closed.
closed() { echo >&7; sleep 0.3; grep "^held" "$T/hold.out" | tail -1 | grep -q "^held 0 "; }
check "idle connections are closed after connection_idle_timeout" wait_for 30 closed
exec 7>&-
wait "$HOLDER" 2>/dev/null || true

# Root over max_connections: the rest wait in the backlog, nobody is reset.
mkfifo "$T/ctl2.fifo"
touch "$T/hold2.out"
"$PY" "$T/hold.py" 100 "$T/hold2.out" "$RUNDIR/agentd.sock" <"$T/ctl2.fifo" &
HOLDER=$!
exec 7>"$T/ctl2.fifo"
check "root opened 100 connections" wait_for 20 grep -q "^connected 100" "$T/hold2.out"
sleep 0.5
echo >&7
check "the holder reported" wait_for 10 grep -q "^held" "$T/hold2.out"
first=$(grep "^held" "$T/hold2.out" | tail -1)
echo "# root's holder: $first"
check "none of root's 100 connections was reset or refused (64 accepted, 36 in the backlog)" \
	matches "$first" "^held 100 told 0 reset 0$"
rc=0
ctl --timeout 30 status >/dev/null || rc=$?
check "root's status, queued in the backlog behind 36 idle ones, is served" test "$rc" = 0
exec 7>&-
wait "$HOLDER" 2>/dev/null || true
check "agentd is still running" kill -0 "$AGENTD_PID"
exit $FAILED
