/* Durable state in SQLite (see agentd/store.h).
 *
 * Schema v3:
 *   identities  one row per identity ever created (until purged)
 *   chain       its delegation chain, one row per hop, in order
 *   meta        daemon metadata (boot_id)
 *   ssh_keys    the public key bound at creation, if any (added in v2)
 *   authz       risk, verified actor and budget counters (added in v3)
 *   uid_use     per uid ever released: when, and whether it is held back
 *               (leftovers sweep pending or failed); never purged (v4)
 * At most one live identity holds a uid (partial unique index). Statements
 * are prepared once; strings read back are bounds-checked against the
 * record's fixed fields, so a tampered database is an error, not an
 * overflow. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agentd/store.h"

#define SCHEMA_VERSION 4

static const char schema_v1[] =
	"CREATE TABLE identities ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" uid INTEGER NOT NULL,"
	" purpose TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" parent TEXT NOT NULL DEFAULT '',"
	" depth INTEGER NOT NULL,"
	" creator_uid INTEGER NOT NULL,"
	" actor TEXT NOT NULL DEFAULT '',"
	" task TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" expires INTEGER NOT NULL,"
	" expires_boot_ns INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" retire_reason INTEGER NOT NULL DEFAULT 0,"
	" retired_at INTEGER NOT NULL DEFAULT 0,"
	" retire_text TEXT NOT NULL DEFAULT '',"
	" reaped_at INTEGER NOT NULL DEFAULT 0,"
	" killed INTEGER NOT NULL DEFAULT 0,"
	" token_hash BLOB NOT NULL);"
	"CREATE UNIQUE INDEX identities_live_uid ON identities(uid) WHERE state = 1;"
	"CREATE INDEX identities_uid ON identities(uid);"
	"CREATE INDEX identities_parent ON identities(parent) WHERE state = 1;"
	"CREATE TABLE chain ("
	" identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,"
	" pos INTEGER NOT NULL,"
	" principal TEXT NOT NULL,"
	" PRIMARY KEY (identity_id, pos));"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/* v1 -> v2 */
static const char schema_v2[] =
	"CREATE TABLE ssh_keys ("
	" identity_id INTEGER PRIMARY KEY REFERENCES identities(id) ON DELETE CASCADE,"
	" key TEXT NOT NULL);";

/* v2 -> v3: runtime authorization; a row per identity created since. */
static const char schema_v3[] =
	"CREATE TABLE IF NOT EXISTS authz ("
	" identity_id INTEGER PRIMARY KEY REFERENCES identities(id) ON DELETE CASCADE,"
	" risk INTEGER NOT NULL DEFAULT 0,"
	" actor_verified INTEGER NOT NULL DEFAULT 0,"
	" actor_name TEXT NOT NULL DEFAULT '',"
	" sudo_used INTEGER NOT NULL DEFAULT 0);";
/* v3 -> v4: uid release times for least-recently-used allocation, seeded
 * from the reaped identities already on record. */
static const char schema_v4[] =
	"CREATE TABLE IF NOT EXISTS uid_use ("
	" uid INTEGER PRIMARY KEY,"
	" released_at INTEGER NOT NULL,"
	" held INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS uid_use_lru ON uid_use(released_at, uid) WHERE held = 0;"
	"INSERT OR IGNORE INTO uid_use (uid, released_at, held)"
	" SELECT uid, max(reaped_at), 0 FROM identities WHERE reaped_at != 0 GROUP BY uid;";

/* Indexes that change nothing an older agentd reads: created when missing,
 * without a new schema version, so that agentd can still be downgraded. */
static const char index_retired[] =
	"CREATE INDEX IF NOT EXISTS identities_retired ON identities(reaped_at, uid) "
	"WHERE state = 2;";

#define COLS                                                                                       \
	"id, name, uid, purpose, subject, parent, depth, creator_uid, actor, task, created, "      \
	"expires, expires_boot_ns, state, retire_reason, retired_at, retire_text, reaped_at, "     \
	"killed, token_hash"

enum stmt_id {
	S_INSERT,
	S_INSERT_CHAIN,
	S_GET,
	S_GET_LIVE_UID,
	S_CHAIN,
	S_RETIRE,
	S_REAPED,
	S_UID_BUSY,
	S_NAME_USED,
	S_COUNT_LIVE,
	S_COUNT_CREATOR,
	S_COUNT_QUAR,
	S_PURGE,
	S_META_GET,
	S_META_SET,
	S_ALL_LIVE,
	S_ALL,
	S_UNREAPED,
	S_CHILDREN,
	S_SSH_KEY_SET,
	S_SSH_KEY_GET,
	S_AUTHZ_SET,
	S_AUTHZ_GET,
	S_SUDO_USED,
	S_COUNT_CHILDREN,
	S_COUNT_RECENT,
	S_UID_RELEASE,
	S_UID_HOLD,
	S_UID_LRU,
	S_UID_USE_ALL,
	S_UID_EVER,
	S_UID_HELD,
	S_SET_EXPIRES,
	S__MAX
};

