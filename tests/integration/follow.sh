#!/bin/bash
# Policy follows live identities: a reload that removes a purpose retires its
# identities (reason policy) and ends the command and session they run; a
# lowered max_ttl shortens them; a creator who left the group that let them
# delegate loses their identities at the next periodic check
# (policy_check_interval); a service the policy now denies ends the sessions
# open with it. Each change is one audit record.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
install_run_stack
write_config 'policy_check_interval = "1s";'
start_agentd
mkdir -m 0755 "$T/work"

loads_above() { test "$(audit_count config 'decision="loaded"')" -gt "$1"; }
reload_config() { # SED-EXPRESSION
	local n
	n=$(audit_count config 'decision="loaded"')
	sed -i "$1" "$T/agentd.conf"
	kill -HUP "$AGENTD_PID"
	wait_for 5 loads_above "$n"
}
state_of() { ctl show "$1" --json | jq -r .state; }
retired() { test "$(state_of "$1")" = retired; }

# A creator leaves the group that let them delegate: retired at the next
# periodic check (alice creates ci through %developers).
a=$(ctl_as alice create --purpose ci --ttl 30m --json | jq -r .name)
b=$(ctl_as bob create --purpose ci --ttl 30m --json | jq -r .name)
check "alice's identity is live" test "$(state_of "$a")" = live
sed 's/^developers:x:2900:alice,bob$/developers:x:2900:bob/' "$T/etc/group" >"$T/group.new"
cat "$T/group.new" >"$T/etc/group" # in place: /etc/group is bind-mounted
check "alice left developers" bash -c "! id -nG alice | grep -qw developers"
check "her identity is retired by the periodic check" wait_for 10 retired "$a"
check "reason policy, with why" test "$(ctl show "$a" --json | jq -r '.retire_reason + ": " + .retire_text')" = \
	"policy: no delegator rule lets alice create purpose ci any more (interval)"
check "the retirement is audited" \
	grep -q "event=\"retire\" identity=\"$a\".*reason=\"policy\"" "$T/agentd.log"
check "bob, still in the group, keeps his" test "$(state_of "$b")" = live

# A lowered max_ttl shortens a live identity (orchestrator, research, 2h).
r=$(ctl_as orchestrator create --purpose research --ttl 2h --json)
rname=$(jq -r .name <<<"$r")
created=$(jq -r .created <<<"$r")
reload_config 's|{ name = "research"; home = "none"; }|{ name = "research"; home = "none"; max_ttl = "30m"; }|'
check "a lowered max_ttl shortens it" \
	test "$(ctl show "$rname" --json | jq -r .expires)" = "$(date -u -d "$created + 30 minutes" +%Y-%m-%dT%H:%M:%SZ)"
check "it stays live" test "$(state_of "$rname")" = live
check "the shortening is audited" \
	grep -q "event=\"policy-shorten\" identity=\"$rname\".*trigger=\"reload\" reason=\"max_ttl is now 30m\"" "$T/agentd.log"
n=$(audit_count policy-shorten)
sleep 2.5
check "the periodic check leaves it alone after that" test "$(audit_count policy-shorten)" = "$n"

# A reload that now denies the service of an open session ends the session:
# an su login of an identity, then su = "deny".
if command -v su >/dev/null && [ -n "$RUNDIR" ] && grep -q '^passwd:.*agent' /etc/nsswitch.conf; then
	install_pam_service su "$top_srcdir/examples/pam.d/su"
	s=$(ctl_as bob create --purpose ci --ttl 10m --json)
	sname=$(jq -r .name <<<"$s")
	(umask 077; jq -r .token <<<"$s" >"$T/stok")
	setpriv --reuid="$(uid_of bob)" --regid="$(uid_of bob)" --clear-groups \
		timeout 60 su -c "sleep 300" "$sname" <"$T/stok" >/dev/null 2>"$T/su.err" &
	sp=$!
	su_open() { grep -q "event=\"session-open\" decision=\"allow\" identity=\"$sname\".*service=\"su\"" "$T/agentd.log"; }
	check "an su session of the identity is open" wait_for 10 su_open
	reload_config 's|su = "allow";|su = "deny";|'
	rc=0
	wait_gone "$sp" 20 || rc=$?
	check "the session ends once its service is denied" test "$rc" = 0
	wait "$sp" 2>/dev/null || true
	check "the end is audited with the rule" \
		grep -q "event=\"policy-session-end\" identity=\"$sname\".*service=\"su\".*rule=\"purpose ci: su = deny\" trigger=\"reload\"" "$T/agentd.log"
	check "the identity itself stays live" test "$(state_of "$sname")" = live
	reload_config 's|su = "deny";|su = "allow";|'
else
	echo "# su or the NSS module missing: the session part is skipped"
fi

# A reload removes the purpose while an identity of it runs a command in a
# PAM session: the identity retires, the command is killed, agentctl returns.
ctl list --json | jq -r '.[] | select(.purpose == "ci") | .name' | sort >"$T/ci.before"
(cd "$T/work" && setpriv --reuid="$(uid_of bob)" --regid="$(uid_of bob)" --init-groups \
	"$AGENTCTL" -S "$RUNDIR/agentd.sock" run --purpose ci --ttl 10m -- sleep 300) >"$T/run.out" 2>"$T/run.err" &
rp=$!
new_names() { ctl list --json | jq -r '.[] | select(.purpose == "ci") | .name' | sort | comm -13 "$T/ci.before" -; }
running() { [ -n "$(new_names)" ]; }
check "the command runs" wait_for 10 running
run_name=$(new_names | head -n1)
check "its session is open" wait_for 5 grep -q "event=\"session-open\" decision=\"allow\" identity=\"$run_name\"" "$T/agentd.log"
reload_config 's|{ name = "ci";|{ name = "ci-renamed";|; s|purposes = \[ "ci" \]|purposes = [ "ci-renamed" ]|; s|delegate = \[ "ci" \]|delegate = [ "ci-renamed" ]|'
rc=0
wait_gone "$rp" 20 || rc=$?
check "agentctl run returns once the purpose is gone" test "$rc" = 0
wait "$rp" 2>/dev/null || true
check "its identity is retired with reason policy" \
	test "$(ctl show "$run_name" --json | jq -r .retire_reason)" = policy
check "why: the purpose is gone (reload)" \
	test "$(ctl show "$run_name" --json | jq -r .retire_text)" = "purpose ci is no longer in the policy (reload)"
check "the retirement record says policy" grep -q "event=\"retire\" identity=\"$run_name\".*reason=\"policy\"" "$T/agentd.log"
check "bob's other ci identity too" test "$(ctl show "$b" --json | jq -r .retire_reason)" = policy
check "no process of it is left" bash -c "! pgrep -u '$(ctl show "$run_name" --json | jq -r .uid)' >/dev/null"
