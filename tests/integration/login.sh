#!/bin/bash
# Real logins through pam_agent.so: Debian's su (util-linux, PAM service
# "su") and OpenSSH's sshd on loopback (PAM service "sshd", keys from
# "agentctl authorized-keys", tokens through keyboard-interactive).
#
# For an agent identity: the token (or its bound key) logs in while it is
# live and the session carries AGENT_*; a wrong token, another identity's
# key, revocation, expiry and a dead agentd all refuse; a live session dies
# when the identity retires; no descriptor of agentd's socket leaks into the
# session. Humans (password in the sandbox's shadow copy) are unaffected.
#
# Inside the sandbox (lib.sh) plus a private network namespace, so sshd's
# port is nobody else's: the PAM files, shadow and nsswitch.conf are bind
# mounts, and the NSS module is overlaid. Secrets travel on stdin or through
# 0600 files, never in argv or the environment.
. "$(dirname "$0")/lib.sh"
require_root
if [ -z "${AGENTD_SANDBOX:-}${LOGIN_NETNS:-}" ]; then
	if ! unshare --net true 2>/dev/null; then
		echo "skip: cannot create a network namespace"
		exit 77
	fi
	LOGIN_NETNS=1 exec unshare --net "$(readlink -f "$0")" "$@"
fi
enter_sandbox "$@"
for tool in su sshd ssh ssh-keygen openssl ip timeout setsid pgrep; do
	if ! PATH=$PATH:/usr/sbin command -v "$tool" >/dev/null; then
		echo "skip: $tool is not installed"
		exit 77
	fi
done
if ! why=$(install_nss_module); then
	echo "skip: $why"
	exit 77
fi
RUNDIR=/run/agentd # the path compiled into the modules (set outside the subshell)
ip link set lo up
start_agentd
MOD="$top_builddir/.libs/pam_agent.so"

# One PAM file for both services: pam_agent decides for agents and ignores
# humans, whom the distribution's stack then handles as usual.
cat >"$T/pam.conf" <<EOF
auth [success=done ignore=ignore default=die] $MOD
@include common-auth
account [success=ok ignore=ignore default=die] $MOD
@include common-account
session required $MOD
@include common-session
EOF
chmod 0644 "$T/pam.conf"
mount --bind "$T/pam.conf" /etc/pam.d/su
mount --bind "$T/pam.conf" /etc/pam.d/sshd

# Humans with passwords: a copy of shadow with known hashes for alice and bob.
HUMAN_PW=alice-Pw-4711
set_human_passwords "$HUMAN_PW"

ALICE=2901
BOB=2904
# secret FILE TEXT: a root-only file holding one line (printf is a builtin:
# the text appears in no argv).
secret() { (umask 077 && printf '%s\n' "$2" >"$1"); }
# su_as UID SECRETFILE TARGET COMMAND: real su, run by a non-root user, the
# secret on stdin; the session's stdout is printed, su's stderr goes to
# $T/su.err.
su_as() {
	timeout 20 setpriv --reuid="$1" --regid="$1" --clear-groups \
		su -c "$4" "$3" <"$2" 2>"$T/su.err"
}
new_agent() { # [create args...]: sets NAME and TOKFILE (a file holding the token)
	local out
	out=$(ctl create --purpose ci --json "$@")
	NAME=$(jq -r .name <<<"$out")
	TOKFILE="$T/tok.$NAME"
	secret "$TOKFILE" "$(jq -r .token <<<"$out")"
}
# For wait_for, which runs its command again each time.
opened_more() { test "$(audit_count session-open "decision=\"allow\" identity=\"$1\"")" -gt "$2"; }
retired() { test "$(state_of "$1")" = retired; }
# Descriptors 3 and up of the session's shell that are sockets.
FDS='for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && readlink "$f"; done | grep -c "^socket:"'

