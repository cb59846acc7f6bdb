/* Requests from pam_agent: auth, account, session open/close, and the
 * public-key lookup for sshd's AuthorizedKeysCommand.
 *
 * PAM decisions are answered for root peers only (su, sudo, sshd, login and
 * cron run the PAM stack as root); anyone else gets EPERM, so the socket is
 * no token oracle for unprivileged users. Every decision is one audit
 * record carrying the identity's delegation context and the PAM items. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <syslog.h>
#include <time.h>

#include "agentd/approval.h"
#include "agentd/cgroup.h"
#include "agentd/budget.h"
#include "agentd/conn.h"
#include "agentd/daemon.h"
#include "agentd/deferred.h"
#include "agentd/handlers_pam.h"
#include "agentd/session.h"
#include "agentd/policy.h"
#include "agentd/run.h"
#include "common/kv.h"
#include "common/liveness.h"
#include "common/text.h"

struct pam_req {
	const char *name, *service, *tty, *rhost, *ruser;
	const char *command; /* sudo's command, when pam_agent could trust it */
	const char *runas;   /* sudo's run-as user, when pam_agent could trust it */
	const char *grant;   /* an approval this PAM transaction already got */
	struct agent_identity id;
	bool found; /* id holds the store's record for name */
};

/* Parses and checks the common part; replies and returns false if the
 * request cannot be answered. */
static bool pam_req_get(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m,
			struct pam_req *r)
{
	memset(r, 0, sizeof(*r));
	r->name = agent_msg_str(m, AGENT_A_NAME);
	r->service = agent_msg_str(m, AGENT_A_SERVICE);
	r->tty = agent_msg_str(m, AGENT_A_TTY);
	r->rhost = agent_msg_str(m, AGENT_A_RHOST);
	r->ruser = agent_msg_str(m, AGENT_A_RUSER);
	r->command = agent_msg_str(m, AGENT_A_COMMAND);
	r->runas = agent_msg_str(m, AGENT_A_RUNAS);
	r->grant = agent_msg_str(m, AGENT_A_REQUEST_ID);
	if (c->cred.uid != 0) {
		agentd_reply_error(d, c, EPERM, "PAM decisions are answered for root only");
		return false;
	}
	if (!agent_valid_username(r->name)) {
		agentd_reply_error(d, c, EINVAL, "invalid user name");
		return false;
	}
	r->found = agent_store_get(d->store, r->name, &r->id) == 0;
	return true;
}

/* With the decision's action risk when one was made (dec, NULL if none). */
static void audit_pam_risk(struct agentd *d, struct agentd_conn *c, const char *event,
			   const struct pam_req *r, bool allowed, const char *reason,
			   const char *rule, const struct agentd_session *s,
			   const struct agent_service_decision *dec)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX], sid[24];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), event);
	agent_kv_str(&kv, "decision", allowed ? "allow" : "deny");
	if (r->found)
		agent_audit_identity(&kv, &r->id);
	else
		agent_kv_str(&kv, "identity", r->name);
	if (r->service)
		agent_kv_str(&kv, "service", r->service);
	if (r->tty)
		agent_kv_str(&kv, "tty", r->tty);
	if (r->rhost)
		agent_kv_str(&kv, "rhost", r->rhost);
	if (r->ruser)
		agent_kv_str(&kv, "ruser", r->ruser);
	if (r->command)
		agent_kv_str(&kv, "command", r->command);
	if (r->runas)
		agent_kv_str(&kv, "runas", r->runas);
	agent_kv_u64(&kv, "pid", (uint64_t)c->cred.pid);
	if (s) {
		snprintf(sid, sizeof(sid), "%016llx", (unsigned long long)s->id);
		agent_kv_str(&kv, "session", sid);
	}
	if (rule && rule[0])
		agent_kv_str(&kv, "rule", rule);
	if (dec)
		agent_kv_str(&kv, "action_risk", agent_risk_str(dec->risk));
	if (dec && dec->over_budget)
		agent_kv_str(&kv, "over_budget", "max_sudo");
	agent_kv_str(&kv, "reason", reason);
	agent_audit_emit(&d->audit, &kv, allowed ? LOG_NOTICE : LOG_WARNING);
}

static void audit_pam(struct agentd *d, struct agentd_conn *c, const char *event,
		      const struct pam_req *r, bool allowed, const char *reason, const char *rule,
		      const struct agentd_session *s)
{
	audit_pam_risk(d, c, event, r, allowed, reason, rule, s, NULL);
}

