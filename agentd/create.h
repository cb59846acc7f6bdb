/* Creates, one at a time or in batches (agentd/create.c): CREATE and RUN
 * requests are decided, committed to the store in one transaction (group
 * commit: one fsync for a batch), published, added to the live table with
 * their timers, and only then answered.
 *
 * The loop (loop.c) hands every CREATE and RUN request that is ready in one
 * turn to agentd_create_batch; handlers.c's table routes a single one
 * through agentd_h_create / agentd_h_run (a batch of one). */
#pragma once
#include <stddef.h>

struct agentd;
struct agentd_conn;
struct agent_msg;

/* The most requests one batch takes (the loop's events per turn). */
#define AGENTD_CREATE_BATCH_MAX 256

struct agentd_create_req {
	struct agentd_conn *c;
	const struct agent_msg *m; /* CREATE or RUN, valid until agentd_conn_done */
};

/* How long a batch may spend deciding (policy, names, uids) before the
 * rest waits for the next turn of the loop, so that pam_agent's requests
 * that arrive meanwhile are not held up behind a long burst. */
#define AGENTD_CREATE_DECIDE_MS 100

/* Decides, commits, publishes and answers the first requests of v (at
 * least one, at most AGENTD_CREATE_BATCH_MAX, as many as fit in
 * AGENTD_CREATE_DECIDE_MS) and returns how many it took; each of those
 * gets exactly one answer queued on its connection (an identity, or an
 * error), the others are untouched. A failed commit refuses every request
 * of the batch and acknowledges none; a request whose identity cannot be
 * published or added to the live table is undone (retired) and refused.
 * The caller then calls agentd_conn_done for each one taken. */
size_t agentd_create_batch(struct agentd *d, const struct agentd_create_req *v, size_t n);

/* Handler-table entries: a batch of one. */
void agentd_h_create(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
void agentd_h_run(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
