#!/bin/sh
# The built PAM module exports exactly the pam_sm_* it implements (plus a
# version node, if the map names one), loads with every symbol bound
# (RTLD_NOW), keeps its internals hidden, names only libpam and libc as
# direct dependencies, and has no writable data of its own.
set -eu
so="$top_builddir/.libs/pam_agent.so"
fail=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fail=1; }
want="pam_sm_authenticate pam_sm_setcred pam_sm_acct_mgmt pam_sm_open_session pam_sm_close_session"

[ -e "$so" ] || { echo "not ok - $so is not built"; exit 1; }

# Version nodes are absolute ("A") symbols named after the node; the rest
# is the module's interface.
syms=$(nm -D --defined-only "$so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u)
for w in $want; do
	if printf '%s\n' "$syms" | grep -qx "$w"; then ok "exports $w"
	else not_ok "does not export $w"; fi
done
extra=$(printf '%s\n' "$syms" | grep -vx -e pam_sm_authenticate -e pam_sm_setcred \
	-e pam_sm_acct_mgmt -e pam_sm_open_session -e pam_sm_close_session || true)
if [ -z "$extra" ]; then ok "exports nothing else"
else not_ok "also exports: $(echo $extra)"; fi

# Direct dependencies only (readelf -d), not what libpam itself pulls in.
# --enable-sanitizers adds the ASan and UBSan runtimes.
needed=$(readelf -d "$so" | awk '/\(NEEDED\)/ { gsub(/[][]/, "", $5); print $5 }')
sanitized=no
if printf '%s\n' "$needed" | grep -q -e '^libasan\.so' -e '^libubsan\.so'; then sanitized=yes; fi
other=$(printf '%s\n' "$needed" | grep -vx -e libpam.so.0 -e libc.so.6 |
	{ if [ $sanitized = yes ]; then grep -v -e '^libasan\.so' -e '^libubsan\.so'; else cat; fi; } || true)
if printf '%s\n' "$needed" | grep -qx libpam.so.0 && printf '%s\n' "$needed" | grep -qx libc.so.6 &&
	[ -z "$other" ]; then
	ok "needs libpam.so.0 and libc.so.6 only$([ $sanitized = yes ] && echo ' (and the sanitizer runtimes)' || true)"
else
	not_ok "NEEDED entries: $(echo $needed)"
fi

soname=$(objdump -p "$so" | awk '/SONAME/ { print $2 }')
if [ "$soname" = pam_agent.so ]; then ok "soname $soname"
else not_ok "soname is '$soname'"; fi

# Loading: every reference bound at dlopen, the pam_sm_* found, nothing of
# the module's internals or its static libraries reachable.
if [ $sanitized = yes ]; then
	ok "# SKIP dlopen: a sanitizer build loads only into instrumented programs"
elif ! command -v python3 >/dev/null; then
	ok "# SKIP dlopen: python3 is not installed"
else
	out=$(python3 - "$so" $want <<'PY' 2>&1
import ctypes, os, sys
so, want = sys.argv[1], sys.argv[2:]
lib = ctypes.CDLL(so, mode=os.RTLD_NOW | os.RTLD_LOCAL)
print("loaded")
for name in want:
    print(("found " if hasattr(lib, name) else "missing ") + name)
for name in ("parse_args", "is_agent", "begin", "ask", "agent_client_connect",
             "agent_wire_begin", "agent_snap_open", "agent_valid_username"):
    print(("leaks " if hasattr(lib, name) else "hidden ") + name)
PY
	) || true
	if printf '%s\n' "$out" | grep -qx loaded; then ok "dlopen with RTLD_NOW"
	else not_ok "dlopen failed: $out"; fi
	for w in $want; do
		if printf '%s\n' "$out" | grep -qx "found $w"; then ok "dlsym finds $w"
		else not_ok "dlsym does not find $w"; fi
	done
	leaks=$(printf '%s\n' "$out" | sed -n 's/^leaks //p')
	if [ -z "$leaks" ] && printf '%s\n' "$out" | grep -q '^hidden '; then
		ok "internals are not reachable through dlsym"
	else not_ok "dlsym reaches: $(echo $leaks)"; fi
fi

# Writable data: the module keeps no state between calls (several PAM
# handles may use it at once), so .data, .bss and TLS hold only what the
# toolchain puts there. Needs the symbol table (skipped if stripped).
if [ $sanitized = yes ]; then
	ok "# SKIP writable data: sanitizer builds add their own"
elif ! objdump -t "$so" | grep -q ' \.text	'; then
	ok "# SKIP writable data: the module is stripped"
else
	own=$(objdump -t "$so" | awk '/ O (\.data|\.bss|\.tdata|\.tbss)\t/ { print $NF }' |
		grep -vx -e completed.0 -e completed.1 -e __dso_handle -e __TMC_END__ || true)
	if [ -z "$own" ]; then ok "no writable data of its own"
	else not_ok "writable data: $(echo $own)"; fi
fi
exit $fail
