#!/bin/bash
# The syslog-stall target: with /dev/log's reader stopped for STALL seconds
# (default 60), identities expiring and revoked during the stall are killed
# as fast as with syslog reading (the anchor, same run, same machine); after
# the stall every record arrives and `agentctl audit verify` finds no gap.
# Prints, for both phases, how late each process died after its deadline
# (expiry: TTL; revoke: the request), p50 and max over N identities (default
# 10 of each), then the time the backlog took to arrive.
#
# Run as root from the build directory (make bench); inside a private mount
# and pid namespace (lib.sh), with a private /dev/log read by a small
# python3 reader of this script's, stopped with SIGSTOP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
require_root
command -v python3 >/dev/null || { echo "audit stall bench: needs python3" >&2; exit 1; }
enter_sandbox "$@"
STALL=${STALL:-60}
N=${N:-10}

private_dev
cat >"$T/reader.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        d = s.recv(65536).decode("ascii", "replace")
        d = d[d.index(">") + 1:] if d.startswith("<") else d
        f.write(d[:15] + " benchhost " + d[16:] + "\n")
EOF
python3 "$T/reader.py" /dev/log "$T/syslog.txt" &
READER=$!
trap 'rc=$?; set +e; kill -KILL $READER 2>/dev/null; wait $READER 2>/dev/null; (exit $rc); sandbox_exit' EXIT
wait_for 10 test -S /dev/log
start_agentd

ms() { echo $(($(date +%s%N) / 1000000)); }
gone() { # PID: not running, or a zombie
	local st
	[ -r "/proc/$1/stat" ] || return 0
	read -r _ _ st _ <"/proc/$1/stat" 2>/dev/null || return 0
	[ "$st" = Z ]
}
# phase LABEL: N identities expiring (TTL 4..4+N/2 s; the deadline is their
# expires, whole seconds) and N revoked 0.2 s apart, one process each;
# prints how late each process died.
phase() {
	local label=$1 i out
	local -a pid deadline kind name dead
	# The revoked ones first: the TTLs start ticking last.
	for ((i = 2 * N - 1; i >= 0; i--)); do
		if ((i < N)); then
			out=$(ctl create --purpose research --ttl "$((4 + i / 2))s" --json)
			deadline[i]=$(($(date -d "$(jq -r .expires <<<"$out")" +%s) * 1000))
			kind[i]=expiry
		else
			out=$(ctl create --purpose research --ttl 1h --json)
			kind[i]=revoke
		fi
		spawn_as_uid "$(jq -r .uid <<<"$out")" sleep 600
		pid[i]=$SPAWNED
		name[i]=$(jq -r .name <<<"$out")
	done
	: >"$T/revoked"
	(
		for ((i = N; i < 2 * N; i++)); do
			sleep 0.2
			echo "$i $(ms)" >>"$T/revoked"
			ctl revoke "${name[i]}" >/dev/null
		done
	) &
	local left=$((2 * N)) t
	while ((left > 0)); do
		t=$(ms)
		for ((i = 0; i < 2 * N; i++)); do
			[ -n "${dead[i]:-}" ] && continue
			if gone "${pid[i]}"; then
				dead[i]=$t
				left=$((left - 1))
			fi
		done
		sleep 0.02
	done
	wait $!
	while read -r i t; do deadline[i]=$t; done <"$T/revoked"
	: >"$T/late"
	for ((i = 0; i < 2 * N; i++)); do
		echo "${kind[i]} $((dead[i] - deadline[i]))" >>"$T/late"
	done
	for k in expiry revoke; do
		awk -v k="$k" '$1 == k { print $2 }' "$T/late" | sort -n |
			awk -v k="$k" -v l="$label" '{ v[NR] = $1 } END {
			printf "%-30s %-7s killed after deadline: p50 %5d ms  max %5d ms  (n=%d)\n",
				l, k, v[int(NR / 2) + 1], v[NR], NR }'
	done
}

echo "-- syslog stall: $N expiries and $N revokes per phase, same run"
phase "anchor: syslog reading"
kill -STOP $READER
t_stall=$(ms)
phase "syslog stalled (${STALL} s)"
while (($(ms) - t_stall < STALL * 1000)); do sleep 0.5; done
spill=$(stat -c %s "$T/state/audit.spill" 2>/dev/null || echo 0)
kill -CONT $READER
t0=$(ms)
emitted=$(grep -c 'v=2 seq=' "$T/agentd.log")
wait_for 60 bash -c "[ \$(grep -c 'v=2 seq=' '$T/syslog.txt') -ge $emitted ]"
echo "backlog after the stall: $emitted records, spill file ${spill} bytes, all received $(($(ms) - t0)) ms after the reader resumed"
"$AGENTCTL" audit verify --key "$T/state/audit.key" "$T/syslog.txt"