void agentd_audit_session_end(struct agentd *d, const struct agentd_session *s, const char *reason)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX], sid[24];

	snprintf(sid, sizeof(sid), "%016llx", (unsigned long long)s->id);
	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "session-close");
	agent_kv_str(&kv, "identity", s->name);
	agent_kv_u64(&kv, "uid", s->uid);
	agent_kv_str(&kv, "service", s->service);
	agent_kv_u64(&kv, "pid", (uint64_t)s->pid);
	agent_kv_str(&kv, "session", sid);
	agent_kv_str(&kv, "reason", reason);
	agent_audit_emit(&d->audit, &kv, LOG_NOTICE);
}

static void decide(struct agentd *d, const struct pam_req *r, pid_t pid,
		   struct agent_service_decision *dec)
{
	struct agent_now now;

	agent_now(&now);
	agent_policy_sudo(d->cfg, r->found ? &r->id : NULL, r->service, r->command, r->runas, &now,
			  dec);
	agent_policy_sudo_budget(d->cfg, r->found ? &r->id : NULL, r->service,
				 agentd_budget_sudo_counted(r->name, pid), dec);
}

static bool is_sudo(const char *service)
{
	return service && (strcmp(service, "sudo") == 0 || strcmp(service, "sudo-i") == 0);
}

/* An allowed sudo counts against max_sudo, once per PAM transaction. */
static void count_sudo(struct agentd *d, struct agentd_conn *c, const struct pam_req *r)
{
	if (r->found && is_sudo(r->service))
		agentd_budget_sudo_count(d, r->name, c->cred.pid);
}

/* The whole decision, in whichever stage asks (auth, account or session
 * open), so that a host setting that skips a stage skips nothing. true: go
 * on (allowed, or approved earlier in the same PAM transaction); false: the
 * request was answered (refused, or it is now a pending step-up request). */
static bool decide_stage(struct agentd *d, struct agentd_conn *c, const char *event,
			 const struct pam_req *r, struct agent_service_decision *dec)
{
	decide(d, r, c->cred.pid, dec);
	if (dec->approve && r->grant &&
	    agentd_stepup_granted(d, r->grant, r->name, r->service, r->command, r->runas,
				  c->cred.pid)) {
		dec->allowed = true;
		snprintf(dec->reason, sizeof(dec->reason), "approved in request %s", r->grant);
		count_sudo(d, c, r);
		return true;
	}
	if (dec->approve) {
		/* Not yet: a human decides (approval.c), the module waits. */
		struct agentd_stepup_items it = { r->service, r->command, r->tty,
						  r->rhost,   r->ruser,   dec->rule,
						  r->runas,   dec->risk,  dec->approvals };

		audit_pam_risk(d, c, event, r, false, "step-up approval required", dec->rule, NULL,
			       dec);
		if (dec->over_budget)
			agentd_budget_audit(d, &r->id, NULL, r->id.purpose, "max_sudo",
					    dec->reason);
		agentd_stepup_begin(d, c, &r->id, &it);
		return false;
	}
	if (!dec->allowed) {
		audit_pam_risk(d, c, event, r, false, dec->reason, dec->rule, NULL, dec);
		if (dec->over_budget)
			agentd_budget_audit(d, &r->id, NULL, r->id.purpose, "max_sudo",
					    dec->reason);
		agentd_reply_error(d, c, dec->err, "%s", dec->reason);
		return false;
	}
	count_sudo(d, c, r);
	return true;
}

