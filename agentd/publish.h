/* Snapshot publishing: the file nss_agent and pam_agent read.
 *
 * The snapshot holds the purposes and every live identity; it is what makes
 * an identity resolve. Written after the store (an entry is never published
 * before it is durable) and an entry is removed first on retirement
 * (retire.c), so a retired identity stops resolving at once. */
#pragma once
#include "common/identity.h"

struct agentd;

/* Publishes (adds or replaces) the entry of a live identity. 0, -ENOENT
 * (purpose not configured), -errno. */
int agentd_snap_put_identity(struct agentd *d, const struct agent_identity *id);
/* Builds a new snapshot from the configuration and the store's live
 * identities into d->snap; the old writer, if any, is the caller's to free. */
int agentd_snapshot_rebuild(struct agentd *d);
/* Logs, once until the next successful rebuild, that the snapshot could
 * not be published (the previous one stays, agentd runs on). */
void agentd_snap_failed(struct agentd *d, int r);
