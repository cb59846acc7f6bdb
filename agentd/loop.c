/* agentd's event loop (agentd/loop.h): start-up, the loop, signals,
 * reload dispatch and shutdown. The top of the layering: it calls down into
 * every module and installs the hooks through which they report back.
 *
 * One thread, one epoll set: the listening socket, client connections
 * (conn.c), a signalfd (TERM, INT, HUP, CHLD), two timerfds for the next
 * expiry (expiry.c), the step-up timer (approval.c) and the pipes of reaper
 * (reaper.c), runner (run.c) and approver children, and session pidfds
 * (session.c). Every watched object starts with its watch kind. Nothing
 * here blocks on a client. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agentd/approval.h"
#include "agentd/cgroup.h"
#include "agentd/conn.h"
#include "agentd/create.h"
#include "agentd/deferred.h"
#include "agentd/daemon.h"
#include "agentd/expiry.h"
#include "agentd/leftovers.h"
#include "agentd/follow.h"
#include "agentd/livetable.h"
#include "agentd/handlers.h"
#include "agentd/handlers_pam.h"
#include "agentd/homes.h"
#include "agentd/loop.h"
#include "agentd/notify.h"
#include "agentd/reaper.h"
#include "agentd/reconcile.h"
#include "agentd/reload.h"
#include "agentd/run.h"
#include "agentd/session.h"
#include "agentd/spawner.h"
#include "agentd/uidalloc.h"
#include "common/clock.h"
#include "common/kv.h"

#define MAX_EVENTS AGENTD_CREATE_BATCH_MAX

/* ------------------------------------------------------------ hooks */

/* The connections that became readable (see serve_ready), and the creates
 * left over from earlier turns (parsed, oldest first). */
#define READY_MAX (3 * MAX_EVENTS)
static struct ready {
	struct agentd_conn *c; /* NULL once served or gone */
	bool parsed;           /* m holds its request (c->req) */
	bool wait;             /* a RUN beyond the runners' room */
	bool served;           /* dispatched; its reply goes after the commit */
	struct agent_msg m;
} ready[READY_MAX];
static size_t nready;
/* RUN requests waiting for a runner's room (run.h: AGENTD_RUNS_STARTING_MAX),
 * oldest first; apart from ready[] so that they never keep pam_agent's
 * requests out of it. */
static struct ready *held;
static size_t nheld, held_cap;

static bool hold(const struct ready *e)
{
	if (nheld == held_cap) {
		size_t cap = held_cap ? 2 * held_cap : 8;
		struct ready *v = realloc(held, cap * sizeof(*v));

		if (!v)
			return false;
		held = v;
		held_cap = cap;
	}
	held[nheld++] = *e;
	return true;
}

/* Drops the served (NULL) entries of v, keeping the order. */
static size_t compact(struct ready *v, size_t n)
{
	size_t keep = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i].c) {
			if (keep != i)
				v[keep] = v[i];
			keep++;
		}
	return keep;
}

static void ready_add(struct agentd_conn *c)
{
	/* A connection whose request waits already is not read again (the
	 * client waits for its reply); with no room, level-triggered epoll
	 * reports it again next turn. */
	if (c->req || nready == READY_MAX)
		return;
	ready[nready].c = c;
	ready[nready].wait = false;
	ready[nready].served = false;
	ready[nready++].parsed = false;
}

static void on_conn_gone(struct agentd *d, struct agentd_conn *c)
{
	for (size_t i = 0; i < nready; i++)
		if (ready[i].c == c)
			ready[i].c = NULL;
	for (size_t i = 0; i < nheld; i++)
		if (held[i].c == c)
			held[i].c = NULL;
	agentd_run_conn_gone(d, c);
	agentd_stepup_conn_gone(d, c);
	agentd_placing_conn_gone(d, c);
}

static void on_retired(struct agentd *d, const struct agent_identity *id)
{
	agentd_stepup_retired(d, id->name);
}

/* No process of uid is left: its release is recorded, held until the
 * leftovers sweep finds nothing of it (then the allocator may hand it out,
 * least recently released first). */