# ------------------------------------------------------------------ su
new_agent --ttl 6s
short=$NAME short_tok=$TOKFILE
out=$(su_as $ALICE "$short_tok" "$short" 'id -un') || true
check "su: short-lived identity logs in before its deadline" test "$out" = "$short"

new_agent --ttl 10m
a=$NAME a_tok=$TOKFILE
out=$(su_as $ALICE "$a_tok" "$a" "id -un; echo \"\$AGENT_NAME \$AGENT_PURPOSE\"; $FDS") || true
check "su with the right token: a shell as the identity" test "$(sed -n 1p <<<"$out")" = "$a"
check "su session: AGENT_NAME and AGENT_PURPOSE set" test "$(sed -n 2p <<<"$out")" = "$a ci"
check "su session: no socket inherited beyond fds 0-2" test "$(sed -n 3p <<<"$out")" = 0
check "su: auth, account and session decided by agentd" bash -c \
	"grep -q 'event=\"auth\" decision=\"allow\" identity=\"$a\".*service=\"su\" ruser=\"alice\"' '$T/agentd.log' &&
	 grep -q 'event=\"account\" decision=\"allow\" identity=\"$a\".*service=\"su\"' '$T/agentd.log' &&
	 grep -q 'event=\"session-open\" decision=\"allow\" identity=\"$a\".*service=\"su\"' '$T/agentd.log'"
check "su: the session closed when the shell exited" \
	wait_for 5 grep -q "event=\"session-close\" identity=\"$a\".*reason=\"closed\"" "$T/agentd.log"

secret "$T/wrong" "not-the-token"
rc=0
out=$(su_as $ALICE "$T/wrong" "$a" 'id -un') || rc=$?
check "su with a wrong token fails" test "$rc" != 0 -a -z "$out"
check "su wrong token: audited as such" \
	grep -q "event=\"auth\" decision=\"deny\" identity=\"$a\".*reason=\"wrong token\"" "$T/agentd.log"
new_agent --ttl 10m
b=$NAME b_tok=$TOKFILE
rc=0
out=$(su_as $ALICE "$b_tok" "$a" 'id -un') || rc=$?
check "su with another identity's token fails" test "$rc" != 0 -a -z "$out"

secret "$T/human" "$HUMAN_PW"
out=$(su_as $BOB "$T/human" alice 'id -un; echo "[$AGENT_NAME]"') || true
check "human: su with the password works" test "$out" = "$(printf 'alice\n[]')"
rc=0
out=$(su_as $BOB "$T/wrong" alice 'id -un') || rc=$?
check "human: su with a wrong password fails" test "$rc" != 0 -a -z "$out"
check "human: agentd was never asked" bash -c "! grep -q 'identity=\"alice\"' '$T/agentd.log'"

# A session in progress dies with the identity.
sessions=$(audit_count session-open "decision=\"allow\" identity=\"$b\"")
setpriv --reuid=$ALICE --regid=$ALICE --clear-groups su -c 'sleep 300' "$b" \
	<"$b_tok" >"$T/su-bg.out" 2>&1 &
su_pid=$!
check "su session in the background: registered with agentd" wait_for 10 opened_more "$b" "$sessions"
b_uid=$(uid_of "$b")
wait_for 5 pgrep -u "$b_uid" -x sleep >/dev/null || true
sleeper=$(pgrep -u "$b_uid" -x sleep || true)
check "su session: its command runs as the identity" test -n "$sleeper"
if [ "$CGROUP_ROOT" != none ]; then # lib.sh gave agentd a cgroup subtree
	check "su session: su and its command are in the identity's cgroup" bash -c \
		"grep -qx '0::.*/agent-$b_uid' /proc/$su_pid/cgroup && grep -qx '0::.*/agent-$b_uid' /proc/${sleeper:-0}/cgroup"
fi
ctl revoke "$b" >/dev/null
check "revoked: su (the session leader) is gone" wait_gone "$su_pid" 10
check "revoked: the session's command is gone" wait_gone "${sleeper:-0}" 10
wait "$su_pid" 2>/dev/null || true
check "revoked: retirement ended one session" wait_for 5 \
	grep -q "event=\"retire\" identity=\"$b\".*reason=\"revoked\".*sessions=1" "$T/agentd.log"
