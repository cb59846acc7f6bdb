#!/bin/bash
# Bursts (issue 14): durable creates/s with 1 client and with 32 concurrent
# clients, beside the disk's own time for a 4 KiB write + fsync (the floor
# of one durable commit) measured on the same file system in the same run;
# then 200, then 1,000 concurrent `agentctl run -- sleep 1` started at once:
# how many succeed and p50/p99 from launch to the command's start; then the
# useradd + userdel anchor. Inside the test sandbox (private mount, pid and
# IPC namespaces; the uid allocator scans this namespace's /proc).
# OTHER_PROCS=N: N other processes sleep in the sandbox throughout (a busy
# host, as the allocator sees it). ONE=N creates for the one-client row
# (1,000), PER=N per client for the 32-client row (100), RUNS="200 1000".
# Root; `make bench`, or directly:
# top_builddir=$PWD tests/bench/burst_bench.sh
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
require_root
enter_sandbox "$@"
if ! why=$(install_nss_module); then
	echo "burst bench: $why" >&2
	exit 1
fi
RUNDIR=/run/agentd
install_pam_service agentd "$top_srcdir/examples/pam.d/agentd"
sed -i "s/uid_max = $UID_MAX;/uid_max = $((UID_MIN + 65535));/" "$T/agentd.conf"
for _ in $(seq "${OTHER_PROCS:-0}"); do sleep 3600 & done
start_agentd
PY=/usr/bin/python3
B() { "$top_builddir/tests/bench/bench_create" -S "$RUNDIR/agentd.sock" -p ci "$@"; }
ms() { echo $(($(date +%s%N) / 1000000)); }

echo "== burst bench on $(nproc) cores, state on $(df --output=fstype "$T" | tail -1) ($(df --output=source "$T" | tail -1)), $(ls -d /proc/[0-9]* | wc -l) processes"
fsync_us=$("$PY" - "$T/fsync.probe" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
buf = b"\0" * 4096
n = 200
t = time.perf_counter()
for i in range(n):
    os.pwrite(fd, buf, (i % 16) * 4096)
    os.fsync(fd)
print("%.0f" % ((time.perf_counter() - t) / n * 1e6))
PY
)
echo "disk: 4 KiB write + fsync: $fsync_us us  (at most $((1000000 / fsync_us)) serial durable commits/s)"
# Meanwhile, STATUS every 20 ms on a connection of its own: how long
# agentd keeps any request waiting while it creates (its /proc scans
# included, on a busy host).
B --status-until "$T/one.done" >"$T/one.status" 2>&1 &
spid=$!
echo "1 client, 1 request in flight: $(B -n ${ONE:-1000})"
touch "$T/one.done"
wait "$spid" || true
echo "  STATUS on another connection meanwhile: $(cat "$T/one.status")"
C=32 PER=${PER:-100}
t0=$(ms)
pids=()
for i in $(seq $C); do B -n $PER >"$T/b.$i" 2>&1 & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || true; done
t1=$(ms)
fails=$(grep -L "per_sec" "$T"/b.* | wc -l)
echo "$C concurrent clients x $PER creates: $((C * PER * 1000 / (t1 - t0))) creates/s ($((t1 - t0)) ms wall, $fails client(s) failed)"

# Concurrent runs started at once (200, then 1,000; RUNS="..." to choose).
# A run waiting for its command holds no slot of max_connections (64 by
# default): the others are accepted as they come.
mkfifo "$T/gate"
for N in ${RUNS:-200 1000}; do
	if [ "$N" -gt 200 ]; then
		# More at once than the default limit serves quickly: raised, so
		# that every client (and every PAM request of every run) is
		# accepted at once instead of queueing in the listen backlog.
		n=$(audit_count config 'decision="loaded"')
		echo "max_connections = $((2 * N + 64));" >>"$T/agentd.conf"
		kill -HUP "$AGENTD_PID"
		for _ in $(seq 100); do
			[ "$(audit_count config 'decision="loaded"')" -gt "$n" ] && break
			sleep 0.1
		done
		echo "(max_connections raised to $((2 * N + 64)))"
	fi
	rm -rf "$T/r"
	mkdir -m 0777 "$T/r"
	pids=()
	for i in $(seq $N); do
		(
			read -r _ <"$T/gate" || true
			t=$(date +%s%N)
			rc=0
			ctl --timeout 300 run --purpose ci --ttl 5m -- sh -c "date +%s%N >$T/r/s.$i; sleep 1" \
				>/dev/null 2>"$T/r/e.$i" || rc=$?
			echo "$t $rc" >"$T/r/l.$i"
		) &
		pids+=($!)
	done
	sleep $((1 + N / 200))
	exec 8>"$T/gate"
	exec 8>&-
	for p in "${pids[@]}"; do wait "$p" || true; done
	ok=0
	: >"$T/lat"
	for i in $(seq $N); do
		read -r t rc <"$T/r/l.$i"
		if [ "$rc" = 0 ] && [ -s "$T/r/s.$i" ]; then
			ok=$((ok + 1))
			echo $((($(cat "$T/r/s.$i") - t) / 1000)) >>"$T/lat"
		fi
	done
	sort -n "$T/lat" | awk -v ok="$ok" -v n="$N" '{ v[NR] = $1 } END {
		printf "%d concurrent `agentctl run --ttl 5m -- sleep 1`: %d/%d succeeded; launch to command start p50 %.0f ms, p99 %.0f ms\n",
			n, ok, n, v[int(NR * 0.5) + 1] / 1000, v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))] / 1000 }'
	[ "$ok" = "$N" ] || { echo "failures:"; cat "$T"/r/e.* | sort | uniq -c | head -5; }
done

echo "-- anchor: useradd + userdel on a scratch copy of /etc (50 accounts)"
cp -a /etc "$T/etcc"
mount --bind "$T/etcc" /etc
t0=$(ms)
for i in $(seq 20); do useradd -M -N -s /usr/sbin/nologin "benchu$i" && userdel "benchu$i"; done
echo "useradd+userdel: $((($(ms) - t0) / 20)) ms per identity"
exit 0
