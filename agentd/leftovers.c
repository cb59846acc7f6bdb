/* The leftovers sweep (agentd/leftovers.h).
 *
 * Invariants: a uid whose release is recorded is held (uid_use.held != 0)
 * until a sweep that saw every swept directory reports nothing of it left;
 * the walk never follows a symlink (AT_SYMLINK_NOFOLLOW, O_NOFOLLOW) and
 * never crosses a mount point (mount ids compared, and checked again on
 * each directory opened); at most one sweeper child runs, bounded by
 * AGENTD_SWEEP_BOUND_MS; the loop never waits for it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agentd/daemon.h"
#include "agentd/kill.h"
#include "agentd/leftovers.h"
#include "common/kv.h"

#define MAX_DEPTH 256
#define REPORT_MAX (1u << 20) /* bytes of the child's report kept */
#define NAMES_MAX 8           /* file names per audit field */
#define NAME_SHOWN_MAX 160    /* bytes of one name in a record */

/* ------------------------------------------------------------ the walk */

struct walk {
	const uint32_t *uids;
	size_t nuids;
	const struct agent_sweep_report *rep;
	uint64_t *removed; /* per uid */
	char path[8192];
};

static int uid_index(const struct walk *w, uint32_t uid)
{
	size_t lo = 0, hi = w->nuids;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w->uids[mid] == uid)
			return (int)mid;
		if (w->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int statx_at(int dfd, const char *name, struct statx *sx)
{
	if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | (name[0] ? 0 : AT_EMPTY_PATH),
		  STATX_TYPE | STATX_MODE | STATX_UID | STATX_INO | STATX_MNT_ID, sx) < 0)
		return -errno;
	if (!(sx->stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	return 0;
}

static void report(struct walk *w, char what, uint32_t uid)
{
	w->rep->cb(what, uid, w->path, 0, w->rep->arg);
}

/* Every uid is reported kept: a place that could not be searched. */
static void report_all(struct walk *w)
{
	for (size_t i = 0; i < w->nuids; i++)
		report(w, 'K', w->uids[i]);
}

/* path += "/" name; returns the old length to restore. */
static size_t path_push(struct walk *w, const char *name)
{
	size_t len = strlen(w->path);

	snprintf(w->path + len, sizeof(w->path) - len, "/%s", name);
	return len;
}

/* A setuid or setgid regular file: strip those bits through a descriptor
 * on the very file checked (same inode, same owner). */
static void strip(struct walk *w, int dfd, const char *name, const struct statx *sx, uint32_t uid)
{
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_ino == sx->stx_ino && st.st_uid == uid &&
	    S_ISREG(st.st_mode) && fchmod(fd, st.st_mode & 01777) == 0)
		report(w, 'S', uid);
	close(fd);
}

static void walk_dir(struct walk *w, int dfd, uint64_t mnt, int depth, int owner);

/* One entry of the directory open at dfd. owner: index of the swept uid
 * that owns an enclosing directory (everything in it goes), or -1. */
static void walk_entry(struct walk *w, int dfd, const char *name, uint64_t mnt, int depth,
		       int owner)
{
	struct statx sx;
	int own, r = statx_at(dfd, name, &sx);

	if (r < 0)
		return; /* gone meanwhile */
	if (sx.stx_mnt_id != mnt)
		return; /* a mount point, or a file mounted here: not ours to enter */
	own = uid_index(w, sx.stx_uid);
	if (own < 0)
		own = owner;
	if (S_ISDIR(sx.stx_mode)) {
		struct statx dx;
		int sub = openat(dfd, name,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

		if (sub < 0) {
			if (own >= 0 && errno != ENOENT)
				report(w, 'K', w->uids[own]);
			return;
		}
		if (statx_at(sub, "", &dx) < 0 || dx.stx_mnt_id != mnt ||
		    dx.stx_ino != sx.stx_ino) {
			close(sub); /* swapped since the check */
			if (own >= 0)
				report(w, 'K', w->uids[own]);
			return;
		}
		walk_dir(w, sub, mnt, depth + 1, own);
		close(sub);
		if (own < 0)
			return;
		if (unlinkat(dfd, name, AT_REMOVEDIR) == 0)
			w->removed[own]++;
		else if (errno != ENOENT)
			report(w, 'K', w->uids[own]);
		return;
	}
	if (own < 0)
		return;
	if (S_ISREG(sx.stx_mode) && (sx.stx_mode & (S_ISUID | S_ISGID)) &&
	    uid_index(w, sx.stx_uid) >= 0)
		strip(w, dfd, name, &sx, sx.stx_uid);
	if (unlinkat(dfd, name, 0) == 0)
		w->removed[own]++;
	else if (errno != ENOENT)
		report(w, 'K', w->uids[own]);
}

static void walk_dir(struct walk *w, int dfd, uint64_t mnt, int depth, int owner)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (depth > MAX_DEPTH) {
		/* Cannot tell what lies below: whoever it may belong to stays held. */
		if (owner >= 0)
			report(w, 'K', w->uids[owner]);
		else
			report_all(w);
		return;
	}
	fd = dup(dfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		if (owner >= 0)
			report(w, 'K', w->uids[owner]);
		else
			report_all(w);
		return;
	}
	while ((de = readdir(d))) {
		size_t len;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		len = path_push(w, de->d_name);
		walk_entry(w, dfd, de->d_name, mnt, depth, owner);
		w->path[len] = '\0';
	}
	closedir(d);
}

