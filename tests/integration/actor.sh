#!/bin/bash
# Verified actors: agentd recognises the creating program through a pidfd
# of the client (its executable's device, inode and SHA-256) and the
# caller; a purpose with require_verified_actor refuses any other client,
# a claimed --actor that does not match, and a pinned binary that changed.
# Elsewhere the record says actor_verified=no.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"

mkdir -m 0755 "$T/bin"
cp "$AGENTCTL" "$T/bin/orch-ctl"
cp "$AGENTCTL" "$T/bin/other-ctl"
chmod 0755 "$T/bin/orch-ctl" "$T/bin/other-ctl"
sum=$(sha256sum "$T/bin/orch-ctl" | cut -d' ' -f1)
write_config "verified_actors = ( { name = \"orch-tool\"; path = \"$T/bin/orch-ctl\";
	sha256 = \"$sum\"; who = [ \"orchestrator\" ]; } );"
sed -i 's|max_depth = 2; },|max_depth = 2; require_verified_actor = true; },|' "$T/agentd.conf"
grep -q require_verified_actor "$T/agentd.conf" || { echo "could not set require_verified_actor"; exit 1; }
start_agentd

as() { # USER PROGRAM agentctl-args...
	local u=$1 prog=$2
	shift 2
	setpriv --reuid="$(uid_of "$u")" --regid="$(uid_of "$u")" --init-groups \
		"$prog" -S "$T/run/agentd.sock" "$@"
}

a=$(as orchestrator "$T/bin/orch-ctl" create --purpose ci --for alice --json)
name=$(jq -r .name <<<"$a")
check "the verified actor may create" test -n "$name" -a "$name" != null
check "its identity says verified" test "$(jq -r '.actor_verified' <<<"$a")" = true
check "and names the actor" test "$(jq -r '.actor_name' <<<"$a")" = orch-tool
check "the actor label defaults to it" test "$(jq -r '.actor' <<<"$a")" = orch-tool
check "show prints it" grep -qx "verified: yes orch-tool" <(ctl show "$name")
check "the create record says actor_verified=yes" \
	grep -q "event=\"create\" decision=\"allow\" identity=\"$name\".*actor_verified=\"yes\" actor_name=\"orch-tool\"" "$T/agentd.log"

rc=0
as orchestrator "$AGENTCTL" create --purpose ci --for alice >/dev/null 2>"$T/e" || rc=$?
check "another program is refused for that purpose" test "$rc" != 0
check "and told why" grep -q "purpose ci requires a verified actor: the client's executable is no verified actor" "$T/e"
check "the refusal is audited" \
	grep -q 'event="create" decision="deny" purpose="ci".*reason="purpose ci requires a verified actor' "$T/agentd.log"
rc=0
as orchestrator "$T/bin/other-ctl" create --purpose ci --for alice >/dev/null 2>"$T/e" || rc=$?
check "an identical copy at another path is refused" test "$rc" != 0
rc=0
as orchestrator "$T/bin/orch-ctl" create --purpose ci --for alice --actor claude >/dev/null 2>"$T/e" || rc=$?
check "a claimed actor that does not match is refused" test "$rc" != 0
check "and told so" grep -q 'actor "claude" claimed, but the client is verified actor orch-tool' "$T/e"
rc=0
as alice "$T/bin/orch-ctl" create --purpose ci >/dev/null 2>"$T/e" || rc=$?
check "the right program run by a user the actor does not name is refused" test "$rc" != 0

# Where it is not required: created, recorded as unverified.
r=$(as orchestrator "$AGENTCTL" create --purpose research --actor claude --json)
check "elsewhere an unverified client may create" test "$(jq -r .actor_verified <<<"$r")" = false
check "with its free-text label" test "$(jq -r .actor <<<"$r")" = claude
check "recorded as actor_verified=no" \
	grep -q "event=\"create\" decision=\"allow\" identity=\"$(jq -r .name <<<"$r")\".*actor=\"claude\" actor_verified=\"no\"" "$T/agentd.log"

# The pinned binary changes in place (same inode): refused.
printf 'x' >>"$T/bin/orch-ctl"
rc=0
as orchestrator "$T/bin/orch-ctl" create --purpose ci --for alice >/dev/null 2>"$T/e" || rc=$?
check "a pinned binary that changed is refused" test "$rc" != 0
