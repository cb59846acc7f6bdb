/* `agentctl run` (see agentd/run.h).
 *
 * Invariants of the runner, a forked child of agentd running as root:
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>
#include <sodium.h>

#include "agentd/cgroup.h"
#include "agentd/conn.h"
#include "agentd/daemon.h"
#include "agentd/reaper.h"
#include "agentd/retire.h"
#include "agentd/run.h"
#include "common/clock.h"

#define RUN_PAM_SERVICE "agentd"
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

static _Noreturn void runner(const struct agentd_run_spec *s, int wfd, int cgfd)
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

	rc = pam_start(RUN_PAM_SERVICE, s->id->name, &conv, &h);
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
		fail(wfd, &res, "refused by the PAM %s stack of service " RUN_PAM_SERVICE ": %s",
		     stack, e);
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

unsigned agentd_run_room(struct agentd *d)
{
	int64_t now = agent_mono_ms();
	unsigned n = 0;
	struct agentd_run *r;

	LIST_FOREACH(r, &d->runs, link)
	if (r->starting && !r->exited && now - r->start_ms < AGENTD_RUN_SLOW_MS)
		n++;
	return n >= AGENTD_RUNS_STARTING_MAX ? 0 : AGENTD_RUNS_STARTING_MAX - n;
}

int agentd_run_start(struct agentd *d, struct agentd_conn *c, const struct agentd_run_spec *s)
{
	struct agentd_run *r = calloc(1, sizeof(*r));
	struct epoll_event ev = { .events = EPOLLIN };
	int p[2], e, cgfd;

	if (!r)
		return -ENOMEM;
	/* Contained: the command enters the identity's cgroup, or does not run. */
	cgfd = agentd_cgroup_dir_fd(d, s->id);
	if (cgfd < 0 && cgfd != -ENODEV) {
		free(r);
		return cgfd;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		e = -errno;
		if (cgfd >= 0)
			close(cgfd);
		free(r);
		return e;
	}
	r->kind = W_RUN;
	r->uid = s->id->uid;
	r->starting = true;
	r->start_ms = agent_mono_ms();
	snprintf(r->name, sizeof(r->name), "%s", s->id->name);
	r->pid = fork();
	if (r->pid == 0) {
		/* The runner hosts the site's PAM modules: no secret of agentd's
		 * stays in its memory. */
		sodium_memzero(&d->tkey, sizeof(d->tkey));
		close(p[0]);
		runner(s, p[1], cgfd);
	}
	e = -errno;
	close(p[1]);
	if (cgfd >= 0)
		close(cgfd);
	if (r->pid < 0) {
		close(p[0]);
		free(r);
		return e;
	}
	r->rfd = p[0];
	ev.data.ptr = r;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, r->rfd, &ev) < 0) {
		/* Cannot watch it: the identity's retirement will end it. */
		e = -errno;
		close(r->rfd);
		free(r);
		return e;
	}
	r->conn = c;
	c->run = r;
	LIST_INSERT_HEAD(&d->runs, r, link);
	d->nruns++; /* runs with a connected client; see run_detach */
	return 0;
}

/* Separates r from its client's connection (which then counts against
 * max_connections again). */
static void run_detach(struct agentd *d, struct agentd_run *r)
{
	if (!r->conn)
		return;
	r->conn->run = NULL;
	r->conn = NULL;
	d->nruns--;
}

static void run_free(struct agentd *d, struct agentd_run *r)
{
	if (r->rfd >= 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, r->rfd, NULL);
		close(r->rfd);
	}
	run_detach(d, r);
	LIST_REMOVE(r, link);
	free(r);
}

/* Sends the end of the run to the client (if it is still there). */
static void run_finish(struct agentd *d, struct agentd_run *r)
{
	struct agentd_conn *c = r->conn;
	struct agent_wbuf w;

	run_detach(d, r); /* flushing may free c, which must not free r again */
	if (c) {
		agent_wire_begin(&w, AGENT_MSG_EXIT);
		agent_wire_u64(&w, AGENT_A_WAIT_STATUS, (uint32_t)r->status);
		if (r->message[0])
			agent_wire_str(&w, AGENT_A_MESSAGE, r->message);
		if (agent_wire_finish(&w) == 0)
			agentd_reply(d, c, &w);
		c->closing = true;
		agentd_conn_flush(d, c);
	}
	run_free(d, r);
}

void agentd_run_done(struct agentd *d, struct agentd_run *r)
{
	struct agent_run_result res;
	char text[96];
	ssize_t n;

	do
		n = read(r->rfd, &res, sizeof(res));
	while (n < 0 && errno == EINTR);
	r->starting = false;
	if (n == (ssize_t)sizeof(res) && res.started == AGENT_RUN_BEGUN)
		return; /* the command runs; its status comes later */
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, r->rfd, NULL);
	close(r->rfd);
	r->rfd = -1;
	while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
		;
	r->exited = true;
	if (n != (ssize_t)sizeof(res)) {
		r->status = W_EXITCODE(125, 0);
		snprintf(r->message, sizeof(r->message), "the runner of %s failed", r->name);
		snprintf(text, sizeof(text), "the runner failed");
	} else if (!res.started) {
		r->status = W_EXITCODE(125, 0);
		res.message[sizeof(res.message) - 1] = '\0';
		snprintf(r->message, sizeof(r->message), "%s", res.message);
		snprintf(text, sizeof(text), "the command did not start");
	} else {
		r->status = res.status;
		if (WIFSIGNALED(res.status))
			snprintf(text, sizeof(text), "the command was killed by signal %d",
				 WTERMSIG(res.status));
		else
			snprintf(text, sizeof(text), "the command exited with status %d",
				 WEXITSTATUS(res.status));
	}
	/* Whatever the command left behind dies with the identity; the client
	 * hears back once that is done. */
	agentd_retire(d, r->name, AGENT_RETIRE_TASK_ENDED, text, NULL);
	if (!agentd_reap_pending(d, r->uid))
		run_finish(d, r);
}

void agentd_run_reaped(struct agentd *d, uint32_t uid)
{
	struct agentd_run *r;

	LIST_FOREACH(r, &d->runs, link)
	if (r->uid == uid && r->exited) {
		run_finish(d, r);
		return;
	}
}

void agentd_run_conn_gone(struct agentd *d, struct agentd_conn *c)
{
	struct agentd_run *r = c->run;

	if (!r)
		return;
	run_detach(d, r);
	if (r->exited) {
		run_free(d, r);
		return;
	}
	/* The runner reports later; the identity goes now, with its command. */
	agentd_retire(d, r->name, AGENT_RETIRE_TASK_ENDED, "agentctl went away", NULL);
}

bool agentd_run_is_runner(struct agentd *d, pid_t pid)
{
	struct agentd_run *r;

	LIST_FOREACH(r, &d->runs, link)
	if (r->pid == pid && !r->exited)
		return true;
	return false;
}

void agentd_runs_forget(struct agentd *d)
{
	while (!LIST_EMPTY(&d->runs))
		run_free(d, LIST_FIRST(&d->runs));
}
