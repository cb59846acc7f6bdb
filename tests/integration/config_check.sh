#!/bin/bash
# agentd --check-config and start-up refusals: clear errors naming the file
# and line, and nothing started.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"

cp "$top_srcdir/examples/agentd.conf" "$T/example.conf"
chmod 0644 "$T/example.conf"
expect_exit 0 "the shipped example config is valid" "$AGENTD" --check-config -c "$T/example.conf"

printf 'uid_min = 1879048192;\nbogus_key = 1;\n' >"$T/bad.conf"
chmod 0644 "$T/bad.conf"
err=$("$AGENTD" --check-config -c "$T/bad.conf" 2>&1) && rc=0 || rc=$?
check "unknown key exits 1" [ "$rc" = 1 ]
check "message names file and line" grep -q "bad.conf:2: unknown setting 'bogus_key'" <<<"$err"

cp "$T/example.conf" "$T/open.conf"
chmod 0666 "$T/open.conf"
err=$("$AGENTD" --check-config -c "$T/open.conf" 2>&1) && rc=0 || rc=$?
check "world-writable config refused" [ "$rc" = 1 ]
check "saying why" grep -q "writable by group or others" <<<"$err"

ln -s "$T/example.conf" "$T/link.conf"
expect_exit 1 "symlinked config refused" "$AGENTD" --check-config -c "$T/link.conf"

printf 'uid_min = 1000; uid_max = 2000;\n' >"$T/overlap.conf"
chmod 0644 "$T/overlap.conf"
err=$("$AGENTD" -c "$T/overlap.conf" --state-dir "$T/s" --runtime-dir "$T/r" 2>&1) && rc=0 || rc=$?
check "overlapping uid range refused at start" [ "$rc" = 1 ]
check "naming login.defs" grep -q "overlaps UID_MIN..UID_MAX" <<<"$err"
check "no socket was created" [ ! -e "$T/r/agentd.sock" ]

# Collisions with the host: privileged or local groups, local ids in the
# agent range. Each is refused at --check-config and at start, in one line
# naming the file, the line, the key and the colliding entry.
refused() { # description file needle...
	local what=$1 conf=$2 err rc
	shift 2
	chmod 0644 "$conf"
	err=$("$AGENTD" --check-config -c "$conf" 2>&1) && rc=0 || rc=$?
	check "$what: --check-config exits 1" [ "$rc" = 1 ]
	check "$what: one line" [ "$(wc -l <<<"$err")" = 1 ]
	for needle in "$@"; do
		check "$what: says '$needle'" grep -qF -- "$needle" <<<"$err"
	done
}
printf 'uid_min = %s; uid_max = %s;\nagents_group = "sudo"; agents_gid = 27;\n' \
	"$UID_MIN" "$UID_MAX" >"$T/sudo.conf"
refused "agents_group sudo" "$T/sudo.conf" "sudo.conf:2: agents_group \"sudo\" (gid 27) is a privileged group"
printf 'uid_min = %s; uid_max = %s;\npurposes = ( { name = "ci";\n groups = [ "root" ]; } );\n' \
	"$UID_MIN" "$UID_MAX" >"$T/root.conf"
refused "purpose group root" "$T/root.conf" "root.conf:3: purpose \"ci\": group \"root\" (gid 0) is a privileged group"
printf 'uid_min = %s; uid_max = %s;\nagents_group = "developers"; agents_gid = 2950;\n' \
	"$UID_MIN" "$UID_MAX" >"$T/local.conf"
line=$(grep -n '^developers:' /etc/group | cut -d: -f1)
refused "agents_group named like a local group" "$T/local.conf" "local.conf:2:" \
	"collides with local group \"developers\" (gid 2900, /etc/group:$line)"
printf 'uid_min = %s; uid_max = %s;\nagents_group = "agents"; agents_gid = 2900;\n' \
	"$UID_MIN" "$UID_MAX" >"$T/localgid.conf"
refused "agents_gid of a local group" "$T/localgid.conf" "collides with local group \"developers\""

cp /etc/passwd "$T/passwd.orig"
echo "squatter:x:$((UID_MIN + 5)):100::/nonexistent:/bin/sh" >>/etc/passwd
line=$(wc -l </etc/passwd)
refused "local user in the range" "$T/example.conf" \
	"holds local user \"squatter\" (uid $((UID_MIN + 5)), /etc/passwd:$line)"
