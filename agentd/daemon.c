/* agentd's event loop, start-up reconciliation and retirement.
 *
 * One thread, one epoll set: the listening socket, client connections,
 * a signalfd (TERM, INT, HUP, CHLD), two timerfds for the next expiry (one
 * on CLOCK_BOOTTIME, one on CLOCK_REALTIME that is cancelled when the wall
 * clock is set, so a clock step re-evaluates every deadline) and the result
 * pipes of reaper children. Nothing here blocks on a client. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agentd/daemon.h"
#include "agentd/reap.h"
#include "agentd/uidrange.h"
#include "common/kv.h"
#include "common/live.h"
#include "common/text.h"

#define MAX_EVENTS 32

static int64_t boot_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec;
}

static int epoll_add(struct agentd *d, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* ------------------------------------------------------------ live table */

/* The live table: dense array (for scans) plus an index by uid (for O(1)
 * removal); uids are always inside [uid_min, uid_max]. */
static void live_remove(struct agentd *d, uint32_t uid)
{
	uint32_t k, i;

	if (uid < d->cfg->uid_min || uid > d->cfg->uid_max)
		return;
	k = uid - d->cfg->uid_min;
	if (!d->live_idx[k])
		return;
	i = d->live_idx[k] - 1;
	d->live_idx[k] = 0;
	d->live[i] = d->live[--d->nlive];
	if (i < d->nlive)
		d->live_idx[d->live[i].uid - d->cfg->uid_min] = i + 1;
}

static void arm(struct agentd *d, int64_t boot_ns, int64_t real)
{
	struct itimerspec b = { 0 }, r = { 0 };

	if (boot_ns) {
		b.it_value.tv_sec = boot_ns / 1000000000;
		b.it_value.tv_nsec = boot_ns % 1000000000;
	}
	r.it_value.tv_sec = real;
	timerfd_settime(d->tboot_fd, TFD_TIMER_ABSTIME, &b, NULL);
	timerfd_settime(d->treal_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &r, NULL);
	d->armed_boot = boot_ns;
	d->armed_real = real;
}

/* Arms both timers for the earliest deadline in the live table. */
static void rearm_timers(struct agentd *d)
{
	int64_t min_boot = INT64_MAX, min_real = INT64_MAX;

	for (size_t i = 0; i < d->nlive; i++) {
		if (d->live[i].expires_boot_ns < min_boot)
			min_boot = d->live[i].expires_boot_ns;
		if (d->live[i].expires < min_real)
			min_real = d->live[i].expires;
	}
	if (min_boot == INT64_MAX)
		arm(d, 0, 0);
	else
		arm(d, min_boot > 0 ? min_boot : 1, min_real > 0 ? min_real : 1);
}

