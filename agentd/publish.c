/* Snapshot publishing (agentd/publish.h): turns the configuration and the
 * store's live identities into the snapshot file that nss_agent and
 * pam_agent map (common/snapshot_write.c writes it).
 *
 * Invariant: only identities already committed to the store are published. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "agentd/daemon.h"
#include "agentd/deferred.h"
#include "agentd/publish.h"

/* A snapshot that cannot be published (a full /run: -ENOSPC) leaves the
 * previous one in place; agentd runs on without a writer, logs it once,
 * and publishes again at the next change. */
static bool snap_unpublished;

void agentd_snap_failed(struct agentd *d, int r)
{
	if (!snap_unpublished)
		agent_audit_log(&d->audit, LOG_ERR,
				"cannot publish the NSS snapshot (%s): the previous one stays",
				strerror(-r));
	snap_unpublished = true;
}

int agentd_snap_put_identity(struct agentd *d, const struct agent_identity *id)
{
	struct agent_snap_entry e = { 0 };
	size_t i;

	if (!d->snap) {
		int r = agentd_snapshot_rebuild(d);

		if (r < 0 || !d->snap) {
			agentd_snap_failed(d, r < 0 ? r : -EIO);
			return r < 0 ? r : -EIO;
		}
	}

	for (i = 0; i < d->cfg->npurposes; i++)
		if (strcmp(d->cfg->purposes[i].name, id->purpose) == 0)
			break;
	if (i == d->cfg->npurposes)
		return -ENOENT;
	e.uid = id->uid;
	e.purpose = (uint32_t)i;
	e.expires = id->expires;
	e.expires_boot_ns = id->expires_boot_ns;
	snprintf(e.name, sizeof(e.name), "%s", id->name);
	snprintf(e.subject, sizeof(e.subject), "%s", id->subject);
	return agent_snap_put(d->snap, &e);
}

static int snap_add_cb(const struct agent_identity *id, void *arg)
{
	struct agentd *d = arg;
	struct agent_identity v = *id;
	int r;

	if (agentd_deferred_overlay(d, &v))
		return 0; /* retired, its record not written yet */
	r = agentd_snap_put_identity(d, id);

	/* A live identity whose purpose is gone was retired before this runs. */
	return r == -ENOENT ? 0 : r;
}

/* (Re)builds the snapshot file from the store's live identities. */
int agentd_snapshot_rebuild(struct agentd *d)
{
	struct agent_snap_purpose *pp = NULL;
	struct agent_snap_writer *w = NULL;
	struct agent_snap_params p = { 0 };
	int r;

	if (d->cfg->npurposes) {
		pp = calloc(d->cfg->npurposes, sizeof(*pp));
		if (!pp)
			return -ENOMEM;
	}
	for (size_t i = 0; i < d->cfg->npurposes; i++) {
		const struct agent_cfg_purpose *cp = &d->cfg->purposes[i];

		snprintf(pp[i].name, sizeof(pp[i].name), "%s", cp->name);
		snprintf(pp[i].shell, sizeof(pp[i].shell), "%s", cp->shell);
		if (cp->home == AGENT_HOME_EPHEMERAL)
			snprintf(pp[i].home_base, sizeof(pp[i].home_base), "%s", d->cfg->home_base);
		pp[i].ngroups = (uint32_t)cp->ngroups;
		for (size_t g = 0; g < cp->ngroups; g++)
			pp[i].gids[g] = (uint32_t)cp->gids[g];
	}
	p.uid_min = d->cfg->uid_min;
	p.uid_max = d->cfg->uid_max;
	p.purposes = pp;
	p.npurposes = (uint32_t)d->cfg->npurposes;
	p.agents_group = d->cfg->agents_group;
	p.agents_gid = (uint32_t)d->cfg->agents_gid;
	r = agent_snap_writer_create(d->snap_path, &p, &w);
	free(pp);
	if (r < 0)
		return r;
	d->snap = w; /* the old writer, if any, is freed by the caller */
	snap_unpublished = false;
	return agent_store_foreach(d->store, AGENT_STORE_LIVE, snap_add_cb, d);
}
