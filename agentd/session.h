/* Login sessions of agent identities, as pam_agent registers them.
 *
 * A session is the PAM application process that opened it (su, sshd's
 * per-connection process, login, cron, agentd's own `run` child), held as a
 * pidfd so a recycled pid is never signalled. When the identity retires,
 * each of its session processes gets SIGTERM (the reaper kills the
 * identity's own processes); a session ends when pam_agent closes it or its
 * process exits. Sessions live in memory only: after a restart of agentd
 * they are not tracked, and retirement still kills every process of the
 * uid. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include "common/limits.h"

#define AGENTD_MAX_SESSIONS 4096
#define AGENTD_MAX_SESSIONS_PER_IDENTITY 256

struct agentd;

struct agentd_session {
	int kind; /* W_SESSION: first member, epoll data points here */
	uint64_t id;
	int pidfd;
	pid_t pid;
	uint32_t uid;
	char name[AGENT_NAME_MAX + 1];
	char service[AGENT_SERVICE_MAX + 1];
	LIST_ENTRY(agentd_session) link;
};

/* Registers a session for the process pid. 0 and *out; -EMFILE over a
 * limit; -ESRCH if the process is gone; -errno. */
int agentd_session_open(struct agentd *d, const char *name, uint32_t uid, const char *service,
			pid_t pid, struct agentd_session **out);
struct agentd_session *agentd_session_find(struct agentd *d, uint64_t id);
/* Forgets a session (closed by pam_agent, or its process exited). */
void agentd_session_free(struct agentd *d, struct agentd_session *s);
/* SIGTERM to every session process of uid; returns how many sessions uid
 * had open (a process the cgroup kill ended first counts too). */
unsigned agentd_sessions_end(struct agentd *d, uint32_t uid);
unsigned agentd_sessions_count(struct agentd *d, uint32_t uid);
