/* Audit records to syslog. See agentd-audit(5) for the format. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "agentd/audit.h"
#include "common/text.h"

void agent_audit_open(struct agent_audit *a, int to_stderr)
{
	a->seq = 0;
	a->to_stderr = to_stderr;
	openlog("agentd", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
}

void agent_audit_close(struct agent_audit *a)
{
	(void)a;
	closelog();
}

void agent_audit_begin(struct agent_audit *a, struct agent_kv *kv, char *buf, size_t cap,
		       const char *event)
{
	agent_kv_init(kv, buf, cap);
	agent_kv_u64(kv, "v", 1);
	agent_kv_u64(kv, "seq", a->seq + 1);
	agent_kv_str(kv, "event", event);
}

void agent_audit_identity(struct agent_kv *kv, const struct agent_identity *id)
{
	char chain[AGENT_CHAIN_MAX * (AGENT_NAME_MAX + 1) + 1];
	size_t off = 0;
	char when[32];

	chain[0] = '\0';
	for (unsigned i = 0; i < id->chain_len && i < AGENT_CHAIN_MAX; i++) {
		int n = snprintf(chain + off, sizeof(chain) - off, "%s%s", i ? ">" : "",
				 id->chain[i]);
		if (n < 0 || (size_t)n >= sizeof(chain) - off)
			break;
		off += (size_t)n;
	}
	agent_kv_str(kv, "identity", id->name);
	agent_kv_u64(kv, "uid", id->uid);
	agent_kv_str(kv, "subject", id->subject);
	agent_kv_str(kv, "chain", chain);
	if (id->actor[0])
		agent_kv_str(kv, "actor", id->actor);
	agent_kv_str(kv, "purpose", id->purpose);
	if (agent_time_format(id->expires, when, sizeof(when)) == 0)
		agent_kv_str(kv, "expires", when);
}

void agent_audit_emit(struct agent_audit *a, struct agent_kv *kv, int priority)
{
	a->seq++;
	syslog(LOG_AUTHPRIV | priority, "%s", kv->buf);
	if (a->to_stderr)
		fprintf(stderr, "%s\n", kv->buf);
}
