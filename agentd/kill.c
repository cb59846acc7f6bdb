/* Killing a uid's processes and removing what it owned (agentd/kill.h).
 *
 * Signals go through pidfds: a pid is opened, then its uid re-checked
 * through /proc, then signalled through the pidfd, so a pid recycled
 * between the scan and the signal is never hit. Tree removal never follows
 * a symlink and never crosses a mount point (mount ids, not st_dev). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agentd/kill.h"
#include "common/clock.h"

#define KILL_BOUND_MS 10000
#define POLL_MS 20
#define MAX_DEPTH 256

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A "SigPnd:" or "ShdPnd:" mask (hex) with SIGKILL in it. */
static bool kill_pending(const char *buf, const char *field)
{
	const char *p = strstr(buf, field);
	unsigned long long mask;

	return p && sscanf(p + strlen(field), "%llx", &mask) == 1 &&
	       (mask & (1ULL << (SIGKILL - 1)));
}

/* "Threads:" above 1. */
static bool other_threads(const char *buf)
{
	const char *p = strstr(buf, "\nThreads:");
	unsigned n;

	return p && sscanf(p + 9, "%u", &n) == 1 && n > 1;
}

/* /proc/PID/file (dfd: /proc) into buf, NUL-terminated; false if unread. */
static bool read_proc(int dfd, const char *pid, const char *file, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", pid, file) >= (int)sizeof(path))
		return false;
	fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

bool agent_proc_ids(int dfd, const char *pid, uint32_t ids[3])
{
	return agent_proc_state(dfd, pid, ids, NULL);
}

bool agent_proc_state(int dfd, const char *pid, uint32_t ids[3], bool *dying)
{
	char buf[4096], *u, *st;
	unsigned long long r, e, s;

	if (!read_proc(dfd, pid, "status", buf, sizeof(buf)))
		return false;
	st = strstr(buf, "\nState:");
	if (st && strncmp(st + 7, "\tX", 2) == 0)
		return false;
	/* A zombie is done, unless it is a leader that exited while other
	 * threads of it run on: those run with its ids, and only it shows
	 * in /proc. */
	if (st && strncmp(st + 7, "\tZ", 2) == 0 && !other_threads(buf))
		return false;
	u = strstr(buf, "\nUid:");
	if (!u || sscanf(u + 5, "%llu %llu %llu", &r, &e, &s) != 3)
		return false;
	ids[0] = (uint32_t)r;
	ids[1] = (uint32_t)e;
	ids[2] = (uint32_t)s;
	if (dying)
		*dying = kill_pending(buf, "\nShdPnd:") || kill_pending(buf, "\nSigPnd:");
	return true;
}

#define PF_EXITING_FLAG 0x4u /* include/linux/sched.h */

bool agent_proc_exiting(int dfd, const char *pid)
{
	char buf[1024], *p;
	unsigned flags;

	if (!read_proc(dfd, pid, "stat", buf, sizeof(buf)))
		return false;
	/* pid (comm) state ppid pgrp session tty_nr tpgid flags: comm may hold
	 * anything, so the fields are counted from its last ')'. */
	p = strrchr(buf, ')');
	return p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %u", &flags) == 1 &&
	       (flags & PF_EXITING_FLAG);
}

/* Does the process run with uid (real, effective or saved), not a zombie? */
static bool pid_has_uid(int dfd, const char *pid, uid_t uid)
{
	uint32_t ids[3];

	return agent_proc_ids(dfd, pid, ids) && (ids[0] == uid || ids[1] == uid || ids[2] == uid);
}

struct pidlist {
	pid_t *v;
	size_t n, cap;
};

static void note_pid(struct pidlist *l, pid_t p)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == p)
			return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		pid_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = p;
}

/* Signals every process of uid; returns how many were found (signalled). */
static int signal_uid(uid_t uid, int sig, const char *proc_root, struct pidlist *seen)
{
	DIR *d = opendir(proc_root);
	struct dirent *de;
	pid_t self = getpid();
	int found = 0, dfd;

	if (!d)
		return -errno;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int pfd;

		if (*end || pid <= 0 || pid == self || !pid_has_uid(dfd, de->d_name, uid))
			continue;
		pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
		if (pfd < 0)
			continue;
		/* The pidfd pins the process: re-check that it is still ours. */
		if (pid_has_uid(dfd, de->d_name, uid)) {
			if (sig == SIGTERM)
				syscall(SYS_pidfd_send_signal, pfd, SIGCONT, NULL, 0);
			if (syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) == 0) {
				found++;
				note_pid(seen, (pid_t)pid);
			}
		}
		close(pfd);
	}
	closedir(d);
	return found;
}

int agent_kill_uid(uid_t uid, unsigned grace_ms, const char *proc_root, unsigned *killed)
{
	struct pidlist seen = { 0 };
	int64_t start = agent_mono_ms();
	int n, r = 0;

	if (uid == 0)
		return -EINVAL; /* never */
	n = signal_uid(uid, SIGTERM, proc_root, &seen);
	if (n < 0)
		return n;
	while (n > 0 && agent_mono_ms() - start < grace_ms) {
		sleep_ms(POLL_MS);
		n = signal_uid(uid, 0, proc_root, &seen);
	}
	while (n > 0) {
		if (agent_mono_ms() - start > KILL_BOUND_MS + grace_ms) {
			r = -EBUSY;
			break;
		}
		n = signal_uid(uid, SIGKILL, proc_root, &seen);
		if (n > 0)
			sleep_ms(POLL_MS);
	}
	if (n < 0)
		r = n;
	*killed = (unsigned)seen.n;
	free(seen.v);
	return r;
}

