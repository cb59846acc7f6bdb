/* Creates (agentd/create.h): CREATE and RUN, decided one by one, committed
 * together.
 *
 * Order for a batch, which the invariants depend on:
 * 1. each request is checked and decided (policy, limits counted with the
 *    batch's earlier members, a name, a uid, a token); a refusal is
 *    answered at once;
 * 2. the allowed ones are inserted in ONE store transaction, each under its
 *    own savepoint, and committed once (one fsync, synchronous=FULL): a
 *    failed commit refuses all of them and acknowledges none;
 * 3. each committed identity gets its home, is published to the snapshot
 *    and added to the live table (its expiry timers); if publishing or the
 *    live table fails, it is retired at once (undone) and refused;
 * 4. only then is it audited as allowed and answered (CREATE: the identity
 *    and its token; RUN: the runner starts, then the identity).
 * Nothing is acknowledged before it is durable, resolvable and timed. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <sodium.h>

#include "agentd/actor.h"
#include "agentd/budget.h"
#include "agentd/caller.h"
#include "agentd/conn.h"
#include "agentd/create.h"
#include "agentd/daemon.h"
#include "agentd/deferred.h"
#include "agentd/homes.h"
#include "agentd/livetable.h"
#include "agentd/policy.h"
#include "agentd/publish.h"
#include "agentd/retire.h"
#include "agentd/run.h"
#include "agentd/uidalloc.h"
#include "common/clock.h"
#include "common/kv.h"
#include "common/liveness.h"
#include "common/text.h"

struct job {
	struct agentd_conn *c;
	const struct agent_msg *m;
	bool run;
	bool ok;       /* still going: decided, then committed */
	uint64_t nreq; /* its audit request number */
	struct caller_ctx cc;
	struct agent_create_req req;
	struct agent_create_decision dec;
	struct agent_identity id;
	const char *ssh_key;
	char token[AGENT_TOKEN_TEXT_MAX];
	/* RUN */
	const char *argv[AGENT_ARGV_MAX + 1];
	const char *cwd;
};

static struct job jobs[AGENTD_CREATE_BATCH_MAX];

static bool audit_was_in_req;

/* Audit records of a job carry its own req= number, whichever phase of the
 * batch writes them. */
static uint64_t audit_enter(struct agentd *d, const struct job *j)
{
	uint64_t saved = d->audit.nreq;

	audit_was_in_req = d->audit.in_req;
	d->audit.nreq = j->nreq;
	d->audit.in_req = true;
	return saved;
}

static void audit_leave(struct agentd *d, uint64_t saved)
{
	d->audit.in_req = audit_was_in_req;
	d->audit.nreq = saved;
}

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

static void audit_create(struct agentd *d, const struct job *j, const struct agent_identity *id,
			 const char *decision, const char *reason)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX], lbl[32], ttl[32];
	uint64_t saved = audit_enter(d, j);

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "create");
	agent_kv_str(&kv, "decision", decision);
	if (id) {
		agent_audit_identity(&kv, id);
		if (id->task[0])
			agent_kv_str(&kv, "task", id->task);
	} else {
		agent_kv_str(&kv, "purpose", j->req.purpose);
		if (j->req.for_user)
			agent_kv_str(&kv, "subject", j->req.for_user);
		if (j->req.has_risk)
			agent_kv_str(&kv, "risk", agent_risk_str(j->req.risk));
	}
	if (j->req.ttl && agent_duration_format(j->req.ttl, ttl, sizeof(ttl)) == 0)
		agent_kv_str(&kv, "ttl", ttl);
	agent_kv_str(&kv, "caller", agentd_caller_label(&j->cc, lbl, sizeof(lbl)));
	agent_kv_u64(&kv, "caller_uid", j->cc.c.uid);
	agent_kv_str(&kv, "reason", reason);
	agent_audit_emit(&d->audit, &kv, id ? LOG_NOTICE : LOG_WARNING);
	audit_leave(d, saved);
}

