/* agentd's core: the event loop, the live table, retirement and the request
 * handlers. main.c only parses options and calls agentd_main().
 *
 * Invariants kept here:
 * - The store is written (and committed) before the snapshot, and both
 *   before a reply: an acknowledged create is durable and resolvable.
 * - A retirement removes the snapshot entry before anything else is
 *   reported, so the identity stops resolving at once; its processes are
 *   killed by a reaper child; its uid is quarantined only once the reaper
 *   reports no process left (reaped_at).
 * - Requests are authorised from SO_PEERCRED only, through one table. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "agentd/approval.h"
#include "agentd/audit.h"
#include "agentd/config.h"
#include "agentd/policy.h"
#include "agentd/run.h"
#include "agentd/session.h"
#include "agentd/store.h"
#include "agentd/token.h"
#include "common/snapshot.h"
#include "common/wire.h"

#define AGENTD_SOCKET_NAME "agentd.sock"
#define AGENTD_MAX_REAPERS 8
#define AGENTD_CONN_OUT_MAX (32u << 20) /* queued reply bytes per connection */

struct agentd_opts {
	const char *config_path;
	const char *state_dir;
	const char *runtime_dir;
	bool foreground_log; /* audit records also on stderr */
};

struct agentd_live {
	uint32_t uid;
	int64_t expires;
	int64_t expires_boot_ns;
	char name[AGENT_NAME_MAX + 1];
};

struct agentd_outmsg {
	struct agentd_outmsg *next;
	size_t len;
	uint8_t data[];
};

enum agentd_watch_kind {
	W_LISTEN = 1, W_SIGNAL, W_TIMER_BOOT, W_TIMER_REAL, W_TIMER_STEPUP, W_CONN, W_REAPER,
	W_SESSION, W_RUN, W_APPROVER
};

struct agentd_run;

struct agentd_conn {
	int kind; /* W_CONN: first member, epoll data points here */
	int fd;
	struct ucred cred;
	struct agentd_outmsg *out_head, *out_tail;
	size_t out_bytes;
	bool closing; /* close once the queue drains */
	/* Descriptors that came with the request being dispatched (SCM_RIGHTS);
	 * a handler that keeps one sets its slot to -1, the rest are closed. */
	int fds[3];
	unsigned nfds;
	struct agentd_run *run; /* the `agentctl run` this client waits for */
	struct agentd_request *request;   /* pam_agent waiting for a step-up decision */
	struct agentd_approval_job *job;  /* an approver re-authenticating over it */
	struct agentd_conn *next, *prev;
};

struct agentd_reaper {
	int kind; /* W_REAPER */
	pid_t pid;
	int rfd; /* result pipe, -1 until started */
	uint32_t uid;
	bool orphan; /* no identity record: a stray process in the range */
	char name[AGENT_NAME_MAX + 1];
	struct agentd_reaper *next;
};

struct agentd {
	struct agentd_opts opts;
	struct agent_config *cfg;
	struct agent_store *store;
	struct agent_snap_writer *snap;
	struct agent_token_key tkey;
	struct agent_audit audit;
	char sock_path[256];
	char snap_path[256];
	int epfd, listen_fd, signal_fd, tboot_fd, treal_fd, tstepup_fd, home_fd;
	int kinds[W_TIMER_STEPUP + 1]; /* epoll data for the fixed watches */
	struct agentd_conn *conns;
	unsigned nconns;
	struct agentd_live *live;
	size_t nlive, cap_live;
	uint32_t *live_idx; /* by uid - uid_min: index into live + 1, 0 = none */
	int64_t armed_boot, armed_real; /* what the timers are set to, 0 = disarmed */
	struct agentd_reaper *reap_queue; /* not started yet, FIFO */
	struct agentd_reaper *reap_running;
	unsigned nreaping;
	struct agentd_session *sessions;
	unsigned nsessions;
	struct agentd_run *runs;
	unsigned nruns;
	struct agentd_request *requests; /* pending step-up requests */
	unsigned nrequests;
	struct agentd_approval_job *jobs;
	uint32_t next_uid; /* allocation cursor */
	int64_t started; /* CLOCK_BOOTTIME seconds */
	int64_t last_purge; /* CLOCK_BOOTTIME seconds of the last retention purge */
	bool stop;
	bool reload;
};

int agentd_main(const struct agentd_opts *opts);

/* ---- shared between daemon.c and handlers.c ---- */

/* Dispatches one parsed request; queues the reply on c. */
void agentd_dispatch(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
/* Sends what is queued on c; false if that closed (and freed) c. */
bool agentd_conn_flush(struct agentd *d, struct agentd_conn *c);
/* Queues a finished message on the connection (copied). */
void agentd_reply(struct agentd *d, struct agentd_conn *c, const struct agent_wbuf *w);
void agentd_reply_error(struct agentd *d, struct agentd_conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Retires name (and, cascading, its live descendants) for reason: store,
 * snapshot, live table, audit, reaper jobs. 0, -ENOENT, -EALREADY, -EIO. */
int agentd_retire(struct agentd *d, const char *name, enum agent_retire_reason reason,
		  const char *text, const char *by);

/* Adds a freshly created identity to the live table and re-arms timers. */
int agentd_live_add(struct agentd *d, const struct agent_identity *id);

/* Picks a free uid: not live/unreaped/quarantined in the store, not used by
 * any process, unknown to NSS. 0 and *uid, or -ENOSPC. */
int agentd_alloc_uid(struct agentd *d, uint32_t *uid);

/* Is a reaper queued or running for uid? */
bool agentd_reap_pending(struct agentd *d, uint32_t uid);

/* Creates/removes the ephemeral home of an identity. */
int agentd_home_create(struct agentd *d, const char *name, uint32_t uid);

/* The snapshot entry for an identity. */
int agentd_snap_put_identity(struct agentd *d, const struct agent_identity *id);

/* The caller of a request, from SO_PEERCRED only (handlers.c). */
struct caller_ctx {
	struct agent_caller c;
	struct agent_identity agent; /* valid when c.agent != NULL */
	bool retired_agent;          /* uid in range but not a live identity */
};
/* Resolves the caller's name and groups (NSS) and its agent identity. */
void agentd_caller_resolve(struct agentd *d, const struct ucred *cred, struct caller_ctx *cc);
/* The caller's name, or "uid:N". */
const char *agentd_caller_label(const struct caller_ctx *cc, char *buf, size_t len);

/* Requests from pam_agent (handlers_pam.c). */
void agentd_h_auth(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
void agentd_h_account(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
void agentd_h_session_open(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
void agentd_h_session_close(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
void agentd_h_authorized_keys(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
/* The session-close record (closed by pam_agent, or its process exited). */
void agentd_audit_session_end(struct agentd *d, const struct agentd_session *s,
			      const char *reason);

/* Does this purpose give its identities an ephemeral home? */
bool agentd_purpose_has_home(struct agentd *d, const char *purpose);
