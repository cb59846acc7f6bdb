/* The live table and the expiry timers' arming (agentd/livetable.h).
 *
 * Invariants: every entry's uid is inside [uid_min, uid_max] and the index
 * points at it; the timers are never armed later than the earliest deadline
 * in the table (they may be armed earlier: for an identity retired since,
 * a timer fires once, finds nothing due and re-arms, expiry.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>

#include "agentd/daemon.h"
#include "agentd/livetable.h"

int agentd_live_init(struct agentd *d)
{
	d->live.idx = calloc((size_t)d->cfg->uid_max - d->cfg->uid_min + 1, sizeof(*d->live.idx));
	return d->live.idx ? 0 : -ENOMEM;
}

void agentd_live_free(struct agentd *d)
{
	free(d->live.v);
	free(d->live.idx);
	d->live.v = NULL;
	d->live.idx = NULL;
	d->live.n = d->live.cap = 0;
}

/* uids in the table are always inside [uid_min, uid_max]. */
void agentd_live_remove(struct agentd *d, uint32_t uid)
{
	uint32_t k, i;

	if (uid < d->cfg->uid_min || uid > d->cfg->uid_max)
		return;
	k = uid - d->cfg->uid_min;
	if (!d->live.idx[k])
		return;
	i = d->live.idx[k] - 1;
	d->live.idx[k] = 0;
	d->live.v[i] = d->live.v[--d->live.n];
	if (i < d->live.n)
		d->live.idx[d->live.v[i].uid - d->cfg->uid_min] = i + 1;
}

bool agentd_live_has(const struct agentd *d, uint32_t uid, const char *name)
{
	uint32_t k;

	if (uid < d->cfg->uid_min || uid > d->cfg->uid_max || !d->live.idx)
		return false;
	k = d->live.idx[uid - d->cfg->uid_min];
	return k && strcmp(d->live.v[k - 1].name, name) == 0;
}

static void arm(struct agentd *d, int64_t boot_ns, int64_t real)
{
	struct itimerspec b = { 0 }, r = { 0 };

	if (boot_ns) {
		b.it_value.tv_sec = boot_ns / 1000000000;
		b.it_value.tv_nsec = boot_ns % 1000000000;
	}
	r.it_value.tv_sec = real;
	timerfd_settime(d->tboot_fd, TFD_TIMER_ABSTIME, &b, NULL);
	timerfd_settime(d->treal_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &r, NULL);
	d->live.armed_boot = boot_ns;
	d->live.armed_real = real;
}

/* Arms both timers for the earliest deadline in the live table. */
void agentd_live_rearm(struct agentd *d)
{
	int64_t min_boot = INT64_MAX, min_real = INT64_MAX;

	for (size_t i = 0; i < d->live.n; i++) {
		if (d->live.v[i].expires_boot_ns < min_boot)
			min_boot = d->live.v[i].expires_boot_ns;
		if (d->live.v[i].expires < min_real)
			min_real = d->live.v[i].expires;
	}
	if (min_boot == INT64_MAX)
		arm(d, 0, 0);
	else
		arm(d, min_boot > 0 ? min_boot : 1, min_real > 0 ? min_real : 1);
}

int agentd_live_add(struct agentd *d, const struct agent_identity *id)
{
	if (d->live.n == d->live.cap) {
		size_t cap = d->live.cap ? d->live.cap * 2 : 256;
		struct agentd_live *n = realloc(d->live.v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->live.v = n;
		d->live.cap = cap;
	}
	if (id->uid < d->cfg->uid_min || id->uid > d->cfg->uid_max)
		return -ERANGE;
	agentd_live_remove(d, id->uid);
	struct agentd_live *e = &d->live.v[d->live.n++];

	e->uid = id->uid;
	e->expires = id->expires;
	e->expires_boot_ns = id->expires_boot_ns;
	snprintf(e->name, sizeof(e->name), "%s", id->name);
	d->live.idx[id->uid - d->cfg->uid_min] = (uint32_t)d->live.n;
	/* Only an earlier deadline moves the timers: no scan per create. */
	if (!d->live.armed_boot || e->expires_boot_ns < d->live.armed_boot ||
	    e->expires < d->live.armed_real)
		arm(d,
		    !d->live.armed_boot || e->expires_boot_ns < d->live.armed_boot
			    ? e->expires_boot_ns
			    : d->live.armed_boot,
		    !d->live.armed_real || e->expires < d->live.armed_real ? e->expires
									   : d->live.armed_real);
	return 0;
}