static const char *const sql[S__MAX] = {
	[S_INSERT] = "INSERT INTO identities (name, uid, purpose, subject, parent, depth, "
		     "creator_uid, actor, task, created, expires, expires_boot_ns, state, "
		     "token_hash) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,1,?13)",
	[S_INSERT_CHAIN] = "INSERT INTO chain (identity_id, pos, principal) VALUES (?1,?2,?3)",
	[S_GET] = "SELECT " COLS " FROM identities WHERE name = ?1",
	[S_GET_LIVE_UID] = "SELECT " COLS " FROM identities WHERE uid = ?1 AND state = 1",
	[S_CHAIN] = "SELECT principal FROM chain WHERE identity_id = ?1 ORDER BY pos",
	[S_RETIRE] = "UPDATE identities SET state = 2, retire_reason = ?2, retired_at = ?3, "
		     "retire_text = ?4 WHERE name = ?1 AND state = 1",
	[S_REAPED] = "UPDATE identities SET reaped_at = ?2, killed = ?3 WHERE name = ?1",
	[S_UID_BUSY] = "SELECT 1 FROM identities WHERE uid = ?1 AND (state = 1 OR reaped_at = 0 "
		       "OR reaped_at + ?3 > ?2) LIMIT 1",
	[S_NAME_USED] = "SELECT 1 FROM identities WHERE name = ?1",
	[S_COUNT_LIVE] = "SELECT count(*) FROM identities WHERE state = 1",
	[S_COUNT_CREATOR] = "SELECT count(*) FROM identities WHERE state = 1 AND creator_uid = ?1",
	/* Two ranges of identities_retired (unreaped; reaped within the
	 * quarantine), so the cost follows the uids in quarantine, not every
	 * retired identity kept on record. */
	[S_COUNT_QUAR] = "SELECT count(*) FROM ("
			 "SELECT uid FROM identities WHERE state = 2 AND reaped_at = 0 "
			 "UNION SELECT uid FROM identities WHERE state = 2 AND reaped_at > ?1 - ?2 "
			 "EXCEPT SELECT uid FROM identities WHERE state = 1)",
	[S_PURGE] = "DELETE FROM identities WHERE state = 2 AND reaped_at != 0 AND reaped_at < ?1",
	[S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[S_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
		       "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[S_ALL_LIVE] = "SELECT " COLS " FROM identities WHERE state = 1 ORDER BY id",
	[S_ALL] = "SELECT " COLS " FROM identities ORDER BY id",
	[S_UNREAPED] =
		"SELECT " COLS " FROM identities WHERE state = 2 AND reaped_at = 0 ORDER BY id",
	[S_CHILDREN] =
		"SELECT " COLS " FROM identities WHERE parent = ?1 AND state = 1 ORDER BY id",
	[S_SSH_KEY_SET] = "INSERT OR REPLACE INTO ssh_keys (identity_id, key) "
			  "SELECT id, ?2 FROM identities WHERE name = ?1",
	[S_SSH_KEY_GET] = "SELECT k.key FROM ssh_keys k JOIN identities i ON i.id = k.identity_id "
			  "WHERE i.name = ?1",
	[S_AUTHZ_SET] = "INSERT OR REPLACE INTO authz (identity_id, risk, actor_verified, "
			"actor_name) VALUES (?1,?2,?3,?4)",
	[S_AUTHZ_GET] = "SELECT risk, actor_verified, actor_name, sudo_used FROM authz "
			"WHERE identity_id = ?1",
	[S_SUDO_USED] = "UPDATE authz SET sudo_used = sudo_used + 1 WHERE identity_id = "
			"(SELECT id FROM identities WHERE name = ?1)",
	[S_COUNT_CHILDREN] = "SELECT count(*) FROM identities WHERE parent = ?1",
	[S_COUNT_RECENT] = "SELECT count(*) FROM identities i JOIN chain c ON c.identity_id = i.id "
			   "AND c.pos = (SELECT max(pos) FROM chain WHERE identity_id = i.id) "
			   "WHERE c.principal = ?1 AND i.created > ?2",
	[S_UID_RELEASE] = "INSERT INTO uid_use (uid, released_at, held) VALUES (?1, ?2, ?3) "
			  "ON CONFLICT(uid) DO UPDATE SET released_at = excluded.released_at, "
			  "held = excluded.held",
	[S_UID_HOLD] = "UPDATE uid_use SET held = ?2 WHERE uid = ?1",
	/* Walks uid_use_lru in order and probes identities_uid per row, so it
	 * stops after LIMIT rows instead of scanning every identity. */
	[S_UID_LRU] = "SELECT u.uid, u.released_at, u.held FROM uid_use u INDEXED BY uid_use_lru "
		      "WHERE u.held = 0 AND "
		      "u.uid BETWEEN ?1 AND ?2 AND u.released_at + ?4 <= ?3 AND NOT EXISTS "
		      "(SELECT 1 FROM identities i WHERE i.uid = u.uid AND (i.state = 1 OR "
		      "i.reaped_at = 0)) ORDER BY u.released_at, u.uid LIMIT ?5 OFFSET ?6",
	[S_UID_USE_ALL] =
		"SELECT uid, released_at, held FROM uid_use WHERE held >= ?1 ORDER BY uid",
	[S_UID_EVER] = "SELECT uid FROM uid_use UNION SELECT uid FROM identities",
	[S_UID_HELD] = "SELECT held FROM uid_use WHERE uid = ?1",
	[S_SET_EXPIRES] = "UPDATE identities SET expires = ?2, expires_boot_ns = ?3 "
			  "WHERE name = ?1 AND state = 1 AND expires >= ?2",
};

struct agent_store {
	sqlite3 *db;
	sqlite3_stmt *st[S__MAX];
	bool in_tx;
};

static int map_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	default:
		return -EIO;
	}
}

