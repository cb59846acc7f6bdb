/* Budgets (agentd.conf(5): max_sudo, max_delegations, creates_per_minute):
 * the counts the policy decides on, taken from the store, and the record
 * of a refusal. The decisions themselves are in agentd/policy.c. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include "agentd/policy.h"

struct agentd;
struct caller_ctx;

/* Fills req's budget counts for a create by cc: the parent's sub-identities
 * ever (for an agent caller), the caller's creates in the last 60 s. */
void agentd_budget_create_counts(struct agentd *d, const struct caller_ctx *cc,
				 struct agent_create_req *req);

/* Was this sudo (identity name, PAM application pid) counted already by an
 * earlier stage of the same transaction? */
bool agentd_budget_sudo_counted(const char *name, pid_t pid);
/* Counts one sudo action of name (durably), once per transaction. */
void agentd_budget_sudo_count(struct agentd *d, const char *name, pid_t pid);

/* The over-budget record: who (the identity, or the caller's label),
 * budget ("max_sudo", ...), why. */
void agentd_budget_audit(struct agentd *d, const struct agent_identity *id, const char *who,
			 const char *purpose, const char *budget, const char *why);
