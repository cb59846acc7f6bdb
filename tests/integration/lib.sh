# Shared by the end-to-end tests and the demo. Sourced, not run.
#
# The sandbox: each test re-executes itself inside a private mount and pid
# namespace (unshare --mount --pid --ipc --fork --mount-proc). Inside, copies of
# /etc/passwd and /etc/group with a few test users are bind-mounted over the
# real ones, agentd runs with its state, socket and homes in a temporary
# directory, and everything vanishes with the namespace: the host's files,
# users and processes are never touched. Only processes this test started
# are ever signalled (the pid namespace holds nothing else).
#
# Test users (uid/gid): developers 2900 (group), alice 2901 and bob 2904 in
# developers, orchestrator 2902, mallory 2903.

set -euo pipefail

: "${top_builddir:?run through make check (top_builddir unset)}"
AGENTD="$top_builddir/agentd/agentd"
AGENTCTL="$top_builddir/agentctl/agentctl"
UID_MIN=1879048192
UID_MAX=1879048447
FAILED=0

require_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "skip: needs root (mount and pid namespaces, setuid to agent uids)"
		exit 77
	fi
	for tool in unshare setpriv jq; do
		if ! command -v "$tool" >/dev/null; then
			echo "skip: $tool is not installed (./bootstrap installs it)"
			exit 77
		fi
	done
}

# Re-executes the calling script inside the sandbox namespaces, once.
enter_sandbox() {
	if [ -z "${AGENTD_SANDBOX:-}" ]; then
		AGENTD_SANDBOX=1 exec unshare --mount --pid --ipc --fork --mount-proc \
			--propagation private "$(readlink -f "$0")" "$@"
	fi
	T=$(mktemp -d /tmp/agentd-test.XXXXXX)
	chmod 0755 "$T"
	mkdir -p "$T/etc" "$T/home"
	# python3 is the system's: a per-user shim (pyenv's) is a shell script
	# that is not the process it starts, and may not start in the sandbox.
	if [ -x /usr/bin/python3 ]; then
		mkdir -p "$T/sys-python"
		ln -sf /usr/bin/python3 "$T/sys-python/python3"
		PATH="$T/sys-python:$PATH"
	fi
	mkdir -m 1777 "$T/sweep"
	cp /etc/passwd "$T/etc/passwd"
	cp /etc/group "$T/etc/group"
	cat >>"$T/etc/passwd" <<-EOF
	alice:x:2901:2901::/nonexistent:/bin/sh
	orchestrator:x:2902:2902::/nonexistent:/bin/sh
	mallory:x:2903:2903::/nonexistent:/bin/sh
	bob:x:2904:2904::/nonexistent:/bin/sh
	EOF
	cat >>"$T/etc/group" <<-EOF
	developers:x:2900:alice,bob
	alice:x:2901:
	orchestrator:x:2902:
	mallory:x:2903:
	bob:x:2904:
	EOF
	mount --bind "$T/etc/passwd" /etc/passwd
	mount --bind "$T/etc/group" /etc/group
	sandbox_cgroup
	write_config
	trap sandbox_exit EXIT
}

# The test's own cgroup2 subtree, $CG2/agentd-test.XXXXXX (named like $T),
# as agentd's cgroup_root: identities' cgroups are made there, never in a
# subtree another test or the host uses. Killed and removed at sandbox exit.
# CG2 is empty (and cgroup_root "none") without a cgroup2 hierarchy.
CG2=""
CGROUP_ROOT=""
sandbox_cgroup() {
	if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
		CG2=/sys/fs/cgroup
	elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		CG2=/sys/fs/cgroup/unified
	fi
	if [ -n "$CG2" ] && mkdir "$CG2/${T##*/}" 2>/dev/null; then
		CGROUP_ROOT="$CG2/${T##*/}"
	else
		CG2=""
		CGROUP_ROOT=none
	fi
}
sandbox_cgroup_remove() {
	local d
	[ -n "$CG2" ] && [ -d "$CG2/${T##*/}" ] || return 0
	for d in "$CG2/${T##*/}"/*/; do
		[ -d "$d" ] || continue
		echo 1 >"$d/cgroup.kill" 2>/dev/null || true
		wait_for 10 grep -qx "populated 0" "$d/cgroup.events" || true
		rmdir "$d" 2>/dev/null || true
	done
	rmdir "$CG2/${T##*/}" 2>/dev/null || true
}