/* The cause, not only SQLite's class of it: a write that failed in the
 * operating system reports its errno (ENOSPC, EIO, EROFS, EDQUOT), so the
 * log can name a full disk. */
static int os_err(sqlite3 *db, int rc)
{
	int r = map_err(rc), e;

	switch (rc & 0xff) {
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
		e = sqlite3_system_errno(db);
		if (e > 0)
			return -e;
		break;
	}
	return r;
}

static int exec(struct agent_store *s, const char *q)
{
	return os_err(s->db, sqlite3_exec(s->db, q, NULL, NULL, NULL));
}

static sqlite3_stmt *stmt(struct agent_store *s, enum stmt_id id)
{
	sqlite3_stmt *st = s->st[id];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Runs a statement that returns no row (or ignores rows). */
static int step_done(sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	rc = os_err(sqlite3_db_handle(st), rc);
	sqlite3_reset(st);
	return rc;
}

/* Brings a database at version `from` (0 = empty) to SCHEMA_VERSION in one
 * transaction, one step per version. */
static int upgrade_schema(struct agent_store *s, int from)
{
	char v[32];
	int r = exec(s, "BEGIN IMMEDIATE");

	if (r < 0)
		return r;
	if (from < 1)
		r = exec(s, schema_v1);
	if (r == 0 && from < 2)
		r = exec(s, schema_v2);
	if (r == 0 && from < 3)
		r = exec(s, schema_v3);
	if (r == 0 && from < 4)
		r = exec(s, schema_v4);
	snprintf(v, sizeof(v), "PRAGMA user_version = %d", SCHEMA_VERSION);
	if (r == 0)
		r = exec(s, v);
	if (r == 0)
		r = exec(s, "COMMIT");
	if (r < 0)
		exec(s, "ROLLBACK");
	return r;
}

/* PRAGMA user_version, read without writing anything. */
static int schema_version(struct agent_store *s, int *version)
{
	sqlite3_stmt *st;
	int r;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	r = sqlite3_step(st) == SQLITE_ROW ? 0 : -EIO;
	*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return r;
}

/* PRAGMA quick_check: 0 if "ok", else -EBADMSG with its findings on one line. */
static int quick_check(struct agent_store *s, char *why, size_t len)
{
	sqlite3_stmt *st;
	const unsigned char *t;
	int rc, r;

	if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK) {
		snprintf(why, len, "%s", sqlite3_errmsg(s->db));
		return -EBADMSG;
	}
	rc = sqlite3_step(st);
	t = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	r = t && strcmp((const char *)t, "ok") == 0 ? 0 : -EBADMSG;
	if (r < 0) {
		const char *w = t ? (const char *)t : sqlite3_errmsg(s->db);
		static const char hdr[] = "*** in database main ***";

		if (strncmp(w, hdr, sizeof(hdr) - 1) == 0)
			w += sizeof(hdr) - 1;
		w += strspn(w, " \n");
		snprintf(why, len, "%s", w);
		for (char *p = why; *p; p++) /* one line: findings are newline-separated */
			if (*p == '\n' || *p == '\r')
				*p = ';';
	}
	sqlite3_finalize(st);
	return r;
}

/* The first bytes of every SQLite 3 database file. */
static const char sqlite_magic[16] = "SQLite format 3";

/* What is at path before SQLite touches it: 0 (an SQLite file), -ENOENT,
 * -EBADMSG (empty, not a regular file, or not SQLite), or -errno. */
static int probe_file(const char *path, char *err, size_t errlen)
{
	char head[sizeof(sqlite_magic)];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), r = 0;

	if (fd < 0) {
		r = -errno;
		if (r != -ENOENT)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		r = -EBADMSG;
		snprintf(err, errlen, "%s is not a regular file; refusing to start", path);
	} else if (st.st_size == 0) {
		r = -EBADMSG;
		snprintf(err, errlen,
			 "%s is empty (0 bytes); refusing to start without the state "
			 "it held, and leaving it as it is: restore it from a backup, or move it "
			 "away and start once with --init-state",
			 path);
	} else if ((n = pread(fd, head, sizeof(head), 0)) != (ssize_t)sizeof(head) ||
		   memcmp(head, sqlite_magic, sizeof(head)) != 0) {
		r = -EBADMSG;
		snprintf(err, errlen,
			 "%s is not an SQLite database (damaged?); refusing to start, "
			 "and leaving it as it is: restore it from a backup, or move it away and "
			 "start once with --init-state",
			 path);
	}
	close(fd);
	return r;
}

