/* Where the TTL is enforced (agentd/expiry.h): when an expiry timer fires,
 * every identity past either of its deadlines is retired. */
#include "agentd/daemon.h"
#include "agentd/expiry.h"
#include "agentd/livetable.h"
#include "agentd/retire.h"
#include "common/liveness.h"

/* Retires every live identity that is past either deadline. */
void agentd_expire_due(struct agentd *d)
{
	struct agent_now now;

	agent_now(&now);
	for (size_t i = 0; i < d->live.n;) {
		struct agentd_live e = d->live.v[i];

		if (agent_is_live(false, e.expires, e.expires_boot_ns, &now)) {
			i++;
			continue;
		}
		if (agentd_retire(d, e.name, AGENT_RETIRE_EXPIRED, NULL, NULL) < 0)
			agentd_live_remove(d, e.uid); /* already gone from the store's view */
		/* retire removed entries (possibly several); rescan from start */
		i = 0;
	}
	agentd_live_rearm(d);
}
