/* pam_agent's decisions (see common/pam_decide.h and pam_agent(8)).
 *
 * No static state, nothing on stdout, the socket is SOCK_CLOEXEC and closed
 * before returning, token bytes are wiped from every buffer this file
 * owns. Every failure of a call made here (allocation, open, fstat, the
 * snapshot's shmat, socket, send, receive, poll) ends in a refusal for a user in the agent
 * namespace, never in PAM_IGNORE or success (tests/unit/test_pam_decide.c
 * fails each in turn). */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/client.h"
#include "common/clock.h"
#include "common/pam_decide.h"
#include "common/snapshot.h"
#include "common/text.h"
#include "common/wire.h"

#define PA_SUDO "/usr/bin/sudo"

__attribute__((format(printf, 3, 4))) static void logf_(const struct pa_host *h, int prio,
							const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	h->log(h->ctx, prio, line);
}

/* "MIN-MAX", decimal, MIN <= MAX. */
static bool parse_uids(const char *s, uint32_t *lo, uint32_t *hi)
{
	unsigned long a, b;
	char *end;

	errno = 0;
	a = strtoul(s, &end, 10);
	if (errno || end == s || *end != '-' || s[0] == '-')
		return false;
	s = end + 1;
	b = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || a < 1 || b > 0x7fffffffUL || a > b)
		return false;
	*lo = (uint32_t)a;
	*hi = (uint32_t)b;
	return true;
}

void pa_parse_args(const struct pa_host *h, int argc, const char **argv, const char *socket,
		   const char *snapshot, struct pa_args *a)
{
	memset(a, 0, sizeof(*a));
	a->socket = socket;
	a->snapshot = snapshot;
	a->sudo = PA_SUDO;
	snprintf(a->prefix, sizeof(a->prefix), "%s", PA_DEFAULT_PREFIX);
	a->uid_min = PA_DEFAULT_UID_MIN;
	a->uid_max = PA_DEFAULT_UID_MAX;
	a->timeout_ms = PA_DEFAULT_TIMEOUT_MS;
	a->approval_max_s = 3605; /* agentd's approval_timeout is at most 1h */
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];

		if (strncmp(arg, "socket=", 7) == 0 && arg[7] == '/' && strlen(arg + 7) < 108) {
			a->socket = arg + 7;
		} else if (strncmp(arg, "timeout=", 8) == 0) {
			char *end;
			long v;

			errno = 0;
			v = strtol(arg + 8, &end, 10);
			if (errno || end == arg + 8 || *end || v < 100 || v > 60000) {
				h->log(h->ctx, LOG_ERR, "bad timeout= (milliseconds, 100-60000)");
				a->bad = true;
			} else {
				a->timeout_ms = (int)v;
			}
		} else if (strncmp(arg, "sudo=", 5) == 0 && arg[5] == '/' &&
			   strlen(arg + 5) <= AGENT_PATH_MAX) {
			a->sudo = arg + 5;
		} else if (strncmp(arg, "prefix=", 7) == 0) {
			if (!agent_valid_prefix(arg + 7)) {
				h->log(h->ctx, LOG_ERR, "bad prefix= (agentd.conf's name_prefix)");
				a->bad = true;
			} else {
				snprintf(a->prefix, sizeof(a->prefix), "%s", arg + 7);
			}
		} else if (strncmp(arg, "uids=", 5) == 0) {
			if (!parse_uids(arg + 5, &a->uid_min, &a->uid_max)) {
				h->log(h->ctx, LOG_ERR,
				       "bad uids= (MIN-MAX: agentd.conf's uid_min, uid_max)");
				a->bad = true;
			}
		} else if (strcmp(arg, "debug") == 0) {
			a->debug = true;
		} else {
			logf_(h, LOG_ERR, "unknown argument (first 32 bytes): %.32s", arg);
			a->bad = true;
		}
	}
}

