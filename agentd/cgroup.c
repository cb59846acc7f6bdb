/* Containment in cgroup v2 (see agentd/cgroup.h for what and the
 * invariants). The pure helpers come first, then the kill, then the daemon's
 * state: the root's descriptor, whether pids is enabled, and the killed
 * cgroups waiting to be removed (an inotify watch on each one's
 * cgroup.events, one descriptor in the loop). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agentd/cgroup.h"
#include "agentd/config.h"
#include "agentd/daemon.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CG_PATH_MAX 4096
#define CG_FILE_MAX (1 << 20) /* mountinfo, cgroup.procs: read at most this */
#define CG_KILL_ROUNDS 20     /* freeze-kill-thaw rounds without cgroup.kill */
#define CG_RMDIR_TRIES 64     /* cgroup.events changes waited for, per cgroup */
#define CG_PENDING_MAX 65536  /* killed cgroups waiting for removal */

struct cg_pending {
	uint32_t uid;
	int wd;
	unsigned tries;
};

struct agentd_cgroup {
	int kind;      /* W_CGROUP: first member, epoll data points here */
	int root_fd;   /* the root directory */
	int ifd;       /* inotify on cgroup.events of killed cgroups, -1 until needed */
	bool pids;     /* pids is enabled for the identities' cgroups */
	bool has_kill; /* cleared once cgroup.kill turned out to be missing */
	char root[CG_PATH_MAX];
	struct cg_pending *pending;
	size_t npending, cap;
};

/* ------------------------------------------------------------ pure helpers */

int agent_cgroup_parse_self(const char *text, char *out, size_t outlen)
{
	const char *p = text;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len >= 3 && strncmp(p, "0::", 3) == 0) {
			if (len - 3 + 1 > outlen)
				return -ENAMETOOLONG;
			memcpy(out, p + 3, len - 3);
			out[len - 3] = '\0';
			return out[0] == '/' ? 0 : -EINVAL;
		}
		p = eol ? eol + 1 : NULL;
	}
	return -ENOENT;
}

/* Copies a mountinfo field (up to a space or the end of line) undoing the
 * \ooo escapes. */
static int unescape_field(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			c = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= outlen)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int agent_cgroup_parse_mountinfo(const char *text, unsigned nth, char *mnt, size_t mntlen,
				 char *root, size_t rootlen)
{
	const char *p = text;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *f[5], *q = p, *end = p + len, *sep;
		size_t flen[5];
		int n = 0;

		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SRC SUPER" */
		while (n < 5 && q < end) {
			const char *sp = memchr(q, ' ', (size_t)(end - q));

			f[n] = q;
			flen[n] = sp ? (size_t)(sp - q) : (size_t)(end - q);
			n++;
			q = sp ? sp + 1 : end;
		}
		sep = NULL;
		for (const char *s = q; s + 3 <= end; s++)
			if (s[0] == ' ' && s[1] == '-' && s[2] == ' ') {
				sep = s + 3;
				break;
			}
		if (n < 5 || !sep) {
			if (len > 0)
				return -EINVAL;
		} else if ((size_t)(end - sep) >= 8 && strncmp(sep, "cgroup2 ", 8) == 0 &&
			   nth-- == 0) {
			int r = unescape_field(f[4], flen[4], mnt, mntlen);

			if (r == 0)
				r = unescape_field(f[3], flen[3], root, rootlen);
			return r;
		}
		p = eol ? eol + 1 : NULL;
	}
	return -ENOENT;
}

int agent_cgroup_join(const char *mnt, const char *mroot, const char *cg, char *out, size_t outlen)
{
	size_t rl = strlen(mroot);
	int n;

	if (strcmp(mroot, "/") == 0)
		rl = 0;
	else if (strncmp(cg, mroot, rl) != 0 || (cg[rl] != '/' && cg[rl] != '\0'))
		return -ENOENT;
	cg += rl;
	if (strcmp(cg, "/") == 0)
		cg = "";
	n = snprintf(out, outlen, "%s%s", strcmp(mnt, "/") == 0 && cg[0] ? "" : mnt, cg);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int agent_cgroup_identity_path(const char *root, uint32_t uid, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/agent-%" PRIu32, root, uid);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

bool agent_cgroup_has_word(const char *list, const char *w)
{
	size_t l = strlen(w);

	for (const char *p = list; (p = strstr(p, w)); p += l)
		if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[l] == '\0' || p[l] == ' ' || p[l] == '\n'))
			return true;
	return false;
}

