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
cgroup_root = "none"; # the host's cgroup tree stays untouched ("auto": <cgroup2>/agentd)
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
ctl() { "$builddir/agentctl/agentctl" -S "$T/run/agentd.sock" "$@"; }


# Audit cost: creates/s with every record going through syslog(3) to a real
# rsyslogd writing a file (as on Debian), beside the same run with a null
# syslog (a socket that reads and drops), on fresh state each round,
# alternating. /dev/log is this namespace's own: a tmpfs /dev with copies of
# the host's nodes and bind mounts of its directories (the host's syslog
# never sees a bench record). `agentd_bench.sh audit` runs only this.
audit_bench() {
	local n=4000 e name mode round sink_pid r
	mkdir "$T/dev"
	mount -t tmpfs -o mode=0755 tmpfs "$T/dev"
	for e in /dev/*; do
		name=${e##*/}
		[ "$name" = log ] && continue
		if [ -d "$e" ] && [ ! -L "$e" ]; then
			mkdir "$T/dev/$name"
			mount --rbind "$e" "$T/dev/$name"
		else
			cp -a "$e" "$T/dev/$name"
		fi
	done
	mount --move "$T/dev" /dev
	mkdir -m 0700 "$T/rsyslog"
	cat >"$T/rsyslog.conf" <<-EOF
	global(workDirectory="$T/rsyslog")
	module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")
	authpriv.* action(type="omfile" file="$T/auth.log")
	EOF
	head -c 32 /dev/urandom >"$T/audit.key"
	echo "-- audit: $n creates per round, records to rsyslogd (a file) vs a null syslog"
	declare -A rate
	for round in 1 2 3 4 5; do
		for mode in rsyslog null; do
			rm -f /dev/log
			if [ "$mode" = rsyslog ]; then
				/usr/sbin/rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rsyslog/pid" &
			else
				python3 -c 'import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
while True:
    s.recv(65536)' &
			fi
			sink_pid=$!
			for _ in $(seq 100); do [ -S /dev/log ] && break; sleep 0.05; done
			rm -rf "$T/state" "$T/run"
			mkdir -m 0700 "$T/state" # one key for all rounds, a new chain each
			install -m 0600 "$T/audit.key" "$T/state/audit.key"
			start_agentd
			r=$(B -n "$n" | sed 's/.*per_sec=//')
			rate[$mode]="${rate[$mode]:-} $r"
			echo "round $round, $mode: $r creates/s"
			kill "$agentd_pid"; wait "$agentd_pid" || true; agentd_pid=""
			kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true
		done
	done
	med() { tr ' ' '\n' | grep . | sort -n | sed -n 3p; }
	local a b
	a=$(med <<<"${rate[rsyslog]}")
	b=$(med <<<"${rate[null]}")
	echo "records in auth.log: $(grep -c 'agentd\[[0-9]*\]: v=2 ' "$T/auth.log"), verify: $("$builddir/agentctl/agentctl" audit verify --key "$T/audit.key" "$T/auth.log" | tail -1)"
	echo "median creates/s: rsyslog $a, null syslog $b; audit cost $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f%%", (b - a) * 100 / b }')"
}
if [ "${1:-}" = audit ]; then
	audit_bench
	exit 0
fi

# Create throughput, one client, one request in flight: what the uid
# allocator costs per create. The anchor, from the same run: one full scan
# of every /proc/PID/status of the host (what the allocator did per create
# before it cached the scan for 50 ms), and the host's process count.
# `agentd_bench.sh create` runs only this.
create_bench() {
	local nproc t0 i scan pids=(/proc/[0-9]*)
	nproc=${#pids[@]}
	t0=$(date +%s%N)
	for i in 1 2 3 4 5 6 7 8 9 10; do cat /proc/[0-9]*/status >/dev/null 2>&1 || true; done
	scan=$(( ($(date +%s%N) - t0) / 10000 ))
	echo "-- create throughput (1 client), host with $nproc processes; anchor: one /proc status scan by cat: $scan us"
	start_agentd
	B -n 500 >/dev/null
	for i in 1 2 3; do echo "round $i: $(B -n 3000)"; done
	kill "$agentd_pid"; wait "$agentd_pid" || true; agentd_pid=""
}
if [ "${1:-}" = create ]; then
	create_bench
	exit 0
fi

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
audit_bench

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
