#!/bin/bash
# Fleet audit end to end: two agentd hosts forward their records through a
# real rsyslogd each (omfwd over TCP) to a collector's rsyslogd, which
# writes both chains, interleaved, into one file. `agentctl audit verify
# --key-dir` checks each host's chain with its own key; a record deleted
# from one host's stream is reported with that host and the line, and the
# other host stays clean. `audit trace --key-dir` tells an identity's story
# with each record's host.
#
# Network: the whole test runs in a network namespace of its own (the
# collector's), and each host in a further network + UTS + mount namespace
# (its own host name, its own /dev/log), joined to the collector by a veth
# pair with addresses from 192.0.2.0/24 (TEST-NET-1, never routed). Nothing
# is configured outside namespaces this test created; every process it
# starts dies with its pid namespace (lib.sh).
. "$(dirname "$0")/lib.sh"
require_root
for tool in rsyslogd ip nsenter hostname; do
	if ! PATH=$PATH:/usr/sbin command -v "$tool" >/dev/null; then
		echo "skip: $tool is not installed (./bootstrap installs it)"
		exit 77
	fi
done
if [ -z "${FLEET_NETNS:-}" ]; then
	if ! unshare --net true 2>/dev/null; then
		echo "skip: cannot create a network namespace here"
		exit 77
	fi
	FLEET_NETNS=1 exec unshare --net "$(readlink -f "$0")" "$@"
fi
enter_sandbox "$@"
export PATH=$PATH:/usr/sbin
printf 'module(load="imtcp")\ninput(type="imtcp" port="10514")\n*.* action(type="omfile" file="/dev/null")\n' >"$T/probe.conf"
if ! rsyslogd -N1 -f "$T/probe.conf" >/dev/null 2>&1; then
	echo "skip: rsyslog's imtcp module is not installed"
	exit 77
fi
if ! ip link add fleet-probe0 type veth peer name fleet-probe1 2>/dev/null; then
	echo "skip: cannot create veth pairs in a private network namespace"
	exit 77
fi
ip link del fleet-probe0
ip link set lo up

# ------------------------------------------------------------ private /dev
# As in audit.sh: a tmpfs with copies of the device nodes, so /dev/log is
# ours; each host's mount namespace binds its own rsyslogd's socket there.
private_dev
touch /dev/log

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait_gone "$p" 10 || kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}
trap 'fleet_rc=$?; set +e; cleanup; (exit $fleet_rc); sandbox_exit' EXIT

# ------------------------------------------------------------ collector
PORT=10514
mkdir -m 0700 "$T/collector"
cat >"$T/collector.conf" <<EOF
global(workDirectory="$T/collector")
module(load="imtcp")
input(type="imtcp" port="$PORT" ruleset="fleet")
ruleset(name="fleet") {
	action(type="omfile" file="$T/fleet.log")
}
EOF
rsyslogd -n -f "$T/collector.conf" -i "$T/collector/pid" 2>"$T/collector.err" &
PIDS+=($!)

# ------------------------------------------------------------ hosts
declare -A HOLDER AGENTD_OF
in_host() { nsenter -t "${HOLDER[$1]}" --net --uts --mount "${@:2}"; }
# The same as a process of its own: run in the background, $! is the
# command's pid (nsenter execs it), not a subshell's that would outlive
# a signal meant for the command.
in_host_exec() { exec nsenter -t "${HOLDER[$1]}" --net --uts --mount "${@:2}"; }
own_netns() { test "$(readlink "/proc/$1/ns/net")" != "$(readlink /proc/self/ns/net)"; }
n=0
for h in web1 web2; do
	n=$((n + 1))
	d="$T/$h"
	mkdir -p "$d/rsyslog" "$d/home"
	chmod 0700 "$d/rsyslog"
	# the host's namespaces, kept by a process that only sleeps
	unshare --net --uts --mount --propagation private sleep 600 &
	HOLDER[$h]=$!
	PIDS+=($!)
	wait_for 5 own_netns "${HOLDER[$h]}"
	# collector side 192.0.2.(4n-3), host side 192.0.2.(4n-2), a /30 each
	ip link add "c-$h" type veth peer name eth0 netns "${HOLDER[$h]}"
	ip addr add "192.0.2.$((4 * n - 3))/30" dev "c-$h"
	ip link set "c-$h" up
	in_host $h hostname "$h"
	in_host $h ip addr add "192.0.2.$((4 * n - 2))/30" dev eth0
	in_host $h ip link set eth0 up
	in_host $h ip link set lo up
	cat >"$d/rsyslog.conf" <<EOF