static void audit_run(struct agentd *d, const struct job *j)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX], cmd[512], lbl[32];
	size_t off = 0;
	uint64_t saved = audit_enter(d, j);

	cmd[0] = '\0';
	for (unsigned i = 0; j->argv[i] && off < sizeof(cmd); i++) {
		int n = snprintf(cmd + off, sizeof(cmd) - off, "%s%s", i ? " " : "", j->argv[i]);

		if (n < 0)
			break;
		off += (size_t)n; /* past the end: truncated, and the loop stops */
	}
	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "run");
	agent_audit_identity(&kv, &j->id);
	agent_kv_str(&kv, "command", cmd);
	if (j->cwd)
		agent_kv_str(&kv, "cwd", j->cwd);
	agent_kv_str(&kv, "caller", agentd_caller_label(&j->cc, lbl, sizeof(lbl)));
	agent_kv_u64(&kv, "caller_uid", j->cc.c.uid);
	agent_audit_emit(&d->audit, &kv, LOG_NOTICE);
	audit_leave(d, saved);
}

/* Refuses j (its one answer), wiping its token. */
static void refuse(struct agentd *d, struct job *j, int err, const char *msg)
{
	j->ok = false;
	sodium_memzero(j->token, sizeof(j->token));
	agentd_reply_error(d, j->c, err, "%s", msg);
}

/* The live identities of creator_uid among the batch's members so far. */
static unsigned batch_by_creator(size_t upto, uid_t uid)
{
	unsigned n = 0;

	for (size_t i = 0; i < upto; i++)
		if (jobs[i].ok && jobs[i].cc.c.uid == uid)
			n++;
	return n;
}

