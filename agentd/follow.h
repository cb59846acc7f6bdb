/* Policy that follows live identities: after a reload and every
 * policy_check_interval, each live identity is re-decided under the policy
 * in force (agent_policy_recheck): retired (reason policy) or shortened. */
#pragma once
#include <stdbool.h>

struct agentd;

/* Re-checks every live identity; trigger ("reload", "interval") goes into
 * the records. Each change is one audit record (retire, policy-shorten).
 * rebuild: re-publish the snapshot when a deadline moved (false when the
 * caller rebuilds it anyway, as a reload does). */
void agentd_follow_policy(struct agentd *d, const char *trigger, bool rebuild);
/* Creates and watches the periodic timer (d->follow), armed for
 * policy_check_interval. 0 or -errno. */
int agentd_follow_init(struct agentd *d);
/* Re-arms it for the configuration in force (after a reload). */
void agentd_follow_arm(struct agentd *d);
/* The periodic timer fired. */
void agentd_follow_tick(struct agentd *d);
