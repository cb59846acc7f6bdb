/* The runner spawner (agentd/spawner.h).
 *
 * Invariants:
 * - first started before agentd opens its state database or loads its
 *   token key; whenever started, it wipes the token and audit keys at
 *   once (a runner forked by agentd does the same);
 * - it keeps its socket and 0-2 only: every other descriptor is closed
 *   before a module is loaded;
 * - the PAM modules it loads are never called in it (pam_start only);
 * - one request, one runner: it answers with the runner's pid (or -errno)
 *   as soon as it has forked; a request agentd gave up on is never forked
 *   twice (agentd refuses the run and kills the spawner);
 * - it reaps its runners, and exits when agentd's end of its socket is
 *   closed; runners go on (as they do when agentd stops). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "agentd/daemon.h"
#include "agentd/runner.h"
#include "agentd/spawner.h"
#include "common/clock.h"
#include "common/identity.h"

#define NFDS 5 /* stdin, stdout, stderr of the client, the result pipe, the cgroup */

/* ------------------------------------------------------------ the request */

static int put_str(uint8_t *buf, size_t cap, size_t *off, const char *s)
{
	size_t n = strlen(s) + 1;

	if (n > cap - *off)
		return -E2BIG;
	memcpy(buf + *off, s, n);
	*off += n;
	return 0;
}

ssize_t agentd_spawn_encode(const struct agentd_run_spec *s, bool cgroup, uint8_t *buf, size_t cap)
{
	struct agentd_spawn_hdr h = { .uid = s->id->uid };
	size_t off = sizeof(h);
	int r = 0;

	if (cap < sizeof(h) || s->ngroups > AGENT_GROUPS_MAX)
		return -E2BIG;
	h.ngroups = (uint32_t)s->ngroups;
	for (size_t i = 0; i < s->ngroups; i++)
		h.groups[i] = s->groups[i];
	h.flags = (s->cwd ? AGENTD_SPAWN_CWD : 0) | (s->ruser ? AGENTD_SPAWN_RUSER : 0) |
		  (cgroup ? AGENTD_SPAWN_CGROUP : 0);
	r |= put_str(buf, cap, &off, s->id->name);
	r |= put_str(buf, cap, &off, s->home);
	r |= put_str(buf, cap, &off, s->shell);
	if (s->cwd)
		r |= put_str(buf, cap, &off, s->cwd);
	if (s->ruser)
		r |= put_str(buf, cap, &off, s->ruser);
	for (h.argc = 0; s->argv[h.argc]; h.argc++)
		if (h.argc >= AGENT_ARGV_MAX || put_str(buf, cap, &off, s->argv[h.argc]) < 0)
			return -E2BIG;
	if (r)
		return -E2BIG;
	memcpy(buf, &h, sizeof(h));
	return (ssize_t)off;
}

/* The next NUL-terminated string at *off, or NULL. */
static const char *get_str(const uint8_t *buf, size_t len, size_t *off)
{
	const uint8_t *end;
	const char *s;

	if (*off >= len)
		return NULL;
	end = memchr(buf + *off, '\0', len - *off);
	if (!end)
		return NULL;
	s = (const char *)buf + *off;
	*off = (size_t)(end - buf) + 1;
	return s;
}

int agentd_spawn_decode(const uint8_t *buf, size_t len, struct agentd_spawn_job *j)
{
	struct agentd_spawn_hdr h;
	size_t off = sizeof(h);
	const char *name;

	memset(j, 0, sizeof(*j));
	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.ngroups > AGENT_GROUPS_MAX || h.argc == 0 || h.argc > AGENT_ARGV_MAX ||
	    (h.flags & ~(AGENTD_SPAWN_CWD | AGENTD_SPAWN_RUSER | AGENTD_SPAWN_CGROUP)) ||
	    h.uid == 0)
		return -EBADMSG;
	j->uid = h.uid;
	j->flags = h.flags;
	j->ngroups = h.ngroups;
	for (size_t i = 0; i < h.ngroups; i++)
		j->groups[i] = h.groups[i];
	name = get_str(buf, len, &off);
	j->home = get_str(buf, len, &off);
	j->shell = get_str(buf, len, &off);
	if (!name || !j->home || !j->shell || strlen(name) > AGENT_NAME_MAX)
		return -EBADMSG;
	memcpy(j->name, name, strlen(name) + 1);
	if ((h.flags & AGENTD_SPAWN_CWD) && !(j->cwd = get_str(buf, len, &off)))
		return -EBADMSG;
	if ((h.flags & AGENTD_SPAWN_RUSER) && !(j->ruser = get_str(buf, len, &off)))
		return -EBADMSG;
	for (uint32_t i = 0; i < h.argc; i++)
		if (!(j->argv[i] = get_str(buf, len, &off)))
			return -EBADMSG;
	j->argv[h.argc] = NULL;
	return off == len ? 0 : -EBADMSG;
}