/* Step 1 for jobs[k]: checks, decides, allocates. False once refused. */
static bool decide(struct agentd *d, size_t k, unsigned *admitted)
{
	struct job *j = &jobs[k];
	const struct agent_msg *m = j->m;
	const char *actor = agent_msg_str(m, AGENT_A_ACTOR);
	const char *task = agent_msg_str(m, AGENT_A_TASK);
	const char *risk = agent_msg_str(m, AGENT_A_RISK);
	const struct agent_cfg_purpose *purpose;
	struct agentd_actor act;
	bool act_ok;
	struct agent_now now;
	char lbl[32];
	uint64_t n;
	int r;

	j->ok = true;
	if (j->run) {
		unsigned argc = agent_msg_strs(m, AGENT_A_ARGV, j->argv, AGENT_ARGV_MAX);

		j->cwd = agent_msg_str(m, AGENT_A_CWD);
		if (j->c->nfds != 3 || j->c->run) {
			refuse(d, j, EINVAL, "run needs the caller's stdin, stdout and stderr");
			return false;
		}
		if (argc == 0 || !j->argv[0][0] || (j->cwd && !agent_valid_abspath(j->cwd))) {
			refuse(d, j, EINVAL, "invalid run request");
			return false;
		}
		j->argv[argc] = NULL;
	}
	j->ssh_key = agent_msg_str(m, AGENT_A_SSH_KEY);
	j->req.purpose = agent_msg_str(m, AGENT_A_PURPOSE);
	j->req.for_user = agent_msg_str(m, AGENT_A_FOR);
	agent_msg_u64(m, AGENT_A_TTL, &j->req.ttl);
	j->req.has_risk = risk != NULL;
	if (!agent_valid_purpose(j->req.purpose) ||
	    (j->req.for_user && !agent_valid_username(j->req.for_user)) ||
	    (actor && !agent_valid_text(actor, AGENT_ACTOR_MAX)) ||
	    (task && !agent_valid_text(task, AGENT_TASK_MAX)) || j->req.ttl > AGENT_MAX_TTL_SEC ||
	    (j->ssh_key && !agent_valid_ssh_key(j->ssh_key)) ||
	    (risk && agent_risk_parse(risk, &j->req.risk) < 0)) {
		refuse(d, j, EINVAL, "invalid create request");
		return false;
	}
	agentd_caller_resolve(d, &j->c->cred, &j->cc);
	if (j->cc.retired_agent) {
		char msg[96];

		audit_create(d, j, NULL, "deny", "caller is not a live agent identity");
		snprintf(msg, sizeof(msg), "caller uid %u is in the agent range but not live",
			 (unsigned)j->cc.c.uid);
		refuse(d, j, EPERM, msg);
		return false;
	}
	if (!j->cc.c.user[0] && j->cc.c.uid != 0) {
		char msg[64];

		audit_create(d, j, NULL, "deny", "caller has no user name");
		snprintf(msg, sizeof(msg), "caller uid %u has no user name", (unsigned)j->cc.c.uid);
		refuse(d, j, EPERM, msg);
		return false;
	}
	if (j->cc.c.uid == 0 && !j->cc.c.user[0])
		snprintf(j->cc.c.user, sizeof(j->cc.c.user), "root");

	if ((r = agentd_deferred_error(d)) < 0) {
		/* Retirements go on; what cannot be recorded must not begin. */
		char msg[128];

		audit_create(d, j, NULL, "deny", "the state database refuses writes");
		snprintf(msg, sizeof(msg), "agentd cannot write its state: %s", strerror(-r));
		refuse(d, j, -r, msg);
		return false;
	}
	agentd_budget_create_counts(d, &j->cc, &j->req);
	agent_policy_create(d->cfg, &j->cc.c, &j->req, time(NULL), &j->dec);
	if (!j->dec.allowed) {
		audit_create(d, j, NULL, "deny", j->dec.reason);
		if (j->dec.over_budget) {
			uint64_t saved = audit_enter(d, j);

			agentd_budget_audit(d, j->cc.c.agent ? &j->cc.agent : NULL,
					    agentd_caller_label(&j->cc, lbl, sizeof(lbl)),
					    j->req.purpose, j->dec.over_budget, j->dec.reason);
			audit_leave(d, saved);
		}
		refuse(d, j, EPERM, j->dec.reason);
		return false;
	}
	/* Which program asks (verified_actors): evidence, or a requirement. */
	purpose = agent_config_purpose(d->cfg, j->req.purpose);
	agentd_actor_identify(d->cfg, purpose, j->c->fd, &j->c->cred, &j->cc.c, &act);
	if (!agent_policy_actor(purpose, actor, act.name, act.why, &act_ok, j->dec.reason,
				sizeof(j->dec.reason))) {
		audit_create(d, j, NULL, "deny", j->dec.reason);
		refuse(d, j, EPERM, j->dec.reason);
		return false;
	}
	/* The live table mirrors the store; the batch's earlier members count. */
	if (d->live.n + *admitted >= d->cfg->max_live) {
		char msg[64];

		audit_create(d, j, NULL, "deny", "max_live reached");
		snprintf(msg, sizeof(msg), "too many live identities (max_live %u)",
			 d->cfg->max_live);
		refuse(d, j, EAGAIN, msg);
		return false;
	}
	if (j->cc.c.uid != 0 &&
	    (agent_store_count_live_by_creator(d->store, j->cc.c.uid, &n) < 0 ||
	     n + batch_by_creator(k, j->cc.c.uid) >= d->cfg->max_live_per_caller)) {
		char msg[96];

		audit_create(d, j, NULL, "deny", "max_live_per_caller reached");
		snprintf(msg, sizeof(msg),
			 "too many live identities for this caller "
			 "(max_live_per_caller %u)",
			 d->cfg->max_live_per_caller);
		refuse(d, j, EAGAIN, msg);
		return false;
	}

	memset(&j->id, 0, sizeof(j->id));
	r = new_name(d, j->id.name, sizeof(j->id.name));
	if (r == 0)
		r = agentd_alloc_uid(d, &j->id.uid);
	if (r < 0) {
		audit_create(d, j, NULL, "deny",
			     r == -ENOSPC ? "no free uid in range" : "no free name");
		refuse(d, j, r == -ENOSPC ? ENOSPC : EIO,
		       r == -ENOSPC ? "no free uid in the agent range" : "cannot allocate a name");
		return false;
	}
	snprintf(j->id.purpose, sizeof(j->id.purpose), "%s", j->req.purpose);
	{
		/* (a copy: the compiler cannot tell j->dec and j->id apart) */
		static struct agent_create_decision dec;

		dec = j->dec;
		snprintf(j->id.subject, sizeof(j->id.subject), "%s", dec.subject);
		for (unsigned i = 0; i < dec.chain_len && i < AGENT_CHAIN_MAX; i++)
			snprintf(j->id.chain[i], sizeof(j->id.chain[i]), "%s", dec.chain[i]);
		snprintf(j->id.parent, sizeof(j->id.parent), "%s", dec.parent);
	}
	j->id.chain_len = j->dec.chain_len;
	j->id.depth = j->dec.depth;
	j->id.risk = j->dec.risk;
	j->id.creator_uid = j->cc.c.uid;
	snprintf(j->id.actor, sizeof(j->id.actor), "%s", actor ? actor : act.name);
	j->id.actor_verified = act_ok;
	snprintf(j->id.actor_name, sizeof(j->id.actor_name), "%s", act.name);
	snprintf(j->id.task, sizeof(j->id.task), "%s", task ? task : "");
	agent_now(&now);
	j->id.created = now.real;
	j->id.expires = j->dec.expires;
	j->id.expires_boot_ns = agent_boot_deadline(j->id.expires, &now);
	j->id.state = AGENT_STATE_LIVE;
	if (agent_token_new(&d->tkey, j->token, j->id.token_hash) < 0) {
		refuse(d, j, EIO, "cannot make a token");
		return false;
	}
	(*admitted)++;
	return true;
}

