#!/bin/bash
# agentctl run -- /bin/true, whole process (create, PAM account and session
# for service "agentd", the command, retirement and reap), beside the anchor
# `su -s /bin/true USER` for a files user through the same su stack, in one
# run, inside a private namespace (nothing on the host changes). Both use
# the sample stacks of examples/pam.d. Run as root: make bench.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
require_root
enter_sandbox "$@"
if ! why=$(install_nss_module); then
	echo "run bench: $why" >&2
	exit 1
fi
RUNDIR=/run/agentd
install_pam_service agentd "$top_srcdir/examples/pam.d/agentd"
install_pam_service su "$top_srcdir/examples/pam.d/su"
# Every run quarantines a uid: use the whole default range.
sed -i "s/uid_max = $UID_MAX;/uid_max = $((UID_MIN + 65535));/" "$T/agentd.conf"
start_agentd
N=${N:-200}

# times LABEL COMMAND...: N runs, p50 / p99 / mean in milliseconds.
times() {
	local label=$1 i t0 t1
	shift
	: >"$T/times"
	for ((i = 0; i < N; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || { echo "$label: run $i failed" >&2; exit 1; }
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000)) >>"$T/times"
	done
	sort -n "$T/times" | awk -v l="$label" '{ v[NR] = $1; s += $1 }
		END { printf "%-48s p50 %6.2f ms  p99 %6.2f ms  mean %6.2f ms\n", l,
			v[int(NR * 0.5) + 1] / 1000, v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))] / 1000,
			s / NR / 1000 }'
}
# The caller's uid is looked up once, outside the timed loop: a lookup
# per run would add two processes to the agentctl side only. The non-root
# rows start both commands through the same `setpriv` (alice for agentctl,
# root for su, which cannot be run by a non-root caller without a
# password), so the wrapper costs both sides the same.
A_UID=$(uid_of alice)
ctl_root() { "$AGENTCTL" -S "$RUNDIR/agentd.sock" "$@"; }
ctl_alice() {
	setpriv --reuid="$A_UID" --regid="$A_UID" --init-groups \
		"$AGENTCTL" -S "$RUNDIR/agentd.sock" "$@"
}
su_wrapped() { setpriv --reuid=0 --regid=0 --keep-groups su "$@"; }
echo "-- whole process, $N runs each, same run"
times "agentctl run --purpose ci -- /bin/true (root)" \
	ctl_root run --purpose ci --ttl 5m -- /bin/true
times "su -s /bin/true daemon (root, files user)" su -s /bin/true daemon
times "agentctl run (alice, through setpriv)" \
	ctl_alice run --purpose ci --ttl 5m -- /bin/true
times "su -s /bin/true daemon (through setpriv)" su_wrapped -s /bin/true daemon