grep -E "identity=\"$b\"" "$T/agentd.log" | grep -oE 'event="[a-z-]*".{0,40}|reason=.{0,30}|sessions=[0-9]*' | sed 's/^/# /' || true
# su closes its PAM session once its child is gone; had it died first,
# agentd would have seen its pidfd ("process exited").
check "revoked: the session's end is audited" wait_for 5 grep -qE \
	"event=\"session-close\" identity=\"$b\".*service=\"su\".*reason=\"(closed|process exited)\"" "$T/agentd.log"
rc=0
out=$(su_as $ALICE "$b_tok" "$b" 'id -un') || rc=$?
check "revoked: su with its token fails" test "$rc" != 0 -a -z "$out"

check "expired: the short-lived identity has retired" wait_for 10 retired "$short"
rc=0
out=$(su_as $ALICE "$short_tok" "$short" 'id -un') || rc=$?
check "expired: su with its token fails" test "$rc" != 0 -a -z "$out"

crash_agentd
check "agentd dead: the identity still resolves (snapshot)" getent passwd "$a"
t0=$SECONDS
rc=0
out=$(su_as $ALICE "$a_tok" "$a" 'id -un') || rc=$?
check "agentd dead: su with the right token is refused" test "$rc" != 0 -a -z "$out"
check "agentd dead: refused within a bounded time" test $((SECONDS - t0)) -lt 10
check "agentd dead: the user is told why" grep -q "agentd service is not available" "$T/su.err"
out=$(su_as $BOB "$T/human" alice 'id -un') || true
check "agentd dead: human su still works" test "$out" = alice
start_agentd

# ------------------------------------------------------------------ sshd
S="$T/ssh"
mkdir -m 0700 "$S"
ssh-keygen -q -t ed25519 -N '' -f "$S/host_key"
for k in keyA keyB keyH; do ssh-keygen -q -t ed25519 -N '' -C "$k" -f "$S/$k"; done
# sshd runs the AuthorizedKeysCommand only from a path whose every component
# is root-owned and not group/world-writable; /tmp is neither.
BIN=/run/agentd-login-test
mkdir -m 0755 "$BIN"
install -m 0755 "$AGENTCTL" "$BIN/agentctl"
PORT=2222
cat >"$S/sshd_config" <<EOF
ListenAddress 127.0.0.1:$PORT
HostKey $S/host_key
PidFile $S/sshd.pid
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication yes
PubkeyAuthentication yes
AuthorizedKeysFile none
AuthorizedKeysCommand $BIN/agentctl -S $RUNDIR/agentd.sock authorized-keys %u
AuthorizedKeysCommandUser nobody
PermitRootLogin no
AllowUsers agent-* alice bob
UseDNS no
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
EOF
mkdir -m 0755 /run/sshd # privilege separation directory
/usr/sbin/sshd -t -f "$S/sshd_config"
/usr/sbin/sshd -D -e -f "$S/sshd_config" 2>"$T/sshd.log" &
SSHD_PID=$!
stop_sshd() {
	if [ -n "${SSHD_PID:-}" ]; then
		kill -TERM "$SSHD_PID" 2>/dev/null || true
		wait_gone "$SSHD_PID" 5 || kill -KILL "$SSHD_PID" 2>/dev/null || true
		wait "$SSHD_PID" 2>/dev/null || true
		SSHD_PID=""
	fi
}
trap 'login_rc=$?; set +e; stop_sshd; (exit $login_rc); sandbox_exit' EXIT
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; }
if ! wait_for 10 port_open; then
	cat "$T/sshd.log"
	not_ok "sshd listens on 127.0.0.1:$PORT"
	exit 1
fi

