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

#include "agentd/actor.h"
#include "agentd/approval.h"
#include "agentd/budget.h"
#include "agentd/caller.h"
#include "agentd/conn.h"
#include "agentd/daemon.h"
#include "agentd/livetable.h"
#include "agentd/handlers.h"
#include "agentd/handlers_pam.h"
#include "agentd/homes.h"
#include "agentd/policy.h"
#include "agentd/publish.h"
#include "agentd/retire.h"
#include "agentd/deferred.h"
#include "agentd/run.h"
#include "agentd/uidalloc.h"
#include "common/kv.h"
#include "common/liveness.h"
#include "common/text.h"

/* Random suffix from [a-z0-9], unused by the store (ever) and by NSS. */
static int new_name(struct agentd *d, char *out, size_t len)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (int attempt = 0; attempt < 64; attempt++) {
		char suffix[AGENT_SUFFIX_LEN + 1];
		struct passwd pw, *pwp = NULL;
		char buf[1024];
		bool used;

		for (int i = 0; i < AGENT_SUFFIX_LEN; i++)
			suffix[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
		suffix[AGENT_SUFFIX_LEN] = '\0';
		if (snprintf(out, len, "%s%s", d->cfg->name_prefix, suffix) >= (int)len)
			return -ENAMETOOLONG;
		if (agent_store_name_used(d->store, out, &used) < 0 || used)
			continue;
		if (getpwnam_r(out, &pw, buf, sizeof(buf), &pwp) == 0 && pwp)
			continue;
		return 0;
	}
	return -EEXIST;
}

static void audit_create(struct agentd *d, const struct caller_ctx *cc,
			 const struct agent_create_req *req, const struct agent_identity *id,
			 const char *decision, const char *reason)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX], lbl[32], ttl[32];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "create");
	agent_kv_str(&kv, "decision", decision);
	if (id) {
		agent_audit_identity(&kv, id);
		if (id->task[0])
			agent_kv_str(&kv, "task", id->task);
	} else {
		agent_kv_str(&kv, "purpose", req->purpose);
		if (req->for_user)
			agent_kv_str(&kv, "subject", req->for_user);
		if (req->has_risk)
			agent_kv_str(&kv, "risk", agent_risk_str(req->risk));
	}
	if (req->ttl && agent_duration_format(req->ttl, ttl, sizeof(ttl)) == 0)
		agent_kv_str(&kv, "ttl", ttl);
	agent_kv_str(&kv, "caller", agentd_caller_label(cc, lbl, sizeof(lbl)));
	agent_kv_u64(&kv, "caller_uid", cc->c.uid);
	agent_kv_str(&kv, "reason", reason);
	agent_audit_emit(&d->audit, &kv, id ? LOG_NOTICE : LOG_WARNING);
}

/* The create itself, for CREATE and RUN (same fields, same policy): checks,
 * decides, allocates, commits, publishes and audits. True with *id and the
 * token text (the caller wipes it); false once an error reply is queued. */