bool pa_in_namespace(const struct pa_args *a, const char *user)
{
	struct agent_snap_map map;
	struct agent_snap_entry e;
	struct passwd pw, *pwp = NULL;
	char buf[2048];
	bool snap, in = false;

	if (!user || !agent_valid_username(user))
		return false;
	if (strncmp(user, a->prefix, strlen(a->prefix)) == 0)
		return true;
	snap = agent_snap_open(a->snapshot, 0, &map) == 0;
	/* A name the file cannot answer for (busy past the retry bound, or a
	 * corrupt slot) is decided by its uid alone. */
	if (snap && agent_snap_by_name(&map, user, &e) == 0)
		in = true;
	else if (getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) == 0 && pwp)
		in = (pw.pw_uid >= a->uid_min && pw.pw_uid <= a->uid_max) ||
		     (snap && pw.pw_uid >= map.uid_min && pw.pw_uid - map.uid_min < map.nslots);
	if (snap)
		agent_snap_close(&map);
	return in;
}

/* ------------------------------------------------------------ asking agentd */

/* One request and its first reply, all of it before deadline (monotonic
 * ms). 0, *m (which may be an ERROR reply) and the connection in *fdp (the
 * caller closes it), or -errno when agentd cannot be asked. */
static int ask_open(const struct pa_args *a, int64_t deadline, struct agent_wbuf *w, uint8_t *buf,
		    struct agent_msg *m, int *fdp)
{
	int64_t left;
	int fd, r;

	*fdp = -1;
	if (agent_wire_finish(w) < 0)
		return -EINVAL;
	left = deadline - agent_mono_ms();
	if (left <= 0)
		return -ETIMEDOUT;
	fd = agent_client_connect(a->socket, (int)left);
	if (fd < 0)
		return fd;
	/* Past the deadline, the send and the receive are still tried once:
	 * on a loaded host this process may have slept through its deadline
	 * while agentd answered. */
	r = agent_client_send(fd, w, agent_mono_left_ms(deadline));
	if (r == 0)
		r = agent_client_recv(fd, buf, m, agent_mono_left_ms(deadline));
	if (r < 0) {
		close(fd);
		return r;
	}
	*fdp = fd;
	return 0;
}

/* agentd could not be asked: deny, say so once to the user and to syslog.
 * Shown even under PAM_SILENT (sudo passes it): only agents see it, and
 * they should learn why they were refused. */
static void unreachable(const struct pa_host *h, const struct pa_args *a, const char *stage,
			const char *user, int err)
{
	logf_(h, LOG_ERR, "%s for %s denied: agentd not usable at %s: %s", stage, user, a->socket,
	      err == -EBADMSG ? "invalid reply" : strerror(-err));
	h->say(h->ctx, "Agent login refused: the agentd service is not available.");
}

/* The ERROR reply's errno and message, or EPROTO if the reply is of an
 * unexpected type. */
static int reply_error(const struct agent_msg *m, const char **msg)
{
	uint64_t e = EPROTO;

	*msg = agent_msg_str(m, AGENT_A_MESSAGE);
	if (m->type == AGENT_MSG_ERROR && agent_msg_u64(m, AGENT_A_ERRNO, &e) && e > 0 &&
	    e < 4096 && *msg)
		return (int)e;
	*msg = "unexpected reply from agentd";
	return EPROTO;
}

/* ------------------------------------------------------------ the transaction */

struct pa_req {
	const struct pa_host *h;
	const struct pa_args *a;
	enum pa_stage st;
	bool silent;
	const char *user; /* the agent the decision is for (the pinned user) */
	struct pa_pin *pin;
	const char *service; /* PAM_SERVICE, "unknown" if unset */
	const char *command; /* sudo's, when trusted; NULL otherwise */
	const char *runas;   /* sudo's run-as user, when trusted; NULL otherwise */
};

static const char *stage_name(enum pa_stage st)
{
	static const char *const names[] = { "auth", "setcred", "account", "session",
					     "session close" };

	return names[st];
}

static bool is_sudo_service(const char *svc)
{
	return svc && (strcmp(svc, "sudo") == 0 || strcmp(svc, "sudo-i") == 0);
}

/* Is this the sudo binary (whose plugin answers getenv() from the command's
 * environment, which sudo builds), running a sudo service? Anywhere else a
 * caller could set the environment: nothing from it is trusted. */
static bool sudo_trusted(const struct pa_host *h, const struct pa_args *a, const char *svc)
{
	char exe[AGENT_PATH_MAX + 1];
	ssize_t n;

	if (!is_sudo_service(svc))
		return false;
	n = h->exe(h->ctx, exe, sizeof(exe) - 1);
	if (n <= 0 || (size_t)n >= sizeof(exe))
		return false;
	exe[n] = '\0';
	return strcmp(exe, a->sudo) == 0;
}

