/* Step-up approval (see agentd/approval.h).
 *
 * Invariants:
 * - a request is answered at most once, on the connection that asked, and
 *   is freed in the same step (request_end), so an approval is single-use;
 * - an approval applies only if, when the approver's re-authentication
 *   ends, the request is still pending and the approver still may decide
 *   it under the configuration in force then;
 * - a request that needs two approvals (a critical action) is answered
 *   only after the second, from an approver other than the first;
 * - the approver's PAM answers pass only through the re-authentication
 *   child, never through agentd's main process; no token or answer is ever
 *   logged or put in the notify_command's environment;
 * - every wait is bounded: requests by approval_timeout, each relayed
 *   prompt by APPROVER_PROMPT_MS, notify_command by NOTIFY_MS. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>
#include <sodium.h>

#include "agentd/approval.h"
#include "agentd/caller.h"
#include "agentd/conn.h"
#include "agentd/daemon.h"
#include "common/client.h"
#include "common/wire.h"
#include "common/kv.h"
#include "common/liveness.h"
#include "common/text.h"

#define APPROVER_PAM_SERVICE "agentd-approve"
#define APPROVER_PROMPT_MS 120000
#define NOTIFY_MS 10000
#define MAX_PENDING_PER_IDENTITY 16

/* ------------------------------------------------------------ bookkeeping */

/* Approvals already given, for the later stages of the same PAM
 * transaction (agentd_stepup_granted). A small ring: an entry lives until
 * its request's deadline or until newer ones push it out, so the worst
 * case is one more question to a human. agentd is one process with one
 * loop, hence file-level state. */
#define GRANTS_MAX 64
static struct grant {
	char id[AGENT_REQUEST_ID_LEN + 1];
	char name[AGENT_NAME_MAX + 1];
	char service[AGENT_SERVICE_MAX + 1];
	char command[AGENT_COMMAND_MAX + 1];
	char runas[AGENT_NAME_MAX + 1];
	pid_t pid;
	int64_t deadline_boot_ns;
} grants[GRANTS_MAX];
static unsigned grants_next;

static void grant_add(const struct agentd_request *r)
{
	struct grant *g = &grants[grants_next++ % GRANTS_MAX];

	snprintf(g->id, sizeof(g->id), "%s", r->id);
	snprintf(g->name, sizeof(g->name), "%s", r->ident.name);
	snprintf(g->service, sizeof(g->service), "%s", r->service);
	snprintf(g->command, sizeof(g->command), "%s", r->command);
	snprintf(g->runas, sizeof(g->runas), "%s", r->runas);
	g->pid = r->pid;
	g->deadline_boot_ns = r->deadline_boot_ns;
}

static bool same(const char *a, const char *b)
{
	return strcmp(a, b ? b : "") == 0;
}

bool agentd_stepup_granted(struct agentd *d, const char *id, const char *name, const char *service,
			   const char *command, const char *runas, pid_t pid)
{
	struct agent_now now;

	(void)d;
	agent_now(&now);
	for (unsigned i = 0; i < GRANTS_MAX; i++) {
		const struct grant *g = &grants[i];

		if (g->id[0] && strcmp(g->id, id) == 0 && same(g->name, name) &&
		    same(g->service, service) && same(g->command, command) &&
		    same(g->runas, runas) && g->pid == pid && g->deadline_boot_ns > now.boot_ns)
			return true;
	}
	return false;
}

static struct agentd_request *request_find(struct agentd *d, const char *id)
{
	struct agentd_request *r;

	LIST_FOREACH(r, &d->requests, link)
	if (strcmp(r->id, id) == 0)
		return r;
	return NULL;
}

/* Six characters without look-alikes (no 0/o, 1/l/i). */
static void request_new_id(struct agentd *d, char out[AGENT_REQUEST_ID_LEN + 1])
{
	static const char alphabet[] = "23456789abcdefghjkmnpqrstuvwxyz";

	do {
		for (int i = 0; i < AGENT_REQUEST_ID_LEN; i++)
			out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
		out[AGENT_REQUEST_ID_LEN] = '\0';
	} while (request_find(d, out));
}

