/* Budgets (see agentd/budget.h).
 *
 * Invariants:
 * - counts come from the store (durable across restarts): sub-identities
 *   by parent (retired ones count), creates by the last hop of the chain
 *   and creation time, sudo actions in the identity's authz row;
 * - a sudo is counted once per PAM transaction (its auth, account and
 *   session stages each decide, and each must see the same budget), by
 *   identity and PAM application pid, remembered for a while in a ring. */
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "agentd/budget.h"
#include "agentd/caller.h"
#include "agentd/daemon.h"
#include "common/kv.h"
#include "common/liveness.h"

#define COUNTED_MAX 64
#define COUNTED_NS (10LL * 60 * 1000000000LL) /* a transaction ends well within 10 min */

static struct counted {
	char name[AGENT_NAME_MAX + 1];
	pid_t pid;
	int64_t at_ns;
} counted[COUNTED_MAX];
static unsigned counted_next;

void agentd_budget_create_counts(struct agentd *d, const struct caller_ctx *cc,
				 struct agent_create_req *req)
{
	const char *who = cc->c.agent ? cc->agent.name : cc->c.user[0] ? cc->c.user : "root";
	bool per_minute = false;

	req->parent_children = 0;
	req->recent_creates = 0;
	if (cc->c.agent) {
		const struct agent_cfg_purpose *pp =
			agent_config_purpose(d->cfg, cc->agent.purpose);

		if (pp && pp->max_delegations)
			agent_store_count_children(d->store, cc->agent.name, &req->parent_children);
	}
	/* Counted only where a budget reads it: the count reads every
	 * identity created in the last minute. */
	for (size_t i = 0; i < d->cfg->ndelegators && !per_minute; i++)
		per_minute = d->cfg->delegators[i].creates_per_minute != 0;
	if (per_minute)
		agent_store_count_created_by(d->store, who, time(NULL) - 60, &req->recent_creates);
}

bool agentd_budget_sudo_counted(const char *name, pid_t pid)
{
	struct agent_now now;

	agent_now(&now);
	for (unsigned i = 0; i < COUNTED_MAX; i++)
		if (counted[i].pid == pid && strcmp(counted[i].name, name) == 0 &&
		    now.boot_ns - counted[i].at_ns < COUNTED_NS)
			return true;
	return false;
}

void agentd_budget_sudo_count(struct agentd *d, const char *name, pid_t pid)
{
	struct counted *c;
	struct agent_now now;

	if (agentd_budget_sudo_counted(name, pid))
		return;
	if (agent_store_sudo_used(d->store, name) < 0)
		agent_audit_log(&d->audit, LOG_ERR, "cannot count a sudo action of %s", name);
	agent_now(&now);
	c = &counted[counted_next++ % COUNTED_MAX];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->pid = pid;
	c->at_ns = now.boot_ns;
}

void agentd_budget_audit(struct agentd *d, const struct agent_identity *id, const char *who,
			 const char *purpose, const char *budget, const char *why)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "over-budget");
	agent_kv_str(&kv, "decision", "deny");
	if (id)
		agent_audit_identity(&kv, id);
	else
		agent_kv_str(&kv, "purpose", purpose ? purpose : "");
	if (who)
		agent_kv_str(&kv, "caller", who);
	agent_kv_str(&kv, "budget", budget);
	agent_kv_str(&kv, "reason", why);
	agent_audit_emit(&d->audit, &kv, LOG_WARNING);
}
