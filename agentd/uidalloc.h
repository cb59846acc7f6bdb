/* Uid allocation for new identities.
 *
 * A uid is handed out only if it is in [uid_min, uid_max], not live, not
 * unreaped and not in quarantine in the store, not held back by the
 * leftovers sweep (uid_use.held), used by no process and unknown to NSS.
 * Order: least recently used first, so a uid comes back as late as
 * possible: uids never used (ascending), then the one released longest ago
 * (ties: the lower uid). Release times are durable (store uid_use).
 *
 * Processes are not scanned per create: a uid is not handed out while a
 * process has it as its real uid at that moment (getpriority(PRIO_USER),
 * one system call), nor if any process had it as any of its uids at the
 * last /proc scan, made at most once a second (uidrange.h), or sooner
 * (at most every 50 ms) when a uid busy at that scan has no process now.
 * Scans are made in a child (agent_proc_cache_scan_start, W_SCAN; the
 * first one started at start-up and waited for by the first create),
 * while the last one's answers serve: a uid busy on them is passed over
 * until the new one is in. A create that finds nothing else free after
 * passing one over waits for it (AGENTD_PROC_SCAN_WAIT_MS at most) and
 * picks again, so a stale scan never refuses a create. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentd/store.h"
#include "agentd/uidrange.h"

struct agentd;

#define AGENTD_PROC_SCAN_MAX_AGE_MS 1000
#define AGENTD_PROC_RESCAN_MS 50
/* How long a create waits for a scan under way (the first one, or when
 * nothing else is free); a scan of 100,000 processes takes about 1.5 s. */
#define AGENTD_PROC_SCAN_WAIT_MS 5000

/* The pure choice, reachable by unit tests. */
struct agent_uid_pick {
	uint32_t uid_min, uid_max;
	/* uids ever handed out or on record: a uid not in it is never-used.
	 * NULL: skip the never-used pass. */
	const struct agent_uid_set *ever;
	/* released uids, any order (held and quarantined ones are skipped) */
	const struct agent_uid_use *released;
	size_t nreleased;
	int64_t now, quarantine;
	/* The remaining checks (live, processes, NSS), cheapest last; NULL:
	 * every uid passes. */
	bool (*usable)(uint32_t uid, void *arg);
	void *arg;
};
/* 0 and *uid, or -ENOSPC if no uid qualifies. */
int agent_uid_pick(const struct agent_uid_pick *p, uint32_t *uid);

/* Picks a free uid (and counts it as used). 0 and *uid, or -ENOSPC. */
int agentd_alloc_uid(struct agentd *d, uint32_t *uid);
/* At start-up: the first /proc scan, in a child, so the first create
 * finds it done. */
void agentd_uidalloc_prescan(struct agentd *d);
/* The loop: the allocator's /proc scan in a child is done (its W_SCAN
 * descriptor is readable). */
void agentd_uidalloc_scan_done(struct agentd *d);
/* Frees the allocator's caches (shutdown, or reload of the range). */
void agentd_uidalloc_free(struct agentd *d);