static void arm_timer(struct agentd *d)
{
	struct itimerspec t = { 0 };
	struct agentd_request *r;
	int64_t first = 0;

	LIST_FOREACH(r, &d->requests, link)
	if (!first || r->deadline_boot_ns < first)
		first = r->deadline_boot_ns;
	if (first) {
		t.it_value.tv_sec = first / 1000000000LL;
		t.it_value.tv_nsec = first % 1000000000LL;
		if (!t.it_value.tv_sec && !t.it_value.tv_nsec)
			t.it_value.tv_nsec = 1;
	}
	timerfd_settime(d->tstepup_fd, TFD_TIMER_ABSTIME, &t, NULL);
}

static void audit_request(struct agentd *d, const char *event, const struct agentd_request *r,
			  const char *decision, const char *approver, const char *reason)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), event);
	if (decision)
		agent_kv_str(&kv, "decision", decision);
	agent_kv_str(&kv, "request", r->id);
	agent_audit_identity(&kv, &r->ident);
	agent_kv_str(&kv, "service", r->service);
	if (r->command[0])
		agent_kv_str(&kv, "command", r->command);
	if (r->tty[0])
		agent_kv_str(&kv, "tty", r->tty);
	if (r->rhost[0])
		agent_kv_str(&kv, "rhost", r->rhost);
	if (r->ruser[0])
		agent_kv_str(&kv, "ruser", r->ruser);
	if (r->runas[0])
		agent_kv_str(&kv, "runas", r->runas);
	agent_kv_u64(&kv, "pid", (uint64_t)r->pid);
	if (r->rule[0])
		agent_kv_str(&kv, "rule", r->rule);
	agent_kv_str(&kv, "action_risk", agent_risk_str(r->risk));
	if (r->approvals > 1)
		agent_kv_u64(&kv, "approvals", r->napproved);
	if (approver)
		agent_kv_str(&kv, "approver", approver);
	if (reason && reason[0])
		agent_kv_str(&kv, "reason", reason);
	agent_audit_emit(&d->audit, &kv,
			 decision && strcmp(decision, "allow") == 0 ? LOG_NOTICE : LOG_WARNING);
}

/* Answers the waiting module (OK, or ERROR err msg) and forgets r. */
static void request_end(struct agentd *d, struct agentd_request *r, int err, const char *msg)
{
	struct agentd_conn *c = r->conn;
	struct agent_wbuf w;

	LIST_REMOVE(r, link);
	d->nrequests--;
	if (c) {
		c->request = NULL;
		if (err) {
			agentd_reply_error(d, c, err, "%s", msg);
		} else {
			agent_wire_begin(&w, AGENT_MSG_OK);
			agent_wire_str(&w, AGENT_A_MESSAGE, msg);
			if (agent_wire_finish(&w) == 0)
				agentd_reply(d, c, &w);
		}
		c->closing = true;
		agentd_conn_flush(d, c);
	}
	free(r);
	arm_timer(d);
}

/* ------------------------------------------------------------ notify */

/* Runs notify_command with the request in its environment, detached
 * (double fork) and killed after NOTIFY_MS; agentd waits only for the
 * short-lived middle process. */