/* Files that exist only once agentd has run with this state directory. */
static const char *const used_markers[] = { "token.key", "agentd.db-wal", "agentd.db-shm", NULL };

static const char *used_before(const char *dir)
{
	char p[512];

	for (const char *const *m = used_markers; *m; m++) {
		snprintf(p, sizeof(p), "%s/%s", dir, *m);
		if (access(p, F_OK) == 0)
			return *m;
	}
	return NULL;
}

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static const char *const db_suffixes[] = { "", "-wal", "-shm" };

/* A new database, built under a temporary name and linked into place only
 * when complete (never over an existing file), so that a crash never
 * leaves a half-made agentd.db behind. */
static int create_db(const char *dir, const char *path, char *err, size_t errlen)
{
	struct agent_store t = { 0 };
	char tmp[520];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (size_t i = 0; i < sizeof(db_suffixes) / sizeof(db_suffixes[0]); i++) {
		char p[sizeof(tmp) + 8];

		snprintf(p, sizeof(p), "%s%s", tmp, db_suffixes[i]);
		unlink(p); /* left by a creation that crashed */
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	close(fd);
	r = sqlite3_open_v2(tmp, &t.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) ==
			    SQLITE_OK
		    ? exec(&t, "PRAGMA journal_mode = WAL")
		    : -EIO;
	if (r == 0)
		r = upgrade_schema(&t, 0);
	if (sqlite3_close(t.db) != SQLITE_OK && r == 0)
		r = -EIO;
	if (r == 0)
		r = fsync_path(tmp, O_RDONLY);
	if (r == 0 && link(tmp, path) < 0)
		r = -errno;
	unlink(tmp);
	if (r == 0)
		r = fsync_path(dir, O_RDONLY | O_DIRECTORY);
out:
	if (r < 0)
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(-r));
	return r;
}

/* Opens an existing database: checked before anything is written to it. */
static int open_db(struct agent_store *s, const char *path, char *err, size_t errlen)
{
	char why[256];
	int version, r;

	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open", path);
		return -EIO;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (quick_check(s, why, sizeof(why)) < 0) {
		snprintf(err, errlen,
			 "%s is damaged (%s); refusing to start, and leaving it as "
			 "it is: restore it from a backup",
			 path, why);
		return -EBADMSG;
	}
	if ((r = schema_version(s, &version)) < 0) {
		snprintf(err, errlen, "%s: cannot read the schema version", path);
		return r;
	}
	if (version > SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "%s was written by a newer agentd (schema %d, this one knows "
			 "%d)",
			 path, version, SCHEMA_VERSION);
		return -EPROTO;
	}
	if ((r = exec(s, "PRAGMA journal_mode = WAL")) < 0 ||
	    (r = exec(s, "PRAGMA synchronous = FULL")) < 0 ||
	    (r = exec(s, "PRAGMA foreign_keys = ON")) < 0 ||
	    (version < SCHEMA_VERSION && (r = upgrade_schema(s, version)) < 0) ||
	    (r = exec(s, index_retired)) < 0) {
		snprintf(err, errlen, "%s: cannot prepare or upgrade the database: %s", path,
			 strerror(-r));
		return r;
	}
	return 0;
}

int agent_store_open(const char *dir, unsigned flags, struct agent_store **out, char *err,
		     size_t errlen)
{
	struct agent_store *s;
	const char *marker;
	char path[512];
	int r;

	*out = NULL;
	if (snprintf(path, sizeof(path), "%s/agentd.db", dir) >= (int)sizeof(path)) {
		snprintf(err, errlen, "state directory path too long");
		return -ENAMETOOLONG;
	}
	r = probe_file(path, err, errlen);
	if (r == -ENOENT) {
		marker = used_before(dir);
		if (marker && !(flags & AGENT_STORE_INIT)) {
			snprintf(err, errlen,
				 "%s is missing, but %s has been used before (%s "
				 "exists); refusing to start without the state it held: restore it "
				 "from a backup, or start once with --init-state",
				 path, dir, marker);
			return -ENOENT;
		}
		r = create_db(dir, path, err, errlen);
	}
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if ((r = open_db(s, path, err, errlen)) < 0)
		goto fail;
	for (int i = 0; i < S__MAX; i++)
		if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
			r = -EIO;
			goto fail;
		}
	*out = s;
	return 0;
fail:
	agent_store_close(s);
	return r;
}

