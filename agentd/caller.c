/* Who is asking (agentd/caller.h): resolves a request's caller from its
 * SO_PEERCRED uid. Nothing a client sends can change the result. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentd/caller.h"
#include "agentd/daemon.h"
#include "agentd/deferred.h"
#include "common/clock.h"
#include "common/liveness.h"
#include "common/text.h"

/* A caller's name and groups, as NSS gave them, for CACHE_MS: a client
 * sending many requests (or many clients of one user) costs one passwd and
 * group lookup per second, not three per request. A change to a user's
 * groups is seen within CACHE_MS. */
#define CACHE_MS 1000
#define CACHE_N 16

static struct {
	uid_t uid;
	int64_t at; /* CLOCK_MONOTONIC ms; 0 = empty */
	struct agent_caller c;
} cache[CACHE_N];
static unsigned cache_next;

static void resolve_nss(uid_t uid, struct agent_caller *c)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	gid_t gids[AGENT_GROUPS_MAX * 2];
	int ngids = (int)(sizeof(gids) / sizeof(gids[0]));

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
		return;
	if (!agent_valid_username(pw.pw_name))
		return;
	snprintf(c->user, sizeof(c->user), "%s", pw.pw_name);
	if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &ngids) < 0)
		ngids = (int)(sizeof(gids) / sizeof(gids[0])); /* truncated list */
	for (int i = 0; i < ngids && c->ngroups < sizeof(c->groups) / sizeof(c->groups[0]); i++) {
		struct group gr, *grp = NULL;
		char gbuf[4096];

		if (getgrgid_r(gids[i], &gr, gbuf, sizeof(gbuf), &grp) == 0 && grp &&
		    strlen(grp->gr_name) <= AGENT_NAME_MAX)
			snprintf(c->groups[c->ngroups++], AGENT_NAME_MAX + 1, "%s", grp->gr_name);
	}
}

void agentd_caller_forget(void)
{
	memset(cache, 0, sizeof(cache));
}

/* Resolves the caller's name and groups (NSS) and its agent identity. */
void agentd_caller_resolve(struct agentd *d, const struct ucred *cred, struct caller_ctx *cc)
{
	int64_t t;

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
	t = agent_mono_ms() + 1; /* never 0: 0 marks an empty entry */
	for (unsigned i = 0; i < CACHE_N; i++)
		if (cache[i].at && cache[i].uid == cred->uid && t - cache[i].at < CACHE_MS) {
			cc->c = cache[i].c;
			cc->c.uid = cred->uid;
			cc->c.agent = NULL;
			return;
		}
	resolve_nss(cred->uid, &cc->c);
	if (!cc->c.user[0])
		return; /* not cached: an unknown uid is asked again */
	cache[cache_next].uid = cred->uid;
	cache[cache_next].at = t;
	cache[cache_next].c = cc->c;
	cache_next = (cache_next + 1) % CACHE_N;
}

const char *agentd_caller_label(const struct caller_ctx *cc, char *buf, size_t len)
{
	if (cc->c.user[0])
		return cc->c.user;
	snprintf(buf, len, "uid:%u", (unsigned)cc->c.uid);
	return buf;
}
