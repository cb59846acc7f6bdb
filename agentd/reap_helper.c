/* The reaper helper (agentd/reap_helper.h): kills retired uids in batches.
 *
 * Invariants: the helper runs as root and never signals a process it has
 * not re-checked through a pidfd (the pidfd pins the pid, then the uid is
 * read again), except through kill(-1) from a child that runs as the uid
 * and nothing else; a uid is reported done only after a scan that began
 * after its last kill pass (a scan's SIGKILLs, or a killer's kill(-1))
 * found nothing of it (zombies aside), or at
 * its bound with the count of what is left; every child it forks is
 * bounded (a killer by KILLER_BOUND_MS, then SIGKILL); one /proc scan per
 * turn serves every uid in flight. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agentd/kill.h"
#include "agentd/reap_helper.h"
#include "common/clock.h"

#define MAX_KILLERS 8        /* kill(-1) children at once */
#define KILL_BATCH 128       /* uids one killer takes, one after another */
#define MAX_CLEANERS 8       /* home and IPC removal children at once */
#define KILLER_BOUND_MS 1000 /* a killer stopped by the uid's processes is killed */
#define REAP_TERM_SCAN_MS 20 /* scans while only graces run */
#define INLINE_CLEAN_MAX 64  /* finished uids without a home cleaned in the loop */
#define REAP_NICE 5          /* the helper's and its cleaners' niceness (killers: 0) */
#define DYING_WAIT 4         /* bounds more for what only waits to die (SIGKILL pending) */
#define SLOTS (2 * AGENT_REAP_MAX_JOBS)

enum stage { ST_NEW, ST_TERM, ST_KILL, ST_CONFIRM, ST_DONE };

struct job {
	uint32_t uid, grace_ms, bound_ms;
	char *home;    /* NULL for none */
	unsigned dups; /* further requests for the same uid: answered too */
	enum stage st;
	bool in_scan;     /* its stage asked for the scan under way */
	bool drop_failed; /* a killer could not take the uid */
	bool direct;      /* its first kill was the scan's own (no killer yet) */
	bool counted;     /* left/doomed come from a scan after its last kill pass */
	unsigned passes;  /* kill passes for it: the scans' first, then kill(-1) ones */
	int64_t t0;       /* arrival */
	int64_t term_until;
	int64_t killer_end; /* when its last killer ended */
	pid_t killer;       /* the killer it is given to, 0 if none */
	uint32_t left;      /* processes the last scan found */
	uint32_t dying;     /* of them, dying already (SIGKILL pending, exiting) */
	uint32_t doomed;    /* of them, dying or sent SIGKILL by that scan */
	uint32_t killed;    /* processes signalled */
	int rc;
};

static struct job *jobs;
static size_t njobs;
static int32_t slot[SLOTS]; /* uid -> index + 1, open addressing; 0 empty */
static bool index_dirty;
static unsigned ncleaners;
/* The killers running: each is given up to KILL_BATCH uids and reports
 * each one done on its pipe. */
static struct killer {
	pid_t pid;
	int rfd;
	int64_t t0;
	unsigned n;
	uint32_t uids[KILL_BATCH];
} killers[MAX_KILLERS];
static unsigned nkillers;

size_t agent_reap_req_size(const struct agent_reap_req *q)
{
	return offsetof(struct agent_reap_req, home) + strnlen(q->home, sizeof(q->home) - 1) + 1;
}

/* ------------------------------------------------------------ uid index */

static size_t hash(uint32_t uid)
{
	return (size_t)((uid * 2654435761u) % SLOTS);
}

static void index_put(uint32_t uid, size_t i)
{
	size_t h = hash(uid);

	while (slot[h])
		h = (h + 1) % SLOTS;
	slot[h] = (int32_t)i + 1;
}

static void index_rebuild(void)
{
	memset(slot, 0, sizeof(slot));
	for (size_t i = 0; i < njobs; i++)
		index_put(jobs[i].uid, i);
	index_dirty = false;
}