int agentd_live_add(struct agentd *d, const struct agent_identity *id)
{
	if (d->nlive == d->cap_live) {
		size_t cap = d->cap_live ? d->cap_live * 2 : 256;
		struct agentd_live *n = realloc(d->live, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->live = n;
		d->cap_live = cap;
	}
	if (id->uid < d->cfg->uid_min || id->uid > d->cfg->uid_max)
		return -ERANGE;
	live_remove(d, id->uid);
	struct agentd_live *e = &d->live[d->nlive++];

	e->uid = id->uid;
	e->expires = id->expires;
	e->expires_boot_ns = id->expires_boot_ns;
	snprintf(e->name, sizeof(e->name), "%s", id->name);
	d->live_idx[id->uid - d->cfg->uid_min] = (uint32_t)d->nlive;
	/* Only an earlier deadline moves the timers: no scan per create. */
	if (!d->armed_boot || e->expires_boot_ns < d->armed_boot || e->expires < d->armed_real)
		arm(d, !d->armed_boot || e->expires_boot_ns < d->armed_boot ? e->expires_boot_ns :
									       d->armed_boot,
		    !d->armed_real || e->expires < d->armed_real ? e->expires : d->armed_real);
	return 0;
}

/* ------------------------------------------------------------ snapshot */

int agentd_snap_put_identity(struct agentd *d, const struct agent_identity *id)
{
	struct agent_snap_entry e = { 0 };
	size_t i;

	for (i = 0; i < d->cfg->npurposes; i++)
		if (strcmp(d->cfg->purposes[i].name, id->purpose) == 0)
			break;
	if (i == d->cfg->npurposes)
		return -ENOENT;
	e.uid = id->uid;
	e.purpose = (uint32_t)i;
	e.expires = id->expires;
	e.expires_boot_ns = id->expires_boot_ns;
	snprintf(e.name, sizeof(e.name), "%s", id->name);
	snprintf(e.subject, sizeof(e.subject), "%s", id->subject);
	return agent_snap_put(d->snap, &e);
}

static int snap_add_cb(const struct agent_identity *id, void *arg)
{
	struct agentd *d = arg;
	int r = agentd_snap_put_identity(d, id);

	/* A live identity whose purpose is gone was retired before this runs. */
	return r == -ENOENT ? 0 : r;
}

/* (Re)builds the snapshot file from the store's live identities. */
static int snapshot_rebuild(struct agentd *d)
{
	struct agent_snap_purpose *pp = NULL;
	struct agent_snap_writer *w = NULL;
	struct agent_snap_params p = { 0 };
	int r;

	if (d->cfg->npurposes) {
		pp = calloc(d->cfg->npurposes, sizeof(*pp));
		if (!pp)
			return -ENOMEM;
	}
	for (size_t i = 0; i < d->cfg->npurposes; i++) {
		const struct agent_cfg_purpose *cp = &d->cfg->purposes[i];

		snprintf(pp[i].name, sizeof(pp[i].name), "%s", cp->name);
		snprintf(pp[i].shell, sizeof(pp[i].shell), "%s", cp->shell);
		if (cp->home == AGENT_HOME_EPHEMERAL)
			snprintf(pp[i].home_base, sizeof(pp[i].home_base), "%s",
				 d->cfg->home_base);
		pp[i].ngroups = (uint32_t)cp->ngroups;
		for (size_t g = 0; g < cp->ngroups; g++)
			pp[i].gids[g] = (uint32_t)cp->gids[g];
	}
	p.uid_min = d->cfg->uid_min;
	p.uid_max = d->cfg->uid_max;
	p.purposes = pp;
	p.npurposes = (uint32_t)d->cfg->npurposes;
	p.agents_group = d->cfg->agents_group;
	p.agents_gid = (uint32_t)d->cfg->agents_gid;
	r = agent_snap_writer_create(d->snap_path, &p, &w);
	free(pp);
	if (r < 0)
		return r;
	d->snap = w; /* the old writer, if any, is freed by the caller */
	return agent_store_foreach(d->store, AGENT_STORE_LIVE, snap_add_cb, d);
}

/* ------------------------------------------------------------ homes */

/* The base of ephemeral homes must be a root-owned directory that nobody
 * else can write, or a user could race symlinks into it. */
static int home_base_open(struct agentd *d)
{
	struct stat st;
	int fd;

	if (mkdir(d->cfg->home_base, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(d->cfg->home_base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		return -EPERM;
	}
	if (d->home_fd >= 0)
		close(d->home_fd);
	d->home_fd = fd;
	return 0;
}

int agentd_home_create(struct agentd *d, const char *name, uint32_t uid)
{
	int fd, r = 0;

	if (mkdirat(d->home_fd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(d->home_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchown(fd, uid, uid) < 0 || fchmod(fd, 0700) < 0)
		r = -errno;
	close(fd);
	return r;
}

bool agentd_purpose_has_home(struct agentd *d, const char *purpose)
{
	const struct agent_cfg_purpose *p = agent_config_purpose(d->cfg, purpose);

	return p && p->home == AGENT_HOME_EPHEMERAL;
}

/* ------------------------------------------------------------ reapers */

static void reaper_queue(struct agentd *d, uint32_t uid, const char *name, bool orphan)
{
	struct agentd_reaper *j = calloc(1, sizeof(*j)), **tail;

	if (!j) {
		syslog(LOG_AUTHPRIV | LOG_ERR, "out of memory queueing the reaper for uid %u", uid);
		return;
	}
	j->kind = W_REAPER;
	j->rfd = -1;
	j->uid = uid;
	j->orphan = orphan;
	snprintf(j->name, sizeof(j->name), "%s", name ? name : "");
	for (tail = &d->reap_queue; *tail; tail = &(*tail)->next)
		;
	*tail = j;
}

struct reap_result {
	int rc;
	uint32_t killed;
};

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

/* Runs in the forked child: no store, no sockets, just the kill loop. */
static _Noreturn void reaper_child(struct agentd *d, const struct agentd_reaper *j, int wfd)
{
	char home[AGENT_PATH_MAX * 2];
	struct agent_reap_opts o = {
		.uid = j->uid,
		.grace_ms = (unsigned)d->cfg->kill_grace_ms,
		.home = NULL,
		.proc_root = "/proc",
	};
	struct reap_result res = { 0 };
	unsigned killed = 0;

	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Hold no client connection, listening socket or database open while
	 * the kill loop runs: only the result pipe and the standard fds. */
	if (wfd > 3)
		close_range(3, (unsigned)wfd - 1, 0);
	close_range((unsigned)wfd + 1, ~0U, 0);
	if (j->name[0]) {
		int n = snprintf(home, sizeof(home), "%s/%s", d->cfg->home_base, j->name);

		if (n > 0 && (size_t)n < sizeof(home))
			o.home = home;
	}
	if (j->name[0])
		nscd_invalidate();
	res.rc = agent_reap_uid(&o, &killed);
	res.killed = killed;
	if (write(wfd, &res, sizeof(res)) < 0)
		_exit(2);
	_exit(0);
}

static void reapers_start(struct agentd *d)
{
	while (d->reap_queue && d->nreaping < AGENTD_MAX_REAPERS) {
		struct agentd_reaper *j = d->reap_queue;
		int p[2];

		if (pipe2(p, O_CLOEXEC) < 0)
			return;
		j->pid = fork();
		if (j->pid < 0) {
			close(p[0]);
			close(p[1]);
			return;
		}
		if (j->pid == 0) {
			close(p[0]);
			reaper_child(d, j, p[1]);
		}
		close(p[1]);
		j->rfd = p[0];
		d->reap_queue = j->next;
		j->next = d->reap_running;
		d->reap_running = j;
		d->nreaping++;
		if (epoll_add(d, j->rfd, EPOLLIN, j) < 0)
			syslog(LOG_AUTHPRIV | LOG_ERR, "epoll: %m");
	}
}

/* Forgets retired identities reaped longer than retired_retention ago; at
 * most once an hour. Their uids left quarantine long before. */
static void purge_retired(struct agentd *d)
{
	int64_t now = boot_seconds();

	if (d->last_purge && now - d->last_purge < 3600)
		return;
	d->last_purge = now;
	if (agent_store_purge(d->store, time(NULL) - (int64_t)d->cfg->retired_retention) < 0)
		syslog(LOG_AUTHPRIV | LOG_ERR, "store: cannot purge old retired identities");
}

static void reaper_done(struct agentd *d, struct agentd_reaper *j)
{
	struct reap_result res = { .rc = -EIO };
	struct agentd_reaper **pp;
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];
	ssize_t n;

	n = read(j->rfd, &res, sizeof(res));
	if (n != (ssize_t)sizeof(res))
		res.rc = -EIO;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, j->rfd, NULL);
	close(j->rfd);
	while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
		;
	for (pp = &d->reap_running; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	d->nreaping--;

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), j->orphan ? "orphan-kill" : "reap");
	if (j->name[0])
		agent_kv_str(&kv, "identity", j->name);
	agent_kv_u64(&kv, "uid", j->uid);
	agent_kv_u64(&kv, "killed", res.killed);
	if (res.rc < 0) {
		agent_kv_str(&kv, "error", strerror(-res.rc));
		agent_audit_emit(&d->audit, &kv, LOG_WARNING);
		/* Not reaped: the uid stays out of circulation; retried at start. */
	} else {
		agent_audit_emit(&d->audit, &kv, LOG_NOTICE);
		if (j->name[0] && agent_store_set_reaped(d->store, j->name, time(NULL), res.killed) < 0)
			syslog(LOG_AUTHPRIV | LOG_ERR, "store: cannot mark %s reaped", j->name);
	}
	if (!j->orphan)
		agentd_run_reaped(d, j->uid);
	free(j);
	reapers_start(d);
	purge_retired(d);
}

/* Waits for every queued and running reaper (start-up only). */
static void reapers_drain(struct agentd *d)
{
	reapers_start(d);
	while (d->reap_running) {
		struct agentd_reaper *j = d->reap_running;
		struct pollfd pfd;

		pfd.fd = j->rfd;
		pfd.events = POLLIN;
		/* The kill loop bounds itself (10 s); allow a margin. */
		if (poll(&pfd, 1, 15000) <= 0) {
			kill(j->pid, SIGKILL);
		}
		reaper_done(d, j);
	}
}

/* ------------------------------------------------------------ retirement */

struct retire_ctx {
	struct agentd *d;
	char (*names)[AGENT_NAME_MAX + 1];
	size_t n, cap;
	int err;
};

static int collect_child(const struct agent_identity *id, void *arg)
{
	struct retire_ctx *rc = arg;

	if (rc->n == rc->cap) {
		size_t cap = rc->cap ? rc->cap * 2 : 16;
		void *p = realloc(rc->names, cap * sizeof(*rc->names));

		if (!p)
			return -ENOMEM;
		rc->names = p;
		rc->cap = cap;
	}
	snprintf(rc->names[rc->n++], AGENT_NAME_MAX + 1, "%s", id->name);
	return 0;
}

static void audit_retire(struct agentd *d, const struct agent_identity *id,
			 enum agent_retire_reason reason, const char *text, const char *by,
			 unsigned sessions)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "retire");
	agent_audit_identity(&kv, id);
	agent_kv_str(&kv, "reason", agent_retire_reason_str(reason));
	if (text && text[0])
		agent_kv_str(&kv, "text", text);
	if (by && by[0])
		agent_kv_str(&kv, "by", by);
	agent_kv_u64(&kv, "sessions", sessions);
	agent_audit_emit(&d->audit, &kv, LOG_NOTICE);
}

