/* The liveness rule: one function, used by agentd, pam_agent and nss_agent.
 *
 * An identity is live only if it is not retired and now is before both of its
 * deadlines: the wall-clock one (expires, unix seconds) and the CLOCK_BOOTTIME
 * one recorded for this boot. A wall-clock step backwards therefore never
 * extends a TTL, and a reader checks expiry itself, so a dead or frozen agentd
 * cannot keep an identity alive. Libc only: nss_agent links this. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct agent_now {
	int64_t real;    /* CLOCK_REALTIME, seconds */
	int64_t boot_ns; /* CLOCK_BOOTTIME, nanoseconds */
};

/* Reads both clocks (vDSO, no system call on x86-64). */
void agent_now(struct agent_now *now);

/* expires_boot_ns == 0 means "no boot deadline known" (only the wall clock
 * applies); callers set it whenever they can. */
bool agent_is_live(bool retired, int64_t expires, int64_t expires_boot_ns,
		   const struct agent_now *now);

/* The boot deadline matching a wall-clock deadline, from now. */
int64_t agent_boot_deadline(int64_t expires, const struct agent_now *now);