global(workDirectory="$d/rsyslog")
module(load="imuxsock" SysSock.Name="$d/log.sock" SysSock.RateLimit.Interval="0")
if \$programname == "agentd" and \$syslogfacility-text == "authpriv" then {
	action(type="omfwd" target="192.0.2.$((4 * n - 3))" port="$PORT" protocol="tcp"
	       queue.type="LinkedList" queue.filename="fwd-agentd" queue.saveOnShutdown="on"
	       action.resumeRetryCount="-1")
}
authpriv.* action(type="omfile" file="$d/auth.log")
EOF
	in_host $h rsyslogd -n -f "$d/rsyslog.conf" -i "$d/rsyslog/pid" 2>"$d/rsyslogd.err" &
	PIDS+=($!)
	if ! wait_for 10 test -S "$d/log.sock"; then
		cat "$d/rsyslogd.err"
		not_ok "$h: rsyslogd listens"
		exit 1
	fi
	in_host $h mount --bind "$d/log.sock" /dev/log
	# its agentd: its own state, socket and uid range
	cat >"$d/agentd.conf" <<EOF
uid_min = $((UID_MIN + 128 * (n - 1))); uid_max = $((UID_MIN + 128 * n - 1));
default_ttl = "15m"; max_ttl = "8h"; uid_quarantine = "24h";
kill_grace = "1s"; home_base = "$d/home";
cgroup_root = "none"; # no processes here; "auto" would take the host's <cgroup2>/agentd
purposes = ( { name = "research"; home = "none"; } );
delegators = ( { who = [ "orchestrator" ]; purposes = [ "*" ]; may_act_for = true; } );
EOF
	chmod 0644 "$d/agentd.conf"
	in_host_exec $h "$AGENTD" -f -c "$d/agentd.conf" --state-dir "$d/state" --runtime-dir "$d/run" \
		2>>"$d/agentd.log" &
	AGENTD_OF[$h]=$!
	PIDS+=($!)
	if ! wait_for 10 "$AGENTCTL" -S "$d/run/agentd.sock" status >/dev/null 2>&1; then
		cat "$d/agentd.log"
		not_ok "$h: agentd starts"
		exit 1
	fi
done
check "web1 and web2 have their own host names" \
	test "$(in_host web1 hostname)/$(in_host web2 hostname)" = web1/web2
check "web1 reaches the collector over its veth only" \
	in_host web1 ip route get 192.0.2.1
check "web1 cannot reach web2's collector address (separate links)" \
	bash -c "! nsenter -t ${HOLDER[web1]} --net ip route get 192.0.2.5 >/dev/null 2>&1"

on() { # HOST agentctl-args...: as the orchestrator, against HOST's agentd
	setpriv --reuid="$(uid_of orchestrator)" --regid="$(uid_of orchestrator)" --init-groups \
		"$AGENTCTL" -S "$T/$1/run/agentd.sock" "${@:2}"
}
count_at_collector() { # HOST
	grep -c " $1 agentd\[[0-9]*\]: v=2 " "$T/fleet.log" 2>/dev/null || true
}
count_at_host() { # HOST
	grep -c '^v=2 ' "$T/$1/agentd.log" || true
}
all_arrived() { test "$(count_at_collector "$1")" = "$(count_at_host "$1")"; } # HOST

