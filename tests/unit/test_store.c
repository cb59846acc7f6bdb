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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/tmpdir.h"
#include <sqlite3.h>

#include "agentd/store.h"
#include "agentd/token.h"

static char dir[] = "/tmp/agentd-store.XXXXXX";

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

	assert_int_equal(agent_store_open(dir, &s), 0);
	return s;
}

static int count_cb(const struct agent_identity *id, void *arg)
{
	(void)id;
	(*(int *)arg)++;
	return 0;
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

	assert_int_equal(agent_store_retire(s, "agent-bbbbbb", AGENT_RETIRE_REVOKED, 3000, "done"), 0);
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
	/* the store itself allows reuse once reaped; quarantine is policy */
	b = ident("agent-cccccc", 1879048200, NULL);
	assert_int_equal(agent_store_insert(s, &b), 0);
	assert_int_equal(agent_store_count_live(s, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(agent_store_count_live_by_creator(s, 2902, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(agent_store_count_live_by_creator(s, 1, &n), 0);
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
	assert_int_equal(sqlite3_exec(db, "UPDATE identities SET actor = printf('%.300c', 'x') "
					  "WHERE name = 'agent-xxxxxx'", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	s = open_store();
	assert_int_equal(agent_store_get(s, "agent-xxxxxx", &b), -EIO);
	agent_store_close(s);

	/* A database from a newer agentd is refused. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(agent_store_open(dir, &s), -EPROTO);
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
	assert_int_equal(strspn(t1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
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
		cmocka_unit_test(test_bad_input_and_tamper),
		cmocka_unit_test(test_token),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