static bool create_identity(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m,
			    struct caller_ctx *cc, struct agent_identity *id,
			    char token[AGENT_TOKEN_TEXT_MAX])
{
	struct agent_create_req req = { 0 };
	struct agent_create_decision dec;
	struct agentd_actor act;
	bool act_ok;
	char lbl[32];
	struct agent_now now;
	const char *actor = agent_msg_str(m, AGENT_A_ACTOR);
	const char *task = agent_msg_str(m, AGENT_A_TASK);
	const char *ssh_key = agent_msg_str(m, AGENT_A_SSH_KEY);
	const char *risk = agent_msg_str(m, AGENT_A_RISK);
	uint64_t n;
	int r;

	req.purpose = agent_msg_str(m, AGENT_A_PURPOSE);
	req.for_user = agent_msg_str(m, AGENT_A_FOR);
	agent_msg_u64(m, AGENT_A_TTL, &req.ttl);
	req.has_risk = risk != NULL;
	if (!agent_valid_purpose(req.purpose) ||
	    (req.for_user && !agent_valid_username(req.for_user)) ||
	    (actor && !agent_valid_text(actor, AGENT_ACTOR_MAX)) ||
	    (task && !agent_valid_text(task, AGENT_TASK_MAX)) || req.ttl > AGENT_MAX_TTL_SEC ||
	    (ssh_key && !agent_valid_ssh_key(ssh_key)) ||
	    (risk && agent_risk_parse(risk, &req.risk) < 0)) {
		agentd_reply_error(d, c, EINVAL, "invalid create request");
		return false;
	}
	agentd_caller_resolve(d, &c->cred, cc);
	if (cc->retired_agent) {
		audit_create(d, cc, &req, NULL, "deny", "caller is not a live agent identity");
		agentd_reply_error(d, c, EPERM, "caller uid %u is in the agent range but not live",
				   (unsigned)cc->c.uid);
		return false;
	}
	if (!cc->c.user[0] && cc->c.uid != 0) {
		audit_create(d, cc, &req, NULL, "deny", "caller has no user name");
		agentd_reply_error(d, c, EPERM, "caller uid %u has no user name",
				   (unsigned)cc->c.uid);
		return false;
	}
	if (cc->c.uid == 0 && !cc->c.user[0])
		snprintf(cc->c.user, sizeof(cc->c.user), "root");

	if ((r = agentd_deferred_error(d)) < 0) {
		/* Retirements go on; what cannot be recorded must not begin. */
		audit_create(d, cc, &req, NULL, "deny", "the state database refuses writes");
		agentd_reply_error(d, c, -r, "agentd cannot write its state: %s", strerror(-r));
		return false;
	}
	agentd_budget_create_counts(d, cc, &req);
	agent_policy_create(d->cfg, &cc->c, &req, time(NULL), &dec);
	if (!dec.allowed) {
		audit_create(d, cc, &req, NULL, "deny", dec.reason);
		if (dec.over_budget)
			agentd_budget_audit(d, cc->c.agent ? &cc->agent : NULL,
					    agentd_caller_label(cc, lbl, sizeof(lbl)), req.purpose,
					    dec.over_budget, dec.reason);
		agentd_reply_error(d, c, EPERM, "%s", dec.reason);
		return false;
	}
	/* Which program asks (verified_actors): evidence, or a requirement. */
	agentd_actor_identify(d->cfg, agent_config_purpose(d->cfg, req.purpose), c->fd, &c->cred,
			      &cc->c, &act);
	if (!agent_policy_actor(agent_config_purpose(d->cfg, req.purpose), actor, act.name,
				act.why, &act_ok, dec.reason, sizeof(dec.reason))) {
		audit_create(d, cc, &req, NULL, "deny", dec.reason);
		agentd_reply_error(d, c, EPERM, "%s", dec.reason);
		return false;
	}
	if (d->live.n >= d->cfg->max_live) { /* the live table mirrors the store */
		audit_create(d, cc, &req, NULL, "deny", "max_live reached");
		agentd_reply_error(d, c, EAGAIN, "too many live identities (max_live %u)",
				   d->cfg->max_live);
		return false;
	}
	if (cc->c.uid != 0 && (agent_store_count_live_by_creator(d->store, cc->c.uid, &n) < 0 ||
			      n >= d->cfg->max_live_per_caller)) {
		audit_create(d, cc, &req, NULL, "deny", "max_live_per_caller reached");
		agentd_reply_error(d, c, EAGAIN, "too many live identities for this caller "
				   "(max_live_per_caller %u)", d->cfg->max_live_per_caller);
		return false;
	}

	memset(id, 0, sizeof(*id));
	r = new_name(d, id->name, sizeof(id->name));
	if (r == 0)
		r = agentd_alloc_uid(d, &id->uid);
	if (r < 0) {
		audit_create(d, cc, &req, NULL, "deny",
			     r == -ENOSPC ? "no free uid in range" : "no free name");
		agentd_reply_error(d, c, r == -ENOSPC ? ENOSPC : EIO, "%s",
				   r == -ENOSPC ? "no free uid in the agent range" :
				   "cannot allocate a name");
		return false;
	}
	snprintf(id->purpose, sizeof(id->purpose), "%s", req.purpose);
	snprintf(id->subject, sizeof(id->subject), "%s", dec.subject);
	for (unsigned i = 0; i < dec.chain_len && i < AGENT_CHAIN_MAX; i++)
		snprintf(id->chain[i], sizeof(id->chain[i]), "%s", dec.chain[i]);
	id->chain_len = dec.chain_len;
	snprintf(id->parent, sizeof(id->parent), "%s", dec.parent);
	id->depth = dec.depth;
	id->risk = dec.risk;
	id->creator_uid = cc->c.uid;
	snprintf(id->actor, sizeof(id->actor), "%s", actor ? actor : act.name);
	id->actor_verified = act_ok;
	snprintf(id->actor_name, sizeof(id->actor_name), "%s", act.name);
	snprintf(id->task, sizeof(id->task), "%s", task ? task : "");
	agent_now(&now);
	id->created = now.real;
	id->expires = dec.expires;
	id->expires_boot_ns = agent_boot_deadline(id->expires, &now);
	id->state = AGENT_STATE_LIVE;
	r = agent_token_new(&d->tkey, token, id->token_hash);
	if (r < 0) {
		agentd_reply_error(d, c, EIO, "cannot make a token");
		return false;
	}

	/* Durable first, then resolvable, then answered. */
	r = agent_store_begin(d->store);
	if (r == 0)
		r = agent_store_insert(d->store, id);
	if (r == 0 && ssh_key)
		r = agent_store_set_ssh_key(d->store, id->name, ssh_key);
	if (r == 0)
		r = agent_store_commit(d->store); /* rolls back itself on failure */
	else
		agent_store_rollback(d->store);
	if (r < 0) {
		sodium_memzero(token, AGENT_TOKEN_TEXT_MAX);
		audit_create(d, cc, &req, NULL, "deny", "store write failed");
		agentd_reply_error(d, c, r == -EEXIST ? EIO : -r, "agentd cannot write its state: %s",
				   strerror(-r));
		return false;
	}
	if (agentd_purpose_has_home(d, id->purpose) && agentd_home_create(d, id->name, id->uid) < 0)
		syslog(LOG_AUTHPRIV | LOG_ERR, "cannot create the home of %s", id->name);
	r = agentd_snap_put_identity(d, id);
	if (r < 0)
		syslog(LOG_AUTHPRIV | LOG_ERR, "cannot publish %s to the snapshot: %s", id->name,
		       strerror(-r));
	agentd_live_add(d, id);
	audit_create(d, cc, &req, id, "allow", dec.reason);
	return true;
}