# ------------------------------------------------------------ the story
# Requests alternate between the hosts, each waiting for the collector to
# have the other's records, so the chains interleave in the collector file.
declare -A FIRST
for i in 1 2 3 4; do
	for h in web1 web2; do
		name=$(on $h create --purpose research --for alice --ttl 10m --task "job $i" --json |
			jq -r .name)
		[ "$i" = 1 ] && FIRST[$h]=$name
		[ "$i" = 3 ] && on $h revoke "$name" --reason "job $i done" >/dev/null
		wait_for 10 all_arrived $h || true
	done
done
for h in web1 web2; do
	kill -TERM "${AGENTD_OF[$h]}"
	check "$h: agentd stops" wait_gone "${AGENTD_OF[$h]}" 20
done
for h in web1 web2; do
	check "$h: every record reached the collector (the stop record too)" \
		wait_for 10 all_arrived $h
	check "$h: its stop record is there" \
		grep -qE " $h agentd\[[0-9]+\]: v=2 seq=[0-9]+ time=\"[^\"]+\" event=\"stop\"" "$T/fleet.log"
done
hosts_in_order=$(grep -o ' web[12] agentd\[' "$T/fleet.log" | cut -c2-5 | uniq | wc -l)
check "the collector file interleaves the two chains (host changes $hosts_in_order times)" \
	test "$hosts_in_order" -ge 8
check "the collector file is RFC 3339 syslog with each host's name" \
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[+-][0-9:]+ web2 agentd\[[0-9]+\]: v=2 seq=1 ' \
	"$T/fleet.log"

# ------------------------------------------------------------ verify
mkdir -m 0700 "$T/keys"
cp -p "$T/web1/state/audit.key" "$T/keys/web1.key"
cp -p "$T/web2/state/audit.key" "$T/keys/web2.key"
V() { "$AGENTCTL" audit verify --key-dir "$T/keys" "$@"; }
n1=$(count_at_host web1)
n2=$(count_at_host web2)
out=$(V "$T/fleet.log") && rc=0 || rc=$?
echo "$out" | sed 's/^/# /'
check "verify --key-dir: exit 0" test "$rc" = 0
check "verify: web1's chain verified whole" \
	grep -qx "host web1: $n1 record(s) verified, seq 1-$n1; 0 finding(s), 0 note(s)" <<<"$out"
check "verify: web2's chain verified whole" \
	grep -qx "host web2: $n2 record(s) verified, seq 1-$n2; 0 finding(s), 0 note(s)" <<<"$out"
check "verify: the sum" \
	grep -qx "2 host(s), $((n1 + n2)) record(s) verified; 0 finding(s)" <<<"$out"
rc=0
"$AGENTCTL" audit verify --key "$T/keys/web1.key" "$T/fleet.log" >"$T/onekey.out" || rc=$?
sed 's/^/# /' "$T/onekey.out"
check "verify with one host's key: the other host's records fail it (exit 1)" \
	test "$rc" = 1 -a "$(grep -cE ': (foreign|altered): ' "$T/onekey.out")" = "$n2"
check "verify with one key on a collector's file: says to use --key-dir" \
	grep -q '^the input holds records of several hosts (web1, web2...).*use --key-dir DIR$' "$T/onekey.out"

# ------------------------------------------------------------ a deletion
mapfile -t L2 < <(grep -n ' web2 agentd\[[0-9]*\]: v=2 ' "$T/fleet.log" | cut -d: -f1)
# web2's 6th record goes; its sequence resumes at its 7th, one line up
sed "${L2[5]}d" "$T/fleet.log" >"$T/deleted.log"
want=$((L2[6] - 1))
out=$(V "$T/deleted.log") && rc=0 || rc=$?
echo "$out" | sed 's/^/# /'
check "deleted record: exit 1" test "$rc" = 1
check "deleted record: a gap in web2 at line $want, where its sequence resumes" \
	grep -qE "^$T/deleted.log:$want: web2: gap: seq 6-6 missing \\(1 record\\(s\\)\\) before seq 7" <<<"$out"
