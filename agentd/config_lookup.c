/* Lookups in a loaded configuration (see agentd/config.h). */
#include <string.h>

#include "agentd/config.h"

const struct agent_cfg_purpose *agent_config_purpose(const struct agent_config *cfg,
						     const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (size_t i = 0; i < cfg->npurposes; i++)
		if (strcmp(cfg->purposes[i].name, name) == 0)
			return &cfg->purposes[i];
	return NULL;
}

const struct agent_cfg_service *agent_config_service(const struct agent_cfg_purpose *p,
						     const char *service)
{
	if (!p || !service)
		return NULL;
	for (size_t i = 0; i < p->nservices; i++)
		if (strcmp(p->services[i].name, service) == 0)
			return &p->services[i];
	return NULL;
}

enum agent_rule agent_config_service_rule(const struct agent_cfg_purpose *p, const char *service)
{
	const struct agent_cfg_service *s = agent_config_service(p, service);

	return s ? s->rule : AGENT_RULE_DENY;
}

bool agent_config_may_delegate(const struct agent_cfg_purpose *p, const char *child_purpose)
{
	if (!p || !child_purpose)
		return false;
	for (size_t i = 0; i < p->ndelegate; i++)
		if (strcmp(p->delegate[i], child_purpose) == 0)
			return true;
	return false;
}
