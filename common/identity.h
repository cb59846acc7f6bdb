/* The identity record, as agentd keeps it in its store and hands it to the
 * snapshot writer, the audit log and the wire codec. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "common/limits.h"

enum agent_state {
	AGENT_STATE_LIVE = 1,
	AGENT_STATE_RETIRED = 2,
};

enum agent_retire_reason {
	AGENT_RETIRE_NONE = 0,
	AGENT_RETIRE_EXPIRED = 1,
	AGENT_RETIRE_REVOKED = 2,
	AGENT_RETIRE_PARENT = 3,     /* its parent identity retired */
	AGENT_RETIRE_TASK_ENDED = 4, /* the command of `agentctl run` exited */
	AGENT_RETIRE_ORPHANED = 5,   /* found live with no valid record at start */
	AGENT_RETIRE_POLICY = 6,     /* the current policy no longer allows it */
};

/* How much harm an identity or an action can do; ordered, so that the
 * policy compares them (agentd.conf(5): risk, approve_risk). */
enum agent_risk {
	AGENT_RISK_LOW = 0,
	AGENT_RISK_MEDIUM = 1,
	AGENT_RISK_HIGH = 2,
	AGENT_RISK_CRITICAL = 3,
};
#define AGENT_RISK_TEXT_MAX 8 /* "critical" */

/* Chain: the principals that delegated, first delegator first and the direct
 * creator last. A top-level identity created by alice has chain {alice} and
 * subject alice; created by orchestrator --for alice it has chain
 * {alice, orchestrator}; a child of agent-x inherits agent-x's chain and
 * appends agent-x. depth = number of agent identities from the top-level one
 * down to this one (a top-level identity has depth 1). */
struct agent_identity {
	char name[AGENT_NAME_MAX + 1];
	uint32_t uid; /* the private group has gid == uid */
	char purpose[AGENT_PURPOSE_MAX + 1];
	char subject[AGENT_NAME_MAX + 1];
	char chain[AGENT_CHAIN_MAX][AGENT_NAME_MAX + 1];
	unsigned chain_len;
	char parent[AGENT_NAME_MAX + 1]; /* parent identity, "" if top-level */
	unsigned depth;
	uint32_t creator_uid; /* SO_PEERCRED uid of the creating caller */
	char actor[AGENT_ACTOR_MAX + 1];
	char task[AGENT_TASK_MAX + 1];
	int64_t created;         /* unix seconds */
	int64_t expires;         /* unix seconds (wall clock deadline) */
	int64_t expires_boot_ns; /* CLOCK_BOOTTIME deadline for this boot */
	enum agent_state state;
	enum agent_retire_reason retire_reason;
	int64_t retired_at; /* unix seconds, 0 while live */
	char retire_text[AGENT_REASON_MAX + 1];
	int64_t reaped_at; /* unix seconds when no process was left, 0 = not yet */
	uint32_t killed;   /* processes killed at retirement */
	uint8_t token_hash[AGENT_TOKEN_HASH_BYTES];
	/* Runtime authorization (agentd/policy.c, agentd/actor.c, agentd/budget.c) */
	enum agent_risk risk; /* at least its purpose's; a create may raise it */
	bool actor_verified;  /* the creating program matched a verified_actors entry */
	char actor_name[AGENT_NAME_MAX + 1]; /* that entry's name, "" if none */
	uint32_t sudo_used;                  /* sudo actions allowed so far (max_sudo) */
};

/* "expired", "revoked", ... ; "" for AGENT_RETIRE_NONE; "unknown" otherwise */
const char *agent_retire_reason_str(enum agent_retire_reason r);
/* Returns 0 and sets *out, or -EINVAL. */
int agent_retire_reason_parse(const char *s, enum agent_retire_reason *out);
const char *agent_state_str(enum agent_state s);
/* "low", "medium", "high", "critical"; "unknown" otherwise */
const char *agent_risk_str(enum agent_risk r);
/* Returns 0 and sets *out, or -EINVAL. */
int agent_risk_parse(const char *s, enum agent_risk *out);