static void notify(struct agentd *d, const struct agentd_request *r)
{
	const char *cmd = d->cfg->notify_command;
	char when[32], uid[16], pid[16], chain[AGENT_CHAIN_MAX * (AGENT_NAME_MAX + 1) + 1] = "";
	pid_t mid;

	if (!cmd[0])
		return;
	for (unsigned i = 0; i < r->ident.chain_len; i++) {
		strcat(chain, i ? ">" : "");
		strcat(chain, r->ident.chain[i]);
	}
	agent_time_format(r->expires, when, sizeof(when));
	snprintf(uid, sizeof(uid), "%u", r->ident.uid);
	snprintf(pid, sizeof(pid), "%d", (int)r->pid);
	mid = fork();
	if (mid == 0) {
		char *envp[16];
		size_t n = 0;
		char *const argv[] = { (char *)cmd, NULL };
		sigset_t none;
		pid_t p;

#define ENV(k, v)                                                                                  \
	do {                                                                                       \
		if ((v)[0] && asprintf(&envp[n], "AGENTD_%s=%s", k, v) >= 0)                       \
			n++;                                                                       \
	} while (0)
		ENV("REQUEST_ID", r->id);
		ENV("IDENTITY", r->ident.name);
		ENV("UID", uid);
		ENV("PURPOSE", r->ident.purpose);
		ENV("SUBJECT", r->ident.subject);
		ENV("CHAIN", chain);
		ENV("SERVICE", r->service);
		ENV("COMMAND", r->command);
		ENV("RUNAS", r->runas);
		ENV("TTY", r->tty);
		ENV("RHOST", r->rhost);
		ENV("PID", pid);
		ENV("EXPIRES", when);
		ENV("RISK", agent_risk_str(r->risk));
		ENV("APPROVALS", r->approvals > 1 ? "2" : "1");
#undef ENV
		envp[n++] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";
		envp[n] = NULL;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		p = fork();
		if (p == 0) {
			int null = open("/dev/null", O_RDWR | O_CLOEXEC);

			setsid();
			if (null >= 0) {
				dup2(null, 0);
				dup2(null, 1);
			}
			close_range(3, ~0U, 0);
			execve(cmd, argv, envp);
			_exit(127);
		}
		if (p > 0) {
			/* Second generation: reparented, bounded, then gone. */
			if (fork() == 0) {
				for (int t = 0; t < NOTIFY_MS / 100; t++) {
					if (waitpid(p, NULL, WNOHANG) == p)
						_exit(0);
					usleep(100000);
				}
				kill(p, SIGKILL);
				waitpid(p, NULL, 0);
				_exit(0);
			}
		}
		_exit(0);
	}
	if (mid > 0)
		while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
			;
}

/* ------------------------------------------------------------ begin */

void agentd_stepup_begin(struct agentd *d, struct agentd_conn *c, const struct agent_identity *id,
			 const struct agentd_stepup_items *it)
{
	struct agentd_request *r, *q;
	struct agent_now now;
	struct agent_wbuf w;
	unsigned mine = 0;
	char msg[AGENT_MESSAGE_MAX], when[32];

	LIST_FOREACH(q, &d->requests, link)
	mine += strcmp(q->ident.name, id->name) == 0;
	if (d->nrequests >= d->cfg->max_pending || mine >= MAX_PENDING_PER_IDENTITY || c->request) {
		agentd_reply_error(d, c, EAGAIN, "too many pending approval requests");
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		agentd_reply_error(d, c, ENOMEM, "out of memory");
		return;
	}
	request_new_id(d, r->id);
	r->conn = c;
	r->ident = *id;
	snprintf(r->service, sizeof(r->service), "%s", it->service ? it->service : "");
	snprintf(r->command, sizeof(r->command), "%s", it->command ? it->command : "");
	snprintf(r->tty, sizeof(r->tty), "%s", it->tty ? it->tty : "");
	snprintf(r->rhost, sizeof(r->rhost), "%s", it->rhost ? it->rhost : "");
	snprintf(r->ruser, sizeof(r->ruser), "%s", it->ruser ? it->ruser : "");
	snprintf(r->rule, sizeof(r->rule), "%s", it->rule ? it->rule : "");
	snprintf(r->runas, sizeof(r->runas), "%s", it->runas ? it->runas : "");
	r->risk = it->risk;
	r->approvals = it->approvals > 1 ? 2 : 1;
	r->pid = c->cred.pid;
	agent_now(&now);
	r->created = now.real;
	r->expires = now.real + (int64_t)d->cfg->approval_timeout;
	if (r->expires > id->expires)
		r->expires = id->expires; /* a request never outlives its identity */
	r->deadline_boot_ns = now.boot_ns + (r->expires - now.real) * 1000000000LL;
	LIST_INSERT_HEAD(&d->requests, r, link);
	d->nrequests++;
	c->request = r;
	arm_timer(d);
	audit_request(d, "stepup-request", r, NULL, NULL, NULL);

	agent_time_format(r->expires, when, sizeof(when));
	snprintf(msg, sizeof(msg),
		 "Approval required%s: request %s (%s%s%.240s%s%s%s%s) until %s. An approver "
		 "runs: agentctl approve %s",
		 r->approvals > 1 ? " by two approvers" : "", r->id, r->service,
		 r->command[0] ? " " : "", r->command, r->runas[0] ? " as " : "", r->runas,
		 r->risk > AGENT_RISK_LOW ? ", risk " : "",
		 r->risk > AGENT_RISK_LOW ? agent_risk_str(r->risk) : "", when, r->id);
	agent_wire_begin(&w, AGENT_MSG_STEPUP);
	agent_wire_str(&w, AGENT_A_REQUEST_ID, r->id);
	agent_wire_u64(&w, AGENT_A_EXPIRES, (uint64_t)r->expires);
	agent_wire_str(&w, AGENT_A_MESSAGE, msg);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
	notify(d, r);
}