static void h_create(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	struct agent_identity id;
	struct caller_ctx cc;
	char token[AGENT_TOKEN_TEXT_MAX];
	struct agent_wbuf w;

	if (!create_identity(d, c, m, &cc, &id, token))
		return;
	agent_wire_begin(&w, AGENT_MSG_IDENTITY);
	agent_wire_put_identity(&w, &id);
	agent_wire_str(&w, AGENT_A_TOKEN, token);
	sodium_memzero(token, sizeof(token));
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
	else
		agentd_reply_error(d, c, EIO, "reply too large");
	agent_wire_wipe(&w);
}

static void audit_run(struct agentd *d, const struct caller_ctx *cc,
		      const struct agent_identity *id, const char *const *argv, const char *cwd)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX], cmd[512], lbl[32];
	size_t off = 0;

	cmd[0] = '\0';
	for (unsigned i = 0; argv[i] && off < sizeof(cmd); i++) {
		int n = snprintf(cmd + off, sizeof(cmd) - off, "%s%s", i ? " " : "", argv[i]);

		if (n < 0)
			break;
		off += (size_t)n; /* past the end: truncated, and the loop stops */
	}
	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "run");
	agent_audit_identity(&kv, id);
	agent_kv_str(&kv, "command", cmd);
	if (cwd)
		agent_kv_str(&kv, "cwd", cwd);
	agent_kv_str(&kv, "caller", agentd_caller_label(cc, lbl, sizeof(lbl)));
	agent_kv_u64(&kv, "caller_uid", cc->c.uid);
	agent_audit_emit(&d->audit, &kv, LOG_NOTICE);
}

