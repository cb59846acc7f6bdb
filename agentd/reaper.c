/* Reaper supervision (agentd/reaper.h): one long-lived helper process,
 * started early, does the killing of kill.c for every retired uid; agentd
 * talks to it over a SOCK_SEQPACKET socketpair and records the results.
 *
 * Invariants: a uid is marked reaped only on the helper's success report;
 * at most AGENTD_REAPS_IN_FLIGHT uids are outstanding; the helper holds no
 * client connection, listening socket or database, only its socket; if it
 * dies it is started again and every outstanding uid is sent again; every
 * wait for it is bounded (its workers bound themselves). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agentd/daemon.h"
#include "agentd/deferred.h"
#include "agentd/reap_helper.h"
#include "agentd/reaper.h"
#include "common/clock.h"
#include "common/kv.h"

/* The helper's worst case for one uid: grace, the kill bound, the home. */
#define KILL_BOUND_MS 2000
#define RESULTS_PER_TURN 64
#define WAIT_MS 15000

void agentd_reaper_queue(struct agentd *d, uint32_t uid, const char *name, bool orphan)
{
	struct agentd_reaper *j = calloc(1, sizeof(*j));

	if (!j) {
		agent_audit_log(&d->audit, LOG_ERR, "out of memory queueing the reaper for uid %u",
				uid);
		return;
	}
	j->uid = uid;
	j->orphan = orphan;
	snprintf(j->name, sizeof(j->name), "%s", name ? name : "");
	TAILQ_INSERT_TAIL(&d->reapers.queue, j, link);
}

int agentd_reaper_helper_start(struct agentd *d)
{
	int sv[2];
	pid_t p;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	p = fork();
	if (p < 0) {
		int e = -errno;

		close(sv[0]);
		close(sv[1]);
		return e;
	}
	if (p == 0) {
		close(sv[0]);
		agent_reap_helper_run(sv[1]);
	}
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = -errno;

		close(sv[0]);
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		return e;
	}
	d->reapers.kind = W_REAPER;
	d->reapers.sock = sv[0];
	d->reapers.pid = p;
	d->reapers.watched = false;
	d->reapers.want_out = false;
	return 0;
}

/* Bounded: the helper exits once its workers are done (each bounds
 * itself); past the bound it is killed. */
static void helper_stop(struct agentd *d, unsigned wait_ms)
{
	if (d->reapers.sock >= 0) {
		if (d->reapers.watched)
			epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->reapers.sock, NULL);
		close(d->reapers.sock);
		d->reapers.sock = -1;
		d->reapers.watched = false;
		d->reapers.want_out = false;
	}
	if (d->reapers.pid > 0) {
		for (unsigned t = 0; t < wait_ms / 10; t++) {
			pid_t w = waitpid(d->reapers.pid, NULL, WNOHANG);

			if (w == d->reapers.pid || (w < 0 && errno == ECHILD)) {
				d->reapers.pid = 0;
				return;
			}
			usleep(10000);
		}
		kill(d->reapers.pid, SIGKILL);
		while (waitpid(d->reapers.pid, NULL, 0) < 0 && errno == EINTR)
			;
		d->reapers.pid = 0;
	}
}

/* Writable interest while requests wait for room in the socket. */
static void want_out(struct agentd *d, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
				  .data.ptr = &d->reapers };

	if (!d->reapers.watched || d->reapers.want_out == on)
		return;
	if (epoll_ctl(d->epfd, EPOLL_CTL_MOD, d->reapers.sock, &ev) == 0)
		d->reapers.want_out = on;
}

/* The helper died (or hangs): a new one gets every outstanding uid. */
static void helper_restart(struct agentd *d, const char *why)
{
	struct agentd_reaper *j;
	int r;

	agent_audit_log(&d->audit, LOG_ERR, "reaper helper %s: starting a new one", why);
	if (d->reapers.pid > 0)
		kill(d->reapers.pid, SIGKILL);
	helper_stop(d, 1000);
	while ((j = TAILQ_LAST(&d->reapers.running, agentd_reaper_queue))) {
		TAILQ_REMOVE(&d->reapers.running, j, link);
		TAILQ_INSERT_HEAD(&d->reapers.queue, j, link);
	}
	d->reapers.nrunning = 0;
	r = agentd_reaper_helper_start(d);
	if (r < 0)
		agent_audit_log(&d->audit, LOG_ERR, "cannot start the reaper helper: %s",
				strerror(-r));
}

