#!/bin/bash
# The Debian package: `dpkg-buildpackage -us -uc -b` on a copy of the
# source, then `apt install ./agentd_*.deb` and the README walkthrough on the
# installed files (nsswitch.conf, pam-auth-update, the sudoers sample, the
# sshd_config lines, the policy), su with a token, ssh with the key bound at
# create and a sudo step-up approved by bob, then purge.
#
# Safety: everything after the build runs in the test's private mount
# namespace (lib.sh) with overlay file systems over /usr, /etc and /var
# (upper layers in the test's temporary directory) and a tmpfs over /run:
# dpkg, apt, pam-auth-update and the postinst write only into the overlays,
# which vanish with the namespace; the host's files, package database and
# services are never touched (no systemd runs in the namespace, so the
# unit is not started). Set AGENTD_DEB=/path/to/agentd_X_ARCH.deb to skip
# the build.
. "$(dirname "$0")/lib.sh"
require_root
for tool in dpkg-buildpackage dh apt-get su sudo; do
	if ! PATH=$PATH:/usr/sbin command -v "$tool" >/dev/null; then
		echo "skip: $tool is not installed (./bootstrap installs debhelper, dpkg-dev, sudo)"
		exit 77
	fi
done
if [ -z "${AGENTD_DEB:-}" ] && ! git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
	echo "skip: the package is built from a git checkout's files (or set AGENTD_DEB)"
	exit 77
fi
case "$(ldd "$top_builddir/agentd/.libs/agentd" 2>/dev/null || ldd "$top_builddir/agentd/agentd")" in
*libasan*) echo "skip: sanitizer build (the package is a release build; the plain run covers it)"; exit 77 ;;
esac
enter_sandbox "$@"

# ------------------------------------------------------------ build
t0=$SECONDS
if [ -n "${AGENTD_DEB:-}" ]; then
	deb=$AGENTD_DEB