static void on_reaped(struct agentd *d, uint32_t uid)
{
	agentd_run_reaped(d, uid);
	agentd_leftovers_released(d, uid);
}

static const struct agentd_hooks loop_hooks = {
	.conn_gone = on_conn_gone,
	.retired = on_retired,
	.reaped = on_reaped,
};

/* ------------------------------------------------------------ main loop */

/* pam_agent's requests: a login, su, sudo or sshd waits on each, within the
 * module's timeout. */
static bool is_pam(enum agent_msg_type t)
{
	return t == AGENT_MSG_AUTH || t == AGENT_MSG_ACCOUNT || t == AGENT_MSG_SESSION_OPEN ||
	       t == AGENT_MSG_SESSION_CLOSE || t == AGENT_MSG_AUTHORIZED_KEYS;
}

static bool is_create(enum agent_msg_type t)
{
	return t == AGENT_MSG_CREATE || t == AGENT_MSG_RUN;
}

/* The requests of one turn, in order of priority: every connection that
 * became readable gives one request; pam_agent's are served first (so that
 * its timeout is not spent behind a burst of creates), then the other
 * short ones, then the CREATE and RUN requests together as one batch
 * (create.c: one transaction, one fsync), as many as fit in its deciding
 * budget; the rest stay for the next turn, which comes at once. A RUN
 * beyond the runners' room waits in held[] (oldest first) until a runner's
 * command starts. Each served one is then cleared and its reply sent. A
 * connection freed meanwhile is dropped from the lists (on_conn_gone). */
static void serve_ready(struct agentd *d)
{
	struct agentd_create_req batch[AGENTD_CREATE_BATCH_MAX];
	struct ready *from[AGENTD_CREATE_BATCH_MAX];
	size_t nbatch = 0;
	unsigned room = agentd_run_room(d);

	for (size_t i = 0; i < nready; i++) {
		struct agentd_conn *c = ready[i].c;
		int r;

		if (!c || ready[i].parsed)
			continue;
		r = agentd_conn_recv(d, c, &ready[i].m);
		if (r > 0) {
			ready[i].parsed = true;
			continue;
		}
		ready[i].c = NULL; /* (on -1, c may be freed already) */
		if (r == 0)
			agentd_conn_done(d, c);
	}
	/* In each pass, the retirement records of its requests are committed
	 * together, before any of their replies leaves (deferred.h: group
	 * commit). A connection freed meanwhile is NULL in ready[]
	 * (on_conn_gone). */
	for (int pass = 0; pass < 2; pass++) {
		agentd_deferred_hold(d);
		for (size_t i = 0; i < nready; i++) {
			if (!ready[i].c || ready[i].served || is_create(ready[i].m.type) ||
			    is_pam(ready[i].m.type) != !pass)
				continue;
			ready[i].served = true;
			agentd_dispatch(d, ready[i].c, &ready[i].m);
		}
		agentd_deferred_release(d);
		for (size_t i = 0; i < nready; i++)
			if (ready[i].c && ready[i].served) {
				struct agentd_conn *c = ready[i].c;

				ready[i].c = NULL;
				agentd_conn_done(d, c);
			}
	}
	for (size_t i = 0; i < nheld && nbatch < AGENTD_CREATE_BATCH_MAX && room; i++)
		if (held[i].c) {
			from[nbatch] = &held[i];
			batch[nbatch++] = (struct agentd_create_req){ held[i].c, &held[i].m };
			room--;
		}
	for (size_t i = 0; i < nready && nbatch < AGENTD_CREATE_BATCH_MAX; i++) {
		if (!ready[i].c)
			continue;
		if (ready[i].m.type == AGENT_MSG_RUN) {
			if (!room) {
				ready[i].wait = true; /* to held[] below */
				continue;
			}
			room--;
		}
		from[nbatch] = &ready[i];
		batch[nbatch++] = (struct agentd_create_req){ ready[i].c, &ready[i].m };
	}
	if (nbatch) {
		size_t taken = agentd_create_batch(d, batch, nbatch);

		for (size_t k = 0; k < taken; k++) {
			struct agentd_conn *c = from[k]->c;

			if (!c)
				continue;
			from[k]->c = NULL;
			agentd_conn_done(d, c);
		}
	}
	/* (not earlier: hold() may move held[], which from[] points into) */
	for (size_t i = 0; i < nready; i++)
		if (ready[i].c && ready[i].wait) {
			ready[i].wait = false;
			if (hold(&ready[i]))
				ready[i].c = NULL;
		}
	nready = compact(ready, nready);
	nheld = compact(held, nheld);
}

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
			/* Reapers are collected through their pipes; the
			 * spawner here. */
			agentd_spawner_reap(d);
			break;
		}
	}
}

