#!/bin/bash
# libnss_agent.so.2 through real glibc: getent, id, ls, ps and runuser see a
# live identity, stop seeing it when it retires, keep seeing it while agentd
# is dead until its deadline; root resolves whatever agentd's state.
# Inside the sandbox: a tmpfs over /run (the module's compiled-in snapshot
# path is /run/agentd), an overlay on the library directory holding the
# freshly built module, and nsswitch.conf with "agent" bind-mounted.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
if ! why=$(install_nss_module); then
	echo "skip: $why"
	exit 77
fi
RUNDIR=/run/agentd
start_agentd

check "root resolves with the module in the stack" getent passwd root
out=$(ctl create --purpose ci --ttl 10m --json)
name=$(jq -r .name <<<"$out")
uid=$(jq -r .uid <<<"$out")
check "getent passwd NAME" matches "$(getent passwd "$name")" \
	"^$name:x:$uid:$uid:agent ci for root:$T/home/$name:/bin/bash\$"
check "getent passwd UID" matches "$(getent passwd "$uid")" "^$name:"
check "getent group NAME (private group)" matches "$(getent group "$name")" "^$name:x:$uid:\$"
check "getent shadow: locked password" matches "$(getent shadow "$name")" "^$name:!:"
check "id lists the purpose's groups" matches "$(id "$name")" "groups=$uid\\($name\\),100\\(users\\)"
check "ls -l shows the owner by name" matches "$(ls -ld "$T/home/$name")" " $name $name "
spawn_as_uid "$uid" sleep 300
sleeper=$SPAWNED
check "ps shows the user name" matches "$(ps -o user:32= -p "$sleeper")" "^$name"
check "runuser works for a live identity" matches "$(runuser -u "$name" -- id -un)" "^$name\$"
check "getent passwd enumerates it" grep -q "^$name:" <(getent passwd)
check "Debian su accepts a live identity (pam_unix account: shadow expiry)" \
	matches "$(su -s /bin/sh -c 'id -un' "$name" 2>&1)" "^$name\$"

ctl revoke "$name" >/dev/null
check "retired: getent passwd fails" bash -c "! getent passwd $name"
check "retired: getent passwd UID fails" bash -c "! getent passwd $uid"
check "retired: id fails" bash -c "! id $name"
check "retired: su refuses" bash -c "! su -s /bin/sh -c true $name 2>/dev/null"
check "retired: its process is gone" wait_gone "$sleeper" 10

# agentd dead: live identities keep resolving until their deadline.
short=$(ctl create --purpose research --ttl 3s --json | jq -r .name)
long=$(ctl create --purpose research --ttl 10m --json | jq -r .name)
crash_agentd
check "agentd dead: identity still resolves" getent passwd "$long"
check "agentd dead: short one resolves before its deadline" getent passwd "$short"
sleep 4
check "agentd dead: expired identity stops resolving at its deadline" \
	bash -c "! getent passwd $short"
check "agentd dead: root still resolves" getent passwd root
rm -f /run/agentd/passwd.snap
check "no snapshot at all: root still resolves" getent passwd root
check "no snapshot at all: agent name is simply unknown" bash -c "! getent passwd $long"

# Churn: lookups from threads and a second process while agentd creates
# and retires identities; every answer is a whole published record.
start_agentd
"$top_builddir/tests/bench/bench_create" -S "$RUNDIR/agentd.sock" -n 150 -p research --revoke \
	>"$T/churn.out" 2>&1 &
churner=$!
check "churn: consistent answers, no fd or memory growth" \
	"$top_builddir/tests/integration/nss_churn" $UID_MIN 256 4
wait "$churner"
check "churn: agentd created and revoked 150 identities meanwhile" grep -q "revokes=150" "$T/churn.out"
