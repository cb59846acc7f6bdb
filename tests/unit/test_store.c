/* Unit tests: the SQLite store and the token key and hashes. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/tmpdir.h"
#include <sqlite3.h>

#include "agentd/store.h"
#include "agentd/token.h"

static char dir[] = "/tmp/agentd-store.XXXXXX";
static char err_[512]; /* the last message of agent_store_open */

static struct agent_identity ident(const char *name, uint32_t uid, const char *parent)
{
	struct agent_identity id = { 0 };

	snprintf(id.name, sizeof(id.name), "%s", name);
	id.uid = uid;
	snprintf(id.purpose, sizeof(id.purpose), "ci");
	snprintf(id.subject, sizeof(id.subject), "alice");
	snprintf(id.chain[0], sizeof(id.chain[0]), "alice");
	snprintf(id.chain[1], sizeof(id.chain[1]), "orchestrator");
	id.chain_len = 2;
	snprintf(id.parent, sizeof(id.parent), "%s", parent ? parent : "");
	id.depth = parent ? 2 : 1;
	id.creator_uid = 2902;
	snprintf(id.actor, sizeof(id.actor), "builder/2.1");
	snprintf(id.task, sizeof(id.task), "nightly \"tests\"");
	id.created = 1000;
	id.expires = 2000;
	id.expires_boot_ns = 123456789;
	id.state = AGENT_STATE_LIVE;
	memset(id.token_hash, uid & 0xff, sizeof(id.token_hash));
	return id;
}

static struct agent_store *open_store(void)
{
	struct agent_store *s = NULL;

	assert_int_equal(agent_store_open(dir, 0, &s, err_, sizeof(err_)), 0);
	return s;
}

static int count_cb(const struct agent_identity *id, void *arg)
{
	(void)id;
	(*(int *)arg)++;
	return 0;
}

