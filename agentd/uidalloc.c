/* Uid allocation (agentd/uidalloc.h).
 *
 * Invariants: a uid is handed out only after every check of uidalloc.h
 * passed for it in this call; the never-used bitmap only grows (a uid that
 * was handed out is never "never used" again, even if its create failed,
 * until the next start rebuilds the bitmap from the store). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <syslog.h>
#include <time.h>

#include "agentd/daemon.h"
#include "agentd/leftovers.h"
#include "agentd/uidalloc.h"
#include "common/clock.h"

#define LRU_PAGE 64

struct agentd_uidalloc {
	int kind; /* W_SCAN: the loop's epoll data points here while a scan runs */
	uint32_t uid_min, uid_max;
	struct agent_uid_set ever;
	struct agent_proc_cache procs;
};

static bool released_ok(const struct agent_uid_pick *p, const struct agent_uid_use *u)
{
	return u->held == 0 && u->uid >= p->uid_min && u->uid <= p->uid_max &&
	       u->released_at <= p->now - p->quarantine;
}

int agent_uid_pick(const struct agent_uid_pick *p, uint32_t *out)
{
	uint64_t span = (uint64_t)p->uid_max - p->uid_min + 1;
	bool *tried = NULL;

	if (p->uid_min > p->uid_max)
		return -ENOSPC;
	/* Never-used uids, ascending: whole words of used bits are skipped. */
	if (p->ever) {
		for (uint64_t w = 0; w < (span + 63) / 64; w++) {
			uint64_t free = ~p->ever->bits[w];

			while (free) {
				uint64_t i = w * 64 + (uint64_t)__builtin_ctzll(free);
				uint32_t uid;

				free &= free - 1;
				if (i >= span)
					break;
				uid = p->uid_min + (uint32_t)i;
				if (!p->usable || p->usable(uid, p->arg)) {
					*out = uid;
					return 0;
				}
			}
		}
	}
	/* Then the one released longest ago (ties: lower uid), skipping the
	 * candidates found unusable. */
	if (p->nreleased) {
		tried = calloc(p->nreleased, sizeof(*tried));
		if (!tried)
			return -ENOMEM;
	}
	for (;;) {
		size_t best = p->nreleased;

		for (size_t i = 0; i < p->nreleased; i++) {
			const struct agent_uid_use *u = &p->released[i];

			if (tried[i] || !released_ok(p, u))
				continue;
			if (best == p->nreleased ||
			    u->released_at < p->released[best].released_at ||
			    (u->released_at == p->released[best].released_at &&
			     u->uid < p->released[best].uid))
				best = i;
		}
		if (best == p->nreleased)
			break;
		tried[best] = true;
		if (!p->usable || p->usable(p->released[best].uid, p->arg)) {
			*out = p->released[best].uid;
			free(tried);
			return 0;
		}
	}
	free(tried);
	return -ENOSPC;
}

static void note_ever(uint32_t uid, void *arg)
{
	agent_uid_set_add(arg, uid);
}

static int state_get(struct agentd *d, struct agentd_uidalloc **out)
{
	struct agentd_uidalloc *a = d->uidalloc;
	int r;

	if (a && a->uid_min == d->cfg->uid_min && a->uid_max == d->cfg->uid_max) {
		*out = a;
		return 0;
	}
	agentd_uidalloc_free(d);
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->kind = W_SCAN;
	a->uid_min = d->cfg->uid_min;
	a->uid_max = d->cfg->uid_max;
	r = agent_uid_set_init(&a->ever, a->uid_min, a->uid_max);
	if (r == 0)
		r = agent_proc_cache_init(&a->procs, a->uid_min, a->uid_max, "/proc");
	if (r == 0)
		r = agent_store_foreach_uid_ever(d->store, note_ever, &a->ever);
	if (r < 0) {
		agent_uid_set_free(&a->ever);
		agent_proc_cache_free(&a->procs);
		free(a);
		return r;
	}
	d->uidalloc = a;
	*out = a;
	return 0;
}

struct usable_ctx {
	struct agentd *d;
	struct agentd_uidalloc *a;
	int64_t now;
	bool scan_said_busy; /* a candidate was skipped on the last scan's word */
};

/* Collects the scan in flight, if any (waits for it, at most
 * AGENTD_PROC_SCAN_WAIT_MS): 0 when its answers were adopted. */
static int scan_collect(struct agentd *d, struct agentd_uidalloc *a)
{
	if (!agent_proc_cache_scanning(&a->procs))
		return -ECHILD;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, a->procs.rfd, NULL);
	return agent_proc_cache_scan_finish(&a->procs, AGENTD_PROC_SCAN_WAIT_MS);
}

/* A new /proc scan: in a child while the loop goes on (its answers are
 * adopted when it is done, agentd_uidalloc_scan_done); here, at once,
 * when no child can be started or watched. 0 or -errno (the last scan's
 * answers stand). */
static int rescan(struct agentd *d, struct agentd_uidalloc *a, int64_t now_ms)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = a };
	int rfd;

	if (agent_proc_cache_scanning(&a->procs))
		return 0;
	if (agent_proc_cache_scan_start(&a->procs, now_ms, &rfd) == 0) {
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, rfd, &ev) == 0)
			return 0;
		if (agent_proc_cache_scan_finish(&a->procs, AGENTD_PROC_SCAN_WAIT_MS) == 0)
			return 0;
	}
	return agent_proc_cache_refresh(&a->procs, now_ms, 0);
}

