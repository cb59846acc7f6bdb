/* Where the TTL is enforced (agentd/expiry.h): when an expiry timer fires,
 * every identity past either of its deadlines is retired, in batches.
 *
 * Invariants: one scan of the live table per turn collects at most
 * AGENTD_EXPIRE_BATCH due identities; each batch is one retirement (one
 * snapshot publication, one store transaction, retire.c); a turn that
 * leaves due identities behind re-arms the timers for a deadline already
 * past, so the loop serves what else is ready before the next batch. */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "agentd/daemon.h"
#include "agentd/expiry.h"
#include "agentd/livetable.h"
#include "agentd/retire.h"
#include "common/liveness.h"

size_t agentd_expiry_collect(const struct agentd_live *v, size_t n, const struct agent_now *now,
			     char (*out)[AGENT_NAME_MAX + 1], uint32_t *uids, size_t max,
			     bool *more)
{
	size_t k = 0;

	*more = false;
	for (size_t i = 0; i < n; i++) {
		if (agent_is_live(false, v[i].expires, v[i].expires_boot_ns, now))
			continue;
		if (k == max) {
			*more = true;
			break;
		}
		memcpy(out[k], v[i].name, sizeof(out[k]));
		uids[k] = v[i].uid;
		k++;
	}
	return k;
}

void agentd_expire_due(struct agentd *d)
{
	static char names[AGENTD_EXPIRE_BATCH][AGENT_NAME_MAX + 1];
	static uint32_t uids[AGENTD_EXPIRE_BATCH];
	struct agent_now now;
	bool more;
	size_t n;

	agent_now(&now);
	n = agentd_expiry_collect(d->live.v, d->live.n, &now, names, uids, AGENTD_EXPIRE_BATCH,
				  &more);
	if (n && agentd_retire_many(d, names, n, AGENT_RETIRE_EXPIRED, NULL, NULL) < 0)
		agent_audit_log(&d->audit, LOG_ERR, "out of memory retiring expired identities");
	/* What retirement could not find (gone from the store's view) leaves
	 * the table anyway, or its timer would fire for ever. */
	for (size_t i = 0; i < n; i++)
		if (agentd_live_has(d, uids[i], names[i]))
			agentd_live_remove(d, uids[i]);
	/* More due: the earliest deadline is past, so the timers fire again at
	 * once, after the requests already waiting. */
	agentd_live_rearm(d);
}
