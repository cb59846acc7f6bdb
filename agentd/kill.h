/* Retirement's dirty work: kill every process of a uid, remove its
 * ephemeral home and its IPC objects. Runs in the reaper helper, one
 * long-lived process started early (reaper.c), so the event loop never
 * waits for a grace period and agentd is never forked per uid. */
#pragma once
#include <stdint.h>
#include <sys/types.h>
#include "common/limits.h"

/* The helper's protocol: one SOCK_SEQPACKET datagram a uid each way. */
struct agent_reap_req {
	uint32_t uid;
	uint32_t grace_ms; /* SIGTERM, then up to this long before SIGKILL */
	uint32_t bound_ms; /* then SIGKILL until none is left, at most this long */
	char home[AGENT_PATH_MAX + AGENT_NAME_MAX + 2]; /* "" for none */
};
struct agent_reap_res {
	uint32_t uid;
	int32_t rc;         /* 0, -EBUSY (survivors), -errno */
	uint32_t killed;    /* its processes found when the request arrived */
	uint32_t survivors; /* still there at the bound */
};

/* The helper's main loop on sock (its end of the socketpair); never
 * returns. Closes every other descriptor first. For each request, a worker
 * (root) forks a child that drops to the uid (setgroups, setresgid,
 * setresuid) and kill(-1)s until nothing of it is left (bounded), then
 * removes the home and IPC objects and sends the result; at most 64 run at
 * once. Exits once agentd closed its end and the workers finished. */
_Noreturn void agent_reap_helper_run(int sock);

struct agent_reap_opts {
	uid_t uid;
	unsigned grace_ms;     /* between SIGTERM and the first SIGKILL */
	const char *home;      /* directory to remove, or NULL */
	const char *proc_root; /* "/proc" */
};

/* Sends SIGTERM to every process whose real, effective or saved uid is
 * opts->uid, waits up to grace_ms for them to exit, then SIGKILLs the rest,
 * repeating until a scan finds none (bounded: gives up after 10 s and
 * returns -EBUSY). Signals go through pidfds so a recycled pid is never hit.
 * Then removes the home directory tree (no symlink is followed, no mount
 * point is crossed: mount ids) and the uid's SysV IPC objects and POSIX shared
 * memory / message queues. *killed counts distinct processes signalled.
 * Returns 0 or -errno. */
int agent_reap_uid(const struct agent_reap_opts *opts, unsigned *killed);

/* Only the kill part, exported for tests. */
int agent_kill_uid(uid_t uid, unsigned grace_ms, const char *proc_root, unsigned *killed);
/* Only the tree removal; refuses anything but a directory. */
int agent_remove_tree(const char *path);
/* Only the IPC part. */
int agent_remove_ipc(uid_t uid);
