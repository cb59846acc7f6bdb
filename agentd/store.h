/* Durable state: an SQLite database in the state directory, schema
 * versioned (PRAGMA user_version), WAL with synchronous=FULL, so an
 * operation that returned 0 survives a crash or power loss.
 *
 * The store is the source of truth; the NSS snapshot is derived from it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "common/identity.h"

struct agent_store;

/* Opens DIR/agentd.db. State is never silently reset:
 * - a missing database is created (mode 0600, built under a temporary name
 *   and linked into place complete) only on a first start, when DIR holds
 *   no trace of earlier use (token.key, agentd.db-wal, agentd.db-shm), or
 *   with AGENT_STORE_INIT (agentd --init-state); else -ENOENT;
 * - an existing file that is empty, not a regular file, not SQLite, or that
 *   fails PRAGMA quick_check is refused (-EBADMSG) and left as it is, even
 *   with AGENT_STORE_INIT;
 * - a schema newer than this code knows is refused untouched (-EPROTO).
 * 0 and *out, or -errno and a one-line message in err. */
#define AGENT_STORE_INIT 1u
int agent_store_open(const char *dir, unsigned flags, struct agent_store **out, char *err,
		     size_t errlen);
void agent_store_close(struct agent_store *st);

/* Explicit transactions; calls outside one run in their own. Nesting is not
 * supported (-EBUSY). A failed commit is rolled back. Write errors carry
 * the operating system's cause where SQLite has one (-ENOSPC, -EIO,
 * -EROFS, -EDQUOT), else -EBUSY (locked), -EACCES (read-only), -EIO. */
int agent_store_begin(struct agent_store *st);
int agent_store_commit(struct agent_store *st);
void agent_store_rollback(struct agent_store *st);

/* -EEXIST if the name (ever used) or a live/unreaped uid clashes. */
int agent_store_insert(struct agent_store *st, const struct agent_identity *id);
/* Group commit: inserts n identities (with the ssh key bound to each,
 * ssh_keys may be NULL or hold NULLs) in one transaction, each under its
 * own savepoint, and commits once: one fsync for the batch. res[i] is 0 if
 * ids[i] is stored, or why it was refused alone (-EEXIST, -EINVAL, ...).
 * 0 once committed; -errno if the transaction could not be opened or
 * committed: then nothing of the batch is stored and every res[i] is that
 * error (a caller must acknowledge none of them). */
int agent_store_insert_batch(struct agent_store *st, const struct agent_identity *const *ids,
			     const char *const *ssh_keys, size_t n, int *res);
int agent_store_get(struct agent_store *st, const char *name,
		    struct agent_identity *out); /* -ENOENT */
/* The live identity with this uid. -ENOENT if none. */
int agent_store_get_live_uid(struct agent_store *st, uint32_t uid, struct agent_identity *out);

/* Marks a live identity retired (state, reason, retired_at, text).
 * -ENOENT if unknown, -EALREADY if already retired. */
int agent_store_retire(struct agent_store *st, const char *name, enum agent_retire_reason reason,
		       int64_t when, const char *text);
/* Records that no process of it is left (reaped_at, killed). */
int agent_store_set_reaped(struct agent_store *st, const char *name, int64_t when, uint32_t killed);

/* Iterates in creation order. filter: which records. cb returns 0 to go on,
 * anything else stops the walk and is returned. */
enum agent_store_filter {
	AGENT_STORE_LIVE,     /* state live */
	AGENT_STORE_ALL,      /* everything kept */
	AGENT_STORE_UNREAPED, /* retired but reaped_at == 0 */
};
int agent_store_foreach(struct agent_store *st, enum agent_store_filter filter,
			int (*cb)(const struct agent_identity *id, void *arg), void *arg);
/* Live identities whose parent is name. */
int agent_store_foreach_child(struct agent_store *st, const char *name,
			      int (*cb)(const struct agent_identity *id, void *arg), void *arg);