/* sudo's command line and run-as user, from the environment sudo built for
 * the command: SUDO_COMMAND, and USER and LOGNAME, which sudo sets to the
 * run-as user (they must agree; env_keep must not keep them, see
 * agentd --check-host). NULL when unknown. */
static void sudo_context(struct pa_req *q)
{
	const char *cmd, *user, *logname;

	q->command = q->runas = NULL;
	if (!sudo_trusted(q->h, q->a, q->service))
		return;
	cmd = q->h->get_env(q->h->ctx, "SUDO_COMMAND");
	if (cmd && cmd[0] && strlen(cmd) <= AGENT_COMMAND_MAX)
		q->command = cmd;
	user = q->h->get_env(q->h->ctx, "USER");
	logname = q->h->get_env(q->h->ctx, "LOGNAME");
	if (user && logname && strcmp(user, logname) == 0 && agent_valid_username(user))
		q->runas = user;
}

static void put_item(const struct pa_host *h, struct agent_wbuf *w, enum pa_item item,
		     enum agent_attr tag, size_t max)
{
	const char *v = h->get_item(h->ctx, item);
	char cut[AGENT_RHOST_MAX + 1];

	if (!v || !v[0])
		return;
	/* Longer values are cut (agentd escapes every byte before it logs). */
	snprintf(cut, max + 1 < sizeof(cut) ? max + 1 : sizeof(cut), "%s", v);
	agent_wire_str(w, tag, cut);
}

static void put_request(const struct pa_req *q, struct agent_wbuf *w, enum agent_msg_type type)
{
	agent_wire_begin(w, type);
	agent_wire_str(w, AGENT_A_NAME, q->user);
	agent_wire_str(w, AGENT_A_SERVICE, q->service);
	put_item(q->h, w, PA_ITEM_TTY, AGENT_A_TTY, AGENT_TTY_MAX);
	put_item(q->h, w, PA_ITEM_RHOST, AGENT_A_RHOST, AGENT_RHOST_MAX);
	put_item(q->h, w, PA_ITEM_RUSER, AGENT_A_RUSER, AGENT_RUSER_MAX);
	if (q->command)
		agent_wire_str(w, AGENT_A_COMMAND, q->command);
	if (q->runas)
		agent_wire_str(w, AGENT_A_RUNAS, q->runas);
	/* The approval this transaction already got, if it was for this. */
	if (q->pin->grant[0] && strcmp(q->pin->service, q->service) == 0 &&
	    strcmp(q->pin->command, q->command ? q->command : "") == 0 &&
	    strcmp(q->pin->runas, q->runas ? q->runas : "") == 0)
		agent_wire_str(w, AGENT_A_REQUEST_ID, q->pin->grant);
}

/* agentd said a human must approve: show the one line that says how, then
 * wait on the same connection for the decision, until its deadline. 0 and
 * the decision in *m; -errno when no decision came. */
static int wait_approval(const struct pa_req *q, int fd, uint8_t *buf, struct agent_msg *m,
			 char id_out[AGENT_REQUEST_ID_LEN + 1])
{
	const char *id = agent_msg_str(m, AGENT_A_REQUEST_ID);
	const char *line = agent_msg_str(m, AGENT_A_MESSAGE);
	uint64_t expires = 0;
	long long wait_s;

	if (!id || strlen(id) != AGENT_REQUEST_ID_LEN || !line ||
	    !agent_msg_u64(m, AGENT_A_EXPIRES, &expires) || expires > INT64_MAX)
		return -EBADMSG;
	memcpy(id_out, id, AGENT_REQUEST_ID_LEN + 1);
	/* Shown even under PAM_SILENT (sudo passes it): without it the agent
	 * cannot know what to ask for. As an error message, which sudo writes
	 * to stderr (an info message would go into the command's stdout). */
	q->h->say(q->h->ctx, line);
	logf_(q->h, LOG_NOTICE, "%s for %s: waiting for approval of request %s", stage_name(q->st),
	      q->user, id_out);
	wait_s = (long long)expires - (long long)time(NULL) + 5;
	if (wait_s < 1)
		wait_s = 1;
	if (wait_s > q->a->approval_max_s)
		wait_s = q->a->approval_max_s;
	return agent_client_recv(fd, buf, m, (int)(wait_s * 1000));
}

