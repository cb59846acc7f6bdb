/* pam_agent.so: agentd's decisions in the PAM stack. See pam_agent(8).
 *
 * Each stage does the same three things: decide whether PAM_USER is an agent
 * identity at all (from the NSS snapshot and the uid range it records; no
 * request, so non-agents get PAM_IGNORE whatever agentd's state), gather the
 * PAM items as hostile bytes (bounded), and ask agentd one question over its
 * socket with a deadline. agentd decides and audits; the module maps the
 * answer to a PAM code. Anything else from agentd (absent, hung, slow,
 * garbage) denies the agent, with one message to the user and one
 * pam_syslog record.
 *
 * No static state, nothing on stdout, the socket is SOCK_CLOEXEC and closed
 * before returning, and token bytes are wiped from every buffer the module
 * owns. */
#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "common/client.h"
#include "common/snapshot.h"
#include "common/text.h"
#include "common/wire.h"

#ifndef PAM_AGENT_SNAP_PATH
#define PAM_AGENT_SNAP_PATH AGENT_RUNDIR "/" AGENT_SNAP_FILE
#endif
#define PAM_AGENT_SOCKET AGENT_RUNDIR "/agentd.sock"
#define PAM_AGENT_TIMEOUT_MS 3000
#define PAM_AGENT_SUDO "/usr/bin/sudo"
#define PAM_AGENT_DATA_SESSION "pam_agent_session_id"
#define PAM_AGENT_DATA_AGENT "pam_agent_agent_name"

#define PA_EXPORT __attribute__((visibility("default")))

struct pa_args {
	const char *socket;
	const char *sudo; /* the sudo binary whose SUDO_COMMAND is trusted */
	int timeout_ms;
	int approval_max_s; /* the longest wait for a step-up decision */
	bool debug;
	bool bad; /* an argument was not understood (logged) */
};

static void parse_args(pam_handle_t *pamh, int argc, const char **argv, struct pa_args *a)
{
	a->socket = PAM_AGENT_SOCKET;
	a->sudo = PAM_AGENT_SUDO;
	a->timeout_ms = PAM_AGENT_TIMEOUT_MS;
	a->approval_max_s = 3605; /* agentd's approval_timeout is at most 1h */
	a->debug = false;
	a->bad = false;
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
				pam_syslog(pamh, LOG_ERR, "bad timeout= (milliseconds, 100-60000)");
				a->bad = true;
			} else {
				a->timeout_ms = (int)v;
			}
		} else if (strncmp(arg, "sudo=", 5) == 0 && arg[5] == '/' &&
			   strlen(arg + 5) <= AGENT_PATH_MAX) {
			a->sudo = arg + 5;
		} else if (strcmp(arg, "debug") == 0) {
			a->debug = true;
		} else {
			pam_syslog(pamh, LOG_ERR, "unknown argument (first 32 bytes): %.32s", arg);
			a->bad = true;
		}
	}
}

/* Is user an agent identity (live, expired or retired)? Yes if the snapshot
 * names it, or if it resolves to a uid in the range the snapshot covers.
 * Without a readable snapshot no agent name resolves anywhere, so nobody is
 * treated as one. Names that are not valid login names are never agents. */
static bool is_agent(const char *user)
{
	struct agent_snap_map map;
	struct agent_snap_entry e;
	struct passwd pw, *pwp = NULL;
	char buf[2048];
	bool agent = false;
	int r;

	if (!user || !agent_valid_username(user))
		return false;
	if (agent_snap_open(PAM_AGENT_SNAP_PATH, 0, &map) < 0)
		return false;
	/* A name the file cannot answer for (busy past the retry bound, or a
	 * corrupt slot) is decided by its uid alone: such a name does not
	 * resolve through nss_agent either, so an agent is refused by the rest
	 * of the stack, and a human is never mistaken for an agent. */
	r = agent_snap_by_name(&map, user, &e);
	if (r == 0)
		agent = true;
	else if (getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) == 0 && pwp &&
		 pw.pw_uid >= map.uid_min && pw.pw_uid - map.uid_min < map.nslots)
		agent = true;
	agent_snap_close(&map);
	return agent;
}

/* A PAM item as a bounded string: "" if unset; longer values are cut at
 * max bytes (agentd escapes every byte before it logs). */
