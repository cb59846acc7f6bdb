#!/bin/bash
# NSS lookups: libnss_agent's own entry points called in process (dlopen),
# then through real glibc with 1, 10,000 and 65,536 live identities beside
# glibc "files" holding the same number of entries; getgrouplist the same
# way; and whether a name resolves in another process as soon as
# `agentctl create` returns. One run, inside a private namespace (nothing
# on the host changes). Run from the build directory as root: make bench.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
require_root
enter_sandbox "$@"
if ! why=$(install_nss_module); then
	echo "nss bench: $why" >&2
	exit 1
fi
B="$top_builddir/tests/bench/bench_nss"
mkdir -p /run/agentd
cp /etc/passwd "$T/passwd.base"
cp /etc/group "$T/group.base"
K=20000
KM=200000
echo "-- the module in process: _nss_agent_getpw*_r called directly, $KM random lookups each (ns, timer included)"
for n in 1 10000 65536; do
	"$B" fill /run/agentd/passwd.snap $n
	echo "module ($n live): $("$B" module "$top_builddir/.libs/libnss_agent.so.2" $n $KM | tr '\n' ' ')"
done
echo "-- getpwnam_r / getpwuid_r through glibc, $K random lookups each"
for n in 1 10000 65536; do
	"$B" fill /run/agentd/passwd.snap $n
	echo "agent ($n live, nsswitch 'passwd: files agent'): $("$B" lookup agent- $n $K | tr '\n' ' ')"
	awk -v n=$n 'BEGIN { for (i = 0; i < n; i++) printf "filesu%06d:x:%d:100::/nonexistent:/usr/sbin/nologin\n", i, 200000 + i }' \
		>"$T/passwd.files"
	cat "$T/passwd.base" >>"$T/passwd.files"
	mount --bind "$T/passwd.files" /etc/passwd
	echo "files ($n entries):                        $("$B" lookup filesu $n $([ $n -gt 1000 ] && echo 2000 || echo $K) | tr '\n' ' ')"
	umount /etc/passwd
done
echo "-- getgrouplist through glibc ('group: files agent'): agent (its gid + the purpose's group 100)"
echo "   beside a files user (its gid + one group it is a member of) with as many entries in /etc/passwd and /etc/group"
for n in 1 10000 65536; do
	"$B" fill /run/agentd/passwd.snap $n
	echo "agent ($n live): $("$B" grouplist agent- 1879048192 $n $K 2)"
	awk -v n=$n 'BEGIN { for (i = 0; i < n; i++) printf "filesu%06d:x:%d:%d::/nonexistent:/usr/sbin/nologin\n", i, 200000 + i, 200000 + i }' \
		>"$T/passwd.files"
	cat "$T/passwd.base" >>"$T/passwd.files"
	awk -v n=$n 'BEGIN { for (i = 0; i < n; i++) printf "filesg%06d:x:%d:filesu%06d\n", i, 300000 + i, i }' \
		>"$T/group.files"
	cat "$T/group.base" >>"$T/group.files"
	mount --bind "$T/passwd.files" /etc/passwd
	mount --bind "$T/group.files" /etc/group
	echo "files ($n entries): $("$B" grouplist filesu 200000 $n $([ $n -gt 1000 ] && echo 2000 || echo $K) 2)"
	umount /etc/group /etc/passwd
done
echo "-- whole process: getent passwd AGENT beside getent passwd root (the anchor), 300 of each, alternated"
echo "   (wall time, and the CPU time the kernel charged each process: on a shared host the wall time"
echo "   mostly measures other tenants). The module is in a private ld.so.cache, as an installed one is."
ldconfig -C "$T/ld.so.cache" && mount --bind "$T/ld.so.cache" /etc/ld.so.cache
"$B" fill /run/agentd/passwd.snap 65536
echo "agent (65,536 live) vs root: $("$B" spawn 300 agent-000123 root)"
"$B" fill /run/agentd/passwd.snap 1
echo "agent (1 live) vs root:      $("$B" spawn 300 agent-000000 root)"
mv /run/agentd/passwd.snap "$T/snap.off"
echo "module loaded, no snapshot (dlopen alone) vs root: $("$B" spawn 300 agent-000000 root)"
mv "$T/snap.off" /run/agentd/passwd.snap
umount /etc/ld.so.cache
# The floor: a module that answers NOTFOUND at once (tests/bench/nss_null.c),
# linked as libnss_agent is. What it costs is glibc's price for any module
# after files (the lookup misses files, loads the module, asks it).
libdir=$(dirname "$(readlink -f "$(ldd /bin/true | awk '/libc.so/ { print $3 }')")")
${CC:-cc} -O2 -shared -fPIC -Wl,-z,relro -Wl,-z,now -Wl,-soname,libnss_benchnull.so.2 \
	-o "$libdir/libnss_benchnull.so.2" "$top_srcdir/tests/bench/nss_null.c"
ldconfig -C "$T/ld.so.cache" && mount --bind "$T/ld.so.cache" /etc/ld.so.cache
sed -E 's/^passwd:.*/passwd: files benchnull/' /etc/nsswitch.conf >"$T/nsswitch.null"
mount --bind "$T/nsswitch.null" /etc/nsswitch.conf
echo "an empty module after files (the floor for any NSS module) vs root: $("$B" spawn 300 agent-000000 root)"
echo "-- where a new process's extra time goes: its first getpwnam alone (this bench re-executed,"
echo "   'passwd' set in process), 300 each, taking turns: files finding root; files missing, then"
echo "   agent (loads the module, attaches the snapshot, 1 live); files missing, then the empty module"
"$B" first 300 files=root "files agent=agent-000000" "files benchnull=agent-000000"
umount /etc/nsswitch.conf
umount /etc/ld.so.cache
echo "-- agentctl create, then at once getent passwd NAME in a new process (100 times)"
rm -f /run/agentd/passwd.snap
RUNDIR=/run/agentd
start_agentd
fails=0
: >"$T/create.us"
: >"$T/getent.us"
for _ in $(seq 100); do
	t0=${EPOCHREALTIME/./}
	out=$(ctl create --purpose research --ttl 10m)
	t1=${EPOCHREALTIME/./}
	[[ $out =~ name:[[:space:]]+([^[:space:]]+) ]] # no process between create and getent
	name=${BASH_REMATCH[1]:?agentctl create printed no name}
	if ! getent passwd "$name" >/dev/null; then
		fails=$((fails + 1))
		for _ in $(seq 1000); do getent passwd "$name" >/dev/null && break; done
	fi
	t2=${EPOCHREALTIME/./}
	echo $((t1 - t0)) >>"$T/create.us"
	echo $((t2 - t1)) >>"$T/getent.us"
done
p50() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int(NR / 2) + 1] }'; }
echo "not resolvable when create returned: $fails of 100; create (agentctl process) p50 $(p50 "$T/create.us") us;" \
	"create returned -> getent passwd succeeded (a whole getent process) p50 $(p50 "$T/getent.us") us"