static struct job *find(uint32_t uid)
{
	if (index_dirty)
		index_rebuild();
	for (size_t h = hash(uid); slot[h]; h = (h + 1) % SLOTS)
		if (jobs[slot[h] - 1].uid == uid)
			return &jobs[slot[h] - 1];
	return NULL;
}

/* ------------------------------------------------------------ the scan */

static bool has_uid(const uint32_t ids[3], uint32_t uid)
{
	return uid != 0 && (ids[0] == uid || ids[1] == uid || ids[2] == uid);
}

/* Signals one process through a pidfd after re-reading its uids. */
static bool signal_pid(int dfd, const char *name, long pid, uint32_t uid, int sig)
{
	uint32_t ids[3];
	bool ok = false;
	int pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);

	if (pfd < 0)
		return false;
	if (agent_proc_ids(dfd, name, ids) && has_uid(ids, uid)) {
		if (sig == SIGTERM)
			syscall(SYS_pidfd_send_signal, pfd, SIGCONT, NULL, 0);
		ok = syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) == 0;
	}
	close(pfd);
	return ok;
}

/* What the scan does to a process of j: count it; signal it: SIGTERM while
 * j is new or in its grace (a child forked since the last scan gets it
 * too), SIGKILL without a grace or when j is being confirmed. */
static int scan_signal(const struct job *j)
{
	if (j->st == ST_NEW || j->st == ST_TERM)
		return j->grace_ms ? SIGTERM : SIGKILL;
	if (j->st == ST_CONFIRM)
		return SIGKILL;
	return 0;
}

/* One pass over /proc for every job marked in_scan. */
static void scan(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();

	for (size_t i = 0; i < njobs; i++)
		if (jobs[i].in_scan)
			jobs[i].left = jobs[i].dying = jobs[i].doomed = 0;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		uint32_t ids[3];
		bool dying = false;

		if (*end || pid <= 0 || pid == self ||
		    !agent_proc_state(dirfd(d), de->d_name, ids, &dying))
			continue;
		for (int k = 0; k < 3; k++) {
			struct job *j;
			int sig;

			if (ids[k] == 0 || (k > 0 && ids[k] == ids[0]) ||
			    (k > 1 && ids[k] == ids[1]))
				continue;
			j = find(ids[k]);
			if (!j || !j->in_scan)
				continue;
			/* (checked only for a process already sent SIGKILL: one
			 * more read, and only in that stage) */
			if (!dying && j->passes && agent_proc_exiting(dirfd(d), de->d_name))
				dying = true;
			j->left++;
			j->dying += dying;
			j->doomed += dying;
			/* (one with SIGKILL pending is neither signalled nor
			 * counted again) */
			sig = dying ? 0 : scan_signal(j);
			if (sig && signal_pid(dirfd(d), de->d_name, pid, j->uid, sig)) {
				if (j->st != ST_TERM)
					j->killed++; /* (in the grace: counted when first seen) */
				if (sig == SIGKILL)
					j->doomed++;
			}
		}
	}
	closedir(d);
}

/* ------------------------------------------------------------ children */

/* A killer takes each uid in turn as its real and effective uid (its
 * saved uid stays root, so it can take the next; no capability is
 * effective meanwhile) and sends kill(-1, SIGKILL): the kernel signals
 * every process that uid may signal (real or saved uid equal) in one pass
 * under its task-list lock, so a fork bomb cannot outrun it. It writes
 * each uid to its pipe once done. In a session of its own, without
 * supplementary groups. The uid's processes can signal it while it is
 * theirs, for the microseconds until kill(-1): a killer that dies or
 * stops (then is killed at KILLER_BOUND_MS) leaves its remaining uids to
 * the next scan's SIGKILLs and the next killer. */
/* Would kill(-1) reach every process (CAP_KILL still effective: securebits
 * that keep capabilities across setuid)? Then the killer must not send it. */
static bool kill_cap_effective(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2];

	if (syscall(SYS_capget, &h, c) < 0)
		return true; /* cannot tell: as if it were */
	return c[CAP_KILL / 32].effective & (1u << (CAP_KILL % 32));
}

