/* The runner (agentd/runner.h): what runs in the forked child that starts
 * a run's command.
 *
 * Invariants of the runner, a child of agentd (or of the spawner) running
 * as root:
 * - it holds no descriptor of agentd's beyond its result pipe and the
 *   client's three standard descriptors (everything else is closed first);
 * - it is not a terminal's session member: setsid(), so the command has no
 *   controlling terminal and terminal signals go to agentctl, whose exit
 *   retires the identity;
 * - it ignores SIGTERM, SIGHUP and SIGINT (retirement signals session
 *   processes; the runner must outlive the command to report its status);
 *   the command starts with default dispositions and an empty mask;
 * - the command runs with the identity's uid, gid (= uid) and the purpose's
 *   supplementary groups, resolved by agentd before the fork, never root:
 *   the runner checks that setuid(0) fails before exec;
 * - the command's environment is the PAM environment (pam_agent sets
 *   AGENT_*) plus HOME, SHELL, USER, LOGNAME and a default PATH; nothing
 *   from agentd's own environment, and never a token. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "agentd/runner.h"

#define RUN_PATH "/usr/local/bin:/usr/bin:/bin"
#define RUN_ENV_MAX 64

/* The conversation: no prompts can be answered (agentd created the
 * identity for an authenticated caller: nothing to authenticate); messages
 * go to the client's stderr. */
static int run_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	(void)data;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			return PAM_CONV_ERR;
	}
	for (int i = 0; i < n; i++)
		if (msg[i]->msg)
			dprintf(STDERR_FILENO, "%s\n", msg[i]->msg);
	*resp = NULL;
	return PAM_SUCCESS;
}

static void report(int wfd, const struct agent_run_result *res)
{
	ssize_t n;

	do
		n = write(wfd, res, sizeof(*res));
	while (n < 0 && errno == EINTR);
}

__attribute__((format(printf, 3, 4))) static _Noreturn void fail(int wfd,
								 struct agent_run_result *res,
								 const char *fmt, ...)
{
	va_list ap;

	res->started = 0;
	res->status = 0;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	report(wfd, res);
	_exit(0);
}

static int put(char **env, size_t *n, const char *k, const char *v)
{
	if (*n + 1 >= RUN_ENV_MAX)
		return -1;
	if (asprintf(&env[*n], "%s=%s", k, v) < 0)
		return -1;
	(*n)++;
	env[*n] = NULL;
	return 0;
}

static bool has(char *const *env, const char *k)
{
	size_t l = strlen(k);

	for (; env && *env; env++)
		if (strncmp(*env, k, l) == 0 && (*env)[l] == '=')
			return true;
	return false;
}

/* The command's environment: PAM's, then the defaults PAM did not set. */
static char **command_env(pam_handle_t *h, const struct agentd_run_spec *s)
{
	static char *env[RUN_ENV_MAX];
	char **pe = pam_getenvlist(h);
	size_t n = 0;

	env[0] = NULL;
	for (char **e = pe; e && *e && n + 1 < RUN_ENV_MAX - 6; e++)
		env[n++] = *e;
	env[n] = NULL;
	if ((!has(env, "HOME") && put(env, &n, "HOME", s->home) < 0) ||
	    (!has(env, "SHELL") && put(env, &n, "SHELL", s->shell) < 0) ||
	    (!has(env, "USER") && put(env, &n, "USER", s->id->name) < 0) ||
	    (!has(env, "LOGNAME") && put(env, &n, "LOGNAME", s->id->name) < 0) ||
	    (!has(env, "PATH") && put(env, &n, "PATH", RUN_PATH) < 0))
		return NULL;
	return env;
}

/* clone3(2)'s arguments (the kernel's struct clone_args up to cgroup,
 * CLONE_ARGS_SIZE_VER2), declared here: <linux/sched.h> clashes with
 * glibc's <sched.h>. */
struct run_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
		set_tid_size, cgroup;
};
#define RUN_CLONE_INTO_CGROUP 0x200000000ULL

/* Starts the command's process as fork() does (0 in the child, its pid,
 * or -1 and errno), in the identity's cgroup when cgdir (its directory)
 * is not -1: born there through clone3(CLONE_INTO_CGROUP) (Linux 5.7),
 * *placed then true. Moving a running process into a cgroup instead
 * waits in the kernel for an RCU grace period: 8 to 14 ms measured here,
 * more than all of `su -s /bin/true`. A kernel without it (ENOSYS, E2BIG,
 * EINVAL): fork, and the child enters the cgroup itself. A raw clone3
 * skips glibc's fork handlers: safe here, as the runner is single-threaded
 * (no lock can be held by another thread) and the child only sets its
 * credentials, directory and signals, and execs. */
static pid_t spawn(int cgdir, bool *placed)
{
	*placed = false;
#ifdef SYS_clone3
	if (cgdir >= 0) {
		struct run_clone_args a = { .flags = RUN_CLONE_INTO_CGROUP,
					    .exit_signal = SIGCHLD,
					    .cgroup = (uint64_t)cgdir };
		long pid = syscall(SYS_clone3, &a, sizeof(a));

		if (pid >= 0) {
			*placed = true;
			return (pid_t)pid;
		}
		if (errno != ENOSYS && errno != E2BIG && errno != EINVAL)
			return -1;
	}
#endif
	return fork();
}

/* In the command's child: enter the identity's cgroup unless it was born
 * there (cgdir: its directory, -1 without containment), become the
 * identity, enter a directory, exec. */
