/* Start-up reconciliation (agentd/reconcile.h). Runs once, before the
 * listening socket exists, so no request sees a half-reconciled state. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "agentd/daemon.h"
#include "agentd/deferred.h"
#include "agentd/expiry.h"
#include "agentd/livetable.h"
#include "agentd/homes.h"
#include "agentd/publish.h"
#include "agentd/leftovers.h"
#include "agentd/reaper.h"
#include "agentd/reconcile.h"
#include "agentd/retire.h"
#include "agentd/uidrange.h"
#include "common/liveness.h"

/* A retirement an earlier run enforced but could not record (deferred.h). */
struct journalled {
	char name[AGENT_NAME_MAX + 1];
	int reason;
	char text[AGENT_REASON_MAX + 1];
};

struct boot_ctx {
	struct agentd *d;
	struct agent_now now;
	bool new_boot;
	char (*expired)[AGENT_NAME_MAX + 1];
	size_t nexpired, cap;
	struct journalled *jv;
	size_t nj, jcap;
};

static int journal_cb(const char *name, int reason, int64_t when, const char *text, void *arg)
{
	struct boot_ctx *b = arg;

	(void)when;
	if (b->nj == b->jcap) {
		size_t cap = b->jcap ? b->jcap * 2 : 16;
		void *p = realloc(b->jv, cap * sizeof(*b->jv));

		if (!p)
			return -ENOMEM;
		b->jv = p;
		b->jcap = cap;
	}
	snprintf(b->jv[b->nj].name, sizeof(b->jv[b->nj].name), "%s", name);
	b->jv[b->nj].reason = reason;
	snprintf(b->jv[b->nj].text, sizeof(b->jv[b->nj].text), "%s", text);
	b->nj++;
	return 0;
}

static const struct journalled *journalled(const struct boot_ctx *b, const char *name)
{
	for (size_t i = 0; i < b->nj; i++)
		if (strcmp(b->jv[i].name, name) == 0)
			return &b->jv[i];
	return NULL;
}

static int startup_live_cb(const struct agent_identity *id, void *arg)
{
	struct boot_ctx *b = arg;
	struct agent_identity c = *id;

	/* A boot deadline from another boot means nothing: derive a new one. */
	if (b->new_boot || c.expires_boot_ns == 0)
		c.expires_boot_ns = agent_boot_deadline(c.expires, &b->now);
	if (journalled(b, c.name) || !agent_is_live(false, c.expires, c.expires_boot_ns, &b->now) ||
	    !agent_config_purpose(b->d->cfg, c.purpose) || c.uid < b->d->cfg->uid_min ||
	    c.uid > b->d->cfg->uid_max) {
		if (b->nexpired == b->cap) {
			size_t cap = b->cap ? b->cap * 2 : 64;
			void *p = realloc(b->expired, cap * sizeof(*b->expired));

			if (!p)
				return -ENOMEM;
			b->expired = p;
			b->cap = cap;
		}
		snprintf(b->expired[b->nexpired++], AGENT_NAME_MAX + 1, "%s", c.name);
		return 0;
	}
	if (agentd_purpose_has_home(b->d, c.purpose))
		agentd_home_create(b->d, c.name, c.uid);
	return agentd_live_add(b->d, &c);
}

static int unreaped_cb(const struct agent_identity *id, void *arg)
{
	if (!agentd_reap_pending(arg, id->uid))
		agentd_reaper_queue(arg, id->uid, id->name, false);
	return 0;
}

static void read_boot_id(char *buf, size_t len)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		n = 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* Before any request: retire what expired while we were down (or lost its
 * purpose or range), finish interrupted reaps, kill processes in the range
 * that belong to no live identity, then publish the snapshot. */