int agentd_retire(struct agentd *d, const char *name, enum agent_retire_reason reason,
		  const char *text, const char *by)
{
	struct retire_ctx rc = { .d = d };
	struct agent_identity id;
	int64_t now = time(NULL);
	int r;

	r = agent_store_get(d->store, name, &id);
	if (r < 0)
		return r;
	if (id.state != AGENT_STATE_LIVE)
		return -EALREADY;

	/* Collect the subtree breadth-first, then retire it in one transaction. */
	r = collect_child(&id, &rc);
	for (size_t i = 0; r == 0 && i < rc.n; i++)
		r = agent_store_foreach_child(d->store, rc.names[i], collect_child, &rc);
	if (r < 0)
		goto out;
	r = agent_store_begin(d->store);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < rc.n; i++) {
		r = agent_store_retire(d->store, rc.names[i], i ? AGENT_RETIRE_PARENT : reason, now,
				       i ? name : text);
		if (r < 0 && r != -EALREADY) {
			agent_store_rollback(d->store);
			goto out;
		}
	}
	r = agent_store_commit(d->store);
	if (r < 0) {
		agent_store_rollback(d->store);
		goto out;
	}
	for (size_t i = 0; i < rc.n; i++) {
		struct agent_identity c;

		if (agent_store_get(d->store, rc.names[i], &c) < 0)
			continue;
		agent_snap_remove(d->snap, c.uid);
		live_remove(d, c.uid);
		audit_retire(d, &c, i ? AGENT_RETIRE_PARENT : reason, i ? name : text, by,
			     agentd_sessions_end(d, c.uid));
		agentd_stepup_retired(d, c.name);
		reaper_queue(d, c.uid, c.name, false);
	}
	/* No re-arm: a timer set for a retired identity fires once, finds
	 * nothing due and re-arms (expire_due). */
	reapers_start(d);
	r = 0;
