#!/bin/bash
# agentctl run as installed on a real host: a real rsyslogd listening on
# /dev/log (start_private_rsyslog, a private /dev) and the shipped
# /etc/pam.d/agentd (examples/pam.d/agentd, with pam_limits and pam_unix).
# The command's status must come back, the PAM session must be recorded as
# opened and closed, and pam_unix's session lines must reach auth.log.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
if ! PATH=$PATH:/usr/sbin command -v rsyslogd >/dev/null; then
	echo "skip: rsyslogd is not installed (./bootstrap installs it)"
	exit 77
fi
if ! why=$(install_nss_module); then
	echo "skip: $why (pam_unix needs the identity to resolve)"
	exit 77
fi
RUNDIR=/run/agentd # the path compiled into the modules
trap 'rs_rc=$?; set +e; stop_private_rsyslog; (exit $rs_rc); sandbox_exit' EXIT
check "rsyslogd listens on the private /dev/log" start_private_rsyslog
install_pam_service agentd "$top_srcdir/examples/pam.d/agentd"
start_agentd
mkdir -m 0755 "$T/work"
run_as() { # USER agentctl-run-args...
	local u=$1
	shift
	(cd "$T/work" && timeout 60 setpriv --reuid="$(uid_of "$u")" --regid="$(uid_of "$u")" \
		--init-groups "$AGENTCTL" -S "$RUNDIR/agentd.sock" run "$@")
}

for status in 0 7; do
	rc=0
	out=$(run_as alice --purpose ci --ttl 5m -- sh -c "id -un; exit $status" 2>"$T/err") || rc=$?
	check "run with rsyslogd and the shipped stack: exit status $status relayed" test "$rc" = "$status"
	check "run: nothing on stderr" test ! -s "$T/err"
	name=$(head -1 <<<"$out")
	check "run: the command ran as the identity ($name)" matches "$name" '^agent-[a-z0-9]+$'
	check "run: the session close was recorded by agentd" \
		grep -q "event=\"session-close\" identity=\"$name\"" "$T/auth.log"
	check "run: pam_unix's session lines reach auth.log" wait_for 5 \
		grep -q "pam_unix(agentd:session): session closed for user $name" "$T/auth.log"
done
check "run: no session close went unrecorded" bash -c "! grep -q 'not recorded' '$T/auth.log'"
[ "$FAILED" = 0 ] || { echo "--- auth.log"; tail -n 40 "$T/auth.log"; cat "$T/err"; }