/* ------------------------------------------------------------ agentctl */

/* May this (resolved) caller decide r now, given who approved it already? */
static bool may_approve(struct agentd *d, const struct caller_ctx *cc,
			const struct agentd_request *r, char *why, size_t whylen)
{
	return agent_policy_may_approve_risk(d->cfg, &cc->c, &r->ident, r->risk,
					     (const char(*)[AGENT_NAME_MAX + 1]) r->approved_by,
					     r->napproved, why, whylen);
}

/* Resolves the caller and checks it may decide r; replies EPERM and audits
 * a refusal otherwise. */
static bool may_decide(struct agentd *d, struct agentd_conn *c, const struct agentd_request *r,
		       struct caller_ctx *cc, const char *action)
{
	char why[160], lbl[32];
	bool ok;

	agentd_caller_resolve(d, &c->cred, cc);
	if (cc->c.uid == 0 && !cc->c.user[0])
		snprintf(cc->c.user, sizeof(cc->c.user), "root");
	if (cc->retired_agent) {
		snprintf(why, sizeof(why), "agent identities never approve");
		ok = false;
	} else {
		ok = may_approve(d, cc, r, why, sizeof(why));
	}
	if (!ok) {
		audit_request(d, "stepup-refused", r, "deny",
			      agentd_caller_label(cc, lbl, sizeof(lbl)), why);
		agentd_reply_error(d, c, EPERM, "cannot %s %s: %s", action, r->id, why);
	}
	return ok;
}

static void put_request(struct agent_wbuf *w, const struct agentd_request *r)
{
	agent_wire_begin(w, AGENT_MSG_REQUEST);
	agent_wire_str(w, AGENT_A_REQUEST_ID, r->id);
	agent_wire_str(w, AGENT_A_NAME, r->ident.name);
	agent_wire_u64(w, AGENT_A_UID, r->ident.uid);
	agent_wire_str(w, AGENT_A_PURPOSE, r->ident.purpose);
	if (r->ident.subject[0])
		agent_wire_str(w, AGENT_A_SUBJECT, r->ident.subject);
	for (unsigned i = 0; i < r->ident.chain_len && i < AGENT_CHAIN_MAX; i++)
		agent_wire_str(w, AGENT_A_CHAIN, r->ident.chain[i]);
	agent_wire_str(w, AGENT_A_SERVICE, r->service);
	if (r->command[0])
		agent_wire_str(w, AGENT_A_COMMAND, r->command);
	if (r->tty[0])
		agent_wire_str(w, AGENT_A_TTY, r->tty);
	if (r->rhost[0])
		agent_wire_str(w, AGENT_A_RHOST, r->rhost);
	if (r->ruser[0])
		agent_wire_str(w, AGENT_A_RUSER, r->ruser);
	if (r->runas[0])
		agent_wire_str(w, AGENT_A_RUNAS, r->runas);
	agent_wire_u64(w, AGENT_A_PID, (uint64_t)r->pid);
	agent_wire_u64(w, AGENT_A_CREATED, (uint64_t)r->created);
	agent_wire_u64(w, AGENT_A_EXPIRES, (uint64_t)r->expires);
	if (r->rule[0])
		agent_wire_str(w, AGENT_A_RULE, r->rule);
	agent_wire_str(w, AGENT_A_RISK, agent_risk_str(r->risk));
	agent_wire_u64(w, AGENT_A_APPROVALS, r->approvals);
	for (unsigned i = 0; i < r->napproved && i < 2; i++)
		agent_wire_str(w, AGENT_A_APPROVER, r->approved_by[i]);
}

