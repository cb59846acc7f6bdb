/* Who is asking: the caller of a request, from SO_PEERCRED only.
 *
 * Its name and groups are resolved from that uid (NSS); a uid in the agent
 * range is an agent identity only while the store has it live and the
 * liveness rule agrees. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "agentd/policy.h"
#include "common/identity.h"

struct agentd;

struct caller_ctx {
	struct agent_caller c;
	struct agent_identity agent; /* valid when c.agent != NULL */
	bool retired_agent;          /* uid in range but not a live identity */
};

/* Resolves the caller's name and groups (NSS) and its agent identity. */
void agentd_caller_resolve(struct agentd *d, const struct ucred *cred, struct caller_ctx *cc);
/* Forgets the names and groups resolved in the last second (reload). */
void agentd_caller_forget(void);
/* The caller's name, or "uid:N". */
const char *agentd_caller_label(const struct caller_ctx *cc, char *buf, size_t len);
