/* The live table: every live identity's uid, name and deadlines, mirrored
 * from the store for the expiry timers (expiry.h) and the max_live limit.
 * It also arms the two expiry timerfds (d->tboot_fd, d->treal_fd) for its
 * earliest deadline: adding an identity moves them only if it is earlier,
 * so a create costs no scan. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/identity.h"

struct agentd;

struct agentd_live {
	uint32_t uid;
	int64_t expires;
	int64_t expires_boot_ns;
	char name[AGENT_NAME_MAX + 1];
};

/* Allocates the uid index for the configured range. 0 or -ENOMEM. */
int agentd_live_init(struct agentd *d);
void agentd_live_free(struct agentd *d);
/* Adds a freshly created identity and moves the timers if its deadline is
 * the earliest. 0, -ENOMEM, -ERANGE. */
int agentd_live_add(struct agentd *d, const struct agent_identity *id);
/* Is uid live under this name? */
bool agentd_live_has(const struct agentd *d, uint32_t uid, const char *name);
/* Forgets uid (no-op if not live). */
void agentd_live_remove(struct agentd *d, uint32_t uid);
/* Arms both timers for the earliest deadline in the table (or disarms). */
void agentd_live_rearm(struct agentd *d);
