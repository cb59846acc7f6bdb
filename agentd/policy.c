/* The delegation decision, PAM service and sudo command/run-as rules, and
 * who may approve (see agentd/policy.h). Pure: no I/O, no clock. */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agentd/policy.h"
#include "common/text.h"

static uint64_t min_nonzero(uint64_t a, uint64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

/* Does the caller match one of who[n] ("user", "%group", "*")? */
static bool who_in(char (*who)[AGENT_NAME_MAX + 2], size_t n, const struct agent_caller *c)
{
	for (size_t i = 0; i < n; i++) {
		const char *w = who[i];

		if (strcmp(w, "*") == 0)
			return true;
		if (w[0] == '%') {
			for (size_t g = 0; g < c->ngroups; g++)
				if (strcmp(c->groups[g], w + 1) == 0)
					return true;
		} else if (c->user[0] && strcmp(w, c->user) == 0) {
			return true;
		}
	}
	return false;
}

static bool who_matches(const struct agent_cfg_delegator *d, const struct agent_caller *c)
{
	return who_in(d->who, d->nwho, c);
}

static bool purpose_listed(const struct agent_cfg_delegator *d, const char *purpose)
{
	for (size_t i = 0; i < d->npurposes; i++)
		if (strcmp(d->purposes[i], "*") == 0 || strcmp(d->purposes[i], purpose) == 0)
			return true;
	return false;
}

__attribute__((format(printf, 2, 3))) static void deny(struct agent_create_decision *out,
						       const char *fmt, ...)
{
	va_list ap;

	out->allowed = false;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

/* Grants a TTL: a requested one above max is refused, a default one is
 * clamped; both are clamped to the parent's end for sub-delegations. */
static bool grant_ttl(const struct agent_config *cfg, uint64_t requested, uint64_t max, int64_t now,
		      int64_t parent_expires, struct agent_create_decision *out)
{
	char m[32];
	uint64_t ttl = requested ? requested : cfg->default_ttl;

	if (requested && requested > max) {
		agent_duration_format(max, m, sizeof(m));
		deny(out, "ttl exceeds the maximum of %s", m);
		return false;
	}
	if (ttl > max)
		ttl = max;
	if (parent_expires) {
		if (parent_expires <= now) {
			deny(out, "the parent identity has expired");
			return false;
		}
		if (now + (int64_t)ttl > parent_expires) {
			if (requested) {
				deny(out, "ttl would outlive the parent identity");
				return false;
			}
			ttl = (uint64_t)(parent_expires - now);
		}
	}
	if (ttl == 0) {
		deny(out, "ttl must be longer than 0s");
		return false;
	}
	out->ttl = ttl;
	out->expires = now + (int64_t)ttl;
	return true;
}

/* The identity's risk: out->risk (the purpose's, or the parent's) raised by
 * --risk, never lowered. */
static bool grant_risk(const struct agent_create_req *req, struct agent_create_decision *out)
{
	if (!req->has_risk)
		return true;
	if (req->risk < out->risk) {
		deny(out,
		     "risk %s is below the least risk %s of this identity (its purpose or "
		     "parent)",
		     agent_risk_str(req->risk), agent_risk_str(out->risk));
		return false;
	}
	out->risk = req->risk;
	return true;
}

static void create_sub(const struct agent_config *cfg, const struct agent_caller *caller,
		       const struct agent_create_req *req, const struct agent_cfg_purpose *p,
		       int64_t now, struct agent_create_decision *out)
{
	const struct agent_identity *parent = caller->agent;
	const struct agent_cfg_purpose *pp = agent_config_purpose(cfg, parent->purpose);

	if (req->for_user) {
		deny(out, "an agent identity may not act for another subject");
		return;
	}
	if (!pp || !agent_config_may_delegate(pp, req->purpose)) {
		deny(out, "purpose %s may not delegate purpose %s", parent->purpose, req->purpose);
		return;
	}
	if (parent->depth + 1 > p->max_depth) {
		deny(out, "delegation depth %u exceeds max_depth %u of purpose %s",
		     parent->depth + 1, p->max_depth, req->purpose);
		return;
	}
	if (pp->max_delegations && req->parent_children >= pp->max_delegations) {
		deny(out,
		     "over budget: %s has created %llu sub-identities, max_delegations of "
		     "purpose %s is %u",
		     parent->name, (unsigned long long)req->parent_children, pp->name,
		     pp->max_delegations);
		out->over_budget = "max_delegations";
		return;
	}
	if (parent->chain_len + 1 > AGENT_CHAIN_MAX) {
		deny(out, "delegation chain longer than %d", AGENT_CHAIN_MAX);
		return;
	}
	if (!grant_ttl(cfg, req->ttl, min_nonzero(cfg->max_ttl, p->max_ttl), now, parent->expires,
		       out))
		return;
	snprintf(out->subject, sizeof(out->subject), "%s", parent->subject);
	for (unsigned i = 0; i < parent->chain_len; i++)
		snprintf(out->chain[i], sizeof(out->chain[i]), "%s", parent->chain[i]);
	snprintf(out->chain[parent->chain_len], sizeof(out->chain[0]), "%s", parent->name);
	out->chain_len = parent->chain_len + 1;
	snprintf(out->parent, sizeof(out->parent), "%s", parent->name);
	out->depth = parent->depth + 1;
	if (parent->risk > out->risk)
		out->risk = parent->risk;
	if (!grant_risk(req, out))
		return;
	out->allowed = true;
	snprintf(out->reason, sizeof(out->reason), "sub-delegation from %s", parent->name);
}

void agent_policy_create(const struct agent_config *cfg, const struct agent_caller *caller,
			 const struct agent_create_req *req, int64_t now,
			 struct agent_create_decision *out)
{
	const struct agent_cfg_purpose *p = agent_config_purpose(cfg, req->purpose);
	const struct agent_cfg_delegator *d = NULL;
	uint64_t max;

	memset(out, 0, sizeof(*out));
	if (!p) {
		deny(out, "unknown purpose %s", req->purpose ? req->purpose : "(none)");
		return;
	}
	out->risk = p->risk;
	if (caller->agent) {
		create_sub(cfg, caller, req, p, now, out);
		return;
	}
	max = min_nonzero(cfg->max_ttl, p->max_ttl);
	if (caller->uid != 0) {
		for (size_t i = 0; i < cfg->ndelegators && !d; i++)
			if (who_matches(&cfg->delegators[i], caller) &&
			    purpose_listed(&cfg->delegators[i], req->purpose))
				d = &cfg->delegators[i];
		if (!d) {
			deny(out, "no delegator rule lets %s create purpose %s",
			     caller->user[0] ? caller->user : "this caller", req->purpose);
			return;
		}
		if (req->for_user && !d->may_act_for) {
			deny(out,
			     "the delegator rule at line %d does not allow acting for another "
			     "subject",
			     d->line);
			return;
		}
		max = min_nonzero(max, d->max_ttl);
		if (d->creates_per_minute && req->recent_creates >= d->creates_per_minute) {
			deny(out,
			     "over budget: %s created %llu identities in the last minute, "
			     "creates_per_minute of the delegator rule at line %d is %u",
			     caller->user, (unsigned long long)req->recent_creates, d->line,
			     d->creates_per_minute);
			out->over_budget = "creates_per_minute";
			return;
		}
	}
	if (!grant_ttl(cfg, req->ttl, max, now, 0, out))
		return;
	snprintf(out->subject, sizeof(out->subject), "%s",
		 req->for_user ? req->for_user : caller->user);
	out->chain_len = 0;
	if (req->for_user && strcmp(req->for_user, caller->user) != 0)
		snprintf(out->chain[out->chain_len++], sizeof(out->chain[0]), "%s", req->for_user);
	snprintf(out->chain[out->chain_len++], sizeof(out->chain[0]), "%s", caller->user);
	out->depth = 1;
	if (!grant_risk(req, out))
		return;
	out->allowed = true;
	if (d)
		snprintf(out->reason, sizeof(out->reason), "delegator rule at line %d", d->line);
	else
		snprintf(out->reason, sizeof(out->reason), "root");
}

static bool in_chain(const struct agent_identity *id, const char *who)
{
	for (unsigned i = 0; i < id->chain_len; i++)
		if (strcmp(id->chain[i], who) == 0)
			return true;
	return false;
}

bool agent_policy_may_see(const struct agent_caller *caller, const struct agent_identity *id)
{
	if (caller->uid == 0)
		return true;
	if (!caller->user[0])
		return false;
	return strcmp(id->name, caller->user) == 0 || strcmp(id->subject, caller->user) == 0 ||
	       in_chain(id, caller->user);
}

bool agent_policy_may_revoke(const struct agent_caller *caller, const struct agent_identity *id)
{
	if (caller->uid == 0)
		return true;
	if (!caller->user[0])
		return false;
	return strcmp(id->name, caller->user) == 0 || in_chain(id, caller->user);
}

__attribute__((format(printf, 3, 4))) static void svc_deny(struct agent_service_decision *out,
							   int err, const char *fmt, ...)
{
	va_list ap;

	out->allowed = false;
	out->err = err;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

/* The longest rule text, "purpose P: sudo_commands approve \"RULE\"", fits
 * in what the wire carries (REQUEST's RULE). */
_Static_assert(sizeof("purpose : sudo_commands approve \"\"") - 1 + AGENT_PURPOSE_MAX +
			       AGENT_CMD_RULE_MAX <=
		       AGENT_RULE_TEXT_MAX,
	       "a sudo_commands rule text must fit in AGENT_A_RULE");

static const char *rule_word(enum agent_rule r)
{
	return r == AGENT_RULE_ALLOW ? "allow" : r == AGENT_RULE_APPROVE ? "approve" : "deny";
}

static bool is_sudo(const char *service)
{
	return service && (strcmp(service, "sudo") == 0 || strcmp(service, "sudo-i") == 0);
}

/* The "(user,user) " prefix of a rule: the run-as users it names, or
 * "root" when it has none. Sets *rest to the command part. */
static bool runas_listed(const char *rule, const char *runas, const char **rest)
{
	const char *p, *end;

	*rest = rule;
	if (rule[0] != '(')
		return runas && strcmp(runas, "root") == 0;
	end = strchr(rule, ')');
	if (!end || end[1] != ' ')
		return false;
	*rest = end + 2;
	if (!runas)
		return false;
	for (p = rule + 1; p < end;) {
		size_t n = strcspn(p, ",)");

		if (n == strlen(runas) && strncmp(p, runas, n) == 0)
			return true;
		p += n + 1;
	}
	return false;
}

bool agent_policy_rule_matches(const char *rule, const char *command, const char *runas)
{
	const char *cmd;

	if (!runas_listed(rule, runas, &cmd))
		return false;
	return agent_policy_command_matches(cmd, command);
}

bool agent_policy_command_matches(const char *rule, const char *command)
{
	size_t n = strcspn(rule, " ");
	const char *glob, *args;

	if (!command || strncmp(rule, command, n) != 0 || (command[n] != '\0' && command[n] != ' '))
		return false;
	if (rule[n] == '\0')
		return true; /* the path alone: any arguments */
	glob = rule + n + 1;
	if (strcmp(glob, "\"\"") == 0)
		glob = "";
	args = command[n] == ' ' ? command + n + 1 : "";
	return fnmatch(glob, args, 0) == 0;
}

/* The outcome of a sudo command under the purpose's sudo_commands: deny
 * rules first, then approve, then allow, else dflt (the service's rule). An
 * unknown command matches no rule and is never allowed outright. */
static enum agent_rule command_outcome(const struct agent_cfg_purpose *p, const char *command,
				       const char *runas, enum agent_rule dflt, char *rule,
				       size_t rulelen, bool *named)
{
	static const enum agent_rule order[] = { AGENT_RULE_DENY, AGENT_RULE_APPROVE,
						 AGENT_RULE_ALLOW };

	if (!command) {
		enum agent_rule r = dflt == AGENT_RULE_ALLOW ? AGENT_RULE_APPROVE : dflt;

		snprintf(rule, rulelen, "purpose %s: sudo command unknown = %s", p->name,
			 rule_word(r));
		return r;
	}
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct agent_cfg_cmdlist *l = &p->sudo_cmds[order[i]];

		for (size_t k = 0; k < l->n; k++)
			if (agent_policy_rule_matches(l->rules[k], command, runas)) {
				snprintf(rule, rulelen, "purpose %s: sudo_commands %s \"%s\"",
					 p->name, rule_word(order[i]), l->rules[k]);
				*named = true;
				return order[i];
			}
	}
	snprintf(rule, rulelen, "purpose %s: no sudo_commands rule, sudo = %s", p->name,
		 rule_word(dflt));
	return dflt;
}

/* The highest sudo_commands.risk level whose rules match the command. */
static enum agent_risk command_risk(const struct agent_cfg_purpose *p, const char *command,
				    const char *runas)
{
	if (!command)
		return AGENT_RISK_LOW;
	for (int lv = AGENT_RISK_CRITICAL; lv > AGENT_RISK_LOW; lv--) {
		const struct agent_cfg_cmdlist *l = &p->sudo_risk[lv];

		for (size_t k = 0; k < l->n; k++)
			if (agent_policy_rule_matches(l->rules[k], command, runas))
				return (enum agent_risk)lv;
	}
	return AGENT_RISK_LOW;
}

/* Raises an allowed or approve outcome by the action's risk. */
static enum agent_rule risk_outcome(const struct agent_config *cfg, enum agent_rule r,
				    struct agent_service_decision *out)
{
	size_t n;

	if (r == AGENT_RULE_DENY)
		return r;
	if (r == AGENT_RULE_ALLOW && out->risk >= cfg->approve_risk) {
		n = strlen(out->rule);
		snprintf(out->rule + n, sizeof(out->rule) - n, "; risk %s >= approve_risk %s",
			 agent_risk_str(out->risk), agent_risk_str(cfg->approve_risk));
		r = AGENT_RULE_APPROVE;
	}
	if (r == AGENT_RULE_APPROVE)
		out->approvals = out->risk == AGENT_RISK_CRITICAL ? 2 : 1;
	return r;
}

/* A run-as user no rule names: root is what "sudo = allow" means; anyone
 * else is denied; an unknown one is never allowed outright. */
static enum agent_rule runas_outcome(const struct agent_cfg_purpose *p, const char *runas,
				     enum agent_rule r, char *rule, size_t rulelen)
{
	if (r == AGENT_RULE_DENY)
		return r;
	if (!runas) {
		if (r != AGENT_RULE_ALLOW)
			return r; /* already asks a human (or refuses): the rule said why */
		snprintf(rule, rulelen, "purpose %s: sudo run-as user unknown = approve", p->name);
		return AGENT_RULE_APPROVE;
	}
	if (strcmp(runas, "root") == 0)
		return r;
	snprintf(rule, rulelen, "purpose %s: sudo run-as %s unlisted = deny", p->name, runas);
	return AGENT_RULE_DENY;
}

void agent_policy_service(const struct agent_config *cfg, const struct agent_identity *id,
			  const char *service, const char *command, const struct agent_now *now,
			  struct agent_service_decision *out)
{
	agent_policy_sudo(cfg, id, service, command, "root", now, out);
}

void agent_policy_sudo(const struct agent_config *cfg, const struct agent_identity *id,
		       const char *service, const char *command, const char *runas,
		       const struct agent_now *now, struct agent_service_decision *out)
{
	bool named = false;

	const struct agent_cfg_purpose *p;
	const struct agent_cfg_service *rule = NULL;
	enum agent_rule outcome;

	memset(out, 0, sizeof(*out));
	if (!id) {
		svc_deny(out, ENOENT, "not an agent identity");
		return;
	}
	if (id->state != AGENT_STATE_LIVE) {
		svc_deny(out, EKEYEXPIRED, "%s is retired (%s)", id->name,
			 agent_retire_reason_str(id->retire_reason));
		return;
	}
	if (!agent_is_live(false, id->expires, id->expires_boot_ns, now)) {
		svc_deny(out, EKEYEXPIRED, "%s has expired", id->name);
		return;
	}
	p = agent_config_purpose(cfg, id->purpose);
	if (!p) {
		svc_deny(out, EACCES, "purpose %s is not in the policy", id->purpose);
		return;
	}
	rule = agent_config_service(p, service);
	if (!rule) {
		snprintf(out->rule, sizeof(out->rule), "purpose %s: %s unlisted = deny", p->name,
			 service ? service : "?");
		svc_deny(out, EACCES, "service %s is not allowed for purpose %s",
			 service ? service : "?", p->name);
		return;
	}
	outcome = rule->rule;
	snprintf(out->rule, sizeof(out->rule), "purpose %s: %s = %s", p->name, rule->name,
		 rule_word(rule->rule));
	out->risk = id->risk > rule->risk ? id->risk : rule->risk;
	if (is_sudo(service) && command_risk(p, command, runas) > out->risk)
		out->risk = command_risk(p, command, runas);
	if (outcome != AGENT_RULE_DENY && p->has_sudo_commands && is_sudo(service)) {
		outcome = command_outcome(p, command, runas, outcome, out->rule, sizeof(out->rule),
					  &named);
	}
	/* A rule that named the run-as user decided it; otherwise only root. */
	if (is_sudo(service) && !named)
		outcome = runas_outcome(p, runas, outcome, out->rule, sizeof(out->rule));
	outcome = risk_outcome(cfg, outcome, out);
	switch (outcome) {
	case AGENT_RULE_ALLOW:
		out->allowed = true;
		snprintf(out->reason, sizeof(out->reason), "service %s allowed for purpose %s",
			 rule->name, p->name);
		return;
	case AGENT_RULE_APPROVE:
		svc_deny(out, EACCES, "service %s needs step-up approval for purpose %s%s%s%s",
			 rule->name, p->name, out->risk > AGENT_RISK_LOW ? " (risk " : "",
			 out->risk > AGENT_RISK_LOW ? agent_risk_str(out->risk) : "",
			 out->risk > AGENT_RISK_LOW ? ")" : "");
		out->approve = true;
		return;
	default:
		if (rule->rule == AGENT_RULE_DENY)
			svc_deny(out, EACCES, "service %s is denied for purpose %s", rule->name,
				 p->name);
		else if (runas && strcmp(runas, "root") != 0 && !named)
			svc_deny(out, EACCES, "running commands as %s is denied for purpose %s",
				 runas, p->name);
		else
			svc_deny(out, EACCES, "command %s is denied for purpose %s",
				 command ? command : "(unknown)", p->name);
		return;
	}
}

bool agent_policy_may_approve(const struct agent_config *cfg, const struct agent_caller *caller,
			      const struct agent_identity *id, char *why, size_t whylen)
{
	if (caller->agent) {
		snprintf(why, whylen, "agent identities never approve");
		return false;
	}
	if (!caller->user[0]) {
		snprintf(why, whylen, "uid %u has no user name", (unsigned)caller->uid);
		return false;
	}
	if (strcmp(caller->user, id->name) == 0) {
		snprintf(why, whylen, "an identity never approves its own request");
		return false;
	}
	if (!who_in(cfg->approvers, cfg->napprovers, caller)) {
		snprintf(why, whylen, "%s is not an approver (approvers in agentd.conf)",
			 caller->user);
		return false;
	}
	if (!cfg->subject_may_approve && strcmp(caller->user, id->subject) == 0) {
		snprintf(why, whylen, "%s is the subject of %s and subject_may_approve is false",
			 caller->user, id->name);
		return false;
	}
	/* Everyone who delegated to the identity is on the subject's side. */
	if (!cfg->subject_may_approve && in_chain(id, caller->user)) {
		snprintf(why, whylen,
			 "%s is in the delegation chain of %s and subject_may_approve is false",
			 caller->user, id->name);
		return false;
	}
	snprintf(why, whylen, "%s is an approver", caller->user);
	return true;
}

bool agent_policy_may_approve_risk(const struct agent_config *cfg,
				   const struct agent_caller *caller,
				   const struct agent_identity *id, enum agent_risk risk,
				   const char (*prior)[AGENT_NAME_MAX + 1], unsigned nprior,
				   char *why, size_t whylen)
{
	if (!agent_policy_may_approve(cfg, caller, id, why, whylen))
		return false;
	for (unsigned i = 0; i < nprior; i++)
		if (strcmp(prior[i], caller->user) == 0) {
			snprintf(why, whylen,
				 "%s has approved this request already; it needs "
				 "another approver",
				 caller->user);
			return false;
		}
	if (risk < AGENT_RISK_CRITICAL)
		return true;
	if (strcmp(caller->user, id->subject) == 0 || in_chain(id, caller->user)) {
		snprintf(why, whylen,
			 "%s is in the delegation chain of %s and the action is "
			 "critical",
			 caller->user, id->name);
		return false;
	}
	return true;
}

bool agent_policy_who_matches(char (*who)[AGENT_NAME_MAX + 2], size_t n,
			      const struct agent_caller *caller)
{
	return who_in(who, n, caller);
}

bool agent_policy_actor(const struct agent_cfg_purpose *p, const char *claimed,
			const char *verified, const char *why, bool *is_verified, char *reason,
			size_t reasonlen)
{
	bool match = verified && verified[0] && (!claimed || strcmp(claimed, verified) == 0);

	*is_verified = match;
	if (!p || !p->require_verified_actor || match)
		return true;
	if (verified && verified[0])
		snprintf(reason, reasonlen,
			 "actor \"%s\" claimed, but the client is verified "
			 "actor %s (purpose %s requires a verified actor)",
			 claimed, verified, p->name);
	else
		snprintf(reason, reasonlen, "purpose %s requires a verified actor: %s", p->name,
			 why && why[0] ? why : "none matched");
	return false;
}

__attribute__((format(printf, 2, 3))) static void recheck_retire(struct agent_recheck_decision *out,
								 const char *fmt, ...)
{
	va_list ap;

	out->action = AGENT_RECHECK_RETIRE;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

void agent_policy_recheck(const struct agent_config *cfg, const struct agent_identity *id,
			  const struct agent_caller *creator, const char *parent_purpose,
			  int64_t now, struct agent_recheck_decision *out)
{
	const struct agent_cfg_purpose *p = agent_config_purpose(cfg, id->purpose);
	const struct agent_cfg_delegator *d = NULL;
	uint64_t max;
	char m[32];

	memset(out, 0, sizeof(*out));
	if (!p) {
		recheck_retire(out, "purpose %s is no longer in the policy", id->purpose);
		return;
	}
	if (id->depth > p->max_depth) {
		recheck_retire(out, "depth %u now exceeds max_depth %u of purpose %s", id->depth,
			       p->max_depth, p->name);
		return;
	}
	max = min_nonzero(cfg->max_ttl, p->max_ttl);
	if (id->parent[0]) {
		const struct agent_cfg_purpose *pp =
			parent_purpose ? agent_config_purpose(cfg, parent_purpose) : NULL;

		if (!pp || !agent_config_may_delegate(pp, id->purpose)) {
			recheck_retire(out, "purpose %s may no longer delegate purpose %s",
				       parent_purpose ? parent_purpose : "?", id->purpose);
			return;
		}
	} else if (!creator || !creator->user[0]) {
		recheck_retire(out, "its creator (uid %u) no longer has a user name",
			       (unsigned)id->creator_uid);
		return;
	} else if (creator->uid != 0) {
		for (size_t i = 0; i < cfg->ndelegators && !d; i++)
			if (who_matches(&cfg->delegators[i], creator) &&
			    purpose_listed(&cfg->delegators[i], id->purpose))
				d = &cfg->delegators[i];
		if (!d) {
			recheck_retire(out, "no delegator rule lets %s create purpose %s any more",
				       creator->user, id->purpose);
			return;
		}
		if (strcmp(id->subject, creator->user) != 0 && !d->may_act_for) {
			recheck_retire(out,
				       "the delegator rule at line %d no longer lets %s act "
				       "for %s",
				       d->line, creator->user, id->subject);
			return;
		}
		max = min_nonzero(max, d->max_ttl);
	}
	if (id->expires - id->created > (int64_t)max) {
		agent_duration_format(max, m, sizeof(m));
		if (id->created + (int64_t)max <= now) {
			recheck_retire(out, "max_ttl is now %s, which it has outlived", m);
			return;
		}
		out->action = AGENT_RECHECK_SHORTEN;
		out->expires = id->created + (int64_t)max;
		snprintf(out->reason, sizeof(out->reason), "max_ttl is now %s", m);
	}
}

void agent_policy_sudo_budget(const struct agent_config *cfg, const struct agent_identity *id,
			      const char *service, bool counted, struct agent_service_decision *out)
{
	const struct agent_cfg_purpose *p;
	size_t n;

	if (!id || !is_sudo(service) || counted || (!out->allowed && !out->approve))
		return;
	p = agent_config_purpose(cfg, id->purpose);
	if (!p || !p->max_sudo || id->sudo_used < p->max_sudo)
		return;
	out->over_budget = true;
	n = strlen(out->rule);
	snprintf(out->rule + n, sizeof(out->rule) - n, "; max_sudo %u used = %s", p->max_sudo,
		 p->over_budget == AGENT_RULE_APPROVE ? "approve" : "deny");
	if (p->over_budget == AGENT_RULE_APPROVE) {
		if (!out->approve) {
			out->approve = true;
			out->approvals = out->risk == AGENT_RISK_CRITICAL ? 2 : 1;
		}
		svc_deny(out, EACCES,
			 "over budget: %u of max_sudo %u sudo actions used; needs "
			 "step-up approval",
			 id->sudo_used, p->max_sudo);
		return;
	}
	out->approve = false;
	svc_deny(out, EACCES, "over budget: %u of max_sudo %u sudo actions used for purpose %s",
		 id->sudo_used, p->max_sudo, p->name);
}