out:
	free(rc.names);
	return r;
}

/* Retires every live identity that is past either deadline. */
static void expire_due(struct agentd *d)
{
	struct agent_now now;

	agent_now(&now);
	for (size_t i = 0; i < d->nlive;) {
		struct agentd_live e = d->live[i];

		if (agent_is_live(false, e.expires, e.expires_boot_ns, &now)) {
			i++;
			continue;
		}
		if (agentd_retire(d, e.name, AGENT_RETIRE_EXPIRED, NULL, NULL) < 0)
			live_remove(d, e.uid); /* already gone from the store's view */
		/* retire removed entries (possibly several); rescan from start */
		i = 0;
	}
	rearm_timers(d);
}

/* ------------------------------------------------------------ uid allocation */

int agentd_alloc_uid(struct agentd *d, uint32_t *out)
{
	struct agent_uid_set procs;
	uint64_t span = (uint64_t)d->cfg->uid_max - d->cfg->uid_min + 1;
	int64_t now = time(NULL);
	int r;

	r = agent_uid_set_init(&procs, d->cfg->uid_min, d->cfg->uid_max);
	if (r < 0)
		return r;
	r = agent_uid_set_scan_proc(&procs, "/proc");
	if (r < 0)
		goto out;
	r = -ENOSPC;
	for (uint64_t i = 0; i < span; i++) {
		uint32_t uid = d->cfg->uid_min + (uint32_t)((d->next_uid - d->cfg->uid_min + i) % span);
		bool busy;

		if (agent_store_uid_busy(d->store, uid, now, (int64_t)d->cfg->uid_quarantine, &busy) < 0)
			continue;
		if (busy || agent_uid_set_has(&procs, uid) || agent_uid_known_to_nss(uid))
			continue;
		*out = uid;
		d->next_uid = uid == d->cfg->uid_max ? d->cfg->uid_min : uid + 1;
		r = 0;
		break;
	}
out:
	agent_uid_set_free(&procs);
	return r;
}

/* ------------------------------------------------------------ start-up */

struct boot_ctx {
	struct agentd *d;
	struct agent_now now;
	bool new_boot;
	char (*expired)[AGENT_NAME_MAX + 1];
	size_t nexpired, cap;
};

static int startup_live_cb(const struct agent_identity *id, void *arg)
{
	struct boot_ctx *b = arg;
	struct agent_identity c = *id;

	/* A boot deadline from another boot means nothing: derive a new one. */
	if (b->new_boot || c.expires_boot_ns == 0)
		c.expires_boot_ns = agent_boot_deadline(c.expires, &b->now);
	if (!agent_is_live(false, c.expires, c.expires_boot_ns, &b->now) ||
	    !agent_config_purpose(b->d->cfg, c.purpose) || c.uid < b->d->cfg->uid_min ||
	    c.uid > b->d->cfg->uid_max) {
		if (b->nexpired == b->cap) {
			size_t cap = b->cap ? b->cap * 2 : 64;
			void *p = realloc(b->expired, cap * sizeof(*b->expired));

			if (!p)
				return -ENOMEM;
			b->expired = p;
			b->cap = cap;
		}
		snprintf(b->expired[b->nexpired++], AGENT_NAME_MAX + 1, "%s", c.name);
		return 0;
	}
	if (agentd_purpose_has_home(b->d, c.purpose))
		agentd_home_create(b->d, c.name, c.uid);
	return agentd_live_add(b->d, &c);
}

bool agentd_reap_pending(struct agentd *d, uint32_t uid)
{
	for (struct agentd_reaper *q = d->reap_queue; q; q = q->next)
		if (q->uid == uid)
			return true;
	for (struct agentd_reaper *q = d->reap_running; q; q = q->next)
		if (q->uid == uid)
			return true;
	return false;
}

static int unreaped_cb(const struct agent_identity *id, void *arg)
{
	if (!agentd_reap_pending(arg, id->uid))
		reaper_queue(arg, id->uid, id->name, false);
	return 0;
}

static void read_boot_id(char *buf, size_t len)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		n = 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* Before any request: retire what expired while we were down (or lost its
 * purpose or range), finish interrupted reaps, kill processes in the range
 * that belong to no live identity, then publish the snapshot. */