write_config() { # [extra settings...]
	cat >"$T/agentd.conf" <<-EOF
	uid_min = $UID_MIN; uid_max = $UID_MAX;
	default_ttl = "15m"; max_ttl = "8h"; uid_quarantine = "24h";
	kill_grace = "1s"; home_base = "$T/home";
	sweep_dirs = [ "$T/sweep" ];
	${CGROUP_ROOT:+cgroup_root = \"$CGROUP_ROOT\";}
	$*
	purposes = (
	  { name = "ci"; groups = [ "users" ]; shell = "/bin/bash"; home = "ephemeral";
	    services = { sshd = "allow"; su = "allow"; login = "deny"; sudo = "approve"; agentd = "allow"; };
	    delegate = [ "ci" ]; max_depth = 2; },
	  { name = "research"; home = "none"; }
	);
	delegators = (
	  { who = [ "%developers" ]; purposes = [ "ci" ]; max_ttl = "1h"; },
	  { who = [ "orchestrator" ]; purposes = [ "*" ]; may_act_for = true; }
	);
	EOF
	chmod 0644 "$T/agentd.conf"
}

# install_nss_module: inside the sandbox, makes glibc use the freshly built
# libnss_agent.so.2 (an overlay on the library directory), gives agentd the
# module's compiled-in /run/agentd (a tmpfs over /run) and puts "agent" in
# nsswitch.conf. Returns 1 (with the reason on stdout) if it cannot.
install_nss_module() {
	local so="$top_builddir/.libs/libnss_agent.so.2" libdir
	[ -e "$so" ] || { echo "$so is not built"; return 1; }
	case "$(ldd "$so")" in # not `ldd | grep -q`: under pipefail an early grep exit fails
	*libasan* | *libubsan*)
		echo "a sanitizer build of the module cannot load into uninstrumented programs"
		return 1
		;;
	esac
	libdir=$(dirname "$(readlink -f "$(ldd /bin/true | awk '/libc.so/ { print $3 }')")")
	mkdir -p "$T/ovl/upper" "$T/ovl/work"
	mount -t overlay overlay -o "lowerdir=$libdir,upperdir=$T/ovl/upper,workdir=$T/ovl/work" \
		"$libdir"
	cp "$so" "$libdir/libnss_agent.so.2"
	mount -t tmpfs -o mode=0755 tmpfs /run
	sed -E 's/^(passwd|group|shadow):.*/\1: files agent/' /etc/nsswitch.conf >"$T/nsswitch.conf"
	grep -q '^shadow:' "$T/nsswitch.conf" || echo 'shadow: files agent' >>"$T/nsswitch.conf"
	mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
	RUNDIR=/run/agentd
}

# install_pam_service NAME FILE: inside the sandbox, FILE becomes
# /etc/pam.d/NAME with "pam_agent.so" pointing at the freshly built module.
# The first call bind-mounts a private copy of /etc/pam.d over the real one.
install_pam_service() {
	if [ ! -d "$T/pam.d" ]; then
		cp -a /etc/pam.d "$T/pam.d"
		mount --bind "$T/pam.d" /etc/pam.d
	fi
	sed "s|\([[:space:]]\)pam_agent\.so|\1$top_builddir/.libs/pam_agent.so|" "$2" >"$T/pam.d/$1"
}

# install_run_stack: what `agentctl run` needs inside the sandbox: the NSS
# module (without it, a tmpfs /run for agentd's compiled-in runtime
# directory, and the command's uid has no name) and a minimal "agentd" PAM
# stack (pam_agent's account and session stages). Sets RUNDIR.
install_run_stack() {
	local why
	if ! why=$(install_nss_module); then
		echo "# NSS module not installed ($why): the command's uid has no name"
		mount -t tmpfs -o mode=0755 tmpfs /run
	fi
	RUNDIR=/run/agentd
	printf '%s\n' "account [success=ok ignore=ignore default=die] pam_agent.so" \
		"account required pam_permit.so" "session required pam_agent.so" >"$T/agentd.pam"
	install_pam_service agentd "$T/agentd.pam"
}

