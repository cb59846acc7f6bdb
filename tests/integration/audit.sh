#!/bin/bash
# The audit trail through a real rsyslogd: agentd logs with syslog(3) to
# /dev/log, rsyslogd writes auth.log in Debian's default file format (RFC
# 3339 timestamps) and a second file in the traditional one. A story (an
# orchestrator delegates for alice, alice logs in as the identity with su
# and its token, its sudo is approved by bob, the identity sub-delegates, agentd crashes and pam_agent
# refuses a login meanwhile, agentd restarts, the identity is revoked and its
# child retires with it, agentd restarts cleanly and stops) must verify,
# and trace must tell it; then copies of the log are tampered with (a line
# deleted, two swapped, a field edited, a forged line inserted) and verify
# must report each at its line, with a non-zero exit.
#
# The story includes a sudo step-up: the identity's sudo waits, the
# approver bob (re-authenticated by agentd) approves, the command runs.
#
# Inside the sandbox (lib.sh), with a private /dev: a tmpfs holding copies
# of the host's device nodes and bind mounts of its directories, so /dev/log
# is this test's rsyslogd's socket and the host's syslog, if any, never sees
# a record. rsyslogd runs in the test's pid namespace, with its own config,
# work directory and pid file; only it is ever stopped.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
for tool in rsyslogd su; do
	if ! PATH=$PATH:/usr/sbin command -v "$tool" >/dev/null; then
		echo "skip: $tool is not installed (./bootstrap installs it)"
		exit 77
	fi
done
if ! why=$(install_nss_module); then
	echo "skip: $why"
	exit 77
fi
RUNDIR=/run/agentd

# ------------------------------------------------------------ private /dev
private_dev

# ------------------------------------------------------------ rsyslogd
mkdir -m 0700 "$T/rsyslog"
cat >"$T/rsyslog.conf" <<EOF
global(workDirectory="$T/rsyslog")
module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")
authpriv.*,auth.* action(type="omfile" file="$T/auth.log")
authpriv.* action(type="omfile" file="$T/auth-trad.log" template="RSYSLOG_TraditionalFileFormat")
EOF
PATH=$PATH:/usr/sbin rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rsyslog/pid" 2>"$T/rsyslogd.err" &
RSYSLOG_PID=$!
stop_rsyslog() {
	if [ -n "${RSYSLOG_PID:-}" ]; then
		kill -TERM "$RSYSLOG_PID" 2>/dev/null || true
		wait "$RSYSLOG_PID" 2>/dev/null || true
		RSYSLOG_PID=""
	fi
}
trap 'audit_rc=$?; set +e; stop_rsyslog; (exit $audit_rc); sandbox_exit' EXIT
if ! wait_for 10 test -S /dev/log; then
	cat "$T/rsyslogd.err"
	not_ok "rsyslogd listens on the private /dev/log"
	exit 1
fi
logger -p authpriv.notice -t audit-test "rsyslog is up"
check "rsyslogd writes auth.log" wait_for 10 grep -q "audit-test: rsyslog is up" "$T/auth.log"

# ------------------------------------------------------------ the story
MOD="$top_builddir/.libs/pam_agent.so"
cat >"$T/pam.su" <<EOF
auth [success=done ignore=ignore default=die] $MOD
@include common-auth
account [success=ok ignore=ignore default=die] $MOD
@include common-account
session required $MOD
@include common-session
EOF
chmod 0644 "$T/pam.su"
mount --bind "$T/pam.su" /etc/pam.d/su
ALICE=2901
secret() { (umask 077 && printf '%s\n' "$2" >"$1"); }
su_as() { # UID SECRETFILE TARGET COMMAND
	timeout 20 setpriv --reuid="$1" --regid="$1" --clear-groups \
		su -c "$4" "$3" <"$2" 2>"$T/su.err"
}

BOB_PW=bob-Approves-99
set_human_passwords "$BOB_PW"
install_pam_service sudo "$top_srcdir/examples/pam.d/sudo"
install_pam_service agentd-approve "$top_srcdir/examples/pam.d/agentd-approve"
install_agent_sudoers
write_config 'agents_group = "agents"; agents_gid = 2950; approvers = [ "bob" ];'

start_agentd
TASK='nightly "tests" of  branch x'
out=$(ctl_as orchestrator create --purpose ci --for alice --ttl 30m --actor "builder/2.1" \
	--task "$TASK" --json)
A=$(jq -r .name <<<"$out")
A_UID=$(jq -r .uid <<<"$out")
secret "$T/tok.A" "$(jq -r .token <<<"$out")"
out=$(su_as $ALICE "$T/tok.A" "$A" 'id -un') || true
check "su as the identity with its token" test "$out" = "$A"
timeout 60 setpriv --reuid="$A_UID" --regid="$A_UID" --init-groups \
	sudo -S -p '' /usr/bin/id -un <"$T/tok.A" >"$T/sudo.out" 2>"$T/sudo.err" &
