/* Where the TTL is enforced.
 *
 * An identity has two deadlines: wall clock (expires) and CLOCK_BOOTTIME.
 * Two timerfds are armed for the earliest deadline in the live table
 * (livetable.c): one on CLOCK_BOOTTIME, one on CLOCK_REALTIME that is
 * cancelled when the wall clock is set, so a clock step re-evaluates every
 * deadline. When either fires, agentd_expire_due retires (retire.c) every
 * identity past either deadline by the liveness rule (common/liveness.h).
 * Readers (nss_agent, pam_agent) apply the same rule themselves, so an
 * identity stops resolving at its deadline even if agentd is late. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/limits.h"

struct agentd;
struct agentd_live;
struct agent_now;

/* At most this many identities retire in one turn of the loop. */
#define AGENTD_EXPIRE_BATCH 64

/* A timer fired: retires up to AGENTD_EXPIRE_BATCH identities past a
 * deadline in one batch, then re-arms (at once if more are due). */
void agentd_expire_due(struct agentd *d);
/* The batch: the names and uids of up to max entries of v[0..n) past a
 * deadline at now, in table order; *more if others are due too. */
size_t agentd_expiry_collect(const struct agentd_live *v, size_t n, const struct agent_now *now,
			     char (*out)[AGENT_NAME_MAX + 1], uint32_t *uids, size_t max,
			     bool *more);
