#!/bin/bash
# home_base: created by agentd when missing, mode 0755 whatever agentd's
# umask (its systemd unit sets 077), so an identity can enter its home; a
# pre-existing base keeps its mode.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
sed -i "s|home_base = \"$T/home\"|home_base = \"$T/base\"|" "$T/agentd.conf"
check "the base does not exist before agentd starts" test ! -e "$T/base"
(umask 077 && start_agentd)
AGENTD_PID=$(pgrep -x agentd | head -1)
check "agentd created the base" test -d "$T/base"
check "the base is mode 0755 under umask 077" test "$(stat -c %a "$T/base")" = 755
check "the base is root's" test "$(stat -c %u "$T/base")" = 0
out=$(ctl_as alice create --purpose ci --ttl 10m --json)
name=$(jq -r .name <<<"$out")
uid=$(jq -r .uid <<<"$out")
check "the identity's home is 0700, its own" \
	test "$(stat -c '%a %u' "$T/base/$name")" = "700 $uid"
check "the identity can enter its home" \
	setpriv --reuid="$uid" --regid="$uid" --clear-groups sh -c "cd '$T/base/$name' && touch f"