void agentd_h_pending(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	struct agentd_request *r;
	struct caller_ctx cc;
	struct agent_wbuf w;
	char why[160];

	(void)m;
	agentd_caller_resolve(d, &c->cred, &cc);
	if (cc.c.uid == 0 && !cc.c.user[0])
		snprintf(cc.c.user, sizeof(cc.c.user), "root");
	LIST_FOREACH(r, &d->requests, link)
	{
		/* Root sees every request; an approver those it may decide. */
		if (cc.c.uid != 0 &&
		    (cc.retired_agent || !may_approve(d, &cc, r, why, sizeof(why))))
			continue;
		put_request(&w, r);
		if (agent_wire_finish(&w) == 0)
			agentd_reply(d, c, &w);
	}
	agent_wire_begin(&w, AGENT_MSG_END);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

static struct agentd_request *decide_get(struct agentd *d, struct agentd_conn *c,
					 const struct agent_msg *m, const char **reason)
{
	const char *id = agent_msg_str(m, AGENT_A_REQUEST_ID);
	struct agentd_request *r;

	*reason = agent_msg_str(m, AGENT_A_REASON);
	if (*reason && !agent_valid_text(*reason, AGENT_REASON_MAX)) {
		agentd_reply_error(d, c, EINVAL, "invalid --reason");
		return NULL;
	}
	r = id ? request_find(d, id) : NULL;
	if (!r)
		agentd_reply_error(d, c, ENOENT, "no pending request %s", id ? id : "");
	return r;
}

void agentd_h_deny(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	const char *reason;
	struct agentd_request *r = decide_get(d, c, m, &reason);
	struct caller_ctx cc;
	struct agent_wbuf w;
	char msg[AGENT_REASON_MAX + 96];

	if (!r || !may_decide(d, c, r, &cc, "deny"))
		return;
	audit_request(d, "stepup-deny", r, "deny", cc.c.user, reason);
	snprintf(msg, sizeof(msg), "request %s denied by %s%s%s", r->id, cc.c.user,
		 reason ? ": " : "", reason ? reason : "");
	request_end(d, r, EACCES, msg);
	agent_wire_begin(&w, AGENT_MSG_OK);
	agent_wire_str(&w, AGENT_A_MESSAGE, "denied");
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

/* ------------------------------------------------------------ re-authentication */

struct job_result {
	int32_t ok;
	char message[160];
};

struct conv_ctx {
	int fd;
};

/* The approver's conversation, relayed over its agentctl connection. */
static int relay_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct conv_ctx *cx = data;
	struct pam_response *out;
	uint8_t buf[AGENT_WIRE_MAX];
	struct agent_wbuf w;
	struct agent_msg m;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	out = calloc((size_t)n, sizeof(*out));
	if (!out)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		int style = msg[i]->msg_style;
		const char *text;

		agent_wire_begin(&w, AGENT_MSG_PROMPT);
		agent_wire_u64(&w, AGENT_A_STYLE, (uint64_t)style);
		if (msg[i]->msg && msg[i]->msg[0] && strlen(msg[i]->msg) <= AGENT_CONV_TEXT_MAX)
			agent_wire_str(&w, AGENT_A_TEXT, msg[i]->msg);
		if (agent_wire_finish(&w) < 0 || agent_client_send(cx->fd, &w, 5000) < 0)
			goto fail;
		if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON)
			continue;
		if (agent_client_recv(cx->fd, buf, &m, APPROVER_PROMPT_MS) < 0 ||
		    m.type != AGENT_MSG_PROMPT_REPLY)
			goto fail;
		text = agent_msg_str(&m, AGENT_A_TEXT);
		out[i].resp = strdup(text ? text : "");
		sodium_memzero(buf, sizeof(buf));
		if (!out[i].resp)
			goto fail;
	}
	*resp = out;
	return PAM_SUCCESS;
fail:
	sodium_memzero(buf, sizeof(buf));
	for (int i = 0; i < n; i++)
		if (out[i].resp) {
			sodium_memzero(out[i].resp, strlen(out[i].resp));
			free(out[i].resp);
		}
	free(out);
	return PAM_CONV_ERR;
}

