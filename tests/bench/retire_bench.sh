#!/bin/bash
# Retirement at scale: N identities (default 500, then 2000; or the sizes
# given as arguments), each with one process.
#  - expiry: all with the same deadline; time from the deadline until the
#    last of their processes is gone;
#  - revoke: N revokes on one connection (REVOKE_BATCH names a request,
#    default 1, at most 64); time from the first revoke until every process
#    is gone.
# "Gone" is when their parent (one perl, which reaps each as it dies) has
# reaped the last of them: nothing polls /proc while the kills run.
# Anchor, same run, same measurement: `kill -KILL` of N processes by pid.
# Run as root from the build directory (`make bench`). Everything happens
# in private mount, pid and IPC namespaces on scratch files: the host's
# /etc, /run, users and processes are untouched.
set -euo pipefail

builddir=${top_builddir:-$PWD}
if [ "$(id -u)" != 0 ]; then
	echo "retire_bench: needs root (namespaces, agentd runs as root)" >&2
	exit 1
fi
if [ -z "${AGENTD_BENCH_NS:-}" ]; then
	exec env AGENTD_BENCH_NS=1 unshare --mount --pid --ipc --fork --mount-proc \
		--propagation private "$0" "$@"
fi
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(500 2000)

UID_MIN=1879048192
UID_MAX=1879113727
T=$(mktemp -d -p /var/tmp agentd-retire-bench.XXXXXX)
agentd_pid=""
cleanup() {
	set +e
	[ -n "$agentd_pid" ] && kill "$agentd_pid" 2>/dev/null && wait "$agentd_pid" 2>/dev/null
	kill -KILL -1 2>/dev/null || true # only this pid namespace's processes
	if [ -n "$CG" ]; then
		for d in "$CG"/*/; do
			[ -d "$d" ] || continue
			echo 1 >"$d/cgroup.kill" 2>/dev/null || true
			for _ in $(seq 100); do rmdir "$d" 2>/dev/null && break; sleep 0.1; done
		done
		rmdir "$CG" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT
# The bench's own cgroup2 subtree (named like $T), never the host's tree:
# identities are contained as on a host with cgroup v2.
CG=""
for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
	if [ "$(stat -fc %T "$m" 2>/dev/null)" = cgroup2fs ] && mkdir "$m/${T##*/}" 2>/dev/null; then
		CG="$m/${T##*/}"
		break
	fi
done

ms() { echo $(($(date +%s%N) / 1000000)); }
B() { "$builddir/tests/bench/bench_create" -S "$T/run/agentd.sock" "$@"; }
ctl() { "$builddir/agentctl/agentctl" -S "$T/run/agentd.sock" "$@"; }

# Processes (not zombies) with a uid in the agent range, or of the anchor.
alive() {
	{ cat /proc/[0-9]*/status 2>/dev/null || true; } | awk -v lo="$UID_MIN" -v hi="$UID_MAX" '
		/^Name:/ { st = "" }
		/^State:/ { st = $2 }
		/^Uid:/ { if (st != "Z" && st != "X" && $2 >= lo && $2 <= hi) n++ }
		END { print n + 0 }'
}
# The time (ms) at which the last process of the last spawn_all was
# reaped: its parent waits for them and writes it. No polling of /proc
# while the kills run: the measurement does not compete with them.
wait_gone() {
	while [ ! -s "$T/gone" ]; do sleep 0.02; done
	cat "$T/gone"
}
cat >"$T/agentd.conf" <<CONF
uid_min = $UID_MIN; uid_max = $UID_MAX;
default_ttl = "1h"; max_ttl = "8h"; home_base = "$T/home"; kill_grace = "1s";
cgroup_root = "${CG:-none}"; sweep_dirs = [ ];
max_live = 20000; max_live_per_caller = 20000;
purposes = ( { name = "bench"; home = "none"; } );
CONF
chmod 0644 "$T/agentd.conf"
mkdir -p "$T/home"

start_agentd() {
	rm -rf "$T/state" "$T/run"
	"$builddir/agentd/agentd" -f -c "$T/agentd.conf" --state-dir "$T/state" --init-state \
		--runtime-dir "$T/run" 2>"$T/agentd.err" &
	agentd_pid=$!
	for _ in $(seq 100); do [ -S "$T/run/agentd.sock" ] && return 0; sleep 0.1; done
	echo "retire_bench: agentd did not start:" >&2
	cat "$T/agentd.err" >&2
	exit 1
}
stop_agentd() {
	kill "$agentd_pid" 2>/dev/null || true
	wait "$agentd_pid" 2>/dev/null || true
	agentd_pid=""
}

# One sleeping process per uid listed in $1 (real, effective and saved uid
# and gid, no supplementary groups), forked by one perl that stays their
# parent: it reaps each as it dies and, when the last is gone, writes the
# time in ms to $T/gone.
spawn_all() {
	rm -f "$T/gone"
	perl -MTime::HiRes=time -e 'my $out = shift; my $n = 0;
	for my $u (@ARGV) {
		my $p = fork;
		die "fork: $!" unless defined $p;
		if (!$p) {
			$) = "$u $u"; $( = $u; $< = $> = $u;
			die "setuid" unless $< == $u && $> == $u;
			exec "sleep", "3600";
		}
		$n++;
	}
	while ($n > 0 && waitpid(-1, 0) > 0) { $n--; }
	open(my $f, ">", "$out.tmp") or die; printf $f "%d\n", int(time * 1000); close $f;
	rename "$out.tmp", $out;' "$T/gone" $(cat "$1") &
	local want deadline
	want=$(wc -l <"$1")
	deadline=$((SECONDS + 120 + want / 50))
	while [ "$(alive)" -lt "$want" ]; do
		[ $SECONDS -lt $deadline ] || { echo "retire_bench: processes did not start" >&2; exit 1; }
		sleep 0.5
	done
}

