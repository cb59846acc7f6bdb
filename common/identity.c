/* Names of identity states and retirement reasons, as they appear on the
 * wire, in JSON and in audit records. */
#include <errno.h>
#include <string.h>

#include "common/identity.h"

static const char *const reasons[] = {
	[AGENT_RETIRE_NONE] = "",
	[AGENT_RETIRE_EXPIRED] = "expired",
	[AGENT_RETIRE_REVOKED] = "revoked",
	[AGENT_RETIRE_PARENT] = "parent-retired",
	[AGENT_RETIRE_TASK_ENDED] = "task-ended",
	[AGENT_RETIRE_ORPHANED] = "orphaned",
	[AGENT_RETIRE_POLICY] = "policy",
};

static const char *const risks[] = {
	[AGENT_RISK_LOW] = "low",
	[AGENT_RISK_MEDIUM] = "medium",
	[AGENT_RISK_HIGH] = "high",
	[AGENT_RISK_CRITICAL] = "critical",
};

const char *agent_risk_str(enum agent_risk r)
{
	if ((unsigned)r < sizeof(risks) / sizeof(risks[0]))
		return risks[r];
	return "unknown";
}

int agent_risk_parse(const char *s, enum agent_risk *out)
{
	if (!s)
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(risks) / sizeof(risks[0]); i++)
		if (strcmp(s, risks[i]) == 0) {
			*out = (enum agent_risk)i;
			return 0;
		}
	return -EINVAL;
}

const char *agent_retire_reason_str(enum agent_retire_reason r)
{
	if ((unsigned)r < sizeof(reasons) / sizeof(reasons[0]))
		return reasons[r];
	return "unknown";
}

int agent_retire_reason_parse(const char *s, enum agent_retire_reason *out)
{
	if (!s)
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(s, reasons[i]) == 0) {
			*out = (enum agent_retire_reason)i;
			return 0;
		}
	return -EINVAL;
}

const char *agent_state_str(enum agent_state s)
{
	switch (s) {
	case AGENT_STATE_LIVE:
		return "live";
	case AGENT_STATE_RETIRED:
		return "retired";
	}
	return "unknown";
}
