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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "agentd/kill.h"

#define KILL_BOUND_MS 10000
#define POLL_MS 20
#define MAX_DEPTH 256

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Does /proc/PID/status say the process runs with uid (real, effective or
 * saved) and is not a zombie? */
static bool pid_has_uid(int dfd, const char *pid, uid_t uid)
{
	char path[64], buf[4096], *u, *st;
	unsigned long long r, e, s;
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/status", pid) >= (int)sizeof(path))
		return false;
	fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	st = strstr(buf, "\nState:");
	if (st && (strncmp(st + 7, "\tZ", 2) == 0 || strncmp(st + 7, "\tX", 2) == 0))
		return false;
	u = strstr(buf, "\nUid:");
	if (!u || sscanf(u + 5, "%llu %llu %llu", &r, &e, &s) != 3)
		return false;
	return r == uid || e == uid || s == uid;
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
	int64_t start = mono_ms();
	int n, r = 0;

	if (uid == 0)
		return -EINVAL; /* never */
	n = signal_uid(uid, SIGTERM, proc_root, &seen);
	if (n < 0)
		return n;
	while (n > 0 && mono_ms() - start < grace_ms) {
		sleep_ms(POLL_MS);
		n = signal_uid(uid, 0, proc_root, &seen);
	}
	while (n > 0) {
		if (mono_ms() - start > KILL_BOUND_MS + grace_ms) {
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

/* /proc/sysvipc/{shm,sem,msg}: columns found by name in the header line. */
static void remove_sysv(const char *file, uid_t uid, int kind)
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
		if (id < 0 || (u != (long long)uid && cu != (long long)uid))
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

static void remove_owned_files(const char *dir, uid_t uid)
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
		    st.st_uid == uid && !S_ISDIR(st.st_mode))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

int agent_remove_ipc(uid_t uid)
{
	if (uid == 0)
		return -EINVAL;
	remove_sysv("/proc/sysvipc/shm", uid, 0);
	remove_sysv("/proc/sysvipc/sem", uid, 1);
	remove_sysv("/proc/sysvipc/msg", uid, 2);
	remove_owned_files("/dev/shm", uid);
	remove_owned_files("/dev/mqueue", uid);
	return 0;
}

int agent_reap_uid(const struct agent_reap_opts *o, unsigned *killed)
{
	int r, e;

	*killed = 0;
	r = agent_kill_uid(o->uid, o->grace_ms, o->proc_root ? o->proc_root : "/proc", killed);
	if (o->home) {
		e = agent_remove_tree(o->home);
		if (e < 0 && r == 0)
			r = e;
	}
	e = agent_remove_ipc(o->uid);
	if (e < 0 && r == 0)
		r = e;
	return r;
}

/* ------------------------------------------------------------ the helper */

/* Does anything of uid that is not a zombie remain? One /proc scan. */
static unsigned left_of(uid_t uid)
{
	struct pidlist seen = { 0 };
	int n = signal_uid(uid, 0, "/proc", &seen);

	free(seen.v);
	return n > 0 ? (unsigned)n : 0;
}

/* Runs as uid (real, effective and saved), in a child of its own:
 * kill(-1) reaches every process uid may signal (real or saved uid equal
 * to uid), however it was started (double-forked setsid daemons, stopped,
 * traced, TERM-ignoring ones), without looking at /proc. SIGTERM and
 * SIGCONT first, up to grace_ms for them to go, then SIGKILL until
 * kill(-1) finds nothing (ESRCH). Zombies still answer kill(): when they
 * are all that is left (one /proc check every 100 ms) the loop ends too.
 * Bounded by grace_ms + bound_ms. 0 when none is left, -EBUSY. */
/* kill(-1) answers for zombies too: when it keeps answering, a /proc
 * check (50 ms in, then every 100 ms) tells whether only zombies are left,
 * waiting for parents that have not reaped them (init usually has by then,
 * and kill(-1) says ESRCH without any scan). */
struct zcheck {
	int64_t next, step;
};

static bool only_zombies(uid_t uid, struct zcheck *z)
{
	int64_t now = mono_ms();

	if (now < z->next)
		return false;
	z->next = now + z->step;
	z->step = 100;
	return left_of(uid) == 0;
}

static int kill_all_as_uid(uid_t uid, unsigned grace_ms, unsigned bound_ms)
{
	int64_t start = mono_ms();
	struct zcheck z = { start + 50, 100 };

	if (kill(-1, SIGTERM) < 0 && errno == ESRCH)
		return 0;
	kill(-1, SIGCONT);
	while (grace_ms && mono_ms() - start < grace_ms) {
		if ((kill(-1, 0) < 0 && errno == ESRCH) || only_zombies(uid, &z))
			return 0;
		sleep_ms(2);
	}
	start = mono_ms();
	for (;;) {
		if (kill(-1, SIGKILL) < 0 && errno == ESRCH)
			return 0;
		kill(-1, SIGCONT);
		if (only_zombies(uid, &z))
			return 0;
		if (mono_ms() - start > bound_ms)
			return -EBUSY;
		sleep_ms(1);
	}
}

/* Forks the child that drops to uid and kills; waits for it, bounded. */
static int kill_uid_as_uid(uid_t uid, unsigned grace_ms, unsigned bound_ms)
{
	int64_t start;
	int st;
	pid_t p = fork();

	if (p < 0)
		return -errno;
	if (p == 0) {
		/* Never as root: kill(-1) as root would hit everything. And in a
		 * session of its own: SIGCONT reaches any process of the
		 * sender's session whatever its uid (kill(2)), so kill(-1,
		 * SIGCONT) from agentd's session would resume processes that
		 * are not the uid's. */
		if (uid == 0 || setsid() < 0 || setgroups(0, NULL) < 0 ||
		    setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0 ||
		    getuid() != uid || geteuid() != uid)
			_exit(2);
		_exit(kill_all_as_uid(uid, grace_ms, bound_ms) == 0 ? 0 : 1);
	}
	start = mono_ms();
	for (;;) {
		pid_t w = waitpid(p, &st, WNOHANG);

		if (w == p)
			break;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (mono_ms() - start > (int64_t)grace_ms + bound_ms + 1000) {
			kill(p, SIGKILL);
			while (waitpid(p, &st, 0) < 0 && errno == EINTR)
				;
			return -EBUSY;
		}
		sleep_ms(2);
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
		return -EPERM;
	return -EBUSY;
}

/* If nscd runs, it may cache the retired identity for minutes: ask it to
 * drop its passwd and group caches. Bounded: a hung nscd is killed. */
static void nscd_invalidate(void)
{
	static const char *const tables[] = { "passwd", "group" };
	static const char *const paths[] = { "/usr/sbin/nscd", "/sbin/nscd" };
	const char *nscd = NULL;

	if (access("/run/nscd/socket", F_OK) != 0 && access("/var/run/nscd/socket", F_OK) != 0)
		return;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			nscd = paths[i];
	if (!nscd)
		return;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char *const argv[] = { (char *)nscd, (char *)"-i", (char *)tables[i], NULL };
		char *const envp[] = { NULL };
		pid_t p = fork();

		if (p == 0) {
			execve(nscd, argv, envp);
			_exit(127);
		}
		for (int t = 0; p > 0 && t < 100; t++) {
			if (waitpid(p, NULL, WNOHANG) == p) {
				p = 0;
				break;
			}
			usleep(20000);
		}
		if (p > 0) {
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
		}
	}
}

/* One uid, in a worker of the helper (root): the kill as the uid, then the
 * home and IPC as root, then the result straight onto the socket (one
 * datagram: atomic among workers). */
static _Noreturn void reap_worker(int sock, const struct agent_reap_req *q, uint32_t found)
{
	struct agent_reap_res res = { .uid = q->uid, .killed = found };
	int r, e;

	if (q->home[0])
		nscd_invalidate();
	r = kill_uid_as_uid(q->uid, q->grace_ms, q->bound_ms);
	if (r == -EBUSY)
		res.survivors = left_of(q->uid);
	if (r == -EBUSY && res.survivors == 0)
		r = 0; /* what answered at the bound were zombies */
	if (q->home[0]) {
		e = agent_remove_tree(q->home);
		if (e < 0 && r == 0)
			r = e;
	}
	e = agent_remove_ipc(q->uid);
	if (e < 0 && r == 0)
		r = e;
	res.rc = r;
	if (send(sock, &res, sizeof(res), MSG_NOSIGNAL) < 0)
		_exit(1);
	_exit(0);
}

/* How many processes of each requested uid run now: one /proc scan for a
 * whole batch (the audit's killed=). */
static void count_batch(const struct agent_reap_req *q, size_t n, uint32_t *found)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	memset(found, 0, n * sizeof(*found));
	if (!d)
		return;
	if (!n) {
		closedir(d);
		return;
	}
	while ((de = readdir(d))) {
		char path[64], buf[4096], *u, *st;
		unsigned long long r, e, s;
		ssize_t len;
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (snprintf(path, sizeof(path), "%s/status", de->d_name) >= (int)sizeof(path))
			continue;
		fd = openat(dirfd(d), path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		st = strstr(buf, "\nState:");
		if (st && (strncmp(st + 7, "\tZ", 2) == 0 || strncmp(st + 7, "\tX", 2) == 0))
			continue;
		u = strstr(buf, "\nUid:");
		if (!u || sscanf(u + 5, "%llu %llu %llu", &r, &e, &s) != 3)
			continue;
		for (size_t i = 0; i < n; i++)
			if (r == q[i].uid || e == q[i].uid || s == q[i].uid)
				found[i]++;
	}
	closedir(d);
}

#define HELPER_MAX_WORKERS 64
#define HELPER_PENDING 1024

_Noreturn void agent_reap_helper_run(int sock)
{
	/* Requests read but not started yet (a ring), counted on arrival:
	 * one /proc scan for everything one read brought. */
	static struct agent_reap_req pend[HELPER_PENDING];
	static uint32_t found[HELPER_PENDING];
	size_t head = 0, npend = 0;
	unsigned running = 0;
	bool eof = false;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN); /* a ^C to agentd in a terminal: agentd decides */
	/* Only the socket: no store, client or listening socket, audit file. */
	if (sock > 3)
		close_range(3, (unsigned)sock - 1, 0);
	close_range((unsigned)sock + 1, ~0U, 0);
	for (;;) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		struct agent_reap_req in[64];
		uint32_t cnt[64];
		size_t n = 0;

		while (running && waitpid(-1, NULL, WNOHANG) > 0)
			running--;
		/* Start what is pending, up to the worker limit. */
		while (npend && running < HELPER_MAX_WORKERS) {
			pid_t p = fork();

			if (p == 0)
				reap_worker(sock, &pend[head], found[head]);
			if (p > 0) {
				running++;
			} else {
				struct agent_reap_res res = { .uid = pend[head].uid, .rc = -errno };

				send(sock, &res, sizeof(res), MSG_NOSIGNAL);
			}
			head = (head + 1) % HELPER_PENDING;
			npend--;
		}
		if (eof && !running && !npend)
			_exit(0);
		if (eof || npend == HELPER_PENDING) {
			/* Workers bound themselves; this wait is short. */
			if (waitpid(-1, NULL, 0) > 0)
				running--;
			continue;
		}
		if (poll(&pfd, 1, running ? 20 : 1000) <= 0)
			continue;
		while (npend + n < HELPER_PENDING && n < sizeof(in) / sizeof(in[0])) {
			ssize_t k = recv(sock, &in[n], sizeof(in[n]), MSG_DONTWAIT);

			if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
				eof = true; /* agentd is gone: finish the workers, exit */
				break;
			}
			if (k < 0)
				break;
			if (k != (ssize_t)sizeof(in[n]) || in[n].uid == 0)
				continue;
			in[n].home[sizeof(in[n].home) - 1] = '\0';
			n++;
		}
		count_batch(in, n, cnt);
		for (size_t i = 0; i < n; i++) {
			size_t t = (head + npend) % HELPER_PENDING;

			pend[t] = in[i];
			found[t] = cnt[i];
			npend++;
		}
	}
}
