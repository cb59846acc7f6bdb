/* Retirement (agentd/retire.h): store, snapshot, live table, sessions,
 * audit, then the hand-over to a reaper. The order is the invariant: see
 * retire.h. Nothing here waits for a process. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "agentd/cgroup.h"
#include "agentd/daemon.h"
#include "agentd/livetable.h"
#include "agentd/reaper.h"
#include "agentd/retire.h"
#include "agentd/session.h"
#include "common/kv.h"

struct retire_ctx {
	struct agentd *d;
	char (*names)[AGENT_NAME_MAX + 1];
	size_t n, cap;
	int err;
};

static int collect_child(const struct agent_identity *id, void *arg)
{
	struct retire_ctx *rc = arg;

	if (rc->n == rc->cap) {
		size_t cap = rc->cap ? rc->cap * 2 : 16;
		void *p = realloc(rc->names, cap * sizeof(*rc->names));

		if (!p)
			return -ENOMEM;
		rc->names = p;
		rc->cap = cap;
	}
	snprintf(rc->names[rc->n++], AGENT_NAME_MAX + 1, "%s", id->name);
	return 0;
}

static void audit_retire(struct agentd *d, const struct agent_identity *id,
			 enum agent_retire_reason reason, const char *text, const char *by,
			 unsigned sessions)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "retire");
	agent_audit_identity(&kv, id);
	agent_kv_str(&kv, "reason", agent_retire_reason_str(reason));
	if (text && text[0])
		agent_kv_str(&kv, "text", text);
	if (by && by[0])
		agent_kv_str(&kv, "by", by);
	agent_kv_u64(&kv, "sessions", sessions);
	agent_audit_emit(&d->audit, &kv, LOG_NOTICE);
}

int agentd_retire(struct agentd *d, const char *name, enum agent_retire_reason reason,
		  const char *text, const char *by)
{
	struct retire_ctx rc = { .d = d };
	struct agent_identity id;
	int64_t now = time(NULL);
	int r;

	r = agent_store_get(d->store, name, &id);
	if (r < 0)
		return r;
	if (id.state != AGENT_STATE_LIVE)
		return -EALREADY;

	/* Collect the subtree breadth-first, then retire it in one transaction. */
	r = collect_child(&id, &rc);
	for (size_t i = 0; r == 0 && i < rc.n; i++)
		r = agent_store_foreach_child(d->store, rc.names[i], collect_child, &rc);
	if (r < 0)
		goto out;
	r = agent_store_begin(d->store);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < rc.n; i++) {
		r = agent_store_retire(d->store, rc.names[i], i ? AGENT_RETIRE_PARENT : reason, now,
				       i ? name : text);
		if (r < 0 && r != -EALREADY) {
			agent_store_rollback(d->store);
			goto out;
		}
	}
	r = agent_store_commit(d->store);
	if (r < 0) {
		agent_store_rollback(d->store);
		goto out;
	}
	for (size_t i = 0; i < rc.n; i++) {
		struct agent_identity c;

		if (agent_store_get(d->store, rc.names[i], &c) < 0)
			continue;
		agent_snap_remove(d->snap, c.uid);
		agentd_live_remove(d, c.uid);
		agentd_cgroup_kill(d, c.uid);
		audit_retire(d, &c, i ? AGENT_RETIRE_PARENT : reason, i ? name : text, by,
			     agentd_sessions_end(d, c.uid));
		if (d->hooks.retired)
			d->hooks.retired(d, &c);
		agentd_reaper_queue(d, c.uid, c.name, false);
	}
	/* No re-arm: a timer set for a retired identity fires once, finds
	 * nothing due and re-arms (agentd_expire_due). */
	agentd_reapers_start(d);
	r = 0;
out:
	free(rc.names);
	return r;
}
