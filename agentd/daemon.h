/* agentd's shared state: struct agentd and the event interface.
 *
 * Every agentd module takes a struct agentd; each group of fields below is
 * owned (written) by the one file named beside it, others only read it.
 * This header declares no functions: each module has its own header.
 *
 * Layering: a file calls and includes only files on its own floor or
 * below, never in a circle (tests/layering.sh checks both):
 *   loop.c                  event loop, signals, reload dispatch, agentd_main
 *   handlers.c > create.c, handlers_pam.c > approval.c; run.c   the request handlers
 *   reload.c, reconcile.c   configuration reload, start-up reconciliation
 *   expiry.c                TTL enforcement (retires what is due)
 *   retire.c                retirement
 *   reaper.c                the reaper helper's supervision (reap_helper.c
 *                           runs in it, with kill.c's primitives)
 *   deferred.c              store writes that wait (retirement records)
 *   leftovers.c             the leftovers sweep of released uids
 *   conn.c, caller.c, livetable.c, publish.c, homes.c, uidalloc.c, session.c,
 *   cgroup.c
 * A lower file reports upward only through struct agentd_hooks, which the
 * loop installs.
 *
 * Invariants kept across these files:
 * - The store is written (and committed) before the snapshot, and both
 *   and the live table before a reply: an acknowledged create is durable,
 *   resolvable and timed (create.c; a batch shares one commit).
 *   Retirement is the other way round: unpublished and killed first,
 *   recorded after (retire.c, deferred.c), so no store failure keeps an
 *   identity alive.
 * - Requests are authorised from SO_PEERCRED only, through one table
 *   (handlers.c). */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include <sodium.h>
#include "agentd/audit.h"
#include "agentd/config.h"
#include "agentd/store.h"
#include "agentd/token.h"
#include "common/identity.h"
#include "common/snapshot.h"

#define AGENTD_SOCKET_NAME "agentd.sock"

struct agentd;
struct agentd_conn;
struct agentd_live;
struct agentd_reaper;
struct agentd_deferred_rec;
struct agentd_session;
struct agentd_run;
struct agentd_request;
struct agentd_approval_job;
struct agentd_uidalloc;
struct agentd_leftovers;
struct agentd_cgroup;

struct agentd_opts {
	const char *config_path;
	const char *state_dir;
	const char *runtime_dir;
	bool foreground_log; /* audit records also on stderr */
	bool init_state;     /* --init-state: may create a missing database */
};

/* What epoll's data points at: every watched object starts with an int
 * holding one of these, and the loop dispatches on it. */
enum agentd_watch_kind {
	W_LISTEN = 1,
	W_SIGNAL,
	W_TIMER_BOOT,
	W_TIMER_REAL,
	W_TIMER_STEPUP,
	W_CONN,
	W_REAPER,
	W_SESSION,
	W_RUN,
	W_APPROVER,
	W_DEFERRED,
	W_SWEEP,
	W_SWEEP_TIMER,
	W_CGROUP,
	W_TIMER_POLICY,
	W_PLACE,
	W_SCAN
};

/* The event interface: how a lower module reports to the ones above it
 * without calling them. The loop (loop.c) installs these at start-up;
 * a NULL hook is skipped. */
struct agentd_hooks {
	/* conn.c: c is about to be freed; drop every reference to it. */
	void (*conn_gone)(struct agentd *d, struct agentd_conn *c);
	/* retire.c: id (now retired, already unpublished) will be reaped. */
	void (*retired)(struct agentd *d, const struct agent_identity *id);
	/* reaper.c: no process of uid is left (a retired identity's reaper). */
	void (*reaped)(struct agentd *d, uint32_t uid);
};

/* conn.c: client connections. */
struct agentd_conns {
	LIST_HEAD(agentd_conn_list, agentd_conn) list;
	unsigned n;
	bool paused;      /* at max_connections: the listening socket is not watched */
	unsigned nqueued; /* connections holding a read request (conn.c: c->req) */
};

/* livetable.c: the live table, a dense array (for scans) plus an index by
 * uid (for O(1) removal), and what the TTL timers are armed for. */
struct agentd_live_table {
	struct agentd_live *v;
	size_t n, cap;
	uint32_t *idx;                  /* by uid - uid_min: index into v + 1, 0 = none */
	int64_t armed_boot, armed_real; /* 0 = disarmed */
};