static _Noreturn void killer_main(int wfd, const uint32_t *uids, unsigned n)
{
	/* Back to agentd's own priority (the helper's scans run below it): a
	 * killer is the decisive step against processes that outlasted a scan,
	 * a fork bomb's above all, and takes microseconds a uid. */
	(void)setpriority(PRIO_PROCESS, 0, 0);
	if (setsid() < 0 || setgroups(0, NULL) < 0)
		_exit(2);
	for (unsigned i = 0; i < n; i++) {
		uint32_t u = uids[i];

		if (u == 0 || setresuid(u, u, 0) < 0 || getuid() != u || geteuid() != u ||
		    kill_cap_effective())
			_exit(2);
		kill(-1, SIGKILL);
		if (setresuid(0, 0, 0) < 0 || geteuid() != 0)
			_exit(2);
		if (write(wfd, &u, sizeof(u)) != (ssize_t)sizeof(u))
			_exit(2);
	}
	_exit(0);
}

static int spawn_killer(struct killer *k)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	k->pid = fork();
	if (k->pid == 0) {
		close(p[0]);
		killer_main(p[1], k->uids, k->n);
	}
	close(p[1]);
	if (k->pid < 0) {
		close(p[0]);
		return -EAGAIN;
	}
	k->rfd = p[0];
	return 0;
}

static bool nscd_runs(void)
{
	return access("/run/nscd/socket", F_OK) == 0 || access("/var/run/nscd/socket", F_OK) == 0;
}

/* If nscd runs, it may cache the retired identity for minutes: ask it to
 * drop its passwd and group caches. Bounded: a hung nscd is killed. */
static void nscd_invalidate(void)
{
	static const char *const tables[] = { "passwd", "group" };
	static const char *const paths[] = { "/usr/sbin/nscd", "/sbin/nscd" };
	const char *nscd = NULL;

	if (!nscd_runs())
		return;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			nscd = paths[i];
	if (!nscd)
		return;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char *const argv[] = { (char *)nscd, (char *)"-i", (char *)tables[i], NULL };
		char *const envp[] = { NULL };
		pid_t p = fork();

		if (p == 0) {
			execve(nscd, argv, envp);
			_exit(127);
		}
		for (int t = 0; p > 0 && t < 100; t++) {
			if (waitpid(p, NULL, WNOHANG) == p) {
				p = 0;
				break;
			}
			usleep(20000);
		}
		if (p > 0) {
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
		}
	}
}

/* Homes, IPC objects and nscd for the finished jobs v[0..n), then their
 * results (one datagram each: atomic among cleaners). */
static void clean_and_answer(int sock, struct job *v, size_t n)
{
	uint32_t *uids = n ? calloc(n, sizeof(*uids)) : NULL;
	bool homes = false;

	for (size_t i = 0; i < n; i++)
		homes |= v[i].home != NULL;
	if (homes)
		nscd_invalidate();
	for (size_t i = 0; i < n; i++) {
		int e = v[i].home ? agent_remove_tree(v[i].home) : 0;

		if (e < 0 && v[i].rc == 0)
			v[i].rc = e;
	}
	if (uids) {
		for (size_t i = 0; i < n; i++)
			uids[i] = v[i].uid;
		agent_remove_ipc_set(uids, n);
		free(uids);
	} else {
		for (size_t i = 0; i < n; i++)
			agent_remove_ipc(v[i].uid);
	}
	for (size_t i = 0; i < n; i++) {
		struct agent_reap_res res = {
			.uid = v[i].uid,
			.rc = v[i].rc,
			.killed = v[i].killed,
			.survivors = v[i].rc == -EBUSY ? v[i].left : 0,
		};

		for (unsigned k = 0; k <= v[i].dups; k++)
			send(sock, &res, sizeof(res), MSG_NOSIGNAL);
	}
}

/* A home its task left empty (a short task's, most often) is removed here,
 * one rmdir each: no cleaner child is forked for it, and the answer is not
 * kept waiting for one. A home with anything in it (rmdir fails: not empty,
 * a mount point, not a directory) stays for a cleaner, as does every home
 * while nscd runs (its invalidation execs nscd, bounded only at seconds).
 * Its processes are gone (the job is done) and its parent is agentd's. */
