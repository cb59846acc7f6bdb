/* Store writes that wait: retirement and reap records the database could
 * not take yet (disk full, EIO, read-only, locked).
 *
 * Retirement never waits for the store (retire.c): an identity is
 * unpublished, dropped from the live table, its sessions ended and its kill
 * queued at once; its record goes through this queue. agentd_deferred_flush
 * writes everything queued in one transaction; when the store refuses it,
 * the records stay in memory (in order), the cause is logged once, a 1 s
 * timer retries, and recovery is logged once. While the store is
 * unwritable, creates are refused (agentd_deferred_error) and nothing else
 * stops.
 *
 * Until it is written, a retirement exists only in memory, so:
 * - every reader that asks the store whether an identity is live applies
 *   agentd_deferred_overlay first (a store-live identity that is not in the
 *   live table is retired, not live);
 * - the pending retirements are also kept in a small journal in the
 *   runtime directory (tmpfs, usually another file system than the state
 *   directory). If agentd restarts before the store took them, start-up
 *   reconciliation (reconcile.c) retires every journalled identity again
 *   with its recorded reason: its processes are killed again and it is
 *   never resurrected as live. Without the journal (the runtime directory
 *   was full too, or the host rebooted), a revoked identity whose deadline
 *   has not passed comes back live at start: agentd logs that the journal
 *   could not be written when it happens. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include "common/identity.h"
#include "common/limits.h"

struct agentd;

#define AGENTD_DEFERRED_JOURNAL "deferred-retire"

enum agentd_deferred_what { AGENTD_DEFER_RETIRE = 1, AGENTD_DEFER_REAPED };

struct agentd_deferred_rec {
	enum agentd_deferred_what what;
	uint32_t uid;
	int reason;      /* enum agent_retire_reason (RETIRE) */
	int64_t when;    /* retired_at or reaped_at */
	uint32_t killed; /* REAPED */
	char name[AGENT_NAME_MAX + 1];
	char text[AGENT_REASON_MAX + 1];
	TAILQ_ENTRY(agentd_deferred_rec) link;
};

/* The retry timer (CLOCK_BOOTTIME, watched by the loop). 0 or -errno. */
int agentd_deferred_init(struct agentd *d);
/* Shutdown: a last flush; what stays unwritten stays in the journal. */
void agentd_deferred_free(struct agentd *d);
/* Queues a retirement record (text: free text or NULL). 0 or -ENOMEM. */
int agentd_deferred_retire(struct agentd *d, const struct agent_identity *id,
			   enum agent_retire_reason reason, int64_t when, const char *text);
/* Queues a reap record. 0 or -ENOMEM. */
int agentd_deferred_reaped(struct agentd *d, const char *name, int64_t when, uint32_t killed);
/* Writes the queue within SOON_MS (50 ms), with whatever else comes
 * meanwhile (reap records of a burst: one transaction, not one each). */
void agentd_deferred_flush_soon(struct agentd *d);
/* Writes every queued record in one transaction. 0, or the store's -errno
 * (the records stay queued and the retry timer runs). */
int agentd_deferred_flush(struct agentd *d);
/* Group commit for the requests of one turn: between hold and release,
 * agentd_deferred_commit only notes that a flush is due, and release
 * flushes once, before the loop sends the replies of those requests. So a
 * burst of revokes costs one transaction and one fsync a turn, and nothing
 * is acknowledged before its record is written (or journalled). */
void agentd_deferred_hold(struct agentd *d);
void agentd_deferred_release(struct agentd *d);
/* agentd_deferred_flush now, or at release while held. */
void agentd_deferred_commit(struct agentd *d);
/* The retry timer fired. */
void agentd_deferred_tick(struct agentd *d);
/* 0 while the store takes writes, else the -errno of its last refusal. */
int agentd_deferred_error(const struct agentd *d);
/* id was read from the store: if the store says live but the identity was
 * retired in memory (its record still queued, or it is out of the live
 * table), makes *id say retired (reason, time and text from the queue)
 * and returns true. */
bool agentd_deferred_overlay(const struct agentd *d, struct agent_identity *id);
/* Start-up: the journal of an earlier run, one callback per retirement
 * (name, reason, when, text). Missing journal: 0. */
int agentd_deferred_journal_read(struct agentd *d,
				 int (*cb)(const char *name, int reason, int64_t when,
					   const char *text, void *arg),
				 void *arg);