static void drain_timer(struct agentd *d, int fd)
{
	uint64_t ticks;

	/* ECANCELED on the real-time timer means the clock was set. */
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN && errno != ECANCELED)
		agent_audit_log(&d->audit, LOG_ERR, "timerfd: %m");
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
	if (agentd_watch(d, d->signal_fd, EPOLLIN, &d->kinds[W_SIGNAL]) < 0 ||
	    agentd_watch(d, d->tboot_fd, EPOLLIN, &d->kinds[W_TIMER_BOOT]) < 0 ||
	    agentd_watch(d, d->treal_fd, EPOLLIN, &d->kinds[W_TIMER_REAL]) < 0 ||
	    agentd_watch(d, d->tstepup_fd, EPOLLIN, &d->kinds[W_TIMER_STEPUP]) < 0)
		return -errno;
	return 0;
}

/* Idle connections are closed by a sweep (conn.c) that is due when the
 * earliest one could expire; the epoll timeout wakes the loop for it. */
static int sweep_idle(struct agentd *d, int64_t *next_sweep, int timeout)
{
	int64_t now = agent_boot_ms(), until;

	if (now >= *next_sweep) {
		int s = agentd_conn_sweep(d);

		*next_sweep = now + (s < 0 ? (int64_t)d->cfg->connection_idle_timeout * 1000 : s);
	}
	until = *next_sweep - now;
	if (until < 1)
		until = 1;
	return timeout < 0 || until < timeout ? (int)until : timeout;
}

