#!/bin/bash
# make demo: agentd's main job, start to finish, in a private mount and pid
# namespace (nothing on the host changes). An orchestrator creates an
# identity for alice's task, a process runs as it, the TTL ends, the
# process is killed, and the audit trail tells the story.
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

step "agentd starts with a demo policy (an orchestrator may act for users)"
sed -n '/delegators/,$p' "$T/agentd.conf"
start_agentd
show ctl status

step "the orchestrator creates an identity for alice's task, TTL 10s"
printf '$ agentctl create --purpose ci --for alice --ttl 10s --actor demo-agent/1.0 --task "run the nightly tests"   (as orchestrator)\n'
ctl_as orchestrator create --purpose ci --for alice --ttl 10s --actor demo-agent/1.0 \
	--task "run the nightly tests" | sed 's/^\(token: *\).*/\1(shown once; hidden here)/'
name=$(ctl list --json | jq -r '.[0].name')
uid=$(ctl show "$name" --json | jq -r .uid)

step "who it is, who delegated it, and until when"
show ctl show "$name"

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
wait_for 20 bash -c "[ \"\$($AGENTCTL -S $RUNDIR/agentd.sock show $name --json | jq -r .state)\" = retired ]"
wait_gone "$task" 10 && echo "process $task is gone: killed at retirement"
show ctl list --all
[ -e "$T/home/$name" ] || echo "its ephemeral home is removed"
if [ $nss = 1 ]; then
	getent passwd "$name" >/dev/null || echo "and $name no longer resolves (getent passwd $name: not found)"
fi

step "the audit trail (syslog AUTHPRIV, ident agentd; see agentd-audit(5))"
wait_for 5 grep -q 'event="reap"' "$T/agentd.log"
grep 'event=' "$T/agentd.log"