static void reply_ok(struct agentd *d, struct agentd_conn *c)
{
	struct agent_wbuf w;

	agent_wire_begin(&w, AGENT_MSG_OK);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

void agentd_h_auth(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	const char *token = agent_msg_str(m, AGENT_A_TOKEN);
	struct agent_service_decision dec;
	struct pam_req r;

	if (!pam_req_get(d, c, m, &r))
		return;
	decide(d, &r, c->cred.pid, &dec);
	/* A dead identity has no valid token; the token is checked before the
	 * policy, so a wrong token never starts a step-up request. */
	if (dec.err == ENOENT || dec.err == EKEYEXPIRED) {
		audit_pam(d, c, "auth", &r, false, dec.reason, NULL, NULL);
		agentd_reply_error(d, c, EACCES, "authentication failed");
		return;
	}
	if (agent_token_verify(&d->tkey, token, r.id.token_hash) != 0) {
		audit_pam(d, c, "auth", &r, false, "wrong token", NULL, NULL);
		agentd_reply_error(d, c, EACCES, "authentication failed");
		return;
	}
	if (!decide_stage(d, c, "auth", &r, &dec))
		return;
	audit_pam_risk(d, c, "auth", &r, true, dec.reason, dec.rule, NULL, &dec);
	reply_ok(d, c);
}

void agentd_h_account(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	struct agent_service_decision dec;
	struct pam_req r;

	if (!pam_req_get(d, c, m, &r) || !decide_stage(d, c, "account", &r, &dec))
		return;
	audit_pam_risk(d, c, "account", &r, true, dec.reason, dec.rule, NULL, &dec);
	reply_ok(d, c);
}

/* A session open whose process is being moved into the identity's cgroup
 * (cgroup.c does it in a child: the kernel takes milliseconds, the loop
 * serves others meanwhile). What the request said is copied: its message
 * is gone by the time the move is done. */
struct agentd_placing {
	int kind; /* W_PLACE: first member, epoll data points here */
	int rfd;
	pid_t child;
	struct agentd_conn *conn; /* NULL once pam_agent went away */
	uint64_t nreq;            /* the request's number: its records carry it */
	struct agent_service_decision dec;
	char *name, *service, *tty, *rhost, *ruser, *command, *runas;
	LIST_ENTRY(agentd_placing) link;
};

/* The rest of a session open, once its process is in the identity's
 * cgroup (placed: 0, or -errno: not placed, not let in). */
static void session_open_placed(struct agentd *d, struct agentd_conn *c, struct pam_req *r,
				const struct agent_service_decision *dec, int placed)
{
	struct agentd_session *s = NULL;
	struct agent_wbuf w;
	int e;

	if (placed < 0) {
		audit_pam(d, c, "session-open", r, false, "cannot place the session in its cgroup",
			  dec->rule, NULL);
		agentd_reply_error(d, c, EACCES,
				   "cannot open a session: cannot place it in %s/agent-%u: %s",
				   agentd_cgroup_root(d), (unsigned)r->id.uid, strerror(-placed));
		return;
	}
	e = agentd_session_open(d, r->id.name, r->id.uid, r->service, c->cred.pid, &s);
	if (e < 0) {
		audit_pam(d, c, "session-open", r, false,
			  e == -EMFILE ? "too many sessions" : "cannot track the session process",
			  dec->rule, NULL);
		agentd_reply_error(d, c, e == -EMFILE ? EAGAIN : -e, "cannot open a session: %s",
				   e == -EMFILE ? "too many sessions" : strerror(-e));
		return;
	}
	audit_pam_risk(d, c, "session-open", r, true, dec->reason, dec->rule, s, dec);
	agent_wire_begin(&w, AGENT_MSG_SESSION);
	agent_wire_str(&w, AGENT_A_NAME, r->id.name);
	agent_wire_str(&w, AGENT_A_PURPOSE, r->id.purpose);
	agent_wire_u64(&w, AGENT_A_EXPIRES, (uint64_t)r->id.expires);
	agent_wire_u64(&w, AGENT_A_SESSION_ID, s->id);
	if (r->id.subject[0])
		agent_wire_str(&w, AGENT_A_SUBJECT, r->id.subject);
	agent_wire_str(&w, AGENT_A_RISK, agent_risk_str(r->id.risk));
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

static void placing_free(struct agentd_placing *p)
{
	char **v[] = {
		&p->name, &p->service, &p->tty, &p->rhost, &p->ruser, &p->command, &p->runas
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		free(*v[i]);
	free(p);
}

/* A copy of what r says, or NULL (out of memory). */
static struct agentd_placing *placing_new(const struct pam_req *r,
					  const struct agent_service_decision *dec)
{
	struct agentd_placing *p = calloc(1, sizeof(*p));
	const char *from[] = {
		r->name, r->service, r->tty, r->rhost, r->ruser, r->command, r->runas
	};
	char **to[7];

	if (!p)
		return NULL;
	to[0] = &p->name, to[1] = &p->service, to[2] = &p->tty, to[3] = &p->rhost;
	to[4] = &p->ruser, to[5] = &p->command, to[6] = &p->runas;
	for (size_t i = 0; i < 7; i++)
		if (from[i] && !(*to[i] = strdup(from[i]))) {
			placing_free(p);
			return NULL;
		}
	p->kind = W_PLACE;
	p->dec = *dec;
	return p;
}

void agentd_session_placed(struct agentd *d, struct agentd_placing *p)
{
	struct agentd_conn *c = p->conn;
	struct pam_req r = { .name = p->name,
			     .service = p->service,
			     .tty = p->tty,
			     .rhost = p->rhost,
			     .ruser = p->ruser,
			     .command = p->command,
			     .runas = p->runas };
	struct agent_now now;
	int e;

	epoll_ctl(d->epfd, EPOLL_CTL_DEL, p->rfd, NULL);
	e = agentd_cgroup_place_finish(p->rfd, p->child);
	LIST_REMOVE(p, link);
	if (c) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		uint64_t saved = d->audit.nreq;
		bool was_in_req = d->audit.in_req;

		/* Its records carry the request's req= number, as if answered
		 * when it came. */
		d->audit.nreq = p->nreq;
		d->audit.in_req = true;
		c->placing = NULL;
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, c->fd, &ev);
		/* As it is now: retired or past its deadline meanwhile, the
		 * session is not let in (its process, placed, dies with it). */
		agent_now(&now);
		r.found = agent_store_get(d->store, r.name, &r.id) == 0;
		if (r.found)
			(void)agentd_deferred_overlay(d, &r.id);
		if (!r.found || r.id.state != AGENT_STATE_LIVE ||
		    !agent_is_live(false, r.id.expires, r.id.expires_boot_ns, &now)) {
			audit_pam(d, c, "session-open", &r, false,
				  "retired while its session was being placed", p->dec.rule, NULL);
			agentd_reply_error(d, c, EKEYEXPIRED, "%s is retired", r.name);
		} else {
			session_open_placed(d, c, &r, &p->dec, e);
		}
		d->audit.nreq = saved;
		d->audit.in_req = was_in_req;
		agentd_conn_flush(d, c);
	}
	placing_free(p);
}

void agentd_placing_conn_gone(struct agentd *d, struct agentd_conn *c)
{
	(void)d;
	if (c->placing) {
		c->placing->conn = NULL;
		c->placing = NULL;
	}
}

void agentd_placings_forget(struct agentd *d)
{
	struct agentd_placing *p;

	while ((p = LIST_FIRST(&d->placings))) {
		if (p->conn)
			p->conn->placing = NULL;
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, p->rfd, NULL);
		(void)agentd_cgroup_place_finish(p->rfd, p->child); /* a write: bounded */
		LIST_REMOVE(p, link);
		placing_free(p);
	}
}