/* Step 2: one transaction for every allowed job. */
static void commit(struct agentd *d, size_t n)
{
	const struct agent_identity *ids[AGENTD_CREATE_BATCH_MAX];
	const char *keys[AGENTD_CREATE_BATCH_MAX];
	int res[AGENTD_CREATE_BATCH_MAX];
	size_t idx[AGENTD_CREATE_BATCH_MAX], k = 0;

	for (size_t i = 0; i < n; i++)
		if (jobs[i].ok) {
			ids[k] = &jobs[i].id;
			keys[k] = jobs[i].ssh_key;
			idx[k++] = i;
		}
	if (!k)
		return;
	agent_store_insert_batch(d->store, ids, keys, k, res);
	for (size_t i = 0; i < k; i++) {
		struct job *j = &jobs[idx[i]];

		if (res[i] == 0)
			continue;
		char msg[128];

		audit_create(d, j, NULL, "deny", "store write failed");
		snprintf(msg, sizeof(msg), "agentd cannot write its state: %s", strerror(-res[i]));
		refuse(d, j, res[i] == -EEXIST ? EIO : -res[i], msg);
	}
}

/* Step 3 failed for j: its record is committed, so it is retired (its
 * snapshot entry and live-table slot, if any, go with it) and refused. */
static void undo(struct agentd *d, struct job *j, const char *what, int r)
{
	char text[128];

	snprintf(text, sizeof(text), "create undone: cannot %s: %s", what, strerror(-r));
	agent_audit_log(&d->audit, LOG_ERR, "%s: %s", j->id.name, text);
	audit_create(d, j, NULL, "deny", text);
	{
		uint64_t saved = audit_enter(d, j);

		agentd_retire(d, j->id.name, AGENT_RETIRE_REVOKED, text, "agentd");
		audit_leave(d, saved);
	}
	refuse(d, j, EIO, text);
}

