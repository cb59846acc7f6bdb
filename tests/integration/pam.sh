#!/bin/bash
# pam_agent through libpam (pam_start_confdir, tests/pam/pam_driver) against
# a real agentd: every stage for a live identity, a wrong token, another
# identity's token, an unknown user, a human, a service the purpose denies,
# an identity that expires or is revoked mid-transaction, and agentd
# absent, hung (SIGSTOP) and answering garbage, and a snapshot left
# mid-update. Real su and sshd logins are in login.sh, agentctl run in run.sh.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
MOD="$top_builddir/.libs/pam_agent.so"
MARKER="$top_builddir/tests/pam/.libs/pam_marker.so"
DRIVER="$top_builddir/tests/pam/pam_driver"
if ! why=$(install_nss_module); then
	echo "# NSS module not installed ($why): agents are known from the snapshot alone"
	mount -t tmpfs -o mode=0755 tmpfs /run
fi
RUNDIR=/run/agentd # the path compiled into the modules
write_config 'approval_timeout = "2s";' # step-up itself is tested in stepup.sh
start_agentd

# stack SERVICE [module args]: pam_agent with ignore=ignore, then the marker.
stack() {
	local svc=$1
	shift
	mkdir -p "$T/pam.d"
	: >"$T/pam.d/$svc"
	for t in auth account session; do
		echo "$t [success=done ignore=ignore default=die] $MOD $*" >>"$T/pam.d/$svc"
		echo "$t required $MARKER" >>"$T/pam.d/$svc"
	done
}
# drive TOKEN SERVICE USER STAGE...: prints the driver's stage lines.
drive() {
	local tok=$1
	shift
	printf '%s\n' "$tok" | "$DRIVER" "$T/pam.d" "$@" 2>"$T/driver.err"
}
for s in su login cron sudo; do stack "$s" timeout=1000; done

a=$(ctl create --purpose ci --ttl 10m --json)
name=$(jq -r .name <<<"$a")
tok=$(jq -r .token <<<"$a")
b=$(ctl create --purpose ci --ttl 10m --json)
other_tok=$(jq -r .token <<<"$b")

out=$(drive "$tok" su "$name" --tty /dev/pts/9 --rhost 192.0.2.7 auth account open close)
check "live, right token: auth succeeds" grep -qx "auth PAM_SUCCESS" <<<"$out"
check "live: account succeeds for an allowed service" grep -qx "account PAM_SUCCESS" <<<"$out"
check "live: session opens" grep -qx "open PAM_SUCCESS" <<<"$out"
check "live: session closes" grep -qx "close PAM_SUCCESS" <<<"$out"
check "session sets AGENT_NAME" grep -qx "env AGENT_NAME=$name" <<<"$out"
check "session sets AGENT_PURPOSE" grep -qx "env AGENT_PURPOSE=ci" <<<"$out"
check "session sets AGENT_SUBJECT" grep -qx "env AGENT_SUBJECT=root" <<<"$out"
check "session sets AGENT_EXPIRES (RFC 3339)" \
	grep -qE "^env AGENT_EXPIRES=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\$" <<<"$out"
check "no descriptor left open by the module" \
	test "$(grep '^fds' <<<"$out" | uniq | wc -l)" = 1
check "auth audited with the PAM items" \
	grep -q "event=\"auth\" decision=\"allow\" identity=\"$name\".*service=\"su\" tty=\"/dev/pts/9\" rhost=\"192.0.2.7\"" "$T/agentd.log"
check "account audited with the rule that decided" \
	grep -q "event=\"account\" decision=\"allow\" identity=\"$name\".*rule=\"purpose ci: su = allow\"" "$T/agentd.log"
check "session open and close audited" \
	bash -c "grep -q 'event=\"session-open\" decision=\"allow\" identity=\"$name\"' '$T/agentd.log' && grep -q 'event=\"session-close\" identity=\"$name\".*reason=\"closed\"' '$T/agentd.log'"
check "the token never reaches the audit log" bash -c "! grep -qF -- '$tok' '$T/agentd.log'"

out=$(drive "not-the-token" su "$name" auth)
check "wrong token: PAM_AUTH_ERR" grep -qx "auth PAM_AUTH_ERR" <<<"$out"
check "wrong token audited" grep -q "event=\"auth\" decision=\"deny\" identity=\"$name\".*reason=\"wrong token\"" "$T/agentd.log"
out=$(drive "$other_tok" su "$name" auth)
check "another identity's token: PAM_AUTH_ERR" grep -qx "auth PAM_AUTH_ERR" <<<"$out"
out=$(drive "$(printf 'x%.0s' $(seq 200))" su "$name" auth)
check "over-long token: PAM_AUTH_ERR" grep -qx "auth PAM_AUTH_ERR" <<<"$out"

