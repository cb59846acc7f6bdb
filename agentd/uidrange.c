/* The agent uid range: overlap checks against the system's own ranges, and
 * the bitmap of uids that processes run with (see agentd/uidrange.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentd/uidrange.h"

#define FILE_MAX (4u << 20)
#define LINE_MAX_LEN 4096

struct range {
	uint64_t lo, hi;
	const char *what;
};

static bool overlaps(uint64_t a, uint64_t b, uint64_t lo, uint64_t hi)
{
	return a <= hi && lo <= b;
}

/* Reads a whole small file; -ENOENT if absent. Caller frees *out. */
static int slurp(const char *path, char **out)
{
	char *buf = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	buf = malloc(FILE_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, FILE_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			free(buf);
			close(fd);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == FILE_MAX) {
			free(buf);
			close(fd);
			return -EFBIG;
		}
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static bool parse_ulong(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long n;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*v = n;
	return true;
}

/* login.defs: UID_MIN etc. Unknown or malformed keys are ignored, as
 * shadow's own tools do. */
static int login_defs(const char *path, uint64_t v[8])
{
	static const char *const keys[8] = { "UID_MIN", "UID_MAX", "SYS_UID_MIN", "SYS_UID_MAX",
					     "GID_MIN", "GID_MAX", "SYS_GID_MIN", "SYS_GID_MAX" };
	char *buf, *save = NULL;
	int r = slurp(path, &buf);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[32], val[64];

		if (sscanf(line, " %31s %63s", key, val) != 2 || key[0] == '#')
			continue;
		for (int i = 0; i < 8; i++)
			if (strcmp(key, keys[i]) == 0)
				parse_ulong(val, &v[i]);
	}
	free(buf);
	return 0;
}

