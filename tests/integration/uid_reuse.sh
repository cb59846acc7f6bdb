#!/bin/bash
# Safe uid reuse: the least recently used free uid is handed out (a fresh
# uid before a just-released one, then the one released longest ago); at
# retirement the leftovers sweep removes what the uid owned in the swept
# directories (here the test's own, never the host's /tmp), strips and names
# a setuid copy of a shell; what it cannot remove (a read-only mount) keeps
# the uid held: never handed out, reported by `agentctl status`, swept again
# at the next start.
. "$(dirname "$0")/lib.sh"
require_root
UID_MAX=$((UID_MIN + 2))
enter_sandbox "$@"
mkdir -m 1777 "$T/shm" "$T/ro"
sed -i -e 's/uid_quarantine = "24h"/uid_quarantine = "0s"/' \
	-e "s|sweep_dirs = \[ \"$T/sweep\" \];|sweep_dirs = [ \"$T/sweep\", \"$T/shm\", \"$T/ro\" ];|" \
	"$T/agentd.conf"
check "the test's config sweeps its own directories" grep -q "\"$T/shm\"" "$T/agentd.conf"
start_agentd

create() { ctl create --purpose research --json; }
swept() { # UID [pattern]: a leftovers record for that uid
	grep -q "event=\"leftovers\" uid=$1 .*${2:-}" "$T/agentd.log"
}
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }

a=$(create); na=$(jq -r .name <<<"$a"); ua=$(jq .uid <<<"$a")
b=$(create); nb=$(jq -r .name <<<"$b"); ub=$(jq .uid <<<"$b")
check "never-used uids come first, ascending" test "$ua $ub" = "$UID_MIN $((UID_MIN + 1))"

# b leaves nothing and is released first.
ctl revoke "$nb" >/dev/null
wait_for 15 swept "$ub" 'result="clean"'
check "b's release is swept clean" swept "$ub" 'removed=0 stripped=0 kept=0 result="clean"'
sleep 1.1 # release times are in seconds: a's comes strictly later

# a leaves a setuid copy of a shell and a file in the shm-like directory.
as "$ua" sh -c "cp /bin/sh '$T/sweep/rootshell' && chmod 4755 '$T/sweep/rootshell' &&
	echo x >'$T/shm/segment' && mkdir '$T/sweep/d' && echo y >'$T/sweep/d/f'"
check "the setuid leftover exists before retirement" test -u "$T/sweep/rootshell"
ctl revoke "$na" >/dev/null
wait_for 15 swept "$ua"
check "the setuid shell is gone" test ! -e "$T/sweep/rootshell"
check "the shm file is gone" test ! -e "$T/shm/segment"
check "the directory it made is gone" test ! -e "$T/sweep/d"
check "the setuid file is named in the audit record" \
	swept "$ua" "stripped=1 kept=0 result=\"clean\" stripped_files=\"$T/sweep/rootshell\""

# LRU: a fresh uid, not the one released last.
c=$(create); nc=$(jq -r .name <<<"$c"); uc=$(jq .uid <<<"$c")
check "create after revoke gets a fresh uid, not the last released" test "$uc" = $((UID_MIN + 2))

# c leaves a file the sweep cannot remove: the directory becomes read-only.
as "$uc" sh -c "cp /bin/sh '$T/ro/stuck' && chmod 4755 '$T/ro/stuck'"
mount --bind "$T/ro" "$T/ro"
mount -o remount,bind,ro "$T/ro"
ctl revoke "$nc" >/dev/null
wait_for 15 swept "$uc"
check "what cannot be removed keeps the uid held, named in the record" \
	swept "$uc" "kept=1 result=\"held\" kept_files=\"$T/ro/stuck\""
st=$(ctl status --json)
check "status reports the held uid" test "$(jq -c '[.held, .held_uids]' <<<"$st")" = "[1,[$uc]]"
check "status text names it" grep -q "held uids: *1 ($uc)" < <(ctl status)

# The released uids come back least recently used first: b (released
# first) before a, although a's uid is lower; the held uid never.
d1=$(create | jq .uid)
d2=$(create | jq .uid)
check "the uid released longest ago comes first" test "$d1 $d2" = "$ub $ua"
err=$(ctl create --purpose research 2>&1) && rc=0 || rc=$?
check "the held uid is not handed out" test "$rc" = 1
check "with the usual message" grep -q "no free uid" <<<"$err"

# Once the file can go, the start-up sweep frees the uid.
# Meanwhile a process of that uid (an orphan: no identity holds the uid)
# leaves a file; it is killed at start-up and its file swept too.
umount "$T/ro"
stop_agentd
spawn_as_uid "$uc" sh -c "echo z >'$T/sweep/orphan' && exec sleep 300"
orphan=$SPAWNED
wait_for 5 test -e "$T/sweep/orphan"
start_agentd
wait_for 15 swept "$uc" 'result="clean"'
check "the start-up sweep removes it" test ! -e "$T/ro/stuck"
check "the orphan was killed" wait_gone "$orphan" 5
check "and its file swept" test ! -e "$T/sweep/orphan"
check "and frees the uid" test "$(ctl status --json | jq .held)" = 0
check "which is handed out again" test "$(create | jq .uid)" = "$uc"
exit $FAILED
