/* `agentctl run` (see agentd/run.h): agentd's side of a run, from the
 * runner's start (by the spawner, or a fork here) to the client's answer.
 * The runner itself is agentd/runner.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentd/cgroup.h"
#include "agentd/conn.h"
#include "agentd/daemon.h"
#include "agentd/reaper.h"
#include "agentd/retire.h"
#include "agentd/run.h"
#include "agentd/spawner.h"
#include "common/clock.h"

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
	/* From the spawner, its PAM modules loaded; else forked here. */
	e = agentd_spawner_spawn(d, s, p[1], cgfd, &r->pid);
	if (e == 0) {
		r->spawned = true;
	} else if (e < 0) {
		r->pid = -1;
	} else {
		r->pid = fork();
		if (r->pid == 0) {
			agentd_forget_keys(d); /* the site's PAM modules run here */
			close(p[0]);
			agentd_runner_main(s, p[1], cgfd);
		}
		e = -errno;
	}
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
	/* (The spawner reaps those it forked.) */
	while (!r->spawned && waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
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
