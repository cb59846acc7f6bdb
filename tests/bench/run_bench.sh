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

# one_run FILE COMMAND...: one timed run, its microseconds appended to FILE.
one_run() {
	local f=$1 t0 t1
	shift
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 || { echo "$* failed" >&2; exit 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000)) >>"$f"
}
# summary LABEL FILE: p50 / p99 / mean in milliseconds.
summary() {
	sort -n "$2" | awk -v l="$1" '{ v[NR] = $1; s += $1 }
		END { printf "%-48s p50 %6.2f ms  p99 %6.2f ms  mean %6.2f ms\n", l,
			v[int(NR * 0.5) + 1] / 1000, v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))] / 1000,
			s / NR / 1000 }'
}
p50_of() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int(NR * 0.5) + 1] }'; }
# The caller's uid and groups are looked up once, outside the timed loop:
# a lookup per run would add work to the agentctl side only. The non-root
# rows start both commands through the same `setpriv` (alice for agentctl,
# root for su, which cannot be run by a non-root caller without a
# password), with the groups given, so neither wrapper asks NSS anything
# (--init-groups would load every group module, agent's among them, in
# alice's wrapper only) and the wrapper costs both sides the same.
A_UID=$(uid_of alice)
A_GROUPS=$(id -G alice | tr ' ' ,)
ctl_root() { "$AGENTCTL" -S "$RUNDIR/agentd.sock" "$@"; }
ctl_alice() {
	setpriv --reuid="$A_UID" --regid="$A_UID" --groups="$A_GROUPS" \
		"$AGENTCTL" -S "$RUNDIR/agentd.sock" "$@"
}
su_wrapped() { setpriv --reuid=0 --regid=0 --keep-groups su "$@"; }
# The four commands take turns, run by run: a phase of a noisy host (a
# shared VM's steal) weighs on every row alike, not on whichever ran then.
echo "-- whole process, $N runs each, the four taking turns"
: >"$T/ctl_root" >"$T/su_root" >"$T/ctl_alice" >"$T/su_alice"
for ((i = 0; i < N; i++)); do
	one_run "$T/ctl_root" ctl_root run --purpose ci --ttl 5m -- /bin/true
	one_run "$T/su_root" su -s /bin/true daemon
	one_run "$T/ctl_alice" ctl_alice run --purpose ci --ttl 5m -- /bin/true
	one_run "$T/su_alice" su_wrapped -s /bin/true daemon
done
summary "agentctl run --purpose ci -- /bin/true (root)" "$T/ctl_root"
summary "su -s /bin/true daemon (root, files user)" "$T/su_root"
summary "agentctl run (alice, through setpriv)" "$T/ctl_alice"
summary "su -s /bin/true daemon (through setpriv)" "$T/su_alice"
awk -v a="$(p50_of "$T/ctl_root")" -v b="$(p50_of "$T/su_root")" \
	-v c="$(p50_of "$T/ctl_alice")" -v e="$(p50_of "$T/su_alice")" \
	'BEGIN { printf "ratio of p50s: root %.2f x su, alice %.2f x su (target 1.3 x)\n", a / b, c / e }'
