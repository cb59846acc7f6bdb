#!/bin/bash
# agentd --check-host over fixture trees (--root): the shipped PAM stacks
# pass; each setting that weakens enforcement is named with its file, line
# and fix, and the exit status says so. Needs no root: it only reads files.
set -euo pipefail
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}" "${top_builddir:=$top_srcdir}"
AGENTD="$top_builddir/agentd/agentd"
T=$(mktemp -d /tmp/check-host.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
check() { # description command...
	local d=$1
	shift
	if "$@"; then echo "ok - $d"; else echo "not ok - $d"; fails=$((fails + 1)); fi
}
host() { # ROOT: runs the check, output in $T/out, status in $rc
	rc=0
	"$AGENTD" --check-host --root "$1" -c "$T/none.conf" >"$T/out" 2>"$T/err" || rc=$?
}

# A good tree: the shipped stacks, Debian-like common-* files, a clean
# sudoers, nsswitch with files first.
good="$T/good"
mkdir -p "$good/etc/pam.d" "$good/etc/sudoers.d"
cp "$top_srcdir"/examples/pam.d/{su,sudo,sshd} "$good/etc/pam.d/"
printf 'auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\nauth required pam_permit.so\n' \
	>"$good/etc/pam.d/common-auth"
printf 'account [success=1 new_authtok_reqd=done default=ignore] pam_unix.so\naccount requisite pam_deny.so\naccount required pam_permit.so\n' \
	>"$good/etc/pam.d/common-account"
printf 'session required pam_unix.so\n' >"$good/etc/pam.d/common-session"
cp "$good/etc/pam.d/common-session" "$good/etc/pam.d/common-session-noninteractive"
: >"$good/etc/pam.d/common-password"
printf 'Defaults env_reset\nDefaults secure_path="/usr/bin:/bin"\nroot ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n' \
	>"$good/etc/sudoers"
cp "$top_srcdir/examples/sudoers.d-agents" "$good/etc/sudoers.d/agents"
printf 'passwd: files agent\ngroup: files [SUCCESS=merge] agent\nshadow: files agent\nhosts: files dns\n' \
	>"$good/etc/nsswitch.conf"
host "$good"
check "the shipped stacks and a clean host: exit 0" test "$rc" = 0
check "and it says so" grep -qx "host settings: ok" "$T/out"

# A bad tree: each weakening once.
bad="$T/bad"
cp -a "$good" "$bad"
cat >>"$bad/etc/sudoers" <<'S'
Defaults !pam_acct_mgmt
Defaults:%agents !pam_session, env_keep += "LANG USER"
Defaults targetpw
%agents ALL=(ALL) NOPASSWD: ALL
S
printf 'Defaults !set_logname\n' >"$bad/etc/sudoers.d/weak"
printf 'Defaults !pam_session\n' >"$bad/etc/sudoers.d/ignored.conf" # sudo skips names with a dot
# su: pam_unix sufficient before pam_agent in auth; sshd: pam_agent missing
# from account, optional in session; sudo: a jump over pam_agent.
sed -i 's|^auth      \[success=done ignore=ignore default=die\]     pam_agent.so|auth sufficient pam_unix.so\n&|' "$bad/etc/pam.d/su"
sed -i '/^account .*pam_agent/d; s|^session   \[success=ok ignore=ignore default=die\]       pam_agent.so|session optional pam_agent.so prefix=bot-|' "$bad/etc/pam.d/sshd"
sed -i 's|^account   \[success=ok ignore=ignore default=die\]       pam_agent.so|account [success=1 default=ignore] pam_unix.so\n&|' "$bad/etc/pam.d/sudo"
printf 'passwd: agent files\ngroup: files agent\nshadow: agent\n' >"$bad/etc/nsswitch.conf"
host "$bad"
cat "$T/out"
check "a weakened host: exit 1" test "$rc" = 1
check "!pam_acct_mgmt named with its line" grep -q "^/etc/sudoers:5: Defaults !pam_acct_mgmt: .* Fix: remove it" "$T/out"
check "!pam_session named" grep -q "^/etc/sudoers:6: Defaults !pam_session:" "$T/out"
check "env_keep with USER named" grep -q "^/etc/sudoers:6: env_keep += \"LANG USER\": .*Fix: remove USER and LOGNAME" "$T/out"
check "targetpw named" grep -q "^/etc/sudoers:7: Defaults targetpw:" "$T/out"
check "NOPASSWD with both stages off named" grep -q "^/etc/sudoers:8: NOPASSWD with !pam_acct_mgmt and !pam_session" "$T/out"
check "sudoers.d files read, !set_logname named" grep -q "^/etc/sudoers.d/weak:1: Defaults !set_logname" "$T/out"
check "sudoers.d names with a dot are skipped, as sudo does" bash -c "! grep -q ignored.conf '$T/out'"
check "a sufficient module before pam_agent named" \
	grep -q "^/etc/pam.d/su:[0-9]*: pam_unix.so (sufficient) can end the su auth stack before pam_agent decides" "$T/out"
check "pam_rootok before pam_agent is not a finding" bash -c "! grep -q pam_rootok '$T/out'"
check "a jump over pam_agent named" \
	grep -q "^/etc/pam.d/sudo:[0-9]*: pam_unix.so (\[success=1 default=ignore\]) can jump over pam_agent in the sudo account stack" "$T/out"
check "pam_agent missing from a stage named, with the line to add" \
	grep -q "^/etc/pam.d/sshd:0: pam_agent is missing from the account stack of sshd.*Fix: add \"account \[success=ok ignore=ignore default=die\] pam_agent.so\"" "$T/out"
check "an optional pam_agent named" grep -q "pam_agent is \"optional\" in the sshd session stack" "$T/out"
check "a prefix= that differs from agentd.conf named" grep -q "prefix \"bot-\" but agentd.conf's name_prefix is \"agent-\"" "$T/out"
check "agent before files named (passwd)" grep -q "^/etc/nsswitch.conf:1: passwd: agent comes before files" "$T/out"
check "agent without files named (shadow)" grep -q "^/etc/nsswitch.conf:3: shadow: agent comes before files" "$T/out"
check "files before agent is fine (group)" bash -c "! grep -q 'nsswitch.conf:2' '$T/out'"
check "the count on stderr" grep -q "agentd: 1[0-9] setting(s) weaken enforcement" "$T/err"

host "$T/empty"
check "nothing readable: exit 2" test "$rc" = 2
if [ "$fails" -gt 0 ]; then echo "FAILED: $fails check(s)"; exit 1; fi
