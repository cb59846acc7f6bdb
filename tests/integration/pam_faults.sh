#!/bin/bash
# pam_agent fails secure under host settings and faults (issue 16): with
# real sudo, a sudoers that skips the account stage still applies the
# purpose's sudo rule; an expired identity is denied and audited in every
# stage; PAM_USER changed between stages is denied; sudo -u bob under a
# root-only rule is refused and audited with bob; with
# subject_may_approve = false nobody in the delegation chain approves; a
# frozen agentd denies within the module's timeout (printed, not asserted).
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
MOD="$top_builddir/.libs/pam_agent.so"
MARKER="$top_builddir/tests/pam/.libs/pam_marker.so"
DRIVER="$top_builddir/tests/pam/pam_driver"
BOB_PW=bob-Approves-99
set_human_passwords "$BOB_PW"

write_config 'agents_group = "agents"; agents_gid = 2950; approvers = [ "bob", "orchestrator" ];
	subject_may_approve = false; approval_timeout = "30s";'
# ci: sudo needs approval, /usr/bin/id is allowed (as root only);
# research: sudo denied outright.
sed -i 's|max_depth = 2; },|max_depth = 2;\n    sudo_commands = { allow = [ "/usr/bin/id" ]; }; },|' "$T/agentd.conf"
sed -i 's|{ name = "research"; home = "none"; }|{ name = "research"; home = "none"; services = { sudo = "deny"; su = "allow"; }; }|' "$T/agentd.conf"
grep -q 'sudo = "deny"' "$T/agentd.conf" || { echo "could not edit the purposes"; exit 1; }

install_pam_service sudo "$top_srcdir/examples/pam.d/sudo"
install_pam_service agentd-approve "$top_srcdir/examples/pam.d/agentd-approve"
install_agent_sudoers 'Defaults !pam_acct_mgmt' '%agents ALL=(ALL) ALL'
start_agentd

agent_sudo() { # UID TOKENFILE ARGS...
	local uid=$1 tf=$2
	shift 2
	setpriv --reuid="$uid" --regid="$uid" --init-groups timeout 60 sudo -S -p '' "$@" <"$tf"
}
new_agent() { # PURPOSE [agentctl create args]: sets NAME UID_ TOKF
	local j
	j=$(ctl create --purpose "$@" --ttl 10m --json)
	NAME=$(jq -r .name <<<"$j")
	UID_=$(jq -r .uid <<<"$j")
	TOKF="$T/tok.$NAME"
	(umask 077; jq -r .token <<<"$j" >"$TOKF")
}

# 1. Defaults !pam_acct_mgmt: the purpose's sudo = "deny" still holds.
new_agent research
rc=0
out=$(agent_sudo "$UID_" "$TOKF" /usr/bin/id -u 2>"$T/err1") || rc=$?
check "!pam_acct_mgmt, sudo = deny: sudo is refused" test "$rc" != 0 -a "$out" != 0
check "!pam_acct_mgmt: refused in the auth stage, audited" \
	grep -q "event=\"auth\" decision=\"deny\" identity=\"$NAME\".*service=\"sudo\"" "$T/agentd.log"
check "!pam_acct_mgmt: the agent is told why" grep -q "service sudo is denied for purpose research" "$T/err1"

# 2. sudo -u bob under a rule that names no run-as user (root only).
new_agent ci
out=$(agent_sudo "$UID_" "$TOKF" /usr/bin/id -u 2>"$T/err2") || true
check "the allowed command runs as root" test "$out" = 0
check "its run-as user is audited" \
	grep -q "event=\"auth\" decision=\"allow\" identity=\"$NAME\".*command=\"/usr/bin/id -u\" runas=\"root\"" "$T/agentd.log"
check "the session stage decided it too, with sudo's PAM_USER as run-as user" \
	grep -q "event=\"session-open\" decision=\"allow\" identity=\"$NAME\".*runas=\"root\"" "$T/agentd.log"
rc=0
out=$(agent_sudo "$UID_" "$TOKF" -u bob /usr/bin/id -u 2>"$T/err3") || rc=$?
check "sudo -u bob under a root-only rule is refused" test "$rc" != 0 -a "$out" != 2904
check "sudo -u bob: audited with bob" \
	grep -q "event=\"auth\" decision=\"deny\" identity=\"$NAME\".*command=\"/usr/bin/id -u\" runas=\"bob\".*rule=\"purpose ci: sudo run-as bob unlisted = deny\"" "$T/agentd.log"
check "sudo -u bob: the agent is told" grep -q "running commands as bob is denied for purpose ci" "$T/err3"

