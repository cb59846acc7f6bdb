/* `agentctl run`: a command started by agentd as a fresh identity.
 *
 * Each run has a runner (root; runner.h), forked by the spawner
 * (spawner.h) or by agentd. The runner opens a PAM
 * transaction for service "agentd" (account and session stacks: the site's
 * modules and pam_agent apply), starts the command as the identity with the
 * client's stdin, stdout and stderr (passed over the socket), waits for it,
 * closes the session and reports the command's wait status on a pipe.
 * agentd then retires the identity (every process it left is killed) and,
 * once the reaper is done, sends the status to the client. If the client
 * goes away first, the identity is retired at once, which kills the
 * command. If the TTL ends first, the command is killed by the retirement
 * and its (signal) status is reported. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include "agentd/runner.h"
#include "common/identity.h"

struct agentd;
struct agentd_conn;

struct agentd_run {
	int kind;     /* W_RUN: first member, epoll data points here */
	pid_t pid;    /* the runner */
	bool spawned; /* forked by the spawner (not agentd's child) */
	int rfd;      /* its result pipe */
	uint32_t uid;
	char name[AGENT_NAME_MAX + 1];
	struct agentd_conn *conn; /* NULL once the client went away */
	bool starting;            /* PAM and the fork of the command not done yet */
	int64_t start_ms;         /* CLOCK_MONOTONIC ms of the runner's fork */
	bool exited;              /* the runner reported; waiting for the reap */
	int32_t status;           /* what goes to the client (agent_run_result) */
	char message[160];
	LIST_ENTRY(agentd_run) link;
};

/* Runners that may be in their PAM stage at once. More runs wait, parsed,
 * before their create (the client waits for its IDENTITY reply): a burst
 * of runs would otherwise share the CPU with agentd so thinly that
 * pam_agent's requests from the runners (account, session) outlive the
 * module's timeout and are refused. A runner counts until its command
 * starts, or for AGENTD_RUN_SLOW_MS at most (a slow PAM module does not
 * stop the others). */
#define AGENTD_RUNS_STARTING_MAX 32
#define AGENTD_RUN_SLOW_MS 2000
/* How many more runners may start now (0: the next RUN waits). */
unsigned agentd_run_room(struct agentd *d);

/* Forks the runner; the client conn waits for the result. 0 or -errno. */
int agentd_run_start(struct agentd *d, struct agentd_conn *c, const struct agentd_run_spec *s);
/* The runner's pipe is readable (it reported, or died). */
void agentd_run_done(struct agentd *d, struct agentd_run *r);
/* A reaper for uid finished: a run waiting for it can answer now. */
void agentd_run_reaped(struct agentd *d, uint32_t uid);
/* The client connection is being freed. */
void agentd_run_conn_gone(struct agentd *d, struct agentd_conn *c);
/* Whether pid is one of agentd's runners (its PAM session is not placed in
 * the identity's cgroup: the runner places its command there itself). */
bool agentd_run_is_runner(struct agentd *d, pid_t pid);
/* Daemon shutdown: forget runs without retiring (the commands go on). */
void agentd_runs_forget(struct agentd *d);
