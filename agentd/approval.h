/* Step-up approval: pending requests and the approvers' decisions.
 *
 * When the policy says "approve" for an account decision, pam_agent's
 * connection becomes a pending request: agentd answers STEPUP (the request
 * id and its deadline) and keeps the connection until a decision, then
 * answers OK or ERROR on it. A request is bound to that connection, so the
 * approval reaches exactly the PAM transaction (the sudo) that asked, and
 * only once. It ends with the first of: an approval, a denial, its
 * deadline (approval_timeout), its identity retiring, or the connection
 * closing (the sudo gave up); each end is one audit record.
 *
 * A critical action needs two approvals by two distinct approvers, neither
 * in the identity's delegation chain (agent_policy_may_approve_risk); the
 * request stays pending after the first.
 *
 * An approval counts only after agentd itself re-authenticates the approver
 * through the PAM service "agentd-approve": a forked child runs that
 * transaction with a conversation relayed to agentctl over the approver's
 * own connection (PROMPT / PROMPT_REPLY), so the approver's answers never
 * pass through agentd's main process. A denial needs no re-authentication.
 *
 * Requests live in memory only: after a restart of agentd every waiting
 * module has lost its connection and denies. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include "common/identity.h"
#include "common/limits.h"

struct agentd;
struct agentd_conn;
struct caller_ctx;
struct agent_msg;

struct agentd_request {
	char id[AGENT_REQUEST_ID_LEN + 1];
	struct agentd_conn *conn; /* the waiting pam_agent */
	struct agent_identity ident;
	char service[AGENT_SERVICE_MAX + 1];
	char command[AGENT_COMMAND_MAX + 1]; /* "" = unknown */
	char tty[AGENT_TTY_MAX + 1];
	char rhost[AGENT_RHOST_MAX + 1];
	char ruser[AGENT_RUSER_MAX + 1];
	char runas[AGENT_NAME_MAX + 1]; /* sudo's run-as user; "" = unknown or not sudo */
	char rule[AGENT_RULE_TEXT_MAX + 1];
	enum agent_risk risk; /* of the action (agent_policy_sudo) */
	unsigned approvals;   /* approvers needed: 1, or 2 for a critical action */
	char approved_by[2][AGENT_NAME_MAX + 1]; /* distinct approvers so far */
	unsigned napproved;
	pid_t pid;                /* of the PAM application */
	int64_t created, expires; /* unix seconds */
	int64_t deadline_boot_ns;
	bool deciding; /* an approver is re-authenticating */
	LIST_ENTRY(agentd_request) link;
};

/* An approver's re-authentication in a child process. */
struct agentd_approval_job {
	int kind; /* W_APPROVER: first member, epoll data points here */
	pid_t pid;
	int rfd;
	struct agentd_conn *conn; /* the approver's agentctl, out of epoll meanwhile */
	char request[AGENT_REQUEST_ID_LEN + 1];
	char approver[AGENT_NAME_MAX + 1];
	char reason[AGENT_REASON_MAX + 1];
	LIST_ENTRY(agentd_approval_job) link;
};

/* What pam_agent's request carried, for the record. */
struct agentd_stepup_items {
	const char *service, *command, *tty, *rhost, *ruser, *rule, *runas;
	enum agent_risk risk; /* of the action */
	unsigned approvals;   /* approvers it needs (0 = 1) */
};

/* Was request id approved for this identity, service, command and run-as
 * user, for the PAM application pid, and is it still within its deadline?
 * A later stage of the same PAM transaction (the same sudo) reuses the
 * approval its first stage got, so a human is asked once per action. */
bool agentd_stepup_granted(struct agentd *d, const char *id, const char *name, const char *service,
			   const char *command, const char *runas, pid_t pid);

/* Makes c a pending request for identity id and answers STEPUP on it; or
 * answers ERROR (too many pending). */
void agentd_stepup_begin(struct agentd *d, struct agentd_conn *c, const struct agent_identity *id,
			 const struct agentd_stepup_items *it);
/* PENDING, APPROVE and DENY from agentctl. */
void agentd_h_pending(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
void agentd_h_approve(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
void agentd_h_deny(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
/* An approver's re-authentication child reported (or died). */
void agentd_approval_job_done(struct agentd *d, struct agentd_approval_job *j);
/* Timer: ends requests past their deadline; re-arms for the next. */
void agentd_stepup_expire(struct agentd *d);
/* The identity retired: its pending requests are denied. */
void agentd_stepup_retired(struct agentd *d, const char *name);
/* A connection is being freed: a request waiting on it is cancelled; a job
 * using it loses it. */
void agentd_stepup_conn_gone(struct agentd *d, struct agentd_conn *c);
/* Daemon shutdown: forget everything (the modules see the socket close). */
void agentd_stepup_forget(struct agentd *d);