static void run_loop(struct agentd *d)
{
	struct epoll_event ev[MAX_EVENTS];
	int64_t next_sweep = 0;

	while (!d->stop) {
		int timeout = sweep_idle(d, &next_sweep, agent_audit_pump(&d->audit));
		int retry = agentd_reapers_retry(d);
		bool expire = false;

		if (retry >= 0 && (timeout < 0 || retry < timeout))
			timeout = retry;

		if (nready) /* creates left over: another turn at once */
			timeout = 0;
		else if (nheld && (timeout < 0 || timeout > 100))
			timeout = 100; /* a slow runner stops counting (run.h) */
		int n = epoll_wait(d->epfd, ev, MAX_EVENTS, timeout);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			agent_audit_log(&d->audit, LOG_ERR, "epoll_wait: %m");
			break;
		}
		for (int i = 0; i < n; i++) {
			int kind = *(int *)ev[i].data.ptr;

			switch (kind) {
			case W_LISTEN: {
				/* The new connections (the newest at the head of
				 * the list) are read in this turn too: a client sends
				 * its request right after connecting. */
				unsigned k = agentd_accept(d);
				struct agentd_conn *c = LIST_FIRST(&d->conns.list);

				for (; k && c; k--, c = LIST_NEXT(c, link))
					ready_add(c);
				break;
			}
			case W_SIGNAL:
				handle_signals(d);
				break;
			case W_TIMER_BOOT:
			case W_TIMER_REAL:
				drain_timer(d, kind == W_TIMER_BOOT ? d->tboot_fd : d->treal_fd);
				expire = true; /* both clocks' timers fire: one batch */
				break;
			case W_DEFERRED:
				agentd_deferred_tick(d);
				break;
			case W_REAPER:
				agentd_reaper_readable(d);
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
			case W_PLACE:
				agentd_session_placed(d, ev[i].data.ptr);
				break;
			case W_SCAN:
				agentd_uidalloc_scan_done(d);
				break;
			case W_SWEEP:
				agentd_leftovers_pipe(d);
				break;
			case W_SWEEP_TIMER:
				agentd_leftovers_timer(d);
				break;
			case W_CGROUP:
				agentd_cgroup_events(d);
				break;
			case W_TIMER_POLICY:
				agentd_follow_tick(d);
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
					/* Gone while its request waits (a create left
					 * for the next turn, a held RUN): nobody to
					 * answer, and its hangup would wake every turn. */
					if ((ev[i].events & (EPOLLHUP | EPOLLERR)) && c->req)
						agentd_conn_free(d, c);
					else if (ev[i].events & EPOLLIN)
						ready_add(c); /* served below */
					else
						agentd_conn_free(d, c);
				}
				/* conn may be freed: no later event refers to it, as
				 * epoll reports each fd once per wait. */
				break;
			}
			}
		}
		if (expire)
			agentd_expire_due(d);
		serve_ready(d);
		if (d->reload) {
			d->reload = false;
			agentd_reload_config(d);
			agentd_spawner_refresh(d); /* PAM modules replaced meanwhile */
		}
		agentd_accept_resume(d);
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
	agent_kv_u64(&kv, "live", d->live.n);
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
	agentd_runs_forget(d);  /* their commands go on until their TTL */
	agentd_spawner_stop(d); /* (its runners too) */
	agentd_stepup_forget(d);
	agentd_placings_forget(d);
	while (!LIST_EMPTY(&d->conns.list))
		agentd_conn_free(d, LIST_FIRST(&d->conns.list));
	free(held);
	held = NULL;
	nheld = held_cap = 0;
	while (!LIST_EMPTY(&d->sessions))
		agentd_session_free(d, LIST_FIRST(&d->sessions));
	agentd_reapers_finish(d);
	agentd_leftovers_finish(d);
	agentd_deferred_free(d); /* after the last reap record */
	agentd_cgroup_free(d);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->sock_path);
	}
	agent_snap_writer_free(d->snap);
	agent_store_close(d->store);
	agent_config_free(d->cfg);
	agentd_live_free(d);
	agentd_uidalloc_free(d);
	int fds[] = { d->epfd,       d->signal_fd, d->tboot_fd, d->treal_fd,
		      d->tstepup_fd, d->home_fd,   d->follow.fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	sodium_memzero(&d->tkey, sizeof(d->tkey));
}