static bool remove_empty_homes(struct job *v, size_t n)
{
	bool left = false;

	for (size_t i = 0; i < n; i++) {
		if (v[i].home && (rmdir(v[i].home) == 0 || errno == ENOENT)) {
			free(v[i].home);
			v[i].home = NULL;
		}
		left |= v[i].home != NULL;
	}
	return left;
}

/* Moves the finished jobs out (to a cleaner child, or done here when no
 * child can be made) and compacts the table. */
static void finish_done(int sock)
{
	struct job *done;
	size_t n = 0, k = 0;
	bool homes = false;
	pid_t p;

	for (size_t i = 0; i < njobs; i++)
		n += jobs[i].st == ST_DONE;
	if (!n || ncleaners >= MAX_CLEANERS)
		return;
	done = malloc(n * sizeof(*done));
	if (!done)
		return; /* next turn */
	for (size_t i = 0; i < njobs; i++) {
		if (jobs[i].st == ST_DONE) {
			homes |= jobs[i].home != NULL;
			done[k++] = jobs[i];
		} else {
			jobs[i - k] = jobs[i];
		}
	}
	njobs -= n;
	index_dirty = true;
	if (homes && n <= INLINE_CLEAN_MAX && !nscd_runs())
		homes = remove_empty_homes(done, n);
	if (!homes && n <= INLINE_CLEAN_MAX) {
		clean_and_answer(sock, done, n); /* a few files read: no child */
		free(done);
		return;
	}
	p = fork();
	if (p == 0) {
		clean_and_answer(sock, done, n);
		_exit(0);
	}
	if (p > 0)
		ncleaners++;
	else
		clean_and_answer(sock, done, n);
	for (size_t i = 0; i < n; i++)
		free(done[i].home);
	free(done);
}

/* ------------------------------------------------------------ the loop */

static void accept_req(const struct agent_reap_req *q)
{
	struct job *j = find(q->uid);

	if (j) {
		j->dups++;
		if (!j->home && q->home[0])
			j->home = strdup(q->home);
		return;
	}
	j = &jobs[njobs];
	memset(j, 0, sizeof(*j));
	j->uid = q->uid;
	j->grace_ms = q->grace_ms;
	j->bound_ms = q->bound_ms;
	j->home = q->home[0] ? strdup(q->home) : NULL;
	j->st = ST_NEW;
	j->t0 = agent_mono_ms();
	j->rc = 0;
	index_put(j->uid, njobs);
	njobs++;
}

/* Reads what agentd sent, up to the table's room; false at end of file. */
static bool read_requests(int sock)
{
	while (njobs < AGENT_REAP_MAX_JOBS) {
		struct agent_reap_req q;
		ssize_t k = recv(sock, &q, sizeof(q), MSG_DONTWAIT);

		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (k <= 0)
			return false;
		if ((size_t)k <= offsetof(struct agent_reap_req, home) || q.uid == 0)
			continue;
		q.home[(size_t)k - offsetof(struct agent_reap_req, home) - 1] = '\0';
		accept_req(&q);
	}
	return true;
}

/* A killer ended: the uids it reported had their pass; the others (it
 * died or was stopped on the way) go to the next scan, which SIGKILLs what
 * it finds, and then to another killer. */
static void killer_ended(unsigned k, int st)
{
	struct killer *kl = &killers[k];
	int64_t now = agent_mono_ms();
	uint32_t u;

	while (read(kl->rfd, &u, sizeof(u)) == (ssize_t)sizeof(u)) {
		struct job *j = find(u);

		if (j && j->killer == kl->pid)
			j->passes++;
	}
	close(kl->rfd);
	for (unsigned i = 0; i < kl->n; i++) {
		struct job *j = find(kl->uids[i]);

		if (!j || j->killer != kl->pid)
			continue;
		j->killer = 0;
		j->killer_end = now;
		j->counted = false;
		j->st = ST_CONFIRM;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 2 && !j->passes)
			j->drop_failed = true;
	}
	killers[k] = killers[--nkillers];
}