# set_human_passwords PASSWORD: a private copy of /etc/shadow in which the
# test users alice and bob have that password (agents keep theirs locked).
set_human_passwords() {
	local hash
	cp -p /etc/shadow "$T/shadow"
	hash=$(printf '%s\n' "$1" | openssl passwd -6 -stdin)
	printf 'alice:%s:19000:0:99999:7:::\nbob:%s:19000:0:99999:7:::\n' "$hash" "$hash" >>"$T/shadow"
	mount --bind "$T/shadow" /etc/shadow
}

# install_agent_sudoers [LINE...]: inside the sandbox, /etc/sudoers is a
# copy with the shipped examples/sudoers.d-agents lines and LINEs added.
install_agent_sudoers() {
	cp -p /etc/sudoers "$T/sudoers"
	cat "$top_srcdir/examples/sudoers.d-agents" >>"$T/sudoers"
	[ $# = 0 ] || printf '%s\n' "$@" >>"$T/sudoers"
	chmod 0440 "$T/sudoers"
	mount --bind "$T/sudoers" /etc/sudoers
}

# pending_id: waits (up to 10 s) for a pending step-up request and prints
# the id of the first one agentd lists ("" if none came).
pending_id() {
	local id=""
	for _ in $(seq 100); do
		id=$(ctl pending --json | jq -r '.[0].request // empty')
		[ -n "$id" ] && break
		sleep 0.1
	done
	echo "$id"
}

RUNDIR=""
AGENTD_PID=""
start_agentd() {
	: "${RUNDIR:=$T/run}"
	# A test that writes its own configuration still gets its own cgroup
	# subtree and sweep directories, never the host's.
	if [ -f "$T/agentd.conf" ]; then
		grep -q '^[[:space:]]*cgroup_root' "$T/agentd.conf" ||
			echo "cgroup_root = \"${CGROUP_ROOT:-none}\";" >>"$T/agentd.conf"
		if ! grep -q '^[[:space:]]*sweep_dirs' "$T/agentd.conf"; then
			mkdir -p -m 1777 "$T/sweep"
			echo "sweep_dirs = [ \"$T/sweep\" ];" >>"$T/agentd.conf"
		fi
	fi
	# AGENTD_WRAP: a command prefix (e.g. setpriv with a unit's capability
	# bounding set) that agentd runs under.
	${AGENTD_WRAP:-} "$AGENTD" -f -c "$T/agentd.conf" --state-dir "$T/state" --runtime-dir "$RUNDIR" \
		2>>"$T/agentd.log" &
	AGENTD_PID=$!
	local i
	for i in $(seq 100); do
		if [ -S "$RUNDIR/agentd.sock" ] && ctl status >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$AGENTD_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "agentd did not start:" >&2
	cat "$T/agentd.log" >&2
	exit 1
}

stop_agentd() {
	if [ -n "$AGENTD_PID" ]; then
		kill -TERM "$AGENTD_PID" 2>/dev/null || true
		wait_gone "$AGENTD_PID" 20 || kill -KILL "$AGENTD_PID" 2>/dev/null || true
		wait "$AGENTD_PID" 2>/dev/null || true
		AGENTD_PID=""
	fi
}

crash_agentd() {
	kill -KILL "$AGENTD_PID"
	wait "$AGENTD_PID" 2>/dev/null || true
	AGENTD_PID=""
}

sandbox_exit() {
	local rc=$?
	stop_agentd
	# Under --enable-sanitizers, agentd's own reports land in its log.
	if grep -qE 'Sanitizer|runtime error:' "$T/agentd.log" 2>/dev/null; then
		grep -E -A20 'Sanitizer|runtime error:' "$T/agentd.log" | head -60
		not_ok "agentd ran clean under the sanitizers"
	fi
	sandbox_cgroup_remove
	rm -rf "$T"
	if [ "$FAILED" -ne 0 ]; then
		echo "FAILED: $FAILED check(s)"
		exit 1
	fi
	exit "$rc"
}

# Gives the sandbox a /dev of its own (a tmpfs with the host's nodes, /dev/log
# left out) so a test can put its own syslog reader on /dev/log.
private_dev() {
	local e n
	mkdir "$T/dev"
	mount -t tmpfs -o mode=0755 tmpfs "$T/dev"
	for e in /dev/*; do
		n=${e##*/}
		[ "$n" = log ] && continue
		if [ -d "$e" ] && [ ! -L "$e" ]; then
			mkdir "$T/dev/$n"
			mount --rbind "$e" "$T/dev/$n"
		else
			cp -a "$e" "$T/dev/$n"
		fi
	done
	mount --move "$T/dev" /dev
}

