/* Reaper supervision (agentd/reaper.h): queues, forks and collects the
 * children that run the kill loop of kill.c for a retired uid.
 *
 * Invariants: a uid is marked reaped only on the reaper's success report;
 * at most AGENTD_MAX_REAPERS children run at once; a child holds no client
 * connection, listening socket or database, only its result pipe; every
 * wait for a child is bounded (the kill loop bounds itself to 10 s). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agentd/daemon.h"
#include "agentd/deferred.h"
#include "agentd/kill.h"
#include "agentd/reaper.h"
#include "common/kv.h"

void agentd_reaper_queue(struct agentd *d, uint32_t uid, const char *name, bool orphan)
{
	struct agentd_reaper *j = calloc(1, sizeof(*j));

	if (!j) {
		syslog(LOG_AUTHPRIV | LOG_ERR, "out of memory queueing the reaper for uid %u", uid);
		return;
	}
	j->kind = W_REAPER;
	j->rfd = -1;
	j->uid = uid;
	j->orphan = orphan;
	snprintf(j->name, sizeof(j->name), "%s", name ? name : "");
	TAILQ_INSERT_TAIL(&d->reapers.queue, j, link);
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

void agentd_reapers_start(struct agentd *d)
{
	while (!TAILQ_EMPTY(&d->reapers.queue) && d->reapers.nrunning < AGENTD_MAX_REAPERS) {
		struct agentd_reaper *j = TAILQ_FIRST(&d->reapers.queue);
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
		TAILQ_REMOVE(&d->reapers.queue, j, link);
		TAILQ_INSERT_HEAD(&d->reapers.running, j, link);
		d->reapers.nrunning++;
		if (agentd_watch(d, j->rfd, EPOLLIN, j) < 0)
			syslog(LOG_AUTHPRIV | LOG_ERR, "epoll: %m");
	}
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
		syslog(LOG_AUTHPRIV | LOG_ERR, "store: cannot purge old retired identities");
}

void agentd_reaper_done(struct agentd *d, struct agentd_reaper *j)
{
	struct reap_result res = { .rc = -EIO };
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
	TAILQ_REMOVE(&d->reapers.running, j, link);
	d->reapers.nrunning--;

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
		/* Through the queue: after its retirement record, whatever the
		 * store does (deferred.c). */
		if (j->name[0] && (agentd_deferred_reaped(d, j->name, time(NULL), res.killed) < 0 ||
				   agentd_deferred_flush(d) == -ENOMEM))
			syslog(LOG_AUTHPRIV | LOG_ERR, "store: cannot mark %s reaped", j->name);
	}
	if (!j->orphan && d->hooks.reaped)
		d->hooks.reaped(d, j->uid);
	free(j);
	agentd_reapers_start(d);
	agentd_purge_retired(d, false);
}

void agentd_reapers_drain(struct agentd *d)
{
	agentd_reapers_start(d);
	while (!TAILQ_EMPTY(&d->reapers.running)) {
		struct agentd_reaper *j = TAILQ_FIRST(&d->reapers.running);
		struct pollfd pfd;

		pfd.fd = j->rfd;
		pfd.events = POLLIN;
		/* The kill loop bounds itself (10 s); allow a margin. */
		if (poll(&pfd, 1, 15000) <= 0) {
			kill(j->pid, SIGKILL);
		}
		agentd_reaper_done(d, j);
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
	return false;
}

static void reapers_drop_queued(struct agentd *d)
{
	struct agentd_reaper *j;

	while ((j = TAILQ_FIRST(&d->reapers.queue))) {
		TAILQ_REMOVE(&d->reapers.queue, j, link);
		free(j);
	}
}

void agentd_reapers_finish(struct agentd *d)
{
	reapers_drop_queued(d);
	while (!TAILQ_EMPTY(&d->reapers.running)) {
		struct agentd_reaper *j = TAILQ_FIRST(&d->reapers.running);

		/* Let running reapers finish their kill loop: stopping agentd
		 * must not leave a retired identity's processes alive. */
		struct pollfd pfd = { .fd = j->rfd, .events = POLLIN };

		if (poll(&pfd, 1, 15000) <= 0)
			kill(j->pid, SIGKILL);
		agentd_reaper_done(d, j);
		reapers_drop_queued(d);
	}
}
