#!/bin/bash
# Home removal never leaves the home: a bind mount inside it (of another
# directory on the same file system, so st_dev cannot tell) is not entered,
# and a symlink to outside is removed, never followed.
. "$(dirname "$0")/lib.sh"
require_root
enter_sandbox "$@"
start_agentd
mkdir "$T/other"
echo keep >"$T/other/precious"
out=$(ctl_as alice create --purpose ci --ttl 10m --json)
name=$(jq -r .name <<<"$out")
uid=$(jq .uid <<<"$out")
home="$T/home/$name"
check "the home exists" test -d "$home"
mkdir "$home/mnt" "$home/sub"
mount --bind "$T/other" "$home/mnt"
check "same file system: st_dev alone cannot tell the mount" \
	test "$(stat -c %d "$T/other")" = "$(stat -c %d "$home/mnt")"
ln -s "$T/other" "$home/link"
ln -s "$T/other/precious" "$home/sub/filelink"
echo mine >"$home/sub/own"
chown -R "$uid:$uid" "$home/sub"
ctl revoke "$name" >/dev/null
wait_for 15 grep -q "event=\"reap\" identity=\"$name\"" "$T/agentd.log"
check "the other directory's file is intact" test "$(cat "$T/other/precious")" = keep
check "the bind mount point was left alone" mountpoint -q "$home/mnt"
check "the symlinks are gone, their targets not" \
	test ! -L "$home/link" -a ! -L "$home/sub/filelink" -a -e "$T/other/precious"
check "the identity's own files are gone" test ! -e "$home/sub"
check "the reap says something was left" \
	grep -q "event=\"reap\" identity=\"$name\" .*error=" "$T/agentd.log"
umount "$home/mnt"
exit $FAILED
