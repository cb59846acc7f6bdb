/* Client connections: accept, read, the reply queue, flush, close.
 *
 * A connection is a SOCK_SEQPACKET socket: one message is one request.
 * Nothing here blocks on a client: replies are queued and sent as the
 * socket drains, and a client that does not read (more than
 * AGENTD_CONN_OUT_MAX queued) loses its connection. conn.c knows no request
 * type: it hands each parsed message back to the loop, which dispatches it,
 * and it reports a closing connection through hooks.conn_gone. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include "common/wire.h"

#define AGENTD_CONN_OUT_MAX (32u << 20) /* queued reply bytes per connection */

struct agentd;
struct agentd_run;
struct agentd_request;
struct agentd_approval_job;

struct agentd_outmsg {
	STAILQ_ENTRY(agentd_outmsg) link;
	size_t len;
	uint8_t data[];
};

struct agentd_conn {
	int kind; /* W_CONN: first member, epoll data points here */
	int fd;
	struct ucred cred;
	STAILQ_HEAD(, agentd_outmsg) out;
	size_t out_bytes;
	bool closing; /* close once the queue drains */
	/* Descriptors that came with the request being dispatched (SCM_RIGHTS);
	 * a handler that keeps one sets its slot to -1, the rest are closed. */
	int fds[3];
	unsigned nfds;
	struct agentd_run *run;          /* the `agentctl run` this client waits for */
	struct agentd_request *request;  /* pam_agent waiting for a step-up decision */
	struct agentd_approval_job *job; /* an approver re-authenticating over it */
	struct agentd_placing *placing;  /* pam_agent's session open, its process being
					  * moved into the identity's cgroup */
	int64_t last_ms;                 /* CLOCK_BOOTTIME ms of the last request or reply sent */
	/* The request being handled (its own copy, so that a turn of the loop
	 * can hold many), wiped at agentd_conn_done. */
	uint8_t *req;
	size_t req_len;
	LIST_ENTRY(agentd_conn) link;
};

/* Binds and listens on d->sock_path (any local user may connect). */
int agentd_listen(struct agentd *d);
/* The listening socket is readable: accepts what waits, up to the limits.
 * At max_connections it stops watching the listening socket (clients wait
 * in the listen backlog, never reset); a non-root uid over its share
 * (max_connections_per_uid, or the quarter of max_connections held back for
 * root) is answered EUSERS and closed (clients try again). */
#define AGENTD_ACCEPT_MAX 256
/* Returns how many it accepted (at most AGENTD_ACCEPT_MAX, the newest at
 * the head of d->conns.list); level-triggered epoll brings the rest. */
unsigned agentd_accept(struct agentd *d);
/* Watches the listening socket again once a slot is free (after each turn
 * of the loop). */
void agentd_accept_resume(struct agentd *d);
/* Closes connections that hold no request in progress and have been idle
 * for connection_idle_timeout. Returns the ms until the next call is due,
 * or -1 if no connection could become idle. */
int agentd_conn_sweep(struct agentd *d);
/* True while c waits for something (a run, a step-up, an approver): it
 * counts against no connection limit and never times out. */
bool agentd_conn_waiting(const struct agentd_conn *c);
/* c is readable: receives one request. 1: a well-formed request is in *m
 * (it points into c's own copy of the request until agentd_conn_done); 0: a malformed
 * one was answered with an error and c will close; either way call
 * agentd_conn_done next. -1: nothing to do (no data yet, or the peer left
 * and c is freed). */
int agentd_conn_recv(struct agentd *d, struct agentd_conn *c, struct agent_msg *m);
/* After a request: closes the descriptors the handler did not keep, wipes
 * the request, sends what is queued (which may free c). */
void agentd_conn_done(struct agentd *d, struct agentd_conn *c);
/* Closes and frees c (hooks.conn_gone first). */
void agentd_conn_free(struct agentd *d, struct agentd_conn *c);
/* Sends what is queued on c; false if that closed (and freed) c. */
bool agentd_conn_flush(struct agentd *d, struct agentd_conn *c);
/* Queues a finished message on the connection (copied). */
void agentd_reply(struct agentd *d, struct agentd_conn *c, const struct agent_wbuf *w);
void agentd_reply_error(struct agentd *d, struct agentd_conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
