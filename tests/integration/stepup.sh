#!/bin/bash
# Step-up approval with real sudo: an agent's sudo of an allowed command runs
# at once, a denied one is refused at once, one that needs approval waits
# until an approver (re-authenticated by agentd through PAM) approves or
# denies it, it times out, or the identity retires. Who may approve, agentd
# down, and the documented stack without pam_agent. Uses the shipped
# examples/pam.d/sudo, agentd-approve and sudoers.d-agents. (stepup_pam.sh
# has the parts that need no real sudo, so they run in sanitizer builds.)
. "$(dirname "$0")/lib.sh"
require_root
for tool in sudo openssl; do
	command -v "$tool" >/dev/null || { echo "skip: $tool is not installed (./bootstrap installs it)"; exit 77; }
done
enter_sandbox "$@"
if ! why=$(install_nss_module); then
	echo "skip: real sudo needs the NSS module in the sandbox: $why"
	exit 77
fi
RUNDIR=/run/agentd
BOB_PW=bob-Approves-99
set_human_passwords "$BOB_PW"

write_config 'agents_group = "agents"; agents_gid = 2950; approvers = [ "bob" ];
	approval_timeout = "60s"; notify_command = "'"$T"'/notify";'
# ci: sudo needs approval by default; id is allowed, shells are denied.
sed -i 's|max_depth = 2; },|max_depth = 2;\n    sudo_commands = { allow = [ "/usr/bin/id" ]; deny = [ "/usr/bin/bash", "/bin/bash" ]; }; },|' \
	"$T/agentd.conf"
grep -q sudo_commands "$T/agentd.conf" || { echo "could not add sudo_commands"; exit 1; }
cat >"$T/notify" <<EOF
#!/bin/sh
env | grep '^AGENTD_' | sort >"$T/notified.\$AGENTD_REQUEST_ID"
EOF
chmod 0755 "$T/notify"

install_pam_service sudo "$top_srcdir/examples/pam.d/sudo"
install_pam_service agentd-approve "$top_srcdir/examples/pam.d/agentd-approve"
install_agent_sudoers 'alice ALL=(ALL) ALL'
start_agentd

a=$(ctl_as alice create --purpose ci --ttl 10m --json)
name=$(jq -r .name <<<"$a")
uid=$(jq -r .uid <<<"$a")
(umask 077; jq -r .token <<<"$a" >"$T/token")

# agent_sudo ARGS...: sudo as the agent, token on stdin, no terminal.
agent_sudo() {
	setpriv --reuid="$uid" --regid="$uid" --init-groups timeout 60 sudo -S -p '' "$@" <"$T/token"
}
approve_as_bob() { printf '%s\n' "$BOB_PW" | ctl_as bob approve "$@"; }

# Allowed and denied commands: no request at all.
out=$(agent_sudo /usr/bin/id -u 2>"$T/err") || true
check "allowed command runs as root without approval" test "$out" = 0
check "no step-up request for it" test "$(audit_count stepup-request)" = 0
check "account audited with the command and the rule" \
	grep -q "event=\"account\" decision=\"allow\" identity=\"$name\".*service=\"sudo\".*command=\"/usr/bin/id -u\".*rule=\"purpose ci: sudo_commands allow \\\\\"/usr/bin/id\\\\\"\"" "$T/agentd.log"
t0=$SECONDS
rc=0
agent_sudo /bin/bash -c true 2>"$T/err" || rc=$?
check "denied command is refused" test "$rc" != 0
check "denied command is refused at once" test $((SECONDS - t0)) -lt 5
check "the agent is told why" grep -q "command /bin/bash -c true is denied for purpose ci" "$T/err"