void agent_store_close(struct agent_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < S__MAX; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

int agent_store_begin(struct agent_store *s)
{
	int r;

	if (s->in_tx)
		return -EBUSY;
	r = exec(s, "BEGIN IMMEDIATE");
	if (r == 0)
		s->in_tx = true;
	return r;
}

/* A failed COMMIT is rolled back here: a transaction left open would make
 * every later begin fail (-EBUSY) long after the disk has room again. */
int agent_store_commit(struct agent_store *s)
{
	int r = exec(s, "COMMIT");

	if (r < 0 && !sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK");
	s->in_tx = false;
	return r;
}

void agent_store_rollback(struct agent_store *s)
{
	exec(s, "ROLLBACK");
	s->in_tx = false;
}

/* Runs f inside a transaction unless one is open already. */
static int in_tx(struct agent_store *s, int (*f)(struct agent_store *, const void *),
		 const void *arg)
{
	int r;

	if (s->in_tx)
		return f(s, arg);
	r = agent_store_begin(s);
	if (r < 0)
		return r;
	r = f(s, arg);
	if (r == 0)
		r = agent_store_commit(s);
	if (r < 0)
		agent_store_rollback(s);
	return r;
}

static int text_ok(const char *t, size_t max)
{
	return t && strlen(t) <= max;
}

static int insert_tx(struct agent_store *s, const void *arg)
{
	const struct agent_identity *id = arg;
	sqlite3_stmt *st;
	sqlite3_int64 rowid;
	bool busy, used;
	int r;

	r = agent_store_name_used(s, id->name, &used);
	if (r < 0)
		return r;
	if (used)
		return -EEXIST;
	/* A uid is busy while live or unreaped; quarantine is the caller's call. */
	st = stmt(s, S_UID_BUSY);
	sqlite3_bind_int64(st, 1, id->uid);
	sqlite3_bind_int64(st, 2, INT64_MAX / 2); /* quarantine ignored here */
	sqlite3_bind_int64(st, 3, 0);
	busy = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	if (busy)
		return -EEXIST;

	st = stmt(s, S_INSERT);
	sqlite3_bind_text(st, 1, id->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id->uid);
	sqlite3_bind_text(st, 3, id->purpose, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, id->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, id->parent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, id->depth);
	sqlite3_bind_int64(st, 7, id->creator_uid);
	sqlite3_bind_text(st, 8, id->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, id->task, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, id->created);
	sqlite3_bind_int64(st, 11, id->expires);
	sqlite3_bind_int64(st, 12, id->expires_boot_ns);
	sqlite3_bind_blob(st, 13, id->token_hash, sizeof(id->token_hash), SQLITE_STATIC);
	r = step_done(st);
	if (r < 0)
		return r;
	rowid = sqlite3_last_insert_rowid(s->db);
	for (unsigned i = 0; i < id->chain_len; i++) {
		st = stmt(s, S_INSERT_CHAIN);
		sqlite3_bind_int64(st, 1, rowid);
		sqlite3_bind_int64(st, 2, i);
		sqlite3_bind_text(st, 3, id->chain[i], -1, SQLITE_STATIC);
		r = step_done(st);
		if (r < 0)
			return r;
	}
	st = stmt(s, S_AUTHZ_SET);
	sqlite3_bind_int64(st, 1, rowid);
	sqlite3_bind_int(st, 2, (int)id->risk);
	sqlite3_bind_int(st, 3, id->actor_verified);
	sqlite3_bind_text(st, 4, id->actor_name, -1, SQLITE_STATIC);
	return step_done(st);
}

int agent_store_insert(struct agent_store *s, const struct agent_identity *id)
{
	if (!text_ok(id->name, AGENT_NAME_MAX) || !id->name[0] ||
	    !text_ok(id->purpose, AGENT_PURPOSE_MAX) || !text_ok(id->subject, AGENT_NAME_MAX) ||
	    !text_ok(id->parent, AGENT_NAME_MAX) || !text_ok(id->actor, AGENT_ACTOR_MAX) ||
	    !text_ok(id->task, AGENT_TASK_MAX) || id->chain_len > AGENT_CHAIN_MAX ||
	    !text_ok(id->actor_name, AGENT_NAME_MAX) || (unsigned)id->risk > AGENT_RISK_CRITICAL)
		return -EINVAL;
	for (unsigned i = 0; i < id->chain_len; i++)
		if (!text_ok(id->chain[i], AGENT_NAME_MAX))
			return -EINVAL;
	return in_tx(s, insert_tx, id);
}

/* Group commit: every identity under its own savepoint, one COMMIT (one
 * fsync) for all. A refused identity (-EEXIST, -EINVAL, a failed step) is
 * rolled back alone; a failed COMMIT rolls back the whole batch, so that
 * nothing of it is stored and every res[] carries the error. */
int agent_store_insert_batch(struct agent_store *s, const struct agent_identity *const *ids,
			     const char *const *ssh_keys, size_t n, int *res)
{
	size_t stored = 0;
	int r;

	if (s->in_tx)
		return -EBUSY;
	r = agent_store_begin(s);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			res[i] = r;
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		r = exec(s, "SAVEPOINT batch_one");
		if (r == 0) {
			r = agent_store_insert(s, ids[i]);
			if (r == 0 && ssh_keys && ssh_keys[i])
				r = agent_store_set_ssh_key(s, ids[i]->name, ssh_keys[i]);
			if (r < 0)
				exec(s, "ROLLBACK TO batch_one");
			if (exec(s, "RELEASE batch_one") < 0 && r == 0)
				r = -EIO;
		}
		res[i] = r;
		if (r == 0)
			stored++;
	}
	r = stored ? agent_store_commit(s) : 0;
	if (r < 0 || !stored) {
		agent_store_rollback(s);
		for (size_t i = 0; i < n; i++)
			if (res[i] == 0)
				res[i] = r;
		return r;
	}
	return 0;
}

static int col_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;

	if (n >= cap || (t && strlen((const char *)t) != n))
		return -EIO;
	memcpy(dst, t ? (const char *)t : "", n);
	dst[n] = '\0';
	return 0;
}

