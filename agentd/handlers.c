/* The privileged surface: one table of request types, each with its handler.
 *
 * The caller is who SO_PEERCRED says, nothing else (caller.c resolves its
 * name and groups from that uid; a uid in the agent range is an agent
 * identity only while the store has it live). Policy (agentd/policy.c)
 * decides what a caller may do; handlers gather inputs, apply limits and
 * record. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agentd/approval.h"
#include "agentd/caller.h"
#include "agentd/conn.h"
#include "agentd/create.h"
#include "agentd/daemon.h"
#include "agentd/livetable.h"
#include "agentd/handlers.h"
#include "agentd/handlers_pam.h"
#include "agentd/homes.h"
#include "agentd/policy.h"
#include "agentd/publish.h"
#include "agentd/reaper.h"
#include "agentd/retire.h"
#include "agentd/deferred.h"
#include "agentd/run.h"
#include "agentd/uidalloc.h"
#include "common/kv.h"
#include "common/liveness.h"
#include "common/text.h"

struct list_ctx {
	struct agentd *d;
	struct agentd_conn *c;
	const struct caller_ctx *cc;
	bool all;
};

static int list_cb(const struct agent_identity *id, void *arg)
{
	struct list_ctx *l = arg;
	struct agent_identity v = *id;
	struct agent_wbuf w;

	/* A retirement not yet recorded shows as retired (deferred.h). */
	if (agentd_deferred_overlay(l->d, &v) && !l->all)
		return 0;
	if (!agent_policy_may_see(&l->cc->c, &v))
		return 0;
	agent_wire_begin(&w, AGENT_MSG_IDENTITY);
	agent_wire_put_identity(&w, &v);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(l->d, l->c, &w);
	return 0;
}