check "deleted record: the only finding" \
	test "$(grep -cE '^[^ ]+:[0-9]+: [^ ]+: [a-z-]+: ' <<<"$out")" = 1
check "deleted record: web1 clean" grep -qE "^host web1: $n1 record\\(s\\) verified, .* 0 finding\\(s\\)" <<<"$out"
check "deleted record: web2 one finding" grep -qE "^host web2: $((n2 - 1)) record\\(s\\) verified, .* 1 finding\\(s\\)" <<<"$out"
check "deleted record: summed up per host" \
	grep -qx "2 host(s), $((n1 + n2 - 1)) record(s) verified; 1 finding(s) in 1 host(s)" <<<"$out"
json=$(V --json "$T/deleted.log") && rc=0 || rc=$?
check "verify --json: the same exit" test "$rc" = 1
check "verify --json: one object, per host, the gap in web2's findings" test "$(jq -r \
	'[.hosts[] | .host + "=" + (.verified|tostring) + "/" + ([.findings[].kind] | join(","))] | join(" ")' \
	<<<"$json")" = "web1=$n1/ web2=$((n2 - 1))/gap"
check "verify --json: the totals" test "$(jq -c '[.records_verified, .findings, .ok]' <<<"$json")" = \
	"[$((n1 + n2 - 1)),1,false]"

# ------------------------------------------------------------ an unknown host
mkdir -m 0700 "$T/keys1"
cp -p "$T/keys/web1.key" "$T/keys1/"
out=$("$AGENTCTL" audit verify --key-dir "$T/keys1" "$T/fleet.log") && rc=0 || rc=$?
check "no key for web2: exit 1" test "$rc" = 1
check "no key for web2: reported at its first record, with the key it looked for" \
	grep -qE "^$T/fleet.log:${L2[0]}: web2: unknown-host: $n2 record\\(s\\) not verified: no usable key $T/keys1/web2.key \\(missing\\)" <<<"$out"
check "no key for web2: web1 still verified" \
	grep -qE "^host web1: $n1 record\\(s\\) verified, .* 0 finding\\(s\\)" <<<"$out"
chmod 0644 "$T/keys1/web1.key"
out=$("$AGENTCTL" audit verify --key-dir "$T/keys1" "$T/fleet.log") || true
check "a key readable by others is refused, not used" \
	grep -qE "web1: unknown-host: .*not a regular file owned by root" <<<"$out"
chmod 0777 "$T/keys1"
expect_exit 1 "a key directory others may write to is refused" \
	"$AGENTCTL" audit verify --key-dir "$T/keys1" "$T/fleet.log"
expect_exit 2 "--key and --key-dir together: a usage error" \
	"$AGENTCTL" audit verify --key-dir "$T/keys" --key "$T/keys/web1.key" "$T/fleet.log"

# ------------------------------------------------------------ trace
A=${FIRST[web1]}
out=$("$AGENTCTL" audit trace "$A" --key-dir "$T/keys" "$T/fleet.log") || true
echo "$out" | sed 's/^/# /'
check "trace --key-dir: the identity's host" grep -qx "hosts:     web1" <<<"$out"
check "trace --key-dir: each record authenticated with its host's key" \
	grep -q "each authenticated" <<<"$out"
check "trace --key-dir: its create, with the host" grep -qE "^  web1 +[^ ]+ +[0-9]+  create " <<<"$out"
json=$("$AGENTCTL" audit trace "$A" --key-dir "$T/keys" --host web1 --json "$T/fleet.log")
check "trace --host --json: records carry their host and are authentic" \
	test "$(jq -r '[.records[] | select(.host == "web1" and .authentic)] | length' <<<"$json")" = \
	"$(jq -r '.records | length' <<<"$json")"
expect_exit 1 "trace --host of the other host: no record about it there" \
	"$AGENTCTL" audit trace "$A" --key-dir "$T/keys" --host web2 "$T/fleet.log"