else
	mkdir "$T/src"
	(cd "$top_srcdir" && git ls-files -z | xargs -0 cp --parents -t "$T/src")
	(cd "$T/src" && DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck" \
		dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1 || { tail -n 40 "$T/build.log"; }
	deb=$(ls "$T"/agentd_*.deb 2>/dev/null | head -1)
fi
check "dpkg-buildpackage built a .deb" test -f "$deb"
echo "# build: $((SECONDS - t0)) s"
[ -f "$deb" ] || exit 1
contents=$(dpkg-deb -c "$deb")
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for f in "usr/lib/$ma/libnss_agent.so.2" "usr/lib/$ma/security/pam_agent.so" \
	usr/lib/systemd/system/agentd.service usr/share/pam-configs/agent usr/sbin/agentd \
	usr/bin/agentctl usr/share/bash-completion/completions/agentctl etc/agentd/agentd.conf \
	etc/pam.d/agentd etc/pam.d/agentd-approve usr/share/man/man8/agentd.8.gz; do
	check "the package ships /$f" grep -q " \./$f\$\| \./$f -> " <<<"$contents"
done
check "no .la or unversioned .so is shipped" bash -c "! grep -qE '\.la\$|libnss_agent\.so\$' <<<'$contents'"
conff=$(dpkg-deb -f "$deb" Conffiles 2>/dev/null; dpkg-deb -I "$deb" conffiles 2>/dev/null)
for f in /etc/agentd/agentd.conf /etc/pam.d/agentd /etc/pam.d/agentd-approve; do
	check "$f is a conffile" grep -qx "$f" <<<"$conff"
done

# ------------------------------------------------------------ the overlays
for d in usr etc var; do
	mkdir -p "$T/ovl/$d/u" "$T/ovl/$d/w"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$T/ovl/$d/u,workdir=$T/ovl/$d/w" "/$d"
done
mount -t tmpfs -o mode=0755 tmpfs /run
# the test users (enter_sandbox's bind mounts are under the overlay now)
cat "$T/etc/passwd" >/etc/passwd
cat "$T/etc/group" >/etc/group
cp /etc/nsswitch.conf "$T/nsswitch.before"

# ------------------------------------------------------------ install
t1=$SECONDS
rc=0
mkdir "$T/debs"
cp "$deb" "$T/debs/"
(cd "$T/debs" && DEBIAN_FRONTEND=noninteractive apt-get install -y -o Dpkg::Use-Pty=0 \
	./agentd_*.deb) >"$T/install.log" 2>&1 || rc=$?
check "apt installs the .deb" test "$rc" = 0
[ "$rc" = 0 ] || tail -n 30 "$T/install.log"
echo "# install: $((SECONDS - t1)) s"
check "the postinst says what to add to nsswitch.conf" grep -q 'passwd: files agent' "$T/install.log"
check "the postinst left nsswitch.conf alone" cmp -s /etc/nsswitch.conf "$T/nsswitch.before"
check "the NSS module is in the multiarch directory" test -e "/usr/lib/$ma/libnss_agent.so.2"
check "agentctl's completion is where bash-completion looks" \
	test -f /usr/share/bash-completion/completions/agentctl

# ------------------------------------------------------------ README's walkthrough
sed -E 's/^(passwd|group|shadow):([[:space:]]*)files(.*)$/\1:\2files agent\3/' \
	"$T/nsswitch.before" >/etc/nsswitch.conf
grep -q '^shadow:.*agent' /etc/nsswitch.conf || echo 'shadow: files agent' >>/etc/nsswitch.conf
check "pam-auth-update --enable agent" env DEBIAN_FRONTEND=noninteractive pam-auth-update --enable agent
check "common-auth now has pam_agent" grep -q pam_agent.so /etc/pam.d/common-auth
cp /usr/share/doc/agentd/examples/sudoers.d-agents /etc/sudoers.d/agents
chmod 0440 /etc/sudoers.d/agents
check "the sudoers sample parses" visudo -cf /etc/sudoers
BOB_PW=bob-Approves-99
hash=$(printf '%s\n' "$BOB_PW" | openssl passwd -6 -stdin)
printf 'alice:%s:19000:0:99999:7:::\nbob:%s:19000:0:99999:7:::\n' "$hash" "$hash" >>/etc/shadow
sed -e "s|home_base = \"$T/home\"|home_base = \"/home/agents\"|" "$T/agentd.conf" >/etc/agentd/agentd.conf
printf '%s\n' 'agents_group = "agents"; agents_gid = 2950; approvers = [ "bob" ];' >>/etc/agentd/agentd.conf
check "agentd --check-config accepts the policy" /usr/sbin/agentd --check-config
/usr/sbin/agentd -f 2>>"$T/agentd.log" &
AGENTD_PID=$!
RUNDIR=/run/agentd
AGENTCTL=/usr/bin/agentctl
wait_for 10 test -S "$RUNDIR/agentd.sock" || true
check "the installed agentd answers" ctl status

ssh-keygen -q -t ed25519 -N '' -C alice -f "$T/alice_key"
chown 2901 "$T/alice_key.pub"
out=$(ctl_as alice create --purpose ci --ttl 30m --ssh-key "$T/alice_key.pub" --json)
A=$(jq -r .name <<<"$out")
A_UID=$(jq -r .uid <<<"$out")
(umask 077 && jq -r .token <<<"$out" >"$T/tok")
check "the identity resolves through the installed NSS module" test "$(getent passwd "$A" | cut -d: -f1)" = "$A"
out=$(timeout 20 setpriv --reuid=2901 --regid=2901 --clear-groups su -c 'id -un' "$A" <"$T/tok" 2>"$T/su.err") || true
check "su to the identity with its token" test "$out" = "$A"
timeout 60 setpriv --reuid="$A_UID" --regid="$A_UID" --init-groups \
	sudo -S -p '' /usr/bin/id -un <"$T/tok" >"$T/sudo.out" 2>"$T/sudo.err" &
sudo_pid=$!
RID=$(pending_id)
check "sudo as the identity waits for an approval" test -n "$RID"
printf '%s\n' "$BOB_PW" | ctl_as bob approve "$RID" --reason "deb test" >/dev/null 2>&1 || true
wait "$sudo_pid" || true
check "sudo as the identity, approved by bob, runs as root" grep -qx root "$T/sudo.out"
[ -s "$T/sudo.out" ] || cat "$T/sudo.err"

# step 4: the stock sshd_config (in the /etc overlay) with README's three
# lines, the stock /etc/pam.d/sshd, on a port of this test's own.
ssh-keygen -q -t ed25519 -N '' -f "$T/host_key"
printf '%s\n' 'UsePAM yes' 'AuthorizedKeysCommand /usr/bin/agentctl authorized-keys %u' \
	'AuthorizedKeysCommandUser nobody' >>/etc/ssh/sshd_config
mkdir -m 0755 /run/sshd
PORT=2223
/usr/sbin/sshd -D -e -o "ListenAddress=127.0.0.1:$PORT" -o "HostKey=$T/host_key" \
	-o "PidFile=$T/sshd.pid" 2>"$T/sshd.log" &
SSHD_PID=$!
trap 'deb_rc=$?; set +e; kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; (exit $deb_rc); sandbox_exit' EXIT
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; }
wait_for 10 port_open || cat "$T/sshd.log"
out=$(timeout 20 ssh -F /dev/null -p "$PORT" -i "$T/alice_key" -o BatchMode=yes -o IdentitiesOnly=yes \
	-o IdentityAgent=none -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o LogLevel=ERROR "$A@127.0.0.1" id -un </dev/null 2>"$T/ssh.err") || true
check "ssh to the identity with the key bound at create (stock sshd stack)" test "$out" = "$A"
[ "$out" = "$A" ] || tail -n 20 "$T/ssh.err" "$T/sshd.log"
kill "$SSHD_PID" 2>/dev/null
wait "$SSHD_PID" 2>/dev/null || true
stop_agentd

# ------------------------------------------------------------ purge
rc=0
DEBIAN_FRONTEND=noninteractive apt-get purge -y -o Dpkg::Use-Pty=0 agentd >"$T/purge.log" 2>&1 || rc=$?
check "apt purges the package" test "$rc" = 0
check "purge: the state directory is gone" test ! -e /var/lib/agentd
check "purge: /etc/agentd is gone" test ! -e /etc/agentd
check "purge: the PAM files are gone" test ! -e /etc/pam.d/agentd -a ! -e /etc/pam.d/agentd-approve
check "purge: pam_agent left the common stacks" bash -c "! grep -q pam_agent /etc/pam.d/common-*"
check "purge: the NSS module is gone" test ! -e "/usr/lib/$ma/libnss_agent.so.2"
echo "# whole test: $((SECONDS - t0)) s"
