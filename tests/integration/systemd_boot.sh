#!/bin/bash
# agentd under a real systemd, with the shipped unit (examples/agentd.service.in,
# the build's agentd put in for @sbindir@):
# - `systemctl start agentd` returns once agentd sent READY=1 (Type=notify)
#   and its socket answers; StateDirectory and RuntimeDirectory are made;
# - `agentctl run` works under the unit and returns the command's status;
# - a task lives through `systemctl restart agentd` (KillMode=process) and
#   still dies when its identity is retired;
# - `systemctl reload agentd` reloads the policy (agentd stays the same
#   process) and `systemctl stop agentd` ends agentd.
#
# Safety: systemd 252 runs as pid 1 of a nested pid, cgroup and mount
# namespace inside the test's sandbox. Its cgroup tree is a new subtree of
# the host's cgroup2 hierarchy (named like the test directory, killed through cgroup.kill
# and removed at the end); it sees only this test's units (the shipped one
# and empty stub targets: no host service is started); /etc and /var are
# overlays whose upper layers live in the test's directory; /run is a
# tmpfs; /dev is private, /dev/log a private rsyslogd and /dev/console a
# file; the host's files, services and logs are never touched.
. "$(dirname "$0")/lib.sh"
require_root
SYSTEMD=/lib/systemd/systemd
if [ ! -x "$SYSTEMD" ] || ! command -v systemctl >/dev/null || ! command -v nsenter >/dev/null; then
	echo "skip: systemd, systemctl or nsenter is not installed (./bootstrap installs systemd)"
	exit 77
fi
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
	CG2=/sys/fs/cgroup
elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
	CG2=/sys/fs/cgroup/unified
else
	echo "skip: no cgroup2 hierarchy mounted (systemd needs one to run as pid 1)"
	exit 77
fi
case "$(ldd "$top_builddir/agentd/agentd")" in
*libasan*) echo "skip: sanitizer build (systemd starts agentd without the sanitizer runtime's environment; the plain run covers it)"; exit 77 ;;
esac
enter_sandbox "$@"
# agentd finds its subtree itself here (cgroup_root "auto": the unit's
# delegated cgroup); the test's subtree below is systemd's whole tree.
CGROUP_ROOT=""
write_config

# ------------------------------------------------------------ the host view
for d in etc var; do
	mkdir -p "$T/ovl/$d/u" "$T/ovl/$d/w"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$T/ovl/$d/u,workdir=$T/ovl/$d/w" "/$d"
done
cat "$T/etc/passwd" >/etc/passwd # the test users (their bind mounts are under the overlay now)
cat "$T/etc/group" >/etc/group
if ! why=$(install_nss_module); then
	echo "# NSS module not installed ($why)"
	mount -t tmpfs -o mode=0755 tmpfs /run
fi
RUNDIR=/run/agentd
mkdir -p /etc/agentd
cp "$T/agentd.conf" /etc/agentd/agentd.conf
printf '%s\n' "account [success=ok ignore=ignore default=die] pam_agent.so" \
	"account required pam_permit.so" "session required pam_agent.so" >"$T/agentd.pam"
install_pam_service agentd "$T/agentd.pam"
start_private_rsyslog
: >"$T/console.log"
rm -f /dev/console
ln -s "$T/console.log" /dev/console

# Only this test's units: the shipped one and stubs of the targets a
# service's default dependencies name.
U="$T/units"
mkdir "$U"
sed -e "s|@sbindir@|$top_builddir/agentd|g" -e 's|@sysconfdir@|/etc|g' \
	-e 's|@localstatedir@|/var|g' -e 's|@runstatedir@|/run|g' \
	"$top_srcdir/examples/agentd.service.in" >"$U/agentd.service"
for t in sysinit basic shutdown local-fs agentd-test; do
	printf '[Unit]\nDefaultDependencies=no\n' >"$U/$t.target"
done
for d in /etc/systemd/system /usr/lib/systemd/system; do
	mount --bind "$U" "$d"
done

# ------------------------------------------------------------ systemd as pid 1
CGT="$CG2/${T##*/}" # agentd-test.XXXXXX, as unique as the test directory (lib.sh made it)
mkdir -p "$CGT"
systemd_down() {
	[ -d "$CGT" ] || return 0
	echo 1 >"$CGT/cgroup.kill" 2>/dev/null || true
	wait_for 10 grep -qx "populated 0" "$CGT/cgroup.events" || true
	find "$CGT" -depth -type d -exec rmdir {} \; 2>/dev/null || true
}
trap 'boot_rc=$?; set +e; systemd_down; (exit $boot_rc); sandbox_exit' EXIT
(
	echo "$BASHPID" >"$CGT/cgroup.procs"
	exec unshare --cgroup --pid --fork --mount --mount-proc --propagation private \
		bash -c 'mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec env container=agentd-test "$0" \
			--system --unit=agentd-test.target --log-target=console --default-standard-output=null' \
		"$SYSTEMD" >"$T/systemd.out" 2>&1
) &
UNSHARE_PID=$!
disown "$UNSHARE_PID" # its end (cgroup.kill) is not news
wait_for 10 bash -c "pgrep -P $UNSHARE_PID >/dev/null" || true
SD_PID=$(pgrep -P "$UNSHARE_PID" || true)
sd() { nsenter -t "$SD_PID" -m -p -- "$@"; }
booted() { [ "$(sd systemctl is-system-running 2>/dev/null)" = running ]; }
if [ -z "$SD_PID" ] || ! wait_for 30 booted; then
	not_ok "systemd runs as pid 1 of the namespace"
	cat "$T/systemd.out" "$T/console.log" | tail -n 30
	exit 1