# 3. No one in the delegation chain approves (subject_may_approve = false):
# orchestrator created the identity for alice; both are refused, bob may.
j=$(ctl_as orchestrator create --purpose ci --for alice --ttl 10m --json)
NAME=$(jq -r .name <<<"$j"); UID_=$(jq -r .uid <<<"$j"); TOKF="$T/tok.$NAME"
(umask 077; jq -r .token <<<"$j" >"$TOKF")
agent_sudo "$UID_" "$TOKF" /bin/sh -c 'echo approved-once' >"$T/out4" 2>"$T/err4" &
sp=$!
rid=$(pending_id)
check "a step-up request is pending" test -n "$rid"
check "pending shows the run-as user" test "$(ctl pending --json | jq -r '.[0].runas')" = root
rc=0
printf 'x\n' | ctl_as orchestrator approve "$rid" >/dev/null 2>"$T/e" || rc=$?
check "the orchestrator (a delegator in the chain) cannot approve" test "$rc" = 1
check "and is told why" grep -q "orchestrator is in the delegation chain of $NAME" "$T/e"
check "the refusal is audited" \
	grep -q "event=\"stepup-refused\" decision=\"deny\" request=\"$rid\".*approver=\"orchestrator\"" "$T/agentd.log"
printf '%s\n' "$BOB_PW" | ctl_as bob approve "$rid" >/dev/null 2>&1 || true
rc=0
wait "$sp" || rc=$?
check "bob's approval runs the command" grep -qx approved-once "$T/out4"
check "one approval for the whole sudo (auth asked, session reused it)" \
	test "$(audit_count stepup-request "identity=\"$NAME\"")" = 1
check "the session stage used the approval" \
	grep -q "event=\"session-open\" decision=\"allow\" identity=\"$NAME\".*reason=\"approved in request $rid\"" "$T/agentd.log"

# 4. PAM_USER changed between stages (pam_driver, a su stack).
mkdir -p "$T/drv.d"
for t in auth account session; do
	echo "$t [success=done ignore=ignore default=die] $MOD timeout=1000" >>"$T/drv.d/su"
	echo "$t required $MARKER" >>"$T/drv.d/su"
done
drive() { local tok=$1; shift; printf '%s\n' "$tok" | "$DRIVER" "$T/drv.d" "$@" 2>"$T/driver.err"; }
new_agent ci
a1=$NAME; t1=$(cat "$TOKF")
new_agent ci
a2=$NAME
out=$(drive "$t1" su "$a1" auth "user:$a2" account open)
check "auth as one agent, then another: account denied" grep -qx "account PAM_PERM_DENIED" <<<"$out"
check "and no session" grep -qx "open PAM_PERM_DENIED" <<<"$out"
out=$(drive "$t1" su "$a1" auth user:alice account open)
check "agent, then a human: account denied" grep -qx "account PAM_PERM_DENIED" <<<"$out"
out=$(drive x su alice auth "user:$a1" account open)
check "a human, then an agent: account denied" grep -qx "account PAM_PERM_DENIED" <<<"$out"
check "a human, then an agent: no session" grep -qx "open PAM_PERM_DENIED" <<<"$out"

# 5. An expired identity: asked, denied and audited in every stage.
j=$(ctl create --purpose ci --ttl 2s --json)
ex=$(jq -r .name <<<"$j")
sleep 3
n0=$(audit_count account "identity=\"$ex\"")
out=$(drive "$(jq -r .token <<<"$j")" su "$ex" auth account open)
check "expired: auth denied" grep -qx "auth PAM_AUTH_ERR" <<<"$out"
check "expired: account denied, never ignored" grep -qx "account PAM_ACCT_EXPIRED" <<<"$out"
check "expired: session denied" grep -qx "open PAM_PERM_DENIED" <<<"$out"
check "expired: the account denial is audited" test "$(audit_count account "identity=\"$ex\"")" -gt "$n0"
out=$(drive x su agent-neverexisted account)
check "a name in the agent namespace that never existed: denied, not ignored" \
	grep -qx "account PAM_USER_UNKNOWN" <<<"$out"
check "and audited" grep -q "event=\"account\" decision=\"deny\" identity=\"agent-neverexisted\"" "$T/agentd.log"

# 6. A frozen agentd: denied within the module's timeout (1000 ms).
kill -STOP "$AGENTD_PID"
t0=$(date +%s%N)
out=$(drive "$t1" su "$a1" account)
t1ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$AGENTD_PID"
check "frozen agentd: account denied" grep -qx "account PAM_PERM_DENIED" <<<"$out"
echo "# frozen agentd, timeout=1000: one stage denied after ${t1ms} ms (pam_driver, incl. its start)"
