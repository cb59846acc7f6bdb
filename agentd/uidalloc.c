/* Uid allocation (agentd/uidalloc.h). */
#include <errno.h>
#include <time.h>

#include "agentd/daemon.h"
#include "agentd/uidalloc.h"
#include "agentd/uidrange.h"

int agentd_alloc_uid(struct agentd *d, uint32_t *out)
{
	struct agent_uid_set procs;
	uint64_t span = (uint64_t)d->cfg->uid_max - d->cfg->uid_min + 1;
	int64_t now = time(NULL);
	int r;

	r = agent_uid_set_init(&procs, d->cfg->uid_min, d->cfg->uid_max);
	if (r < 0)
		return r;
	r = agent_uid_set_scan_proc(&procs, "/proc");
	if (r < 0)
		goto out;
	r = -ENOSPC;
	for (uint64_t i = 0; i < span; i++) {
		uint32_t uid = d->cfg->uid_min + (uint32_t)((d->next_uid - d->cfg->uid_min + i) % span);
		bool busy;

		if (agent_store_uid_busy(d->store, uid, now, (int64_t)d->cfg->uid_quarantine, &busy) < 0)
			continue;
		if (busy || agent_uid_set_has(&procs, uid) || agent_uid_known_to_nss(uid))
			continue;
		*out = uid;
		d->next_uid = uid == d->cfg->uid_max ? d->cfg->uid_min : uid + 1;
		r = 0;
		break;
	}
out:
	agent_uid_set_free(&procs);
	return r;
}