uids_of() { # names file -> uids file, through list --json
	ctl list --json | jq -r --rawfile n "$1" \
		'($n | split("\n") | map(select(. != "")) | map({(.): true}) | add) as $set
		 | .[] | select($set[.name]) | .uid' >"$2"
}

for n in "${sizes[@]}"; do
	echo "== N=$n"
	# ---- anchor: kill -KILL of N pids
	for _ in $(seq "$n"); do echo "$UID_MAX"; done >"$T/anchor"
	spawn_all "$T/anchor"
	mapfile -t pids < <(pgrep -u "$UID_MAX" sleep)
	t0=$(ms)
	kill -KILL "${pids[@]}"
	t1=$(wait_gone)
	anchor=$((t1 - t0))

	# ---- expiry: N identities, one deadline
	start_agentd
	lead=$((30 + n / 50))
	D=$(($(date +%s) + lead))
	: >"$T/names"
	made=0
	while [ "$made" -lt "$n" ]; do
		k=$((n - made < 100 ? n - made : 100))
		B -n "$k" -p bench -t $((D - $(date +%s))) --names "$T/names.part" >/dev/null
		cat "$T/names.part" >>"$T/names"
		made=$((made + k))
	done
	uids_of "$T/names" "$T/uids"
	deadline=$(date -d "$(ctl list --json | jq -r '[.[].expires] | max')" +%s)
	spawn_all "$T/uids"
	if [ "$(date +%s)" -ge "$deadline" ]; then
		echo "retire_bench: setting up took longer than the lead ($lead s); rerun" >&2
		exit 1
	fi
	# agentctl status, one after another, from a second before the
	# deadline until the last process is gone: its latency meanwhile.
	while [ "$(date +%s)" -lt $((deadline - 1)) ]; do sleep 0.05; done
	# Beside it, agentd's own answer time: STATUS on one open connection
	# every 20 ms over the same window (no process started per request).
	B --status-until "$T/gone" >"$T/status.conn" &
	probe=$!
	# Alternated with /bin/true, timed the same way: what starting any
	# process costs on the host meanwhile (the anchor of the whole-process
	# figure).
	: >"$T/status.ms"
	: >"$T/true.ms"
	while :; do
		a=$(date +%s%N)
		ctl status >/dev/null
		echo $((($(date +%s%N) - a) / 1000000)) >>"$T/status.ms"
		a=$(date +%s%N)
		/bin/true
		echo $((($(date +%s%N) - a) / 1000000)) >>"$T/true.ms"
		[ ! -s "$T/gone" ] || break
	done
	t_gone=$(wait_gone)
	wait "$probe" || true
	expiry=$((t_gone - deadline * 1000))
	sort -n "$T/status.ms" >"$T/status.sorted"
	ns=$(wc -l <"$T/status.sorted")
	st_p50=$(sed -n "$(((ns + 1) / 2))p" "$T/status.sorted")
	st_p99=$(sed -n "$(((ns * 99 + 99) / 100))p" "$T/status.sorted")
	sort -n "$T/true.ms" >"$T/true.sorted"
	tr_p50=$(sed -n "$(((ns + 1) / 2))p" "$T/true.sorted")
	tr_p99=$(sed -n "$(((ns * 99 + 99) / 100))p" "$T/true.sorted")
	[ -z "${KEEP:-}" ] || cp "$T/agentd.err" "$KEEP.expiry.log"
	stop_agentd

	# ---- revoke: N revokes on one connection
	start_agentd
	B -n "$n" -p bench -t 3600 --names "$T/names" >/dev/null
	uids_of "$T/names" "$T/uids"
	spawn_all "$T/uids"
	t0=$(ms)
	B --revoke-from "$T/names" --batch "${REVOKE_BATCH:-1}" >/dev/null
	t1=$(ms)
	t2=$(wait_gone)
	stop_agentd

	printf 'expiry  N=%-5d last process gone %6d ms after the deadline (1 s clock granularity: -1000..0 is "at the deadline")\n' "$n" "$expiry"
	printf 'status  N=%-5d meanwhile: %d agentctl status, p50 %s ms, p99 %s ms (whole process)\n' "$n" "$ns" "$st_p50" "$st_p99"
	printf 'anchor  N=%-5d meanwhile: /bin/true alternated with them, p50 %s ms, p99 %s ms (whole process)\n' "$n" "$tr_p50" "$tr_p99"
	printf 'status  N=%-5d meanwhile, one connection: %s\n' "$n" "$(cat "$T/status.conn")"
	printf 'revoke  N=%-5d revokes (%d names a request) answered in %6d ms, every process gone %6d ms after the first revoke\n' "$n" "${REVOKE_BATCH:-1}" $((t1 - t0)) $((t2 - t0))
	printf 'anchor  N=%-5d kill -KILL of N pids: every process gone after %6d ms\n' "$n" "$anchor"
done
