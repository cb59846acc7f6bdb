/* Configuration reload (agentd/reload.h). The loop calls it after a
 * SIGHUP, between events, never from inside a request. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "agentd/daemon.h"
#include "agentd/homes.h"
#include "agentd/publish.h"
#include "agentd/reload.h"
#include "agentd/retire.h"
#include "common/kv.h"

struct purge_ctx {
	struct agentd *d;
	char (*names)[AGENT_NAME_MAX + 1];
	size_t n, cap;
};

static int purposeless_cb(const struct agent_identity *id, void *arg)
{
	struct purge_ctx *p = arg;

	if (agent_config_purpose(p->d->cfg, id->purpose))
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		void *q = realloc(p->names, cap * sizeof(*p->names));

		if (!q)
			return -ENOMEM;
		p->names = q;
		p->cap = cap;
	}
	snprintf(p->names[p->n++], AGENT_NAME_MAX + 1, "%s", id->name);
	return 0;
}

void agentd_audit_config(struct agentd *d, const char *decision, const char *error)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "config");
	agent_kv_str(&kv, "path", d->opts.config_path);
	agent_kv_str(&kv, "decision", decision);
	if (error)
		agent_kv_str(&kv, "error", error);
	agent_audit_emit(&d->audit, &kv, error ? LOG_WARNING : LOG_NOTICE);
}

void agentd_reload_config(struct agentd *d)
{
	struct agent_config *n = NULL, *old = d->cfg;
	struct agent_snap_writer *oldsnap = d->snap;
	struct purge_ctx p = { .d = d };
	char err[512];
	int r;

	r = agent_config_load(d->opts.config_path, &n, err, sizeof(err));
	if (r == 0)
		r = agent_config_check_host(n, &agent_host_files_system, err, sizeof(err));
	if (r == 0 && (n->uid_min != old->uid_min || n->uid_max != old->uid_max)) {
		snprintf(err, sizeof(err), "%s: changing uid_min/uid_max needs a restart",
			 d->opts.config_path);
		r = -EINVAL;
	}
	if (r < 0) {
		agent_config_free(n);
		agentd_audit_config(d, "rejected", err);
		return;
	}
	d->cfg = n;
	if (strcmp(n->home_base, old->home_base) != 0 && agentd_home_base_open(d) < 0)
		syslog(LOG_AUTHPRIV | LOG_ERR, "cannot use home_base %s", n->home_base);
	/* Identities whose purpose disappeared keep no rights: retire them. */
	agent_store_foreach(d->store, AGENT_STORE_LIVE, purposeless_cb, &p);
	for (size_t i = 0; i < p.n; i++)
		agentd_retire(d, p.names[i], AGENT_RETIRE_REVOKED,
			      "purpose removed by a configuration reload", NULL);
	free(p.names);
	if ((r = agentd_snapshot_rebuild(d)) < 0) {
		agentd_snap_failed(d, r);
		if (d->snap != oldsnap) {
			agent_snap_writer_free(d->snap);
		}
		d->snap = oldsnap;
	} else if (oldsnap != d->snap) {
		agent_snap_writer_free(oldsnap);
	}
	agent_config_free(old);
	agentd_audit_config(d, "loaded", NULL);
}
