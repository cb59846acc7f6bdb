/* Client side of the agentd socket, shared by agentctl and pam_agent.
 * Every call is bounded by a timeout in milliseconds; descriptors are
 * SOCK_CLOEXEC; sends use MSG_NOSIGNAL; EINTR is retried. */
#pragma once
#include <stdint.h>
#include "common/wire.h"

/* Connects to the SOCK_SEQPACKET socket at path. Returns the fd (never 0-2:
 * it is moved above 2 if needed) or -errno (-ENOENT, -ECONNREFUSED, -EACCES,
 * -ETIMEDOUT, -ENAMETOOLONG). */
int agent_client_connect(const char *path, int timeout_ms);

/* Sends one finished message. 0 or -errno. */
int agent_client_send(int fd, const struct agent_wbuf *w, int timeout_ms);

/* The same, with descriptors attached (SCM_RIGHTS; at most
 * AGENT_CLIENT_MAX_FDS): agentctl run hands agentd its stdin, stdout and
 * stderr this way. The caller keeps its own copies. */
#define AGENT_CLIENT_MAX_FDS 3
int agent_client_send_fds(int fd, const struct agent_wbuf *w, const int *fds, unsigned nfds,
			  int timeout_ms);

/* Receives one datagram into buf[AGENT_WIRE_MAX] and parses it into m.
 * 0; -ETIMEDOUT; -ECONNRESET on EOF; -EBADMSG for a truncated or invalid
 * message. */
int agent_client_recv(int fd, uint8_t *buf, struct agent_msg *m, int timeout_ms);

/* connect, send (with fds) and the first reply, all within one timeout.
 * When agentd refuses the connection because the caller's uid is over its
 * share (an ERROR reply with EUSERS), tries again with a growing, jittered
 * pause until the timeout. Returns the connected fd (the reply in m) or
 * -errno as the calls above. */
int agent_client_call(const char *path, const struct agent_wbuf *w, const int *fds, unsigned nfds,
		      uint8_t *buf, struct agent_msg *m, int timeout_ms);
