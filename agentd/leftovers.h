/* The leftovers sweep: what a retired uid still owns in the shared
 * writable places, removed before the uid can be handed out again.
 *
 * When no process of a uid is left (the reaped hook), its release is
 * recorded with held = 1 (store uid_use) and a short-lived child sweeps the
 * configured sweep_dirs and home_base: every file owned by the uid is
 * removed (a directory it owns, with everything in it); a setuid or setgid
 * file of the uid has those bits stripped first, and is named in the audit
 * record; SysV IPC objects and POSIX shared memory and message queues of
 * the uid go too (kill.c). The walk is top-down with openat and O_NOFOLLOW
 * and never crosses a mount point (mount ids, statx STATX_MNT_ID). If
 * everything went, held drops to 0 and the uid enters the allocator's
 * least-recently-used order; what could not be removed keeps the uid held
 * (2) and is named in the record; held uids are swept again at start and
 * every hour. The child is bounded (SWEEP_BOUND_MS, then SIGKILL) and the
 * loop only reads its report pipe: it never waits for a sweep. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agentd;

#define AGENTD_SWEEP_BOUND_MS 30000
#define AGENTD_SWEEP_AGAIN_S 3600
/* Releases gathered this long before a sweep starts: one sweep (one fork,
 * one transaction) for a burst of retirements, not one per uid. */
#define AGENTD_SWEEP_DELAY_MS 100

/* uid's processes are gone: record the release (held until swept) and
 * queue the sweep. */
void agentd_leftovers_released(struct agentd *d, uint32_t uid);
/* Is a sweep of uid queued or running? (The allocator skips it even if the
 * store could not record the hold.) */
bool agentd_leftovers_pending(struct agentd *d, uint32_t uid);
/* Start-up: queue every held uid for another sweep. */
void agentd_leftovers_start(struct agentd *d);
/* The sweeper's report pipe is readable (W_SWEEP). */
void agentd_leftovers_pipe(struct agentd *d);
/* The sweep timer fired (W_SWEEP_TIMER): a sweeper past its bound is
 * killed; else the hourly re-sweep of held uids. */
void agentd_leftovers_timer(struct agentd *d);
/* Shutdown: a running sweeper is killed (its uids stay held). */
void agentd_leftovers_finish(struct agentd *d);

/* What a sweep found, per uid (the child's side; tests call it directly). */
struct agent_sweep_report {
	/* called for each stripped ('S') or kept ('K') file, and once per
	 * uid with the number removed ('R', path NULL) */
	void (*cb)(char what, uint32_t uid, const char *path, uint64_t n, void *arg);
	void *arg;
};
/* Sweeps dirs of files owned by any of uids (sorted ascending). Returns 0,
 * or -errno if a directory could not be walked at all (its files count as
 * kept: the caller must not free the uids). */
int agent_sweep(const char *const *dirs, size_t ndirs, const uint32_t *uids, size_t nuids,
		const struct agent_sweep_report *rep);
