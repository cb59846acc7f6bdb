/* The runner: the root child that starts one run's command (run.h). It
 * opens a PAM transaction for service "agentd" (account and session: the
 * site's modules and pam_agent apply), starts the command as the identity
 * with the client's stdin, stdout and stderr, waits for it, closes the
 * session and reports on a pipe. It is forked by the spawner (spawner.h),
 * which has the stack's modules loaded, or by agentd. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/identity.h"

/* The PAM service of runs (/etc/pam.d/agentd). */
#define AGENTD_RUN_PAM_SERVICE "agentd"

/* What the runner writes on its pipe: first a notice that the command
 * started (started = AGENT_RUN_BEGUN), then the command's wait status
 * (started = 1), or instead a failure before the command started
 * (started = 0, message says what). Each is one write under PIPE_BUF. */
#define AGENT_RUN_BEGUN 2
struct agent_run_result {
	int32_t started; /* 1: status is the command's wait status */
	int32_t status;
	char message[160];
};

/* What the runner needs, all resolved before the fork (no NSS lookups). */
struct agentd_run_spec {
	const struct agent_identity *id;
	const char *const *argv; /* NULL-terminated */
	const char *cwd;         /* the client's working directory, or NULL */
	const char *ruser;       /* the client's user name, for PAM_RUSER */
	const char *home;        /* the identity's home ("/" without one) */
	const char *shell;
	const gid_t *groups; /* supplementary groups of the purpose */
	size_t ngroups;
	int fds[3]; /* the client's stdin, stdout, stderr */
};

/* The runner itself, in a fresh child (of agentd, or of the spawner,
 * spawner.h): PAM, the command, its status on wfd. cgfd: the identity's
 * cgroup directory, or -1. The descriptors it is given must not be 0-4. */
_Noreturn void agentd_runner_main(const struct agentd_run_spec *s, int wfd, int cgfd);