sudo_pid=$!
wait_for 10 grep -q "Approval required: request" "$T/sudo.err"
RID=$(ctl pending --json | jq -r '.[0].request // empty')
printf '%s\n' "$BOB_PW" | ctl_as bob approve "$RID" --reason "ok for \"id\"" >/dev/null 2>&1 || true
wait "$sudo_pid" || true
check "sudo as the identity, approved by bob" grep -qx root "$T/sudo.out"
C=$(ctl_as_uid "$A_UID" create --purpose ci --ttl 10m --json | jq -r .name)
check "the identity sub-delegates" test -n "$C" -a "$C" != null
out=$(ctl_as alice create --purpose ci --ttl 10m --json)
B=$(jq -r .name <<<"$out")
secret "$T/tok.B" "$(jq -r .token <<<"$out")"

crash_agentd
rc=0
su_as $ALICE "$T/tok.B" "$B" 'id -un' >/dev/null || rc=$?
check "agentd down: su as an identity is refused" test "$rc" != 0
check "agentd down: pam_agent's denial is in auth.log, saying why" wait_for 5 grep -q \
	"pam_agent(su:auth): auth for $B denied: agentd not usable" "$T/auth.log"
start_agentd
check "restart after the crash: the start record says so" \
	grep -q 'event="start" .*audit="crash" lost_from=[0-9]* lost_to=[0-9]*' "$T/agentd.log"
REASON='task "done", early'
ctl revoke "$A" --reason "$REASON" >/dev/null
check "revoked: the child retired with it" wait_for 5 \
	grep -q "event=\"retire\" identity=\"$C\".*reason=\"parent-retired\"" "$T/agentd.log"
check "revoked: the reap is recorded" wait_for 10 \
	grep -q "event=\"reap\" identity=\"$A\"" "$T/agentd.log"
stop_agentd
start_agentd
check "a clean restart continues the chain" \
	grep -q 'event="start" .*audit="continued"' "$T/agentd.log"
stop_agentd
nstop=$(grep -c 'event="stop"' "$T/agentd.log")
check "rsyslog has every record (the last stop included)" wait_for 10 bash -c \
	"[ \$(grep -c 'agentd\[[0-9]*\]: v=2 .*event=\"stop\"' '$T/auth-trad.log') = $nstop ] &&
	 [ \$(grep -c 'agentd\[[0-9]*\]: v=2 .*event=\"stop\"' '$T/auth.log') = $nstop ]"
check "the tokens are in no log" bash -c \
	"! grep -qFf <(cat '$T'/tok.*) '$T/auth.log' '$T/agentd.log'"
check "auth.log has Debian's RFC 3339 timestamps" \
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[+-][0-9:]+ [^ ]+ agentd\[[0-9]+\]: v=2 seq=' "$T/auth.log"
check "the records stay far below rsyslog's 8 KiB" \
	test "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$T/auth.log")" -lt 2048

# ------------------------------------------------------------ verify
KEY="$T/state/audit.key"
V() { "$AGENTCTL" audit verify --key "$KEY" "$@"; }
nrec=$(grep -c 'agentd\[[0-9]*\]: v=2 ' "$T/auth.log")
out=$(V "$T/auth.log") && rc=0 || rc=$?
check "verify auth.log (RFC 3339): exit 0" test "$rc" = 0
check "verify auth.log: every record verified, none found wrong" \
	matches "$(tail -1 <<<"$out")" "^$nrec record\\(s\\) verified, seq 1-[0-9]+; 0 finding\\(s\\), 1 note\\(s\\)$"
check "verify: the records lost in the crash are a note at the restart" \
	matches "$out" "auth.log:[0-9]+: note: lost in a crash: seq [0-9]+-[0-9]+ missing"
expect_exit 0 "verify the traditional format" V "$T/auth-trad.log"
expect_exit 0 "verify from standard input" bash -c "'$AGENTCTL' audit verify --key '$KEY' <'$T/auth.log'"
expect_exit 0 "verify agentd's own stderr copy (bare records)" V "$T/agentd.log"
rc=0
setpriv --reuid=$ALICE --regid=$ALICE --clear-groups "$AGENTCTL" audit verify --key "$KEY" \
	"$T/auth.log" >"$T/nokey.out" 2>&1 || rc=$?
check "verify without access to the key: exit 1" test "$rc" = 1
check "verify without access to the key: says why" grep -q 'run as root, or pass --key' "$T/nokey.out"

# ------------------------------------------------------------ trace
out=$("$AGENTCTL" audit trace "$A" --key "$KEY" "$T/auth.log") || true
check "trace: who delegated it" grep -qF "delegated: alice > orchestrator > $A" <<<"$out"
check "trace: every record authenticated" grep -q "each authenticated" <<<"$out"
for ev in create auth account session-open session-close stepup-request stepup-approve retire reap; do
	check "trace shows its $ev" grep -qE "^  [^ ]+ +[0-9]+  $ev " <<<"$out"
