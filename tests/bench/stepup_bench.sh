#!/bin/bash
# Step-up approval with real sudo, in one run inside a private mount + pid
# namespace (nothing on the host changes), with the shipped
# examples/pam.d/sudo and agentd-approve stacks and examples/sudoers.d-agents.
# Run from the build directory as root: make bench.
#
# 1. Latency, over N approvals one after another: an agent's
#    `sudo /bin/sh -c 'date +%s%N >FILE'` waits for approval; bob runs
#    `agentctl approve` (re-authenticated by agentd through agentd-approve:
#    pam_unix, whose pam_faildelay applies only on failure, so a success
#    has no delay). Reported: the approve call's own time, approve call
#    start -> command start, and approve return -> command start (the return
#    taken with bash's $EPOCHREALTIME right after agentctl exits; agentd
#    answers the waiting sudo before it answers agentctl, so this can be
#    negative). The command's timestamp comes from a forked date(1): the
#    "date fork+exec" line is that method's own offset.
#    Anchor, same run: `sudo -S -k true` by a human (alice, password through
#    common-auth), whole process.
# 2. What agentd holds per pending request: descriptors (/proc/PID/fd) and
#    VmRSS with 0 and with M pending requests (tests/pam/pam_driver, service
#    login = approve, as stepup.sh does), and per-request deltas.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
require_root
for tool in sudo openssl; do
	command -v "$tool" >/dev/null || { echo "stepup bench: $tool is not installed" >&2; exit 1; }
done
enter_sandbox "$@"
if ! why=$(install_nss_module); then
	echo "stepup bench: $why" >&2
	exit 1
fi
RUNDIR=/run/agentd
export LC_ALL=C # $EPOCHREALTIME with a '.'
N=${STEPUP_BENCH_N:-30}
M=${STEPUP_BENCH_PENDING:-100}
DRIVER="$top_builddir/tests/pam/pam_driver"
PW=bench-Approves-99
set_human_passwords "$PW"

write_config 'agents_group = "agents"; agents_gid = 2950; approvers = [ "bob" ];
	approval_timeout = "5m"; max_pending = 4096;'
# sudo = approve for every command (no sudo_commands); login = approve for
# the pending-request part.
sed -i 's|login = "deny";|login = "approve";|' "$T/agentd.conf"
install_pam_service sudo "$top_srcdir/examples/pam.d/sudo"
install_pam_service agentd-approve "$top_srcdir/examples/pam.d/agentd-approve"
install_pam_service login <(printf 'account [success=ok ignore=ignore default=die] pam_agent.so timeout=2000\naccount required pam_permit.so\n')
install_agent_sudoers 'alice ALL=(ALL) ALL'
start_agentd

a=$(ctl_as alice create --purpose ci --ttl 1h --json)
uid=$(jq -r .uid <<<"$a")
(umask 077; jq -r .token <<<"$a" >"$T/token")

now_ns() { local t=$EPOCHREALTIME; echo "${t/./}000"; }
# stats LABEL FILE: min / p50 / p99 / mean of values in microseconds, in ms.
stats() {
	sort -n "$2" | awk -v l="$1" '{ v[NR] = $1; s += $1 }
		END { printf "%-50s min %6.2f  p50 %6.2f  p99 %6.2f  mean %6.2f ms (n=%d)\n", l,
			v[1] / 1000, v[int(NR * 0.5) + 1] / 1000,
			v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))] / 1000, s / NR / 1000, NR }'
}

echo "-- step-up approval with real sudo, $N approvals one after another"
: >"$T/call" >"$T/start" >"$T/ret"
for ((i = 0; i < N; i++)); do
	rm -f "$T/ran"
	setpriv --reuid="$uid" --regid="$uid" --init-groups timeout 60 \
		sudo -S -p '' /bin/sh -c "date +%s%N >$T/ran" <"$T/token" >/dev/null 2>&1 &
	sp=$!
	rid=$(pending_id)
	[ -n "$rid" ] || { echo "approval $i: no pending request" >&2; exit 1; }
	t0=$(now_ns)
	printf '%s\n' "$PW" | ctl_as bob approve "$rid" >/dev/null 2>&1 ||
		{ echo "approval $i: agentctl approve failed" >&2; exit 1; }
	t1=$(now_ns)
	wait "$sp" || { echo "approval $i: sudo failed" >&2; exit 1; }
	ran=$(cat "$T/ran")
	echo $(((t1 - t0) / 1000)) >>"$T/call"
	echo $(((ran - t0) / 1000)) >>"$T/start"
	echo $(((ran - t1) / 1000)) >>"$T/ret"
done
stats "agentctl approve (re-authentication included)" "$T/call"
stats "approve call start -> approved command starts" "$T/start"
stats "approve return -> approved command starts" "$T/ret"
: >"$T/date"
for ((i = 0; i < N; i++)); do
	t0=$(now_ns)
	d=$(date +%s%N)
	echo $(((d - t0) / 1000)) >>"$T/date"
done
stats "  (date fork+exec offset of the method)" "$T/date"
: >"$T/anchor"
for ((i = 0; i < N; i++)); do
	t0=$(now_ns)
	printf '%s\n' "$PW" | setpriv --reuid=2901 --regid=2901 --init-groups \
		sudo -S -p '' -k true >/dev/null 2>&1 || { echo "anchor: sudo failed" >&2; exit 1; }
	t1=$(now_ns)
	echo $(((t1 - t0) / 1000)) >>"$T/anchor"
done
stats "anchor: sudo -S -k true by alice (password)" "$T/anchor"

echo "-- what agentd holds per pending request ($M pending)"
fds() { find "/proc/$AGENTD_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$AGENTD_PID/status"; }
# ten requests per identity at most (agentd allows 16)
for ((i = 0; i < (M + 9) / 10; i++)); do
	ctl create --purpose ci --ttl 1h --json | jq -r .name
done >"$T/names"
fd0=$(fds)
rss0=$(rss)
: >"$T/drivers"
n=0
while read -r who && [ "$n" -lt "$M" ]; do
	for ((k = 0; k < 10 && n < M; k++)); do
		"$DRIVER" /etc/pam.d login "$who" account </dev/null >/dev/null 2>&1 &
		echo "$!" >>"$T/drivers"
		n=$((n + 1))
	done
done <"$T/names"
wait_for 60 bash -c "[ \"\$($AGENTCTL -S $RUNDIR/agentd.sock pending --json | jq length)\" = $M ]" ||
	{ echo "not all $M requests became pending" >&2; exit 1; }
fd1=$(fds)
rss1=$(rss)
# The drivers are ours: ending them cancels their requests.
while read -r p; do kill -TERM "$p" 2>/dev/null || true; done <"$T/drivers"
while read -r p; do wait "$p" 2>/dev/null || true; done <"$T/drivers"
wait_for 10 bash -c "[ \"\$($AGENTCTL -S $RUNDIR/agentd.sock pending --json | jq length)\" = 0 ]" || true
fd2=$(fds)
rss2=$(rss)
printf '%-28s fds %5d  VmRSS %7d kB\n' "0 pending" "$fd0" "$rss0"
printf '%-28s fds %5d  VmRSS %7d kB\n' "$M pending" "$fd1" "$rss1"
printf '%-28s fds %5d  VmRSS %7d kB\n' "after they ended" "$fd2" "$rss2"
awk -v m="$M" -v f="$((fd1 - fd0))" -v r="$((rss1 - rss0))" 'BEGIN {
	printf "per pending request          fds %5.2f  VmRSS %7.2f kB\n", f / m, r / m }'
