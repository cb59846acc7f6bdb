#!/bin/bash
# Risk with real sudo: the purpose's risk and --risk on the identity, in
# show, list, the audit records, pending and the session's environment; a
# low-risk command runs at once, a high-risk one waits for one approver, a
# critical one for two distinct approvers from outside the delegation chain.
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
PW=approvers-Pass-77
set_human_passwords "$PW"
# mallory is a second approver here, with the same password.
printf 'mallory:%s:19000:0:99999:7:::\n' "$(printf '%s\n' "$PW" | openssl passwd -6 -stdin)" >>"$T/shadow"

write_config 'agents_group = "agents"; agents_gid = 2950; approvers = [ "alice", "bob", "mallory" ];
	approval_timeout = "60s"; notify_command = "'"$T"'/notify";'
# ci: sudo allowed for id; "id -un" is high risk, "id -gn" critical.
sed -i -e 's|sudo = "approve";|sudo = "allow";|' \
	-e 's|max_depth = 2; },|max_depth = 2;\n    sudo_commands = { allow = [ "/usr/bin/id" ];\n      risk = { high = [ "/usr/bin/id -un" ]; critical = [ "/usr/bin/id -gn" ]; }; }; },|' \
	-e 's|{ name = "research"; home = "none"; }|{ name = "research"; home = "none"; risk = "medium"; }|' \
	"$T/agentd.conf"
grep -q 'critical = ' "$T/agentd.conf" || { echo "could not add the risk rules"; exit 1; }
cat >"$T/notify" <<EOF
#!/bin/sh
env | grep '^AGENTD_' | sort >"$T/notified.\$AGENTD_REQUEST_ID"
EOF
chmod 0755 "$T/notify"

install_pam_service sudo "$top_srcdir/examples/pam.d/sudo"
install_pam_service agentd-approve "$top_srcdir/examples/pam.d/agentd-approve"
printf '%s\n' "account [success=ok ignore=ignore default=die] pam_agent.so" \
	"account required pam_permit.so" "session required pam_agent.so" >"$T/agentd.pam"
install_pam_service agentd "$T/agentd.pam"
install_agent_sudoers
start_agentd

# --- risk on the identity
rc=0
ctl_as orchestrator create --purpose research --risk low >/dev/null 2>"$T/e" || rc=$?
check "--risk below the purpose's is refused" test "$rc" != 0
check "and told why" grep -q "risk low is below the least risk medium" "$T/e"
check "the refusal is audited with the risk asked" \
	grep -q 'event="create" decision="deny" purpose="research" risk="low"' "$T/agentd.log"
r=$(ctl_as orchestrator create --purpose research --json | jq -r .risk)
check "an identity gets its purpose's risk" test "$r" = medium
a=$(ctl_as alice create --purpose ci --ttl 10m --risk critical --json)
check "--risk raises it" test "$(jq -r .risk <<<"$a")" = critical
crit=$(jq -r .name <<<"$a")
check "show prints the risk" grep -qx "risk:     critical" <(ctl show "$crit")
check "list --json carries the risk" \
	test "$(ctl list --json | jq -r --arg n "$crit" '.[] | select(.name == $n) | .risk')" = critical
check "the create record carries the risk" \
	grep -q "event=\"create\" decision=\"allow\" identity=\"$crit\".*risk=\"critical\"" "$T/agentd.log"
ctl revoke "$crit" >/dev/null
check "so does its retirement record" \
	grep -q "event=\"retire\".*identity=\"$crit\".*risk=\"critical\"" "$T/agentd.log"

# The session's environment names the risk.
mkdir -m 0755 "$T/work"
out=$(cd "$T/work" && ctl_as alice run --purpose ci --risk medium -- sh -c 'echo "risk=$AGENT_RISK"') || true
check "a session gets AGENT_RISK" grep -qx "risk=medium" <<<"$out"

