#!/bin/bash
# Budgets with real sudo: max_sudo sudo actions per identity (counted once
# per sudo, durable across a restart), max_delegations sub-identities per
# identity, creates_per_minute per delegator rule; beyond, refused with a
# clear message and an over-budget audit record.
. "$(dirname "$0")/lib.sh"
require_root
command -v sudo >/dev/null || { echo "skip: sudo is not installed (./bootstrap installs it)"; exit 77; }
enter_sandbox "$@"
if ! why=$(install_nss_module); then
	echo "skip: real sudo needs the NSS module in the sandbox: $why"
	exit 77
fi
RUNDIR=/run/agentd
write_config 'agents_group = "agents"; agents_gid = 2950;'
sed -i -e 's|sudo = "approve";|sudo = "allow";|' \
	-e 's|max_depth = 2; },|max_depth = 2; max_sudo = 2; max_delegations = 1;\n    sudo_commands = { allow = [ "/usr/bin/id" ]; }; },|' \
	-e 's|max_ttl = "1h"; },|max_ttl = "1h"; creates_per_minute = 3; },|' \
	"$T/agentd.conf"
grep -q creates_per_minute "$T/agentd.conf" || { echo "could not add the budgets"; exit 1; }
install_pam_service sudo "$top_srcdir/examples/pam.d/sudo"
install_agent_sudoers
start_agentd

a=$(ctl_as alice create --purpose ci --ttl 30m --json)
name=$(jq -r .name <<<"$a")
uid=$(jq -r .uid <<<"$a")
(umask 077; jq -r .token <<<"$a" >"$T/token")
agent_sudo() {
	setpriv --reuid="$uid" --regid="$uid" --init-groups timeout 60 sudo -S -p '' "$@" <"$T/token"
}

# max_sudo = 2
check "first sudo runs" test "$(agent_sudo /usr/bin/id -u 2>/dev/null)" = 0
check "one sudo counts once (every PAM stage decides)" test "$(ctl show "$name" --json | jq .sudo_used)" = 1
check "second sudo runs" test "$(agent_sudo /usr/bin/id -u 2>/dev/null)" = 0
rc=0
agent_sudo /usr/bin/id -u >"$T/out" 2>"$T/err" || rc=$?
check "the third is refused" test "$rc" != 0 -a ! -s "$T/out"
check "with a clear message" grep -q "over budget: 2 of max_sudo 2 sudo actions used for purpose ci" "$T/err"
check "an over-budget record" \
	grep -q "event=\"over-budget\" decision=\"deny\" identity=\"$name\".*budget=\"max_sudo\"" "$T/agentd.log"
check "the decision record says over_budget" \
	grep -q "decision=\"deny\" identity=\"$name\".*over_budget=\"max_sudo\"" "$T/agentd.log"
check "show counts them" grep -qx "sudo:     2 used" <(ctl show "$name")
stop_agentd
start_agentd
rc=0
agent_sudo /usr/bin/id -u >/dev/null 2>&1 || rc=$?
check "the count survives a restart" test "$rc" != 0

# max_delegations = 1 (the parent's purpose)
sub() { setpriv --reuid="$uid" --regid="$uid" --clear-groups "$AGENTCTL" -S "$RUNDIR/agentd.sock" create --purpose ci "$@"; }
check "the first sub-identity is created" sub --json
ctl revoke "$(ctl list --json | jq -r --arg p "$name" '.[] | select(.parent == $p) | .name')" >/dev/null
rc=0
sub >/dev/null 2>"$T/err" || rc=$?
check "a second is refused, even after the first retired" test "$rc" != 0
check "with why" grep -q "over budget: $name has created 1 sub-identities, max_delegations of purpose ci is 1" "$T/err"
check "audited" grep -q "event=\"over-budget\" decision=\"deny\" identity=\"$name\".*budget=\"max_delegations\"" "$T/agentd.log"

# creates_per_minute = 3 for %developers: alice made 1 above
ctl_as alice create --purpose ci --ttl 5m >/dev/null
ctl_as alice create --purpose ci --ttl 5m >/dev/null
rc=0
ctl_as alice create --purpose ci --ttl 5m >/dev/null 2>"$T/err" || rc=$?
check "the 4th create within a minute is refused" test "$rc" != 0
check "with why" grep -q "over budget: alice created 3 identities in the last minute, creates_per_minute of the delegator rule at line" "$T/err"
check "audited with the caller" \
	grep -q 'event="over-budget" decision="deny" purpose="ci" caller="alice" budget="creates_per_minute"' "$T/agentd.log"
check "bob, another caller of the same rule, is not affected" ctl_as bob create --purpose ci --ttl 5m
