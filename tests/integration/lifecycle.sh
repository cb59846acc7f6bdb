#!/bin/bash
# Create, list, show and revoke an identity; its home lives and dies with it;
# one audit record per decision; the token appears nowhere but the reply.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
start_agentd

out=$(ctl create --purpose ci --ttl 10m --actor "builder/2.1" --task "nightly tests" --json)
name=$(jq -r .name <<<"$out")
uid=$(jq -r .uid <<<"$out")
token=$(jq -r .token <<<"$out")
check "name has the prefix" matches "$name" "^agent-[a-z0-9]{6}$"
check "uid in range" test "$uid" -ge $UID_MIN -a "$uid" -le $UID_MAX
check "token present (43 base64url chars)" matches "$token" "^[A-Za-z0-9_-]{43}$"
check "state live" [ "$(jq -r .state <<<"$out")" = live ]
check "gid equals uid" [ "$(jq -r .gid <<<"$out")" = "$uid" ]
check "actor recorded" [ "$(ctl show "$name" --json | jq -r .actor)" = "builder/2.1" ]
check "chain is the caller" [ "$(jq -c .chain <<<"$out")" = '["root"]' ]
check "list shows it" grep -q "$name" <(ctl list)
check "ephemeral home owned by the identity, mode 0700" \
	[ "$(stat -c '%u %g %a' "$T/home/$name")" = "$uid $uid 700" ]

second=$(ctl create --purpose research --json | jq -r .name)
check "two identities get different uids" \
	[ "$(ctl show "$second" --json | jq .uid)" != "$uid" ]
check "purpose without home has none" [ ! -e "$T/home/$second" ]

check "revoke succeeds" ctl revoke "$name" --reason "task done"
check "show says retired(revoked)" [ "$(state_of "$name"):$(reason_of "$name")" = retired:revoked ]
check "list hides it" bash -c "! grep -q $name" < <(ctl list)
check "list --all shows it" grep -q "$name.*retired(revoked)" <(ctl list --all)
check "home removed" wait_for 10 test ! -e "$T/home/$name"
expect_exit 1 "revoking twice is refused" ctl revoke "$name"
expect_exit 1 "unknown name is refused" ctl show agent-zzzzzz

check "one create record" [ "$(audit_count create "identity=\"$name\"")" = 1 ]
check "one retire record, reason revoked" \
	[ "$(audit_count retire "identity=\"$name\".*reason=\"revoked\"")" = 1 ]
check "reap record" wait_for 10 grep -q "event=\"reap\" identity=\"$name\"" "$T/agentd.log"
check "token never logged" bash -c "! grep -qF -- '$token' '$T/agentd.log'"
check "token never stored in clear" bash -c "! grep -qaF -- '$token' '$T'/state/*"
check "status counts one live" [ "$(ctl status --json | jq .live)" = 1 ]

# Retention: records of identities reaped longer ago than retired_retention
# are forgotten (at start-up, then at most hourly); live ones stay.
stop_agentd
write_config 'retired_retention = "1s";'
sleep 2
start_agentd
expect_exit 1 "retired record purged after retired_retention" ctl show "$name"
check "live identity kept" [ "$(state_of "$second")" = live ]