/* reaper.c: the reaper helper and the uids queued (FIFO) and sent to it. */
struct agentd_reapers {
	int kind;  /* W_REAPER: first member, epoll data points here */
	int sock;  /* agentd's end of the helper's socketpair, -1 if none */
	pid_t pid; /* the helper, 0 if none */
	bool watched;
	bool want_out; /* EPOLLOUT too: queued requests wait for room */
	TAILQ_HEAD(agentd_reaper_queue, agentd_reaper) queue, running;
	struct agentd_reaper_queue retry; /* failed, by retry time */
	unsigned nrunning;
	int64_t last_purge; /* CLOCK_BOOTTIME seconds of the last retention purge */
};

/* deferred.c: store writes the database did not take yet, in order. */
struct agentd_deferred {
	int kind; /* W_DEFERRED: first member, epoll data points here */
	int tfd;  /* retry timer, armed while the store refuses writes */
	TAILQ_HEAD(agentd_deferred_list, agentd_deferred_rec) q;
	size_t n;
	int err;      /* the store's last refusal (-errno), 0 while it takes writes */
	bool journal; /* the runtime directory may hold a journal to remove */
	bool soon;    /* tfd armed for agentd_deferred_flush_soon */
	bool held;    /* agentd_deferred_commit waits for agentd_deferred_release */
	bool due;     /* ... and was called meanwhile */
};

struct agentd {
	struct agentd_opts opts;
	struct agentd_hooks hooks; /* loop.c */
	struct agent_config *cfg;  /* loop.c, reload.c */
	struct agent_store *store;
	struct agent_snap_writer *snap; /* publish.c, reload.c */
	struct agent_token_key tkey;
	struct agent_audit audit;
	char sock_path[256];
	char snap_path[256];
	/* loop.c creates these; livetable.c arms tboot/treal, approval.c tstepup,
	 * homes.c owns home_fd. */
	int epfd, listen_fd, signal_fd, tboot_fd, treal_fd, tstepup_fd, home_fd;
	int kinds[W_TIMER_STEPUP + 1]; /* epoll data for the fixed watches */
	/* follow.c: the periodic policy check (policy_check_interval) */
	struct {
		int kind; /* W_TIMER_POLICY */
		int fd;
	} follow;
	struct agentd_conns conns;       /* conn.c */
	struct agentd_live_table live;   /* livetable.c */
	struct agentd_reapers reapers;   /* reaper.c */
	struct agentd_deferred deferred; /* deferred.c */
	struct {
		int sock;      /* agentd's end of its socketpair, -1 if none */
		pid_t pid;     /* 0 if none */
		int64_t tried; /* CLOCK_MONOTONIC ms of the last start, or of its end */
	} spawner;             /* spawner.c */
	LIST_HEAD(, agentd_session) sessions; /* session.c */
	unsigned nsessions;
	LIST_HEAD(, agentd_run) runs; /* run.c */
	unsigned nruns;
	LIST_HEAD(, agentd_request) requests; /* approval.c: pending step-up requests */
	unsigned nrequests;
	LIST_HEAD(, agentd_approval_job) jobs; /* approval.c */
	LIST_HEAD(, agentd_placing) placings;  /* handlers_pam.c: sessions being placed */
	struct agentd_uidalloc *uidalloc;      /* uidalloc.c: its caches */
	struct agentd_leftovers *leftovers;    /* leftovers.c: the sweeper */
	struct agentd_cgroup *cg; /* cgroup.c: NULL = no containment (uid sweep only) */
	int64_t started;          /* CLOCK_BOOTTIME seconds */
	bool stop;                /* loop.c */
	bool reload;              /* loop.c */
};

/* CLOCK_BOOTTIME in seconds. */
static inline int64_t agentd_boot_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec;
}

/* In a child that hosts the site's PAM modules (a runner, the spawner, an
 * approver's re-authentication): neither the token key nor the audit
 * chain's key stays in its memory. */
static inline void agentd_forget_keys(struct agentd *d)
{
	sodium_memzero(&d->tkey, sizeof(d->tkey));
	sodium_memzero(d->audit.key, sizeof(d->audit.key));
}

/* Adds fd to the loop's epoll set; ptr's first int is its watch kind. */
static inline int agentd_watch(struct agentd *d, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}