bool agent_cgroup_events_empty(const char *text)
{
	const char *p = strstr(text, "populated ");

	while (p && p != text && p[-1] != '\n')
		p = strstr(p + 1, "populated ");
	return p && p[10] == '0';
}

/* ------------------------------------------------------------ files */

/* Reads a whole (small) file at dirfd/name into a malloc'd string. */
static int read_at(int dirfd, const char *name, char **out)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t n = 0, cap = 4096;
	char *buf;

	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t k;

		if (cap - n < 2) {
			char *b;

			if (cap >= CG_FILE_MAX)
				break;
			b = realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = b;
			cap *= 2;
		}
		k = read(fd, buf + n, cap - n - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = -errno;

			free(buf);
			close(fd);
			return e;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int write_at(int dirfd, const char *name, const char *s)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t l = strlen(s);
	ssize_t k;

	if (fd < 0)
		return -errno;
	do
		k = write(fd, s, l);
	while (k < 0 && errno == EINTR);
	if (k < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	close(fd);
	return (size_t)k == l ? 0 : -EIO;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------ the kill */

static int procs_list(int dirfd, pid_t **out, size_t *n)
{
	char *text, *p, *end;
	size_t cap = 0;
	int r = read_at(dirfd, "cgroup.procs", &text);

	*out = NULL;
	*n = 0;
	if (r < 0)
		return r;
	for (p = text; *p; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p) {
			end = p + 1;
			continue;
		}
		if (v <= 0)
			continue;
		if (*n == cap) {
			pid_t *np = realloc(*out, (cap ? cap * 2 : 64) * sizeof(pid_t));

			if (!np) {
				free(*out);
				free(text);
				*out = NULL;
				return -ENOMEM;
			}
			*out = np;
			cap = cap ? cap * 2 : 64;
		}
		(*out)[(*n)++] = (pid_t)v;
	}
	free(text);
	return 0;
}

static bool in_list(const pid_t *v, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

/* One round without cgroup.kill: pidfds of the listed members first, then
 * SIGKILL to those that are still listed (a pid reused in between by a
 * process outside the cgroup is never signalled: its pidfd is the old
 * process's). */
static int kill_round(int dirfd)
{
	pid_t *a, *b;
	size_t na, nb;
	int *fds, r;

	if ((r = procs_list(dirfd, &a, &na)) < 0)
		return r;
	if (na == 0) {
		free(a);
		return 0;
	}
	fds = calloc(na, sizeof(int));
	if (!fds) {
		free(a);
		return -ENOMEM;
	}
	for (size_t i = 0; i < na; i++)
		fds[i] = (int)syscall(SYS_pidfd_open, a[i], 0); /* pidfds are close-on-exec */
	r = procs_list(dirfd, &b, &nb);
	for (size_t i = 0; i < na; i++) {
		if (fds[i] < 0)
			continue;
		if (r == 0 && in_list(b, nb, a[i]))
			syscall(SYS_pidfd_send_signal, fds[i], SIGKILL, NULL, 0);
		close(fds[i]);
	}
	free(fds);
	free(a);
	free(b);
	return r < 0 ? r : 1;
}

int agent_cgroup_kill_dir(int dirfd, bool use_kill_file)
{
	if (use_kill_file) {
		int r = write_at(dirfd, "cgroup.kill", "1");

		if (r != -ENOENT)
			return r;
	}
	for (int round = 0; round < CG_KILL_ROUNDS; round++) {
		bool frozen = write_at(dirfd, "cgroup.freeze", "1") == 0;
		int r;

		/* Frozen, nobody forks between the listing and the kill. */
		for (int i = 0; frozen && i < 50; i++) {
			char *ev;

			if (read_at(dirfd, "cgroup.events", &ev) < 0)
				break;
			bool done = strstr(ev, "\nfrozen 1") || strncmp(ev, "frozen 1", 8) == 0;

			free(ev);
			if (done)
				break;
			nap_ms(2);
		}
		r = kill_round(dirfd);
		if (frozen)
			write_at(dirfd, "cgroup.freeze", "0");
		if (r <= 0)
			return r;
		nap_ms(5); /* the killed exit */
	}
	{
		pid_t *v;
		size_t n;
		int r = procs_list(dirfd, &v, &n);

		free(v);
		return r < 0 ? r : n ? -EAGAIN : 0;
	}
}

/* ------------------------------------------------------------ the daemon */

__attribute__((format(printf, 3, 4))) static void note(struct agentd *d, int prio, const char *fmt,
						       ...)
{
	va_list ap;

	va_start(ap, fmt);
	agent_audit_vlog(&d->audit, prio, fmt, ap);
	va_end(ap);
}

static int read_path(const char *path, char **out)
{
	return read_at(AT_FDCWD, path, out);
}

/* agentd's own cgroup directory, and the cgroup2 mount it was found
 * through: the first mount that shows it (in a cgroup namespace, a mount
 * made outside it shows a root of "/.." and none of our cgroups). */
static int self_dir(char *dir, size_t len, char *mnt, size_t mntlen, char *mroot, size_t mrootlen)
{
	char self[CG_PATH_MAX], *mi = NULL, *text = NULL;
	int r = read_path("/proc/self/mountinfo", &mi);

	if (r == 0)
		r = read_path("/proc/self/cgroup", &text);
	if (r == 0)
		r = agent_cgroup_parse_self(text, self, sizeof(self));
	for (unsigned i = 0; r == 0; i++) {
		r = agent_cgroup_parse_mountinfo(mi, i, mnt, mntlen, mroot, mrootlen);
		if (r == 0 && agent_cgroup_join(mnt, mroot, self, dir, len) == 0 &&
		    access(dir, F_OK) == 0)
			break;
	}
	free(mi);
	free(text);
	return r;
}

static bool delegated(const char *dir)
{
	char v[8];
	ssize_t n = getxattr(dir, "trusted.delegate", v, sizeof(v));

	if (n <= 0)
		n = getxattr(dir, "user.delegate", v, sizeof(v));
	return n > 0 && v[0] == '1';
}

static bool is_cgroup2(const char *dir)
{
	struct statfs sf;

	return statfs(dir, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* Moves agentd into <root>/daemon (cgroups with children hold no
 * processes). */
static int move_self(const char *root)
{
	char path[CG_PATH_MAX + 16];
	int fd, r;

	snprintf(path, sizeof(path), "%s/daemon", root);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = write_at(fd, "cgroup.procs", "0");
	close(fd);
	return r;
}

/* The root for cgroup_root = "auto". 0 and root, 1 (containment off, why
 * says why), -errno. */
static int auto_root(char *root, size_t rootlen, const char **why)
{
	char self[CG_PATH_MAX], dir[CG_PATH_MAX], mnt[CG_PATH_MAX], mroot[CG_PATH_MAX],
		*text = NULL;
	bool systemd;
	int r;

	if ((r = self_dir(dir, sizeof(dir), mnt, sizeof(mnt), mroot, sizeof(mroot))) < 0)
		return r;
	if ((r = read_path("/proc/self/cgroup", &text)) < 0)
		return r;
	r = agent_cgroup_parse_self(text, self, sizeof(self));
	free(text);
	if (r < 0)
		return r;
	systemd = access("/run/systemd/system", F_OK) == 0 || strstr(self, ".service") ||
		  strstr(self, ".scope");
	if (!systemd) {
		if (snprintf(root, rootlen, "%s/agentd", mnt) >= (int)rootlen)
			return -ENAMETOOLONG;
		if (mkdir(root, 0755) < 0 && errno != EEXIST)
			return -errno;
		return 0;
	}
	{
		char *slash = strrchr(dir, '/');

		/* Already in the leaf (a restart, or DelegateSubgroup=daemon). */
		if (slash && strcmp(slash, "/daemon") == 0) {
			*slash = '\0';
			if (delegated(dir)) {
				snprintf(root, rootlen, "%s", dir);
				return 0;
			}
			*slash = '/';
		}
	}
	if (!delegated(dir)) {
		*why = "systemd did not delegate agentd's cgroup (Delegate=yes)";
		return 1;
	}
	if (snprintf(root, rootlen, "%s", dir) >= (int)rootlen)
		return -ENAMETOOLONG;
	return move_self(root);
}

/* Whether a purpose sets max_processes. */
static bool want_pids(const struct agentd *d)
{
	for (size_t i = 0; i < d->cfg->npurposes; i++)
		if (d->cfg->purposes[i].max_processes > 0)
			return true;
	return false;
}

/* pids for the identities' cgroups, if the root has it. */
static void enable_pids(struct agentd *d, struct agentd_cgroup *cg)
{
	char *text = NULL;
	bool want = want_pids(d);

	if (read_at(cg->root_fd, "cgroup.controllers", &text) == 0 &&
	    agent_cgroup_has_word(text, "pids")) {
		free(text);
		text = NULL;
		if (read_at(cg->root_fd, "cgroup.subtree_control", &text) == 0 &&
		    agent_cgroup_has_word(text, "pids")) {
			cg->pids = true;
		} else {
			int r = write_at(cg->root_fd, "cgroup.subtree_control", "+pids");

			cg->pids = r == 0;
			if (r < 0)
				note(d, LOG_WARNING, "cannot enable the pids controller in %s: %s",
				     cg->root, strerror(-r));
		}
	}
	free(text);
	if (!cg->pids && want)
		note(d, LOG_WARNING, "max_processes has no effect: no pids controller in %s",
		     cg->root);
}

/* Empty agent-* cgroups left by an earlier run go; populated ones stay for
 * their identity's retirement or the uid sweep. */
static void remove_leftovers(struct agentd_cgroup *cg)
{
	int fd = openat(cg->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(dir)))
		if (strncmp(e->d_name, "agent-", 6) == 0)
			unlinkat(cg->root_fd, e->d_name, AT_REMOVEDIR);
	closedir(dir);
}

static int init_root(struct agentd *d, char *err, size_t errlen)
{
	const char *want = d->cfg->cgroup_root, *why = NULL;
	char mnt[CG_PATH_MAX], mroot[CG_PATH_MAX], root[CG_PATH_MAX], dir[CG_PATH_MAX];
	struct agentd_cgroup *cg;
	bool expl = strcmp(want, "auto") != 0;
	int r;

	d->cg = NULL;
	if (strcmp(want, "none") == 0) {
		note(d, LOG_NOTICE,
		     "containment: off (cgroup_root = \"none\"): the uid sweep only");
		return 0;
	}
	if (expl) {
		bool made = mkdir(want, 0755) == 0;

		if (!made && errno != EEXIST) {
			r = -errno;
			snprintf(err, errlen, "cgroup_root %s: cannot create it: %s", want,
				 strerror(-r));
			return r;
		}
		if (!is_cgroup2(want)) {
			if (made)
				rmdir(want);
			snprintf(err, errlen, "cgroup_root %s is not in a cgroup2 file system",
				 want);
			return -EINVAL;
		}
		snprintf(root, sizeof(root), "%s", want);
		/* agentd itself in the root: into the leaf, as with "auto". */
		if (self_dir(dir, sizeof(dir), mnt, sizeof(mnt), mroot, sizeof(mroot)) == 0 &&
		    strcmp(dir, root) == 0 && (r = move_self(root)) < 0) {
			snprintf(err, errlen,
				 "cgroup_root %s: cannot move agentd into %s/daemon: %s", root,
				 root, strerror(-r));
			return r;
		}
	} else {
		r = auto_root(root, sizeof(root), &why);
		if (r == -ENOENT) {
			note(d, LOG_WARNING,
			     "containment: off (no cgroup2 hierarchy mounted): the uid sweep only");
			return 0;
		}
		if (r == 1) {
			note(d, LOG_WARNING, "containment: off (%s): the uid sweep only", why);
			return 0;
		}
		if (r < 0) {
			note(d, LOG_WARNING,
			     "containment: off (cannot set up a cgroup subtree: %s): "
			     "the uid sweep only",
			     strerror(-r));
			return 0;
		}
	}
	cg = calloc(1, sizeof(*cg));
	if (!cg)
		return -ENOMEM;
	cg->kind = W_CGROUP;
	cg->ifd = -1;
	cg->has_kill = true;
	snprintf(cg->root, sizeof(cg->root), "%s", root);
	cg->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->root_fd < 0) {
		r = -errno;
		free(cg);
		snprintf(err, errlen, "cgroup_root %s: %s", root, strerror(-r));
		return r;
	}
	enable_pids(d, cg);
	remove_leftovers(cg);
	d->cg = cg;
	note(d, LOG_NOTICE, "containment: one cgroup per identity under %s%s", root,
	     cg->pids ? " (pids controller on)" : "");
	return 0;
}

int agentd_cgroup_init(struct agentd *d, char *err, size_t errlen)
{
	int r = init_root(d, err, errlen);

	if (r == 0 && !d->cg && want_pids(d))
		note(d, LOG_WARNING, "max_processes has no effect: containment is off");
	return r;
}

void agentd_cgroup_free(struct agentd *d)
{
	struct agentd_cgroup *cg = d->cg;

	if (!cg)
		return;
	if (cg->ifd >= 0)
		close(cg->ifd); /* the epoll set drops it */
	close(cg->root_fd);
	free(cg->pending);
	free(cg);
	d->cg = NULL;
}

const char *agentd_cgroup_root(const struct agentd *d)
{
	return d->cg ? d->cg->root : NULL;
}

/* Makes id's cgroup if missing; its pids.max follows the purpose. */
static int ensure(struct agentd *d, const struct agent_identity *id, char *name, size_t len)
{
	struct agentd_cgroup *cg = d->cg;
	const struct agent_cfg_purpose *p;
	char max[24];
	int fd, r;

	snprintf(name, len, "agent-%" PRIu32, id->uid);
	if (mkdirat(cg->root_fd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (!cg->pids)
		return 0;
	p = agent_config_purpose(d->cfg, id->purpose);
	if (p && p->max_processes)
		snprintf(max, sizeof(max), "%u", p->max_processes);
	else
		snprintf(max, sizeof(max), "max");
	fd = openat(cg->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = write_at(fd, "pids.max", max);
	close(fd);
	return r;
}

int agentd_cgroup_place_start(struct agentd *d, const struct agent_identity *id, pid_t pid,
			      int *rfd, pid_t *child)
{
	char name[32], path[48], pidbuf[24];
	int fd, p[2], r;
	pid_t c;

	if (!d->cg)
		return 1;
	/* 0 would move agentd itself (a peer in a pid namespace agentd cannot
	 * see has pid 0 in SO_PEERCRED). */
	if (pid <= 0)
		return -ESRCH;
	if ((r = ensure(d, id, name, sizeof(name))) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/cgroup.procs", name);
	fd = openat(d->cg->root_fd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)pid);
	c = fork();
	if (c == 0) {
		/* Only the write: no code of anyone else's runs here. */
		int e = write(fd, pidbuf, strlen(pidbuf)) < 0 ? errno : 0;

		_exit(write(p[1], &e, sizeof(e)) == (ssize_t)sizeof(e) ? 0 : 1);
	}
	r = -errno;
	close(fd);
	close(p[1]);
	if (c < 0) {
		close(p[0]);
		return r;
	}
	*rfd = p[0];
	*child = c;
	return 0;
}

int agentd_cgroup_place_finish(int rfd, pid_t child)
{
	int e = EIO;
	ssize_t n;

	do
		n = read(rfd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(rfd);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(e))
		return -EIO;
	return e > 0 ? -e : 0;
}

int agentd_cgroup_dir_fd(struct agentd *d, const struct agent_identity *id)
{
	char name[32];
	int fd, r;

	if (!d->cg)
		return -ENODEV;
	if ((r = ensure(d, id, name, sizeof(name))) < 0)
		return r;
	fd = openat(d->cg->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

static void pending_drop(struct agentd_cgroup *cg, size_t i)
{
	if (cg->pending[i].wd >= 0)
		inotify_rm_watch(cg->ifd, cg->pending[i].wd);
	cg->pending[i] = cg->pending[--cg->npending];
}

/* Waits for the cgroup to empty: a watch on its cgroup.events. */
static void pending_add(struct agentd *d, uint32_t uid, const char *name)
{
	struct agentd_cgroup *cg = d->cg;
	char path[CG_PATH_MAX + 64];
	int wd;

	for (size_t i = 0; i < cg->npending; i++)
		if (cg->pending[i].uid == uid)
			return;
	if (cg->npending >= CG_PENDING_MAX)
		goto fail;
	if (cg->ifd < 0) {
		cg->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (cg->ifd < 0)
			goto fail;
		if (agentd_watch(d, cg->ifd, EPOLLIN, cg) < 0) {
			close(cg->ifd);
			cg->ifd = -1;
			goto fail;
		}
	}
	if (cg->npending == cg->cap) {
		size_t cap = cg->cap ? cg->cap * 2 : 16;
		void *p = realloc(cg->pending, cap * sizeof(*cg->pending));

		if (!p)
			goto fail;
		cg->pending = p;
		cg->cap = cap;
	}
	snprintf(path, sizeof(path), "%s/%s/cgroup.events", cg->root, name);
	wd = inotify_add_watch(cg->ifd, path, IN_MODIFY);
	if (wd < 0)
		goto fail;
	cg->pending[cg->npending++] = (struct cg_pending){ uid, wd, 0 };
	/* It may have emptied before the watch existed. */
	if (unlinkat(cg->root_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		pending_drop(cg, cg->npending - 1);
	return;
fail:
	note(d, LOG_ERR, "cannot watch %s/%s for its removal: %s", cg->root, name, strerror(errno));
}

void agentd_cgroup_kill(struct agentd *d, uint32_t uid)
{
	struct agentd_cgroup *cg = d->cg;
	char name[32];
	int fd, r;

	if (!cg)
		return;
	snprintf(name, sizeof(name), "agent-%" PRIu32, uid);
	fd = openat(cg->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			note(d, LOG_ERR, "cannot open %s/%s: %m", cg->root, name);
		return;
	}
	r = agent_cgroup_kill_dir(fd, cg->has_kill);
	if (r < 0)
		note(d, LOG_ERR, "cannot kill the cgroup %s/%s: %s (the uid sweep goes on)",
		     cg->root, name, strerror(-r));
	if (cg->has_kill && faccessat(fd, "cgroup.kill", F_OK, 0) < 0 && errno == ENOENT)
		cg->has_kill = false;
	close(fd);
	if (unlinkat(cg->root_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return;
	if (errno != EBUSY) {
		note(d, LOG_ERR, "cannot remove the cgroup %s/%s: %m", cg->root, name);
		return;
	}
	pending_add(d, uid, name);
}

/* Tries to remove pending entry i; true if it is gone from the list. */
static bool pending_try(struct agentd *d, size_t i)
{
	struct agentd_cgroup *cg = d->cg;
	struct cg_pending *p = &cg->pending[i];
	char name[32];

	snprintf(name, sizeof(name), "agent-%" PRIu32, p->uid);
	if (unlinkat(cg->root_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) {
		p->wd = -1; /* rmdir dropped the watch */
		pending_drop(cg, i);
		return true;
	}
	if (++p->tries >= CG_RMDIR_TRIES) {
		note(d, LOG_ERR,
		     "the cgroup %s/%s is still busy after %u tries; left for the uid "
		     "sweep",
		     cg->root, name, p->tries);
		pending_drop(cg, i);
		return true;
	}
	return false;
}

void agentd_cgroup_events(struct agentd *d)
{
	struct agentd_cgroup *cg = d->cg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	if (!cg)
		return;
	while ((n = read(cg->ifd, buf, sizeof(buf))) > 0) {
		for (char *q = buf; q + sizeof(struct inotify_event) <= buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)q;

			q += sizeof(*ev) + ev->len;
			if (ev->mask & IN_IGNORED)
				continue;
			for (size_t i = 0; i < cg->npending; i++)
				if (cg->pending[i].wd == ev->wd) {
					pending_try(d, i);
					break;
				}
		}
	}
}