/* ------------------------------------------------------------ the spawner */

static pam_handle_t *warm;
static int64_t warm_at;

static int pass_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	(void)n;
	(void)msg;
	(void)resp;
	(void)data;
	return PAM_CONV_ERR; /* never called: no module function runs here */
}

/* Loads the stack's modules (again): pam_end() unloads what only this
 * handle held, so a module replaced on disk is the new one. A stack that
 * does not load leaves nothing warm; each runner's pam_start() then says
 * why, as it would have anyway. */
static void warm_load(void)
{
	static const struct pam_conv conv = { pass_conv, NULL };

	if (warm)
		pam_end(warm, PAM_SUCCESS);
	warm = NULL;
	if (pam_start(AGENTD_RUN_PAM_SERVICE, NULL, &conv, &warm) != PAM_SUCCESS) {
		if (warm)
			pam_end(warm, PAM_SYSTEM_ERR);
		warm = NULL;
	}
	warm_at = agent_mono_ms();
}

static void on_child(int sig)
{
	(void)sig; /* only to end ppoll early */
}

/* Moves fd to 10 or above (the runner puts its own at 0-4). */
static int high(int fd)
{
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);

	close(fd);
	return h;
}

/* One request: decode, fork the runner, answer. The descriptors are the
 * spawner's to close. */
static void serve(int sock, const uint8_t *buf, size_t len, int *fds, unsigned nfds)
{
	struct agentd_spawn_job j;
	int32_t answer;
	bool cg;
	pid_t p;

	if (agentd_spawn_decode(buf, len, &j) < 0 ||
	    nfds != ((cg = j.flags & AGENTD_SPAWN_CGROUP) ? 5u : 4u)) {
		answer = -EBADMSG;
		goto out;
	}
	p = fork();
	if (p == 0) {
		struct agent_identity id;
		struct agentd_run_spec s = { 0 };

		memset(&id, 0, sizeof(id));
		memcpy(id.name, j.name, sizeof(id.name));
		id.uid = j.uid;
		s.id = &id;
		s.argv = j.argv;
		s.cwd = j.cwd;
		s.ruser = j.ruser;
		s.home = j.home;
		s.shell = j.shell;
		s.groups = j.groups;
		s.ngroups = j.ngroups;
		close(sock);
		for (unsigned i = 0; i < nfds; i++)
			if ((fds[i] = high(fds[i])) < 0)
				_exit(125);
		memcpy(s.fds, fds, sizeof(s.fds));
		agentd_runner_main(&s, fds[3], cg ? fds[4] : -1);
	}
	answer = p > 0 ? (int32_t)p : -errno;
out:
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	(void)!send(sock, &answer, sizeof(answer), MSG_NOSIGNAL);
}

static _Noreturn void spawner_main(int sock)
{
	struct sigaction sa = { .sa_handler = on_child, .sa_flags = SA_NOCLDSTOP };
	static uint8_t buf[AGENTD_SPAWN_MSG_MAX];
	sigset_t none, chld;

	sigemptyset(&none);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_SETMASK, &chld, NULL); /* SIGCHLD only while waiting */
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN); /* a ^C to agentd in a terminal: agentd decides */
	closelog();
	prctl(PR_SET_NAME, "agentd-spawner");
	if (sock > 3)
		close_range(3, (unsigned)sock - 1, 0);
	close_range((unsigned)sock + 1, ~0U, 0);
	warm_load();
	for (;;) {
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(NFDS * sizeof(int))];
		} cm;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cm.b,
				     .msg_controllen = sizeof(cm.b) };
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		int fds[NFDS];
		unsigned nfds = 0;
		int64_t left;
		struct timespec ts;
		ssize_t n;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		left = warm_at + AGENTD_SPAWNER_REFRESH_MS - agent_mono_ms();
		if (left <= 0) {
			warm_load();
			continue;
		}
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000L;
		if (ppoll(&pfd, 1, &ts, &none) <= 0)
			continue;
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			_exit(0); /* agentd closed its end */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

				for (unsigned i = 0; i < k; i++) {
					int fd;

					memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
					if (nfds < NFDS)
						fds[nfds++] = fd;
					else
						close(fd);
				}
			}
		if (n == 1 && nfds == 0) {
			warm_load(); /* agentd reloaded */
			continue;
		}
		if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			int32_t answer = -EBADMSG;

			for (unsigned i = 0; i < nfds; i++)
				close(fds[i]);
			(void)!send(sock, &answer, sizeof(answer), MSG_NOSIGNAL);
			continue;
		}
		serve(sock, buf, (size_t)n, fds, nfds);
	}
}

/* ------------------------------------------------------------ agentd's side */

