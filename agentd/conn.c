/* Client connections (agentd/conn.h): the listening socket, accept with
 * SO_PEERCRED, one request per SOCK_SEQPACKET message (with up to three
 * SCM_RIGHTS descriptors), the per-connection reply queue and its flush.
 *
 * Invariants: a protocol violation ends the connection after one error
 * reply; descriptors a handler did not keep are closed after dispatch;
 * request and reply bytes are wiped once sent or read (they may hold a
 * token); waiting connections (a step-up, an `agentctl run`) do not count
 * against max_connections and never time out; no client is ever reset: at
 * max_connections the listening socket is left alone (the backlog holds
 * the rest), and a connection over its uid's share gets an EAGAIN reply
 * before it is closed. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "agentd/conn.h"
#include "agentd/daemon.h"
#include "common/clock.h"

int agentd_listen(struct agentd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->sock_path) >=
	    (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (unlink(d->sock_path) < 0 && errno != ENOENT) {
		r = -errno;
		goto fail;
	}
	/* Any local user may connect; each request is authorised per caller. */
	old = umask(0111);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		goto fail;
	}
	d->listen_fd = fd;
	return 0;
fail:
	close(fd);
	return r;
}

static void conn_close_fds(struct agentd_conn *c)
{
	for (unsigned i = 0; i < c->nfds; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	c->nfds = 0;
}

static void conn_drop_req(struct agentd *d, struct agentd_conn *c)
{
	if (c->req) {
		sodium_memzero(c->req, c->req_len);
		free(c->req);
		d->conns.nqueued--;
	}
	c->req = NULL;
	c->req_len = 0;
}

void agentd_conn_free(struct agentd *d, struct agentd_conn *c)
{
	struct agentd_outmsg *m;

	if (d->hooks.conn_gone)
		d->hooks.conn_gone(d, c);
	conn_close_fds(c);
	conn_drop_req(d, c);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	while ((m = STAILQ_FIRST(&c->out))) {
		STAILQ_REMOVE_HEAD(&c->out, link);
		sodium_memzero(m->data, m->len);
		free(m);
	}
	LIST_REMOVE(c, link);
	d->conns.n--;
	free(c);
}

bool agentd_conn_waiting(const struct agentd_conn *c)
{
	return c->run || c->request || c->job || c->placing;
}

/* Connections that count against the limits (waiting ones do not: max_pending
 * and max_live bound those). Each waiting one is among conns.n. */
static unsigned conns_active(const struct agentd *d)
{
	/* A connection whose request is read and queued for the next batch of
	 * creates does not hold the listening socket shut either: the loop
	 * queues at most a few turns' worth, and pam_agent's requests behind
	 * it in the backlog must reach the loop, which serves them first. */
	unsigned waiting = d->nrequests + d->nruns + d->conns.nqueued;

	return d->conns.n > waiting ? d->conns.n - waiting : 0;
}

/* The part of max_connections only root may use: a quarter (at least one
 * when there are two or more), so that root's agentctl and pam_agent (its
 * requests come from root's su, sudo, sshd, login) always find a slot. */
static unsigned root_reserve(const struct agentd *d)
{
	unsigned g = d->cfg->max_connections;

	return g < 2 ? 0 : (g / 4 ? g / 4 : 1);
}

/* Whether a new connection from uid fits its share. */
static bool conn_admit(const struct agentd *d, uid_t uid, char *why, size_t len)
{
	const struct agentd_conn *c;
	unsigned same = 0, nonroot = 0;

	if (uid == 0)
		return true;
	LIST_FOREACH(c, &d->conns.list, link)
	{
		if (agentd_conn_waiting(c) || c->cred.uid == 0)
			continue;
		nonroot++;
		if (c->cred.uid == uid)
			same++;
	}
	if (same >= d->cfg->max_connections_per_uid) {
		snprintf(why, len,
			 "agentd is busy: uid %u holds %u connections "
			 "(max_connections_per_uid); try again",
			 (unsigned)uid, same);
		return false;
	}
	if (nonroot + root_reserve(d) >= d->cfg->max_connections) {
		snprintf(why, len,
			 "agentd is busy: every connection open to non-root "
			 "callers is in use (max_connections); try again");
		return false;
	}
	return true;
}

/* A refused connection is told why (one ERROR reply, EUSERS) before it is
 * closed, so that the client can tell busy from broken and try again
 * (common/client.c: agent_client_call). */
static void conn_refuse(int fd, const char *why)
{
	struct agent_wbuf w;

	agent_wire_begin(&w, AGENT_MSG_ERROR);
	agent_wire_error(&w, EUSERS, why);
	if (agent_wire_finish(&w) == 0)
		(void)send(fd, w.data, w.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void listen_pause(struct agentd *d)
{
	if (!d->conns.paused && epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->listen_fd, NULL) == 0)
		d->conns.paused = true;
}

void agentd_accept_resume(struct agentd *d)
{
	if (d->conns.paused && d->listen_fd >= 0 && conns_active(d) < d->cfg->max_connections &&
	    agentd_watch(d, d->listen_fd, EPOLLIN, &d->kinds[W_LISTEN]) == 0)
		d->conns.paused = false;
}

unsigned agentd_accept(struct agentd *d)
{
	unsigned accepted = 0;

	for (;;) {
		struct agentd_conn *c;
		struct ucred cred;
		socklen_t len = sizeof(cred);
		char why[AGENT_MESSAGE_MAX];
		int fd;

		/* Full: the rest wait in the listen backlog (SOMAXCONN), and
		 * connect(2) beyond that answers EAGAIN, which clients retry
		 * until their deadline. Nobody is reset. */
		if (conns_active(d) >= d->cfg->max_connections) {
			listen_pause(d);
			return accepted;
		}
		/* At most a loop turn's worth at once (the loop reads them). */
		if (accepted == AGENTD_ACCEPT_MAX)
			return accepted;
		fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return accepted;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			close(fd);
			continue;
		}
		if (!conn_admit(d, cred.uid, why, sizeof(why))) {
			conn_refuse(fd, why);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			conn_refuse(fd, "agentd is out of memory; try again");
			continue;
		}
		c->kind = W_CONN;
		c->fd = fd;
		c->cred = cred;
		c->last_ms = agent_boot_ms();
		STAILQ_INIT(&c->out);
		if (agentd_watch(d, fd, EPOLLIN, c) < 0) {
			close(fd);
			free(c);
			continue;
		}
		LIST_INSERT_HEAD(&d->conns.list, c, link);
		d->conns.n++;
		accepted++;
	}
}

/* Bytes the client sent that agentd has not read yet? */
static bool conn_unread(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

int agentd_conn_sweep(struct agentd *d)
{
	int64_t now = agent_boot_ms(), limit = (int64_t)d->cfg->connection_idle_timeout * 1000;
	int64_t next = -1;
	struct agentd_conn *c, *tmp;

	for (c = LIST_FIRST(&d->conns.list); c; c = tmp) {
		int64_t left;

		tmp = LIST_NEXT(c, link);
		if (agentd_conn_waiting(c))
			continue;
		left = c->last_ms + limit - now;
		if (left <= 0 && (c->req || conn_unread(c->fd))) {
			/* Not idle: its request waits for agentd, not the other
			 * way round (a busy loop must not reset its clients). */
			c->last_ms = now;
			left = limit;
		}
		if (left <= 0) {
			agentd_conn_free(d, c);
			continue;
		}
		if (next < 0 || left < next)
			next = left;
	}
	return next < 0 ? -1 : (int)(next > INT32_MAX ? INT32_MAX : next);
}

bool agentd_conn_flush(struct agentd *d, struct agentd_conn *c)
{
	struct agentd_outmsg *m;

	while ((m = STAILQ_FIRST(&c->out))) {
		ssize_t n = send(c->fd, m->data, m->len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			agentd_conn_free(d, c);
			return false;
		}
		STAILQ_REMOVE_HEAD(&c->out, link);
		c->last_ms = agent_boot_ms();
		c->out_bytes -= m->len;
		sodium_memzero(m->data, m->len);
		free(m);
	}
	if (STAILQ_EMPTY(&c->out) && c->closing) {
		agentd_conn_free(d, c);
		return false;
	}
	struct epoll_event ev = { .events = !STAILQ_EMPTY(&c->out) ? EPOLLOUT : EPOLLIN,
				  .data.ptr = c };

	epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	return true;
}

void agentd_reply(struct agentd *d, struct agentd_conn *c, const struct agent_wbuf *w)
{
	struct agentd_outmsg *m;

	if (c->out_bytes + w->len > AGENTD_CONN_OUT_MAX) {
		c->closing = true; /* a client that does not read loses its connection */
		return;
	}
	m = malloc(sizeof(*m) + w->len);
	if (!m) {
		c->closing = true;
		return;
	}
	m->len = w->len;
	memcpy(m->data, w->data, w->len);
	STAILQ_INSERT_TAIL(&c->out, m, link);
	c->out_bytes += w->len;
}

void agentd_reply_error(struct agentd *d, struct agentd_conn *c, int err, const char *fmt, ...)
{
	struct agent_wbuf w;
	char msg[AGENT_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	agent_wire_begin(&w, AGENT_MSG_ERROR);
	agent_wire_error(&w, err, msg);
	if (agent_wire_finish(&w) == 0)
		agentd_reply(d, c, &w);
}

/* Takes the descriptors of an SCM_RIGHTS message into c->fds (all of them
 * are received CLOEXEC; any beyond the slots are closed). False if the
 * control data was truncated or of another kind. */
static bool conn_take_fds(struct agentd_conn *c, struct msghdr *mh)
{
	bool ok = !(mh->msg_flags & MSG_CTRUNC);

	for (struct cmsghdr *h = CMSG_FIRSTHDR(mh); h; h = CMSG_NXTHDR(mh, h)) {
		size_t n;

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) {
			ok = false;
			continue;
		}
		n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (c->nfds < sizeof(c->fds) / sizeof(c->fds[0])) {
				c->fds[c->nfds++] = fd;
			} else {
				close(fd);
				ok = false;
			}
		}
	}
	return ok;
}

/* Where a datagram lands (wiped at once): each request is then copied to
 * its connection, so that a turn of the loop can hold many. */
static uint8_t rbuf[AGENT_WIRE_MAX + 1];

int agentd_conn_recv(struct agentd *d, struct agentd_conn *c, struct agent_msg *m)
{
	uint8_t *buf = rbuf;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 3)];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(rbuf) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	bool fds_ok;
	ssize_t n;

	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return -1;
	fds_ok = n < 0 || conn_take_fds(c, &mh);
	c->last_ms = agent_boot_ms();
	if (n <= 0) {
		agentd_conn_free(d, c);
		return -1;
	}
	/* A protocol violation ends the connection after one error reply. */
	if ((size_t)n <= AGENT_WIRE_MAX && fds_ok) {
		conn_drop_req(d, c);
		c->req = malloc((size_t)n);
		if (c->req) {
			memcpy(c->req, buf, (size_t)n);
			c->req_len = (size_t)n;
			d->conns.nqueued++;
		}
		sodium_memzero(buf, (size_t)n);
		if (!c->req) {
			agentd_reply_error(d, c, ENOMEM, "agentd is out of memory");
			c->closing = true;
			return 0;
		}
	}
	if ((size_t)n > AGENT_WIRE_MAX || !fds_ok || agent_wire_parse(m, c->req, c->req_len) < 0) {
		sodium_memzero(rbuf, sizeof(rbuf));
		agentd_reply_error(d, c, EBADMSG, "malformed request");
		c->closing = true;
		return 0;
	}
	return 1;
}

void agentd_conn_done(struct agentd *d, struct agentd_conn *c)
{
	conn_close_fds(c); /* what the handler did not keep */
	conn_drop_req(d, c);
	agentd_conn_flush(d, c);
}
