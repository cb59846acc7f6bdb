/* Retirement: ending an identity (and, cascading, its live descendants).
 *
 * Kill first, record after. Order, which the invariants depend on:
 * 1. each identity's snapshot entry is removed first (one publication for
 *    a whole batch), so it stops resolving at once; then the live table;
 * 2. (containment: the identity's cgroup is killed here);
 * 3. its sessions are signalled and one audit record written, at once;
 * 4. hooks.retired tells the request layer (pending step-ups are denied);
 * 5. its record is queued (deferred.c) and a reaper queued (reaper.c) and
 *    sent to the reaper helper before the record is written: its
 *    processes are killed by the helper, and its uid is quarantined only
 *    once the helper reports none left;
 * 6. the queued records are written in one store transaction. If the store
 *    refuses (full disk, EIO, read-only), steps 1-5 stand: the records wait
 *    in memory and are retried every second (deferred.h says what a restart
 *    in between does).
 * A retirement therefore never fails for want of a writable store. */
#pragma once
#include <stddef.h>
#include "common/identity.h"
#include "common/limits.h"

struct agentd;

/* Retires name for reason (text: free text for the record; by: who), and
 * its live descendants (reason parent). 0, -ENOENT, -EALREADY (not live),
 * -ENOMEM, -EIO (neither the store nor the live table knows it). */
int agentd_retire(struct agentd *d, const char *name, enum agent_retire_reason reason,
		  const char *text, const char *by);
/* Retires every name (each with its live descendants) as one batch: one
 * snapshot publication, one store transaction; text and by as for
 * agentd_retire (NULL for none). Names no longer live are skipped. Returns
 * how many names were retired, or -ENOMEM. */
int agentd_retire_many(struct agentd *d, const char (*names)[AGENT_NAME_MAX + 1], size_t n,
		       enum agent_retire_reason reason, const char *text, const char *by);
