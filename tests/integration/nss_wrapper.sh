#!/bin/bash
# The built libnss_agent.so.2 loaded by cwrap's nss_wrapper (LD_PRELOAD),
# not by glibc: passwd, group and group-list answers for live identities,
# a human from nss_wrapper's own passwd file beside them, nothing for an
# unknown name, nothing once an identity retires.
#
# nss_wrapper (1.1.12) asks its "files" backend (NSS_WRAPPER_PASSWD and
# NSS_WRAPPER_GROUP, both scratch files here so nothing falls through to
# the host's databases) first, then the module named by
# NSS_WRAPPER_MODULE_SO_PATH with the prefix NSS_WRAPPER_MODULE_FN_PREFIX.
# Its getgrouplist() scans the member lists of every group it enumerates
# (it never calls the module's initgroups_dyn), so the group list it gives
# an agent is its own gid plus agents_group; the purpose's supplementary
# groups through glibc's initgroups are covered by nss.sh.
#
# The module reads the compiled-in /run/agentd, so agentd runs on a tmpfs
# over /run inside the sandbox.
. "$(dirname "$0")/lib.sh"
require_root
SO="$top_builddir/.libs/libnss_agent.so.2"
if [ ! -e "$SO" ]; then
	echo "skip: $SO is not built"
	exit 77
fi
if [[ "$(ldd "$SO")" =~ libasan|libubsan ]]; then # (no pipe: grep -q + pipefail)
	echo "skip: a sanitizer build of the module cannot load into uninstrumented getent"
	exit 77
fi
if ! [[ "$(ldconfig -p)" =~ libnss_wrapper\.so\  ]]; then
	echo "skip: libnss_wrapper.so is not installed (./bootstrap installs libnss-wrapper)"
	exit 77
fi
enter_sandbox "$@"
write_config 'agents_group = "agents"; agents_gid = 2950;'
mount -t tmpfs -o mode=0755 tmpfs /run
RUNDIR=/run/agentd
start_agentd

# nss_wrapper's files: a human who exists nowhere else, and the groups.
cat >"$T/nw.passwd" <<-EOF
root:x:0:0:root:/root:/bin/bash
carol:x:3100:3100:Carol Human:/home/carol:/bin/sh
EOF
cat >"$T/nw.group" <<-EOF
root:x:0:
users:x:100:carol
carol:x:3100:
EOF
nw() {
	env LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_PASSWD="$T/nw.passwd" \
		NSS_WRAPPER_GROUP="$T/nw.group" NSS_WRAPPER_MODULE_SO_PATH="$SO" \
		NSS_WRAPPER_MODULE_FN_PREFIX=agent "$@"
}
fails() { ! "$@"; }
# grouplist NAME GID: getgrouplist() through nss_wrapper, space-separated.
grouplist() {
	nw python3 -c 'import os, sys; print(*os.getgrouplist(sys.argv[1], int(sys.argv[2])))' "$1" "$2"
}

check "nss_wrapper is in charge: carol (only in its passwd file) resolves" \
	matches "$(nw getent passwd carol)" '^carol:x:3100:3100:Carol Human:/home/carol:/bin/sh$'
check "nss_wrapper is in charge: alice (only in /etc/passwd) does not" \
	fails nw getent passwd alice

out=$(ctl_as alice create --purpose ci --ttl 10m --json)
name=$(jq -r .name <<<"$out")
uid=$(jq -r .uid <<<"$out")
check "created an identity in the range" matches "$uid" '^18790481[0-9][0-9]$'
check "getent passwd NAME: uid, gid = uid, GECOS purpose and subject, home, shell" \
	matches "$(nw getent passwd "$name")" \
	"^$name:x:$uid:$uid:agent ci for alice:$T/home/$name:/bin/bash\$"
check "getent passwd UID" matches "$(nw getent passwd "$uid")" "^$name:x:$uid:$uid:"
check "getent group NAME: private group, gid = uid, no members" \
	matches "$(nw getent group "$name")" "^$name:x:$uid:\$"
check "getent group GID" matches "$(nw getent group "$uid")" "^$name:x:$uid:\$"
check "getent group agents_group lists it" matches "$(nw getent group agents)" "^agents:x:2950:$name\$"
check "getgrouplist: its gid and agents_group" matches "$(grouplist "$name" "$uid")" "^$uid 2950\$"
check "id NAME" matches "$(nw id "$name")" \
	"^uid=$uid\\($name\\) gid=$uid\\($name\\) groups=$uid\\($name\\),2950\\(agents\\)\$"
check "getent passwd enumerates carol and the agent" \
	matches "$(nw getent passwd | cut -d: -f1 | tr '\n' ' ')" "^root carol $name \$"

research=$(ctl create --purpose research --ttl 10m --json | jq -r .name)
check "a purpose without home or shell: /nonexistent, /bin/sh, subject root" \
	matches "$(nw getent passwd "$research")" \
	"^$research:x:[0-9]+:[0-9]+:agent research for root:/nonexistent:/bin/sh\$"

check "carol beside the agents: id from nss_wrapper's files" \
	matches "$(nw id carol)" '^uid=3100\(carol\) gid=3100\(carol\) groups=3100\(carol\),100\(users\)$'
check "carol's group list" matches "$(grouplist carol 3100)" '^3100 100$'
check "unknown agent name: not found" fails nw getent passwd agent-zzzzzz
check "unknown uid in the range: not found" fails nw getent passwd $((UID_MAX))
check "unknown group name: not found" fails nw getent group agent-zzzzzz

ctl revoke "$name" >/dev/null
check "revoked: getent passwd NAME fails" fails nw getent passwd $name
check "revoked: getent passwd UID fails" fails nw getent passwd $uid
check "revoked: getent group NAME fails" fails nw getent group $name
check "revoked: id NAME fails" fails nw id $name
check "revoked: agents_group lists only the other one" \
	matches "$(nw getent group agents)" "^agents:x:2950:$research\$"
check "revoked: getgrouplist gives only the gid passed in" \
	matches "$(grouplist "$name" "$uid")" "^$uid\$"
check "revoked: the other identity still resolves" nw getent passwd "$research"
check "revoked: carol still resolves" nw getent passwd carol
