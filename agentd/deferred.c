/* Store writes that wait (agentd/deferred.h).
 *
 * Invariants: records are written in the order they were queued (a reap
 * never before its retirement); a record leaves the queue only once the
 * transaction holding it committed; the journal in the runtime directory
 * lists every queued retirement whenever the store refused the last flush,
 * and is removed once the queue drained. Every fd is CLOEXEC; nothing here
 * waits except the store itself. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <unistd.h>

#include "agentd/daemon.h"
#include "agentd/deferred.h"
#include "agentd/livetable.h"
#include "common/text.h"

#define RETRY_SEC 1
#define SOON_MS 50

__attribute__((format(printf, 3, 4))) static void say(struct agentd *d, int prio, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	agent_audit_vlog(&d->audit, prio, fmt, ap);
	va_end(ap);
}

int agentd_deferred_init(struct agentd *d)
{
	TAILQ_INIT(&d->deferred.q);
	d->deferred.kind = W_DEFERRED;
	d->deferred.tfd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->deferred.tfd < 0)
		return -errno;
	return agentd_watch(d, d->deferred.tfd, EPOLLIN, &d->deferred);
}

static int journal_path(const struct agentd *d, char *buf, size_t len, const char *suffix)
{
	int n = snprintf(buf, len, "%s/%s%s", d->opts.runtime_dir, AGENTD_DEFERRED_JOURNAL, suffix);

	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* Rewrites the journal from the queue: one line a retirement,
 * NAME TAB REASON TAB WHEN TAB TEXT. Written beside and renamed into place. */
static int journal_write(struct agentd *d)
{
	char path[512], tmp[512];
	struct agentd_deferred_rec *r;
	FILE *f;
	int fd, e = 0;

	if (journal_path(d, path, sizeof(path), "") < 0 ||
	    journal_path(d, tmp, sizeof(tmp), ".tmp") < 0)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		e = -errno;
		close(fd);
		unlink(tmp);
		return e;
	}
	TAILQ_FOREACH(r, &d->deferred.q, link)
	if (r->what == AGENTD_DEFER_RETIRE)
		fprintf(f, "%s\t%d\t%" PRId64 "\t%s\n", r->name, r->reason, r->when, r->text);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		e = -errno;
	if (fclose(f) != 0 && e == 0)
		e = -errno;
	if (e == 0 && rename(tmp, path) < 0)
		e = -errno;
	if (e < 0)
		unlink(tmp);
	else
		d->deferred.journal = true;
	return e;
}

static void journal_remove(struct agentd *d)
{
	char path[512];

	if (journal_path(d, path, sizeof(path), "") == 0 && unlink(path) < 0 && errno != ENOENT)
		agent_audit_log(&d->audit, LOG_ERR, "cannot remove %s: %m", path);
}

int agentd_deferred_journal_read(struct agentd *d,
				 int (*cb)(const char *name, int reason, int64_t when,
					   const char *text, void *arg),
				 void *arg)
{
	char path[512], line[AGENT_NAME_MAX + AGENT_REASON_MAX + 64];
	FILE *f;
	int r = 0;

	if (journal_path(d, path, sizeof(path), "") < 0)
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	d->deferred.journal = true; /* removed once the store took it all */
	while (r == 0 && fgets(line, sizeof(line), f)) {
		char *name = line, *rs, *ws, *text, *end;
		long long when;
		long reason;

		line[strcspn(line, "\n")] = '\0';
		if (!(rs = strchr(name, '\t')))
			continue;
		*rs++ = '\0';
		if (!(ws = strchr(rs, '\t')))
			continue;
		*ws++ = '\0';
		if (!(text = strchr(ws, '\t')))
			continue;
		*text++ = '\0';
		reason = strtol(rs, &end, 10);
		if (*end || reason <= AGENT_RETIRE_NONE || reason > AGENT_RETIRE_ORPHANED)
			continue;
		when = strtoll(ws, &end, 10);
		if (*end || !agent_valid_username(name) ||
		    (text[0] && !agent_valid_text(text, AGENT_REASON_MAX)))
			continue;
		r = cb(name, (int)reason, (int64_t)when, text, arg);
	}
	fclose(f);
	return r;
}

static struct agentd_deferred_rec *rec_new(struct agentd *d, enum agentd_deferred_what what,
					   const char *name)
{
	struct agentd_deferred_rec *r = calloc(1, sizeof(*r));

	if (!r) {
		agent_audit_log(&d->audit, LOG_ERR, "out of memory keeping the record of %s", name);
		return NULL;
	}
	r->what = what;
	snprintf(r->name, sizeof(r->name), "%s", name);
	TAILQ_INSERT_TAIL(&d->deferred.q, r, link);
	d->deferred.n++;
	return r;
}

int agentd_deferred_retire(struct agentd *d, const struct agent_identity *id,
			   enum agent_retire_reason reason, int64_t when, const char *text)
{
	struct agentd_deferred_rec *r = rec_new(d, AGENTD_DEFER_RETIRE, id->name);

	if (!r)
		return -ENOMEM;
	r->uid = id->uid;
	r->reason = reason;
	r->when = when;
	snprintf(r->text, sizeof(r->text), "%s", text ? text : "");
	return 0;
}

int agentd_deferred_reaped(struct agentd *d, const char *name, int64_t when, uint32_t killed)
{
	struct agentd_deferred_rec *r = rec_new(d, AGENTD_DEFER_REAPED, name);

	if (!r)
		return -ENOMEM;
	r->when = when;
	r->killed = killed;
	return 0;
}

static void arm(struct agentd *d, bool on)
{
	struct itimerspec t = { 0 };

	if (on) {
		t.it_value.tv_sec = RETRY_SEC;
		t.it_interval.tv_sec = RETRY_SEC;
	}
	timerfd_settime(d->deferred.tfd, 0, &t, NULL);
}