void agentd_reapers_start(struct agentd *d)
{
	if (d->reapers.sock < 0 && agentd_reaper_helper_start(d) < 0)
		return;
	if (!d->reapers.watched && d->epfd >= 0) {
		if (agentd_watch(d, d->reapers.sock, EPOLLIN, &d->reapers) < 0)
			agent_audit_log(&d->audit, LOG_ERR, "epoll: %m");
		else
			d->reapers.watched = true;
	}
	while (!TAILQ_EMPTY(&d->reapers.queue) && d->reapers.nrunning < AGENTD_REAPS_IN_FLIGHT) {
		struct agentd_reaper *j = TAILQ_FIRST(&d->reapers.queue);
		struct agent_reap_req q = {
			.uid = j->uid,
			.grace_ms = (uint32_t)d->cfg->kill_grace_ms,
			.bound_ms = KILL_BOUND_MS,
		};

		if (j->name[0] && snprintf(q.home, sizeof(q.home), "%s/%s", d->cfg->home_base,
					   j->name) >= (int)sizeof(q.home))
			q.home[0] = '\0';
		if (send(d->reapers.sock, &q, agent_reap_req_size(&q),
			 MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				want_out(d, true); /* sent when the socket has room */
				return;
			}
			helper_restart(d, "is gone");
			return;
		}
		TAILQ_REMOVE(&d->reapers.queue, j, link);
		TAILQ_INSERT_TAIL(&d->reapers.running, j, link);
		d->reapers.nrunning++;
	}
	want_out(d, false);
}

/* Their uids left quarantine long before. */
void agentd_purge_retired(struct agentd *d, bool force)
{
	int64_t now = agentd_boot_seconds();

	if (!force && d->reapers.last_purge && now - d->reapers.last_purge < 3600)
		return;
	if (agentd_deferred_error(d))
		return; /* the store refuses writes: next time */
	d->reapers.last_purge = now;
	if (agent_store_purge(d->store, time(NULL) - (int64_t)d->cfg->retired_retention) < 0)
		agent_audit_log(&d->audit, LOG_ERR, "store: cannot purge old retired identities");
}

static void record(struct agentd *d, struct agentd_reaper *j, const struct agent_reap_res *res)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), j->orphan ? "orphan-kill" : "reap");
	if (j->name[0])
		agent_kv_str(&kv, "identity", j->name);
	agent_kv_u64(&kv, "uid", j->uid);
	agent_kv_u64(&kv, "killed", res->killed);
	if (res->survivors)
		agent_kv_u64(&kv, "survivors", res->survivors);
	if (res->rc < 0) {
		agent_kv_str(&kv, "error", strerror(-res->rc));
		agent_audit_emit(&d->audit, &kv, LOG_WARNING);
		/* Not reaped: the uid stays out of circulation; retried at start. */
	} else {
		agent_audit_emit(&d->audit, &kv, LOG_NOTICE);
		/* Through the queue: after its retirement record, whatever the
		 * store does (deferred.c); written with the rest of this read. */
		if (j->name[0] && agentd_deferred_reaped(d, j->name, time(NULL), res->killed) < 0)
			agent_audit_log(&d->audit, LOG_ERR, "store: cannot mark %s reaped",
					j->name);
	}
	/* Once per uid when it fails (a run's client hears back), and again
	 * when a retry succeeds (its leftovers are swept then). */
	if (!j->orphan && d->hooks.reaped && (res->rc >= 0 || !j->failed))
		d->hooks.reaped(d, j->uid);
}

/* A failed reap waits for its retry, in order of retry time. */
static void retry_later(struct agentd *d, struct agentd_reaper *j)
{
	int64_t wait = AGENTD_REAP_RETRY_MIN_MS;
	struct agentd_reaper *q;

	for (unsigned k = 0; k < j->failed && wait < AGENTD_REAP_RETRY_MAX_MS; k++)
		wait *= 2;
	if (wait > AGENTD_REAP_RETRY_MAX_MS)
		wait = AGENTD_REAP_RETRY_MAX_MS;
	j->failed++;
	j->retry_ms = agent_boot_ms() + wait;
	q = TAILQ_LAST(&d->reapers.retry, agentd_reaper_queue);
	while (q && q->retry_ms > j->retry_ms)
		q = TAILQ_PREV(q, agentd_reaper_queue, link);
	if (q)
		TAILQ_INSERT_AFTER(&d->reapers.retry, q, j, link);
	else
		TAILQ_INSERT_HEAD(&d->reapers.retry, j, link);
}

int agentd_reapers_retry(struct agentd *d)
{
	struct agentd_reaper *j;
	int64_t now = agent_boot_ms();
	bool moved = false;

	while ((j = TAILQ_FIRST(&d->reapers.retry)) && j->retry_ms <= now) {
		TAILQ_REMOVE(&d->reapers.retry, j, link);
		TAILQ_INSERT_TAIL(&d->reapers.queue, j, link);
		moved = true;
	}
	if (moved)
		agentd_reapers_start(d);
	return j ? (int)(j->retry_ms - now) : -1;
}