/* Runs SQL on DIR/agentd.db outside the store (building or tampering). */
static int db_exec(const char *d, const char *q)
{
	char path[128];
	sqlite3 *db;
	int rc;

	snprintf(path, sizeof(path), "%s/agentd.db", d);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db, q, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* The integer the first row of q holds, or -1. */
static long long db_count(const char *d, const char *q)
{
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	snprintf(path, sizeof(path), "%s/agentd.db", d);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static void test_open_and_roundtrip(void **state)
{
	struct agent_store *s = open_store();
	struct agent_identity a = ident("agent-aaaaaa", 1879048192, NULL), b;
	char path[128];
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/agentd.db", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(agent_store_insert(s, &a), 0);
	assert_int_equal(agent_store_get(s, "agent-aaaaaa", &b), 0);
	assert_string_equal(b.name, a.name);
	assert_int_equal(b.uid, a.uid);
	assert_string_equal(b.purpose, "ci");
	assert_string_equal(b.subject, "alice");
	assert_int_equal(b.chain_len, 2);
	assert_string_equal(b.chain[1], "orchestrator");
	assert_int_equal(b.depth, 1);
	assert_int_equal(b.creator_uid, 2902);
	assert_string_equal(b.actor, "builder/2.1");
	assert_string_equal(b.task, "nightly \"tests\"");
	assert_int_equal(b.expires, 2000);
	assert_int_equal(b.expires_boot_ns, 123456789);
	assert_int_equal(b.state, AGENT_STATE_LIVE);
	assert_memory_equal(b.token_hash, a.token_hash, sizeof(a.token_hash));
	assert_int_equal(agent_store_get_live_uid(s, 1879048192, &b), 0);
	assert_string_equal(b.name, "agent-aaaaaa");
	assert_int_equal(agent_store_get(s, "agent-nosuch", &b), -ENOENT);
	agent_store_close(s);

	s = open_store(); /* reopen keeps data */
	assert_int_equal(agent_store_get(s, "agent-aaaaaa", &b), 0);
	agent_store_close(s);
}

static void test_conflicts_and_retire(void **state)
{
	struct agent_store *s = open_store();
	struct agent_identity a = ident("agent-bbbbbb", 1879048200, NULL), b;
	bool busy, used;
	uint64_t n;

	(void)state;
	assert_int_equal(agent_store_insert(s, &a), 0);
	assert_int_equal(agent_store_insert(s, &a), -EEXIST); /* same name */
	b = ident("agent-cccccc", 1879048200, NULL);
	assert_int_equal(agent_store_insert(s, &b), -EEXIST); /* uid live */
	assert_int_equal(agent_store_name_used(s, "agent-bbbbbb", &used), 0);
	assert_true(used);
	assert_int_equal(agent_store_uid_busy(s, 1879048200, 5000, 100, &busy), 0);
	assert_true(busy);

	assert_int_equal(agent_store_retire(s, "agent-bbbbbb", AGENT_RETIRE_REVOKED, 3000, "done"),
			 0);
	assert_int_equal(agent_store_retire(s, "agent-bbbbbb", AGENT_RETIRE_REVOKED, 3000, NULL),
			 -EALREADY);
	assert_int_equal(agent_store_retire(s, "agent-nosuch", AGENT_RETIRE_REVOKED, 3000, NULL),
			 -ENOENT);
	assert_int_equal(agent_store_get(s, "agent-bbbbbb", &b), 0);
	assert_int_equal(b.state, AGENT_STATE_RETIRED);
	assert_int_equal(b.retire_reason, AGENT_RETIRE_REVOKED);
	assert_int_equal(b.retired_at, 3000);
	assert_string_equal(b.retire_text, "done");
	assert_int_equal(agent_store_get_live_uid(s, 1879048200, &b), -ENOENT);

	/* retired but not reaped: still busy, for any quarantine */
	b = ident("agent-cccccc", 1879048200, NULL);
	assert_int_equal(agent_store_insert(s, &b), -EEXIST);
	assert_int_equal(agent_store_uid_busy(s, 1879048200, 999999, 0, &busy), 0);
	assert_true(busy);
	assert_int_equal(agent_store_count_quarantined(s, 5000, 100, &n), 0);
	assert_int_equal(n, 1);

	assert_int_equal(agent_store_set_reaped(s, "agent-bbbbbb", 4000, 3), 0);
	assert_int_equal(agent_store_get(s, "agent-bbbbbb", &b), 0);
	assert_int_equal(b.killed, 3);
	assert_int_equal(b.reaped_at, 4000);
	assert_int_equal(agent_store_uid_busy(s, 1879048200, 4099, 100, &busy), 0);
	assert_true(busy); /* quarantine until 4100 */
	assert_int_equal(agent_store_uid_busy(s, 1879048200, 4100, 100, &busy), 0);
	assert_false(busy);
	/* status counts it in quarantine on the same bound */
	assert_int_equal(agent_store_count_quarantined(s, 4099, 100, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(agent_store_count_quarantined(s, 4100, 100, &n), 0);
	assert_int_equal(n, 0);
	/* the store itself allows reuse once reaped; quarantine is policy */
	b = ident("agent-cccccc", 1879048200, NULL);
	assert_int_equal(agent_store_insert(s, &b), 0);
	assert_int_equal(agent_store_count_live(s, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(agent_store_count_live_by_creator(s, 2902, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(agent_store_count_live_by_creator(s, 1, &n), 0);
	assert_int_equal(n, 0);
	/* a uid live again is not in quarantine, whatever its past rows say */
	assert_int_equal(agent_store_count_quarantined(s, 4050, 100, &n), 0);
	assert_int_equal(n, 0);

	assert_int_equal(agent_store_purge(s, 4001), 0);
	assert_int_equal(agent_store_get(s, "agent-bbbbbb", &b), -ENOENT);
	agent_store_close(s);
}

struct names {
	char v[8][AGENT_NAME_MAX + 1];
	int n;
	struct agent_store *s;
};

static int name_cb(const struct agent_identity *id, void *arg)
{
	struct names *n = arg;
	struct agent_identity tmp;

	/* calling back into the store from a walk must work */
	assert_int_equal(agent_store_get(n->s, id->name, &tmp), 0);
	snprintf(n->v[n->n++], AGENT_NAME_MAX + 1, "%s", id->name);
	return 0;
}

static void test_walks_and_tx(void **state)
{
	struct agent_store *s = open_store();
	struct agent_identity p = ident("agent-pppppp", 1879048300, NULL);
	struct agent_identity c1 = ident("agent-c11111", 1879048301, "agent-pppppp");
	struct agent_identity c2 = ident("agent-c22222", 1879048302, "agent-pppppp");
	struct names n = { .s = s };
	int count = 0;

	(void)state;
	assert_int_equal(agent_store_insert(s, &p), 0);
	assert_int_equal(agent_store_insert(s, &c1), 0);
	assert_int_equal(agent_store_insert(s, &c2), 0);
	assert_int_equal(agent_store_foreach_child(s, "agent-pppppp", name_cb, &n), 0);
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "agent-c11111"); /* creation order */
	assert_string_equal(n.v[1], "agent-c22222");

	/* a rolled-back transaction leaves nothing */
	struct agent_identity t = ident("agent-tttttt", 1879048303, NULL);
	assert_int_equal(agent_store_begin(s), 0);
	assert_int_equal(agent_store_begin(s), -EBUSY);
	assert_int_equal(agent_store_insert(s, &t), 0);
	agent_store_rollback(s);
	assert_int_equal(agent_store_get(s, "agent-tttttt", &t), -ENOENT);
	assert_int_equal(agent_store_begin(s), 0);
	assert_int_equal(agent_store_retire(s, "agent-c11111", AGENT_RETIRE_PARENT, 5, NULL), 0);
	assert_int_equal(agent_store_commit(s), 0);

	assert_int_equal(agent_store_foreach(s, AGENT_STORE_UNREAPED, count_cb, &count), 0);
	assert_true(count >= 1);
	count = 0;
	assert_int_equal(agent_store_foreach(s, AGENT_STORE_LIVE, count_cb, &count), 0);
	int all = 0;
	assert_int_equal(agent_store_foreach(s, AGENT_STORE_ALL, count_cb, &all), 0);
	assert_true(all > count);

	char buf[64];
	assert_int_equal(agent_store_meta_get(s, "boot_id", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(agent_store_meta_set(s, "boot_id", "abc"), 0);
	assert_int_equal(agent_store_meta_set(s, "boot_id", "abcdef"), 0);
	assert_int_equal(agent_store_meta_get(s, "boot_id", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abcdef");
	assert_int_equal(agent_store_meta_get(s, "boot_id", buf, 3), -ENOSPC);
	agent_store_close(s);
}

static void test_bad_input_and_tamper(void **state)
{
	struct agent_store *s = open_store();
	struct agent_identity a = ident("agent-xxxxxx", 1879048400, NULL), b;
	char path[128];
	sqlite3 *db;

	(void)state;
	a.chain_len = AGENT_CHAIN_MAX + 1;
	assert_int_equal(agent_store_insert(s, &a), -EINVAL);
	a = ident("", 1879048400, NULL);
	assert_int_equal(agent_store_insert(s, &a), -EINVAL);
	a = ident("agent-xxxxxx", 1879048400, NULL);
	assert_int_equal(agent_store_insert(s, &a), 0);
	agent_store_close(s);

	/* A tampered row with an over-long name is an error, not an overflow. */
	snprintf(path, sizeof(path), "%s/agentd.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE identities SET actor = printf('%.300c', 'x') "
				      "WHERE name = 'agent-xxxxxx'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	s = open_store();
	assert_int_equal(agent_store_get(s, "agent-xxxxxx", &b), -EIO);
	agent_store_close(s);

	/* A database from a newer agentd is refused. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(agent_store_open(dir, 0, &s, err_, sizeof(err_)), -EPROTO);
}

#define KEY_ED25519                                                                                \
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKgdmWDPqcYU7V537jr+xOc5Irooz8ry5ZEfxv+zCH7V"

static void test_ssh_key(void **state)
{
	struct agent_store *s;
	struct agent_identity a = ident("agent-kkkkkk", 1879048500, NULL);
	struct agent_identity b = ident("agent-nokey1", 1879048501, NULL);
	struct agent_identity t = ident("agent-rolled", 1879048502, NULL);
	char key[AGENT_SSH_KEY_MAX + 1], big[AGENT_SSH_KEY_MAX + 2];

	(void)state;
	s = open_store();
	assert_int_equal(agent_store_insert(s, &a), 0);
	assert_int_equal(agent_store_insert(s, &b), 0);
	assert_int_equal(agent_store_set_ssh_key(s, "agent-kkkkkk", KEY_ED25519 " a@b"), 0);
	assert_int_equal(agent_store_get_ssh_key(s, "agent-kkkkkk", key, sizeof(key)), 0);
	assert_string_equal(key, KEY_ED25519 " a@b");
	assert_int_equal(agent_store_get_ssh_key(s, "agent-nokey1", key, sizeof(key)), -ENOENT);
	assert_int_equal(agent_store_get_ssh_key(s, "agent-nosuch", key, sizeof(key)), -ENOENT);
	assert_int_equal(agent_store_set_ssh_key(s, "agent-nosuch", KEY_ED25519), -ENOENT);
	assert_int_equal(agent_store_get_ssh_key(s, "agent-nosuch", key, sizeof(key)), -ENOENT);
	/* a second set replaces the first */
	assert_int_equal(agent_store_set_ssh_key(s, "agent-kkkkkk", KEY_ED25519), 0);
	assert_int_equal(agent_store_get_ssh_key(s, "agent-kkkkkk", key, sizeof(key)), 0);
	assert_string_equal(key, KEY_ED25519);
	/* a buffer too small is an error, never a cut key */
	memset(key, 'z', sizeof(key));
	assert_true(agent_store_get_ssh_key(s, "agent-kkkkkk", key, 20) < 0);
	/* empty, NULL and over-long keys are refused */
	assert_int_equal(agent_store_set_ssh_key(s, "agent-nokey1", ""), -EINVAL);
	assert_int_equal(agent_store_set_ssh_key(s, "agent-nokey1", NULL), -EINVAL);
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(agent_store_set_ssh_key(s, "agent-nokey1", big), -EINVAL);
	big[AGENT_SSH_KEY_MAX] = '\0'; /* exactly the maximum is stored */
	assert_int_equal(agent_store_set_ssh_key(s, "agent-nokey1", big), 0);
	assert_int_equal(agent_store_get_ssh_key(s, "agent-nokey1", key, sizeof(key)), 0);
	assert_int_equal(strlen(key), AGENT_SSH_KEY_MAX);

	/* bound in the create's transaction: a rollback leaves neither */
	assert_int_equal(agent_store_begin(s), 0);
	assert_int_equal(agent_store_insert(s, &t), 0);
	assert_int_equal(agent_store_set_ssh_key(s, "agent-rolled", KEY_ED25519), 0);
	agent_store_rollback(s);
	assert_int_equal(agent_store_get(s, "agent-rolled", &t), -ENOENT);
	assert_int_equal(agent_store_get_ssh_key(s, "agent-rolled", key, sizeof(key)), -ENOENT);

	/* the key survives a reopen and goes with the record when it is purged */
	agent_store_close(s);
	s = open_store();
	assert_int_equal(agent_store_get_ssh_key(s, "agent-kkkkkk", key, sizeof(key)), 0);
	assert_int_equal(agent_store_retire(s, "agent-kkkkkk", AGENT_RETIRE_EXPIRED, 3000, NULL),
			 0);
	assert_int_equal(agent_store_set_reaped(s, "agent-kkkkkk", 3001, 0), 0);
	assert_int_equal(agent_store_purge(s, 3002), 0);
	assert_int_equal(agent_store_get(s, "agent-kkkkkk", &a), -ENOENT);
	assert_int_equal(agent_store_get_ssh_key(s, "agent-kkkkkk", key, sizeof(key)), -ENOENT);
	agent_store_close(s);
	assert_int_equal(db_count(dir, "SELECT count(*) FROM ssh_keys k LEFT JOIN identities i "
				       "ON i.id = k.identity_id WHERE i.id IS NULL"),
			 0); /* no orphaned key row */

	/* a tampered, over-long key row is an error, not an overflow */
	assert_int_equal(db_exec(dir, "UPDATE ssh_keys SET key = printf('%.5000c', 'A')"), 0);
	s = open_store();
	assert_int_equal(agent_store_get_ssh_key(s, "agent-nokey1", key, sizeof(key)), -EIO);
	agent_store_close(s);
}

/* The schema agentd 1 wrote (user_version 1), as it shipped. */
static const char schema_v1[] =
	"CREATE TABLE identities ("
	" id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, uid INTEGER NOT NULL,"
	" purpose TEXT NOT NULL, subject TEXT NOT NULL, parent TEXT NOT NULL DEFAULT '',"
	" depth INTEGER NOT NULL, creator_uid INTEGER NOT NULL, actor TEXT NOT NULL DEFAULT '',"
	" task TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL, expires INTEGER NOT NULL,"
	" expires_boot_ns INTEGER NOT NULL, state INTEGER NOT NULL,"
	" retire_reason INTEGER NOT NULL DEFAULT 0, retired_at INTEGER NOT NULL DEFAULT 0,"
	" retire_text TEXT NOT NULL DEFAULT '', reaped_at INTEGER NOT NULL DEFAULT 0,"
	" killed INTEGER NOT NULL DEFAULT 0, token_hash BLOB NOT NULL);"
	"CREATE UNIQUE INDEX identities_live_uid ON identities(uid) WHERE state = 1;"
	"CREATE INDEX identities_uid ON identities(uid);"
	"CREATE INDEX identities_parent ON identities(parent) WHERE state = 1;"
	"CREATE TABLE chain ("
	" identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,"
	" pos INTEGER NOT NULL, principal TEXT NOT NULL, PRIMARY KEY (identity_id, pos));"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"INSERT INTO identities (id, name, uid, purpose, subject, depth, creator_uid, actor,"
	" task, created, expires, expires_boot_ns, state, token_hash) VALUES"
	" (7, 'agent-v1live', 1879048600, 'ci', 'alice', 1, 2902, 'builder/1.0', 'old task',"
	"  1000, 9000000000, 42, 1, zeroblob(32)),"
	" (8, 'agent-v1gone', 1879048601, 'research', 'bob', 1, 0, '', '',"
	"  1000, 2000, 0, 2, zeroblob(32));"
	"UPDATE identities SET retire_reason = 2, retired_at = 1500, retire_text = 'done',"
	" reaped_at = 1501 WHERE id = 8;"
	"INSERT INTO chain VALUES (7, 0, 'alice'), (7, 1, 'orchestrator'), (8, 0, 'bob');"
	"INSERT INTO meta VALUES ('boot_id', 'v1-boot');"
	"PRAGMA user_version = 1;";

static void test_schema_upgrade_v1(void **state)
{
	char sub[64], buf[64], key[AGENT_SSH_KEY_MAX + 1];
	struct agent_store *s = NULL;
	struct agent_identity id;
	uint64_t n;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/v1", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(db_exec(sub, schema_v1), 0);
	assert_int_equal(db_count(sub, "PRAGMA user_version"), 1);

	assert_int_equal(agent_store_open(sub, 0, &s, err_, sizeof(err_)), 0);
	/* another connection (an admin's sqlite3) may read it while it is open */
	assert_int_equal(db_count(sub, "PRAGMA user_version"), 4);
	agent_store_close(s);
	/* v4 seeds uid_use with the release (reap) time of reaped uids */
	assert_int_equal(db_count(sub, "SELECT count(*) FROM uid_use WHERE uid = 1879048601 AND "
				       "released_at = 1501 AND held = 0"),
			 1);
	assert_int_equal(db_count(sub, "SELECT count(*) FROM uid_use"), 1);
	assert_int_equal(agent_store_open(sub, 0, &s, err_, sizeof(err_)), 0);
	/* every v1 record, its chain and the metadata are still there */
	assert_int_equal(agent_store_get(s, "agent-v1live", &id), 0);
	assert_int_equal(id.uid, 1879048600);
	assert_string_equal(id.purpose, "ci");
	assert_string_equal(id.subject, "alice");
	assert_int_equal(id.chain_len, 2);
	assert_string_equal(id.chain[1], "orchestrator");
	assert_string_equal(id.actor, "builder/1.0");
	assert_string_equal(id.task, "old task");
	assert_int_equal(id.expires, 9000000000LL);
	assert_int_equal(id.expires_boot_ns, 42);
	assert_int_equal(id.state, AGENT_STATE_LIVE);
	assert_int_equal(agent_store_get(s, "agent-v1gone", &id), 0);
	assert_int_equal(id.state, AGENT_STATE_RETIRED);
	assert_int_equal(id.retire_reason, AGENT_RETIRE_REVOKED);
	assert_string_equal(id.retire_text, "done");
	assert_int_equal(agent_store_get_live_uid(s, 1879048600, &id), 0);
	assert_string_equal(id.name, "agent-v1live");
	assert_int_equal(agent_store_count_live(s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(agent_store_meta_get(s, "boot_id", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "v1-boot");
	/* old identities have no key; v2 can bind one to them and to new ones */
	assert_int_equal(agent_store_get_ssh_key(s, "agent-v1live", key, sizeof(key)), -ENOENT);
	assert_int_equal(agent_store_set_ssh_key(s, "agent-v1live", KEY_ED25519), 0);
	id = ident("agent-v2new1", 1879048602, NULL);
	assert_int_equal(agent_store_insert(s, &id), 0);
	assert_int_equal(agent_store_set_ssh_key(s, "agent-v2new1", KEY_ED25519 " new"), 0);
	/* v3: old identities read as low risk, unverified, no sudo used */
	assert_int_equal(agent_store_get(s, "agent-v1live", &id), 0);
	assert_int_equal(id.risk, AGENT_RISK_LOW);
	assert_false(id.actor_verified);
	assert_int_equal(id.sudo_used, 0);
	assert_int_equal(agent_store_sudo_used(s, "agent-v1live"), -ENOENT); /* no v3 row */
	agent_store_close(s);

	/* a second open finds v4 and changes nothing */
	assert_int_equal(agent_store_open(sub, 0, &s, err_, sizeof(err_)), 0);
	assert_int_equal(agent_store_get_ssh_key(s, "agent-v1live", key, sizeof(key)), 0);
	assert_string_equal(key, KEY_ED25519);
	assert_int_equal(agent_store_get(s, "agent-v2new1", &id), 0);
	agent_store_close(s);
	assert_int_equal(db_count(sub, "PRAGMA user_version"), 4);
}

static void test_schema_upgrade_atomic(void **state)
{
	char sub[64];
	struct agent_store *s = NULL;

	(void)state;
	/* a v1 database where the v2 step cannot run: the upgrade fails as a
	 * whole and leaves version 1 and its records as they were */
	snprintf(sub, sizeof(sub), "%s/v1-blocked", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(db_exec(sub, schema_v1), 0);
	assert_int_equal(db_exec(sub, "CREATE TABLE ssh_keys (x)"), 0);
	assert_true(agent_store_open(sub, 0, &s, err_, sizeof(err_)) < 0);
	assert_int_equal(db_count(sub, "PRAGMA user_version"), 1);
	assert_int_equal(db_count(sub, "SELECT count(*) FROM identities"), 2);
}

static void test_schema_newer_refused(void **state)
{
	char sub[64];
	struct agent_store *s = NULL;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/v5", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(db_exec(sub, "CREATE TABLE future (x); PRAGMA user_version = 5;"), 0);
	assert_int_equal(agent_store_open(sub, 0, &s, err_, sizeof(err_)), -EPROTO);
	assert_null(s);
	/* refused untouched: still version 5, no table of ours created */
	assert_int_equal(db_count(sub, "PRAGMA user_version"), 5);
	assert_int_equal(db_count(sub, "SELECT count(*) FROM sqlite_master WHERE name IN "
				       "('identities', 'ssh_keys')"),
			 0);
	/* the version this code writes opens */
	assert_int_equal(db_exec(sub, "PRAGMA user_version = 0; DROP TABLE future;"), 0);
	assert_int_equal(agent_store_open(sub, 0, &s, err_, sizeof(err_)), 0);
	agent_store_close(s);
	assert_int_equal(db_count(sub, "PRAGMA user_version"), 4);
}

/* v3: risk, verified actor and the budget counters, durable. */
static void test_authz(void **state)
{
	struct agent_store *s = NULL;
	char sub[64];
	struct agent_identity id = ident("agent-authz01", 1879049000, NULL), got;
	struct agent_identity child = ident("agent-authz02", 1879049001, "agent-authz01");
	uint64_t n = 99;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/authz", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(agent_store_open(sub, 0, &s, err_, sizeof(err_)), 0);
	id.risk = AGENT_RISK_CRITICAL;
	id.actor_verified = true;
	snprintf(id.actor_name, sizeof(id.actor_name), "builder");
	id.created = 5000;
	assert_int_equal(agent_store_insert(s, &id), 0);
	child.created = 5100;
	snprintf(child.chain[2], sizeof(child.chain[2]), "agent-authz01");
	child.chain_len = 3;
	assert_int_equal(agent_store_insert(s, &child), 0);
	assert_int_equal(agent_store_get(s, "agent-authz01", &got), 0);
	assert_int_equal(got.risk, AGENT_RISK_CRITICAL);
	assert_true(got.actor_verified);
	assert_string_equal(got.actor_name, "builder");
	assert_int_equal(got.sudo_used, 0);
	assert_int_equal(agent_store_sudo_used(s, "agent-authz01"), 0);
	assert_int_equal(agent_store_sudo_used(s, "agent-authz01"), 0);
	assert_int_equal(agent_store_get(s, "agent-authz01", &got), 0);
	assert_int_equal(got.sudo_used, 2);
	assert_int_equal(agent_store_sudo_used(s, "agent-nosuch"), -ENOENT);
	/* sub-identities ever created, retired ones too */
	assert_int_equal(agent_store_count_children(s, "agent-authz01", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(agent_store_retire(s, "agent-authz02", AGENT_RETIRE_REVOKED, 5200, NULL),
			 0);
	assert_int_equal(agent_store_count_children(s, "agent-authz01", &n), 0);
	assert_int_equal(n, 1);
	/* creates by the direct creator (last hop) since a time */
	assert_int_equal(agent_store_count_created_by(s, "orchestrator", 4999, &n), 0);
	assert_int_equal(n, 1); /* agent-authz02's last hop is agent-authz01 */
	assert_int_equal(agent_store_count_created_by(s, "agent-authz01", 4999, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(agent_store_count_created_by(s, "orchestrator", 5000, &n), 0);
	assert_int_equal(n, 0);
	/* out-of-range input is refused */
	id = ident("agent-authz03", 1879049002, NULL);
	id.risk = (enum agent_risk)7;
	assert_int_equal(agent_store_insert(s, &id), -EINVAL);
	agent_store_close(s);
}

static void test_token(void **state)
{
	struct agent_token_key k1, k2, k3;
	char t1[AGENT_TOKEN_TEXT_MAX], t2[AGENT_TOKEN_TEXT_MAX], path[160], sub[64];
	uint8_t h1[AGENT_TOKEN_HASH_BYTES], h2[AGENT_TOKEN_HASH_BYTES];
	struct stat st;
	int fd;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/tok", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(agent_token_key_load(sub, &k1), 0);
	snprintf(path, sizeof(path), "%s/token.key", sub);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(agent_token_key_load(sub, &k2), 0);
	assert_memory_equal(k1.key, k2.key, sizeof(k1.key));

	assert_int_equal(agent_token_new(&k1, t1, h1), 0);
	assert_int_equal(agent_token_new(&k1, t2, h2), 0);
	assert_int_equal(strlen(t1), 43);
	assert_int_equal(
		strspn(t1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	assert_string_not_equal(t1, t2);
	assert_int_equal(agent_token_verify(&k1, t1, h1), 0);
	assert_int_equal(agent_token_verify(&k1, t2, h1), -EACCES);
	memset(k3.key, 7, sizeof(k3.key));
	assert_int_equal(agent_token_verify(&k3, t1, h1), -EACCES); /* another key */
	assert_int_equal(agent_token_verify(&k1, "", h1), -EINVAL);
	assert_int_equal(agent_token_verify(&k1, "short", h1), -EINVAL);
	t2[5] = '!';
	assert_int_equal(agent_token_verify(&k1, t2, h1), -EINVAL);
	assert_int_equal(agent_token_verify(&k1, NULL, h1), -EINVAL);

	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(agent_token_key_load(sub, &k2), -EPERM);
	assert_int_equal(chmod(path, 0600), 0);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(agent_token_key_load(sub, &k2), -EINVAL);
}

/* ------------------------------------------------------------ state never silently reset */

static void put_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* The whole file (shorter than cap) into buf; its length. */
static size_t get_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, cap);
	close(fd);
	assert_true(n >= 0 && (size_t)n < cap);
	return (size_t)n;
}

static bool exists(const char *d, const char *name)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", d, name);
	return access(p, F_OK) == 0;
}

/* A bad file in a fresh directory is refused with why, and left as it was. */
static void refused_unchanged(const char *name, const void *data, size_t len, unsigned flags,
			      const char *why)
{
	static char before[262144], after[262144];
	struct agent_store *s = (void *)1;
	char sub[96], path[128];
	size_t n;

	snprintf(sub, sizeof(sub), "%s/%s", dir, name);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/agentd.db", sub);
	put_file(path, data, len);
	n = get_file(path, before, sizeof(before));
	err_[0] = '\0';
	assert_int_equal(agent_store_open(sub, flags, &s, err_, sizeof(err_)), -EBADMSG);
	assert_null(s);
	if (!strstr(err_, why) || !strstr(err_, path) || strchr(err_, '\n'))
		fail_msg("%s: message '%s' (wanted '%s')", name, err_, why);
	assert_int_equal(get_file(path, after, sizeof(after)), n);
	assert_memory_equal(before, after, n);
	assert_false(exists(sub, "agentd.db-wal"));
	assert_false(exists(sub, "agentd.db.new"));
}

static void test_refuses_empty_or_damaged(void **state)
{
	static char garbage[8192], corrupt[262144];
	char sub[96], path[128];
	struct agent_store *s;
	size_t n;

	(void)state;
	refused_unchanged("empty", "", 0, 0, "is empty (0 bytes)");
	refused_unchanged("empty-init", "", 0, AGENT_STORE_INIT, "is empty (0 bytes)");
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (char)(i * 131 + 7);
	refused_unchanged("garbage", garbage, sizeof(garbage), 0, "is not an SQLite database");
	refused_unchanged("short", "SQLite format", 13, 0, "is not an SQLite database");

	/* a real database whose pages were overwritten: SQLite's header, so only
	 * quick_check can tell */
	snprintf(sub, sizeof(sub), "%s/corrupt-src", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(agent_store_open(sub, 0, &s, err_, sizeof(err_)), 0);
	for (uint32_t i = 0; i < 50; i++) {
		char nm[AGENT_NAME_MAX + 1];
		struct agent_identity id;

		snprintf(nm, sizeof(nm), "agent-c%05u", i);
		id = ident(nm, 1879049000 + i, NULL);
		assert_int_equal(agent_store_insert(s, &id), 0);
	}
	agent_store_close(s);
	snprintf(path, sizeof(path), "%s/agentd.db", sub);
	n = get_file(path, corrupt, sizeof(corrupt));
	assert_true(n > 3 * 4096);
	memset(corrupt + 4096 + 100, 0xa5, 2 * 4096 - 200); /* inside pages 2 and 3 */
	refused_unchanged("corrupt", corrupt, n, 0, "is damaged");

	/* a directory in its place */
	snprintf(sub, sizeof(sub), "%s/dir-db", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/agentd.db", sub);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(agent_store_open(sub, AGENT_STORE_INIT, &s, err_, sizeof(err_)), -EBADMSG);
	assert_non_null(strstr(err_, "not a regular file"));
}

static void test_created_only_on_first_start(void **state)
{
	char sub[96], path[160];
	struct agent_store *s = NULL;
	struct agent_identity id = ident("agent-first1", 1879048700, NULL);
	struct stat st;

	(void)state;
	/* first start: nothing there, so the database is made, complete */
	snprintf(sub, sizeof(sub), "%s/first", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(agent_store_open(sub, 0, &s, err_, sizeof(err_)), 0);
	assert_int_equal(agent_store_insert(s, &id), 0);
	agent_store_close(s);
	snprintf(path, sizeof(path), "%s/agentd.db", sub);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_false(exists(sub, "agentd.db.new"));
	assert_int_equal(db_count(sub, "PRAGMA user_version"), 4);

	/* the directory was used (token.key): a lost database is not replaced */
	put_file(strcat(strcpy(path, sub), "/token.key"), "k", 1);
	snprintf(path, sizeof(path), "%s/agentd.db", sub);
	assert_int_equal(unlink(path), 0);
	s = (void *)1;
	assert_int_equal(agent_store_open(sub, 0, &s, err_, sizeof(err_)), -ENOENT);
	assert_null(s);
	assert_non_null(strstr(err_, "is missing"));
	assert_non_null(strstr(err_, "token.key exists"));
	assert_non_null(strstr(err_, "--init-state"));
	assert_false(exists(sub, "agentd.db"));
	/* ... unless asked to: then it starts empty */
	assert_int_equal(agent_store_open(sub, AGENT_STORE_INIT, &s, err_, sizeof(err_)), 0);
	assert_int_equal(agent_store_get(s, "agent-first1", &id), -ENOENT);
	agent_store_close(s);
	assert_true(exists(sub, "agentd.db"));
	/* and an existing database is opened as it is, with or without the flag */
	assert_int_equal(agent_store_open(sub, AGENT_STORE_INIT, &s, err_, sizeof(err_)), 0);
	agent_store_close(s);

	/* a write-ahead log left without its database is a trace of use too */
	snprintf(sub, sizeof(sub), "%s/wal-only", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/agentd.db-wal", sub);
	put_file(path, "x", 1);
	assert_int_equal(agent_store_open(sub, 0, &s, err_, sizeof(err_)), -ENOENT);
	assert_non_null(strstr(err_, "agentd.db-wal exists"));

	/* a creation that crashed left its temporary file: a first start cleans
	 * it up and creates the database */
	snprintf(sub, sizeof(sub), "%s/stale-new", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/agentd.db.new", sub);
	put_file(path, "half", 4);
	assert_int_equal(agent_store_open(sub, 0, &s, err_, sizeof(err_)), 0);
	agent_store_close(s);
	assert_false(exists(sub, "agentd.db.new"));
}

/* Group commit: one transaction for a batch; a refused member alone is
 * rolled back; a failed COMMIT stores nothing and reports every member
 * failed, so that the daemon acknowledges none of them. */
static void test_batch(void **state)
{
	char bdir[] = "/tmp/agentd-batch.XXXXXX";
	struct agent_identity v[6], got;
	const struct agent_identity *p[6];
	const char *keys[6] = { NULL };
	struct agent_store *s = NULL;
	int res[6];

	(void)state;
	assert_int_equal(tmpdir_make(bdir), 0);
	assert_int_equal(agent_store_open(bdir, AGENT_STORE_INIT, &s, err_, sizeof(err_)), 0);
	for (int i = 0; i < 6; i++) {
		char name[32];

		snprintf(name, sizeof(name), "agent-b%d", i);
		v[i] = ident(name, 1879048300u + (uint32_t)i, NULL);
		p[i] = &v[i];
	}
	/* One member clashes (its name is a batch-mate's): refused alone. */
	snprintf(v[2].name, sizeof(v[2].name), "agent-b1");
	keys[0] =
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBatchKeyBatchKeyBatchKeyBatchKeyBatchKey00 k";
	assert_int_equal(agent_store_insert_batch(s, p, keys, 3, res), 0);
	assert_int_equal(res[0], 0);
	assert_int_equal(res[1], 0);
	assert_int_equal(res[2], -EEXIST);
	assert_int_equal(agent_store_get(s, "agent-b0", &got), 0);
	assert_int_equal(got.uid, 1879048300u);
	assert_int_equal(agent_store_get(s, "agent-b1", &got), 0);
	assert_int_equal(got.uid, 1879048301u);
	{
		char key[256];

		assert_int_equal(agent_store_get_ssh_key(s, "agent-b0", key, sizeof(key)), 0);
		assert_string_equal(key, keys[0]);
	}

	/* A COMMIT that cannot be written (no room in the file system: here
	 * RLIMIT_FSIZE, so nothing of the WAL can be appended): nothing of
	 * the batch is stored and every member reports the error. */
	agent_store_close(s);
	assert_int_equal(agent_store_open(bdir, 0, &s, err_, sizeof(err_)), 0);
	{
		struct rlimit old, tiny = { 1, 1 };
		int r;

		assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
		tiny.rlim_max = old.rlim_max;
		signal(SIGXFSZ, SIG_IGN);
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &tiny), 0);
		r = agent_store_insert_batch(s, p + 3, NULL, 3, res);
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
		assert_true(r < 0);
		for (int i = 0; i < 3; i++)
			assert_int_equal(res[i], r);
	}
	for (int i = 3; i < 6; i++)
		assert_int_equal(agent_store_get(s, v[i].name, &got), -ENOENT);
	/* and still nothing after a restart */
	agent_store_close(s);
	assert_int_equal(agent_store_open(bdir, 0, &s, err_, sizeof(err_)), 0);
	for (int i = 3; i < 6; i++)
		assert_int_equal(agent_store_get(s, v[i].name, &got), -ENOENT);
	assert_int_equal(agent_store_get(s, "agent-b1", &got), 0);
	/* The store works again once there is room. */
	assert_int_equal(agent_store_insert_batch(s, p + 3, NULL, 3, res), 0);
	for (int i = 3; i < 6; i++)
		assert_int_equal(res[i - 3], 0);
	/* Not inside an open transaction. */
	assert_int_equal(agent_store_begin(s), 0);
	assert_int_equal(agent_store_insert_batch(s, p, NULL, 1, res), -EBUSY);
	agent_store_rollback(s);
	agent_store_close(s);
	assert_int_equal(tmpdir_remove(bdir), 0);
}

static int setup(void **state)
{
	(void)state;
	return tmpdir_make(dir);
}

static int teardown(void **state)
{
	(void)state;
	return tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_and_roundtrip),
		cmocka_unit_test(test_conflicts_and_retire),
		cmocka_unit_test(test_walks_and_tx),
		cmocka_unit_test(test_ssh_key),
		cmocka_unit_test(test_bad_input_and_tamper),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_authz),
		cmocka_unit_test(test_schema_upgrade_v1),
		cmocka_unit_test(test_schema_upgrade_atomic),
		cmocka_unit_test(test_schema_newer_refused),
		cmocka_unit_test(test_refuses_empty_or_damaged),
		cmocka_unit_test(test_created_only_on_first_start),
		cmocka_unit_test(test_batch),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
