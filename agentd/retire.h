/* Retirement: ending an identity (and, cascading, its live descendants).
 *
 * Order, which the invariants depend on:
 * 1. the store marks the whole subtree retired in one transaction;
 * 2. each identity's snapshot entry is removed before anything else is
 *    reported, so it stops resolving at once; then the live table;
 * 3. its sessions are signalled and one audit record written;
 * 4. hooks.retired tells the request layer (pending step-ups are denied);
 * 5. a reaper is queued (reaper.c): its processes are killed by a child,
 *    and its uid is quarantined only once the reaper reports none left. */
#pragma once
#include "common/identity.h"

struct agentd;

/* Retires name for reason (text: free text for the record; by: who).
 * 0, -ENOENT, -EALREADY (not live), -EIO. */
int agentd_retire(struct agentd *d, const char *name, enum agent_retire_reason reason,
		  const char *text, const char *by);
