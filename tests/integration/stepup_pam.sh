#!/bin/bash
# Step-up approval through libpam (tests/pam/pam_driver), no real sudo, so
# this runs in sanitizer builds too: a SUDO_COMMAND set by the caller of a
# PAM application other than sudo is not trusted, and 100 requests pending
# at once, approved (each approver re-authenticated by agentd through the
# shipped agentd-approve stack) or denied in random order, each reach
# exactly their own PAM transaction.
. "$(dirname "$0")/lib.sh"
require_root
command -v openssl >/dev/null || { echo "skip: openssl is not installed (./bootstrap installs it)"; exit 77; }
enter_sandbox "$@"
if ! why=$(install_nss_module); then
	echo "# NSS module not installed ($why): agents are known from the snapshot alone"
	mount -t tmpfs -o mode=0755 tmpfs /run
fi
RUNDIR=/run/agentd
DRIVER="$top_builddir/tests/pam/pam_driver"
BOB_PW=bob-Approves-99
set_human_passwords "$BOB_PW"
write_config 'approvers = [ "bob" ]; approval_timeout = "60s";'
sed -i 's|max_depth = 2; },|max_depth = 2;\n    sudo_commands = { allow = [ "/usr/bin/id" ]; }; },|' "$T/agentd.conf"
grep -q sudo_commands "$T/agentd.conf" || { echo "could not add sudo_commands"; exit 1; }
install_pam_service agentd-approve "$top_srcdir/examples/pam.d/agentd-approve"
printf '%s\n' "account [success=ok ignore=ignore default=die] pam_agent.so" \
	"account required pam_permit.so" >"$T/account.pam"
install_pam_service sudo "$T/account.pam"
install_pam_service login "$T/account.pam"
start_agentd

approve_as_bob() { printf '%s\n' "$BOB_PW" | ctl_as bob approve "$@"; }

# A SUDO_COMMAND set by the caller of another PAM application is not
# trusted: pam_driver is not sudo, so the command is unknown and the allow
# rule for /usr/bin/id does not apply.
b=$(ctl create --purpose ci --ttl 10m --json)
bname=$(jq -r .name <<<"$b")
SUDO_COMMAND=/usr/bin/id "$DRIVER" /etc/pam.d sudo "$bname" account </dev/null >"$T/drv" 2>&1 &
dp=$!
rid=$(pending_id)
check "forged SUDO_COMMAND: approval still required" test -n "$rid"
check "forged SUDO_COMMAND: the command is unknown to agentd" \
	grep -q "event=\"stepup-request\" request=\"$rid\" identity=\"$bname\".*service=\"sudo\" pid=[0-9]* rule=\"purpose ci: sudo command unknown = approve\"" "$T/agentd.log"
ctl_as bob deny "$rid" >/dev/null
wait "$dp" || true

# 100 requests pending at once (ten identities, login = approve), decided in
# random order: each PAM transaction gets exactly its own decision.
sed -i 's|login = "deny";|login = "approve";|' "$T/agentd.conf"
stop_agentd
start_agentd
for i in $(seq 10); do ctl create --purpose ci --ttl 10m --json | jq -r .name; done >"$T/names"
n=0
while read -r who; do
	for _ in $(seq 10); do
		"$DRIVER" /etc/pam.d login "$who" account </dev/null >"$T/d.$n" 2>/dev/null &
		echo "$! $n" >>"$T/drivers"
		n=$((n + 1))
	done
done <"$T/names"
wait_for 30 bash -c "[ \"\$($AGENTCTL -S $RUNDIR/agentd.sock pending --json | jq length)\" = 100 ]"
check "100 requests pending at once" test "$(ctl pending --json | jq length)" = 100
ctl pending --json | jq -r '.[] | "\(.request) \(.pid)"' | shuf >"$T/order"
: >"$T/expect"
k=0
while read -r rid pid; do
	if [ $((k % 2)) = 0 ]; then
		approve_as_bob "$rid" >/dev/null 2>&1 && echo "$pid PAM_SUCCESS" >>"$T/expect"
	else
		ctl_as bob deny "$rid" >/dev/null 2>&1 && echo "$pid PAM_PERM_DENIED" >>"$T/expect"
	fi
	k=$((k + 1))
done <"$T/order"
while read -r pid idx; do wait "$pid" 2>/dev/null || true; done <"$T/drivers"
mismatch=0
while read -r pid want; do
	idx=$(awk -v p="$pid" '$1 == p { print $2 }' "$T/drivers")
	got=$(awk '$1 == "account" { print $2 }' "$T/d.$idx")
	[ "$got" = "$want" ] || mismatch=$((mismatch + 1))
done <"$T/expect"
check "100 decisions made" test "$(wc -l <"$T/expect")" = 100
check "each PAM transaction got exactly its own decision" test "$mismatch" = 0