/* The authz row of an identity; none (created before v3): low, unverified. */
static int read_authz(struct agent_store *s, sqlite3_int64 rowid, struct agent_identity *id)
{
	sqlite3_stmt *st = stmt(s, S_AUTHZ_GET);
	int rc, r = 0;

	sqlite3_bind_int64(st, 1, rowid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sqlite3_int64 risk = sqlite3_column_int64(st, 0),
			      used = sqlite3_column_int64(st, 3);

		if (risk < 0 || risk > AGENT_RISK_CRITICAL || used < 0 || used > UINT32_MAX ||
		    col_text(st, 2, id->actor_name, sizeof(id->actor_name)) < 0)
			r = -EIO;
		id->risk = (enum agent_risk)risk;
		id->actor_verified = sqlite3_column_int64(st, 1) != 0;
		id->sudo_used = (uint32_t)used;
	} else if (rc != SQLITE_DONE) {
		r = map_err(rc);
	}
	sqlite3_reset(st);
	return r;
}

/* Fills a record from the current row of a COLS statement (chain too). */
static int read_row(struct agent_store *s, sqlite3_stmt *st, struct agent_identity *id)
{
	sqlite3_int64 rowid = sqlite3_column_int64(st, 0);
	sqlite3_int64 uid = sqlite3_column_int64(st, 2);
	const void *hash;
	sqlite3_stmt *cs;
	int rc;

	memset(id, 0, sizeof(*id));
	if (col_text(st, 1, id->name, sizeof(id->name)) < 0 ||
	    col_text(st, 3, id->purpose, sizeof(id->purpose)) < 0 ||
	    col_text(st, 4, id->subject, sizeof(id->subject)) < 0 ||
	    col_text(st, 5, id->parent, sizeof(id->parent)) < 0 ||
	    col_text(st, 8, id->actor, sizeof(id->actor)) < 0 ||
	    col_text(st, 9, id->task, sizeof(id->task)) < 0 ||
	    col_text(st, 16, id->retire_text, sizeof(id->retire_text)) < 0)
		return -EIO;
	if (uid < 0 || uid > UINT32_MAX)
		return -EIO;
	id->uid = (uint32_t)uid;
	id->depth = (unsigned)sqlite3_column_int64(st, 6);
	id->creator_uid = (uint32_t)sqlite3_column_int64(st, 7);
	id->created = sqlite3_column_int64(st, 10);
	id->expires = sqlite3_column_int64(st, 11);
	id->expires_boot_ns = sqlite3_column_int64(st, 12);
	id->state = (enum agent_state)sqlite3_column_int(st, 13);
	id->retire_reason = (enum agent_retire_reason)sqlite3_column_int(st, 14);
	id->retired_at = sqlite3_column_int64(st, 15);
	id->reaped_at = sqlite3_column_int64(st, 17);
	id->killed = (uint32_t)sqlite3_column_int64(st, 18);
	hash = sqlite3_column_blob(st, 19);
	if (!hash || sqlite3_column_bytes(st, 19) != (int)sizeof(id->token_hash) ||
	    (id->state != AGENT_STATE_LIVE && id->state != AGENT_STATE_RETIRED))
		return -EIO;
	memcpy(id->token_hash, hash, sizeof(id->token_hash));

	cs = stmt(s, S_CHAIN);
	sqlite3_bind_int64(cs, 1, rowid);
	while ((rc = sqlite3_step(cs)) == SQLITE_ROW) {
		if (id->chain_len >= AGENT_CHAIN_MAX ||
		    col_text(cs, 0, id->chain[id->chain_len], sizeof(id->chain[0])) < 0) {
			sqlite3_reset(cs);
			return -EIO;
		}
		id->chain_len++;
	}
	sqlite3_reset(cs);
	if (rc != SQLITE_DONE)
		return map_err(rc);
	return read_authz(s, rowid, id);
}

static int get_one(struct agent_store *s, sqlite3_stmt *st, struct agent_identity *out)
{
	int rc = sqlite3_step(st), r;

	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return -ENOENT;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return map_err(rc);
	}
	r = read_row(s, st, out);
	sqlite3_reset(st);
	return r;
}

int agent_store_get(struct agent_store *s, const char *name, struct agent_identity *out)
{
	sqlite3_stmt *st;

	if (!text_ok(name, AGENT_NAME_MAX))
		return -ENOENT;
	st = stmt(s, S_GET);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return get_one(s, st, out);
}

int agent_store_get_live_uid(struct agent_store *s, uint32_t uid, struct agent_identity *out)
{
	sqlite3_stmt *st = stmt(s, S_GET_LIVE_UID);

	sqlite3_bind_int64(st, 1, uid);
	return get_one(s, st, out);
}