static int reconcile(struct agentd *d)
{
	struct boot_ctx b = { .d = d };
	struct agent_uid_set procs;
	char boot_id[64], old_id[64];
	int r;

	agent_now(&b.now);
	read_boot_id(boot_id, sizeof(boot_id));
	if (agent_store_meta_get(d->store, "boot_id", old_id, sizeof(old_id)) < 0 ||
	    strcmp(old_id, boot_id) != 0)
		b.new_boot = true;
	r = agent_store_meta_set(d->store, "boot_id", boot_id);
	if (r < 0)
		return r;

	r = agent_store_foreach(d->store, AGENT_STORE_LIVE, startup_live_cb, &b);
	if (r < 0)
		goto out;
	r = snapshot_rebuild(d);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < b.nexpired; i++) {
		struct agent_identity id;
		bool lost = agent_store_get(d->store, b.expired[i], &id) == 0 &&
			    (!agent_config_purpose(d->cfg, id.purpose) ||
			     id.uid < d->cfg->uid_min || id.uid > d->cfg->uid_max);

		agentd_retire(d, b.expired[i],
			      lost ? AGENT_RETIRE_ORPHANED : AGENT_RETIRE_EXPIRED,
			      lost ? "purpose or uid no longer in the configuration" : NULL,
			      NULL);
	}
	/* Retirements above queued their reapers; add interrupted ones. */
	r = agent_store_foreach(d->store, AGENT_STORE_UNREAPED, unreaped_cb, d);
	if (r < 0)
		goto out;

	/* Orphans: in-range uids with processes and no live identity. */
	r = agent_uid_set_init(&procs, d->cfg->uid_min, d->cfg->uid_max);
	if (r < 0)
		goto out;
	if (agent_uid_set_scan_proc(&procs, "/proc") == 0) {
		for (uint64_t u = d->cfg->uid_min; u <= d->cfg->uid_max; u++) {
			struct agent_identity id;

			if (!agent_uid_set_has(&procs, (uint32_t)u))
				continue;
			if (agent_store_get_live_uid(d->store, (uint32_t)u, &id) == 0)
				continue;
			if (!agentd_reap_pending(d, (uint32_t)u))
				reaper_queue(d, (uint32_t)u, NULL, true);
		}
	}
	agent_uid_set_free(&procs);
	reapers_drain(d);
	d->last_purge = 0;
	purge_retired(d);
	r = 0;
out:
	free(b.expired);
	return r;
}

/* ------------------------------------------------------------ socket */

static int listen_socket(struct agentd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->sock_path) >=
	    (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (unlink(d->sock_path) < 0 && errno != ENOENT) {
		r = -errno;
		goto fail;
	}
	/* Any local user may connect; each request is authorised per caller. */
	old = umask(0111);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 128) < 0) {
		r = -errno;
		goto fail;
	}
	d->listen_fd = fd;
	return 0;
fail:
	close(fd);
	return r;
}

static void conn_close_fds(struct agentd_conn *c)
{
	for (unsigned i = 0; i < c->nfds; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	c->nfds = 0;
}

static void conn_free(struct agentd *d, struct agentd_conn *c)
{
	struct agentd_outmsg *m;

	agentd_run_conn_gone(d, c);
	agentd_stepup_conn_gone(d, c);
	conn_close_fds(c);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	while ((m = c->out_head)) {
		c->out_head = m->next;
		sodium_memzero(m->data, m->len);
		free(m);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->nconns--;
	free(c);
}

static void accept_conns(struct agentd *d)
{
	for (;;) {
		struct agentd_conn *c;
		socklen_t len = sizeof(struct ucred);
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return;
		/* A connection that waits (a pending step-up, an agentctl run)
		 * does not count: max_pending and max_live bound those. */
		if (d->nconns - d->nrequests - d->nruns >= d->cfg->max_connections) {
			/* (each waiting one is among nconns, so no underflow) */
			close(fd); /* over the limit: the client sees a reset */
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->kind = W_CONN;
		c->fd = fd;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0 ||
		    epoll_add(d, fd, EPOLLIN, c) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = d->conns;
		if (d->conns)
			d->conns->prev = c;
		d->conns = c;
		d->nconns++;
	}
}

/* Sends what is queued; returns false if the connection was closed. */
bool agentd_conn_flush(struct agentd *d, struct agentd_conn *c)
{
	struct agentd_outmsg *m;

	while ((m = c->out_head)) {
		ssize_t n = send(c->fd, m->data, m->len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			conn_free(d, c);
			return false;
		}
		c->out_head = m->next;
		if (!c->out_head)
			c->out_tail = NULL;
		c->out_bytes -= m->len;
		sodium_memzero(m->data, m->len);
		free(m);
	}
	if (!c->out_head && c->closing) {
		conn_free(d, c);
		return false;
	}
	struct epoll_event ev = { .events = c->out_head ? EPOLLOUT : EPOLLIN, .data.ptr = c };

	epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	return true;
}

void agentd_reply(struct agentd *d, struct agentd_conn *c, const struct agent_wbuf *w)
{
	struct agentd_outmsg *m;

	if (c->out_bytes + w->len > AGENTD_CONN_OUT_MAX) {
		c->closing = true; /* a client that does not read loses its connection */
		return;
	}
	m = malloc(sizeof(*m) + w->len);
	if (!m) {
		c->closing = true;
		return;
	}
	m->next = NULL;
	m->len = w->len;
	memcpy(m->data, w->data, w->len);
	if (c->out_tail)
		c->out_tail->next = m;
	else
		c->out_head = m;
	c->out_tail = m;
	c->out_bytes += w->len;
}

void agentd_reply_error(struct agentd *d, struct agentd_conn *c, int err, const char *fmt, ...)
{
	struct agent_wbuf w;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	agent_wire_begin(&w, AGENT_MSG_ERROR);
	agent_wire_error(&w, err, msg);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

/* Takes the descriptors of an SCM_RIGHTS message into c->fds (all of them
 * are received CLOEXEC; any beyond the slots are closed). False if the
 * control data was truncated or of another kind. */
static bool conn_take_fds(struct agentd_conn *c, struct msghdr *mh)
{
	bool ok = !(mh->msg_flags & MSG_CTRUNC);

	for (struct cmsghdr *h = CMSG_FIRSTHDR(mh); h; h = CMSG_NXTHDR(mh, h)) {
		size_t n;

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) {
			ok = false;
			continue;
		}
		n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (c->nfds < sizeof(c->fds) / sizeof(c->fds[0])) {
				c->fds[c->nfds++] = fd;
			} else {
				close(fd);
				ok = false;
			}
		}
	}
	return ok;
}

static void conn_read(struct agentd *d, struct agentd_conn *c)
{
	static uint8_t buf[AGENT_WIRE_MAX + 1];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 3)];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct agent_msg m;
	bool fds_ok;
	ssize_t n;

	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	fds_ok = n < 0 || conn_take_fds(c, &mh);
	if (n <= 0) {
		conn_free(d, c);
		return;
	}
	/* A protocol violation ends the connection after one error reply. */
	if ((size_t)n > AGENT_WIRE_MAX || !fds_ok || agent_wire_parse(&m, buf, (size_t)n) < 0) {
		agentd_reply_error(d, c, EBADMSG, "malformed request");
		c->closing = true;
	} else {
		agentd_dispatch(d, c, &m);
	}
	conn_close_fds(c); /* what the handler did not keep */
	sodium_memzero(buf, sizeof(buf));
	agentd_conn_flush(d, c);
}

