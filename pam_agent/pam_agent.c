/* pam_agent.so: agentd's decisions in the PAM stack. See pam_agent(8).
 *
 * A thin adapter: the PAM handle becomes a table of callbacks and
 * common/pam_decide.c decides (unit-tested there, with every call it makes
 * failing in turn); the result becomes a PAM code. No static state,
 * nothing on stdout. */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "common/pam_decide.h"
#include "common/snapshot.h"

#ifndef PAM_AGENT_SNAP_PATH
#define PAM_AGENT_SNAP_PATH AGENT_RUNDIR "/" AGENT_SNAP_FILE
#endif
#define PAM_AGENT_SOCKET AGENT_RUNDIR "/agentd.sock"

#define PA_EXPORT __attribute__((visibility("default")))

static int h_get_user(void *ctx, bool prompt, const char **user)
{
	if (prompt)
		return pam_get_user(ctx, user, NULL) == PAM_SUCCESS ? 0 : -1;
	return pam_get_item(ctx, PAM_USER, (const void **)user) == PAM_SUCCESS ? 0 : -1;
}

static const char *h_get_item(void *ctx, enum pa_item item)
{
	static const int items[] = { [PA_ITEM_SERVICE] = PAM_SERVICE,
				     [PA_ITEM_TTY] = PAM_TTY,
				     [PA_ITEM_RHOST] = PAM_RHOST,
				     [PA_ITEM_RUSER] = PAM_RUSER };
	const void *v = NULL;

	return pam_get_item(ctx, items[item], &v) == PAM_SUCCESS ? v : NULL;
}

static int h_get_authtok(void *ctx, const char **tok)
{
	int r = pam_get_authtok(ctx, PAM_AUTHTOK, tok, NULL);

	return r == PAM_SUCCESS ? 0 : r == PAM_CONV_AGAIN ? -11 /* -EAGAIN */ : -1;
}

static void *h_get_data(void *ctx, const char *key)
{
	const void *data = NULL;

	return pam_get_data(ctx, key, &data) == PAM_SUCCESS ? (void *)data : NULL;
}

static void free_data(pam_handle_t *pamh, void *data, int status)
{
	(void)pamh;
	(void)status;
	free(data);
}

static int h_set_data(void *ctx, const char *key, void *data)
{
	return pam_set_data(ctx, key, data, free_data) == PAM_SUCCESS ? 0 : -1;
}

static int h_put_env(void *ctx, const char *kv)
{
	return pam_putenv(ctx, kv) == PAM_SUCCESS ? 0 : -1;
}

static void h_say(void *ctx, const char *msg)
{
	pam_error(ctx, "%s", msg);
}

static void h_log(void *ctx, int prio, const char *msg)
{
	pam_syslog(ctx, prio, "%s", msg);
}

static const char *h_get_env(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static ssize_t h_exe(void *ctx, char *buf, size_t len)
{
	(void)ctx;
	return readlink("/proc/self/exe", buf, len);
}

static int run(pam_handle_t *pamh, enum pa_stage st, int flags, int argc, const char **argv)
{
	const struct pa_host h = { pamh,       h_get_user, h_get_item, h_get_authtok,
				   h_get_data, h_set_data, h_put_env,  h_say,
				   h_log,      h_get_env,  h_exe };
	static const int codes[] = {
		[PA_OK] = PAM_SUCCESS,
		[PA_IGNORE] = PAM_IGNORE,
		[PA_AUTH_ERR] = PAM_AUTH_ERR,
		[PA_UNAVAIL] = PAM_AUTHINFO_UNAVAIL,
		[PA_PERM_DENIED] = PAM_PERM_DENIED,
		[PA_ACCT_EXPIRED] = PAM_ACCT_EXPIRED,
		[PA_USER_UNKNOWN] = PAM_USER_UNKNOWN,
		[PA_SERVICE_ERR] = PAM_SERVICE_ERR,
		[PA_BUF_ERR] = PAM_BUF_ERR,
		[PA_INCOMPLETE] = PAM_INCOMPLETE,
		[PA_SESSION_ERR] = PAM_SESSION_ERR,
	};
	enum pa_result r = pa_stage(&h, st, (flags & (int)PAM_SILENT) != 0, argc, argv,
				    PAM_AGENT_SOCKET, PAM_AGENT_SNAP_PATH);

	return (unsigned)r < sizeof(codes) / sizeof(codes[0]) ? codes[r] : PAM_PERM_DENIED;
}

PA_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return run(pamh, PA_AUTH, flags, argc, argv);
}

PA_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return run(pamh, PA_SETCRED, flags, argc, argv);
}

PA_EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return run(pamh, PA_ACCOUNT, flags, argc, argv);
}

PA_EXPORT int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return run(pamh, PA_SESSION_OPEN, flags, argc, argv);
}

PA_EXPORT int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return run(pamh, PA_SESSION_CLOSE, flags, argc, argv);
}