out=$(drive "whatever" su alice auth account open close)
check "human user: PAM_IGNORE in every stage" \
	test "$(grep -c ' PAM_IGNORE$' <<<"$out")" = 4
out=$(drive "whatever" su no-such-user auth account open close)
check "unknown user: PAM_IGNORE in every stage" \
	test "$(grep -c ' PAM_IGNORE$' <<<"$out")" = 4
out=$(drive "whatever" su 'bad name;rm' auth account)
check "malformed user name: PAM_IGNORE" test "$(grep -c ' PAM_IGNORE$' <<<"$out")" = 2

out=$(drive "$tok" login "$name" auth account open)
check "service denied by purpose: auth decides the policy too (every stage decides)" \
	grep -qx "auth PAM_AUTH_ERR" <<<"$out"
check "service denied by purpose: PAM_PERM_DENIED" grep -qx "account PAM_PERM_DENIED" <<<"$out"
check "service denied by purpose: no session" grep -qx "open PAM_PERM_DENIED" <<<"$out"
check "the user is told why" grep -q "service login is denied for purpose ci" "$T/driver.err"
out=$(drive "$tok" cron "$name" account)
check "unlisted service: PAM_PERM_DENIED" grep -qx "account PAM_PERM_DENIED" <<<"$out"
out=$(drive "$tok" sudo "$name" account)
check "approve service, nobody approves: PAM_PERM_DENIED" grep -qx "account PAM_PERM_DENIED" <<<"$out"
check "approve: the agent is told a request is pending" grep -q "Approval required: request [a-z2-9]\{6\} (sudo) until " "$T/driver.err"
check "approve: and that it timed out" grep -q "no approval before the deadline" "$T/driver.err"
check "denials audited with their rule" \
	grep -q "event=\"account\" decision=\"deny\" identity=\"$name\".*rule=\"purpose ci: cron unlisted = deny\"" "$T/agentd.log"

# Expiry and revocation during one PAM transaction.
short=$(ctl create --purpose ci --ttl 2s --json)
sname=$(jq -r .name <<<"$short")
out=$(drive "$(jq -r .token <<<"$short")" su "$sname" auth account sleep:3 account open)
check "expiring: account succeeds before the deadline" \
	test "$(grep -m1 '^account' <<<"$out")" = "account PAM_SUCCESS"
check "expired: account says PAM_ACCT_EXPIRED" \
	test "$(grep '^account' <<<"$out" | tail -1)" = "account PAM_ACCT_EXPIRED"
check "expired: no session" grep -qx "open PAM_PERM_DENIED" <<<"$out"
rv=$(ctl create --purpose ci --ttl 10m --json)
rname=$(jq -r .name <<<"$rv")
( sleep 1; ctl revoke "$rname" >/dev/null ) &
revoker=$!
out=$(drive "$(jq -r .token <<<"$rv")" su "$rname" auth sleep:3 account open)
wait "$revoker"
check "revoked mid-transaction: PAM_ACCT_EXPIRED" grep -qx "account PAM_ACCT_EXPIRED" <<<"$out"
check "revoked mid-transaction: no session" grep -qx "open PAM_PERM_DENIED" <<<"$out"
out=$(drive "$(jq -r .token <<<"$rv")" su "$rname" auth)
check "revoked: its token no longer authenticates (it is no user at all)" \
	bash -c "! grep -qx 'auth PAM_SUCCESS' <<<'$out'"

# Non-root peers get no PAM decisions (no token oracle).
check "a non-root peer asking for auth gets EPERM" matches "$(setpriv --reuid=2903 --regid=2903 --clear-groups /usr/bin/python3 - "$RUNDIR/agentd.sock" "$name" <<'PY'
import socket, struct, sys
def s(t, v): v = v.encode() + b"\0"; return struct.pack("<HH", t, len(v)) + v
m = struct.pack("<HH", 1, 6) + s(1, sys.argv[2]) + s(19, "x" * 43) + s(31, "su")
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); c.connect(sys.argv[1]); c.send(m)
r = c.recv(8192); print(struct.unpack("<HH", r[:4])[1], r[8:16].hex())
PY
)" "^101 0100000000000000$"