ctl() { "$AGENTCTL" -S "${RUNDIR:-$T/run}/agentd.sock" "$@"; }

uid_of() { getent passwd "$1" | cut -d: -f3; }

ctl_as() { # USER agentctl-args...
	local u=$1
	shift
	setpriv --reuid="$(uid_of "$u")" --regid="$(uid_of "$u")" --init-groups \
		"$AGENTCTL" -S "${RUNDIR:-$T/run}/agentd.sock" "$@"
}

ctl_as_uid() { # UID agentctl-args...
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --clear-groups "$AGENTCTL" -S "${RUNDIR:-$T/run}/agentd.sock" "$@"
}

# spawn_as_uid UID command...: starts it in the background as that uid (no
# supplementary groups); its pid is in SPAWNED.
spawn_as_uid() {
	local u=$1 i
	shift
	setpriv --reuid="$u" --regid="$u" --clear-groups "$@" &
	SPAWNED=$!
	disown "$SPAWNED"
	# Returns once it runs as the uid (setpriv switches, then execs): a
	# check right after must not see the root shell it starts as.
	for i in $(seq 100); do
		[ -e "/proc/$SPAWNED" ] || return 0 # already gone
		awk -v u="$u" '/^Uid:/ { ok = $2 == u } END { exit !ok }' "/proc/$SPAWNED/status" \
			2>/dev/null && return 0
		sleep 0.1
	done
}

# wait_gone PID SECONDS: true once PID no longer runs.
wait_gone() {
	local deadline=$((SECONDS + $2))
	while kill -0 "$1" 2>/dev/null; do
		# A zombie child of ours is gone for this purpose.
		if [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = Z ]; then
			return 0
		fi
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}

# wait_for SECONDS command...: true once the command succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}

matches() { [[ "$1" =~ $2 ]]; } # STRING REGEX
ok() { echo "ok - $*"; }
not_ok() {
	echo "not ok - $*"
	FAILED=$((FAILED + 1))
}
check() { # description command...
	local d=$1
	shift
	if "$@" >/dev/null; then ok "$d"; else not_ok "$d"; fi
}
# expect_exit CODE description command...
expect_exit() {
	local want=$1 d=$2 rc=0
	shift 2
	"$@" >/dev/null 2>&1 || rc=$?
	if [ "$rc" = "$want" ]; then ok "$d"; else not_ok "$d (exit $rc, wanted $want)"; fi
}

audit_count() { # EVENT [pattern]: number of audit records of that event (matching pattern)
	grep -c "event=\"$1\".*${2:-}" "$T/agentd.log" || true
}

state_of() { ctl show "$1" --json | jq -r .state; }
reason_of() { ctl show "$1" --json | jq -r '.retire_reason // ""'; }

# start_private_rsyslog: inside the sandbox, a private /dev (a tmpfs with
# copies of the host's device nodes and bind mounts of its directories) whose
# /dev/log belongs to an rsyslogd of this test's own, writing authpriv and
# auth to $T/auth.log. The host's syslog never sees a record; only this
# rsyslogd is ever stopped (stop_private_rsyslog, or at sandbox exit).
RSYSLOG_PID=""
start_private_rsyslog() {
	private_dev
	mkdir -m 0700 "$T/rsyslog"
	cat >"$T/rsyslog.conf" <<-EOC
	global(workDirectory="$T/rsyslog")
	module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")
	authpriv.*,auth.* action(type="omfile" file="$T/auth.log")
	EOC
	PATH=$PATH:/usr/sbin rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rsyslog/pid" 2>"$T/rsyslogd.err" &
	RSYSLOG_PID=$!
	if ! wait_for 10 test -S /dev/log; then
		cat "$T/rsyslogd.err" >&2
		return 1
	fi
	logger -p authpriv.notice -t agentd-test "rsyslog is up"
	wait_for 10 grep -q "agentd-test: rsyslog is up" "$T/auth.log"
}
stop_private_rsyslog() {
	if [ -n "$RSYSLOG_PID" ]; then
		kill -TERM "$RSYSLOG_PID" 2>/dev/null || true
		wait "$RSYSLOG_PID" 2>/dev/null || true
		RSYSLOG_PID=""
	fi
}