/* Reads every result waiting; their records are written within 50 ms,
 * with the next ones (deferred.c); false if the helper is gone. */
static bool read_some(struct agentd *d)
{
	/* A turn's worth: the rest stay readable for the next turn, after
	 * the requests that came meanwhile. */
	for (unsigned k = 0; k < RESULTS_PER_TURN; k++) {
		struct agent_reap_res res;
		struct agentd_reaper *j;
		ssize_t n = recv(d->reapers.sock, &res, sizeof(res), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0)
			return false;
		if (n != (ssize_t)sizeof(res))
			continue;
		/* Results come back roughly in the order sent: from the head. */
		TAILQ_FOREACH(j, &d->reapers.running, link)
		if (j->uid == res.uid)
			break;
		if (!j)
			continue; /* a duplicate after a restart */
		TAILQ_REMOVE(&d->reapers.running, j, link);
		d->reapers.nrunning--;
		record(d, j, &res);
		if (res.rc < 0)
			retry_later(d, j); /* what is left may die yet */
		else
			free(j);
	}
	return true;
}

static bool read_results(struct agentd *d)
{
	bool ok = read_some(d);

	agentd_deferred_flush_soon(d);
	return ok;
}

void agentd_reaper_readable(struct agentd *d)
{
	if (!read_results(d))
		helper_restart(d, "is gone");
	agentd_reapers_start(d);
	agentd_purge_retired(d, false);
}

/* Waits (bounded) for one round of results; restarts a helper that went
 * quiet for WAIT_MS with work outstanding. */
static void wait_results(struct agentd *d)
{
	struct pollfd pfd = { .fd = d->reapers.sock, .events = POLLIN };
	int n;

	if (pfd.fd < 0)
		return;
	n = poll(&pfd, 1, WAIT_MS);
	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0)
		helper_restart(d, "does not answer");
	else if (!read_results(d))
		helper_restart(d, "is gone");
}

void agentd_reapers_drain(struct agentd *d)
{
	for (int rounds = 0; rounds < 100000; rounds++) {
		agentd_reapers_start(d);
		if (TAILQ_EMPTY(&d->reapers.running))
			return;
		wait_results(d);
	}
}

void agentd_reap_counts(struct agentd *d, uint64_t *reaping, uint64_t *survived, uint32_t *v,
			size_t max)
{
	struct agentd_reaper_queue *lists[] = { &d->reapers.queue, &d->reapers.running,
						&d->reapers.retry };
	struct agentd_reaper *q;

	*reaping = *survived = 0;
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		TAILQ_FOREACH(q, lists[i], link)
		{
			++*reaping;
			if (q->failed && *survived < max)
				v[*survived] = q->uid;
			if (q->failed)
				++*survived;
		}
}

bool agentd_reap_pending(struct agentd *d, uint32_t uid)
{
	struct agentd_reaper *q;

	TAILQ_FOREACH(q, &d->reapers.queue, link)
	if (q->uid == uid)
		return true;
	TAILQ_FOREACH(q, &d->reapers.running, link)
	if (q->uid == uid)
		return true;
	TAILQ_FOREACH(q, &d->reapers.retry, link)
	if (q->uid == uid)
		return true;
	return false;
}

void agentd_reapers_finish(struct agentd *d)
{
	struct agentd_reaper *j;
	int64_t deadline = agentd_boot_seconds() + WAIT_MS / 1000;

	while ((j = TAILQ_FIRST(&d->reapers.queue))) {
		TAILQ_REMOVE(&d->reapers.queue, j, link);
		free(j);
	}
	/* Let the kills under way finish: stopping agentd must not leave a
	 * retired identity's processes alive. */
	while (!TAILQ_EMPTY(&d->reapers.running) && d->reapers.sock >= 0 &&
	       agentd_boot_seconds() <= deadline) {
		struct pollfd pfd = { .fd = d->reapers.sock, .events = POLLIN };

		if (poll(&pfd, 1, WAIT_MS) <= 0 || !read_results(d))
			break;
	}
	while ((j = TAILQ_FIRST(&d->reapers.running))) {
		TAILQ_REMOVE(&d->reapers.running, j, link);
		free(j);
	}
	while ((j = TAILQ_FIRST(&d->reapers.retry))) { /* retried at the next start */
		TAILQ_REMOVE(&d->reapers.retry, j, link);
		free(j);
	}
	d->reapers.nrunning = 0;
	helper_stop(d, 3000);
}
