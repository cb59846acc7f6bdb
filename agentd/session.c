/* Session table (see agentd/session.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sodium.h>

#include "agentd/daemon.h"
#include "agentd/session.h"

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int agentd_session_open(struct agentd *d, const char *name, uint32_t uid, const char *service,
			pid_t pid, struct agentd_session **out)
{
	struct agentd_session *s;
	struct epoll_event ev = { .events = EPOLLIN };

	if (d->nsessions >= AGENTD_MAX_SESSIONS ||
	    agentd_sessions_count(d, uid) >= AGENTD_MAX_SESSIONS_PER_IDENTITY)
		return -EMFILE;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->kind = W_SESSION;
	s->pidfd = pidfd_open_(pid); /* pidfds are close-on-exec */
	if (s->pidfd < 0) {
		int e = errno;

		free(s);
		return -e;
	}
	do
		randombytes_buf(&s->id, sizeof(s->id));
	while (s->id == 0 || agentd_session_find(d, s->id));
	s->pid = pid;
	s->uid = uid;
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->service, sizeof(s->service), "%s", service);
	ev.data.ptr = s;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, s->pidfd, &ev) < 0) {
		int e = errno;

		close(s->pidfd);
		free(s);
		return -e;
	}
	LIST_INSERT_HEAD(&d->sessions, s, link);
	d->nsessions++;
	*out = s;
	return 0;
}

struct agentd_session *agentd_session_find(struct agentd *d, uint64_t id)
{
	struct agentd_session *s;

	LIST_FOREACH(s, &d->sessions, link)
	if (s->id == id)
		return s;
	return NULL;
}

void agentd_session_free(struct agentd *d, struct agentd_session *s)
{
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, s->pidfd, NULL);
	close(s->pidfd);
	LIST_REMOVE(s, link);
	d->nsessions--;
	free(s);
}

unsigned agentd_sessions_end(struct agentd *d, uint32_t uid)
{
	struct agentd_session *s;
	unsigned n = 0;

	/* Each open session counts, signalled or not: the identity's cgroup,
	 * killed a moment earlier, may have ended its process already. */
	LIST_FOREACH(s, &d->sessions, link)
	if (s->uid == uid) {
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGTERM, NULL, 0);
		n++;
	}
	return n;
}

unsigned agentd_sessions_count(struct agentd *d, uint32_t uid)
{
	struct agentd_session *s;
	unsigned n = 0;

	LIST_FOREACH(s, &d->sessions, link)
	n += s->uid == uid;
	return n;
}
