/* Configuration reload (agentd/reload.h). The loop calls it after a
 * SIGHUP, between events, never from inside a request. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "agentd/caller.h"
#include "agentd/daemon.h"
#include "agentd/follow.h"
#include "agentd/homes.h"
#include "agentd/publish.h"
#include "agentd/reload.h"
#include "agentd/retire.h"
#include "common/kv.h"

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
	char err[512];
	int r;

	agentd_caller_forget(); /* a reload also re-reads users and groups */

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
		agent_audit_log(&d->audit, LOG_ERR, "cannot use home_base %s", n->home_base);
	/* Live identities follow the new policy: retired (purpose gone, no
	 * rule lets them be any more) or shortened (agentd/follow.c). */
	agentd_follow_policy(d, "reload", false); /* the snapshot is rebuilt below */
	agentd_follow_arm(d);
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