done
check "trace: the child it delegated, and its retirement with it" \
	test "$(grep -cE "(create|retire) .*identity=$C" <<<"$out")" = 2
check "trace: the revoke reason round-trips" grep -qF 'text="task \"done\", early"' <<<"$out"
check "trace: the header has the identity's risk and actor verification" \
	bash -c 'grep -qx "risk:      low" <<<"$1" && grep -qx "verified:  no" <<<"$1"' _ "$out"
check "trace: the step-up names its approver and command" \
	grep -qE "stepup-approve allow request=\"$RID\" .*service=\"sudo\" command=\"/usr/bin/id -un\"" <<<"$out"
check "trace: the approver and the reason round-trip" \
	grep -qF 'approver="bob" reason="ok for \"id\""' <<<"$out"
json=$("$AGENTCTL" audit trace "$A" --json --key "$KEY" "$T/auth.log")
check "trace --json: the task round-trips" test "$(jq -r \
	'[.records[].fields | select(.event == "create" and .identity == "'"$A"'")][0].task' <<<"$json")" = "$TASK"
check "trace --json: the story in order" test "$(jq -r '[.records[].fields |
	select(.identity == "'"$A"'") | .event] | unique | join(",")' <<<"$json")" = \
	"account,auth,create,reap,retire,session-close,session-open,stepup-approve,stepup-request"
check "trace --json: all authentic" test "$(jq '[.records[].authentic] | all' <<<"$json")" = true

# ------------------------------------------------------------ tampering
mapfile -t L < <(grep -n 'agentd\[[0-9]*\]: v=2 ' "$T/auth.log" | cut -d: -f1)
tamper() { # NAME: the verify output of $T/NAME, its exit in TRC
	TRC=0
	V "$T/$1" >"$T/$1.out" 2>&1 || TRC=$?
}
one_finding() { # NAME LINE KIND
	test "$TRC" = 1 && grep -q "; 1 finding(s)" "$T/$1.out" &&
		grep -qE "^$T/$1:$2: $3: " "$T/$1.out" && return 0
	echo "wanted exit 1 and one $3 at line $2; got exit $TRC:" >&2
	cat "$T/$1.out" >&2
	return 1
}
# delete the 6th record: the sequence resumes at the 7th, one line up
sed "${L[5]}d" "$T/auth.log" >"$T/deleted.log"
tamper deleted.log
check "deleted line: a gap where the sequence resumes" one_finding deleted.log $((L[6] - 1)) gap
# swap the 8th and 9th records
awk -v a="${L[7]}" -v b="${L[8]}" 'NR == FNR { l[FNR] = $0; next }
	{ print (FNR == a ? l[b] : FNR == b ? l[a] : $0) }' "$T/auth.log" "$T/auth.log" >"$T/swapped.log"
tamper swapped.log
check "swapped lines: reordered, at the second" one_finding swapped.log "${L[8]}" reordered
# edit a field of the su auth record
edit=$(grep -n "event=\"auth\" decision=\"allow\" identity=\"$A\"" "$T/auth.log" | head -1 | cut -d: -f1)
sed "${edit}s/ruser=\"alice\"/ruser=\"bob\"/" "$T/auth.log" >"$T/edited.log"
check "edited copy differs" bash -c "! cmp -s '$T/auth.log' '$T/edited.log'"
tamper edited.log
check "edited field: altered, at its line" one_finding edited.log "$edit" altered
json=$(V --json "$T/edited.log") && rc=0 || rc=$?
check "verify --json: exit 1, one object naming the altered line" test "$rc:$(jq -c \
	'[.ok, ([.findings[] | select(.note | not) | .kind + "@" + (.line|tostring)] | join(","))]' \
	<<<"$json")" = "1:[false,\"altered@$edit\"]"
json=$(V --json "$T/auth.log") && rc=0 || rc=$?
check "verify --json on the whole log: ok, every record, null-free range" test "$rc:$(jq -c \
	'[.ok, .records_verified, (.first_seq != null), .several_hosts]' <<<"$json")" = "0:[true,$nrec,true,false]"
# insert a forged record after the 3rd, with the next seq and a made-up MAC
prefix=$(sed -n "${L[2]}p" "$T/auth.log" | sed 's/: v=2 .*//')
seq3=$(sed -n "${L[2]}p" "$T/auth.log" | sed 's/.* seq=\([0-9]*\) .*/\1/')
forged="$prefix: v=2 seq=$((seq3 + 1)) time=\"2026-11-22T15:30:00.000Z\" event=\"auth\" decision=\"allow\" identity=\"$A\" service=\"su\" prev=\"$(printf '%032d' 0)\" mac=\"$(head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n')\""
sed "${L[2]}a\\
$forged" "$T/auth.log" >"$T/forged.log"
tamper forged.log
check "forged line: foreign, at its line" one_finding forged.log $((L[2] + 1)) foreign
# the last record removed from a copy that ends with it is not detectable
# from the records alone (the man page says so): not tested here.
