/* Secret key files (token.key, audit.key, a collector's per-host audit
 * keys): one reader with one set of checks, for agentd and agentctl alike.
 *
 * A key file is opened without following a symlink (O_NOFOLLOW) and judged
 * on the opened descriptor (fstat), so it cannot be swapped between the
 * check and the read: a regular file, owned by root or by the given owner,
 * no group or other access at all, exactly the key's size. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads path (relative to dirfd, or AT_FDCWD) into key[0..len).
 * 0, or: -ELOOP a symlink, -EPERM not a regular file, wrong owner or group/
 * other access, -EINVAL wrong size, -errno of open/read. key is wiped on
 * failure. */
int agent_keyfile_read(int dirfd, const char *path, uid_t owner, uint8_t *key, size_t len);

/* DIR/FILE, created (len random bytes, 0600, O_EXCL, fsync'd) if missing,
 * else read as above with owner geteuid(). 0 or -errno. */
int agent_keyfile_load(const char *dir, const char *file, uint8_t *key, size_t len);

/* A one-line reason for a -errno of agent_keyfile_read ("a symlink",
 * "wrong owner or mode"...), for messages. */
const char *agent_keyfile_strerror(int err);