/* Is uid unavailable: live, retired but not reaped, or reaped less than
 * quarantine seconds before now? */
int agent_store_uid_busy(struct agent_store *st, uint32_t uid, int64_t now, int64_t quarantine,
			 bool *busy);
int agent_store_name_used(struct agent_store *st, const char *name, bool *used);

int agent_store_count_live(struct agent_store *st, uint64_t *n);
int agent_store_count_live_by_creator(struct agent_store *st, uint32_t creator_uid, uint64_t *n);
int agent_store_count_quarantined(struct agent_store *st, int64_t now, int64_t quarantine,
				  uint64_t *n);
/* Deletes retired records reaped before cutoff (older history). */
int agent_store_purge(struct agent_store *st, int64_t cutoff);

/* The public key bound to an identity at creation (one authorized_keys
 * line, validated by the caller). set: -ENOENT if no such identity; call it
 * in the same transaction as the insert. get: -ENOENT if none bound. */
int agent_store_set_ssh_key(struct agent_store *st, const char *name, const char *key);
int agent_store_get_ssh_key(struct agent_store *st, const char *name, char *buf, size_t len);

/* Small key/value table for daemon metadata (e.g. "boot_id"). */
int agent_store_meta_get(struct agent_store *st, const char *key, char *buf, size_t len);
int agent_store_meta_set(struct agent_store *st, const char *key, const char *value);

/* Runtime authorization (agentd/budget.c): one more sudo action used by
 * name (0, -ENOENT); sub-identities name ever had (retired ones count);
 * identities principal created directly (the last hop of their chain)
 * after since, unix seconds. */
int agent_store_sudo_used(struct agent_store *st, const char *name);
int agent_store_count_children(struct agent_store *st, const char *name, uint64_t *n);
int agent_store_count_created_by(struct agent_store *st, const char *principal, int64_t since,
				 uint64_t *n);
/* uid_use (schema v4): when each uid was last released and whether it is
 * held back. held: 0 free to reuse (after quarantine), 1 leftovers sweep
 * pending, 2 leftovers that could not be removed (never handed out until a
 * later sweep succeeds). */
struct agent_uid_use {
	uint32_t uid;
	int64_t released_at; /* unix seconds */
	int held;
};
/* Records a release (insert or replace). Called once per reaped uid. */
int agent_store_uid_release(struct agent_store *st, uint32_t uid, int64_t when, int held);
/* Sets held for a recorded uid; -ENOENT if it was never released. */
int agent_store_uid_hold(struct agent_store *st, uint32_t uid, int held);
/* held of a recorded uid; -ENOENT (and *held 0) if never released. */
int agent_store_uid_held(struct agent_store *st, uint32_t uid, int *held);
/* Reusable uids in [uid_min, uid_max]: not held, released at least
 * quarantine seconds before now, not live or unreaped; least recently
 * released first (ties: lower uid), skipping offset rows. Fills at most max
 * rows into out; *n is how many matched (up to max). */
int agent_store_uid_lru(struct agent_store *st, uint32_t uid_min, uint32_t uid_max, int64_t now,
			int64_t quarantine, size_t offset, struct agent_uid_use *out, size_t max,
			size_t *n);
/* Every uid_use row with held >= min_held, by uid; *n counts all of them
 * even beyond max. */
int agent_store_uid_use_list(struct agent_store *st, int min_held, struct agent_uid_use *out,
			     size_t max, size_t *n);
/* Every uid ever used (uid_use or identities), in no order. */
int agent_store_foreach_uid_ever(struct agent_store *st, void (*cb)(uint32_t uid, void *arg),
				 void *arg);
/* A live identity's deadlines moved earlier (never later: -ENOENT then, as
 * for a name that is not live). */
int agent_store_set_expires(struct agent_store *st, const char *name, int64_t expires,
			    int64_t expires_boot_ns);
