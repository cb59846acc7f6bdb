#!/bin/bash
# make demo: agentd's main job, start to finish, in a private mount and pid
# namespace (nothing on the host changes). An orchestrator creates an
# identity for alice's task, the agent logs in with its token through
# pam_agent, a process runs as it, the TTL ends, the process is killed;
# then `agentctl run` does it all in one command, and the audit trail tells
# the story. The PAM stacks are the shipped samples in examples/pam.d.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$PWD}
export top_srcdir top_builddir
if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root: it uses private mount and pid namespaces (nothing on the" >&2
	echo "host changes). Run it as root, e.g. sudo make demo." >&2
	exit 1
fi
. "$top_srcdir/tests/integration/lib.sh"
enter_sandbox "$@"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

nss=0
if why=$(install_nss_module); then
	RUNDIR=/run/agentd
	nss=1
else
	echo "(the NSS module is not used in this demo: $why)"
fi

step "agentd starts with a demo policy (an orchestrator may act for users, bob approves)"
write_config 'agents_group = "agents"; agents_gid = 2950; approvers = [ "bob", "orchestrator" ]; approval_timeout = "2m";'
grep -E '^\s*(approvers|agents_group)' "$T/agentd.conf" | sed 's/^[[:space:]]*//'
sed -n '/delegators/,$p' "$T/agentd.conf"
start_agentd
show ctl status

step "the orchestrator creates an identity for alice's task, TTL 20s"
printf '$ agentctl create --purpose ci --for alice --ttl 20s --actor demo-agent/1.0 --task "run the nightly tests" --json   (as orchestrator)\n'
( umask 077; ctl_as orchestrator create --purpose ci --for alice --ttl 20s --actor demo-agent/1.0 \
	--task "run the nightly tests" --json >"$T/created.json" )
name=$(jq -r .name "$T/created.json")
uid=$(jq -r .uid "$T/created.json")
( umask 077; jq -r .token "$T/created.json" >"$T/token" )
jq '.token = "(shown once; kept in a 0600 file here)"' "$T/created.json"

step "who it is, who delegated it, and until when"
show ctl show "$name"

if [ $nss = 1 ]; then
	install_pam_service su "$top_srcdir/examples/pam.d/su"
	step "the agent logs in with its token: su, with pam_agent in /etc/pam.d/su"
	printf '$ su -c "id; env | grep ^AGENT_" %s < token   (as alice)\n' "$name"
	setpriv --reuid=2901 --regid=2901 --init-groups su -c 'id; env | grep ^AGENT_' "$name" \
		<"$T/token" 2>&1 | sed 's/^Password: //'
	printf '$ su -c id %s   (as alice, with a wrong token)\n' "$name"
	echo not-the-token | setpriv --reuid=2901 --regid=2901 --init-groups su -c id "$name" 2>&1 |
		sed 's/^Password: //' || true
fi

step "the agent task runs as $name (uid $uid)"
spawn_as_uid "$uid" sleep 600
task=$SPAWNED
sleep 0.3
if [ $nss = 1 ]; then
	show getent passwd "$name" | sed "s|$T|<sandbox>|"
	show id "$name"
fi
ps -o user:14,uid,pid,cmd -p "$task" 2>/dev/null || true
ls -ld "$T/home/$name" | sed "s|$T|<sandbox>|"

step "waiting for the TTL to end"
wait_for 30 bash -c "[ \"\$($AGENTCTL -S $RUNDIR/agentd.sock show $name --json | jq -r .state)\" = retired ]"
wait_gone "$task" 10 && echo "process $task is gone: killed at retirement"
show ctl list --all
[ -e "$T/home/$name" ] || echo "its ephemeral home is removed"
if [ $nss = 1 ]; then
	getent passwd "$name" >/dev/null || echo "and $name no longer resolves (getent passwd $name: not found)"
	printf '$ su -c id %s < token   (as alice, after retirement)\n' "$name"
	setpriv --reuid=2901 --regid=2901 --init-groups su -c id "$name" <"$T/token" 2>&1 |
		sed 's/^Password: //' || true
fi
rm -f "$T/token" "$T/created.json"

if [ $nss = 1 ]; then
	install_pam_service agentd "$top_srcdir/examples/pam.d/agentd"
	step "agentctl run: one command, one identity, retired when the command ends"
	printf '$ agentctl run --purpose ci --ttl 5m --task "lint" -- sh -c '"'"'id -un; echo "working as $AGENT_NAME until $AGENT_EXPIRES"; exit 3'"'"'   (as alice)\n'
	rc=0
	ctl_as alice run --purpose ci --ttl 5m --task lint -- \
		sh -c 'id -un; echo "working as $AGENT_NAME until $AGENT_EXPIRES"; exit 3' \
		>"$T/run.out" || rc=$?
	cat "$T/run.out"
	echo "agentctl exited with $rc, the command's status"
	rname=$(head -1 "$T/run.out")
	show ctl show "$rname"
fi

if [ $nss = 1 ] && command -v sudo >/dev/null && command -v openssl >/dev/null; then
	BOB_PW=demo-Bob-1
	set_human_passwords "$BOB_PW"
	install_pam_service sudo "$top_srcdir/examples/pam.d/sudo"
	install_pam_service agentd-approve "$top_srcdir/examples/pam.d/agentd-approve"
	install_agent_sudoers
	step "the agent needs root: sudo waits for a human's approval (purpose ci: sudo = approve)"
	ctl_as alice create --purpose ci --ttl 5m --json >"$T/sudoer.json"
	sname=$(jq -r .name "$T/sudoer.json")
	suid=$(jq -r .uid "$T/sudoer.json")
	( umask 077; jq -r .token "$T/sudoer.json" >"$T/token" )
	printf '$ sudo -S sh -c "id -un; echo installing..." < token   (as %s, in the background)\n' "$sname"
	setpriv --reuid="$suid" --regid="$suid" --init-groups timeout 120 \
		sudo -S -p '' sh -c 'id -un; echo installing...' <"$T/token" >"$T/sudo.out" 2>&1 &
	sudo_pid=$!
	rid=$(pending_id)
	cat "$T/sudo.out"
	printf '$ agentctl pending   (as bob, an approver)\n'
	ctl_as bob pending
	printf '$ agentctl approve %s --reason "routine install"   (as bob; agentd asks bob for his password through PAM)\n' "$rid"
	printf '%s\n' "$BOB_PW" | ctl_as bob approve "$rid" --reason "routine install" 2>&1 |
		sed 's/^Password: */Password: (typed by bob)\n/'
	wait "$sudo_pid" || true
	echo "the agent's sudo went on:"
	tail -n +2 "$T/sudo.out"

	step "a critical task: its sudo needs two approvers, neither of them in its delegation chain"
	# orchestrator approves too: its password, for the re-authentication.
	printf 'orchestrator:%s:19000:0:99999:7:::\n' "$(printf '%s\n' "$BOB_PW" | openssl passwd -6 -stdin)" >>"$T/shadow"
	printf '$ agentctl create --purpose ci --risk critical   (as alice)\n'
	ctl_as alice create --purpose ci --risk critical --ttl 5m --json >"$T/crit.json"
	cname=$(jq -r .name "$T/crit.json")
	cuid=$(jq -r .uid "$T/crit.json")
	( umask 077; jq -r .token "$T/crit.json" >"$T/token" )
	printf '$ sudo -S sh -c "id -un; echo rotating keys..." < token   (as %s, in the background)\n' "$cname"
	setpriv --reuid="$cuid" --regid="$cuid" --init-groups timeout 120 \
		sudo -S -p '' sh -c 'id -un; echo rotating keys...' <"$T/token" >"$T/sudo.out" 2>&1 &
	sudo_pid=$!
	rid=$(pending_id)
	printf '$ agentctl pending   (as bob)\n'
	ctl_as bob pending
	printf '$ agentctl approve %s   (as bob: one of two)\n' "$rid"
	printf '%s\n' "$BOB_PW" | ctl_as bob approve "$rid" --reason "planned rotation" 2>&1 |
		sed 's/^Password: */Password: (typed by bob)\n/'
	printf '$ agentctl approve %s   (as orchestrator: the second)\n' "$rid"
	printf '%s\n' "$BOB_PW" | ctl_as orchestrator approve "$rid" --reason "second pair of eyes" 2>&1 |
		sed 's/^Password: */Password: (typed by orchestrator)\n/'
	wait "$sudo_pid" || true
	echo "the critical sudo went on after the second approval:"
	tail -n +2 "$T/sudo.out"
	rm -f "$T/token"
fi

step "the audit trail (syslog AUTHPRIV, ident agentd; see agentd-audit(5))"
wait_for 5 grep -q 'event="reap"' "$T/agentd.log"
grep 'event=' "$T/agentd.log"

step "the chain checked, and the identity's story (agentctl audit verify, audit trace)"
show "$AGENTCTL" audit verify --key "$T/state/audit.key" "$T/agentd.log"
show "$AGENTCTL" audit trace "$name" --key "$T/state/audit.key" "$T/agentd.log"