static int write_all(struct agentd *d)
{
	struct agentd_deferred_rec *r;
	int e = agent_store_begin(d->store);

	if (e < 0)
		return e;
	TAILQ_FOREACH(r, &d->deferred.q, link)
	{
		if (r->what == AGENTD_DEFER_RETIRE)
			e = agent_store_retire(d->store, r->name,
					       (enum agent_retire_reason)r->reason, r->when,
					       r->text[0] ? r->text : NULL);
		else
			e = agent_store_set_reaped(d->store, r->name, r->when, r->killed);
		if (e == -EALREADY || e == -ENOENT || e == -EINVAL)
			e = 0; /* retired already, purged, or unrecordable: nothing to keep */
		if (e < 0) {
			agent_store_rollback(d->store);
			return e;
		}
	}
	return agent_store_commit(d->store); /* rolls back itself on failure */
}

int agentd_deferred_flush(struct agentd *d)
{
	struct agentd_deferred_rec *r;
	size_t n = d->deferred.n;
	int e;

	if (TAILQ_EMPTY(&d->deferred.q)) {
		if (d->deferred.journal) {
			journal_remove(d);
			d->deferred.journal = false;
		}
		return 0;
	}
	e = write_all(d);
	if (e < 0) {
		int j = journal_write(d);

		if (!d->deferred.err) {
			say(d, LOG_ERR,
			    "cannot write the state database (%s): retirements are enforced and their "
			    "records kept in memory, retried every second; creates are refused",
			    strerror(-e));
			if (j < 0)
				say(d, LOG_ERR,
				    "cannot write the retirement journal in %s (%s): a restart before the "
				    "store recovers would bring back revoked identities whose deadline "
				    "has not passed",
				    d->opts.runtime_dir, strerror(-j));
			arm(d, true);
		}
		d->deferred.err = e;
		return e;
	}
	while ((r = TAILQ_FIRST(&d->deferred.q))) {
		TAILQ_REMOVE(&d->deferred.q, r, link);
		free(r);
	}
	d->deferred.n = 0;
	if (d->deferred.err) {
		say(d, LOG_NOTICE,
		    "the state database takes writes again: %zu deferred records written", n);
		d->deferred.err = 0;
		arm(d, false);
	}
	if (d->deferred.journal) {
		journal_remove(d);
		d->deferred.journal = false;
	}
	return 0;
}

void agentd_deferred_flush_soon(struct agentd *d)
{
	struct itimerspec t = { .it_value.tv_nsec = SOON_MS * 1000000L };

	if (d->deferred.err || d->deferred.soon || TAILQ_EMPTY(&d->deferred.q))
		return; /* the retry timer runs, or the timer is set, or nothing waits */
	if (timerfd_settime(d->deferred.tfd, 0, &t, NULL) == 0)
		d->deferred.soon = true;
	else
		agentd_deferred_flush(d);
}

void agentd_deferred_hold(struct agentd *d)
{
	d->deferred.held = true;
}

void agentd_deferred_release(struct agentd *d)
{
	bool due = d->deferred.due;

	d->deferred.held = d->deferred.due = false;
	if (due)
		agentd_deferred_flush(d);
}

void agentd_deferred_commit(struct agentd *d)
{
	if (d->deferred.held)
		d->deferred.due = true;
	else
		agentd_deferred_flush(d);
}

void agentd_deferred_tick(struct agentd *d)
{
	uint64_t ticks;

	d->deferred.soon = false;
	if (read(d->deferred.tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		agent_audit_log(&d->audit, LOG_ERR, "timerfd: %m");
	if (TAILQ_EMPTY(&d->deferred.q)) {
		/* Nothing waits; a create found the store unwritable: probe it again
		 * by the next create, not here. */
		d->deferred.err = 0;
		arm(d, false);
		return;
	}
	agentd_deferred_flush(d);
}

int agentd_deferred_error(const struct agentd *d)
{
	return d->deferred.err;
}

bool agentd_deferred_overlay(const struct agentd *d, struct agent_identity *id)
{
	const struct agentd_deferred_rec *r, *hit = NULL;

	/* In the live table: live. Else only the queue can say otherwise
	 * (start-up retires identities that were never in the table). */
	if (id->state != AGENT_STATE_LIVE || TAILQ_EMPTY(&d->deferred.q) ||
	    agentd_live_has(d, id->uid, id->name))
		return false;
	TAILQ_FOREACH(r, &d->deferred.q, link)
	if (r->what == AGENTD_DEFER_RETIRE && strcmp(r->name, id->name) == 0) {
		hit = r;
		break;
	}
	if (!hit)
		return false;
	id->state = AGENT_STATE_RETIRED;
	id->retire_reason = (enum agent_retire_reason)hit->reason;
	id->retired_at = hit->when;
	snprintf(id->retire_text, sizeof(id->retire_text), "%s", hit->text);
	return true;
}

void agentd_deferred_free(struct agentd *d)
{
	struct agentd_deferred_rec *r;

	if (!TAILQ_EMPTY(&d->deferred.q) && d->store && agentd_deferred_flush(d) < 0)
		agent_audit_log(
			&d->audit, LOG_ERR,
			"stopping with %zu records the state database did not take; the journal "
			"keeps the retirements for the next start",
			d->deferred.n);
	while ((r = TAILQ_FIRST(&d->deferred.q))) {
		TAILQ_REMOVE(&d->deferred.q, r, link);
		free(r);
	}
	d->deferred.n = 0;
	if (d->deferred.tfd >= 0)
		close(d->deferred.tfd);
	d->deferred.tfd = -1;
}
