/* The liveness rule (see common/liveness.h). Libc only. */
#include <time.h>

#include "common/liveness.h"

void agent_now(struct agent_now *now)
{
	struct timespec r, b;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_BOOTTIME, &b);
	now->real = r.tv_sec;
	now->boot_ns = (int64_t)b.tv_sec * 1000000000LL + b.tv_nsec;
}

bool agent_is_live(bool retired, int64_t expires, int64_t expires_boot_ns,
		   const struct agent_now *now)
{
	if (retired || now->real >= expires)
		return false;
	if (expires_boot_ns != 0 && now->boot_ns >= expires_boot_ns)
		return false;
	return true;
}

int64_t agent_boot_deadline(int64_t expires, const struct agent_now *now)
{
	int64_t left = expires - now->real;

	if (left <= 0)
		return now->boot_ns;
	if (left > (INT64_MAX - now->boot_ns) / 1000000000LL)
		return INT64_MAX;
	return now->boot_ns + left * 1000000000LL;
}