/* ------------------------------------------------------------ config reload */

struct purge_ctx {
	struct agentd *d;
	char (*names)[AGENT_NAME_MAX + 1];
	size_t n, cap;
};

static int purposeless_cb(const struct agent_identity *id, void *arg)
{
	struct purge_ctx *p = arg;

	if (agent_config_purpose(p->d->cfg, id->purpose))
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		void *q = realloc(p->names, cap * sizeof(*p->names));

		if (!q)
			return -ENOMEM;
		p->names = q;
		p->cap = cap;
	}
	snprintf(p->names[p->n++], AGENT_NAME_MAX + 1, "%s", id->name);
	return 0;
}

static void audit_config(struct agentd *d, const char *decision, const char *error)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "config");
	agent_kv_str(&kv, "path", d->opts.config_path);
	agent_kv_str(&kv, "decision", decision);
	if (error)
		agent_kv_str(&kv, "error", error);
	agent_audit_emit(&d->audit, &kv, error ? LOG_WARNING : LOG_NOTICE);
}

static void reload_config(struct agentd *d)
{
	struct agent_config *n = NULL, *old = d->cfg;
	struct agent_snap_writer *oldsnap = d->snap;
	struct purge_ctx p = { .d = d };
	char err[512];
	int r;

	r = agent_config_load(d->opts.config_path, &n, err, sizeof(err));
	if (r == 0 && (n->uid_min != old->uid_min || n->uid_max != old->uid_max)) {
		snprintf(err, sizeof(err), "%s: changing uid_min/uid_max needs a restart",
			 d->opts.config_path);
		r = -EINVAL;
	}
	if (r < 0) {
		agent_config_free(n);
		audit_config(d, "rejected", err);
		return;
	}
	d->cfg = n;
	if (strcmp(n->home_base, old->home_base) != 0 && home_base_open(d) < 0)
		syslog(LOG_AUTHPRIV | LOG_ERR, "cannot use home_base %s", n->home_base);
	/* Identities whose purpose disappeared keep no rights: retire them. */
	agent_store_foreach(d->store, AGENT_STORE_LIVE, purposeless_cb, &p);
	for (size_t i = 0; i < p.n; i++)
		agentd_retire(d, p.names[i], AGENT_RETIRE_REVOKED,
			      "purpose removed by a configuration reload", NULL);
	free(p.names);
	if (snapshot_rebuild(d) < 0) {
		syslog(LOG_AUTHPRIV | LOG_ERR, "cannot rebuild the snapshot");
		if (d->snap != oldsnap) {
			agent_snap_writer_free(d->snap);
		}
		d->snap = oldsnap;
	} else if (oldsnap != d->snap) {
		agent_snap_writer_free(oldsnap);
	}
	agent_config_free(old);
	audit_config(d, "loaded", NULL);
}

/* ------------------------------------------------------------ main loop */

static void handle_signals(struct agentd *d)
{
	struct signalfd_siginfo si;

	while (read(d->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			d->stop = true;
			break;
		case SIGHUP:
			d->reload = true;
			break;
		case SIGCHLD:
			/* Reapers are collected through their pipes. */
			break;
		}
	}
}

static void drain_timer(int fd)
{
	uint64_t ticks;

	/* ECANCELED on the real-time timer means the clock was set. */
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN && errno != ECANCELED)
		syslog(LOG_AUTHPRIV | LOG_ERR, "timerfd: %m");
}

