/* Retirement (agentd/retire.h): snapshot, live table, sessions, audit, the
 * hand-over to the reaper, then the record. The order is the invariant: see
 * retire.h. Nothing here waits for a process, and nothing here waits for
 * the store: a store that refuses the record (full disk, EIO, read-only)
 * delays the record (deferred.c), never the retirement. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "agentd/cgroup.h"
#include "agentd/daemon.h"
#include "agentd/deferred.h"
#include "agentd/livetable.h"
#include "agentd/reaper.h"
#include "agentd/retire.h"
#include "agentd/session.h"
#include "common/kv.h"

/* One identity of a batch: what it is, why it goes. */
struct retire_item {
	struct agent_identity id;
	enum agent_retire_reason reason;
	const char *text; /* the caller's text, or the name of the root of a cascade */
	const char *by;
};

struct retire_set {
	struct agentd *d;
	struct retire_item *v;
	size_t n, cap;
	/* while collecting children: who they descend from */
	const char *root;
	const char *by;
};

static bool in_set(const struct retire_set *s, uint32_t uid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].id.uid == uid)
			return true;
	return false;
}

static int add_item(struct retire_set *s, const struct agent_identity *id,
		    enum agent_retire_reason reason, const char *text, const char *by)
{
	if (in_set(s, id->uid))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *p = realloc(s->v, cap * sizeof(*s->v));

		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n].id = *id;
	s->v[s->n].reason = reason;
	s->v[s->n].text = text;
	s->v[s->n].by = by;
	s->n++;
	return 0;
}

static int child_cb(const struct agent_identity *id, void *arg)
{
	struct retire_set *s = arg;
	struct agent_identity c = *id;

	if (agentd_deferred_overlay(s->d, &c))
		return 0; /* retired already, its record not written yet */
	return add_item(s, &c, AGENT_RETIRE_PARENT, s->root, s->by);
}

/* The identity as the store has it, or, if the store cannot be read, as
 * the live table knows it (name and uid are enough to retire). */
static int find_live(struct agentd *d, const char *name, struct agent_identity *id)
{
	int r = agent_store_get(d->store, name, id);

	if (r == 0) {
		if (agentd_deferred_overlay(d, id) || id->state != AGENT_STATE_LIVE)
			return -EALREADY;
		return 0;
	}
	if (r == -ENOENT)
		return r;
	for (size_t i = 0; i < d->live.n; i++)
		if (strcmp(d->live.v[i].name, name) == 0) {
			memset(id, 0, sizeof(*id));
			snprintf(id->name, sizeof(id->name), "%s", name);
			id->uid = d->live.v[i].uid;
			id->expires = d->live.v[i].expires;
			id->expires_boot_ns = d->live.v[i].expires_boot_ns;
			id->state = AGENT_STATE_LIVE;
			agent_audit_log(&d->audit, LOG_ERR,
					"store: cannot read %s (%s); retiring it from "
					"the live table",
					name, strerror(-r));
			return 0;
		}
	return r;
}

/* Adds root and its live descendants, breadth-first. */
static int collect(struct retire_set *s, const char *name, enum agent_retire_reason reason,
		   const char *text, const char *by)
{
	struct agent_identity id;
	size_t first = s->n;
	int r = find_live(s->d, name, &id);

	if (r < 0)
		return r;
	r = add_item(s, &id, reason, text, by);
	if (r < 0 || s->n == first)
		return r;
	s->root = name;
	s->by = by;
	for (size_t i = first; i < s->n; i++) {
		/* s->v may move: copy the name out first */
		char parent[AGENT_NAME_MAX + 1];

		snprintf(parent, sizeof(parent), "%s", s->v[i].id.name);
		r = agent_store_foreach_child(s->d->store, parent, child_cb, s);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			agent_audit_log(&s->d->audit, LOG_ERR,
					"store: cannot read the children of %s (%s)", parent,
					strerror(-r));
	}
	return 0;
}

static void audit_retire(struct agentd *d, const struct retire_item *it, unsigned sessions)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];

	agent_audit_begin(&d->audit, &kv, buf, sizeof(buf), "retire");
	agent_audit_identity(&kv, &it->id);
	agent_kv_str(&kv, "reason", agent_retire_reason_str(it->reason));
	if (it->text && it->text[0])
		agent_kv_str(&kv, "text", it->text);
	if (it->by && it->by[0])
		agent_kv_str(&kv, "by", it->by);
	agent_kv_u64(&kv, "sessions", sessions);
	agent_audit_emit(&d->audit, &kv, LOG_NOTICE);
}

/* Everything but the record: the steps no store failure may hold up. */
static void retire_set_apply(struct agentd *d, struct retire_set *s)
{
	int64_t now = time(NULL);

	if (!s->n)
		return;
	/* 1. Unpublished, all at once: one publication for the batch. */
	{
		uint32_t *uids = malloc(s->n * sizeof(*uids));

		if (uids) {
			for (size_t i = 0; i < s->n; i++)
				uids[i] = s->v[i].id.uid;
			agent_snap_remove_many(d->snap, uids, s->n);
			free(uids);
		} else {
			for (size_t i = 0; i < s->n; i++)
				agent_snap_remove(d->snap, s->v[i].id.uid);
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		struct retire_item *it = &s->v[i];

		/* 2. Out of the live table. */
		agentd_live_remove(d, it->id.uid);
		/* 3. Containment: the identity's cgroup killed at once, after it
		 * stopped resolving, before its sessions end. */
		agentd_cgroup_kill(d, it->id.uid);

		/* 4. Sessions signalled, the retirement audited now, not when
		 * the store takes its record. */
		audit_retire(d, it, agentd_sessions_end(d, it->id.uid));
		if (d->hooks.retired)
			d->hooks.retired(d, &it->id);
		/* 5. The record queued (before the reap record can be), then the kill. */
		agentd_deferred_retire(d, &it->id, it->reason, now, it->text);
		agentd_reaper_queue(d, it->id.uid, it->id.name, false);
	}
	/* 6. The kills sent to the reaper helper before the record is
	 * written: it scans and kills while the transaction's fsync runs (its
	 * results are recorded after the retirements, deferred.c). */
	agentd_reapers_start(d);
	/* 7. One transaction for the whole batch (for the requests of a loop
	 * turn, one for all of them: agentd_deferred_hold); a refusal keeps it
	 * queued. No re-arm: a timer set for a retired identity fires once,
	 * finds nothing due and re-arms (agentd_expire_due). */
	agentd_deferred_commit(d);
}

int agentd_retire(struct agentd *d, const char *name, enum agent_retire_reason reason,
		  const char *text, const char *by)
{
	struct retire_set s = { .d = d };
	int r = collect(&s, name, reason, text, by);

	if (r == 0)
		retire_set_apply(d, &s);
	free(s.v);
	return r;
}

int agentd_retire_many(struct agentd *d, const char (*names)[AGENT_NAME_MAX + 1], size_t n,
		       enum agent_retire_reason reason, const char *text, const char *by)
{
	struct retire_set s = { .d = d };
	size_t done = 0;
	int r = 0;

	for (size_t i = 0; i < n && r != -ENOMEM; i++) {
		r = collect(&s, names[i], reason, text, by);
		if (r == 0)
			done++;
	}
	retire_set_apply(d, &s);
	free(s.v);
	return r == -ENOMEM ? r : (int)done;
}
