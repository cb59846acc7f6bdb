#!/bin/bash
# Who may create what: delegator rules, --for, sub-delegation limits,
# cascading revoke, and who may revoke.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
start_agentd

a=$(ctl_as alice create --purpose ci --ttl 30m --json)
aname=$(jq -r .name <<<"$a")
check "developer creates ci" [ -n "$aname" ]
check "subject and chain are alice" [ "$(jq -r '.subject + ":" + (.chain|join(","))' <<<"$a")" = alice:alice ]
expect_exit 1 "developer refused research" ctl_as alice create --purpose research
expect_exit 1 "developer refused ttl above the rule's 1h" ctl_as alice create --purpose ci --ttl 2h
expect_exit 1 "developer may not act for others" ctl_as alice create --purpose ci --for bob
expect_exit 1 "a user with no rule is refused" ctl_as mallory create --purpose ci
check "refusal audited" grep -q 'event="create" decision="deny".*caller="mallory"' "$T/agentd.log"
expect_exit 1 "unknown purpose refused" ctl create --purpose nosuch

o=$(ctl_as orchestrator create --purpose research --for alice --json)
check "orchestrator acts for alice" \
	[ "$(jq -r '.subject + ":" + (.chain|join(","))' <<<"$o")" = alice:alice,orchestrator ]

auid=$(jq -r .uid <<<"$a")
c=$(ctl_as_uid "$auid" create --purpose ci --ttl 10m --json)
cname=$(jq -r .name <<<"$c")
check "agent creates a ci child" [ -n "$cname" ]
check "child chain ends with the parent" [ "$(jq -r '.chain|join(",")' <<<"$c")" = "alice,$aname" ]
check "child depth 2, parent recorded" [ "$(jq -r '"\(.depth):\(.parent)"' <<<"$c")" = "2:$aname" ]
expect_exit 1 "agent may not widen to research" ctl_as_uid "$auid" create --purpose research
expect_exit 1 "agent may not outlive itself" ctl_as_uid "$auid" create --purpose ci --ttl 2h
cuid=$(jq -r .uid <<<"$c")
expect_exit 1 "no grandchild past max_depth 2" ctl_as_uid "$cuid" create --purpose ci
expect_exit 1 "agent may not act for others" ctl_as_uid "$auid" create --purpose ci --for bob

expect_exit 1 "bob cannot revoke alice's identity" ctl_as bob revoke "$aname"
expect_exit 1 "bob cannot even see it" ctl_as bob show "$aname"
check "alice sees her identity" ctl_as alice show "$aname"
check "alice revokes it" ctl_as alice revoke "$aname"
check "child retired with parent-retired" \
	[ "$(state_of "$cname"):$(reason_of "$cname")" = retired:parent-retired ]
check "orchestrator's identity unaffected" [ "$(state_of "$(jq -r .name <<<"$o")")" = live ]

expect_exit 1 "a retired agent uid cannot create" ctl_as_uid "$auid" create --purpose ci