static void h_list(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	struct caller_ctx cc;
	struct list_ctx l = { d, c, &cc, agent_msg_flag(m, AGENT_A_ALL) };
	struct agent_wbuf w;
	int r;

	agentd_caller_resolve(d, &c->cred, &cc);
	r = agent_store_foreach(d->store,
				agent_msg_flag(m, AGENT_A_ALL) ? AGENT_STORE_ALL : AGENT_STORE_LIVE,
				list_cb, &l);
	if (r < 0) {
		agentd_reply_error(d, c, EIO, "cannot read the store");
		return;
	}
	agent_wire_begin(&w, AGENT_MSG_END);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

static void h_show(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	const char *name = agent_msg_str(m, AGENT_A_NAME);
	struct agent_identity id;
	struct caller_ctx cc;
	struct agent_wbuf w;

	if (!agent_valid_username(name)) {
		agentd_reply_error(d, c, EINVAL, "invalid identity name");
		return;
	}
	agentd_caller_resolve(d, &c->cred, &cc);
	/* Unknown and not visible look the same to the caller. */
	if (agent_store_get(d->store, name, &id) < 0 || !agent_policy_may_see(&cc.c, &id)) {
		agentd_reply_error(d, c, ENOENT, "no identity named %s", name);
		return;
	}
	agentd_deferred_overlay(d, &id);
	agent_wire_begin(&w, AGENT_MSG_IDENTITY);
	agent_wire_put_identity(&w, &id);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

/* May the caller revoke name? 0, or the error reply already sent. */
static int revoke_check(struct agentd *d, struct agentd_conn *c, struct caller_ctx *cc,
			const char *name)
{
	struct agent_identity id;
	char lbl[32];

	if (agent_store_get(d->store, name, &id) < 0 || !agent_policy_may_see(&cc->c, &id)) {
		agentd_reply_error(d, c, ENOENT, "no identity named %s", name);
		return -ENOENT;
	}
	if (!agent_policy_may_revoke(&cc->c, &id)) {
		struct agent_kv kv;
		char buf[AGENT_AUDIT_LINE_MAX];

		agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "revoke");
		agent_kv_str(&kv, "decision", "deny");
		agent_audit_identity(&kv, &id);
		agent_kv_str(&kv, "caller", agentd_caller_label(cc, lbl, sizeof(lbl)));
		agent_kv_u64(&kv, "caller_uid", cc->c.uid);
		agent_audit_emit(&d->audit, &kv, LOG_WARNING);
		agentd_reply_error(d, c, EPERM, "not allowed to revoke %s", name);
		return -EPERM;
	}
	if (agentd_deferred_overlay(d, &id) || id.state != AGENT_STATE_LIVE) {
		agentd_reply_error(d, c, EALREADY, "%s is already retired", name);
		return -EALREADY;
	}
	return 0;
}

/* REVOKE names one identity or up to AGENT_REVOKE_NAMES_MAX: all are
 * checked first, and any that may not be revoked (unknown, not the
 * caller's, retired already, named twice) refuses the whole request with
 * nothing changed; the rest are retired together (one publication, one
 * transaction). */
static void h_revoke(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	static char names[AGENT_REVOKE_NAMES_MAX][AGENT_NAME_MAX + 1];
	const char *given[AGENT_REVOKE_NAMES_MAX];
	const char *reason = agent_msg_str(m, AGENT_A_REASON);
	unsigned n = agent_msg_strs(m, AGENT_A_NAME, given, AGENT_REVOKE_NAMES_MAX);
	struct caller_ctx cc;
	struct agent_wbuf w;
	char lbl[32];
	int r;

	if (n == 0 || n > AGENT_REVOKE_NAMES_MAX ||
	    (reason && !agent_valid_text(reason, AGENT_REASON_MAX))) {
		agentd_reply_error(d, c, EINVAL, "invalid revoke request");
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!agent_valid_username(given[i])) {
			agentd_reply_error(d, c, EINVAL, "invalid revoke request");
			return;
		}
		for (unsigned k = 0; k < i; k++)
			if (strcmp(given[k], given[i]) == 0) {
				agentd_reply_error(d, c, EINVAL, "%s is named twice", given[i]);
				return;
			}
	}
	agentd_caller_resolve(d, &c->cred, &cc);
	if (cc.c.uid == 0 && !cc.c.user[0])
		snprintf(cc.c.user, sizeof(cc.c.user), "root");
	for (unsigned i = 0; i < n; i++) {
		if (revoke_check(d, c, &cc, given[i]) < 0)
			return;
		snprintf(names[i], sizeof(names[i]), "%s", given[i]);
	}
	if (n == 1)
		r = agentd_retire(d, names[0], AGENT_RETIRE_REVOKED, reason,
				  agentd_caller_label(&cc, lbl, sizeof(lbl)));
	else
		r = agentd_retire_many(d, (const char(*)[AGENT_NAME_MAX + 1]) names, n,
				       AGENT_RETIRE_REVOKED, reason,
				       agentd_caller_label(&cc, lbl, sizeof(lbl)));
	if (r == -EALREADY) {
		agentd_reply_error(d, c, EALREADY, "%s is already retired", names[0]);
		return;
	}
	if (r < 0) {
		agentd_reply_error(d, c, EIO, "cannot revoke %s: %s", n == 1 ? names[0] : "them",
				   strerror(-r));
		return;
	}
	agent_wire_begin(&w, AGENT_MSG_OK);
	agent_wire_str(&w, AGENT_A_MESSAGE,
		       n == 1 ? "revoked; its processes are being killed"
			      : "revoked; their processes are being killed");
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

/* The first n uids of v as "UID UID ...", as attribute a (n > 0). */
static void put_uids(struct agent_wbuf *w, enum agent_attr a, const uint32_t *v, size_t n)
{
	char text[AGENT_HELD_TEXT_MAX + 1] = "";
	size_t used = 0;

	for (size_t i = 0; i < n && i < AGENT_HELD_SHOWN_MAX; i++) {
		int k = snprintf(text + used, sizeof(text) - used, "%s%u", used ? " " : "", v[i]);

		if (k < 0 || (size_t)k >= sizeof(text) - used)
			break;
		used += (size_t)k;
	}
	if (used)
		agent_wire_str(w, a, text);
}

/* Uids the leftovers sweep holds back (leftovers.c), and those it has yet
 * to sweep. */
static void status_held(struct agentd *d, struct agent_wbuf *w)
{
	struct agent_uid_use rows[AGENT_HELD_SHOWN_MAX];
	uint32_t uids[AGENT_HELD_SHOWN_MAX];
	size_t held = 0, any = 0;

	if (agent_store_uid_use_list(d->store, 2, rows, AGENT_HELD_SHOWN_MAX, &held) < 0 ||
	    agent_store_uid_use_list(d->store, 1, NULL, 0, &any) < 0)
		return;
	for (size_t i = 0; i < held && i < AGENT_HELD_SHOWN_MAX; i++)
		uids[i] = rows[i].uid;
	agent_wire_u64(w, AGENT_A_HELD, held);
	put_uids(w, AGENT_A_HELD_UIDS, uids, held);
	agent_wire_u64(w, AGENT_A_SWEEPING, any - held);
}

/* Retired uids whose processes are not yet confirmed gone, and those of
 * them whose last reap left processes running (reaper.c retries them). */
static void status_reaping(struct agentd *d, struct agent_wbuf *w)
{
	uint32_t uids[AGENT_HELD_SHOWN_MAX];
	uint64_t reaping, survived;

	agentd_reap_counts(d, &reaping, &survived, uids, AGENT_HELD_SHOWN_MAX);
	agent_wire_u64(w, AGENT_A_REAPING, reaping);
	agent_wire_u64(w, AGENT_A_SURVIVORS, survived);
	put_uids(w, AGENT_A_SURVIVOR_UIDS, uids, survived);
}

static void h_status(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	struct agent_wbuf w;
	uint64_t live = 0, q = 0;

	(void)m;
	agent_store_count_live(d->store, &live);
	agent_store_count_quarantined(d->store, time(NULL), (int64_t)d->cfg->uid_quarantine, &q);
	agent_wire_begin(&w, AGENT_MSG_STATUS_REPLY);
	agent_wire_str(&w, AGENT_A_VERSION, PACKAGE_VERSION);
	agent_wire_u64(&w, AGENT_A_LIVE, live);
	agent_wire_u64(&w, AGENT_A_UID_MIN, d->cfg->uid_min);
	agent_wire_u64(&w, AGENT_A_UID_MAX, d->cfg->uid_max);
	agent_wire_u64(&w, AGENT_A_QUARANTINED, q);
	agent_wire_u64(&w, AGENT_A_UPTIME, (uint64_t)(agentd_boot_seconds() - d->started));
	status_held(d, &w);
	status_reaping(d, &w);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

/* Who may send each request is decided inside the handler by policy.c, from
 * the peer's credentials; this table is the complete privileged surface. */
static const struct {
	enum agent_msg_type type;
	void (*fn)(struct agentd *, struct agentd_conn *, const struct agent_msg *);
} handlers[] = {
	{ AGENT_MSG_CREATE, agentd_h_create },   /* anyone; policy decides (create.c) */
	{ AGENT_MSG_LIST, h_list },              /* anyone; filtered by may_see */
	{ AGENT_MSG_SHOW, h_show },              /* anyone; filtered by may_see */
	{ AGENT_MSG_REVOKE, h_revoke },          /* root, the chain, the identity itself */
	{ AGENT_MSG_STATUS, h_status },          /* anyone */
	{ AGENT_MSG_RUN, agentd_h_run },         /* as create; the caller's fds 0-2 attached */
	{ AGENT_MSG_AUTH, agentd_h_auth },       /* root only */
	{ AGENT_MSG_ACCOUNT, agentd_h_account }, /* root only */
	{ AGENT_MSG_SESSION_OPEN, agentd_h_session_open },       /* root only */
	{ AGENT_MSG_SESSION_CLOSE, agentd_h_session_close },     /* root only */
	{ AGENT_MSG_AUTHORIZED_KEYS, agentd_h_authorized_keys }, /* anyone; live only */
	{ AGENT_MSG_PENDING, agentd_h_pending },                 /* root: all; approvers: theirs */
	{ AGENT_MSG_APPROVE, agentd_h_approve }, /* approvers, re-authenticated by PAM */
	{ AGENT_MSG_DENY, agentd_h_deny },       /* approvers */
};

void agentd_dispatch(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].type == m->type) {
			agent_audit_request_begin(&d->audit);
			handlers[i].fn(d, c, m);
			agent_audit_request_end(&d->audit);
			return;
		}
	agentd_reply_error(d, c, EOPNOTSUPP, "not a request");
	c->closing = true;
}