static _Noreturn void exec_command(const struct agentd_run_spec *s, char **env, int cgdir,
				   bool placed)
{
	gid_t groups[AGENT_GROUPS_MAX + 1];
	size_t ng = 0;
	sigset_t none;
	uid_t uid = s->id->uid;

	if (cgdir >= 0 && !placed) {
		int fd = openat(cgdir, "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0 || write(fd, "0", 1) != 1) {
			dprintf(STDERR_FILENO, "agentctl run: cannot enter the cgroup of %s: %s\n",
				s->id->name, strerror(errno));
			_exit(125);
		}
		close(fd);
	}
	groups[ng++] = uid;
	for (size_t i = 0; i < s->ngroups && i < AGENT_GROUPS_MAX; i++)
		groups[ng++] = s->groups[i];
	if (setgroups(ng, groups) < 0 || setresgid(uid, uid, uid) < 0 ||
	    setresuid(uid, uid, uid) < 0 || setuid(0) == 0) {
		dprintf(STDERR_FILENO, "agentctl run: cannot become %s: %s\n", s->id->name,
			strerror(errno));
		_exit(125);
	}
	if (!s->cwd || chdir(s->cwd) < 0) {
		if (s->cwd)
			dprintf(STDERR_FILENO,
				"agentctl run: cannot enter %s as %s: %s; using %s\n", s->cwd,
				s->id->name, strerror(errno), s->home);
		if (chdir(s->home) < 0 && chdir("/") < 0)
			_exit(125);
	}
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	environ = env;
	execvp(s->argv[0], (char *const *)s->argv);
	dprintf(STDERR_FILENO, "agentctl run: %s: %s\n", s->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

_Noreturn void agentd_runner_main(const struct agentd_run_spec *s, int wfd, int cgfd)
{
	struct pam_conv conv = { run_conv, NULL };
	struct agent_run_result res;
	pam_handle_t *h = NULL;
	const char *stack;
	sigset_t none;
	char **env;
	bool placed;
	pid_t pid;
	int rc, st = 0;

	memset(&res, 0, sizeof(res));
	prctl(PR_SET_NAME, "agentd-runner"); /* its name in ps(1) */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	/* agentd's syslog connection goes before its descriptor does: glibc
	 * would otherwise go on writing PAM's log lines to whatever this
	 * process opens under that number next (the result pipe, or the socket
	 * pam_agent opens to agentd). The next syslog() call reconnects. */
	closelog();
	/* The client's descriptors become 0-2, the pipe 3, nothing else. */
	/* The command's cgroup directory (if any) 4: moved out of the way first. */
	if (cgfd >= 0 && (cgfd = fcntl(cgfd, F_DUPFD_CLOEXEC, 10)) < 0)
		_exit(125);
	for (int i = 0; i < 3; i++)
		if (dup2(s->fds[i], i) < 0)
			_exit(125);
	if (dup3(wfd, 3, O_CLOEXEC) < 0)
		_exit(125);
	wfd = 3;
	if (cgfd >= 0) {
		if (dup3(cgfd, 4, O_CLOEXEC) < 0)
			_exit(125);
		cgfd = 4;
	}
	close_range(cgfd >= 0 ? 5 : 4, ~0U, 0);
	setsid();
	/* A login's umask, not agentd's own (its unit sets 077); pam_umask in
	 * the stack may change it. */
	umask(022);

	rc = pam_start(AGENTD_RUN_PAM_SERVICE, s->id->name, &conv, &h);
	if (rc != PAM_SUCCESS)
		fail(wfd, &res, "PAM: %s", pam_strerror(h, rc));
	if (s->ruser)
		pam_set_item(h, PAM_RUSER, s->ruser);
	rc = pam_acct_mgmt(h, 0);
	stack = "account";
	if (rc == PAM_SUCCESS) {
		rc = pam_setcred(h, PAM_ESTABLISH_CRED);
		stack = "session";
	}
	if (rc == PAM_SUCCESS)
		rc = pam_open_session(h, 0);
	if (rc != PAM_SUCCESS) {
		const char *e = pam_strerror(h, rc);

		pam_end(h, rc);
		fail(wfd, &res,
		     "refused by the PAM %s stack of service " AGENTD_RUN_PAM_SERVICE ": %s", stack,
		     e);
	}
	env = command_env(h, s);
	if (!env) {
		pam_close_session(h, 0);
		pam_end(h, PAM_BUF_ERR);
		fail(wfd, &res, "%s", "out of memory");
	}
	pid = spawn(cgfd, &placed);
	if (pid == 0)
		exec_command(s, env, cgfd, placed);
	if (pid < 0) {
		int e = errno;

		pam_close_session(h, 0);
		pam_end(h, PAM_SYSTEM_ERR);
		if (cgfd >= 0)
			fail(wfd, &res, "cannot start the command in the cgroup of %s: %s",
			     s->id->name, strerror(e));
		fail(wfd, &res, "cannot fork: %s", strerror(e));
	}
	/* The next waiting run may start (see AGENTD_RUNS_STARTING_MAX). */
	res.started = AGENT_RUN_BEGUN;
	report(wfd, &res);
	/* Bounded by the identity's TTL: retirement kills the command. */
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	pam_close_session(h, 0);
	pam_setcred(h, PAM_DELETE_CRED);
	pam_end(h, PAM_SUCCESS);
	res.started = 1;
	res.status = st;
	report(wfd, &res);
	_exit(0);
}