void agentd_h_session_open(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	struct agent_service_decision dec;
	struct epoll_event ev = { .events = EPOLLIN };
	struct agentd_placing *p;
	struct pam_req r;
	pid_t child;
	int e, rfd;

	if (!pam_req_get(d, c, m, &r) || !decide_stage(d, c, "session-open", &r, &dec))
		return;
	/* The session's process and all it starts are the identity's cgroup's
	 * (agentd's own runner excepted: it starts its command in the cgroup
	 * and outlives it to report its status). Not placed, not let in. */
	if (agentd_run_is_runner(d, c->cred.pid)) {
		session_open_placed(d, c, &r, &dec, 0);
		return;
	}
	e = agentd_cgroup_place_start(d, &r.id, c->cred.pid, &rfd, &child);
	if (e != 0) {
		session_open_placed(d, c, &r, &dec, e > 0 ? 0 : e);
		return;
	}
	p = placing_new(&r, &dec);
	ev.data.ptr = p;
	if (!p || epoll_ctl(d->epfd, EPOLL_CTL_ADD, rfd, &ev) < 0) {
		/* Cannot wait for it: wait here (bounded: one write). */
		if (p)
			placing_free(p);
		session_open_placed(d, c, &r, &dec, agentd_cgroup_place_finish(rfd, child));
		return;
	}
	p->rfd = rfd;
	p->child = child;
	p->conn = c;
	p->nreq = d->audit.nreq;
	c->placing = p;
	/* Nothing more is read from it until the answer (pam_agent waits). */
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	LIST_INSERT_HEAD(&d->placings, p, link);
}

void agentd_h_session_close(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	struct agentd_session *s;
	struct agent_wbuf w;
	struct pam_req r;
	uint64_t sid = 0;

	if (!pam_req_get(d, c, m, &r))
		return;
	agent_msg_u64(m, AGENT_A_SESSION_ID, &sid);
	s = agentd_session_find(d, sid);
	if (!s || strcmp(s->name, r.name) != 0) {
		agentd_reply_error(d, c, ENOENT, "no such session");
		return;
	}
	agentd_audit_session_end(d, s, "closed");
	agentd_session_free(d, s);
	agent_wire_begin(&w, AGENT_MSG_OK);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

/* Anyone may ask (sshd runs AuthorizedKeysCommand as an unprivileged
 * user); a public key is not a secret. Only a live identity has one. */
void agentd_h_authorized_keys(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	const char *name = agent_msg_str(m, AGENT_A_NAME);
	struct agent_identity id;
	struct agent_now now;
	struct agent_wbuf w;
	char key[AGENT_SSH_KEY_MAX + 1];

	if (!agent_valid_username(name)) {
		agentd_reply_error(d, c, EINVAL, "invalid user name");
		return;
	}
	agent_now(&now);
	if (agent_store_get(d->store, name, &id) < 0 || agentd_deferred_overlay(d, &id) ||
	    id.state != AGENT_STATE_LIVE ||
	    !agent_is_live(false, id.expires, id.expires_boot_ns, &now) ||
	    agent_store_get_ssh_key(d->store, name, key, sizeof(key)) < 0) {
		agentd_reply_error(d, c, ENOENT, "no key for %s", name);
		return;
	}
	agent_wire_begin(&w, AGENT_MSG_OK);
	agent_wire_str(&w, AGENT_A_SSH_KEY, key);
	agent_wire_u64(&w, AGENT_A_EXPIRES, (uint64_t)id.expires);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}