int agent_sweep(const char *const *dirs, size_t ndirs, const uint32_t *uids, size_t nuids,
		const struct agent_sweep_report *rep)
{
	struct walk *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->uids = uids;
	w->nuids = nuids;
	w->rep = rep;
	w->removed = calloc(nuids ? nuids : 1, sizeof(*w->removed));
	if (!w->removed) {
		free(w);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ndirs; i++) {
		struct statx sx;
		int fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		snprintf(w->path, sizeof(w->path), "%s", dirs[i]);
		if (fd < 0) {
			if (errno != ENOENT)
				report_all(w); /* there, but not searchable */
			continue;
		}
		if (statx_at(fd, "", &sx) < 0)
			report_all(w);
		else
			walk_dir(w, fd, sx.stx_mnt_id, 0, -1);
		close(fd);
	}
	for (size_t i = 0; i < nuids; i++)
		rep->cb('R', uids[i], NULL, w->removed[i], rep->arg);
	free(w->removed);
	free(w);
	return 0;
}

/* ------------------------------------------------------------ the child */

/* Report records on the pipe: "C UID N\0" or "C UID PATH\0"; "E\0" last. */
static void child_cb(char what, uint32_t uid, const char *path, uint64_t n, void *arg)
{
	int fd = *(int *)arg;
	char buf[8300];
	int len = path ? snprintf(buf, sizeof(buf), "%c %u %s", what, uid, path)
		       : snprintf(buf, sizeof(buf), "%c %u %llu", what, uid, (unsigned long long)n);

	if (len < 0 || (size_t)len >= sizeof(buf))
		len = (int)sizeof(buf) - 1;
	buf[len] = '\0';
	for (size_t off = 0; off < (size_t)len + 1;) {
		ssize_t k = write(fd, buf + off, (size_t)len + 1 - off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			_exit(2);
		off += (size_t)k;
	}
}

static _Noreturn void sweeper_child(struct agentd *d, const uint32_t *uids, size_t n, int wfd)
{
	const char *dirs[64];
	size_t nd = 0;
	struct agent_sweep_report rep = { child_cb, &wfd };
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* No client connection, listening socket or database: only the pipe. */
	if (wfd > 3)
		close_range(3, (unsigned)wfd - 1, 0);
	close_range((unsigned)wfd + 1, ~0U, 0);
	for (size_t i = 0; i < d->cfg->nsweep_dirs && nd < 63; i++)
		dirs[nd++] = d->cfg->sweep_dirs[i];
	dirs[nd++] = d->cfg->home_base;
	if (agent_sweep(dirs, nd, uids, n, &rep) < 0)
		_exit(1);
	agent_remove_ipc_set(uids, n); /* SysV IPC, /dev/shm, /dev/mqueue */
	if (write(wfd, "E", 2) != 2)
		_exit(2);
	_exit(0);
}

/* ------------------------------------------------------------ the loop's side */

/* A list of uids in arrival order with a hash of them (uid + 1 in open
 * addressing, 0 empty) so membership costs O(1) however many thousand a
 * mass retirement brings. */
struct uidvec {
	uint32_t *v;
	size_t n, cap;
	uint32_t *h;
	size_t hcap; /* a power of two, at least 2n; 0 before the first add */
};

struct agentd_leftovers {
	int kind_pipe;  /* W_SWEEP: epoll data of rfd */
	int kind_timer; /* W_SWEEP_TIMER: epoll data of tfd */
	int tfd, rfd;
	pid_t pid;       /* running sweeper, 0 if none */
	bool kick_armed; /* the timer starts a sweep (AGENTD_SWEEP_DELAY_MS) */
	struct uidvec queue, flight;
	struct uidvec unrecorded; /* released, the release not yet in the store */
	char *out;                /* the running sweeper's report so far */
	size_t outlen;
};

static size_t uidvec_slot(const struct uidvec *v, uint32_t uid)
{
	size_t i = (size_t)(uid * 2654435761u) & (v->hcap - 1);

	while (v->h[i] && v->h[i] != uid + 1)
		i = (i + 1) & (v->hcap - 1);
	return i;
}

/* Rebuilds the hash from the list (after removals, or to grow). */
static int uidvec_rehash(struct uidvec *v, size_t want)
{
	size_t cap = 64;
	uint32_t *h;

	while (cap < 2 * want)
		cap *= 2;
	h = calloc(cap, sizeof(*h));
	if (!h)
		return -ENOMEM;
	free(v->h);
	v->h = h;
	v->hcap = cap;
	for (size_t i = 0; i < v->n; i++)
		v->h[uidvec_slot(v, v->v[i])] = v->v[i] + 1;
	return 0;
}

static bool uidvec_has(const struct uidvec *v, uint32_t uid)
{
	return v->hcap && v->h[uidvec_slot(v, uid)] == uid + 1;
}

static int uidvec_add(struct uidvec *v, uint32_t uid)
{
	if (uidvec_has(v, uid))
		return 0;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		uint32_t *p = realloc(v->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		v->v = p;
		v->cap = cap;
	}
	if (2 * (v->n + 1) > v->hcap && uidvec_rehash(v, v->n + 1) < 0)
		return -ENOMEM;
	v->v[v->n++] = uid;
	v->h[uidvec_slot(v, uid)] = uid + 1;
	return 0;
}

static void uidvec_clear(struct uidvec *v)
{
	v->n = 0;
	if (v->h)
		memset(v->h, 0, v->hcap * sizeof(*v->h));
}

static void uidvec_free(struct uidvec *v)
{
	free(v->v);
	free(v->h);
	*v = (struct uidvec){ 0 };
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void arm(struct agentd_leftovers *l, int64_t ms)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (ms % 1000) * 1000000L;
	if (ms <= 0)
		its.it_value.tv_nsec = 1; /* now */
	timerfd_settime(l->tfd, 0, &its, NULL);
}

static struct agentd_leftovers *state(struct agentd *d)
{
	struct agentd_leftovers *l = d->leftovers;

	if (l)
		return l;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->kind_pipe = W_SWEEP;
	l->kind_timer = W_SWEEP_TIMER;
	l->rfd = -1;
	l->tfd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	if (l->tfd < 0 || agentd_watch(d, l->tfd, EPOLLIN, &l->kind_timer) < 0) {
		if (l->tfd >= 0)
			close(l->tfd);
		free(l);
		return NULL;
	}
	d->leftovers = l;
	return l;
}

/* The releases gathered since the last sweep, in one transaction. Until
 * then the uid is not free either: it is neither never-used nor released. */
static void record_releases(struct agentd *d, struct agentd_leftovers *l)
{
	bool tx;
	int64_t now = time(NULL);
	size_t failed = 0;

	if (!l->unrecorded.n)
		return;
	tx = agent_store_begin(d->store) == 0;
	for (size_t i = 0; i < l->unrecorded.n; i++)
		if (agent_store_uid_release(d->store, l->unrecorded.v[i], now, 1) < 0)
			failed++;
	if (tx && agent_store_commit(d->store) < 0)
		failed = l->unrecorded.n;
	if (failed)
		agent_audit_log(&d->audit, LOG_ERR,
				"store: cannot record the release of %zu uids (they stay out of "
				"circulation until the next start)",
				failed);
	uidvec_clear(&l->unrecorded);
}

static void kick(struct agentd *d)
{
	struct agentd_leftovers *l = d->leftovers;
	int p[2];

	if (l)
		record_releases(d, l);
	if (!l || l->pid > 0 || l->queue.n == 0 || d->stop)
		return; /* stopping: the uids stay held and are swept at the next start */
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	/* The queue becomes the flight, keeping only uids the store still
	 * holds: a uid freed (and perhaps handed out) since it was queued is
	 * never swept again. Sorted for the child's lookups. */
	uidvec_free(&l->flight);
	l->flight = l->queue;
	l->queue = (struct uidvec){ 0 };
	for (size_t i = 0; i < l->flight.n;) {
		int held = 0;

		if (agent_store_uid_held(d->store, l->flight.v[i], &held) == 0 && held == 0)
			l->flight.v[i] = l->flight.v[--l->flight.n];
		else
			i++;
	}
	qsort(l->flight.v, l->flight.n, sizeof(uint32_t), cmp_u32);
	if (l->flight.hcap && uidvec_rehash(&l->flight, l->flight.n) < 0)
		uidvec_clear(&l->flight); /* (no memory: they stay held, swept later) */
	if (l->flight.n == 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	l->pid = fork();
	if (l->pid < 0) {
		l->pid = 0;
		close(p[0]);
		close(p[1]);
		l->queue = l->flight; /* retried at the next release or tick */
		l->flight = (struct uidvec){ 0 };
		arm(l, 60000);
		return;
	}
	if (l->pid == 0) {
		close(p[0]);
		sweeper_child(d, l->flight.v, l->flight.n, p[1]);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	l->rfd = p[0];
	l->outlen = 0;
	if (agentd_watch(d, l->rfd, EPOLLIN, &l->kind_pipe) < 0)
		agent_audit_log(&d->audit, LOG_ERR, "epoll: %m");
	arm(l, AGENTD_SWEEP_BOUND_MS);
}

void agentd_leftovers_released(struct agentd *d, uint32_t uid)
{
	struct agentd_leftovers *l = state(d);

	/* Held from its release record (written with the others gathered,
	 * before the sweep) until a sweep finds nothing of it. */
	if (!l || uidvec_add(&l->unrecorded, uid) < 0) {
		if (agent_store_uid_release(d->store, uid, time(NULL), 1) < 0)
			agent_audit_log(&d->audit, LOG_ERR,
					"store: cannot record the release of uid %u", uid);
	}
	if (l && uidvec_has(&l->flight, uid))
		return; /* cannot happen while held; never sweep one uid twice at once */
	if (!l || uidvec_add(&l->queue, uid) < 0) {
		agent_audit_log(&d->audit, LOG_ERR, "cannot queue the leftovers sweep of uid %u",
				uid);
		return;
	}
	if (l->pid == 0 && !l->kick_armed) {
		l->kick_armed = true;
		arm(l, AGENTD_SWEEP_DELAY_MS);
	}
}

/* Queues every held uid. */
static void queue_held(struct agentd *d)
{
	struct agentd_leftovers *l = state(d);
	struct agent_uid_use *rows;
	size_t n = 0, max = 4096;

	if (!l)
		return;
	rows = calloc(max, sizeof(*rows));
	if (!rows)
		return;
	if (agent_store_uid_use_list(d->store, 1, rows, max, &n) == 0)
		for (size_t i = 0; i < n && i < max; i++)
			if (!uidvec_has(&l->flight, rows[i].uid))
				uidvec_add(&l->queue, rows[i].uid);
	free(rows);
	kick(d);
	if (l->pid == 0)
		arm(l, (int64_t)AGENTD_SWEEP_AGAIN_S * 1000);
}

bool agentd_leftovers_pending(struct agentd *d, uint32_t uid)
{
	struct agentd_leftovers *l = d->leftovers;

	return l && (uidvec_has(&l->queue, uid) || uidvec_has(&l->flight, uid));
}

void agentd_leftovers_start(struct agentd *d)
{
	queue_held(d);
}

/* Names of one kind for uid, newline-separated, bounded. */
static void names(const char *out, size_t len, char what, uint32_t uid, char *buf, size_t cap,
		  uint64_t *count)
{
	size_t used = 0;

	*count = 0;
	buf[0] = '\0';
	for (size_t off = 0; off < len; off += strnlen(out + off, len - off) + 1) {
		const char *rec = out + off, *path;
		char *end;
		unsigned long u;
		int k;

		if (strnlen(rec, len - off) == len - off)
			break; /* a record cut short: the sweeper was killed */
		if (rec[0] != what || rec[1] != ' ')
			continue;
		u = strtoul(rec + 2, &end, 10);
		if (u != uid || *end != ' ')
			continue;
		path = end + 1;
		if (++*count > NAMES_MAX)
			continue;
		k = snprintf(buf + used, cap - used, "%s%.*s", used ? "\n" : "", NAME_SHOWN_MAX,
			     path);

		if (k > 0 && (size_t)k < cap - used)
			used += (size_t)k;
		else
			buf[used] = '\0';
	}
}

static uint64_t removed_count(const char *out, size_t len, uint32_t uid)
{
	for (size_t off = 0; off < len; off += strnlen(out + off, len - off) + 1) {
		char *end;

		if (strnlen(out + off, len - off) == len - off)
			break;
		if (out[off] == 'R' && out[off + 1] == ' ' &&
		    strtoul(out + off + 2, &end, 10) == uid && *end == ' ')
			return strtoull(end + 1, NULL, 10);
	}
	return 0;
}

/* The sweeper has ended (EOF on its pipe, or killed): its report applied. */
static void sweep_ended(struct agentd *d, bool killed)
{
	struct agentd_leftovers *l = d->leftovers;
	size_t unfreed = 0;
	bool complete, tx;

	epoll_ctl(d->epfd, EPOLL_CTL_DEL, l->rfd, NULL);
	close(l->rfd);
	l->rfd = -1;
	while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
		;
	l->pid = 0;
	complete = !killed && l->outlen >= 2 && l->out[l->outlen - 2] == 'E' &&
		   (l->outlen == 2 || l->out[l->outlen - 3] == '\0');
	tx = agent_store_begin(d->store) == 0;
	for (size_t i = 0; i < l->flight.n; i++) {
		uint32_t uid = l->flight.v[i];
		char stripped[NAMES_MAX * (NAME_SHOWN_MAX + 1) + 1], kept[sizeof(stripped)];
		char buf[AGENT_AUDIT_LINE_MAX];
		uint64_t ns, nk, nr = removed_count(l->out, l->outlen, uid);
		struct agent_kv kv;
		int held = !complete ? 1 : 0;

		names(l->out, l->outlen, 'S', uid, stripped, sizeof(stripped), &ns);
		names(l->out, l->outlen, 'K', uid, kept, sizeof(kept), &nk);
		if (complete && nk)
			held = 2;
		if (agent_store_uid_hold(d->store, uid, held) < 0 && held == 0)
			unfreed++;
		agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "leftovers");
		agent_kv_u64(&kv, "uid", uid);
		agent_kv_u64(&kv, "removed", nr);
		agent_kv_u64(&kv, "stripped", ns);
		agent_kv_u64(&kv, "kept", nk);
		agent_kv_str(&kv, "result", held == 0 ? "clean" : held == 2 ? "held" : "failed");
		if (!complete)
			agent_kv_str(&kv, "error",
				     killed ? "the sweep ran out of time"
					    : "the sweep did not finish");
		if (ns)
			agent_kv_str(&kv, "stripped_files", stripped);
		if (nk)
			agent_kv_str(&kv, "kept_files", kept);
		agent_audit_emit(&d->audit, &kv, held || ns ? LOG_WARNING : LOG_NOTICE);
	}
	if (tx && agent_store_commit(d->store) < 0)
		unfreed = l->flight.n;
	if (unfreed)
		agent_audit_log(&d->audit, LOG_ERR,
				"store: cannot free %zu uids after their sweep (swept again at the "
				"next start)",
				unfreed);
	uidvec_clear(&l->flight);
	l->outlen = 0;
	if (l->queue.n)
		kick(d);
	if (l->pid == 0)
		arm(l, (int64_t)AGENTD_SWEEP_AGAIN_S * 1000);
}

void agentd_leftovers_pipe(struct agentd *d)
{
	struct agentd_leftovers *l = d->leftovers;
	char chunk[8192];

	if (!l || l->rfd < 0)
		return;
	for (;;) {
		ssize_t n = read(l->rfd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* more later */
		if (n <= 0)
			break; /* EOF (or an error): the sweeper is done */
		if (l->outlen + (size_t)n <= REPORT_MAX) {
			char *p = realloc(l->out, l->outlen + (size_t)n);

			if (p) {
				memcpy(p + l->outlen, chunk, (size_t)n);
				l->out = p;
				l->outlen += (size_t)n;
			}
		}
	}
	sweep_ended(d, false);
}

void agentd_leftovers_timer(struct agentd *d)
{
	struct agentd_leftovers *l = d->leftovers;
	uint64_t ticks;

	if (!l)
		return;
	if (read(l->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		agent_audit_log(&d->audit, LOG_ERR, "timerfd: %m");
	if (l->pid > 0) {
		kill(l->pid, SIGKILL); /* not yet waited for: the pid is still its */
		sweep_ended(d, true);
		return;
	}
	if (l->kick_armed) {
		l->kick_armed = false;
		kick(d);
		if (l->pid == 0)
			arm(l, (int64_t)AGENTD_SWEEP_AGAIN_S * 1000);
		return;
	}
	queue_held(d);
}

void agentd_leftovers_finish(struct agentd *d)
{
	struct agentd_leftovers *l = d->leftovers;

	if (!l)
		return;
	uidvec_clear(&l->queue); /* held in the store: swept at the next start */
	if (l->pid > 0) {
		kill(l->pid, SIGKILL);
		sweep_ended(d, true);
	}
	if (l->tfd >= 0)
		close(l->tfd);
	record_releases(d, l);
	uidvec_free(&l->queue);
	uidvec_free(&l->flight);
	uidvec_free(&l->unrecorded);
	free(l->out);
	free(l);
	d->leftovers = NULL;
}
