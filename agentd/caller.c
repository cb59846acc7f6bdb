/* Who is asking (agentd/caller.h): resolves a request's caller from its
 * SO_PEERCRED uid. Nothing a client sends can change the result. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agentd/caller.h"
#include "agentd/daemon.h"
#include "agentd/deferred.h"
#include "common/liveness.h"
#include "common/text.h"

/* Resolves the caller's name and groups (NSS) and its agent identity. */
void agentd_caller_resolve(struct agentd *d, const struct ucred *cred, struct caller_ctx *cc)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	gid_t gids[AGENT_GROUPS_MAX * 2];
	int ngids = (int)(sizeof(gids) / sizeof(gids[0]));

	memset(cc, 0, sizeof(*cc));
	cc->c.uid = cred->uid;
	if (cred->uid >= d->cfg->uid_min && cred->uid <= d->cfg->uid_max) {
		if (agent_store_get_live_uid(d->store, cred->uid, &cc->agent) == 0 &&
		    !agentd_deferred_overlay(d, &cc->agent)) {
			struct agent_now now;

			agent_now(&now);
			if (agent_is_live(false, cc->agent.expires, cc->agent.expires_boot_ns,
					  &now)) {
				cc->c.agent = &cc->agent;
				snprintf(cc->c.user, sizeof(cc->c.user), "%s", cc->agent.name);
				return;
			}
		}
		cc->retired_agent = true;
		return;
	}
	if (getpwuid_r(cred->uid, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
		return;
	if (!agent_valid_username(pw.pw_name))
		return;
	snprintf(cc->c.user, sizeof(cc->c.user), "%s", pw.pw_name);
	if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &ngids) < 0)
		ngids = (int)(sizeof(gids) / sizeof(gids[0])); /* truncated list */
	for (int i = 0; i < ngids && cc->c.ngroups < sizeof(cc->c.groups) / sizeof(cc->c.groups[0]);
	     i++) {
		struct group gr, *grp = NULL;
		char gbuf[4096];

		if (getgrgid_r(gids[i], &gr, gbuf, sizeof(gbuf), &grp) == 0 && grp &&
		    strlen(grp->gr_name) <= AGENT_NAME_MAX)
			snprintf(cc->c.groups[cc->c.ngroups++], AGENT_NAME_MAX + 1, "%s",
				 grp->gr_name);
	}
}

const char *agentd_caller_label(const struct caller_ctx *cc, char *buf, size_t len)
{
	if (cc->c.user[0])
		return cc->c.user;
	snprintf(buf, len, "uid:%u", (unsigned)cc->c.uid);
	return buf;
}