# --- risk of actions, with real sudo
a=$(ctl_as alice create --purpose ci --ttl 10m --json)
name=$(jq -r .name <<<"$a")
uid=$(jq -r .uid <<<"$a")
(umask 077; jq -r .token <<<"$a" >"$T/token")
agent_sudo() {
	setpriv --reuid="$uid" --regid="$uid" --init-groups timeout 60 sudo -S -p '' "$@" <"$T/token"
}
approve_as() { local u=$1; shift; printf '%s\n' "$PW" | ctl_as "$u" approve "$@"; }

out=$(agent_sudo /usr/bin/id -u 2>"$T/err") || true
check "a low-risk command runs without approval" test "$out" = 0
check "its record says the action's risk" \
	grep -q "event=\"account\" decision=\"allow\" identity=\"$name\".*command=\"/usr/bin/id -u\".*action_risk=\"low\"" "$T/agentd.log"
check "no step-up request for it" test "$(audit_count stepup-request)" = 0

# High: one approver.
agent_sudo /usr/bin/id -un >"$T/out1" 2>"$T/err1" &
sp=$!
rid=$(pending_id)
check "a high-risk command waits for approval" test -n "$rid"
check "pending shows the risk and one approval" \
	test "$(ctl pending --json | jq -r '.[0] | .risk + " " + (.approvals|tostring)')" = "high 1"
check "the agent is told the risk" wait_for 5 grep -q "Approval required: request $rid (sudo /usr/bin/id -un as root, risk high) until " "$T/err1"
check "notify_command gets AGENTD_RISK" wait_for 5 grep -qx "AGENTD_RISK=high" "$T/notified.$rid"
out=$(approve_as bob "$rid" 2>/dev/null) || true
check "one approval is enough" grep -qx "$rid approved" <<<"$out"
wait "$sp" || true
check "the high-risk command ran" grep -qx root "$T/out1"

# Critical: two approvers, neither in the chain, not the same one twice.
agent_sudo /usr/bin/id -gn >"$T/out2" 2>"$T/err2" &
sp=$!
rid=$(pending_id)
check "a critical command waits" test -n "$rid"
check "pending: critical, two approvals" \
	test "$(ctl pending --json | jq -r '.[0] | .risk + " " + (.approvals|tostring)')" = "critical 2"
check "the agent is told two approvers are needed" \
	wait_for 5 grep -q "Approval required by two approvers: request $rid" "$T/err2"
rc=0
approve_as alice "$rid" >/dev/null 2>"$T/e" || rc=$?
check "the subject may not approve a critical action" test "$rc" = 1
check "and is told why" grep -q "alice is in the delegation chain of $name and the action is critical" "$T/e"
out=$(approve_as bob "$rid" 2>/dev/null) || true
check "the first approval is recorded" grep -q "^$rid approval 1 of 2 recorded" <<<"$out"
check "the first approval is audited as partial" \
	grep -q "event=\"stepup-approve\" decision=\"partial\" request=\"$rid\".*action_risk=\"critical\" approvals=1.*approver=\"bob\"" "$T/agentd.log"
sleep 0.5
check "the command has not run after one approval" test ! -s "$T/out2"
check "pending lists who approved" \
	test "$(ctl pending --json | jq -r '.[0].approved_by | join(",")')" = bob
rc=0
approve_as bob "$rid" >/dev/null 2>"$T/e" || rc=$?
check "the same approver cannot approve twice" test "$rc" = 1
check "and is told" grep -q "bob has approved this request already" "$T/e"
check "bob no longer sees it in pending" test "$(ctl_as bob pending --json | jq length)" = 0
out=$(approve_as mallory "$rid" 2>/dev/null) || true
check "the second approver completes it" grep -qx "$rid approved" <<<"$out"
rc=0
wait "$sp" || rc=$?
check "the critical command ran after two approvals" test -s "$T/out2"
check "the approval record names both" \
	grep -q "event=\"stepup-approve\" decision=\"allow\" request=\"$rid\".*approvals=2.*approver=\"mallory\"" "$T/agentd.log"
check "nothing left pending" test "$(ctl pending --json | jq length)" = 0