static void reap_children(void)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		unsigned k;

		for (k = 0; k < nkillers && killers[k].pid != p; k++)
			;
		if (k < nkillers)
			killer_ended(k, st);
		else if (ncleaners)
			ncleaners--;
	}
}

/* The kill stage. The first time, no killer: the scans' SIGKILLs through
 * pidfds are the pass (what the scan that moved j here found was signalled;
 * a process that forked meanwhile exists when the next scan starts), and
 * that next scan confirms. Only a uid whose processes outlast that (one
 * forked past the scan, a fork bomb) goes to a kill(-1) killer. So a mass
 * retirement of quiet uids costs scans, not a kill(-1) per uid (each one a
 * pass over every task of the host). */
static void to_kill(struct job *j, int64_t now)
{
	if (j->direct) {
		j->st = ST_KILL;
		return;
	}
	j->direct = true;
	j->passes++;
	j->st = ST_CONFIRM;
	j->killer_end = now;
	j->counted = false;
}

/* Stage changes after a scan (for the jobs it covered) and with time. */
static void advance(int64_t scan_start, bool scanned)
{
	int64_t now = agent_mono_ms();

	for (size_t i = 0; i < njobs; i++) {
		struct job *j = &jobs[i];
		bool covered = scanned && j->in_scan;

		j->in_scan = false;
		switch (j->st) {
		case ST_NEW:
			if (!covered)
				break;
			if (j->grace_ms && j->left) {
				j->st = ST_TERM;
				j->term_until = now + j->grace_ms;
			} else {
				to_kill(j, now);
			}
			break;
		case ST_TERM:
			if ((covered && j->left == 0) || now >= j->term_until)
				to_kill(j, now);
			break;
		case ST_CONFIRM:
			if (!covered || scan_start < j->killer_end)
				break;
			j->counted = true;
			/* Done when nothing is left after at least one pass. What
			 * is left with SIGKILL pending needs no other pass (nor a
			 * killer's walk of every task): it is scanned until gone. */
			if (j->left && j->dying == j->left && j->passes)
				break;
			j->st = j->left == 0 && j->passes ? ST_DONE : ST_KILL;
			break;
		default:
			break;
		}
		/* The bound: what is left now is reported. Only survivors
		 * counted by a scan after the last kill pass end a job here:
		 * nothing left is success, which only a confirming scan may say
		 * (above), and a count from before the kill (the grace's, or
		 * none yet: a scan of a large /proc on a busy host takes
		 * seconds) says nothing of what the kill left.
		 * What the last scan found dying or sent SIGKILL (thousands
		 * dying at once on a few CPUs, a frozen cgroup) is waited for
		 * longer: it runs no code of its own any more, and reporting it
		 * would only make agentd try the uid again. */
		if (j->st != ST_DONE && j->killer == 0 && j->left && j->counted &&
		    now - j->t0 >
			    (int64_t)j->grace_ms +
				    j->bound_ms * (j->doomed == j->left ? 1 + DYING_WAIT : 1)) {
			j->st = ST_DONE;
			j->rc = j->drop_failed ? -EPERM : -EBUSY;
		}
	}
}

/* Whether every uid that waits for a scan only waits for the confirming
 * one after a scan that found nothing of it: that scan may start at once
 * (nothing was signalled that needs time to die), so a quiet uid, a task
 * that left nothing behind, costs two scans back to back, not two apart. */
static bool only_quiet_confirms(void)
{
	bool any = false;

	for (size_t i = 0; i < njobs; i++) {
		const struct job *j = &jobs[i];

		if (j->st == ST_NEW || j->st == ST_TERM)
			return false;
		if (j->st == ST_CONFIRM) {
			if (j->left || j->counted)
				return false;
			any = true;
		}
	}
	return any;
}

