/* Reaper supervision: the child processes that kill a retired uid.
 *
 * A retirement queues a reaper job; at most AGENTD_MAX_REAPERS children run
 * at once, each running the kill loop of kill.c and reporting on a pipe the
 * loop watches, so the loop never waits for a grace period. When a reaper
 * reports success the identity is marked reaped (reaped_at) and only then
 * does its uid start its quarantine; a failed reap leaves the uid out of
 * circulation until the next start retries it. Also: the retention purge
 * of long-reaped records. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include "common/limits.h"

#define AGENTD_MAX_REAPERS 8

struct agentd;

struct agentd_reaper {
	int kind; /* W_REAPER: first member, epoll data points here */
	pid_t pid;
	int rfd; /* result pipe, -1 until started */
	uint32_t uid;
	bool orphan; /* no identity record: a stray process in the range */
	char name[AGENT_NAME_MAX + 1];
	TAILQ_ENTRY(agentd_reaper) link;
};

/* Queues a reaper for uid (name NULL for an orphan); start with
 * agentd_reapers_start. */
void agentd_reaper_queue(struct agentd *d, uint32_t uid, const char *name, bool orphan);
/* Starts queued reapers up to the limit. */
void agentd_reapers_start(struct agentd *d);
/* A reaper's pipe is readable: records the result (hooks.reaped), starts
 * the next. */
void agentd_reaper_done(struct agentd *d, struct agentd_reaper *j);
/* Waits for every queued and running reaper (start-up only). */
void agentd_reapers_drain(struct agentd *d);
/* Shutdown: drops queued jobs, lets running ones finish (bounded). */
void agentd_reapers_finish(struct agentd *d);
/* Is a reaper queued or running for uid? */
bool agentd_reap_pending(struct agentd *d, uint32_t uid);
/* Forgets retired identities reaped longer than retired_retention ago; at
 * most once an hour (force: now). */
void agentd_purge_retired(struct agentd *d, bool force);