static void get_item(pam_handle_t *pamh, int item, char *out, size_t max)
{
	const void *v = NULL;

	out[0] = '\0';
	if (pam_get_item(pamh, item, &v) == PAM_SUCCESS && v)
		snprintf(out, max + 1, "%s", (const char *)v);
}

struct pa_items {
	char service[AGENT_SERVICE_MAX + 1];
	char tty[AGENT_TTY_MAX + 1];
	char rhost[AGENT_RHOST_MAX + 1];
	char ruser[AGENT_RUSER_MAX + 1];
};

static void put_items(pam_handle_t *pamh, struct agent_wbuf *w)
{
	struct pa_items it;

	get_item(pamh, PAM_SERVICE, it.service, AGENT_SERVICE_MAX);
	get_item(pamh, PAM_TTY, it.tty, AGENT_TTY_MAX);
	get_item(pamh, PAM_RHOST, it.rhost, AGENT_RHOST_MAX);
	get_item(pamh, PAM_RUSER, it.ruser, AGENT_RUSER_MAX);
	agent_wire_str(w, AGENT_A_SERVICE, it.service[0] ? it.service : "unknown");
	if (it.tty[0])
		agent_wire_str(w, AGENT_A_TTY, it.tty);
	if (it.rhost[0])
		agent_wire_str(w, AGENT_A_RHOST, it.rhost);
	if (it.ruser[0])
		agent_wire_str(w, AGENT_A_RUSER, it.ruser);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* One request and its first reply, within timeout_ms in total. 0, *m (which
 * may be an ERROR reply) and the connection in *fdp (the caller closes it),
 * or -errno when agentd cannot be asked. */
static int ask_open(const struct pa_args *a, struct agent_wbuf *w, uint8_t *buf,
		    struct agent_msg *m, int *fdp)
{
	struct timespec t0;
	long left;
	int fd, r;

	*fdp = -1;
	if (agent_wire_finish(w) < 0)
		return -EINVAL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = agent_client_connect(a->socket, a->timeout_ms);
	if (fd < 0)
		return fd;
	left = a->timeout_ms - ms_since(&t0);
	r = left > 0 ? agent_client_send(fd, w, (int)left) : -ETIMEDOUT;
	if (r == 0) {
		left = a->timeout_ms - ms_since(&t0);
		r = left > 0 ? agent_client_recv(fd, buf, m, (int)left) : -ETIMEDOUT;
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	*fdp = fd;
	return 0;
}

/* One request, one reply (see ask_open); the connection is closed. */
static int ask(const struct pa_args *a, struct agent_wbuf *w, uint8_t *buf, struct agent_msg *m)
{
	int fd, r = ask_open(a, w, buf, m, &fd);

	if (fd >= 0)
		close(fd);
	return r;
}

static void tell(pam_handle_t *pamh, int flags, const char *msg)
{
	if (!(flags & PAM_SILENT))
		pam_error(pamh, "%s", msg);
}

/* agentd could not be asked: deny, say so once to the user and to syslog. */
/* Shown even under PAM_SILENT (sudo passes it): only agents see it, and
 * they should learn why they were refused. */
static void unreachable(pam_handle_t *pamh, const struct pa_args *a, const char *stage,
			const char *user, int err)
{
	pam_syslog(pamh, LOG_ERR, "%s for %s denied: agentd not usable at %s: %s", stage, user,
		   a->socket, err == -EBADMSG ? "invalid reply" : strerror(-err));
	pam_error(pamh, "Agent login refused: the agentd service is not available.");
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

static void free_data(pam_handle_t *pamh, void *data, int status)
{
	(void)pamh;
	(void)status;
	free(data);
}

/* An agent stays one for the rest of the PAM transaction: once a stage has
 * seen PAM_USER as an agent identity, later stages of the same handle ask
 * agentd even if the identity has retired meanwhile (it then no longer
 * resolves, and would otherwise look like an unknown user). */
static bool seen_as_agent(pam_handle_t *pamh, const char *user)
{
	const void *data = NULL;

	return pam_get_data(pamh, PAM_AGENT_DATA_AGENT, &data) == PAM_SUCCESS && data &&
	       strcmp(data, user) == 0;
}

static void remember_agent(pam_handle_t *pamh, const char *user)
{
	char *copy = strdup(user);

	if (copy && pam_set_data(pamh, PAM_AGENT_DATA_AGENT, copy, free_data) != PAM_SUCCESS)
		free(copy);
}

/* Common start of every stage: the user, whether it is an agent, the
 * arguments. Returns PAM_SUCCESS to go on, or the code to return. */
static int begin(pam_handle_t *pamh, int argc, const char **argv, bool prompt,
		 const char **user, struct pa_args *a)
{
	*user = NULL;
	if (prompt) {
		if (pam_get_user(pamh, user, NULL) != PAM_SUCCESS)
			return PAM_IGNORE;
	} else if (pam_get_item(pamh, PAM_USER, (const void **)user) != PAM_SUCCESS) {
		return PAM_IGNORE;
	}
	if (!*user || !agent_valid_username(*user))
		return PAM_IGNORE;
	if (!seen_as_agent(pamh, *user)) {
		if (!is_agent(*user))
			return PAM_IGNORE;
		remember_agent(pamh, *user);
	}
	parse_args(pamh, argc, argv, a);
	if (a->bad) {
		pam_syslog(pamh, LOG_ERR, "%s denied: module arguments are invalid", *user);
		return PAM_SERVICE_ERR;
	}
	return PAM_SUCCESS;
}

PA_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct agent_wbuf w;
	struct agent_msg m;
	uint8_t buf[AGENT_WIRE_MAX];
	struct pa_args a;
	const char *user, *tok = NULL, *msg;
	int r, rc = begin(pamh, argc, argv, true, &user, &a);

	if (rc != PAM_SUCCESS)
		return rc;
	r = pam_get_authtok(pamh, PAM_AUTHTOK, &tok, NULL);
	if (r != PAM_SUCCESS || !tok)
		return r == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_AUTH_ERR;
	if (!tok[0] || strlen(tok) >= AGENT_TOKEN_TEXT_MAX) {
		pam_syslog(pamh, LOG_NOTICE, "auth for %s denied: malformed token", user);
		return PAM_AUTH_ERR;
	}
	agent_wire_begin(&w, AGENT_MSG_AUTH);
	agent_wire_str(&w, AGENT_A_NAME, user);
	agent_wire_str(&w, AGENT_A_TOKEN, tok);
	put_items(pamh, &w);
	r = ask(&a, &w, buf, &m);
	agent_wire_wipe(&w);
	if (r < 0) {
		unreachable(pamh, &a, "auth", user, r);
		rc = PAM_AUTHINFO_UNAVAIL;
	} else if (m.type == AGENT_MSG_OK) {
		rc = PAM_SUCCESS;
	} else {
		r = reply_error(&m, &msg);
		if (a.debug)
			pam_syslog(pamh, LOG_DEBUG, "auth for %s: %s", user, msg);
		rc = r == EPROTO ? PAM_AUTHINFO_UNAVAIL : PAM_AUTH_ERR;
		if (r == EPROTO)
			unreachable(pamh, &a, "auth", user, -EBADMSG);
	}
	memset(buf, 0, sizeof(buf));
	return rc;
}

PA_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const char *user = NULL;

	(void)flags;
	(void)argc;
	(void)argv;
	if (pam_get_item(pamh, PAM_USER, (const void **)&user) != PAM_SUCCESS || !user ||
	    !agent_valid_username(user) || (!seen_as_agent(pamh, user) && !is_agent(user)))
		return PAM_IGNORE;
	return PAM_SUCCESS; /* the identity's credentials are its uid and groups */
}

/* sudo's command line, only where sudo itself provides it: the service is
 * sudo's and this process is the sudo binary, whose plugin answers getenv()
 * from the command's environment (SUDO_COMMAND, set by sudo, not by the
 * caller). Anywhere else a caller could set it: NULL, the command is
 * unknown. So is one longer than agentd carries. */
static const char *sudo_command(pam_handle_t *pamh, const struct pa_args *a)
{
	const void *svc = NULL;
	const char *cmd;
	char exe[AGENT_PATH_MAX + 1];
	ssize_t n;

	if (pam_get_item(pamh, PAM_SERVICE, &svc) != PAM_SUCCESS || !svc ||
	    (strcmp(svc, "sudo") != 0 && strcmp(svc, "sudo-i") != 0))
		return NULL;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if (strcmp(exe, a->sudo) != 0)
		return NULL;
	cmd = getenv("SUDO_COMMAND");
	if (!cmd || !cmd[0] || strlen(cmd) > AGENT_COMMAND_MAX)
		return NULL;
	return cmd;
}

/* agentd said a human must approve: show the one line that says how, then
 * wait on the same connection for the decision, until its deadline. */
static int wait_approval(pam_handle_t *pamh, const struct pa_args *a, const char *user, int fd,
			 uint8_t *buf, struct agent_msg *m)
{
	const char *id = agent_msg_str(m, AGENT_A_REQUEST_ID);
	const char *line = agent_msg_str(m, AGENT_A_MESSAGE);
	uint64_t expires = 0;
	long long wait_s;
	const char *msg;
	int r;

	if (!id || !line || !agent_msg_u64(m, AGENT_A_EXPIRES, &expires) || expires > INT64_MAX)
		return -EBADMSG;
	/* Shown even under PAM_SILENT (sudo passes it): without it the agent
	 * cannot know what to ask for. As an error message, which sudo writes
	 * to stderr (an info message would go into the command's stdout). */
	pam_error(pamh, "%s", line);
	pam_syslog(pamh, LOG_NOTICE, "account for %s: waiting for approval of request %s", user,
		   id);
	wait_s = (long long)expires - (long long)time(NULL) + 5;
	if (wait_s < 1)
		wait_s = 1;
	if (wait_s > a->approval_max_s)
		wait_s = a->approval_max_s;
	r = agent_client_recv(fd, buf, m, (int)(wait_s * 1000));
	if (r < 0)
		return r;
	if (m->type == AGENT_MSG_OK)
		return 0;
	r = reply_error(m, &msg);
	return r == EPROTO ? -EBADMSG : 1;
}

PA_EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct agent_wbuf w;
	struct agent_msg m;
	uint8_t buf[AGENT_WIRE_MAX];
	struct pa_args a;
	const char *user, *msg, *cmd;
	int r, fd, rc = begin(pamh, argc, argv, false, &user, &a);

	if (rc != PAM_SUCCESS)
		return rc;
	agent_wire_begin(&w, AGENT_MSG_ACCOUNT);
	agent_wire_str(&w, AGENT_A_NAME, user);
	put_items(pamh, &w);
	cmd = sudo_command(pamh, &a);
	if (cmd)
		agent_wire_str(&w, AGENT_A_COMMAND, cmd);
	/* Every refusal in this stage is shown, even under PAM_SILENT (sudo
	 * passes it): an agent learns why, and what it waited for. */
	(void)flags;
	r = ask_open(&a, &w, buf, &m, &fd);
	if (r < 0) {
		unreachable(pamh, &a, "account", user, r);
		return PAM_PERM_DENIED;
	}
	if (m.type == AGENT_MSG_STEPUP) {
		r = wait_approval(pamh, &a, user, fd, buf, &m);
		if (r < 0) {
			close(fd);
			if (r == -ETIMEDOUT) {
				pam_syslog(pamh, LOG_ERR, "account for %s denied: no decision in time",
					   user);
				pam_error(pamh, "Approval not granted in time.");
			} else {
				unreachable(pamh, &a, "account", user, r);
			}
			return PAM_PERM_DENIED;
		}
	}
	close(fd);
	if (m.type == AGENT_MSG_OK)
		return PAM_SUCCESS;
	r = reply_error(&m, &msg);
	if (r == EPROTO) {
		unreachable(pamh, &a, "account", user, -EBADMSG);
		return PAM_PERM_DENIED;
	}
	pam_error(pamh, "%s", msg);
	switch (r) {
	case EKEYEXPIRED:
		return PAM_ACCT_EXPIRED;
	case ENOENT:
		return PAM_USER_UNKNOWN;
	default:
		return PAM_PERM_DENIED;
	}
}

