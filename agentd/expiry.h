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

struct agentd;

/* A timer fired: retires every identity past a deadline, then re-arms. */
void agentd_expire_due(struct agentd *d);