int agentd_main(const struct agentd_opts *opts)
{
	struct agentd d = { .opts = *opts };
	char err[512];
	bool ran = false;
	int r;

	LIST_INIT(&d.conns.list);
	TAILQ_INIT(&d.reapers.queue);
	TAILQ_INIT(&d.reapers.running);
	TAILQ_INIT(&d.reapers.retry);
	d.reapers.sock = -1;
	d.spawner.sock = -1;
	LIST_INIT(&d.sessions);
	LIST_INIT(&d.runs);
	LIST_INIT(&d.requests);
	LIST_INIT(&d.jobs);
	LIST_INIT(&d.placings);
	d.hooks = loop_hooks;
	TAILQ_INIT(&d.deferred.q);
	d.deferred.tfd = -1;
	d.epfd = d.listen_fd = d.signal_fd = d.tboot_fd = d.treal_fd = d.tstepup_fd = d.home_fd =
		-1;
	d.follow.fd = -1;
	d.started = agentd_boot_seconds();
	agent_audit_open(&d.audit, opts->foreground_log);
	if (sodium_init() < 0) {
		fprintf(stderr, "agentd: cannot initialise libsodium\n");
		r = -EIO;
		goto out;
	}
	/* The audit chain first, so that every record of the run is in it. */
	if ((r = make_dir(opts->state_dir, 0700)) < 0 ||
	    (r = agent_audit_chain_open(&d.audit, opts->state_dir)) < 0) {
		fprintf(stderr, "agentd: cannot open the audit chain in %s: %s%s\n",
			opts->state_dir, strerror(-r),
			r == -EBADMSG ? " (" AGENT_AUDIT_STATE_FILE " is damaged; "
					"remove it to start a new chain)"
				      : "");
		agent_audit_log(&d.audit, LOG_ERR, "cannot open the audit chain in %s: %s",
				opts->state_dir, strerror(-r));
		goto out;
	}
	audit_start(&d);

	r = agent_config_load(opts->config_path, &d.cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "agentd: %s\n", err);
		agentd_audit_config(&d, "rejected", err);
		goto out;
	}
	r = agent_config_check_host(d.cfg, &agent_host_files_system, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "agentd: %s\n", err);
		agentd_audit_config(&d, "rejected", err);
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
	/* The reaper helper before the store and the sockets: it is forked
	 * small and holds nothing but its socket (it closes the rest). */
	if ((r = agentd_reaper_helper_start(&d)) < 0) {
		fprintf(stderr, "agentd: cannot start the reaper helper: %s\n", strerror(-r));
		goto out;
	}
	/* The runner spawner too (run.c forks runners itself without one). */
	if ((r = agentd_spawner_start(&d)) < 0)
		agent_audit_log(&d.audit, LOG_WARNING,
				"cannot start the runner spawner (%s); agentd forks runners itself",
				strerror(-r));
	r = agent_store_open(opts->state_dir, opts->init_state ? AGENT_STORE_INIT : 0, &d.store,
			     err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "agentd: %s\n", err);
		goto out;
	}
	r = agent_token_key_load(opts->state_dir, &d.tkey);
	if (r < 0) {
		fprintf(stderr, "agentd: cannot load %s/token.key: %s\n", opts->state_dir,
			strerror(-r));
		goto out;
	}
	r = agentd_home_base_open(&d);
	if (r < 0) {
		fprintf(stderr,
			"agentd: home_base %s must be a directory owned by root and not "
			"writable by group or others: %s\n",
			d.cfg->home_base, strerror(-r));
		goto out;
	}
	if ((r = setup_fds(&d)) < 0 || (r = agentd_follow_init(&d)) < 0) {
		fprintf(stderr, "agentd: cannot set up the event loop: %s\n", strerror(-r));
		goto out;
	}
	if ((r = agentd_deferred_init(&d)) < 0) {
		fprintf(stderr, "agentd: cannot set up the event loop: %s\n", strerror(-r));
		goto out;
	}
	/* Containment before reconciliation, which may retire (and kill). */
	if ((r = agentd_cgroup_init(&d, err, sizeof(err))) < 0) {
		fprintf(stderr, "agentd: %s\n", err);
		goto out;
	}
	if ((r = agentd_live_init(&d)) < 0)
		goto out;
	r = agentd_reconcile(&d);
	if (r < 0) {
		fprintf(stderr, "agentd: start-up reconciliation failed: %s\n", strerror(-r));
		goto out;
	}
	agentd_leftovers_start(&d); /* held uids: swept again */
	agentd_uidalloc_prescan(&d);
	agentd_audit_config(&d, "loaded", NULL);
	r = agentd_listen(&d);
	if (r < 0) {
		fprintf(stderr, "agentd: cannot listen on %s: %s\n", d.sock_path, strerror(-r));
		goto out;
	}
	if ((r = agentd_watch(&d, d.listen_fd, EPOLLIN, &d.kinds[W_LISTEN])) < 0)
		goto out;
	agentd_live_rearm(&d);
	audit_simple(&d, "ready", "socket", d.sock_path);
	agentd_notify("READY=1"); /* Type=notify: reconciled and listening */
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
		agent_kv_u64(&kv, "live", d.live.n);
		agent_audit_emit(&d.audit, &kv, ran ? LOG_NOTICE : LOG_WARNING);
	}
	agent_audit_close(&d.audit);
	return r < 0 ? 1 : 0;
}