# Approval: the waiting sudo runs the command and returns its status.
agent_sudo /bin/sh -c 'echo ran-as-$(id -u); exit 7' >"$T/out1" 2>"$T/err1" &
sp=$!
rid=$(pending_id)
check "a request is pending" test -n "$rid"
check "the agent sees the request id and what to run" \
	wait_for 5 grep -qF "Approval required: request $rid (sudo /bin/sh -c echo ran-as-\$(id -u); exit 7 as root) until " "$T/err1"
check "and who must do what" grep -q "An approver runs: agentctl approve $rid\$" "$T/err1"
check "pending lists the command and the identity" \
	test "$(ctl pending --json | jq -r '.[0] | .identity + " " + .command')" = "$name /bin/sh -c echo ran-as-\$(id -u); exit 7"
check "notify_command ran with the request in its environment" \
	wait_for 5 grep -qx "AGENTD_IDENTITY=$name" "$T/notified.$rid"
check "no token in notify_command's environment" bash -c "! grep -qi token '$T/notified.$rid'"
out=$(approve_as_bob "$rid" --reason "looks fine" 2>"$T/approve.err") || true
check "bob's approval is accepted" grep -qx "$rid approved" <<<"$out"
check "bob was asked for his password by PAM, through agentd" grep -q "Password" "$T/approve.err"
rc=0
wait "$sp" || rc=$?
check "the approved command ran as root" grep -qx "ran-as-0" "$T/out1"
check "its exit status came back" test "$rc" = 7
check "approval audited with the approver and the reason" \
	grep -q "event=\"stepup-approve\" decision=\"allow\" request=\"$rid\" identity=\"$name\".*approver=\"bob\" reason=\"looks fine\"" "$T/agentd.log"
check "approval is single-use: the request is gone" test "$(ctl pending --json | jq length)" = 0
rc=0
approve_as_bob "$rid" >/dev/null 2>&1 || rc=$?
check "approving it again is refused" test "$rc" = 1

# Denial.
agent_sudo /bin/sh -c 'echo should-not-run' >"$T/out2" 2>"$T/err2" &
sp=$!
rid=$(pending_id)
out=$(ctl_as bob deny "$rid" --reason "not today") || true
check "bob's denial is accepted" grep -qx "$rid denied" <<<"$out"
rc=0
wait "$sp" || rc=$?
check "denied: sudo fails" test "$rc" != 0
check "denied: the command did not run" test ! -s "$T/out2"
check "denied: the agent is told by whom and why" grep -q "denied by bob: not today" "$T/err2"
check "denial audited" grep -q "event=\"stepup-deny\" decision=\"deny\" request=\"$rid\".*approver=\"bob\" reason=\"not today\"" "$T/agentd.log"

# Who may not approve: the agent itself, another agent, a non-approver, an
# approver who fails re-authentication. The request stays pending meanwhile.
agent_sudo /bin/sh -c 'echo late-approved' >"$T/out3" 2>"$T/err3" &
sp=$!
rid=$(pending_id)
rc=0
setpriv --reuid="$uid" --regid="$uid" --clear-groups "$AGENTCTL" -S "$RUNDIR/agentd.sock" approve "$rid" </dev/null >/dev/null 2>"$T/e" || rc=$?
check "self-approval is refused" test "$rc" = 1
check "self-approval: agents never approve" grep -q "agent identities never approve" "$T/e"
other=$(ctl create --purpose ci --ttl 5m --json | jq -r .uid)
rc=0
setpriv --reuid="$other" --regid="$other" --clear-groups "$AGENTCTL" -S "$RUNDIR/agentd.sock" approve "$rid" </dev/null >/dev/null 2>"$T/e" || rc=$?
check "approval by another agent is refused" test "$rc" = 1
rc=0
printf 'whatever\n' | ctl_as alice approve "$rid" >/dev/null 2>"$T/e" || rc=$?
check "approval by a non-approver (the subject) is refused" test "$rc" = 1
check "the non-approver is told" grep -q "alice is not an approver" "$T/e"
rc=0
printf 'wrong-password\n' | ctl_as bob approve "$rid" >/dev/null 2>"$T/e" || rc=$?
check "an approver failing re-authentication is refused" test "$rc" = 1
check "and told so" grep -q "re-authentication of bob failed" "$T/e"
check "every refusal is audited" test "$(audit_count stepup-refused "request=\"$rid\"")" = 4
check "the request is still pending after the refusals" \
	test "$(ctl pending --json | jq -r '.[0].request')" = "$rid"