/* Home removal never leaves the home: a mount point inside it (a bind
 * mount of another directory on the same file system included) is told by
 * its mount id (statx STATX_MNT_ID), not st_dev, and left alone; no symlink
 * is followed (AT_SYMLINK_NOFOLLOW, O_NOFOLLOW), and a directory opened is
 * checked again to be on the same mount, so a swap between the check and
 * the open is caught. */
static int mount_id_at(int dfd, const char *name, uint64_t *id, uint16_t *mode)
{
	struct statx sx;

	if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | (name[0] ? 0 : AT_EMPTY_PATH),
		  STATX_TYPE | STATX_MNT_ID, &sx) < 0)
		return -errno;
	if (!(sx.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP; /* kernels before 5.8: refuse rather than guess */
	*id = sx.stx_mnt_id;
	if (mode)
		*mode = sx.stx_mode;
	return 0;
}

static int remove_at(int dfd, uint64_t mnt, int depth);

static int remove_entry(int dfd, const char *name, uint64_t mnt, int depth)
{
	uint64_t id;
	uint16_t mode;
	int r = mount_id_at(dfd, name, &id, &mode);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	if (id != mnt)
		return -EXDEV; /* a mount point (or a file bind-mounted here): leave it */
	if (S_ISDIR(mode)) {
		int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (sub < 0)
			return -errno;
		r = mount_id_at(sub, "", &id, NULL);
		if (r == 0 && id != mnt)
			r = -EXDEV; /* swapped for a mount point since the check */
		if (r == 0)
			r = remove_at(sub, mnt, depth + 1);
		close(sub);
		if (r == -EXDEV && id != mnt)
			return r;
		if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && r == 0)
			r = -errno;
		return r;
	}
	if (unlinkat(dfd, name, 0) < 0)
		return -errno;
	return 0;
}

/* Empties the directory open at dfd. */
static int remove_at(int dfd, uint64_t mnt, int depth)
{
	DIR *d;
	struct dirent *de;
	int r = 0, fd;

	if (depth > MAX_DEPTH)
		return -ELOOP;
	fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		int e;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		e = remove_entry(dfd, de->d_name, mnt, depth);
		if (e < 0 && r == 0)
			r = e;
	}
	closedir(d);
	return r;
}

int agent_remove_tree(const char *path)
{
	uint64_t mnt;
	int fd, r;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = mount_id_at(fd, "", &mnt, NULL);
	if (r < 0) {
		close(fd);
		return r;
	}
	r = remove_at(fd, mnt, 0);
	close(fd);
	if (rmdir(path) < 0 && r == 0)
		r = -errno;
	return r;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Is uid one of the sorted set? Never for root. */
static bool in_set(const uint32_t *set, size_t n, long long uid)
{
	uint32_t u = (uint32_t)uid;

	return uid > 0 && uid <= UINT32_MAX && bsearch(&u, set, n, sizeof(*set), cmp_u32);
}

/* /proc/sysvipc/{shm,sem,msg}: columns found by name in the header line. */
static void remove_sysv(const char *file, const uint32_t *set, size_t nset, int kind)
{
	char line[1024], *tok, *save;
	int col_id = -1, col_uid = -1, col_cuid = -1;
	FILE *f = fopen(file, "re");

	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		int i = 0;

		for (tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save), i++) {
			if (strcmp(tok, kind == 0 ? "shmid" : kind == 1 ? "semid" : "msqid") == 0)
				col_id = i;
			else if (strcmp(tok, "uid") == 0)
				col_uid = i;
			else if (strcmp(tok, "cuid") == 0)
				col_cuid = i;
		}
	}
	while (col_id >= 0 && col_uid >= 0 && fgets(line, sizeof(line), f)) {
		long long id = -1, u = -1, cu = -1;
		int i = 0;

		for (tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save), i++) {
			if (i == col_id)
				id = atoll(tok);
			else if (i == col_uid)
				u = atoll(tok);
			else if (i == col_cuid)
				cu = atoll(tok);
		}
		if (id < 0 || (!in_set(set, nset, u) && !in_set(set, nset, cu)))
			continue;
		if (kind == 0)
			shmctl((int)id, IPC_RMID, NULL);
		else if (kind == 1)
			semctl((int)id, 0, IPC_RMID);
		else
			msgctl((int)id, IPC_RMID, NULL);
	}
	fclose(f);
}

static void remove_owned_files(const char *dir, const uint32_t *set, size_t nset)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    in_set(set, nset, st.st_uid) && !S_ISDIR(st.st_mode))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

int agent_remove_ipc_set(const uint32_t *uids, size_t n)
{
	uint32_t *set;

	if (!n)
		return 0;
	set = malloc(n * sizeof(*set));
	if (!set)
		return -ENOMEM;
	memcpy(set, uids, n * sizeof(*set));
	qsort(set, n, sizeof(*set), cmp_u32);
	remove_sysv("/proc/sysvipc/shm", set, n, 0);
	remove_sysv("/proc/sysvipc/sem", set, n, 1);
	remove_sysv("/proc/sysvipc/msg", set, n, 2);
	remove_owned_files("/dev/shm", set, n);
	remove_owned_files("/dev/mqueue", set, n);
	free(set);
	return 0;
}

int agent_remove_ipc(uid_t uid)
{
	uint32_t u = (uint32_t)uid;

	if (uid == 0)
		return -EINVAL;
	return agent_remove_ipc_set(&u, 1);
}