/* Asks agentd this stage's question and waits through a step-up. 0 and the
 * final reply in *m, or -errno (reported here) when there is none. */
static int ask_stage(struct pa_req *q, enum agent_msg_type type, const char *tok, uint8_t *buf,
		     struct agent_msg *m)
{
	struct agent_wbuf w;
	char granted[AGENT_REQUEST_ID_LEN + 1];
	int fd, r;

	put_request(q, &w, type);
	if (tok)
		agent_wire_str(&w, AGENT_A_TOKEN, tok);
	r = ask_open(q->a, agent_mono_ms() + q->a->timeout_ms, &w, buf, m, &fd);
	agent_wire_wipe(&w);
	if (r < 0) {
		unreachable(q->h, q->a, stage_name(q->st), q->user, r);
		return r;
	}
	if (m->type != AGENT_MSG_STEPUP) {
		close(fd);
		return 0;
	}
	r = wait_approval(q, fd, buf, m, granted);
	close(fd);
	if (r == -ETIMEDOUT) {
		logf_(q->h, LOG_ERR, "%s for %s denied: no decision in time", stage_name(q->st),
		      q->user);
		q->h->say(q->h->ctx, "Approval not granted in time.");
		return r;
	}
	if (r < 0) {
		unreachable(q->h, q->a, stage_name(q->st), q->user, r);
		return r;
	}
	if (m->type != AGENT_MSG_OK)
		return 0;
	/* Approved: later stages of this transaction reuse it. */
	memcpy(q->pin->grant, granted, sizeof(granted));
	snprintf(q->pin->service, sizeof(q->pin->service), "%s", q->service);
	snprintf(q->pin->command, sizeof(q->pin->command), "%s", q->command ? q->command : "");
	snprintf(q->pin->runas, sizeof(q->pin->runas), "%s", q->runas ? q->runas : "");
	if (type != AGENT_MSG_SESSION_OPEN)
		return 0;
	/* A session is opened by its own request, now with the approval. */
	put_request(q, &w, type);
	r = ask_open(q->a, agent_mono_ms() + q->a->timeout_ms, &w, buf, m, &fd);
	if (r < 0) {
		unreachable(q->h, q->a, stage_name(q->st), q->user, r);
		return r;
	}
	close(fd);
	return m->type == AGENT_MSG_STEPUP ? -EBADMSG : 0;
}

/* An ERROR (or unexpected) reply as a result; the message shown. */
static enum pa_result refused(const struct pa_req *q, const struct agent_msg *m, bool show)
{
	const char *msg;
	int e = reply_error(m, &msg);

	if (e == EPROTO) {
		unreachable(q->h, q->a, stage_name(q->st), q->user, -EBADMSG);
		return q->st == PA_AUTH ? PA_UNAVAIL : PA_PERM_DENIED;
	}
	if (q->a->debug)
		logf_(q->h, LOG_DEBUG, "%s for %s: %s", stage_name(q->st), q->user, msg);
	if (show)
		q->h->say(q->h->ctx, msg);
	if (q->st == PA_AUTH)
		return PA_AUTH_ERR;
	if (q->st == PA_ACCOUNT && e == EKEYEXPIRED)
		return PA_ACCT_EXPIRED;
	if (q->st == PA_ACCOUNT && e == ENOENT)
		return PA_USER_UNKNOWN;
	return PA_PERM_DENIED;
}

static enum pa_result do_auth(struct pa_req *q)
{
	struct agent_msg m;
	uint8_t buf[AGENT_WIRE_MAX];
	const char *tok = NULL;
	enum pa_result res;
	int r = q->h->get_authtok(q->h->ctx, &tok);

	if (r < 0 || !tok)
		return r == -EAGAIN ? PA_INCOMPLETE : PA_AUTH_ERR;
	if (!tok[0] || strlen(tok) >= AGENT_TOKEN_TEXT_MAX) {
		logf_(q->h, LOG_NOTICE, "auth for %s denied: malformed token", q->user);
		return PA_AUTH_ERR;
	}
	r = ask_stage(q, AGENT_MSG_AUTH, tok, buf, &m);
	if (r < 0)
		res = PA_UNAVAIL; /* a refusal: sudo, su and sshd count it as failed */
	else if (m.type == AGENT_MSG_OK)
		res = PA_OK;
	else
		res = refused(q, &m, true); /* shown: a policy refusal says why */
	memset(buf, 0, sizeof(buf));
	return res;
}