/* RUN: a create (same fields, same policy), then the command through a
 * runner (agentd/run.c) with the caller's stdin, stdout and stderr. The
 * replies are IDENTITY (no token: nobody needs to log in to it), then EXIT
 * when the command has ended and the identity is reaped. */
static void h_run(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	const char *argv[AGENT_ARGV_MAX + 1];
	const char *cwd = agent_msg_str(m, AGENT_A_CWD);
	unsigned argc = agent_msg_strs(m, AGENT_A_ARGV, argv, AGENT_ARGV_MAX);
	const struct agent_cfg_purpose *p;
	struct agentd_run_spec s = { 0 };
	struct agent_identity id;
	struct caller_ctx cc;
	struct agent_wbuf w;
	char token[AGENT_TOKEN_TEXT_MAX], home[AGENT_PATH_MAX * 2];
	int r;

	if (c->nfds != 3 || c->run) {
		agentd_reply_error(d, c, EINVAL, "run needs the caller's stdin, stdout and stderr");
		return;
	}
	if (argc == 0 || !argv[0][0] || (cwd && !agent_valid_abspath(cwd))) {
		agentd_reply_error(d, c, EINVAL, "invalid run request");
		return;
	}
	argv[argc] = NULL;
	if (!create_identity(d, c, m, &cc, &id, token))
		return;
	sodium_memzero(token, sizeof(token));
	p = agent_config_purpose(d->cfg, id.purpose);
	if (p && p->home == AGENT_HOME_EPHEMERAL &&
	    snprintf(home, sizeof(home), "%s/%s", d->cfg->home_base, id.name) < (int)sizeof(home))
		s.home = home;
	else
		s.home = "/";
	s.id = &id;
	s.argv = argv;
	s.cwd = cwd;
	s.ruser = cc.c.user[0] ? cc.c.user : NULL;
	s.shell = p && p->shell[0] ? p->shell : "/bin/sh";
	s.groups = p ? p->gids : NULL;
	s.ngroups = p ? p->ngroups : 0;
	memcpy(s.fds, c->fds, sizeof(s.fds));
	r = agentd_run_start(d, c, &s);
	if (r < 0) {
		agentd_retire(d, id.name, AGENT_RETIRE_TASK_ENDED, "the command could not be started",
			      NULL);
		agentd_reply_error(d, c, -r, "cannot start the command: %s", strerror(-r));
		return;
	}
	audit_run(d, &cc, &id, argv, cwd);
	agent_wire_begin(&w, AGENT_MSG_IDENTITY);
	agent_wire_put_identity(&w, &id);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

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

static void h_revoke(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	const char *name = agent_msg_str(m, AGENT_A_NAME);
	const char *reason = agent_msg_str(m, AGENT_A_REASON);
	struct agent_identity id;
	struct caller_ctx cc;
	struct agent_wbuf w;
	char lbl[32];
	int r;

	if (!agent_valid_username(name) || (reason && !agent_valid_text(reason, AGENT_REASON_MAX))) {
		agentd_reply_error(d, c, EINVAL, "invalid revoke request");
		return;
	}
	agentd_caller_resolve(d, &c->cred, &cc);
	if (cc.c.uid == 0 && !cc.c.user[0])
		snprintf(cc.c.user, sizeof(cc.c.user), "root");
	if (agent_store_get(d->store, name, &id) < 0 || !agent_policy_may_see(&cc.c, &id)) {
		agentd_reply_error(d, c, ENOENT, "no identity named %s", name);
		return;
	}
	if (!agent_policy_may_revoke(&cc.c, &id)) {
		struct agent_kv kv;
		char buf[AGENT_AUDIT_LINE_MAX];

		agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "revoke");
		agent_kv_str(&kv, "decision", "deny");
		agent_audit_identity(&kv, &id);
		agent_kv_str(&kv, "caller", agentd_caller_label(&cc, lbl, sizeof(lbl)));
		agent_kv_u64(&kv, "caller_uid", cc.c.uid);
		agent_audit_emit(&d->audit, &kv, LOG_WARNING);
		agentd_reply_error(d, c, EPERM, "not allowed to revoke %s", name);
		return;
	}
	r = agentd_retire(d, name, AGENT_RETIRE_REVOKED, reason, agentd_caller_label(&cc, lbl, sizeof(lbl)));
	if (r == -EALREADY) {
		agentd_reply_error(d, c, EALREADY, "%s is already retired", name);
		return;
	}
	if (r < 0) {
		agentd_reply_error(d, c, EIO, "cannot revoke %s: %s", name, strerror(-r));
		return;
	}
	agent_wire_begin(&w, AGENT_MSG_OK);
	agent_wire_str(&w, AGENT_A_MESSAGE, "revoked; its processes are being killed");
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

/* Uids the leftovers sweep holds back (leftovers.c), and those it has yet
 * to sweep. */
static void status_held(struct agentd *d, struct agent_wbuf *w)
{
	struct agent_uid_use rows[AGENT_HELD_SHOWN_MAX];
	char text[AGENT_HELD_TEXT_MAX + 1] = "";
	size_t held = 0, any = 0, used = 0;

	if (agent_store_uid_use_list(d->store, 2, rows, AGENT_HELD_SHOWN_MAX, &held) < 0 ||
	    agent_store_uid_use_list(d->store, 1, NULL, 0, &any) < 0)
		return;
	for (size_t i = 0; i < held && i < AGENT_HELD_SHOWN_MAX; i++) {
		int k = snprintf(text + used, sizeof(text) - used, "%s%u", used ? " " : "",
				 rows[i].uid);

		if (k < 0 || (size_t)k >= sizeof(text) - used)
			break;
		used += (size_t)k;
	}
	agent_wire_u64(w, AGENT_A_HELD, held);
	if (held)
		agent_wire_str(w, AGENT_A_HELD_UIDS, text);
	agent_wire_u64(w, AGENT_A_SWEEPING, any - held);
}

static void h_status(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	struct agent_wbuf w;
	struct timespec ts;
	uint64_t live = 0, q = 0;

	(void)m;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	agent_store_count_live(d->store, &live);
	agent_store_count_quarantined(d->store, time(NULL), (int64_t)d->cfg->uid_quarantine, &q);
	agent_wire_begin(&w, AGENT_MSG_STATUS_REPLY);
	agent_wire_str(&w, AGENT_A_VERSION, PACKAGE_VERSION);
	agent_wire_u64(&w, AGENT_A_LIVE, live);
	agent_wire_u64(&w, AGENT_A_UID_MIN, d->cfg->uid_min);
	agent_wire_u64(&w, AGENT_A_UID_MAX, d->cfg->uid_max);
	agent_wire_u64(&w, AGENT_A_QUARANTINED, q);
	agent_wire_u64(&w, AGENT_A_UPTIME, (uint64_t)(ts.tv_sec - d->started));
	status_held(d, &w);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

/* Who may send each request is decided inside the handler by policy.c, from
 * the peer's credentials; this table is the complete privileged surface. */
static const struct {
	enum agent_msg_type type;
	void (*fn)(struct agentd *, struct agentd_conn *, const struct agent_msg *);
} handlers[] = {
	{ AGENT_MSG_CREATE, h_create }, /* anyone; policy decides */
	{ AGENT_MSG_LIST, h_list },     /* anyone; filtered by may_see */
	{ AGENT_MSG_SHOW, h_show },     /* anyone; filtered by may_see */
	{ AGENT_MSG_REVOKE, h_revoke }, /* root, the chain, the identity itself */
	{ AGENT_MSG_STATUS, h_status }, /* anyone */
	{ AGENT_MSG_RUN, h_run },       /* as create; the caller's fds 0-2 attached */
	{ AGENT_MSG_AUTH, agentd_h_auth },                   /* root only */
	{ AGENT_MSG_ACCOUNT, agentd_h_account },             /* root only */
	{ AGENT_MSG_SESSION_OPEN, agentd_h_session_open },   /* root only */
	{ AGENT_MSG_SESSION_CLOSE, agentd_h_session_close }, /* root only */
	{ AGENT_MSG_AUTHORIZED_KEYS, agentd_h_authorized_keys }, /* anyone; live only */
	{ AGENT_MSG_PENDING, agentd_h_pending }, /* root: all; approvers: theirs */
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