int agentd_reconcile(struct agentd *d)
{
	struct boot_ctx b = { .d = d };
	struct agent_uid_set procs;
	char boot_id[64], old_id[64];
	int r;

	agent_now(&b.now);
	read_boot_id(boot_id, sizeof(boot_id));
	if (agent_store_meta_get(d->store, "boot_id", old_id, sizeof(old_id)) < 0 ||
	    strcmp(old_id, boot_id) != 0)
		b.new_boot = true;
	/* A store that refuses writes must not stop a start: retirements
	 * below are enforced and their records deferred. */
	r = agent_store_meta_set(d->store, "boot_id", boot_id);
	if (r < 0)
		agent_audit_log(&d->audit, LOG_ERR, "store: cannot record the boot id (%s)",
				strerror(-r));
	r = agentd_deferred_journal_read(d, journal_cb, &b);
	if (r < 0)
		agent_audit_log(&d->audit, LOG_ERR, "cannot read the retirement journal (%s)",
				strerror(-r));
	if (b.nj)
		agent_audit_log(&d->audit, LOG_NOTICE,
				"%zu retirements of an earlier run were not recorded: "
				"retiring them again",
				b.nj);

	r = agent_store_foreach(d->store, AGENT_STORE_LIVE, startup_live_cb, &b);
	if (r < 0)
		goto out;
	r = agentd_snapshot_rebuild(d);
	if (r < 0) {
		agentd_snap_failed(d, r);
		r = 0;
	}
	/* The plainly expired in batches (one transaction each); journalled
	 * and orphaned ones one by one, each with its own reason. */
	size_t nplain = 0;

	for (size_t i = 0; i < b.nexpired; i++) {
		struct agent_identity id;
		const struct journalled *j = journalled(&b, b.expired[i]);
		bool lost = agent_store_get(d->store, b.expired[i], &id) == 0 &&
			    (!agent_config_purpose(d->cfg, id.purpose) ||
			     id.uid < d->cfg->uid_min || id.uid > d->cfg->uid_max);

		if (j)
			agentd_retire(d, b.expired[i], (enum agent_retire_reason)j->reason,
				      j->text[0] ? j->text : NULL, NULL);
		else if (lost)
			agentd_retire(d, b.expired[i], AGENT_RETIRE_ORPHANED,
				      "purpose or uid no longer in the configuration", NULL);
		else
			memmove(b.expired[nplain++], b.expired[i], sizeof(b.expired[i]));
	}
	for (size_t i = 0; i < nplain; i += AGENTD_EXPIRE_BATCH)
		agentd_retire_many(d, b.expired + i,
				   nplain - i < AGENTD_EXPIRE_BATCH ? nplain - i
								    : AGENTD_EXPIRE_BATCH,
				   AGENT_RETIRE_EXPIRED, NULL, NULL);
	/* Retirements above queued their reapers; add interrupted ones. */
	r = agent_store_foreach(d->store, AGENT_STORE_UNREAPED, unreaped_cb, d);
	if (r < 0)
		goto out;

	/* Orphans: in-range uids with processes and no live identity. */
	r = agent_uid_set_init(&procs, d->cfg->uid_min, d->cfg->uid_max);
	if (r < 0)
		goto out;
	if (agent_uid_set_scan_proc(&procs, "/proc") == 0) {
		for (uint64_t u = d->cfg->uid_min; u <= d->cfg->uid_max; u++) {
			struct agent_identity id;

			if (!agent_uid_set_has(&procs, (uint32_t)u))
				continue;
			if (agent_store_get_live_uid(d->store, (uint32_t)u, &id) == 0)
				continue;
			if (!agentd_reap_pending(d, (uint32_t)u))
				agentd_reaper_queue(d, (uint32_t)u, NULL, true);
		}
	}
	agentd_deferred_flush(d); /* a journal nothing was left in goes */
	agentd_reapers_drain(d);
	/* An orphan's uid may have left files too: swept like a released one
	 * (held until then). */
	for (uint64_t u = d->cfg->uid_min; u <= d->cfg->uid_max; u++) {
		struct agent_identity id;

		if (agent_uid_set_has(&procs, (uint32_t)u) &&
		    agent_store_get_live_uid(d->store, (uint32_t)u, &id) != 0)
			agentd_leftovers_released(d, (uint32_t)u);
	}
	agent_uid_set_free(&procs);
	agentd_purge_retired(d, true);
	r = 0;
out:
	free(b.expired);
	free(b.jv);
	return r;
}