static enum pa_result do_account(struct pa_req *q)
{
	struct agent_msg m;
	uint8_t buf[AGENT_WIRE_MAX];

	/* Every refusal in this stage is shown, even under PAM_SILENT (sudo
	 * passes it): an agent learns why, and what it waited for. */
	if (ask_stage(q, AGENT_MSG_ACCOUNT, NULL, buf, &m) < 0)
		return PA_PERM_DENIED;
	return m.type == AGENT_MSG_OK ? PA_OK : refused(q, &m, true);
}

static int put_env(const struct pa_host *h, const char *key, const char *value)
{
	char kv[128];

	if (snprintf(kv, sizeof(kv), "%s=%s", key, value) >= (int)sizeof(kv))
		return -1;
	return h->put_env(h->ctx, kv);
}

static enum pa_result do_session_open(struct pa_req *q)
{
	struct agent_msg m;
	uint8_t buf[AGENT_WIRE_MAX];
	const char *name, *purpose, *subject, *risk;
	enum agent_risk rv;
	uint64_t expires, sid, *data;
	char when[32];

	if (ask_stage(q, AGENT_MSG_SESSION_OPEN, NULL, buf, &m) < 0)
		return PA_PERM_DENIED; /* fatal for every host, unlike PAM_SESSION_ERR in sudo */
	if (m.type == AGENT_MSG_OK) {
		unreachable(q->h, q->a, "session", q->user, -EBADMSG);
		return PA_PERM_DENIED;
	}
	if (m.type != AGENT_MSG_SESSION)
		return refused(q, &m, !q->silent);
	name = agent_msg_str(&m, AGENT_A_NAME);
	purpose = agent_msg_str(&m, AGENT_A_PURPOSE);
	subject = agent_msg_str(&m, AGENT_A_SUBJECT);
	risk = agent_msg_str(&m, AGENT_A_RISK);
	if ((risk && agent_risk_parse(risk, &rv) < 0) || !name || strcmp(name, q->user) != 0 ||
	    !agent_valid_purpose(purpose) || (subject && !agent_valid_username(subject)) ||
	    !agent_msg_u64(&m, AGENT_A_EXPIRES, &expires) ||
	    !agent_msg_u64(&m, AGENT_A_SESSION_ID, &sid) || expires > INT64_MAX ||
	    agent_time_format((int64_t)expires, when, sizeof(when)) < 0) {
		unreachable(q->h, q->a, "session", q->user, -EBADMSG);
		return PA_PERM_DENIED;
	}
	data = malloc(sizeof(*data));
	if (!data)
		return PA_BUF_ERR;
	*data = sid;
	if (q->h->set_data(q->h->ctx, PA_DATA_SESSION, data) < 0) {
		free(data);
		return PA_BUF_ERR;
	}
	if (put_env(q->h, "AGENT_NAME", name) < 0 || put_env(q->h, "AGENT_PURPOSE", purpose) < 0 ||
	    put_env(q->h, "AGENT_EXPIRES", when) < 0 ||
	    (subject && put_env(q->h, "AGENT_SUBJECT", subject) < 0) ||
	    (risk && put_env(q->h, "AGENT_RISK", risk) < 0))
		return PA_BUF_ERR;
	if (q->a->debug)
		logf_(q->h, LOG_DEBUG, "session %llu opened for %s", (unsigned long long)sid,
		      q->user);
	return PA_OK;
}

static enum pa_result do_session_close(struct pa_req *q)
{
	const uint64_t *sid = q->h->get_data(q->h->ctx, PA_DATA_SESSION);
	struct agent_wbuf w;
	struct agent_msg m;
	uint8_t buf[AGENT_WIRE_MAX];
	const char *msg;
	int fd, r;

	if (!sid)
		return PA_OK; /* no session of ours was opened by this handle */
	agent_wire_begin(&w, AGENT_MSG_SESSION_CLOSE);
	agent_wire_str(&w, AGENT_A_NAME, q->user);
	agent_wire_u64(&w, AGENT_A_SESSION_ID, *sid);
	r = ask_open(q->a, agent_mono_ms() + q->a->timeout_ms, &w, buf, &m, &fd);
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		logf_(q->h, LOG_ERR, "session close for %s not recorded: agentd: %s", q->user,
		      r == -EBADMSG ? "invalid reply" : strerror(-r));
		return PA_SESSION_ERR;
	}
	if (m.type != AGENT_MSG_OK) {
		reply_error(&m, &msg);
		logf_(q->h, LOG_NOTICE, "session close for %s: %s", q->user, msg);
		return PA_SESSION_ERR;
	}
	return PA_OK;
}

