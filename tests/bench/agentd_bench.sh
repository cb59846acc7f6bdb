#!/bin/bash
# agentd benchmarks, with the anchor (useradd + userdel) measured in the same
# run. Run from the build directory as root: `make bench`.
#
# Everything happens in a private mount namespace on scratch files; the
# host's /etc, /run and users are untouched. No pid namespace: agentd's uid
# allocator scans the host's real /proc, as it would in production.
set -euo pipefail

builddir=${top_builddir:-$PWD}
if [ "$(id -u)" != 0 ]; then
	echo "bench: needs root (mount namespace, agentd runs as root)" >&2
	exit 1
fi
if [ -z "${AGENTD_BENCH_NS:-}" ]; then
	exec env AGENTD_BENCH_NS=1 unshare --mount --propagation private "$0" "$@"
fi

T=$(mktemp -d -p /var/tmp agentd-bench.XXXXXX)
agentd_pid=""
cleanup() {
	[ -n "$agentd_pid" ] && kill "$agentd_pid" 2>/dev/null && wait "$agentd_pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

ms() { echo $(( $(date +%s%N) / 1000000 )); } # (mawk's printf %d stops at 2^31)
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$agentd_pid/status"; }

cat > "$T/agentd.conf" <<CONF
uid_min = 1879048192; uid_max = 1879113727;
default_ttl = "1h"; max_ttl = "8h"; home_base = "$T/home"; kill_grace = "1s";
purposes = ( { name = "bench"; home = "none"; } );
CONF
chmod 0644 "$T/agentd.conf"

start_agentd() {
	"$builddir/agentd/agentd" -c "$T/agentd.conf" --state-dir "$T/state" \
		--runtime-dir "$T/run" 2>"$T/agentd.err" &
	agentd_pid=$!
	for _ in $(seq 100); do [ -S "$T/run/agentd.sock" ] && return 0; sleep 0.1; done
	echo "bench: agentd did not start:" >&2; cat "$T/agentd.err" >&2; exit 1
}
B() { "$builddir/tests/bench/bench_create" -S "$T/run/agentd.sock" "$@"; }
ctl() { "$builddir/agentd/agentctl" -S "$T/run/agentd.sock" "$@"; }

echo "== agentd $(ctl --version 2>/dev/null || true) on $(nproc) cores, state in $(df --output=fstype "$T" | tail -1)"
start_agentd
echo "-- create through the socket, durable commit included"
echo "at 0 live:       $(B -n 1000)"
B -n 9000 >/dev/null
echo "rss at 10,000 live: $(rss_kb) kB"
echo "at 10,000 live:  $(B -n 1000)"
B -n $((65536 - 11000 - 10000)) >/dev/null
echo "at 55,536 live: $(B -n 10000 --names "$T/names")"
echo "rss at 65,536 live: $(rss_kb) kB  (status: $(ctl status --json | jq -c '{live,quarantined}'))"
t0=$(ms)
echo "revoke 10,000:   $(B --revoke-from "$T/names")"
while :; do
	q=$(ctl status --json | jq .quarantined)
	[ "$q" -ge 10000 ] && break
	[ $(( $(ms) - t0 )) -gt 600000 ] && { echo "bench: reaping did not finish" >&2; exit 1; }
	sleep 0.2
done
echo "retire 10,000 (first revoke until every uid reaped and quarantined): $(( $(ms) - t0 )) ms"
kill "$agentd_pid"; wait "$agentd_pid" || true; agentd_pid=""

echo "-- anchor: useradd + userdel on a scratch copy of /etc"
# useradd replaces /etc/passwd by rename, so the whole directory is copied
# and bind-mounted (inside this namespace only).
cp -a /etc "$T/etc"
mount --bind "$T/etc" /etc
anchor() { # $1 accounts present, $2 pairs timed
	local i t0
	t0=$(ms)
	for i in $(seq "$2"); do
		useradd -M -N -s /usr/sbin/nologin "benchu$i" && userdel "benchu$i"
	done
	echo "useradd+userdel with $1 accounts: $(( ($(ms) - t0) / $2 )) ms per identity"
}
have=$(wc -l < /etc/passwd)
for i in $(seq $((50 - have))); do useradd -M -N -s /usr/sbin/nologin "fill$i"; done
anchor 50 20
awk -v n=10000 'BEGIN { for (i = 0; i < n; i++) printf "bulk%d:x:%d:100::/nonexistent:/usr/sbin/nologin\n", i, 200000 + i }' >> /etc/passwd
awk -v n=10000 'BEGIN { for (i = 0; i < n; i++) printf "bulk%d:!:19000::::::\n", i }' >> /etc/shadow
anchor 10000 5
