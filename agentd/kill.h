/* Retirement's dirty work, the primitives: kill every process of a uid,
 * remove an ephemeral home and IPC objects. The reaper helper
 * (reap_helper.c) uses them, so the event loop never waits for a grace
 * period and agentd is never forked per uid. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/limits.h"

/* Sends SIGTERM to every process whose real, effective or saved uid is
 * uid, waits up to grace_ms for them to exit, then SIGKILLs the rest,
 * repeating until a scan finds none (bounded: gives up after 10 s and
 * returns -EBUSY). Signals go through pidfds so a recycled pid is never hit.
 * *killed counts distinct processes signalled. 0 or -errno. (The reaper
 * helper, reap_helper.c, kills whole batches; this is the one-uid form.) */
int agent_kill_uid(uid_t uid, unsigned grace_ms, const char *proc_root, unsigned *killed);
/* Real, effective and saved uid of the process named pid in the /proc
 * directory dfd; false for a zombie (not for a zombie leader whose other
 * threads still run) or one that cannot be read. */
bool agent_proc_ids(int dfd, const char *pid, uint32_t ids[3]);
/* The same, and *dying: SIGKILL is pending for it (it dies as soon as it
 * runs: a saturated CPU or a frozen cgroup holds it, not the process). */
bool agent_proc_state(int dfd, const char *pid, uint32_t ids[3], bool *dying);
/* Has the process begun to exit (PF_EXITING in /proc/PID/stat: it runs no
 * code of its own any more, only the kernel's teardown)? */
bool agent_proc_exiting(int dfd, const char *pid);
/* Only the tree removal; refuses anything but a directory. */
int agent_remove_tree(const char *path);
/* SysV IPC objects (by owner or creator uid), POSIX shared memory and
 * message queues (/dev/shm, /dev/mqueue) of uid; never of root. */
int agent_remove_ipc(uid_t uid);
/* The same for a set of uids, each table read once. 0 or -ENOMEM. */
int agent_remove_ipc_set(const uint32_t *uids, size_t n);
