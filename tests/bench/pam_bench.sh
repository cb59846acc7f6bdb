#!/bin/bash
# pam_agent's account stage beside the pam_permit anchor, in one run, inside
# a private mount + pid namespace with a live agentd and the NSS module
# (nothing on the host changes). Run from the build directory as root:
# make bench.
#
# In process (tests/bench/bench_pam: pam_start_confdir + pam_acct_mgmt +
# pam_end per transaction, K of them):
#   permit  account required pam_permit.so                      (anchor)
#   agent   pam_agent.so then pam_permit.so, PAM_USER a live agent identity
#           (one request to agentd, decided and audited)
#   human   the same stack, PAM_USER a human (PAM_IGNORE, no request)
# Whole process: pamtester SERVICE USER acct_mgmt, P runs each, with the
# stacks put in /etc/pam.d by a bind mount over a copy of it.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
require_root
enter_sandbox "$@"
if ! why=$(install_nss_module); then
	echo "pam bench: $why" >&2
	exit 1
fi
RUNDIR=/run/agentd # the path compiled into the modules (set in a subshell above)
for tool in pamtester; do
	command -v "$tool" >/dev/null || { echo "pam bench: $tool is not installed" >&2; exit 1; }
done
K=${PAM_BENCH_K:-2000}
P=${PAM_BENCH_P:-200}
B="$top_builddir/tests/bench/bench_pam"
MOD="$top_builddir/.libs/pam_agent.so"
SVC=pambench

# The ci purpose allows the benchmark's service.
sed -i "s/services = { /services = { $SVC = \"allow\"; /" "$T/agentd.conf"
grep -q "$SVC = \"allow\"" "$T/agentd.conf"
start_agentd
agent=$(ctl create --purpose ci --ttl 1h --json | jq -r .name)

mkdir -p "$T/pam.d"
echo "account required pam_permit.so" >"$T/pam.d/$SVC-permit"
cat >"$T/pam.d/$SVC" <<EOF
account [success=ok ignore=ignore default=die] $MOD
account required pam_permit.so
EOF
cp -a /etc/pam.d "$T/pam.d.sys"
cp "$T/pam.d/$SVC-permit" "$T/pam.d/$SVC" "$T/pam.d.sys/"
mount --bind "$T/pam.d.sys" /etc/pam.d

us() { awk '{ printf "%.1f", $1 / 1000 }' <<<"$1"; }
field() { sed -E "s/.*$1=([0-9]+).*/\\1/" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# inproc LABEL SERVICE USER: prints one line, leaves p50/p99 in P50/P99 (ns).
inproc() {
	local out
	out=$("$B" "$T/pam.d" "$2" "$3" "$K") || { echo "pam bench: $1: $out" >&2; exit 1; }
	P50=$(field p50_ns "$out")
	P99=$(field p99_ns "$out")
	printf '%-44s p50 %7s us  p99 %7s us  mean %7s us\n' "$1" "$(us "$P50")" "$(us "$P99")" \
		"$(us "$(field mean_ns "$out")")"
}

# whole LABEL SERVICE USER: P pamtester runs timed with $EPOCHREALTIME (no
# fork for the clock); every run must succeed. Leaves P50/P99 in ns.
whole() {
	local i t0 t1 f="$T/times.$2.$3"
	: >"$f"
	for ((i = 0; i < P; i++)); do
		t0=${EPOCHREALTIME/./}
		pamtester -I rhost=192.0.2.7 "$2" "$3" acct_mgmt >/dev/null 2>&1 ||
			{ echo "pam bench: pamtester $2 $3 failed" >&2; exit 1; }
		t1=${EPOCHREALTIME/./}
		echo $(((t1 - t0) * 1000)) >>"$f"
	done
	P50=$(sort -n "$f" | sed -n "$((P / 2 + 1))p")
	P99=$(sort -n "$f" | sed -n "$((P * 99 / 100 + 1))p")
	printf '%-44s p50 %7s us  p99 %7s us\n' "$1" "$(us "$P50")" "$(us "$P99")"
}

echo "== pam_agent account stage on $(nproc) cores; agent $agent (purpose ci), human alice"
echo "-- in process: pam_start_confdir + pam_acct_mgmt + pam_end, $K transactions each"
before=$(audit_count account "identity=\"$agent\"")
inproc "pam_permit only (anchor)" "$SVC-permit" "$agent"
a50=$P50 a99=$P99
inproc "pam_agent + pam_permit, live agent" "$SVC" "$agent"
g50=$P50 g99=$P99
asked=$(($(audit_count account "identity=\"$agent\"") - before))
inproc "pam_agent + pam_permit, human (PAM_IGNORE)" "$SVC" alice
h50=$P50 h99=$P99
echo "agent / anchor: p50 x$(ratio "$g50" "$a50"), p99 x$(ratio "$g99" "$a99");" \
	"human / anchor: p50 x$(ratio "$h50" "$a50"), p99 x$(ratio "$h99" "$a99")"
# Each agent transaction (and the warm-up's) was one decision agentd made
# and audited; none was for the human.
if [ "$asked" -lt "$K" ]; then
	echo "pam bench: agentd audited $asked account decisions for $K agent transactions" >&2
	exit 1
fi
if [ "$(audit_count account 'identity="alice"')" != 0 ]; then
	echo "pam bench: the human's transactions reached agentd" >&2
	exit 1
fi

echo "-- whole process: pamtester -I rhost=192.0.2.7 SERVICE USER acct_mgmt, $P runs each"
whole "pamtester, pam_permit only (anchor)" "$SVC-permit" "$agent"
a50=$P50 a99=$P99
before=$(audit_count account "identity=\"$agent\"")
whole "pamtester, pam_agent + pam_permit, agent" "$SVC" "$agent"
g50=$P50 g99=$P99
asked=$(($(audit_count account "identity=\"$agent\"") - before))
whole "pamtester, pam_agent + pam_permit, human" "$SVC" alice
h50=$P50 h99=$P99
echo "agent / anchor: p50 x$(ratio "$g50" "$a50"), p99 x$(ratio "$g99" "$a99");" \
	"human / anchor: p50 x$(ratio "$h50" "$a50"), p99 x$(ratio "$h99" "$a99")"
if [ "$asked" != "$P" ] || [ "$(audit_count account 'identity="alice"')" != 0 ]; then
	echo "pam bench: pamtester: $asked of $P agent runs reached agentd (human runs must not)" >&2
	exit 1
fi
