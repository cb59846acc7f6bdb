/* The runner spawner: a long-lived child of agentd that keeps the modules
 * of PAM service "agentd" loaded and forks each run's runner (run.c) from
 * that state, so that the runner's pam_start() finds them in place instead
 * of loading the stack and every library its modules pull in (about 1 ms of
 * an 8 ms `agentctl run -- /bin/true` measured here; su pays it too).
 *
 * The modules are only loaded in it (pam_start), never called; they are
 * loaded again (pam_end, pam_start) every AGENTD_SPAWNER_REFRESH_MS and
 * when agentd reloads, so a module replaced on disk is the one runs use
 * within that time. A run that finds no spawner (it died, or could not be
 * started) is forked by agentd itself, as before. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/limits.h"

struct agentd;
struct agentd_run_spec;

#define AGENTD_SPAWNER_REFRESH_MS 60000
/* agentd's wait for the runner's pid: the spawner forks and answers. */
#define AGENTD_SPAWNER_WAIT_MS 2000
/* After a spawner is started or found dead, agentd forks runners itself
 * for this long before it starts another (a spawner that cannot live does
 * not cost a fork per run). */
#define AGENTD_SPAWNER_RETRY_MS 5000

/* Forks the spawner (with its socketpair). 0 or -errno; without one, runs
 * are forked by agentd. */
int agentd_spawner_start(struct agentd *d);
/* Asks the spawner to load its modules again (agentd reloads). */
void agentd_spawner_refresh(struct agentd *d);
/* Closes agentd's end (the spawner exits; runners go on) and reaps it,
 * bounded. */
void agentd_spawner_stop(struct agentd *d);
/* SIGCHLD: if the spawner has exited, reaps it (no zombie is left) and
 * logs it; runs are forked by agentd until a new one is started. */
void agentd_spawner_reap(struct agentd *d);

/* Has the spawner fork the runner for s, handing it wfd (the result pipe)
 * and cgfd (the cgroup directory, or -1). 0: *pid is the runner's. 1: no
 * spawner, nothing was sent: the caller forks the runner itself. -errno:
 * the request was sent but not answered (the spawner is killed): the run
 * must be refused, as a runner may have been forked for it. */
int agentd_spawner_spawn(struct agentd *d, const struct agentd_run_spec *s, int wfd, int cgfd,
			 pid_t *pid);

/* ---- the request, as it goes over the socket (exposed for tests) ---- */

#define AGENTD_SPAWN_CWD 1u
#define AGENTD_SPAWN_RUSER 2u
#define AGENTD_SPAWN_CGROUP 4u
/* The header, then NUL-terminated strings: name, home, shell, cwd (with
 * AGENTD_SPAWN_CWD), ruser (with AGENTD_SPAWN_RUSER), argv[0..argc). */
struct agentd_spawn_hdr {
	uint32_t uid;
	uint32_t ngroups;
	uint32_t groups[AGENT_GROUPS_MAX];
	uint32_t argc;
	uint32_t flags;
};
#define AGENTD_SPAWN_MSG_MAX (sizeof(struct agentd_spawn_hdr) + AGENT_WIRE_MAX + 1024)

/* What a decoded request holds (strings point into the message). */
struct agentd_spawn_job {
	uint32_t uid, flags;
	char name[AGENT_NAME_MAX + 1];
	const char *home, *shell, *cwd, *ruser;
	const char *argv[AGENT_ARGV_MAX + 1];
	gid_t groups[AGENT_GROUPS_MAX];
	size_t ngroups;
};

/* Encodes s into buf (cap bytes). Its length, or -E2BIG. */
ssize_t agentd_spawn_encode(const struct agentd_run_spec *s, bool cgroup, uint8_t *buf, size_t cap);
/* Decodes buf[0..len) into j. 0, or -EBADMSG for anything malformed
 * (short, a count out of range, a string not terminated, bytes left). */
int agentd_spawn_decode(const uint8_t *buf, size_t len, struct agentd_spawn_job *j);