static _Noreturn void job_child(const char *approver, int cfd, int wfd)
{
	struct conv_ctx cx = { .fd = cfd };
	struct pam_conv conv = { relay_conv, &cx };
	struct job_result res = { 0 };
	pam_handle_t *h = NULL;
	sigset_t none;
	int rc;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Only the approver's connection and the result pipe stay open; the
	 * syslog connection is dropped first so that PAM's log lines never go
	 * to a descriptor that later reuses its number (see agentd/run.c). */
	closelog();
	{
		unsigned lo = (unsigned)(cfd < wfd ? cfd : wfd),
			 hi = (unsigned)(cfd < wfd ? wfd : cfd);

		if (lo > 3)
			close_range(3, lo - 1, 0);
		if (hi > lo + 1)
			close_range(lo + 1, hi - 1, 0);
		close_range(hi + 1, ~0U, 0);
	}
	rc = pam_start(APPROVER_PAM_SERVICE, approver, &conv, &h);
	if (rc == PAM_SUCCESS)
		rc = pam_authenticate(h, 0);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(h, 0);
	res.ok = rc == PAM_SUCCESS;
	snprintf(res.message, sizeof(res.message), "%s", pam_strerror(h, rc));
	if (h)
		pam_end(h, rc);
	if (write(wfd, &res, sizeof(res)) < 0)
		_exit(1);
	_exit(0);
}

void agentd_h_approve(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m)
{
	const char *reason;
	struct agentd_request *r = decide_get(d, c, m, &reason);
	struct agentd_approval_job *j;
	struct epoll_event ev = { .events = EPOLLIN };
	struct caller_ctx cc;
	int p[2];

	if (!r || !may_decide(d, c, r, &cc, "approve"))
		return;
	if (r->deciding) {
		agentd_reply_error(d, c, EBUSY, "another approver is deciding %s", r->id);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j || pipe2(p, O_CLOEXEC) < 0) {
		free(j);
		agentd_reply_error(d, c, EIO, "cannot start the re-authentication");
		return;
	}
	j->kind = W_APPROVER;
	snprintf(j->request, sizeof(j->request), "%s", r->id);
	snprintf(j->approver, sizeof(j->approver), "%s", cc.c.user);
	snprintf(j->reason, sizeof(j->reason), "%s", reason ? reason : "");
	/* Replies already queued on c go out before the child talks on it. */
	agentd_conn_flush(d, c);
	j->pid = fork();
	if (j->pid == 0) {
		agentd_forget_keys(d); /* the site's PAM modules run here */
		close(p[0]);
		job_child(j->approver, c->fd, p[1]);
	}
	close(p[1]);
	if (j->pid < 0) {
		close(p[0]);
		free(j);
		agentd_reply_error(d, c, EIO, "cannot start the re-authentication");
		return;
	}
	j->rfd = p[0];
	ev.data.ptr = j;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, j->rfd, &ev);
	/* The child owns the conversation until it reports. */
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	j->conn = c;
	c->job = j;
	r->deciding = true;
	LIST_INSERT_HEAD(&d->jobs, j, link);
}