static int setup_fds(struct agentd *d)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->tboot_fd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	d->treal_fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	d->tstepup_fd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->epfd < 0 || d->signal_fd < 0 || d->tboot_fd < 0 || d->treal_fd < 0 ||
	    d->tstepup_fd < 0)
		return -errno;
	d->kinds[W_SIGNAL] = W_SIGNAL;
	d->kinds[W_TIMER_BOOT] = W_TIMER_BOOT;
	d->kinds[W_TIMER_REAL] = W_TIMER_REAL;
	d->kinds[W_TIMER_STEPUP] = W_TIMER_STEPUP;
	d->kinds[W_LISTEN] = W_LISTEN;
	if (epoll_add(d, d->signal_fd, EPOLLIN, &d->kinds[W_SIGNAL]) < 0 ||
	    epoll_add(d, d->tboot_fd, EPOLLIN, &d->kinds[W_TIMER_BOOT]) < 0 ||
	    epoll_add(d, d->treal_fd, EPOLLIN, &d->kinds[W_TIMER_REAL]) < 0 ||
	    epoll_add(d, d->tstepup_fd, EPOLLIN, &d->kinds[W_TIMER_STEPUP]) < 0)
		return -errno;
	return 0;
}

static void run_loop(struct agentd *d)
{
	struct epoll_event ev[MAX_EVENTS];

	while (!d->stop) {
		int n = epoll_wait(d->epfd, ev, MAX_EVENTS, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			syslog(LOG_AUTHPRIV | LOG_ERR, "epoll_wait: %m");
			break;
		}
		for (int i = 0; i < n; i++) {
			int kind = *(int *)ev[i].data.ptr;

			switch (kind) {
			case W_LISTEN:
				accept_conns(d);
				break;
			case W_SIGNAL:
				handle_signals(d);
				break;
			case W_TIMER_BOOT:
			case W_TIMER_REAL:
				drain_timer(kind == W_TIMER_BOOT ? d->tboot_fd : d->treal_fd);
				expire_due(d);
				break;
			case W_REAPER:
				reaper_done(d, ev[i].data.ptr);
				break;
			case W_RUN:
				agentd_run_done(d, ev[i].data.ptr);
				break;
			case W_TIMER_STEPUP:
				agentd_stepup_expire(d);
				break;
			case W_APPROVER:
				agentd_approval_job_done(d, ev[i].data.ptr);
				break;
			case W_SESSION:
				/* The session's process exited without closing it. */
				agentd_audit_session_end(d, ev[i].data.ptr, "process exited");
				agentd_session_free(d, ev[i].data.ptr);
				break;
			case W_CONN: {
				struct agentd_conn *c = ev[i].data.ptr;

				if (ev[i].events & EPOLLOUT) {
					agentd_conn_flush(d, c);
				} else if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
					if (ev[i].events & EPOLLIN)
						conn_read(d, c);
					else
						conn_free(d, c);
				}
				/* conn may be freed: no later event refers to it, as
				 * epoll reports each fd once per wait. */
				break;
			}
			}
		}
		if (d->reload) {
			d->reload = false;
			reload_config(d);
		}
	}
}

static void audit_simple(struct agentd *d, const char *event, const char *extra_key,
			 const char *extra)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), event);
	agent_kv_str(&kv, "version", PACKAGE_VERSION);
	if (extra_key)
		agent_kv_str(&kv, extra_key, extra);
	agent_kv_u64(&kv, "live", d->nlive);
	agent_audit_emit(&d->audit, &kv, LOG_NOTICE);
}

/* The first record of a run: where the audit chain resumed. */
static void audit_start(struct agentd *d)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "start");
	agent_kv_str(&kv, "version", PACKAGE_VERSION);
	agent_kv_u64(&kv, "pid", (uint64_t)getpid());
	agent_audit_start_fields(&d->audit, &kv);
	agent_audit_emit(&d->audit, &kv, d->audit.lost_from ? LOG_WARNING : LOG_NOTICE);
}

static int make_dir(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -EPERM;
	if ((st.st_mode & 07777) != mode && chmod(path, mode) < 0)
		return -errno;
	return 0;
}

static void cleanup(struct agentd *d)
{
	agentd_runs_forget(d); /* their commands go on until their TTL */
	agentd_stepup_forget(d);
	while (d->conns)
		conn_free(d, d->conns);
	while (d->sessions)
		agentd_session_free(d, d->sessions);
	while (d->reap_queue) {
		struct agentd_reaper *j = d->reap_queue;

		d->reap_queue = j->next;
		free(j);
	}
	while (d->reap_running) {
		struct agentd_reaper *j = d->reap_running;

		/* Let running reapers finish their kill loop: stopping agentd
		 * must not leave a retired identity's processes alive. */
		struct pollfd pfd = { .fd = j->rfd, .events = POLLIN };

		if (poll(&pfd, 1, 15000) <= 0)
			kill(j->pid, SIGKILL);
		reaper_done(d, j);
		while (d->reap_queue) {
			struct agentd_reaper *q = d->reap_queue;

			d->reap_queue = q->next;
			free(q);
		}
	}
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->sock_path);
	}
	agent_snap_writer_free(d->snap);
	agent_store_close(d->store);
	agent_config_free(d->cfg);
	free(d->live);
	free(d->live_idx);
	int fds[] = { d->epfd, d->signal_fd, d->tboot_fd, d->treal_fd, d->tstepup_fd, d->home_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	sodium_memzero(&d->tkey, sizeof(d->tkey));
}