static int put_env(pam_handle_t *pamh, const char *key, const char *value)
{
	char kv[128];

	if (snprintf(kv, sizeof(kv), "%s=%s", key, value) >= (int)sizeof(kv))
		return PAM_BUF_ERR;
	return pam_putenv(pamh, kv);
}

PA_EXPORT int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct agent_wbuf w;
	struct agent_msg m;
	uint8_t buf[AGENT_WIRE_MAX];
	struct pa_args a;
	const char *user, *msg, *name, *purpose, *subject;
	uint64_t expires, sid, *data;
	char when[32];
	int r, rc = begin(pamh, argc, argv, false, &user, &a);

	if (rc != PAM_SUCCESS)
		return rc;
	agent_wire_begin(&w, AGENT_MSG_SESSION_OPEN);
	agent_wire_str(&w, AGENT_A_NAME, user);
	put_items(pamh, &w);
	r = ask(&a, &w, buf, &m);
	if (r < 0) {
		unreachable(pamh, &a, "session", user, r);
		return PAM_PERM_DENIED; /* fatal for every host, unlike PAM_SESSION_ERR in sudo */
	}
	if (m.type != AGENT_MSG_SESSION) {
		r = reply_error(&m, &msg);
		if (r == EPROTO)
			unreachable(pamh, &a, "session", user, -EBADMSG);
		else
			tell(pamh, flags, msg);
		return PAM_PERM_DENIED;
	}
	name = agent_msg_str(&m, AGENT_A_NAME);
	purpose = agent_msg_str(&m, AGENT_A_PURPOSE);
	subject = agent_msg_str(&m, AGENT_A_SUBJECT);
	if (!name || strcmp(name, user) != 0 || !agent_valid_purpose(purpose) ||
	    (subject && !agent_valid_username(subject)) ||
	    !agent_msg_u64(&m, AGENT_A_EXPIRES, &expires) ||
	    !agent_msg_u64(&m, AGENT_A_SESSION_ID, &sid) || expires > INT64_MAX ||
	    agent_time_format((int64_t)expires, when, sizeof(when)) < 0) {
		unreachable(pamh, &a, "session", user, -EBADMSG);
		return PAM_PERM_DENIED;
	}
	data = malloc(sizeof(*data));
	if (!data)
		return PAM_BUF_ERR;
	*data = sid;
	if (pam_set_data(pamh, PAM_AGENT_DATA_SESSION, data, free_data) != PAM_SUCCESS) {
		free(data);
		return PAM_BUF_ERR;
	}
	if ((rc = put_env(pamh, "AGENT_NAME", name)) != PAM_SUCCESS ||
	    (rc = put_env(pamh, "AGENT_PURPOSE", purpose)) != PAM_SUCCESS ||
	    (rc = put_env(pamh, "AGENT_EXPIRES", when)) != PAM_SUCCESS ||
	    (subject && (rc = put_env(pamh, "AGENT_SUBJECT", subject)) != PAM_SUCCESS))
		return rc;
	if (a.debug)
		pam_syslog(pamh, LOG_DEBUG, "session %llu opened for %s", (unsigned long long)sid,
			   user);
	return PAM_SUCCESS;
}

