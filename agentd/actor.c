/* Verified actors (see agentd/actor.h).
 *
 * Invariants:
 * - the executable is opened through /proc/PID/exe of the peer and used
 *   only after a pidfd of the peer shows it still runs, so the pid was not
 *   reused in between (with SO_PEERPIDFD the pidfd is the connecting
 *   process itself; with the pidfd_open fallback, pre-6.5 kernels, a peer
 *   that exited before it leaves a window, documented in agentd.conf(5));
 * - the comparison is by the open file (device, inode, content), never by
 *   the path the link text shows;
 * - every descriptor is close-on-exec and closed before return; reading is
 *   bounded (1 GiB). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sodium.h>

#include "agentd/actor.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#define HASH_MAX_BYTES (1LL << 30)

int agentd_actor_hash_fd(int fd, unsigned char out[32])
{
	crypto_hash_sha256_state st;
	unsigned char buf[65536];
	off_t off = 0;
	ssize_t n;

	crypto_hash_sha256_init(&st);
	for (;;) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
		off += n;
		if (off > HASH_MAX_BYTES)
			return -EFBIG;
	}
	crypto_hash_sha256_final(&st, out);
	return 0;
}

/* The executable's hash, cached for the last file seen (same device, inode,
 * size and change time: a rewrite changes ctime). */
static int exe_hash(int fd, const struct stat *st, unsigned char out[32])
{
	static struct {
		dev_t dev;
		ino_t ino;
		off_t size;
		struct timespec ctim;
		unsigned char hash[32];
		bool valid;
	} cache;
	int r;

	if (cache.valid && cache.dev == st->st_dev && cache.ino == st->st_ino &&
	    cache.size == st->st_size && cache.ctim.tv_sec == st->st_ctim.tv_sec &&
	    cache.ctim.tv_nsec == st->st_ctim.tv_nsec) {
		memcpy(out, cache.hash, 32);
		return 0;
	}
	r = agentd_actor_hash_fd(fd, out);
	if (r == 0) {
		cache.dev = st->st_dev;
		cache.ino = st->st_ino;
		cache.size = st->st_size;
		cache.ctim = st->st_ctim;
		memcpy(cache.hash, out, 32);
		cache.valid = true;
	}
	return r;
}

static int peer_pidfd(int sock, pid_t pid)
{
	socklen_t len = sizeof(int);
	int fd = -1;

	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0 && fd >= 0) {
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		return fd;
	}
	return (int)syscall(SYS_pidfd_open, pid, 0); /* close-on-exec */
}

/* Does the open executable (fd, st) match entry a for caller? */
static bool matches(const struct agent_cfg_actor *a, int fd, const struct stat *st,
		    const struct agent_caller *caller, bool *hashed, unsigned char hash[32])
{
	struct stat pst;

	if (stat(a->path, &pst) < 0 || pst.st_dev != st->st_dev || pst.st_ino != st->st_ino)
		return false;
	if (a->nwho && !agent_policy_who_matches(a->who, a->nwho, caller))
		return false;
	if (!a->sha256_hex[0])
		return true;
	if (!*hashed) {
		if (exe_hash(fd, st, hash) < 0)
			return false;
		*hashed = true;
	}
	return memcmp(hash, a->sha256, 32) == 0;
}

void agentd_actor_identify(const struct agent_config *cfg, const struct agent_cfg_purpose *p,
			   int sock, const struct ucred *cred, const struct agent_caller *caller,
			   struct agentd_actor *out)
{
	const struct agent_cfg_actor *lists[2] = { p ? p->actors : NULL, cfg->actors };
	size_t counts[2] = { p ? p->nactors : 0, cfg->nactors };
	unsigned char hash[32];
	bool hashed = false;
	char path[64];
	struct stat st;
	int pidfd, exe;

	memset(out, 0, sizeof(*out));
	if (!counts[0] && !counts[1]) {
		snprintf(out->why, sizeof(out->why), "no verified_actors in the policy");
		return;
	}
	pidfd = peer_pidfd(sock, cred->pid);
	if (pidfd < 0) {
		snprintf(out->why, sizeof(out->why), "no pidfd for the client: %s",
			 strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)cred->pid);
	exe = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (exe < 0) {
		snprintf(out->why, sizeof(out->why), "cannot open the client's executable: %s",
			 strerror(errno));
		close(pidfd);
		return;
	}
	/* Still the same process: its pid cannot have been reused. */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 || fstat(exe, &st) < 0 ||
	    !S_ISREG(st.st_mode)) {
		snprintf(out->why, sizeof(out->why), "the client exited before it was identified");
		goto out;
	}
	for (int l = 0; l < 2 && !out->verified; l++)
		for (size_t i = 0; i < counts[l] && !out->verified; i++)
			if (matches(&lists[l][i], exe, &st, caller, &hashed, hash)) {
				out->verified = true;
				snprintf(out->name, sizeof(out->name), "%s", lists[l][i].name);
			}
	if (!out->verified)
		snprintf(out->why, sizeof(out->why),
			 "the client's executable is no verified actor");
out:
	close(exe);
	close(pidfd);
}
