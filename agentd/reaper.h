/* Reaper supervision: the one helper process that kills retired uids.
 *
 * The helper (reap_helper.c) is started once, early in start-up before
 * the store and the sockets are opened, and talks to agentd over a
 * SOCK_SEQPACKET socketpair: a request per uid, a result per uid. It kills
 * whole batches (one /proc scan per turn for every uid in flight, then
 * kill(-1) as each uid), removes the homes and IPC objects and reports
 * killed and survivors. A retirement queues a uid; at most
 * AGENTD_REAPS_IN_FLIGHT are outstanding, the rest wait in order. When the
 * helper reports success the identity is marked reaped (reaped_at) and only
 * then does its uid start its quarantine; a failed reap (survivors: a
 * process that could not be killed yet, held in uninterruptible sleep or
 * still tearing down on a saturated host) is audited, keeps the uid out of
 * circulation, and is tried again AGENTD_REAP_RETRY_MIN_MS later, the wait
 * doubling up to AGENTD_REAP_RETRY_MAX_MS, until one succeeds (a restart
 * also retries it). If the helper dies it is started again and every
 * outstanding uid is sent again. Also: the retention purge of long-reaped
 * records. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include "agentd/reap_helper.h"
#include "common/limits.h"

#define AGENTD_REAPS_IN_FLIGHT AGENT_REAP_MAX_JOBS
#define AGENTD_REAP_RETRY_MIN_MS 2000
#define AGENTD_REAP_RETRY_MAX_MS (300 * 1000)

struct agentd;

struct agentd_reaper {
	uint32_t uid;
	bool orphan; /* no identity record: a stray process in the range */
	char name[AGENT_NAME_MAX + 1];
	unsigned failed;  /* reaps of it that ended with survivors */
	int64_t retry_ms; /* CLOCK_BOOTTIME ms: when it is tried again */
	TAILQ_ENTRY(agentd_reaper) link;
};

/* Starts the helper (socketpair, fork). Call early: the child closes every
 * descriptor but its socket anyway. 0 or -errno. */
int agentd_reaper_helper_start(struct agentd *d);
/* Queues a reap of uid (name NULL for an orphan); send with
 * agentd_reapers_start. */
void agentd_reaper_queue(struct agentd *d, uint32_t uid, const char *name, bool orphan);
/* Sends queued uids to the helper, up to the in-flight limit (starts the
 * helper if there is none). */
void agentd_reapers_start(struct agentd *d);
/* The helper's socket is readable: records the results (hooks.reaped),
 * sends more; restarts a helper that is gone. */
void agentd_reaper_readable(struct agentd *d);
/* Waits for every queued and outstanding reap (start-up only). */
void agentd_reapers_drain(struct agentd *d);
/* Shutdown: drops queued uids, lets outstanding ones finish (bounded),
 * stops the helper. */
void agentd_reapers_finish(struct agentd *d);
/* Queues the failed reaps whose retry is due; ms until the next one is
 * (-1: none waits). Called every turn of the loop. */
int agentd_reapers_retry(struct agentd *d);
/* Uids whose reap is queued, outstanding or waiting for its retry, in
 * *reaping; of those, in *survived, the ones whose last reap ended with
 * processes still running, and the first max of their uids in v. */
void agentd_reap_counts(struct agentd *d, uint64_t *reaping, uint64_t *survived, uint32_t *v,
			size_t max);
/* Is a reap queued, outstanding or waiting for its retry for uid? */
bool agentd_reap_pending(struct agentd *d, uint32_t uid);
/* Forgets retired identities reaped longer than retired_retention ago; at
 * most once an hour (force: now). */
void agentd_purge_retired(struct agentd *d, bool force);