SSH=(timeout 20 ssh -F /dev/null -p "$PORT" -o StrictHostKeyChecking=no
	-o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null
	-o ConnectTimeout=5 -o IdentitiesOnly=yes -o IdentityAgent=none -o LogLevel=ERROR)
ssh_key() { # KEY USER COMMAND
	"${SSH[@]}" -o BatchMode=yes -o PreferredAuthentications=publickey -i "$S/$1" \
		"$2@127.0.0.1" "$3" </dev/null 2>"$T/ssh.err"
}
# ssh_secret SECRETFILE USER COMMAND: keyboard-interactive, answered by an
# askpass program reading the secret from a 0600 file; no terminal.
cat >"$S/askpass" <<EOF
#!/bin/sh
exec cat "$S/secret"
EOF
chmod 0700 "$S/askpass"
ssh_secret() {
	cp "$1" "$S/secret"
	SSH_ASKPASS="$S/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY= setsid -w \
		"${SSH[@]}" -o PreferredAuthentications=keyboard-interactive \
		-o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
		"$2@127.0.0.1" "$3" </dev/null 2>"$T/ssh.err"
}

new_agent --ttl 10m --ssh-key "$S/keyA.pub"
a=$NAME a_tok=$TOKFILE
new_agent --ttl 10m --ssh-key "$S/keyB.pub"
b=$NAME b_tok=$TOKFILE
keys=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN/agentctl" -S "$RUNDIR/agentd.sock" \
	authorized-keys "$a" || true)
check "authorized-keys (as nobody): an expiry-time option" matches "$keys" '^expiry-time="[0-9]{14}Z" '
check "authorized-keys (as nobody): the key bound to the identity" \
	test "$(cut -d' ' -f2-3 <<<"$keys")" = "$(cut -d' ' -f1-2 "$S/keyA.pub")"
rc=0
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN/agentctl" -S "$RUNDIR/agentd.sock" \
	authorized-keys alice) || rc=$?
check "authorized-keys for a human: nothing, non-zero exit" test "$rc" != 0 -a -z "$out"

out=$(ssh_key keyA "$a" "id -un; echo \"\$AGENT_NAME \$AGENT_PURPOSE\"; $FDS") || true
check "ssh with the bound key: a shell as the identity" test "$(sed -n 1p <<<"$out")" = "$a"
check "ssh session: AGENT_NAME and AGENT_PURPOSE set" test "$(sed -n 2p <<<"$out")" = "$a ci"
check "ssh session: no socket inherited beyond fds 0-2" test "$(sed -n 3p <<<"$out")" = 0
check "ssh: account and session decided by agentd for sshd" bash -c \
	"grep -q 'event=\"account\" decision=\"allow\" identity=\"$a\".*service=\"sshd\".*rhost=\"127.0.0.1\"' '$T/agentd.log' &&
	 grep -q 'event=\"session-open\" decision=\"allow\" identity=\"$a\".*service=\"sshd\"' '$T/agentd.log'"
out=$(ssh_secret "$a_tok" "$a" 'id -un; echo "$AGENT_NAME"') || true
check "ssh with the token (keyboard-interactive): a shell as the identity" \
	test "$out" = "$(printf '%s\n%s' "$a" "$a")"
check "ssh token: verified by agentd" \
	grep -q "event=\"auth\" decision=\"allow\" identity=\"$a\".*service=\"sshd\"" "$T/agentd.log"
rc=0
out=$(ssh_secret "$T/wrong" "$a" 'id -un') || rc=$?
check "ssh with a wrong token fails" test "$rc" != 0 -a -z "$out"
rc=0
out=$(ssh_secret "$b_tok" "$a" 'id -un') || rc=$?
check "ssh with another identity's token fails" test "$rc" != 0 -a -z "$out"
rc=0
out=$(ssh_key keyA "$b" 'id -un') || rc=$?
check "ssh: the key bound to one identity does not log in as another" test "$rc" != 0 -a -z "$out"
rc=0
out=$(ssh_key keyH "$a" 'id -un') || rc=$?
check "ssh: an unbound key does not log in as an identity" test "$rc" != 0 -a -z "$out"
check "ssh token for the token's own identity works" \
	test "$(ssh_secret "$b_tok" "$b" 'id -un' || true)" = "$b"