PA_EXPORT int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct agent_wbuf w;
	struct agent_msg m;
	uint8_t buf[AGENT_WIRE_MAX];
	struct pa_args a;
	const void *data = NULL;
	const char *user, *msg;
	int r, rc = begin(pamh, argc, argv, false, &user, &a);

	(void)flags;
	if (rc != PAM_SUCCESS)
		return rc;
	if (pam_get_data(pamh, PAM_AGENT_DATA_SESSION, &data) != PAM_SUCCESS || !data)
		return PAM_SUCCESS; /* no session of ours was opened by this handle */
	agent_wire_begin(&w, AGENT_MSG_SESSION_CLOSE);
	agent_wire_str(&w, AGENT_A_NAME, user);
	agent_wire_u64(&w, AGENT_A_SESSION_ID, *(const uint64_t *)data);
	r = ask(&a, &w, buf, &m);
	if (r < 0) {
		pam_syslog(pamh, LOG_ERR, "session close for %s not recorded: agentd: %s", user,
			   r == -EBADMSG ? "invalid reply" : strerror(-r));
		return PAM_SESSION_ERR;
	}
	if (m.type != AGENT_MSG_OK) {
		reply_error(&m, &msg);
		pam_syslog(pamh, LOG_NOTICE, "session close for %s: %s", user, msg);
		return PAM_SESSION_ERR;
	}
	return PAM_SUCCESS;
}