void agentd_uidalloc_prescan(struct agentd *d)
{
	struct agentd_uidalloc *a;

	if (state_get(d, &a) == 0 && !a->procs.scanned)
		(void)rescan(d, a, agent_mono_ms());
}

void agentd_uidalloc_scan_done(struct agentd *d)
{
	struct agentd_uidalloc *a = d->uidalloc;
	int r;

	if (a && (r = scan_collect(d, a)) < 0 && r != -ECHILD)
		agent_audit_log(&d->audit, LOG_WARNING,
				"uid allocator: a /proc scan failed (%s); the last one stands",
				strerror(-r));
}

/* Cheapest first: the sweeps in progress, the store, the processes now
 * (one system call), the last /proc scan, then NSS. */
static bool usable(uint32_t uid, void *arg)
{
	struct usable_ctx *u = arg;
	bool busy;

	if (agentd_leftovers_pending(u->d, uid))
		return false;
	if (agent_store_uid_busy(u->d->store, uid, u->now, (int64_t)u->d->cfg->uid_quarantine,
				 &busy) < 0 ||
	    busy)
		return false;
	if (agent_uid_has_process(uid))
		return false;
	/* Busy at the last scan, though no process has it as its real uid
	 * now: that scan may be stale (the process has ended since), so a new
	 * one is started, at most once per AGENTD_PROC_RESCAN_MS; until it
	 * answers, the uid is passed over. */
	if (agent_proc_cache_uid_busy(&u->a->procs, uid)) {
		int64_t now = agent_mono_ms();

		if (now - u->a->procs.at_ms > AGENTD_PROC_RESCAN_MS || now < u->a->procs.at_ms)
			(void)rescan(u->d, u->a, now);
		if (agent_proc_cache_uid_busy(&u->a->procs, uid)) {
			u->scan_said_busy = true;
			return false;
		}
	}
	return !agent_uid_known_to_nss(uid);
}

/* Never-used uids, then released ones a page at a time, least recently
 * used first. */
static int pick(struct agentd *d, struct agentd_uidalloc *a, struct agent_uid_pick *p,
		uint32_t *out)
{
	struct agent_uid_use page[LRU_PAGE];
	int r;

	p->ever = &a->ever;
	p->released = NULL;
	p->nreleased = 0;
	r = agent_uid_pick(p, out);
	p->ever = NULL;
	p->released = page;
	for (size_t off = 0; r == -ENOSPC; off += LRU_PAGE) {
		size_t n = 0;

		r = agent_store_uid_lru(d->store, p->uid_min, p->uid_max, p->now, p->quarantine,
					off, page, LRU_PAGE, &n);
		if (r < 0)
			return r;
		p->nreleased = n;
		r = agent_uid_pick(p, out);
		if (n < LRU_PAGE)
			break;
	}
	p->released = NULL;
	p->nreleased = 0;
	return r;
}

int agentd_alloc_uid(struct agentd *d, uint32_t *out)
{
	struct agentd_uidalloc *a;
	struct usable_ctx u = { .d = d, .now = time(NULL) };
	struct agent_uid_pick p = {
		.uid_min = d->cfg->uid_min,
		.uid_max = d->cfg->uid_max,
		.now = u.now,
		.quarantine = (int64_t)d->cfg->uid_quarantine,
		.usable = usable,
		.arg = &u,
	};
	int64_t now_ms = agent_mono_ms();
	int r = state_get(d, &a);

	if (r < 0)
		return r;
	u.a = a;
	/* The first scan, started at start-up in a child, is waited for
	 * (made here if none was started: nothing can be answered without
	 * one); later ones are made in a child once the last is a second
	 * old. */
	if (!a->procs.scanned) {
		if (scan_collect(d, a) < 0)
			r = agent_proc_cache_refresh(&a->procs, now_ms,
						     AGENTD_PROC_SCAN_MAX_AGE_MS);
	} else if (now_ms - a->procs.at_ms > AGENTD_PROC_SCAN_MAX_AGE_MS ||
		   now_ms < a->procs.at_ms) {
		r = rescan(d, a, now_ms);
	}
	if (r < 0)
		return r;
	r = pick(d, a, &p, out);
	/* Nothing else was free, and a uid was passed over on a scan that
	 * may be stale: wait for the new one, and pick again. */
	if (r == -ENOSPC && u.scan_said_busy && scan_collect(d, a) == 0)
		r = pick(d, a, &p, out);
	if (r == 0)
		agent_uid_set_add(&a->ever, *out);
	return r;
}

void agentd_uidalloc_free(struct agentd *d)
{
	struct agentd_uidalloc *a = d->uidalloc;

	if (!a)
		return;
	if (agent_proc_cache_scanning(&a->procs))
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, a->procs.rfd, NULL);
	agent_uid_set_free(&a->ever);
	agent_proc_cache_free(&a->procs);
	free(a);
	d->uidalloc = NULL;
}
