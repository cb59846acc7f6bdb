/* Audit records: one syslog record per decision, facility AUTHPRIV, ident
 * "agentd", in the key=value format of common/kv.h, documented in
 * agentd-audit(5). Every record starts with v=1 seq=N event=EVENT. */
#pragma once
#include <stdint.h>
#include "common/identity.h"
#include "common/kv.h"

#define AGENT_AUDIT_LINE_MAX 2048 /* below rsyslog's default 8 KiB message size */

struct agent_audit {
	uint64_t seq;
	int to_stderr; /* also print records on stderr (foreground mode) */
};

void agent_audit_open(struct agent_audit *a, int to_stderr);
void agent_audit_close(struct agent_audit *a);

/* Starts a record: kv is initialised on buf with v, seq and event. */
void agent_audit_begin(struct agent_audit *a, struct agent_kv *kv, char *buf, size_t cap,
		       const char *event);
/* Adds the identity's who-acted-for-whom fields: identity uid subject chain
 * actor purpose (chain as "alice>orchestrator>agent-x"). */
void agent_audit_identity(struct agent_kv *kv, const struct agent_identity *id);
/* Emits the record (LOG_AUTHPRIV | LOG_NOTICE, or LOG_WARNING for a
 * refusal) and bumps seq. */
void agent_audit_emit(struct agent_audit *a, struct agent_kv *kv, int priority);