void agentd_approval_job_done(struct agentd *d, struct agentd_approval_job *j)
{
	struct job_result res = { 0 };
	struct agentd_request *r = request_find(d, j->request);
	struct agentd_conn *c = j->conn;
	struct agent_wbuf w;
	struct caller_ctx cc;
	char msg[AGENT_REASON_MAX + 96], why[160];
	ssize_t n;

	do
		n = read(j->rfd, &res, sizeof(res));
	while (n < 0 && errno == EINTR);
	res.message[sizeof(res.message) - 1] = '\0';
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, j->rfd, NULL);
	close(j->rfd);
	while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
		;
	LIST_REMOVE(j, link);
	if (r)
		r->deciding = false;
	if (c) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		c->job = NULL;
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, c->fd, &ev);
	}

	if (n != (ssize_t)sizeof(res) || !res.ok) {
		if (r)
			audit_request(d, "stepup-refused", r, "deny", j->approver,
				      "the approver failed re-authentication");
		if (c)
			agentd_reply_error(d, c, EACCES, "re-authentication of %s failed: %s",
					   j->approver,
					   n == (ssize_t)sizeof(res) ? res.message : "no answer");
	} else if (!r) {
		if (c)
			agentd_reply_error(d, c, ENOENT, "request %s is no longer pending",
					   j->request);
	} else {
		/* Decide under the policy in force now. */
		bool ok = c != NULL;

		if (c) {
			agentd_caller_resolve(d, &c->cred, &cc);
			ok = !cc.retired_agent && may_approve(d, &cc, r, why, sizeof(why));
		}
		if (!ok) {
			audit_request(d, "stepup-refused", r, "deny", j->approver,
				      c ? why : "agentctl went away");
			if (c)
				agentd_reply_error(d, c, EPERM, "cannot approve %s: %s", r->id,
						   why);
		} else if (r->napproved + 1 < r->approvals) {
			/* The first of two: recorded, still pending. */
			snprintf(r->approved_by[r->napproved], sizeof(r->approved_by[0]), "%s",
				 j->approver);
			r->napproved++;
			audit_request(d, "stepup-approve", r, "partial", j->approver, j->reason);
			snprintf(msg, sizeof(msg),
				 "approval %u of %u recorded for request %s; it "
				 "needs another approver",
				 r->napproved, r->approvals, r->id);
			agent_wire_begin(&w, AGENT_MSG_OK);
			agent_wire_str(&w, AGENT_A_MESSAGE, msg);
			if (agent_wire_finish(&w) == 0)
				agentd_reply(d, c, &w);
		} else {
			if (r->napproved < 2)
				snprintf(r->approved_by[r->napproved++], sizeof(r->approved_by[0]),
					 "%s", j->approver);
			audit_request(d, "stepup-approve", r, "allow", j->approver, j->reason);
			grant_add(r);
			snprintf(msg, sizeof(msg), "request %s approved by %s", r->id, j->approver);
			request_end(d, r, 0, msg);
			agent_wire_begin(&w, AGENT_MSG_OK);
			agent_wire_str(&w, AGENT_A_MESSAGE, "approved");
			if (agent_wire_finish(&w) == 0)
				agentd_reply(d, c, &w);
		}
	}
	if (c)
		agentd_conn_flush(d, c);
	free(j);
}

/* ------------------------------------------------------------ ends */

void agentd_stepup_expire(struct agentd *d)
{
	struct agent_now now;
	uint64_t ticks;

	if (read(d->tstepup_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		agent_audit_log(&d->audit, LOG_ERR, "timerfd: %m");
	agent_now(&now);
	for (struct agentd_request *r = LIST_FIRST(&d->requests), *next; r; r = next) {
		next = LIST_NEXT(r, link);
		if (r->deadline_boot_ns > now.boot_ns && r->expires > now.real)
			continue;
		audit_request(d, "stepup-timeout", r, "deny", NULL,
			      "no decision before the deadline");
		request_end(d, r, ETIMEDOUT, "no approval before the deadline");
	}
	arm_timer(d);
}

void agentd_stepup_retired(struct agentd *d, const char *name)
{
	for (struct agentd_request *r = LIST_FIRST(&d->requests), *next; r; r = next) {
		next = LIST_NEXT(r, link);
		if (strcmp(r->ident.name, name) != 0)
			continue;
		audit_request(d, "stepup-cancel", r, "deny", NULL, "the identity retired");
		request_end(d, r, EKEYEXPIRED, "the identity retired while waiting for approval");
	}
}

void agentd_stepup_conn_gone(struct agentd *d, struct agentd_conn *c)
{
	if (c->request) {
		struct agentd_request *r = c->request;

		r->conn = NULL;
		c->request = NULL;
		audit_request(d, "stepup-cancel", r, "deny", NULL,
			      "the requesting PAM application went away");
		request_end(d, r, 0, "");
	}
	if (c->job) {
		c->job->conn = NULL;
		c->job = NULL;
	}
}

void agentd_stepup_forget(struct agentd *d)
{
	struct agentd_request *r;
	struct agentd_approval_job *j;

	memset(grants, 0, sizeof(grants));

	while ((r = LIST_FIRST(&d->requests))) {
		if (r->conn)
			r->conn->request = NULL;
		LIST_REMOVE(r, link);
		free(r);
	}
	d->nrequests = 0;
	while ((j = LIST_FIRST(&d->jobs))) {
		if (j->conn)
			j->conn->job = NULL;
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		close(j->rfd);
		LIST_REMOVE(j, link);
		free(j);
	}
}