int agentd_main(const struct agentd_opts *opts)
{
	struct agentd d = { .opts = *opts };
	struct agent_range_sources src = {
		.login_defs = "/etc/login.defs", .subuid = "/etc/subuid", .subgid = "/etc/subgid",
	};
	char err[512];
	bool ran = false;
	int r;

	d.epfd = d.listen_fd = d.signal_fd = d.tboot_fd = d.treal_fd = d.tstepup_fd = d.home_fd = -1;
	d.started = boot_seconds();
	agent_audit_open(&d.audit, opts->foreground_log);
	if (sodium_init() < 0) {
		fprintf(stderr, "agentd: cannot initialise libsodium\n");
		r = -EIO;
		goto out;
	}
	/* The audit chain first, so that every record of the run is in it. */
	if ((r = make_dir(opts->state_dir, 0700)) < 0 ||
	    (r = agent_audit_chain_open(&d.audit, opts->state_dir)) < 0) {
		fprintf(stderr, "agentd: cannot open the audit chain in %s: %s%s\n", opts->state_dir,
			strerror(-r), r == -EBADMSG ? " (" AGENT_AUDIT_STATE_FILE " is damaged; "
						      "remove it to start a new chain)" : "");
		syslog(LOG_AUTHPRIV | LOG_ERR, "cannot open the audit chain in %s: %s",
		       opts->state_dir, strerror(-r));
		goto out;
	}
	audit_start(&d);

	r = agent_config_load(opts->config_path, &d.cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "agentd: %s\n", err);
		audit_config(&d, "rejected", err);
		goto out;
	}
	r = agent_range_check(d.cfg->uid_min, d.cfg->uid_max, &src, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "agentd: %s: %s\n", opts->config_path, err);
		audit_config(&d, "rejected", err);
		goto out;
	}
	if ((r = make_dir(opts->runtime_dir, 0755)) < 0) {
		fprintf(stderr, "agentd: cannot use %s or %s: %s\n", opts->state_dir,
			opts->runtime_dir, strerror(-r));
		goto out;
	}
	if (snprintf(d.sock_path, sizeof(d.sock_path), "%s/%s", opts->runtime_dir,
		     AGENTD_SOCKET_NAME) >= (int)sizeof(d.sock_path) ||
	    snprintf(d.snap_path, sizeof(d.snap_path), "%s/%s", opts->runtime_dir,
		     AGENT_SNAP_FILE) >= (int)sizeof(d.snap_path)) {
		fprintf(stderr, "agentd: runtime directory path too long\n");
		r = -ENAMETOOLONG;
		goto out;
	}
	r = agent_store_open(opts->state_dir, &d.store);
	if (r < 0) {
		fprintf(stderr, "agentd: cannot open the state database in %s: %s\n",
			opts->state_dir, strerror(-r));
		goto out;
	}
	r = agent_token_key_load(opts->state_dir, &d.tkey);
	if (r < 0) {
		fprintf(stderr, "agentd: cannot load %s/token.key: %s\n", opts->state_dir,
			strerror(-r));
		goto out;
	}
	r = home_base_open(&d);
	if (r < 0) {
		fprintf(stderr, "agentd: home_base %s must be a directory owned by root and not "
				"writable by group or others: %s\n", d.cfg->home_base, strerror(-r));
		goto out;
	}
	if ((r = setup_fds(&d)) < 0) {
		fprintf(stderr, "agentd: cannot set up the event loop: %s\n", strerror(-r));
		goto out;
	}
	d.next_uid = d.cfg->uid_min;
	d.live_idx = calloc((size_t)d.cfg->uid_max - d.cfg->uid_min + 1, sizeof(*d.live_idx));
	if (!d.live_idx) {
		r = -ENOMEM;
		goto out;
	}
	r = reconcile(&d);
	if (r < 0) {
		fprintf(stderr, "agentd: start-up reconciliation failed: %s\n", strerror(-r));
		goto out;
	}
	audit_config(&d, "loaded", NULL);
	r = listen_socket(&d);
	if (r < 0) {
		fprintf(stderr, "agentd: cannot listen on %s: %s\n", d.sock_path, strerror(-r));
		goto out;
	}
	if ((r = epoll_add(&d, d.listen_fd, EPOLLIN, &d.kinds[W_LISTEN])) < 0)
		goto out;
	rearm_timers(&d);
	audit_simple(&d, "ready", "socket", d.sock_path);
	ran = true;
	run_loop(&d);
	r = 0;
out:
	cleanup(&d); /* may still record reaps */
	if (d.audit.chained) {
		struct agent_kv kv;
		char buf[AGENT_AUDIT_LINE_MAX];

		agent_audit_begin(&d.audit, &kv, buf, sizeof(buf), "stop");
		agent_kv_str(&kv, "version", PACKAGE_VERSION);
		agent_kv_str(&kv, "reason", ran ? "signal" : "start-up failed");
		agent_kv_u64(&kv, "live", d.nlive);
		agent_audit_emit(&d.audit, &kv, ran ? LOG_NOTICE : LOG_WARNING);
	}
	agent_audit_close(&d.audit);
	return r < 0 ? 1 : 0;
}
