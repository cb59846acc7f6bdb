/* Uid allocation for new identities.
 *
 * A uid is handed out only if it is in [uid_min, uid_max], not live, not
 * unreaped and not in quarantine in the store, used by no process and
 * unknown to NSS. The cursor moves round the range so a uid is reused as
 * late as possible. */
#pragma once
#include <stdint.h>

struct agentd;

/* Picks a free uid. 0 and *uid, or -ENOSPC. */
int agentd_alloc_uid(struct agentd *d, uint32_t *uid);