rc=0
out=$(ssh_key keyA alice 'id -un') || rc=$?
check "human without keys: public key refused" test "$rc" != 0 -a -z "$out"
out=$(ssh_secret "$T/human" alice 'id -un; echo "[$AGENT_NAME]"') || true
check "human: password login (keyboard-interactive) unaffected" test "$out" = "$(printf 'alice\n[]')"

# A live ssh session dies with the identity.
"${SSH[@]}" -o BatchMode=yes -o PreferredAuthentications=publickey -i "$S/keyB" \
	"$b@127.0.0.1" 'sleep 300' </dev/null >/dev/null 2>"$T/ssh-bg.err" &
ssh_pid=$!
b_uid=$(uid_of "$b")
check "ssh session in the background: its command runs as the identity" \
	wait_for 10 pgrep -u "$b_uid" -x sleep
sleeper=$(pgrep -u "$b_uid" -x sleep || true)
ctl revoke "$b" >/dev/null
check "revoked: the ssh client's connection is closed" wait_gone "$ssh_pid" 15
check "revoked: the session's command is gone" wait_gone "${sleeper:-0}" 10
wait "$ssh_pid" 2>/dev/null || true
# (at least this one: an earlier connection's sshd may not have closed
# its session yet)
check "revoked: retirement ended the sshd session" wait_for 5 \
	grep -qE "event=\"retire\" identity=\"$b\".*reason=\"revoked\".*sessions=[1-9]" "$T/agentd.log"
grep -o "event=\"retire\" identity=\"$b\".*sessions=[0-9]*" "$T/agentd.log" | sed 's/^/# /' || true
check "revoked: the sshd session's end is audited" wait_for 5 grep -qE \
	"event=\"session-close\" identity=\"$b\".*service=\"sshd\".*reason=\"(closed|process exited)\"" "$T/agentd.log"
rc=0
out=$(ssh_key keyB "$b" 'id -un') || rc=$?
check "revoked: key login refused" test "$rc" != 0 -a -z "$out"
rc=0
out=$(ssh_secret "$b_tok" "$b" 'id -un') || rc=$?
check "revoked: token login refused" test "$rc" != 0 -a -z "$out"
check "revoked: authorized-keys prints nothing" \
	test -z "$("$BIN/agentctl" -S "$RUNDIR/agentd.sock" authorized-keys "$b" || true)"

new_agent --ttl 4s --ssh-key "$S/keyH.pub"
e=$NAME e_tok=$TOKFILE
out=$(ssh_key keyH "$e" 'id -un') || true
check "short-lived: key login works before the deadline" test "$out" = "$e"
check "expired: the identity has retired" wait_for 10 retired "$e"
rc=0
out=$(ssh_key keyH "$e" 'id -un') || rc=$?
check "expired: key login refused" test "$rc" != 0 -a -z "$out"
rc=0
out=$(ssh_secret "$e_tok" "$e" 'id -un') || rc=$?
check "expired: token login refused" test "$rc" != 0 -a -z "$out"

check "the tokens never reach agentd's or sshd's logs" bash -c \
	"! grep -qFf <(cat '$T'/tok.*) '$T/agentd.log' '$T/sshd.log'"

crash_agentd
rc=0
out=$(ssh_key keyA "$a" 'id -un') || rc=$?
check "agentd dead: key login refused" test "$rc" != 0 -a -z "$out"
rc=0
out=$(ssh_secret "$a_tok" "$a" 'id -un') || rc=$?
check "agentd dead: token login refused" test "$rc" != 0 -a -z "$out"
out=$(ssh_secret "$T/human" alice 'id -un') || true
check "agentd dead: human password login over ssh still works" test "$out" = alice
stop_sshd