static void start_killers(void)
{
	int64_t now = agent_mono_ms();
	size_t i = 0;

	for (unsigned k = 0; k < nkillers; k++)
		if (now - killers[k].t0 > KILLER_BOUND_MS)
			kill(killers[k].pid, SIGKILL); /* stopped by the uid's processes */
	while (nkillers < MAX_KILLERS) {
		struct killer *kl = &killers[nkillers];

		kl->n = 0;
		for (; i < njobs && kl->n < KILL_BATCH; i++)
			if (jobs[i].st == ST_KILL && !jobs[i].killer)
				kl->uids[kl->n++] = jobs[i].uid;
		if (!kl->n)
			return;
		if (spawn_killer(kl) < 0) {
			/* No process to spare (a fork bomb may have taken them
			 * all): the next scan SIGKILLs what it finds instead,
			 * then a killer is tried again. */
			for (unsigned u = 0; u < kl->n; u++) {
				struct job *j = find(kl->uids[u]);

				j->st = ST_CONFIRM;
				j->killer_end = now;
				j->counted = false;
			}
			return;
		}
		kl->t0 = now;
		for (unsigned u = 0; u < kl->n; u++)
			find(kl->uids[u])->killer = kl->pid;
		nkillers++;
	}
}

static void on_child(int sig)
{
	(void)sig; /* only to end ppoll early: reap_children does the work */
}

_Noreturn void agent_reap_helper_run(int sock)
{
	struct sigaction sa = { .sa_handler = on_child, .sa_flags = SA_NOCLDSTOP };
	int64_t next_scan = 0;
	bool eof = false;
	sigset_t none, chld;

	sigemptyset(&none);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	/* SIGCHLD is blocked but while waiting: a killer's end wakes the loop. */
	sigprocmask(SIG_SETMASK, &chld, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN); /* a ^C to agentd in a terminal: agentd decides */
	/* Below agentd and its clients: a mass retirement's scans keep a loaded
	 * host's CPUs busy for seconds, and must not make agentd (which answers
	 * logins meanwhile) or the host's users wait. (Killers go back to 0.) */
	(void)!nice(REAP_NICE);
	/* Only the socket: no store, client or listening socket, audit file. */
	if (sock > 3)
		close_range(3, (unsigned)sock - 1, 0);
	close_range((unsigned)sock + 1, ~0U, 0);
	jobs = calloc(AGENT_REAP_MAX_JOBS, sizeof(*jobs));
	if (!jobs)
		_exit(1);
	for (;;) {
		struct pollfd pfd = { .fd = eof ? -1 : sock, .events = POLLIN };
		bool want_scan = false, urgent = false;
		struct timespec ts;
		int64_t now, wait_ms;

		reap_children();
		if (!eof && !read_requests(sock))
			eof = true;
		now = agent_mono_ms();
		for (size_t i = 0; i < njobs; i++) {
			enum stage st = jobs[i].st;

			jobs[i].in_scan = st == ST_NEW || st == ST_TERM || st == ST_CONFIRM;
			want_scan |= jobs[i].in_scan;
			/* A new uid and a kill to confirm wait for the scan; a
			 * grace only needs one now and then. */
			urgent |= st == ST_NEW || st == ST_CONFIRM;
		}
		if (want_scan && now >= next_scan) {
			int64_t took;

			scan();
			took = agent_mono_ms() - now;
			/* At most about half the time scanning, however large /proc is. */
			next_scan =
				now + (2 * took > REAP_SCAN_MIN_MS ? 2 * took : REAP_SCAN_MIN_MS);
			advance(now, true);
			if (only_quiet_confirms())
				next_scan = now;
		} else {
			advance(now, false);
		}
		start_killers();
		finish_done(sock);
		if (eof && !njobs && !nkillers && !ncleaners)
			_exit(0);
		if (eof && !njobs && waitpid(-1, NULL, 0) > 0) {
			/* only children left: each is bounded */
			if (ncleaners)
				ncleaners--;
			continue;
		}
		if (!njobs)
			wait_ms = ncleaners ? 20 : 1000;
		else if (urgent && want_scan)
			wait_ms = next_scan > now ? next_scan - now : 0;
		else
			wait_ms = REAP_TERM_SCAN_MS;
		ts.tv_sec = wait_ms / 1000;
		ts.tv_nsec = (wait_ms % 1000) * 1000000L;
		if (ppoll(&pfd, 1, &ts, &none) < 0 && errno != EINTR)
			_exit(1);
	}
}