int agentd_spawner_start(struct agentd *d)
{
	int sv[2];
	pid_t p;

	d->spawner.tried = agent_mono_ms();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	p = fork();
	if (p < 0) {
		int e = -errno;

		close(sv[0]);
		close(sv[1]);
		return e;
	}
	if (p == 0) {
		agentd_forget_keys(d); /* it hosts the site's PAM modules */
		close(sv[0]);
		spawner_main(sv[1]);
	}
	close(sv[1]);
	d->spawner.sock = sv[0];
	d->spawner.pid = p;
	return 0;
}

void agentd_spawner_refresh(struct agentd *d)
{
	if (d->spawner.sock >= 0)
		(void)!send(d->spawner.sock, "R", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Bounded: the spawner exits at the end of its socket; after wait_ms it
 * is killed. */
static void spawner_end(struct agentd *d, bool kill_it, unsigned wait_ms)
{
	if (d->spawner.sock >= 0)
		close(d->spawner.sock);
	d->spawner.sock = -1;
	d->spawner.tried = agent_mono_ms(); /* the next one in a while */
	if (d->spawner.pid <= 0)
		return;
	if (kill_it)
		kill(d->spawner.pid, SIGKILL);
	for (unsigned t = 0; t <= wait_ms; t += 5) {
		pid_t w = waitpid(d->spawner.pid, NULL, WNOHANG);

		if (w == d->spawner.pid || (w < 0 && errno != EINTR)) {
			d->spawner.pid = 0;
			return;
		}
		if (t < wait_ms)
			usleep(5000);
	}
	kill(d->spawner.pid, SIGKILL);
	while (waitpid(d->spawner.pid, NULL, 0) < 0 && errno == EINTR)
		;
	d->spawner.pid = 0;
}

void agentd_spawner_stop(struct agentd *d)
{
	spawner_end(d, false, 1000);
}

void agentd_spawner_reap(struct agentd *d)
{
	int st;

	if (d->spawner.pid <= 0 || waitpid(d->spawner.pid, &st, WNOHANG) != d->spawner.pid)
		return;
	d->spawner.pid = 0;
	agent_audit_log(&d->audit, LOG_WARNING,
			"the runner spawner is gone (%s %d); agentd forks runners itself",
			WIFSIGNALED(st) ? "killed by signal" : "exit status",
			WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	spawner_end(d, false, 0);
}

int agentd_spawner_spawn(struct agentd *d, const struct agentd_run_spec *s, int wfd, int cgfd,
			 pid_t *pid)
{
	static uint8_t buf[AGENTD_SPAWN_MSG_MAX];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(NFDS * sizeof(int))];
	} cm;
	int fds[NFDS] = { s->fds[0], s->fds[1], s->fds[2], wfd, cgfd };
	unsigned nfds = cgfd >= 0 ? 5 : 4;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pollfd pfd;
	int32_t answer;
	ssize_t n;

	if (d->spawner.sock < 0) {
		if (agent_mono_ms() - d->spawner.tried < AGENTD_SPAWNER_RETRY_MS ||
		    agentd_spawner_start(d) < 0)
			return 1;
	}
	n = agentd_spawn_encode(s, cgfd >= 0, buf, sizeof(buf));
	if (n < 0)
		return 1; /* (cannot happen within the wire's bounds) agentd forks */
	iov = (struct iovec){ buf, (size_t)n };
	memset(&cm, 0, sizeof(cm));
	mh.msg_control = cm.b;
	mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(&cm.h), fds, nfds * sizeof(int));
	/* A stale answer (of a request given up on) cannot be there: giving up
	 * ends the spawner. */
	if (sendmsg(d->spawner.sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		/* Gone (or its socket full, which one request at a time cannot
		 * make): nothing was taken. */
		agent_audit_log(&d->audit, LOG_WARNING,
				"the runner spawner is gone (%m); agentd forks runners itself");
		spawner_end(d, true, 1000);
		return 1;
	}
	pfd = (struct pollfd){ .fd = d->spawner.sock, .events = POLLIN };
	for (int64_t until = agent_mono_ms() + AGENTD_SPAWNER_WAIT_MS;;) {
		int64_t left = until - agent_mono_ms();
		int k = poll(&pfd, 1, left > 0 ? (int)left : 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n = recv(d->spawner.sock, &answer, sizeof(answer), MSG_DONTWAIT);
		if (n == (ssize_t)sizeof(answer)) {
			if (answer <= 0)
				return answer < 0 ? answer : -EPROTO;
			*pid = (pid_t)answer;
			return 0;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		break;
	}
	agent_audit_log(&d->audit, LOG_ERR,
			"the runner spawner did not answer within %d ms; it is killed",
			AGENTD_SPAWNER_WAIT_MS);
	spawner_end(d, true, 1000);
	return -ETIMEDOUT;
}