int agent_store_retire(struct agent_store *s, const char *name, enum agent_retire_reason reason,
		       int64_t when, const char *text)
{
	struct agent_identity id;
	sqlite3_stmt *st;
	int r;

	if (text && !text_ok(text, AGENT_REASON_MAX))
		return -EINVAL;
	r = agent_store_get(s, name, &id);
	if (r < 0)
		return r;
	if (id.state != AGENT_STATE_LIVE)
		return -EALREADY;
	st = stmt(s, S_RETIRE);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, reason);
	sqlite3_bind_int64(st, 3, when);
	sqlite3_bind_text(st, 4, text ? text : "", -1, SQLITE_STATIC);
	r = step_done(st);
	if (r == 0 && sqlite3_changes(s->db) != 1)
		r = -EALREADY;
	return r;
}

int agent_store_set_reaped(struct agent_store *s, const char *name, int64_t when, uint32_t killed)
{
	sqlite3_stmt *st;
	int r;

	if (!text_ok(name, AGENT_NAME_MAX))
		return -ENOENT;
	st = stmt(s, S_REAPED);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, when > 0 ? when : 1);
	sqlite3_bind_int64(st, 3, killed);
	r = step_done(st);
	if (r == 0 && sqlite3_changes(s->db) != 1)
		r = -ENOENT;
	return r;
}

/* Collects the rows of st into a heap array first, so callbacks may call
 * back into the store. */
static int walk(struct agent_store *s, sqlite3_stmt *st,
		int (*cb)(const struct agent_identity *id, void *arg), void *arg)
{
	struct agent_identity *rows = NULL;
	size_t n = 0, cap = 0;
	int rc, r = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *p = realloc(rows, ncap * sizeof(*rows));

			if (!p) {
				r = -ENOMEM;
				break;
			}
			rows = p;
			cap = ncap;
		}
		r = read_row(s, st, &rows[n]);
		if (r < 0)
			break;
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = map_err(rc);
	sqlite3_reset(st);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = cb(&rows[i], arg);
	free(rows);
	return r;
}

int agent_store_foreach(struct agent_store *s, enum agent_store_filter filter,
			int (*cb)(const struct agent_identity *id, void *arg), void *arg)
{
	enum stmt_id id = filter == AGENT_STORE_LIVE  ? S_ALL_LIVE
			  : filter == AGENT_STORE_ALL ? S_ALL
						      : S_UNREAPED;

	return walk(s, stmt(s, id), cb, arg);
}

int agent_store_foreach_child(struct agent_store *s, const char *name,
			      int (*cb)(const struct agent_identity *id, void *arg), void *arg)
{
	sqlite3_stmt *st = stmt(s, S_CHILDREN);

	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	return walk(s, st, cb, arg);
}

int agent_store_uid_busy(struct agent_store *s, uint32_t uid, int64_t now, int64_t quarantine,
			 bool *busy)
{
	sqlite3_stmt *st = stmt(s, S_UID_BUSY);
	int rc;

	sqlite3_bind_int64(st, 1, uid);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, quarantine);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return map_err(rc);
	*busy = rc == SQLITE_ROW;
	return 0;
}

int agent_store_name_used(struct agent_store *s, const char *name, bool *used)
{
	sqlite3_stmt *st = stmt(s, S_NAME_USED);
	int rc;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return map_err(rc);
	*used = rc == SQLITE_ROW;
	return 0;
}

static int count(sqlite3_stmt *st, uint64_t *n)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : map_err(rc ? rc : SQLITE_ERROR);
}

int agent_store_count_live(struct agent_store *s, uint64_t *n)
{
	return count(stmt(s, S_COUNT_LIVE), n);
}

int agent_store_count_live_by_creator(struct agent_store *s, uint32_t creator_uid, uint64_t *n)
{
	sqlite3_stmt *st = stmt(s, S_COUNT_CREATOR);

	sqlite3_bind_int64(st, 1, creator_uid);
	return count(st, n);
}

int agent_store_count_quarantined(struct agent_store *s, int64_t now, int64_t quarantine,
				  uint64_t *n)
{
	sqlite3_stmt *st = stmt(s, S_COUNT_QUAR);

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, quarantine);
	return count(st, n);
}

int agent_store_purge(struct agent_store *s, int64_t cutoff)
{
	sqlite3_stmt *st = stmt(s, S_PURGE);

	sqlite3_bind_int64(st, 1, cutoff);
	return step_done(st);
}

/* One text column of the row statement id finds for key: 0, -ENOENT,
 * too_long if it does not fit buf, or a mapped SQLite error. */
static int get_text(struct agent_store *s, enum stmt_id id, const char *key, char *buf, size_t len,
		    int too_long)
{
	sqlite3_stmt *st = stmt(s, id);
	int rc, r = 0;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		r = -ENOENT;
	else if (rc != SQLITE_ROW)
		r = map_err(rc);
	else if (col_text(st, 0, buf, len) < 0)
		r = too_long;
	sqlite3_reset(st);
	return r;
}

int agent_store_meta_get(struct agent_store *s, const char *key, char *buf, size_t len)
{
	return get_text(s, S_META_GET, key, buf, len, -ENOSPC);
}