fi
ok "systemd runs as pid 1 of the namespace"

# ------------------------------------------------------------ start
rc=0
sd systemctl start agentd.service >"$T/start.out" 2>&1 || rc=$?
check "systemctl start agentd succeeds" test "$rc" = 0
[ "$rc" = 0 ] || { cat "$T/start.out"; sd systemctl status agentd.service --no-pager || true; }
check "the unit is active (READY=1 came)" test "$(sd systemctl is-active agentd.service)" = active
check "RuntimeDirectory and StateDirectory were made" \
	sd test -d /run/agentd -a -d /var/lib/agentd -a -S /run/agentd/agentd.sock
check "the socket answers at once" sd "$AGENTCTL" status
main1=$(sd systemctl show -p MainPID --value agentd.service)
check "agentd is the unit's main process" sd test "$(sd cat /proc/"$main1"/comm)" = agentd

# ------------------------------------------------------------ run
task() { # agentctl run as alice, in systemd's namespaces
	sd setpriv --reuid=2901 --regid=2901 --init-groups "$AGENTCTL" run --purpose ci --ttl 10m -- "$@"
}
rc=0
out=$(task sh -c 'echo "ran as $(id -u)"; exit 3' 2>"$T/run.err") || rc=$?
check "agentctl run under the unit: the command's status" test "$rc" = 3
ruid=${out#ran as }
check "agentctl run under the unit: the command ran as an agent uid" \
	test "$ruid" -ge "$UID_MIN" -a "$ruid" -le "$UID_MAX"
[ "$rc" = 3 ] || cat "$T/run.err"

# ------------------------------------------------------------ restart
task sh -c 'echo $$; exec sleep 300' >"$T/task.pid" 2>&1 &
wait_for 10 test -s "$T/task.pid" || true
tpid=$(head -1 "$T/task.pid")
tuid=$(sd ps -o uid= -p "$tpid" | tr -d ' ')
tname=$(sd "$AGENTCTL" list --json | jq -r ".[] | select(.uid == ${tuid:-0}) | .name")
check "a long task runs" test -n "$tname"
# Containment (Delegate=yes): agentd moved itself into the leaf "daemon" of
# its unit's cgroup; the task runs in agent-<uid> beside it.
# (/proc/PID/cgroup is read from the test's cgroup namespace: a suffix.)
UCG=/system.slice/agentd.service
check "containment: agentd runs in $UCG/daemon" \
	sd grep -qx "0::.*$UCG/daemon" "/proc/$main1/cgroup"
check "containment: the task runs in $UCG/agent-$tuid" \
	sd grep -qx "0::.*$UCG/agent-$tuid" "/proc/$tpid/cgroup"
grep -h "containment" "$T/auth.log" | tail -1 | sed 's/^/# /' || true
rc=0
sd systemctl restart agentd.service || rc=$?
check "systemctl restart agentd succeeds" test "$rc" = 0
main2=$(sd systemctl show -p MainPID --value agentd.service)
check "restart: a new agentd" test -n "$main2" -a "$main2" != "$main1" -a "$main2" != 0
check "restart: the task lived through it (KillMode=process)" sd kill -0 "$tpid"
check "restart: its identity is still live" test "$(sd "$AGENTCTL" show "$tname" --json | jq -r .state)" = live
check "containment: the task's cgroup is there before the revoke" \
	sd test -d "/sys/fs/cgroup$UCG/agent-$tuid"
sd "$AGENTCTL" revoke "$tname" >/dev/null
check "restart: the task dies when its identity is retired" \
	wait_for 15 bash -c "! nsenter -t $SD_PID -m -p -- kill -0 $tpid 2>/dev/null"
check "containment: the restarted agentd is in $UCG/daemon too" \
	sd grep -qx "0::.*$UCG/daemon" "/proc/$main2/cgroup"
check "containment: the task's cgroup is removed after the revoke" \
	wait_for 15 bash -c "! nsenter -t $SD_PID -m -p -- test -d /sys/fs/cgroup$UCG/agent-$tuid"

# ------------------------------------------------------------ reload, stop
nconf=$(grep -c 'event="config"' "$T/auth.log" || true)
rc=0
sd systemctl reload agentd.service || rc=$?
check "systemctl reload agentd succeeds" test "$rc" = 0
check "reload: the same agentd, still answering" \
	bash -c "[ \"\$(nsenter -t $SD_PID -m -p -- systemctl show -p MainPID --value agentd.service)\" = $main2 ] &&
		nsenter -t $SD_PID -m -p -- '$AGENTCTL' status >/dev/null"
check "reload: agentd audits the new policy" \
	wait_for 10 bash -c "[ \$(grep -c 'event=\"config\"' '$T/auth.log') -gt $nconf ]"
rc=0
sd systemctl stop agentd.service || rc=$?
check "systemctl stop agentd succeeds" test "$rc" = 0
check "stop: the unit is inactive, agentd gone" \
	bash -c "[ \"\$(nsenter -t $SD_PID -m -p -- systemctl is-active agentd.service)\" = inactive ] &&
		! nsenter -t $SD_PID -m -p -- kill -0 $main2 2>/dev/null"
