/* Containment: one cgroup v2 per identity, killed at retirement.
 *
 * agentd owns a subtree of a cgroup2 hierarchy (cgroup_root in
 * agentd.conf(5); "auto": the unit's own cgroup under systemd with
 * Delegate=yes, agentd itself then moving into <root>/daemon, or
 * <cgroup2 mount>/agentd without systemd). Each identity gets
 * <root>/agent-<uid>, made at its first placement (with pids.max from the
 * purpose's max_processes when the pids controller is there), and every
 * process of the identity is placed in it: pam_agent's session-open
 * (the PAM application's process) and `agentctl run`'s command (which
 * writes itself into it before it drops root). Retirement writes 1 to
 * cgroup.kill (older kernels: freeze, SIGKILL each member, thaw), which no
 * fork bomb outruns, then removes the directory once it is empty (watched
 * through cgroup.events; bounded retries). What escaped the cgroup (a
 * setuid helper, a process another service started) is the uid sweep's
 * (reaper.c).
 *
 * Invariants:
 * - d->cg is NULL when containment is off (cgroup_root = "none", no cgroup2,
 *   or systemd without delegation): every function below is then a no-op
 *   returning 0, and agentd behaves as without this file.
 * - When it is on, a process that cannot be placed is not let in: the
 *   caller refuses the session or the run (fail secure).
 * - agentd writes only inside its root: <root>/daemon, <root>/agent-<uid>,
 *   and the root's cgroup.subtree_control. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/identity.h"

struct agentd;

/* --- pure helpers (tests/unit/test_cgroup.c) --- */

/* The unified-hierarchy path in /proc/PID/cgroup text (the "0::PATH" line)
 * into out. 0, -ENOENT (no such line), -ENAMETOOLONG. */
int agent_cgroup_parse_self(const char *text, char *out, size_t outlen);
/* The nth (from 0) cgroup2 mount in /proc/self/mountinfo text: its mount
 * point (octal escapes undone) and the root of the hierarchy it shows. 0,
 * -ENOENT (no such mount), -ENAMETOOLONG, -EINVAL (a malformed line). */
int agent_cgroup_parse_mountinfo(const char *text, unsigned nth, char *mnt, size_t mntlen,
				 char *root, size_t rootlen);
/* Where hierarchy path cg ("/system.slice/agentd.service") is, seen through
 * a mount of the hierarchy's mroot at mnt: 0, -ENOENT (outside the
 * mount), -ENAMETOOLONG. */
int agent_cgroup_join(const char *mnt, const char *mroot, const char *cg, char *out, size_t outlen);
/* "<root>/agent-<uid>". 0 or -ENAMETOOLONG. */
int agent_cgroup_identity_path(const char *root, uint32_t uid, char *out, size_t outlen);
/* Whether the space-separated list (cgroup.controllers) names ctl. */
bool agent_cgroup_has_word(const char *list, const char *ctl);
/* Whether cgroup.events text says "populated 0". */
bool agent_cgroup_events_empty(const char *text);

/* Kills every process in the cgroup directory dirfd: cgroup.kill, or, when
 * use_kill_file is false or the kernel has none, freeze, SIGKILL each
 * member of cgroup.procs, thaw (a bounded number of rounds). 0, or -errno
 * (-EAGAIN: members were left after the last round). */
int agent_cgroup_kill_dir(int dirfd, bool use_kill_file);

/* --- the daemon's side --- */

/* Start-up: resolves the root from cgroup_root (see above), enables pids
 * when available. An explicit path that cannot be used is an error (with
 * a message in err); "auto" that finds nothing usable turns containment
 * off with a log line. */
int agentd_cgroup_init(struct agentd *d, char *err, size_t errlen);
void agentd_cgroup_free(struct agentd *d);
/* The root in use, or NULL when containment is off. */
const char *agentd_cgroup_root(const struct agentd *d);
/* Starts moving pid into id's cgroup (made if missing), in a child
 * process: a move waits in the kernel for an RCU grace period (about 13 ms
 * measured when it is the only one), which the loop must not. 0 with *rfd
 * (O_CLOEXEC; readable when the child is done) and *child, for
 * agentd_cgroup_place_finish; 1 when containment is off (nothing to do);
 * -errno. */
int agentd_cgroup_place_start(struct agentd *d, const struct agent_identity *id, pid_t pid,
			      int *rfd, pid_t *child);
/* The outcome of a move started above: 0 or -errno. Closes rfd and reaps
 * the child. */
int agentd_cgroup_place_finish(int rfd, pid_t child);
/* A descriptor (O_CLOEXEC) of id's cgroup directory (made if missing), to
 * start a process in it (clone3 CLONE_INTO_CGROUP) or, on a kernel without
 * that, for a child to write "0" into its cgroup.procs before it drops
 * root; -ENODEV when containment is off; -errno. */
int agentd_cgroup_dir_fd(struct agentd *d, const struct agent_identity *id);
/* Retirement: kills every process in uid's cgroup, then removes it (now,
 * or when cgroup.events says it is empty). No-op when off or absent. */
void agentd_cgroup_kill(struct agentd *d, uint32_t uid);
/* The loop: the watch on cgroup.events of killed cgroups fired. */
void agentd_cgroup_events(struct agentd *d);
