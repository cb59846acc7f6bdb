/* Client side of the agentd socket (see common/client.h). A guest in
 * pam_agent's host process too: CLOEXEC, never fds 0-2, bounded waits. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/client.h"
#include "common/clock.h"

/* Waits for events on fd until the deadline; 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - agent_mono_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

int agent_client_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = agent_mono_ms() + timeout_ms;
	int fd, r;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (fd < 3) {
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);

		close(fd);
		if (high < 0)
			return -errno;
		fd = high;
	}
	/* A full listen backlog (agentd busy or frozen) answers EAGAIN at
	 * once on a Unix socket: try again until the deadline. */
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (errno != EAGAIN)
			break;
		if (agent_mono_ms() + 10 >= deadline) {
			r = -ETIMEDOUT;
			goto fail;
		}
		poll(NULL, 0, 10);
	}
	{
		if (errno != EINPROGRESS && errno != EINTR) {
			r = -errno;
			goto fail;
		}
		socklen_t len = sizeof(int);
		int err = 0;

		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			r = err ? -err : -errno;
			goto fail;
		}
	}
	return fd;
fail:
	close(fd);
	return r;
}

int agent_client_send(int fd, const struct agent_wbuf *w, int timeout_ms)
{
	return agent_client_send_fds(fd, w, NULL, 0, timeout_ms);
}

int agent_client_send_fds(int fd, const struct agent_wbuf *w, const int *fds, unsigned nfds,
			  int timeout_ms)
{
	int64_t deadline = agent_mono_ms() + timeout_ms;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * AGENT_CLIENT_MAX_FDS)];
	} ctl;
	struct iovec iov = { .iov_base = (void *)w->data, .iov_len = w->len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > AGENT_CLIENT_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		ctl.h.cmsg_level = SOL_SOCKET;
		ctl.h.cmsg_type = SCM_RIGHTS;
		ctl.h.cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(&ctl.h), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		int r;

		if (n == (ssize_t)w->len)
			return 0;
		if (n >= 0)
			return -EIO; /* a datagram is sent whole or not at all */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
}

int agent_client_recv(int fd, uint8_t *buf, struct agent_msg *m, int timeout_ms)
{
	int64_t deadline = agent_mono_ms() + timeout_ms;

	for (;;) {
		ssize_t n = recv(fd, buf, AGENT_WIRE_MAX, MSG_DONTWAIT | MSG_TRUNC);
		int r;

		if (n == 0)
			return -ECONNRESET;
		if (n > 0) {
			if (n > AGENT_WIRE_MAX)
				return -EBADMSG;
			return agent_wire_parse(m, buf, (size_t)n) < 0 ? -EBADMSG : 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return r;
	}
}

/* A reply that says agentd refused the connection itself (over the caller's
 * share of connections): ERROR with EUSERS, the connection then closed. */
static bool refused_busy(const struct agent_msg *m)
{
	uint64_t err = 0;

	return m->type == AGENT_MSG_ERROR && agent_msg_u64(m, AGENT_A_ERRNO, &err) && err == EUSERS;
}

int agent_client_call(const char *path, const struct agent_wbuf *w, const int *fds, unsigned nfds,
		      uint8_t *buf, struct agent_msg *m, int timeout_ms)
{
	int64_t deadline = agent_mono_ms() + timeout_ms;
	unsigned backoff = 5;

	for (;;) {
		int64_t left = deadline - agent_mono_ms();
		int fd, r;

		if (left <= 0)
			return -ETIMEDOUT;
		fd = agent_client_connect(path, (int)left);
		if (fd < 0)
			return fd;
		/* Once connected, the send and the receive are tried at least
		 * once even past the deadline: a process that slept through it
		 * on a loaded host may find agentd's answer waiting. */
		r = agent_client_send_fds(fd, w, fds, nfds, agent_mono_left_ms(deadline));
		/* Refused at accept: the reply may be waiting although the send
		 * found the connection closed. */
		if (r == -EPIPE || r == -ECONNRESET)
			r = 0;
		if (r == 0)
			r = agent_client_recv(fd, buf, m, agent_mono_left_ms(deadline));
		/* agentd closed with our request unread: Linux reports
		 * ECONNRESET once, before the reply still queued. */
		if (r == -ECONNRESET)
			r = agent_client_recv(fd, buf, m, 0);
		if (r < 0 || !refused_busy(m))
			goto done;
		close(fd);
		/* Busy: try again, spread out, until the deadline. */
		left = deadline - agent_mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		{
			unsigned wait =
				backoff / 2 + (unsigned)((uint64_t)(agent_mono_ms() ^ getpid()) %
							 (backoff / 2 + 1));

			poll(NULL, 0, (int)((int64_t)wait < left ? wait : left));
		}
		if (backoff < 200)
			backoff *= 2;
		continue;
done:
		if (r < 0) {
			close(fd);
			return r;
		}
		return fd;
	}
}
