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