# Bad module arguments: agents are refused, humans untouched.
stack badargs timeout=soon
out=$(drive "$tok" badargs "$name" auth account)
check "bad module argument: agent gets PAM_SERVICE_ERR" grep -qx "account PAM_SERVICE_ERR" <<<"$out"
out=$(drive x badargs alice auth account)
check "bad module argument: human still PAM_IGNORE" test "$(grep -c ' PAM_IGNORE$' <<<"$out")" = 2

# agentd answering garbage, then a well-formed reply of the wrong type.
garbage_server() { # SOCKET MODE
	python3 - "$@" <<'PY' &
import os, socket, struct, sys
p, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(p); s.listen(8)
while True:
    c, _ = s.accept(); c.recv(8192)
    if mode == "garbage": c.send(os.urandom(64))
    else: c.send(struct.pack("<HH", 1, 103))  # END: valid, but no answer
    c.close()
PY
	GARBAGE_PID=$!
	wait_for 5 test -S "$1"
}
for mode in garbage wrongtype; do
	garbage_server "$T/$mode.sock" "$mode"
	stack "g$mode" "socket=$T/$mode.sock timeout=1000"
	out=$(drive "$tok" "g$mode" "$name" auth account open)
	check "agentd answering $mode: auth PAM_AUTHINFO_UNAVAIL" grep -qx "auth PAM_AUTHINFO_UNAVAIL" <<<"$out"
	check "agentd answering $mode: account PAM_PERM_DENIED" grep -qx "account PAM_PERM_DENIED" <<<"$out"
	check "agentd answering $mode: session PAM_PERM_DENIED" grep -qx "open PAM_PERM_DENIED" <<<"$out"
	out=$(drive x "g$mode" alice auth account open)
	check "agentd answering $mode: human PAM_IGNORE" test "$(grep -c ' PAM_IGNORE$' <<<"$out")" = 3
	kill "$GARBAGE_PID"; wait "$GARBAGE_PID" 2>/dev/null || true
done

# agentd hung: denied within the module's timeout (1 s here; bound 10 s).
kill -STOP "$AGENTD_PID"
t0=$SECONDS
out=$(drive "$tok" su "$name" auth account)
t1=$SECONDS
check "agentd hung: auth PAM_AUTHINFO_UNAVAIL" grep -qx "auth PAM_AUTHINFO_UNAVAIL" <<<"$out"
check "agentd hung: account PAM_PERM_DENIED" grep -qx "account PAM_PERM_DENIED" <<<"$out"
check "agentd hung: denied within a bounded time" test $((t1 - t0)) -lt 10
check "agentd hung: the user is told" grep -q "agentd service is not available" "$T/driver.err"
out=$(drive x su alice auth account open close)
check "agentd hung: human PAM_IGNORE" test "$(grep -c ' PAM_IGNORE$' <<<"$out")" = 4
kill -CONT "$AGENTD_PID"

# agentd absent (killed; its snapshot stays, so the name still resolves).
crash_agentd
out=$(drive "$tok" su "$name" auth account open)
check "agentd absent: auth PAM_AUTHINFO_UNAVAIL" grep -qx "auth PAM_AUTHINFO_UNAVAIL" <<<"$out"
check "agentd absent: account PAM_PERM_DENIED" grep -qx "account PAM_PERM_DENIED" <<<"$out"
check "agentd absent: session PAM_PERM_DENIED" grep -qx "open PAM_PERM_DENIED" <<<"$out"
out=$(drive x su alice auth account open close)
check "agentd absent: human PAM_IGNORE" test "$(grep -c ' PAM_IGNORE$' <<<"$out")" = 4

# A snapshot left mid-update (its sequence counter odd, as when agentd is
# killed while writing): nobody is taken for an agent, humans are untouched
# and the agent, which then resolves nowhere, gets no success.
printf '\001\000\000\000' | dd of="$RUNDIR/passwd.snap" bs=1 seek=20 conv=notrunc status=none
out=$(drive x su alice auth account open close)
check "snapshot mid-update: human PAM_IGNORE" test "$(grep -c ' PAM_IGNORE$' <<<"$out")" = 4
out=$(drive x su root account)
check "snapshot mid-update: root PAM_IGNORE" grep -qx "account PAM_IGNORE" <<<"$out"
out=$(drive "$tok" su "$name" auth account)
check "snapshot mid-update: the agent gets no success" bash -c "! grep -q 'PAM_SUCCESS' <<<'$out'"
start_agentd
