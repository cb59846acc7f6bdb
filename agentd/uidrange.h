/* The uid range: checking it is safe to own, and picking a free uid in it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where the system files live; tests point these at fixtures. */
struct agent_range_sources {
	const char *login_defs; /* /etc/login.defs */
	const char *subuid;     /* /etc/subuid */
	const char *subgid;     /* /etc/subgid */
};

/* Refuses a range that overlaps: 0, 65534, 65535, (uid_t)-1, login.defs'
 * UID_MIN..UID_MAX (defaults 1000..60000 when unset) and SYS_UID_MIN..
 * SYS_UID_MAX, any /etc/subuid or /etc/subgid range, or systemd's reserved
 * ranges (dynamic users 61184..65519, container uids 524288..1879048191,
 * the 16-bit boundary 65536 itself, and 2147483648 and above). Missing files
 * are fine; unreadable ones are an error. Returns 0, or -EINVAL with a
 * message naming what overlaps. */
int agent_range_check(uint32_t uid_min, uint32_t uid_max, const struct agent_range_sources *src,
		      char *err, size_t errlen);

/* Bitmap of uids in [uid_min, uid_max] that some process on the host runs
 * with (real, effective, saved or filesystem uid), read from /proc.
 * proc_root is "/proc" outside tests. */
struct agent_uid_set {
	uint32_t uid_min, uid_max;
	uint64_t *bits;
};
int agent_uid_set_init(struct agent_uid_set *s, uint32_t uid_min, uint32_t uid_max);
void agent_uid_set_free(struct agent_uid_set *s);
void agent_uid_set_add(struct agent_uid_set *s, uint32_t uid);
bool agent_uid_set_has(const struct agent_uid_set *s, uint32_t uid);
/* Adds every in-range uid of every process; 0 or -errno. */
int agent_uid_set_scan_proc(struct agent_uid_set *s, const char *proc_root);

/* The uids processes run with (real, effective, saved, file system),
 * from a /proc scan made at most once per max_age_ms: one scan serves a
 * burst of creates, however many processes the host runs. What started or
 * changed its uids since is not in it; agent_uid_has_process covers the
 * real uid of every process at the moment of the check. */
struct agent_proc_cache {
	struct agent_uid_set uids;
	int64_t at_ms; /* monotonic ms of the last scan (when it started) */
	bool scanned;
	uint64_t scans; /* how many scans (tests, benchmarks) */
	const char *proc_root;
	/* A scan in a child process (agent_proc_cache_scan_start): it fills
	 * `shared`, a shared mapping, and says over a pipe how it went. */
	uint64_t *shared;
	pid_t child;      /* 0: none in flight */
	pid_t unreaped;   /* a collected child that had not exited yet */
	int rfd;          /* its status pipe; -1: none */
	int64_t child_ms; /* when it started */
};
int agent_proc_cache_init(struct agent_proc_cache *c, uint32_t uid_min, uint32_t uid_max,
			  const char *proc_root);
void agent_proc_cache_free(struct agent_proc_cache *c);
/* Rescans unless the last scan is at most max_age_ms old. 0 or -errno. */
int agent_proc_cache_refresh(struct agent_proc_cache *c, int64_t now_ms, unsigned max_age_ms);
/* Did a process run with uid at the last scan? true also when there was
 * none. */
bool agent_proc_cache_uid_busy(const struct agent_proc_cache *c, uint32_t uid);
/* The same scan made by a child process, so the caller's loop goes on
 * meanwhile (a /proc scan reads a file per process: tens of ms on a host
 * with thousands). The last scan's answers stand until it is done.
 * _start: 0 and *rfd, which becomes readable when the child is done
 * (-EBUSY if one is in flight already, -errno if none could start).
 * _finish: collects it (waits up to timeout_ms for its verdict, -1: no
 * limit; past it, the child is killed: -ETIMEDOUT): 0 and the scan's
 * answers adopted (dated from when it started), or -errno and the last
 * scan's answers kept. Either way its exit (tearing down a
 * copy of the caller's memory) is not waited for: a child not yet gone is
 * reaped before the next one starts. _cancel: kills and collects the one
 * in flight, if any, and reaps every child it started. */
int agent_proc_cache_scan_start(struct agent_proc_cache *c, int64_t now_ms, int *rfd);
int agent_proc_cache_scan_finish(struct agent_proc_cache *c, int timeout_ms);
void agent_proc_cache_scan_cancel(struct agent_proc_cache *c);
static inline bool agent_proc_cache_scanning(const struct agent_proc_cache *c)
{
	return c->child > 0;
}
/* Does a process (a thread) of this pid namespace have uid as its real uid
 * now? One system call, getpriority(PRIO_USER): the kernel answers ESRCH
 * when no task has it (at once when no credentials of the uid exist, else
 * after one walk of its task list), where a /proc scan reads a file per
 * process (a readdir of /proc alone took 6.7 ms with 5,000 processes).
 * true also when it cannot tell. */
bool agent_uid_has_process(uint32_t uid);

/* Is uid or gid known to any NSS source (getpwuid_r / getgrgid_r)? agentd
 * calls this only for candidates that no live identity holds, so its own
 * NSS module never answers yes for them. */
bool agent_uid_known_to_nss(uint32_t uid);