/* Step 3 and 4 for one committed job. */
static void finish(struct agentd *d, struct job *j)
{
	struct agent_wbuf w;
	int r;

	if (agentd_purpose_has_home(d, j->id.purpose) &&
	    agentd_home_create(d, j->id.name, j->id.uid) < 0)
		agent_audit_log(&d->audit, LOG_ERR, "cannot create the home of %s", j->id.name);
	r = agentd_snap_put_identity(d, &j->id);
	if (r < 0) {
		undo(d, j, "publish it to the snapshot", r);
		return;
	}
	r = agentd_live_add(d, &j->id);
	if (r < 0) {
		undo(d, j, "add it to the live table", r);
		return;
	}
	audit_create(d, j, &j->id, "allow", j->dec.reason);
	if (!j->run) {
		agent_wire_begin(&w, AGENT_MSG_IDENTITY);
		agent_wire_put_identity(&w, &j->id);
		agent_wire_str(&w, AGENT_A_TOKEN, j->token);
		sodium_memzero(j->token, sizeof(j->token));
		if (agent_wire_finish(&w) == 0)
			agentd_reply(d, j->c, &w);
		else
			agentd_reply_error(d, j->c, EIO, "reply too large");
		agent_wire_wipe(&w);
		return;
	}

	/* RUN: the command through a runner (run.c) with the caller's stdin,
	 * stdout and stderr; the replies are IDENTITY (no token: nobody needs
	 * to log in to it), then EXIT when the command has ended. */
	const struct agent_cfg_purpose *p = agent_config_purpose(d->cfg, j->id.purpose);
	struct agentd_run_spec s = { 0 };
	char home[AGENT_PATH_MAX * 2];

	sodium_memzero(j->token, sizeof(j->token));
	if (p && p->home == AGENT_HOME_EPHEMERAL &&
	    snprintf(home, sizeof(home), "%s/%s", d->cfg->home_base, j->id.name) <
		    (int)sizeof(home))
		s.home = home;
	else
		s.home = "/";
	s.id = &j->id;
	s.argv = j->argv;
	s.cwd = j->cwd;
	s.ruser = j->cc.c.user[0] ? j->cc.c.user : NULL;
	s.shell = p && p->shell[0] ? p->shell : "/bin/sh";
	s.groups = p ? p->gids : NULL;
	s.ngroups = p ? p->ngroups : 0;
	memcpy(s.fds, j->c->fds, sizeof(s.fds));
	{
		uint64_t saved = audit_enter(d, j);

		r = agentd_run_start(d, j->c, &s);
		if (r < 0)
			agentd_retire(d, j->id.name, AGENT_RETIRE_TASK_ENDED,
				      "the command could not be started", NULL);
		audit_leave(d, saved);
	}
	if (r < 0) {
		agentd_reply_error(d, j->c, -r, "cannot start the command: %s", strerror(-r));
		return;
	}
	audit_run(d, j);
	agent_wire_begin(&w, AGENT_MSG_IDENTITY);
	agent_wire_put_identity(&w, &j->id);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, j->c, &w);
}

size_t agentd_create_batch(struct agentd *d, const struct agentd_create_req *v, size_t n)
{
	int64_t deadline = agent_mono_ms() + AGENTD_CREATE_DECIDE_MS;
	unsigned admitted = 0;

	if (n > AGENTD_CREATE_BATCH_MAX)
		n = AGENTD_CREATE_BATCH_MAX;
	for (size_t i = 0; i < n; i++) {
		/* Past the budget: the rest wait for the next turn, after the
		 * PAM requests that came meanwhile. */
		if (i > 0 && agent_mono_ms() >= deadline) {
			n = i;
			break;
		}
		struct job *j = &jobs[i];

		memset(j, 0, sizeof(*j));
		j->c = v[i].c;
		j->m = v[i].m;
		j->run = v[i].m->type == AGENT_MSG_RUN;
		/* Through handlers.c's table the request is numbered already. */
		if (!d->audit.in_req) {
			agent_audit_request_begin(&d->audit);
			agent_audit_request_end(&d->audit);
		}
		j->nreq = d->audit.nreq;
		decide(d, i, &admitted);
	}
	commit(d, n);
	for (size_t i = 0; i < n; i++)
		if (jobs[i].ok)
			finish(d, &jobs[i]);
	for (size_t i = 0; i < n; i++) {
		sodium_memzero(jobs[i].token, sizeof(jobs[i].token));
		sodium_memzero(jobs[i].id.token_hash, sizeof(jobs[i].id.token_hash));
	}
	return n;
}

void agentd_h_create(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	struct agentd_create_req r = { c, m };

	(void)agentd_create_batch(d, &r, 1);
}

void agentd_h_run(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	agentd_h_create(d, c, m);
}
