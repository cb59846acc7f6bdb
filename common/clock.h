/* Millisecond clocks for deadlines and timeouts: one definition for the
 * daemon, the modules and the client. CLOCK_MONOTONIC for bounds that
 * must not move with the wall clock; CLOCK_BOOTTIME where a suspend must
 * count too (an idle client's allowance, a TTL). */
#ifndef AGENT_COMMON_CLOCK_H
#define AGENT_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t agent_clock_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t agent_mono_ms(void)
{
	return agent_clock_ms(CLOCK_MONOTONIC);
}

static inline int64_t agent_boot_ms(void)
{
	return agent_clock_ms(CLOCK_BOOTTIME);
}

/* Milliseconds left until a CLOCK_MONOTONIC deadline; 0 once it passed. */
static inline int agent_mono_left_ms(int64_t deadline)
{
	int64_t left = deadline - agent_mono_ms();

	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

#endif