err=$("$AGENTD" -c "$T/agentd.conf" --state-dir "$T/s2" --runtime-dir "$T/r2" 2>&1) && rc=0 || rc=$?
check "local user in the range: start refused" [ "$rc" = 1 ]
check "local user in the range: start says why" grep -q 'holds local user "squatter"' <<<"$err"
check "local user in the range: no socket" [ ! -e "$T/r2/agentd.sock" ]
cat "$T/passwd.orig" >/etc/passwd # in place: /etc/passwd is a bind mount
expect_exit 0 "without it the config is valid again" "$AGENTD" --check-config -c "$T/example.conf"

# SIGHUP with a broken config keeps the old one, and says so.
start_agentd
cp "$T/agentd.conf" "$T/agentd.conf.good"
echo 'nonsense = ;' >>"$T/agentd.conf"
kill -HUP "$AGENTD_PID"
check "rejected reload audited" wait_for 5 grep -q 'event="config".*decision="rejected"' "$T/agentd.log"
check "still serving with the old policy" ctl create --purpose ci
cp "$T/agentd.conf.good" "$T/agentd.conf"
sed -i 's/{ name = "research"; home = "none"; }/{ name = "research2"; home = "none"; }/' "$T/agentd.conf"
r=$(ctl create --purpose research --json | jq -r .name)
kill -HUP "$AGENTD_PID"
check "reload loaded" wait_for 5 bash -c "[ \$(grep -c 'event=\"config\".*decision=\"loaded\"' '$T/agentd.log') -ge 2 ]"
check "identity of a removed purpose retired" [ "$(state_of "$r")" = retired ]
check "new purpose usable" ctl create --purpose research2

# A reload the host checks refuse keeps the policy in force, and says why.
cp "$T/agentd.conf" "$T/agentd.conf.good"
echo 'agents_group = "adm"; agents_gid = 2951;' >>"$T/agentd.conf"
kill -HUP "$AGENTD_PID"
check "privileged agents_group: reload rejected" wait_for 5 grep -q \
	'event="config".*decision="rejected".*agents_group \\"adm\\" (gid 2951) is a privileged group' \
	"$T/agentd.log"
check "still serving" ctl create --purpose research2
cp "$T/agentd.conf.good" "$T/agentd.conf"

# State is never silently reset: an empty or damaged database is refused and
# kept as it is; a lost one is not recreated unless asked (--init-state).
name=$(ctl create --purpose research2 --json | jq -r .name)
stop_agentd
start_refused() { # description needle
	local err rc
	err=$("$AGENTD" -c "$T/agentd.conf" --state-dir "$T/state" --runtime-dir "$T/r3" 2>&1) &&
		rc=0 || rc=$?
	check "$1: start refused" [ "$rc" = 1 ]
	check "$1: says '$2'" grep -qF -- "$2" <<<"$err"
	check "$1: no socket" [ ! -e "$T/r3/agentd.sock" ]
}
mv "$T/state/agentd.db" "$T/agentd.db.good"
: >"$T/state/agentd.db"
start_refused "empty database" "$T/state/agentd.db is empty (0 bytes)"
check "empty database kept, still empty" [ -f "$T/state/agentd.db" ] && [ ! -s "$T/state/agentd.db" ]
head -c 20000 /dev/urandom >"$T/garbage"
cp "$T/garbage" "$T/state/agentd.db"
start_refused "garbage database" "is not an SQLite database"
check "garbage database kept as it was" cmp -s "$T/garbage" "$T/state/agentd.db"
rm "$T/state/agentd.db"
start_refused "lost database" "is missing, but $T/state has been used before (token.key exists)"
check "lost database not recreated" [ ! -e "$T/state/agentd.db" ]
"$AGENTD" -f -c "$T/agentd.conf" --state-dir "$T/state" --runtime-dir "$RUNDIR" --init-state \
	2>>"$T/agentd.log" &
AGENTD_PID=$!
check "--init-state starts" wait_for 10 ctl status
check "... with empty state" [ "$(ctl list --all --json | jq length)" = 0 ]
stop_agentd
mv "$T/agentd.db.good" "$T/state/agentd.db"
start_agentd
check "the restored database has its identity back" [ "$(state_of "$name")" = live ]
