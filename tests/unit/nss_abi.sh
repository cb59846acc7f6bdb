#!/bin/sh
# The built module exports exactly the NSS entry points (plus its version
# node), and links libc only.
set -eu
so="$top_builddir/.libs/libnss_agent.so.2"
fail=0
syms=$(nm -D --defined-only "$so" | awk '{ sub(/@.*/, "", $3); print $3 }' | sort)
for want in _nss_agent_getpwnam_r _nss_agent_getpwuid_r _nss_agent_setpwent \
	_nss_agent_getpwent_r _nss_agent_endpwent _nss_agent_getgrnam_r _nss_agent_getgrgid_r \
	_nss_agent_setgrent _nss_agent_getgrent_r _nss_agent_endgrent _nss_agent_getspnam_r \
	_nss_agent_setspent _nss_agent_getspent_r _nss_agent_endspent _nss_agent_initgroups_dyn; do
	if printf '%s\n' "$syms" | grep -qx "$want"; then echo "ok - exports $want"
	else echo "not ok - does not export $want"; fail=1; fi
done
extra=$(printf '%s\n' "$syms" | grep -v '^_nss_agent_' | grep -v '^NSS_AGENT_1$' || true)
if [ -z "$extra" ]; then echo "ok - exports nothing else"
else echo "not ok - also exports: $extra"; fail=1; fi
if ldd "$so" | grep -q 'libasan\|libubsan'; then
	echo "ok - sanitizer build: the libc-only check applies to normal builds"
else
	deps=$(ldd "$so" | awk '{ print $1 }' | grep -v -e '^linux-vdso' -e '^/lib64/ld-linux' \
		-e '^libc.so' || true)
	if [ -z "$deps" ]; then echo "ok - links libc only"
	else echo "not ok - links more than libc: $deps"; fail=1; fi
fi
# Only the code it calls is linked in (GUEST_CFLAGS/GUEST_LDFLAGS): the
# shared formatting helpers of common/text.c (snprintf, strftime) are not,
# and every import is a relocation bound in every process that loads it.
if ldd "$so" | grep -q 'libasan\|libubsan'; then
	echo "ok - sanitizer build: the imports check applies to normal builds"
else
	imports=$(nm -D --undefined-only "$so" | awk '{ sub(/@.*/, "", $2); print $2 }')
	unused=$(printf '%s\n' "$imports" | grep -x -e 'snprintf' -e '__snprintf_chk' -e 'strftime' \
		-e 'gmtime_r' || true)
	if [ -z "$unused" ]; then echo "ok - imports nothing it does not call ($(printf '%s\n' "$imports" | wc -l) symbols)"
	else echo "not ok - imports $(echo $unused): built without section garbage collection?"; fail=1; fi
fi
soname=$(objdump -p "$so" | awk '/SONAME/ { print $2 }')
if [ "$soname" = libnss_agent.so.2 ]; then echo "ok - soname $soname"
else echo "not ok - soname is '$soname'"; fail=1; fi
exit $fail