int agent_store_meta_set(struct agent_store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = stmt(s, S_META_SET);

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return step_done(st);
}

int agent_store_set_ssh_key(struct agent_store *s, const char *name, const char *key)
{
	sqlite3_stmt *st;
	int r;

	if (!text_ok(key, AGENT_SSH_KEY_MAX) || !key[0])
		return -EINVAL;
	st = stmt(s, S_SSH_KEY_SET);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	r = step_done(st);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

int agent_store_get_ssh_key(struct agent_store *s, const char *name, char *buf, size_t len)
{
	/* Callers pass a buffer for the longest key: longer is tampering. */
	return get_text(s, S_SSH_KEY_GET, name, buf, len, -EIO);
}

int agent_store_sudo_used(struct agent_store *s, const char *name)
{
	sqlite3_stmt *st;
	int r;

	if (!text_ok(name, AGENT_NAME_MAX))
		return -ENOENT;
	st = stmt(s, S_SUDO_USED);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	r = step_done(st);
	if (r == 0 && sqlite3_changes(s->db) != 1)
		r = -ENOENT;
	return r;
}

int agent_store_uid_release(struct agent_store *s, uint32_t uid, int64_t when, int held)
{
	sqlite3_stmt *st = stmt(s, S_UID_RELEASE);

	sqlite3_bind_int64(st, 1, uid);
	sqlite3_bind_int64(st, 2, when);
	sqlite3_bind_int(st, 3, held);
	return step_done(st);
}

int agent_store_uid_hold(struct agent_store *s, uint32_t uid, int held)
{
	sqlite3_stmt *st = stmt(s, S_UID_HOLD);
	int r;

	sqlite3_bind_int64(st, 1, uid);
	sqlite3_bind_int(st, 2, held);
	r = step_done(st);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

int agent_store_count_children(struct agent_store *s, const char *name, uint64_t *n)
{
	sqlite3_stmt *st = stmt(s, S_COUNT_CHILDREN);

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return count(st, n);
}

int agent_store_count_created_by(struct agent_store *s, const char *principal, int64_t since,
				 uint64_t *n)
{
	sqlite3_stmt *st = stmt(s, S_COUNT_RECENT);

	sqlite3_bind_text(st, 1, principal, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since);
	return count(st, n);
}

/* Rows of uid_use from a prepared statement into out (at most max). */
static int uid_rows(struct agent_store *s, sqlite3_stmt *st, struct agent_uid_use *out, size_t max,
		    size_t *n)
{
	int rc;

	(void)s;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t uid = sqlite3_column_int64(st, 0);

		if (uid < 0 || uid > UINT32_MAX)
			continue; /* not ours to hand out */
		if (*n < max) {
			out[*n].uid = (uint32_t)uid;
			out[*n].released_at = sqlite3_column_int64(st, 1);
			out[*n].held = sqlite3_column_int(st, 2);
		}
		(*n)++;
	}
	sqlite3_reset(st);
	return map_err(rc);
}

int agent_store_uid_lru(struct agent_store *s, uint32_t uid_min, uint32_t uid_max, int64_t now,
			int64_t quarantine, size_t offset, struct agent_uid_use *out, size_t max,
			size_t *n)
{
	sqlite3_stmt *st = stmt(s, S_UID_LRU);

	sqlite3_bind_int64(st, 1, uid_min);
	sqlite3_bind_int64(st, 2, uid_max);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, quarantine);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)max);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)offset);
	return uid_rows(s, st, out, max, n);
}

int agent_store_uid_use_list(struct agent_store *s, int min_held, struct agent_uid_use *out,
			     size_t max, size_t *n)
{
	sqlite3_stmt *st = stmt(s, S_UID_USE_ALL);

	sqlite3_bind_int(st, 1, min_held);
	return uid_rows(s, st, out, max, n);
}

int agent_store_foreach_uid_ever(struct agent_store *s, void (*cb)(uint32_t uid, void *arg),
				 void *arg)
{
	sqlite3_stmt *st = stmt(s, S_UID_EVER);
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t uid = sqlite3_column_int64(st, 0);

		if (uid >= 0 && uid <= UINT32_MAX)
			cb((uint32_t)uid, arg);
	}
	sqlite3_reset(st);
	return map_err(rc);
}

int agent_store_uid_held(struct agent_store *s, uint32_t uid, int *held)
{
	sqlite3_stmt *st = stmt(s, S_UID_HELD);
	int rc;

	sqlite3_bind_int64(st, 1, uid);
	rc = sqlite3_step(st);
	*held = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : map_err(rc);
}

int agent_store_set_expires(struct agent_store *s, const char *name, int64_t expires,
			    int64_t expires_boot_ns)
{
	sqlite3_stmt *st;
	int r;

	if (!text_ok(name, AGENT_NAME_MAX))
		return -ENOENT;
	st = stmt(s, S_SET_EXPIRES);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, expires);
	sqlite3_bind_int64(st, 3, expires_boot_ns);
	r = step_done(st);
	if (r == 0 && sqlite3_changes(s->db) != 1)
		r = -ENOENT;
	return r;
}
