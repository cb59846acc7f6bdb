/* Policy that follows live identities (see agentd/follow.h).
 *
 * Invariants:
 * - only the policy in force decides (agent_policy_recheck, pure); this
 *   file gathers its inputs (the creator resolved now, the parent's
 *   purpose) and applies the outcome;
 * - a deadline only ever moves earlier, in the store first, then the live
 *   table and the snapshot, then the record;
 * - a retirement goes through agentd_retire (kill first, record after);
 * - a session whose service is now denied is ended by SIGTERM through its
 *   pidfd (never a pid that may have been recycled). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agentd/caller.h"
#include "agentd/daemon.h"
#include "agentd/follow.h"
#include "agentd/livetable.h"
#include "agentd/policy.h"
#include "agentd/publish.h"
#include "agentd/retire.h"
#include "agentd/session.h"
#include "common/kv.h"
#include "common/liveness.h"
#include "common/text.h"

struct change {
	struct agent_identity id;
	struct agent_recheck_decision dec;
};

struct collect {
	struct agentd *d;
	struct change *v;
	size_t n, cap;
	int64_t now;
};

static int recheck_cb(const struct agent_identity *id, void *arg)
{
	struct collect *c = arg;
	struct agent_recheck_decision dec;
	struct agent_identity parent;
	struct caller_ctx cc;
	const char *pp = NULL;

	memset(&cc, 0, sizeof(cc));
	if (id->parent[0]) {
		if (agent_store_get(c->d->store, id->parent, &parent) == 0)
			pp = parent.purpose;
	} else {
		struct ucred cr = { .pid = 0, .uid = id->creator_uid, .gid = (gid_t)-1 };

		agentd_caller_resolve(c->d, &cr, &cc);
		if (cc.c.uid == 0 && !cc.c.user[0])
			snprintf(cc.c.user, sizeof(cc.c.user), "root");
	}
	agent_policy_recheck(c->d->cfg, id, id->parent[0] ? NULL : &cc.c, pp, c->now, &dec);
	if (dec.action == AGENT_RECHECK_KEEP)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		void *q = realloc(c->v, cap * sizeof(*c->v));

		if (!q)
			return -ENOMEM;
		c->v = q;
		c->cap = cap;
	}
	c->v[c->n].id = *id;
	c->v[c->n].dec = dec;
	c->n++;
	return 0;
}

static void audit_shorten(struct agentd *d, const struct agent_identity *id, int64_t old,
			  const char *reason, const char *trigger)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX], when[32];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "policy-shorten");
	agent_audit_identity(&kv, id);
	if (agent_time_format(old, when, sizeof(when)) == 0)
		agent_kv_str(&kv, "was", when);
	agent_kv_str(&kv, "trigger", trigger);
	agent_kv_str(&kv, "reason", reason);
	agent_audit_emit(&d->audit, &kv, LOG_NOTICE);
}

/* Sessions of live identities whose service the policy now denies: the
 * session's process gets SIGTERM (through its pidfd), one record each.
 * A service that now needs approval keeps the sessions it already has. */
static void end_denied_sessions(struct agentd *d, const char *trigger)
{
	struct agent_service_decision dec;
	struct agent_identity id;
	struct agentd_session *s;
	struct agent_now now;
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX], sid[24];

	agent_now(&now);
	LIST_FOREACH(s, &d->sessions, link)
	{
		if (agent_store_get(d->store, s->name, &id) < 0 || id.state != AGENT_STATE_LIVE)
			continue;
		agent_policy_service(d->cfg, &id, s->service, NULL, &now, &dec);
		if (dec.allowed || dec.approve)
			continue;
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGTERM, NULL, 0);
		snprintf(sid, sizeof(sid), "%016llx", (unsigned long long)s->id);
		agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "policy-session-end");
		agent_audit_identity(&kv, &id);
		agent_kv_str(&kv, "service", s->service);
		agent_kv_u64(&kv, "pid", (uint64_t)s->pid);
		agent_kv_str(&kv, "session", sid);
		if (dec.rule[0])
			agent_kv_str(&kv, "rule", dec.rule);
		agent_kv_str(&kv, "trigger", trigger);
		agent_kv_str(&kv, "reason", dec.reason);
		agent_audit_emit(&d->audit, &kv, LOG_NOTICE);
	}
}

void agentd_follow_policy(struct agentd *d, const char *trigger, bool rebuild)
{
	struct collect c = { .d = d, .now = time(NULL) };
	struct agent_snap_writer *oldsnap = d->snap;
	struct agent_now now;
	bool shortened = false;
	char text[AGENT_REASON_MAX + 1];
	int r;

	if (agent_store_foreach(d->store, AGENT_STORE_LIVE, recheck_cb, &c) < 0)
		agent_audit_log(&d->audit, LOG_ERR, "policy check (%s): cannot read the store",
				trigger);
	agent_now(&now);
	for (size_t i = 0; i < c.n; i++) {
		struct change *ch = &c.v[i];
		int64_t old = ch->id.expires;

		if (ch->dec.action == AGENT_RECHECK_RETIRE) {
			snprintf(text, sizeof(text), "%s (%s)", ch->dec.reason, trigger);
			agentd_retire(d, ch->id.name, AGENT_RETIRE_POLICY, text, NULL);
			continue;
		}
		ch->id.expires = ch->dec.expires;
		ch->id.expires_boot_ns = agent_boot_deadline(ch->id.expires, &now);
		r = agent_store_set_expires(d->store, ch->id.name, ch->id.expires,
					    ch->id.expires_boot_ns);
		if (r < 0) {
			agent_audit_log(&d->audit, LOG_ERR, "cannot shorten %s: %s", ch->id.name,
					strerror(-r));
			continue;
		}
		agentd_live_add(d, &ch->id);
		shortened = true;
		audit_shorten(d, &ch->id, old, ch->dec.reason, trigger);
	}
	free(c.v);
	end_denied_sessions(d, trigger);
	if (!shortened)
		return;
	agentd_live_rearm(d);
	if (!rebuild)
		return;
	if ((r = agentd_snapshot_rebuild(d)) < 0) {
		agentd_snap_failed(d, r);
		if (d->snap != oldsnap)
			agent_snap_writer_free(d->snap);
		d->snap = oldsnap;
	} else if (oldsnap != d->snap) {
		agent_snap_writer_free(oldsnap);
	}
}

void agentd_follow_arm(struct agentd *d)
{
	struct itimerspec t = { 0 };

	if (d->follow.fd < 0)
		return;
	t.it_value.tv_sec = (time_t)d->cfg->policy_check_interval;
	t.it_interval.tv_sec = (time_t)d->cfg->policy_check_interval;
	timerfd_settime(d->follow.fd, 0, &t, NULL);
}

int agentd_follow_init(struct agentd *d)
{
	d->follow.kind = W_TIMER_POLICY;
	d->follow.fd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->follow.fd < 0 || agentd_watch(d, d->follow.fd, EPOLLIN, &d->follow.kind) < 0)
		return -errno;
	agentd_follow_arm(d);
	return 0;
}

void agentd_follow_tick(struct agentd *d)
{
	uint64_t ticks;

	if (read(d->follow.fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		agent_audit_log(&d->audit, LOG_ERR, "timerfd: %m");
	agentd_follow_policy(d, "interval", true);
}
