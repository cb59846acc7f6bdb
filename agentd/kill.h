/* Retirement's dirty work: kill every process of a uid, remove its
 * ephemeral home and its IPC objects. Runs in a child process of agentd so
 * the event loop never waits for a grace period. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

struct agent_reap_opts {
	uid_t uid;
	unsigned grace_ms;   /* between SIGTERM and the first SIGKILL */
	const char *home;    /* directory to remove, or NULL */
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