approve_as_bob "$rid" >/dev/null 2>&1 || true
wait "$sp" || true
check "then bob approves and the command runs" grep -qx "late-approved" "$T/out3"

# Timeout: a short approval_timeout through a reload.
loads_above() { test "$(audit_count config 'decision="loaded"')" -gt "$1"; }
reload_config() { # SED-EXPRESSION
	local n
	n=$(audit_count config 'decision="loaded"')
	sed -i "$1" "$T/agentd.conf"
	kill -HUP "$AGENTD_PID"
	wait_for 5 loads_above "$n"
}
reload_config 's|approval_timeout = "60s";|approval_timeout = "3s";|'
t0=$SECONDS
rc=0
agent_sudo /bin/sh -c 'echo should-not-run' >"$T/out4" 2>"$T/err4" || rc=$?
check "no decision: sudo fails" test "$rc" != 0
check "no decision: within the approval timeout" test $((SECONDS - t0)) -lt 20
check "no decision: the agent is told" grep -q "no approval before the deadline" "$T/err4"
check "timeout audited" test "$(audit_count stepup-timeout)" = 1
reload_config 's|approval_timeout = "3s";|approval_timeout = "60s";|'

# The identity retires while its request waits.
agent_sudo /bin/sh -c 'echo should-not-run' >"$T/out5" 2>"$T/err5" &
sp=$!
rid=$(pending_id)
ctl revoke "$name" >/dev/null
rc=0
wait "$sp" || rc=$?
check "revoked while waiting: sudo fails" test "$rc" != 0
check "revoked while waiting: the command did not run" test ! -s "$T/out5"
check "revoked while waiting: audited" grep -q "event=\"stepup-cancel\" decision=\"deny\" request=\"$rid\".*reason=\"the identity retired\"" "$T/agentd.log"

# agentd down: the agent's sudo is denied within the module's timeout; a
# human's sudo works as before.
c=$(ctl create --purpose ci --ttl 10m --json)
uid=$(jq -r .uid <<<"$c")
(umask 077; jq -r .token <<<"$c" >"$T/token")
crash_agentd
t0=$SECONDS
rc=0
agent_sudo /usr/bin/id -u >/dev/null 2>"$T/err" || rc=$?
check "agentd down: the agent's sudo is denied" test "$rc" != 0
check "agentd down: within the timeout" test $((SECONDS - t0)) -lt 15
check "agentd down: the agent is told, though sudo passes PAM_SILENT" \
	grep -q "the agentd service is not available" "$T/err"
out=$(printf 'alice-wrong\n' | setpriv --reuid=2901 --regid=2901 --init-groups timeout 30 sudo -S -p '' -k /usr/bin/id -u 2>/dev/null) || true
check "agentd down: a human's wrong password is still refused" test -z "$out"
out=$(printf '%s\n' "$BOB_PW" | setpriv --reuid=2901 --regid=2901 --init-groups timeout 30 sudo -S -p '' -k /usr/bin/id -u 2>/dev/null) || true
check "agentd down: a human's sudo works as before" test "$out" = 0
start_agentd

# The documented stack without pam_agent: agents get no root.
grep -v pam_agent "$top_srcdir/examples/pam.d/sudo" >"$T/sudo.nopam"
install_pam_service sudo "$T/sudo.nopam"
rc=0
out=$(agent_sudo /usr/bin/id -u 2>/dev/null) || rc=$?
check "without pam_agent in the stack, an agent's sudo fails" test "$rc" != 0 -a "$out" != 0
