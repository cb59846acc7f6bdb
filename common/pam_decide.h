/* pam_agent's decisions, without libpam: what the module does in each PAM
 * stage, given the PAM handle as a table of callbacks (struct pa_host), so
 * that unit tests reach every branch and can fail every call. libc only;
 * pam_agent/pam_agent.c is the thin libpam adapter. See pam_agent(8).
 *
 * The rules kept here:
 * - every stage pam_agent runs in (auth, account, session open) asks
 *   agentd for the whole decision (liveness, service rule, sudo command
 *   and run-as user, approval), so a host that skips a stage skips nothing;
 * - the user is pinned at the first stage (module data); a later PAM_USER
 *   that differs is denied when either side is in the agent namespace,
 *   except sudo's session stage, where sudo itself sets PAM_USER to the
 *   run-as user (that user is then the run-as user of the decision);
 * - the agent namespace (name prefix, uid range) is known without the
 *   snapshot (module arguments, compiled defaults = agentd.conf's), so an
 *   unreadable snapshot denies names in it; PAM_IGNORE only for users
 *   clearly outside it;
 * - a step-up approval is asked once per action: the stage that got it
 *   records it, and later stages of the same transaction send its id,
 *   which agentd honours only for the same identity, service, command,
 *   run-as user and process;
 * - timeout= bounds a stage's whole exchange with agentd (connect, send,
 *   every receive); only the wait for a human's decision, announced by
 *   agentd, is bounded by the request's own deadline instead. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/limits.h"

enum pa_stage { PA_AUTH, PA_SETCRED, PA_ACCOUNT, PA_SESSION_OPEN, PA_SESSION_CLOSE };

/* Results, mapped to PAM codes by the module. */
enum pa_result {
	PA_OK,
	PA_IGNORE,       /* not an agent: the module has no opinion */
	PA_AUTH_ERR,     /* wrong token, or the policy refused in the auth stage */
	PA_UNAVAIL,      /* agentd could not be asked (auth stage) */
	PA_PERM_DENIED,  /* refused */
	PA_ACCT_EXPIRED, /* the identity expired or retired */
	PA_USER_UNKNOWN, /* agentd knows no such identity */
	PA_SERVICE_ERR,  /* bad module arguments */
	PA_BUF_ERR,      /* out of memory: a refusal */
	PA_INCOMPLETE,   /* the conversation asked to be called again */
	PA_SESSION_ERR,  /* session close could not be recorded */
};

enum pa_item { PA_ITEM_SERVICE, PA_ITEM_TTY, PA_ITEM_RHOST, PA_ITEM_RUSER };

/* The PAM handle and the host process, as the module sees them. */
struct pa_host {
	void *ctx;
	/* PAM_USER; prompt: may ask through the conversation (auth). 0 or -1. */
	int (*get_user)(void *ctx, bool prompt, const char **user);
	/* A PAM item, NULL if unset. */
	const char *(*get_item)(void *ctx, enum pa_item item);
	/* The token (PAM_AUTHTOK); 0, -1 (error) or -EAGAIN (PAM_CONV_AGAIN). */
	int (*get_authtok)(void *ctx, const char **tok);
	/* Module data: get returns NULL if unset; set takes data (malloc'd)
	 * and frees it with free() at pam_end; 0 or -1 (then data is not
	 * taken). */
	void *(*get_data)(void *ctx, const char *key);
	int (*set_data)(void *ctx, const char *key, void *data);
	int (*put_env)(void *ctx, const char *kv); /* 0 or -1 */
	void (*say)(void *ctx, const char *msg);   /* an error message to the user */
	void (*log)(void *ctx, int prio, const char *msg);
	/* sudo's command environment (getenv in the sudo process). */
	const char *(*get_env)(void *ctx, const char *name);
	/* The running executable's path (readlink /proc/self/exe); length or
	 * -1. */
	ssize_t (*exe)(void *ctx, char *buf, size_t len);
};

/* Defaults: agentd.conf's. */
#define PA_DEFAULT_PREFIX "agent-"
#define PA_DEFAULT_UID_MIN 1879048192u
#define PA_DEFAULT_UID_MAX 1879113727u
#define PA_DEFAULT_TIMEOUT_MS 3000

struct pa_args {
	const char *socket;
	const char *snapshot;
	const char *sudo; /* the sudo binary whose environment is trusted */
	char prefix[AGENT_PREFIX_MAX + 1];
	uint32_t uid_min, uid_max;
	int timeout_ms;
	int approval_max_s; /* the longest wait for a step-up decision */
	bool debug;
	bool bad; /* an argument was not understood (logged) */
};

/* Parses the module arguments over the defaults (socket, snapshot and sudo
 * paths given by the caller). */
void pa_parse_args(const struct pa_host *h, int argc, const char **argv, const char *socket,
		   const char *snapshot, struct pa_args *a);

/* Is user in the agent namespace: the prefix, a name the snapshot has, or
 * a uid (by the passwd database) in the module's or the snapshot's range?
 * Never for names that are not valid login names. */
bool pa_in_namespace(const struct pa_args *a, const char *user);

/* One stage. silent: PAM_SILENT was passed. */
enum pa_result pa_stage(const struct pa_host *h, enum pa_stage st, bool silent, int argc,
			const char **argv, const char *socket, const char *snapshot);

/* Module data keys (tests look at them). */
#define PA_DATA_PIN "pam_agent_pin"
#define PA_DATA_SESSION "pam_agent_session_id"

struct pa_pin {
	char user[AGENT_NAME_MAX + 1];
	bool agent;
	/* The approval this transaction got, and what it was for. */
	char grant[AGENT_REQUEST_ID_LEN + 1];
	char service[AGENT_SERVICE_MAX + 1];
	char command[AGENT_COMMAND_MAX + 1];
	char runas[AGENT_NAME_MAX + 1];
};
