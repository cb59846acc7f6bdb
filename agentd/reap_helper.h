/* The reaper helper: where retirement kills. One long-lived process,
 * started early by agentd (reaper.c) and fed retired uids over a
 * SOCK_SEQPACKET socketpair, kills every process of each uid, removes its
 * home and IPC objects, and answers one result per uid.
 *
 * It works in batches, so its cost grows with the host's processes once
 * per turn, not once per uid: one /proc scan per turn (at most every
 * REAP_SCAN_MIN_MS, and never more than about half the time; at once when
 * all that waits is the confirming scan of uids the last one found
 * nothing of) serves every uid in flight. A uid goes through:
 *   new      the first scan counts its processes and sends each SIGCONT and
 *            SIGTERM through a pidfd (SIGKILL at once when kill_grace is 0);
 *   term     until a scan finds none left or the grace has passed;
 *   kill     first the scans' own SIGKILLs: the next scan SIGKILLs through
 *            pidfds what it finds and, when it found nothing, the uid is
 *            done (a process forked past a kill exists when the next scan
 *            starts); what outlasts that (a fork bomb) goes to a
 *            short-lived killer child (a session of its own, no
 *            supplementary groups, agentd's priority), which takes up to
 *            128 uids in turn as its real and effective uid and sends
 *            kill(-1, SIGKILL) as each:
 *            every process the uid may signal, in one pass the kernel makes
 *            under its task-list lock, so a fork bomb cannot outrun it;
 *   confirm  the next scan that starts after that pass: nothing left
 *            (zombies aside) after at least one pass ends the kill;
 *            anything left (a process
 *            whose only link to the uid is its effective uid, one that
 *            forked past the pass) gets SIGKILL through a pidfd and the
 *            kill stage again, until the bound (grace + bound_ms), where
 *            what is left is reported as survivors. What is left dying
 *            (SIGKILL pending, or already exiting: it has not run since
 *            or not finished its teardown on a saturated host, a frozen
 *            cgroup) is only scanned again, neither signalled nor counted
 *            again, and waited for 4 bounds more.
 * Homes and IPC objects are removed by a cleanup child per batch of
 * finished uids, which then sends their results (in the loop itself for a
 * small batch without homes). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "common/limits.h"

/* One datagram per uid each way. A request is sent without the unused
 * tail of home: offsetof(home) + strlen(home) + 1 bytes. */
struct agent_reap_req {
	uint32_t uid;
	uint32_t grace_ms; /* SIGTERM, then up to this long before SIGKILL */
	uint32_t bound_ms; /* then SIGKILL until none is left, at most this long */
	char home[AGENT_PATH_MAX + AGENT_NAME_MAX + 2]; /* "" for none */
};
struct agent_reap_res {
	uint32_t uid;
	int32_t rc;         /* 0, -EBUSY (survivors), -errno */
	uint32_t killed;    /* its processes signalled */
	uint32_t survivors; /* still there at the bound */
};

/* How many uids the helper holds at once; agentd keeps at most this many
 * outstanding. */
#define AGENT_REAP_MAX_JOBS 16384
#define REAP_SCAN_MIN_MS 2

/* Bytes of q to send. */
size_t agent_reap_req_size(const struct agent_reap_req *q);

/* The helper's main loop on sock (its end of the socketpair); never
 * returns. Closes every other descriptor first. Exits once agentd closed
 * its end and every uid in flight is finished. */
_Noreturn void agent_reap_helper_run(int sock);
