#!/bin/bash
# NSS lookups through real glibc: libnss_agent with 1, 10,000 and 65,536
# live identities beside glibc "files" holding the same number of entries,
# in one run, inside a private namespace (nothing on the host changes).
# Run from the build directory as root: make bench.
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
K=20000
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
echo "-- whole process: getent passwd"
"$B" fill /run/agentd/passwd.snap 65536
t0=$(date +%s%N); for _ in $(seq 200); do getent passwd agent-000123 >/dev/null; done; t1=$(date +%s%N)
t2=$(date +%s%N); for _ in $(seq 200); do getent passwd root >/dev/null; done; t3=$(date +%s%N)
echo "getent passwd AGENT (65,536 live): $(( (t1 - t0) / 200000 )) us; getent passwd root: $(( (t3 - t2) / 200000 )) us"