/* The pinned user of this transaction, created at its first stage. NULL
 * if it cannot be stored. */
static struct pa_pin *pin_new(const struct pa_host *h, const char *user, bool agent)
{
	struct pa_pin *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	snprintf(p->user, sizeof(p->user), "%s", user);
	p->agent = agent;
	if (h->set_data(h->ctx, PA_DATA_PIN, p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* The deny result of a stage. */
static enum pa_result deny_for(enum pa_stage st)
{
	switch (st) {
	case PA_AUTH:
		return PA_AUTH_ERR;
	case PA_SESSION_CLOSE:
		return PA_SESSION_ERR;
	default:
		return PA_PERM_DENIED;
	}
}

enum pa_result pa_stage(const struct pa_host *h, enum pa_stage st, bool silent, int argc,
			const char **argv, const char *socket, const char *snapshot)
{
	struct pa_args a;
	struct pa_req q = { .h = h, .a = &a, .st = st, .silent = silent };
	const char *user = NULL;

	if (h->get_user(h->ctx, st == PA_AUTH, &user) < 0 || !user || !agent_valid_username(user))
		user = NULL;
	pa_parse_args(h, argc, argv, socket, snapshot, &a);
	q.service = h->get_item(h->ctx, PA_ITEM_SERVICE);
	if (!q.service || !q.service[0] || strlen(q.service) > AGENT_SERVICE_MAX)
		q.service = "unknown";
	q.pin = h->get_data(h->ctx, PA_DATA_PIN);
	if (q.pin && (!user || strcmp(q.pin->user, user) != 0)) {
		/* PAM_USER changed since the first stage. sudo does it on
		 * purpose in its session stage: PAM_USER becomes the run-as
		 * user, and the decision stays the pinned agent's. */
		bool other_agent = user && pa_in_namespace(&a, user);

		if (q.pin->agent && user && st >= PA_SETCRED && st != PA_ACCOUNT &&
		    sudo_trusted(h, &a, q.service)) {
			q.user = q.pin->user;
			sudo_context(&q);
			if (q.runas && strcmp(q.runas, user) != 0) {
				logf_(h, LOG_ERR,
				      "%s for %s denied: sudo's run-as user %s is not "
				      "%s from its environment",
				      stage_name(st), q.user, user, q.runas);
				return deny_for(st);
			}
			q.runas = user;
		} else if (q.pin->agent || other_agent) {
			logf_(h, LOG_ERR,
			      "%s denied: PAM_USER changed from %s to %s during the "
			      "transaction",
			      stage_name(st), q.pin->user, user ? user : "(none)");
			h->say(h->ctx, "Agent login refused: the user changed during the login.");
			return deny_for(st);
		} else {
			return PA_IGNORE; /* a human's transaction, whatever changed */
		}
	} else if (q.pin) {
		if (!q.pin->agent)
			return PA_IGNORE;
		q.user = user;
		sudo_context(&q);
	} else {
		bool agent;

		if (!user)
			return PA_IGNORE;
		agent = pa_in_namespace(&a, user);
		q.pin = pin_new(h, user, agent);
		if (!q.pin)
			return agent ? PA_BUF_ERR : PA_IGNORE;
		if (!agent)
			return PA_IGNORE;
		q.user = user;
		sudo_context(&q);
	}
	if (a.bad) {
		logf_(h, LOG_ERR, "%s denied: module arguments are invalid", q.user);
		return PA_SERVICE_ERR;
	}
	switch (st) {
	case PA_AUTH:
		return do_auth(&q);
	case PA_SETCRED:
		return PA_OK; /* the identity's credentials are its uid and groups */
	case PA_ACCOUNT:
		return do_account(&q);
	case PA_SESSION_OPEN:
		return do_session_open(&q);
	case PA_SESSION_CLOSE:
		return do_session_close(&q);
	}
	return PA_PERM_DENIED;
}
