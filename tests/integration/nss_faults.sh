#!/bin/bash
# NSS never faults: real getent, id and a long-running reader (perl's
# getpwnam, through glibc and libnss_agent) while the snapshot's file in
# /run is truncated in place, emptied with cp /dev/null, deleted, and while
# /run/agentd is a tiny tmpfs filled to the last block; agentd is reloaded
# and restarted on the full tmpfs. No process may die of a signal, root and
# humans resolve throughout, agentd keeps running and logs the failed
# publication once.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
if ! why=$(install_nss_module); then
	echo "skip: $why"
	exit 77
fi
mkdir -p /run/agentd
mount -t tmpfs -o size=256k,mode=0755 tmpfs /run/agentd
RUNDIR=/run/agentd
SNAP=$RUNDIR/passwd.snap
LOGMSG="cannot publish the NSS snapshot"

# no_signal CMD...: runs CMD; fails only if it died of a signal (status
# 128 and above), whatever else it answered.
no_signal() {
	local rc=0
	"$@" >/dev/null 2>&1 || rc=$?
	[ "$rc" -lt 128 ] || { echo "# $* died with status $rc" >&2; return 1; }
}
# humans_ok: root and a human resolve, by name and uid, with id too.
humans_ok() {
	getent passwd root >/dev/null && getent passwd 0 >/dev/null && id root >/dev/null &&
		getent passwd alice >/dev/null && id alice >/dev/null && getent group developers >/dev/null
}
# reader NAME UID SECONDS: one process looking NAME and UID up without pause.
reader() {
	perl -e 'my ($n, $u, $s) = @ARGV; my $end = time + $s; my $k = 0;
		while (time < $end) { getpwnam($n); getpwuid($u); getgrnam($n); $k++ }
		print "$k\n"' "$@"
}
no_crash_all() { # NAME UID
	no_signal getent passwd "$1" && no_signal getent passwd "$2" && no_signal id "$1" &&
		no_signal getent group "$1" && no_signal getent initgroups "$1" && no_signal getent shadow "$1"
}

start_agentd
out=$(ctl create --purpose ci --ttl 10m --json)
name=$(jq -r .name <<<"$out")
uid=$(jq -r .uid <<<"$out")
check "an agent resolves" getent passwd "$name"
check "the snapshot's file is only a small locator" test "$(stat -c %s "$SNAP")" -lt 4096

# 1. truncated in place under a process that has it open
reader "$name" "$uid" 3 >"$T/reader.out" &
rpid=$!
sleep 1
truncate -s0 "$SNAP"
rc=0
wait "$rpid" || rc=$?
check "truncate -s0 under a running reader: it did not die (status $rc)" test "$rc" -eq 0
check "truncate -s0: the reader kept looking up" test "$(cat "$T/reader.out")" -gt 0
check "truncated: lookups of the agent do not crash" no_crash_all "$name" "$uid"
check "truncated: the agent does not resolve" bash -c "! getent passwd $name"
check "truncated: root and humans resolve" humans_ok
kill -HUP "$AGENTD_PID"
for _ in $(seq 50); do getent passwd "$name" >/dev/null && break; sleep 0.1; done
check "republished after a reload: the agent resolves" getent passwd "$name"

# 2. cp /dev/null over it, then deleted, under a running reader
reader "$name" "$uid" 3 >"$T/reader.out" &
rpid=$!
sleep 1
cp /dev/null "$SNAP"
sleep 0.3
rm -f "$SNAP"
rc=0
wait "$rpid" || rc=$?
check "cp /dev/null, then rm, under a running reader: it did not die (status $rc)" test "$rc" -eq 0
check "deleted: lookups do not crash" no_crash_all "$name" "$uid"
check "deleted: the agent does not resolve" bash -c "! getent passwd $name"
check "deleted: root and humans resolve" humans_ok
kill -HUP "$AGENTD_PID"
for _ in $(seq 50); do getent passwd "$name" >/dev/null && break; sleep 0.1; done
check "republished: the agent resolves" getent passwd "$name"

# 3. /run/agentd full: a reload cannot publish; the previous snapshot stays
dd if=/dev/zero of="$RUNDIR/fill" bs=4k 2>/dev/null || true
check "the tmpfs is full" bash -c "! dd if=/dev/zero of=$RUNDIR/fill2 bs=4k count=1 2>/dev/null"
before=$(grep -c "$LOGMSG" "$T/agentd.log" || true)
kill -HUP "$AGENTD_PID"
sleep 1
kill -HUP "$AGENTD_PID"
sleep 1
check "full /run, two reloads: agentd is running" kill -0 "$AGENTD_PID"
check "full /run: agentd answers" ctl status
after=$(grep -c "$LOGMSG" "$T/agentd.log" || true)
check "full /run: the failed publication is logged once ($before -> $after)" test "$after" -eq $((before + 1))
check "full /run: the previous snapshot still resolves the agent" getent passwd "$name"
check "full /run: id of the agent works" id "$name"
# puts go into the published snapshot in place: no file is written
name2=$(ctl create --purpose research --ttl 10m --json | jq -r .name)
check "full /run: a new agent resolves" getent passwd "$name2"
check "full /run: no crash" no_crash_all "$name2" "$uid"
check "full /run: root and humans resolve" humans_ok

# 4. agentd restarted on the full tmpfs
stop_agentd
before=$(grep -c "$LOGMSG" "$T/agentd.log" || true)
start_agentd
check "restart on a full /run: agentd is running" kill -0 "$AGENTD_PID"
check "restart on a full /run: the failure is logged" test "$(grep -c "$LOGMSG" "$T/agentd.log")" -gt "$before"
check "restart on a full /run: the previous snapshot still resolves" getent passwd "$name"
check "restart on a full /run: no crash" no_crash_all "$name" "$uid"
check "restart on a full /run: root and humans resolve" humans_ok
# 5. space again: the next change publishes a fresh snapshot
rm -f "$RUNDIR/fill"
name3=$(ctl create --purpose research --ttl 10m --json | jq -r .name)
check "space again: a new agent resolves" getent passwd "$name3"
check "space again: the earlier agent resolves" getent passwd "$name"
check "agentd ran throughout" kill -0 "$AGENTD_PID"
