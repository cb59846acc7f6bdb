#!/bin/bash
# A syslog that stops reading never stops agentd. The private /dev/log is
# read by a small reader of this test's (python3), which writes what it
# receives as rsyslog's traditional format does; stopping it (SIGSTOP) is a
# syslog whose socket queue fills, as rsyslogd's does behind a blocked
# forward. While it is stopped (about 10 s): requests are answered, a revoke
# kills, a TTL expiry kills before the stall ends, and the records that did
# not fit wait in $statedir/audit.spill. Once it reads again, every record
# agentd emitted (its foreground log has them all) arrives, in order, and
# `agentctl audit verify` finds no gap. Then the same across a restart:
# agentd stopped during a stall leaves its records spilled and sends them
# first when it starts again.
#
# Inside the sandbox (lib.sh), with a private /dev (as in audit.sh): the
# host's syslog never sees a record. Only the reader and agentd, both
# started here, are ever signalled.
. "$(dirname "$0")/lib.sh"
require_root
if ! command -v python3 >/dev/null; then
	echo "skip: python3 is not installed (the test's syslog reader)"
	exit 77
fi
enter_sandbox "$@"

# ------------------------------------------------------------ private /dev
private_dev

# ------------------------------------------------------------ the reader
cat >"$T/reader.py" <<'EOF'
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "a", buffering=1) as f:
    while True:
        d = s.recv(65536).decode("ascii", "replace")
        if d.startswith("<") and ">" in d:
            d = d[d.index(">") + 1:]
        # "Mmm dd hh:mm:ss agentd[PID]: MSG" -> with a host name, as rsyslog
        f.write(d[:15] + " testhost " + d[16:] + "\n")
EOF
READER_PID=""
start_reader() {
	rm -f /dev/log
	python3 "$T/reader.py" /dev/log "$T/syslog.txt" 2>>"$T/reader.err" &
	READER_PID=$!
	wait_for 10 test -S /dev/log || { cat "$T/reader.err"; exit 1; }
}
stop_reader() {
	if [ -n "$READER_PID" ]; then
		kill -KILL "$READER_PID" 2>/dev/null || true
		wait "$READER_PID" 2>/dev/null || true
		READER_PID=""
	fi
}
trap 'stall_rc=$?; set +e; stop_reader; (exit $stall_rc); sandbox_exit' EXIT
stalled() { [ "$(ps -o stat= -p "$READER_PID" | cut -c1)" = T ]; }
start_reader

# The records in agentd's foreground log and in what syslog received.
records_emitted() { grep -o 'v=2 seq=.*' "$T/agentd.log"; }
records_received() { grep -o 'v=2 seq=.*' "$T/syslog.txt"; }
all_arrived() { [ "$(records_emitted)" = "$(records_received)" ]; }
spill="$T/state/audit.spill"

start_agentd
check "the reader receives agentd's records" wait_for 10 grep -q 'event="ready"' "$T/syslog.txt"

# ------------------------------------------------------------ the stall
out=$(ctl create --purpose ci --ttl 6s --json)
short=$(jq -r .name <<<"$out")
spawn_as_uid "$(jq -r .uid <<<"$out")" sleep 300
p_short=$SPAWNED
out=$(ctl create --purpose ci --json)
long=$(jq -r .name <<<"$out")
spawn_as_uid "$(jq -r .uid <<<"$out")" sleep 300
p_long=$SPAWNED

kill -STOP "$READER_PID"
stall_start=$SECONDS
# More records than the socket's queue and agentd's memory hold: requests
# until the spill file appears (how many that takes is the host's socket
# buffer size), then 20 more. Each is a create mallory may not make: refused
# and audited, answered at once, and no uid of the small range is used up.
stall_creates() {
	local extra=20 rc
	n_tried=0 n_ok=0
	while [ "$n_tried" -lt 5000 ] && { [ ! -s "$spill" ] || [ "$extra" -gt 0 ]; }; do
		[ -s "$spill" ] && extra=$((extra - 1))
		n_tried=$((n_tried + 1))
		rc=0
		timeout 5 setpriv --reuid=2903 --regid=2903 --clear-groups "$AGENTCTL" \
			-S "$RUNDIR/agentd.sock" create --purpose ci >/dev/null 2>&1 || rc=$?
		[ "$rc" = 1 ] && n_ok=$((n_ok + 1)) # refused: answered (3 or 124: not)
	done
}
stall_creates
check "every request answered (refused) while syslog is stalled ($n_ok of $n_tried)" [ "$n_ok" = "$n_tried" ]
check "records that syslog does not take are spilled" test -s "$spill"
check "revoke answers during the stall" timeout 5 "$AGENTCTL" -S "$RUNDIR/agentd.sock" revoke "$long"
check "the revoked identity's process is killed" wait_gone "$p_long" 5
check "the expiring identity's process is killed" wait_gone "$p_short" 15
check "... before the stall ends" stalled
check "status answers during the stall" timeout 5 "$AGENTCTL" -S "$RUNDIR/agentd.sock" status
check "the expiry is recorded (in agentd's own log)" \
	grep -q "event=\"retire\" identity=\"$short\".*reason=\"expired\"" "$T/agentd.log"
check "syslog has not seen it yet" bash -c "! grep -q 'identity=\"$short\".*reason=\"expired\"' '$T/syslog.txt'"
while [ $((SECONDS - stall_start)) -lt 10 ]; do sleep 0.5; done
check "still stalled after 10 s" stalled

kill -CONT "$READER_PID"
check "the spill file is sent and removed" wait_for 15 test ! -e "$spill"
check "every record arrives, in order" wait_for 10 all_arrived
if ! all_arrived; then
	diff <(records_emitted) <(records_received) | head -20
fi
out=$("$AGENTCTL" audit verify --key "$T/state/audit.key" "$T/syslog.txt" 2>&1) || true
check "audit verify finds no gap" matches "$out" ' 0 finding\(s\)'
echo "# $out"

# ------------------------------------------------------------ across a restart
kill -STOP "$READER_PID"
stall_creates
check "more requests answered while syslog is stalled ($n_ok of $n_tried)" [ "$n_ok" = "$n_tried" ]
stop_agentd
check "a stop during a stall leaves the records spilled" test -s "$spill"
kill -CONT "$READER_PID"
start_agentd
check "they are sent at the next start" wait_for 15 test ! -e "$spill"
stop_agentd
check "every record arrives, in order, after the restart" wait_for 10 all_arrived
if ! all_arrived; then
	diff <(records_emitted) <(records_received) | head -20
fi
seqs=$(records_received | sed -E 's/^v=2 seq=([0-9]+) .*/\1/')
check "no seq out of order" [ "$seqs" = "$(sort -n <<<"$seqs")" ]
out=$("$AGENTCTL" audit verify --key "$T/state/audit.key" "$T/syslog.txt" 2>&1) || true
check "audit verify finds no gap after the restart" matches "$out" ' 0 finding\(s\)'
echo "# $out"