/* subuid/subgid: "name:start:count" lines. */
static int check_sub(const char *path, uint32_t a, uint32_t b, char *err, size_t errlen)
{
	char *buf, *p;
	int r = slurp(path, &buf), lineno = 0;

	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	for (p = buf; *p;) {
		char *nl = strchr(p, '\n'), *c1, *c2;
		uint64_t start, count;

		if (nl)
			*nl = '\0';
		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != '#') {
			c1 = strchr(p, ':');
			c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			if (!c2 || strchr(c2 + 1, ':') || strlen(p) > LINE_MAX_LEN) {
				snprintf(err, errlen, "%s:%d: malformed line", path, lineno);
				free(buf);
				return -EINVAL;
			}
			*c2 = '\0';
			if (!parse_ulong(c1 + 1, &start) || !parse_ulong(c2 + 1, &count)) {
				snprintf(err, errlen, "%s:%d: malformed line", path, lineno);
				free(buf);
				return -EINVAL;
			}
			if (count && overlaps(a, b, start, start + count - 1)) {
				snprintf(err, errlen,
					 "uid range %u-%u overlaps %llu-%llu in %s (line %d)", a, b,
					 (unsigned long long)start,
					 (unsigned long long)(start + count - 1), path, lineno);
				free(buf);
				return -EINVAL;
			}
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	free(buf);
	return 0;
}

int agent_range_check(uint32_t uid_min, uint32_t uid_max, const struct agent_range_sources *src,
		      char *err, size_t errlen)
{
	uint64_t d[8] = { 1000, 60000, 101, 999, 1000, 60000, 101, 999 };
	static const char *const names[4] = { "UID_MIN..UID_MAX", "SYS_UID_MIN..SYS_UID_MAX",
					      "GID_MIN..GID_MAX", "SYS_GID_MIN..SYS_GID_MAX" };
	static const struct range fixed[] = {
		{ 0, 0, "uid 0 (root)" },
		{ 61184, 65519, "systemd's dynamic users (61184-65519)" },
		{ 65534, 65535, "nobody and the 16-bit invalid uid (65534-65535)" },
		{ 65536, 65536, "the 16-bit boundary (65536)" },
		{ 524288, 1879048191, "systemd's container uid ranges (524288-1879048191)" },
		{ 2147483648u, 4294967295u, "uids of 2^31 and above" },
	};
	int r;

	if (uid_min > uid_max) {
		snprintf(err, errlen, "uid range %u-%u is empty", uid_min, uid_max);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (overlaps(uid_min, uid_max, fixed[i].lo, fixed[i].hi)) {
			snprintf(err, errlen, "uid range %u-%u overlaps %s", uid_min, uid_max,
				 fixed[i].what);
			return -EINVAL;
		}
	r = login_defs(src->login_defs, d);
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s: %s", src->login_defs, strerror(-r));
		return r;
	}
	for (int i = 0; i < 4; i++)
		if (overlaps(uid_min, uid_max, d[2 * i], d[2 * i + 1])) {
			snprintf(err, errlen, "uid range %u-%u overlaps %s %llu-%llu in %s",
				 uid_min, uid_max, names[i], (unsigned long long)d[2 * i],
				 (unsigned long long)d[2 * i + 1], src->login_defs);
			return -EINVAL;
		}
	r = check_sub(src->subuid, uid_min, uid_max, err, errlen);
	if (r == 0)
		r = check_sub(src->subgid, uid_min, uid_max, err, errlen);
	return r;
}

int agent_uid_set_init(struct agent_uid_set *s, uint32_t uid_min, uint32_t uid_max)
{
	uint64_t n = (uint64_t)uid_max - uid_min + 1;

	s->uid_min = uid_min;
	s->uid_max = uid_max;
	s->bits = calloc((n + 63) / 64, sizeof(uint64_t));
	return s->bits ? 0 : -ENOMEM;
}

void agent_uid_set_free(struct agent_uid_set *s)
{
	free(s->bits);
	s->bits = NULL;
}

void agent_uid_set_add(struct agent_uid_set *s, uint32_t uid)
{
	if (uid < s->uid_min || uid > s->uid_max)
		return;
	s->bits[(uid - s->uid_min) / 64] |= 1ULL << ((uid - s->uid_min) % 64);
}

bool agent_uid_set_has(const struct agent_uid_set *s, uint32_t uid)
{
	if (uid < s->uid_min || uid > s->uid_max)
		return false;
	return s->bits[(uid - s->uid_min) / 64] & (1ULL << ((uid - s->uid_min) % 64));
}

/* The four uids of /proc/PID/status (name relative to dfd): 0 or -1. */
static int read_status_uids(int dfd, const char *name, unsigned long long id[4])
{
	char path[64], buf[4096], *u;
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/status", name) >= (int)sizeof(path))
		return -1;
	fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return -1; /* gone meanwhile */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	u = strstr(buf, "\nUid:");
	if (!u || sscanf(u + 5, "%llu %llu %llu %llu", &id[0], &id[1], &id[2], &id[3]) != 4)
		return -1;
	return 0;
}

static bool pid_name(const char *s, long *pid)
{
	char *end;

	if (s[0] < '1' || s[0] > '9')
		return false;
	errno = 0;
	*pid = strtol(s, &end, 10);
	return !*end && !errno && *pid > 0 && *pid <= INT32_MAX;
}

/* Adds the uids (real, effective, saved, file system) of every process
 * under proc_root to s. */
static int scan(const char *proc_root, struct agent_uid_set *s)
{
	DIR *d = opendir(proc_root);
	struct dirent *de;
	int dfd;

	if (!d)
		return -errno;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		unsigned long long id[4];
		long pid;

		if (!pid_name(de->d_name, &pid) || read_status_uids(dfd, de->d_name, id) < 0)
			continue;
		for (int i = 0; i < 4; i++)
			if (id[i] <= UINT32_MAX)
				agent_uid_set_add(s, (uint32_t)id[i]);
	}
	closedir(d);
	return 0;
}

int agent_uid_set_scan_proc(struct agent_uid_set *s, const char *proc_root)
{
	return scan(proc_root, s);
}

static size_t cache_bytes(const struct agent_proc_cache *c)
{
	return (size_t)(((uint64_t)c->uids.uid_max - c->uids.uid_min + 1 + 63) / 64) *
	       sizeof(uint64_t);
}

int agent_proc_cache_init(struct agent_proc_cache *c, uint32_t uid_min, uint32_t uid_max,
			  const char *proc_root)
{
	*c = (struct agent_proc_cache){ .proc_root = proc_root, .rfd = -1 };
	return agent_uid_set_init(&c->uids, uid_min, uid_max);
}

void agent_proc_cache_free(struct agent_proc_cache *c)
{
	agent_proc_cache_scan_cancel(c);
	if (c->shared)
		munmap(c->shared, cache_bytes(c));
	c->shared = NULL;
	agent_uid_set_free(&c->uids);
}

/* Reaps the last collected child if it has exited (or, block, once it
 * has: it is past its verdict, tearing down). */
static void reap_unreaped(struct agent_proc_cache *c, bool block)
{
	pid_t r;

	if (c->unreaped <= 0)
		return;
	do
		r = waitpid(c->unreaped, NULL, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r != 0)
		c->unreaped = 0;
}

int agent_proc_cache_scan_start(struct agent_proc_cache *c, int64_t now_ms, int *rfd)
{
	int p[2], e;
	pid_t pid;

	if (c->child > 0)
		return -EBUSY;
	reap_unreaped(c, true);
	if (!c->shared) {
		void *m = mmap(NULL, cache_bytes(c), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			return -errno;
		c->shared = m;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		/* Only the scan, into the shared mapping, then the verdict. */
		struct agent_uid_set s = { c->uids.uid_min, c->uids.uid_max, c->shared };
		char ok;

		/* Nothing of agentd's held open meanwhile (a client would not
		 * see its connection closed until this child is gone). */
		close_range(3, (unsigned)p[1] - 1, 0);
		close_range((unsigned)p[1] + 1, ~0u, 0);
		/* Below agentd's own priority, as the reaper's scans: the
		 * last answers serve until it is done. */
		(void)!nice(5);
		memset(c->shared, 0, cache_bytes(c));
		ok = scan(c->proc_root, &s) == 0 ? 'y' : 'n';
		_exit(write(p[1], &ok, 1) == 1 ? 0 : 1);
	}
	e = errno;
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -e;
	}
	c->child = pid;
	c->rfd = p[0];
	c->child_ms = now_ms;
	*rfd = p[0];
	return 0;
}

/* Collects the child: its verdict ('y' done, 't' no verdict within
 * timeout_ms: killed, else failed or killed). */
static char scan_collect(struct agent_proc_cache *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->rfd, .events = POLLIN };
	char ok = 'n';
	ssize_t n;
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		kill(c->child, SIGKILL);
		ok = 't';
	}
	do
		n = read(c->rfd, ok == 't' ? &(char){ 0 } : &ok, 1);
	while (n < 0 && errno == EINTR);
	close(c->rfd);
	c->rfd = -1;
	c->unreaped = c->child;
	c->child = 0;
	reap_unreaped(c, false);
	return ok == 't' ? 't' : n == 1 ? ok : 'n';
}

int agent_proc_cache_scan_finish(struct agent_proc_cache *c, int timeout_ms)
{
	char v;

	if (c->child <= 0)
		return -ECHILD;
	v = scan_collect(c, timeout_ms);
	if (v != 'y')
		return v == 't' ? -ETIMEDOUT : -EIO;
	/* A scan made in process since it started is newer: it stands. */
	if (c->scanned && c->at_ms > c->child_ms)
		return 0;
	/* The child wrote all of it before its verdict, which came after. */
	memcpy(c->uids.bits, c->shared, cache_bytes(c));
	c->at_ms = c->child_ms;
	c->scanned = true;
	c->scans++;
	return 0;
}

void agent_proc_cache_scan_cancel(struct agent_proc_cache *c)
{
	if (c->child > 0) {
		kill(c->child, SIGKILL);
		(void)scan_collect(c, -1); /* killed: its pipe closes as it dies */
	}
	reap_unreaped(c, true);
}

int agent_proc_cache_refresh(struct agent_proc_cache *c, int64_t now_ms, unsigned max_age_ms)
{
	int r;

	if (c->scanned && now_ms - c->at_ms <= (int64_t)max_age_ms && now_ms >= c->at_ms)
		return 0;
	memset(c->uids.bits, 0, cache_bytes(c));
	r = scan(c->proc_root, &c->uids);
	if (r < 0) {
		c->scanned = false;
		return r;
	}
	c->at_ms = now_ms;
	c->scanned = true;
	c->scans++;
	return 0;
}

bool agent_proc_cache_uid_busy(const struct agent_proc_cache *c, uint32_t uid)
{
	return !c->scanned || agent_uid_set_has(&c->uids, uid);
}

bool agent_uid_has_process(uint32_t uid)
{
	/* 0 would ask about the caller's own uid. */
	if (uid == 0)
		return true;
	errno = 0;
	/* -1 is also a valid answer (a nice value of 1): only ESRCH is "none". */
	return !(getpriority(PRIO_USER, (id_t)uid) == -1 && errno == ESRCH);
}

bool agent_uid_known_to_nss(uint32_t uid)
{
	size_t len = 1024;

	for (;;) {
		char *buf = malloc(len);
		struct passwd pw, *pwp = NULL;
		struct group gr, *grp = NULL;
		int r1, r2;

		if (!buf)
			return true;
		r1 = getpwuid_r(uid, &pw, buf, len, &pwp);
		r2 = r1 == ERANGE ? ERANGE : getgrgid_r(uid, &gr, buf, len, &grp);
		free(buf);
		if ((r1 == ERANGE || r2 == ERANGE) && len < (1u << 20)) {
			len *= 2;
			continue;
		}
		if (pwp || grp)
			return true;
		/* Not found is 0 (or ENOENT from some modules); anything else:
		 * we could not check, so do not hand the uid out. */
		return !((r1 == 0 || r1 == ENOENT) && (r2 == 0 || r2 == ENOENT));
	}
}
