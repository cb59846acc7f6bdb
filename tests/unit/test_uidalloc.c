/* Unit tests: the allocator's choice (agent_uid_pick): never-used uids
 * first in ascending order, then least recently released; quarantine and
 * held uids skipped; the range's edges (a span that is not a multiple of 64,
 * uid_max itself, the wrap from the last never-used uid to the released
 * ones); and the store's uid_use table behind it (order, held, upgrade). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/tmpdir.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "agentd/leftovers.h"
#include "agentd/store.h"
#include "agentd/uidalloc.h"

static bool odd_only(uint32_t uid, void *arg)
{
	(void)arg;
	return uid % 2 == 1;
}

static bool even_only(uint32_t uid, void *arg)
{
	(void)arg;
	return uid % 2 == 0;
}

static void test_never_used_ascending(void **state)
{
	struct agent_uid_set ever;
	struct agent_uid_pick p = { .uid_min = 5000, .uid_max = 5199, .now = 1000 };
	uint32_t uid = 0;

	(void)state;
	assert_int_equal(agent_uid_set_init(&ever, 5000, 5199), 0);
	p.ever = &ever;
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, 5000);
	/* Every uid of the first word used, and a few more. */
	for (uint32_t u = 5000; u < 5070; u++)
		agent_uid_set_add(&ever, u);
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, 5070);
	/* The checks the caller adds are honoured in order. */
	p.usable = odd_only;
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, 5071);
	agent_uid_set_free(&ever);
}

static void test_lru_after_never_used(void **state)
{
	struct agent_uid_set ever;
	const struct agent_uid_use rel[] = {
		{ 100, 500, 0 }, { 101, 300, 0 }, { 102, 300, 0 }, { 103, 900, 0 }, { 104, 50, 2 },
	};
	struct agent_uid_pick p = {
		.uid_min = 100,
		.uid_max = 105,
		.released = rel,
		.nreleased = 5,
		.now = 1000,
	};
	uint32_t uid = 0;

	(void)state;
	assert_int_equal(agent_uid_set_init(&ever, 100, 105), 0);
	for (uint32_t u = 100; u <= 104; u++)
		agent_uid_set_add(&ever, u);
	p.ever = &ever;
	/* 105 was never used: it comes before any released uid. */
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, 105);
	agent_uid_set_add(&ever, 105);
	/* Then the one released longest ago; a tie goes to the lower uid; the
	 * held 104 (released earliest) is never handed out. */
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, 101);
	p.usable = even_only;
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, 102);
	p.released = rel + 1;
	p.nreleased = 1; /* only 101 left */
	p.usable = NULL;
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, 101);
	agent_uid_set_free(&ever);
}

static void test_quarantine_and_held(void **state)
{
	const struct agent_uid_use rel[] = {
		{ 200, 950, 0 }, /* released 50 s ago */
		{ 201, 100, 1 }, /* sweep pending */
		{ 202, 100, 2 }, /* leftovers */
		{ 203, 899, 0 }, /* released 101 s ago */
	};
	struct agent_uid_pick p = {
		.uid_min = 200,
		.uid_max = 203,
		.released = rel,
		.nreleased = 4,
		.now = 1000,
		.quarantine = 100,
	};
	uint32_t uid = 0;

	(void)state;
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, 203);
	p.quarantine = 102;
	assert_int_equal(agent_uid_pick(&p, &uid), -ENOSPC);
	p.quarantine = 0;
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, 203);
}

static void test_range_edges_and_wrap(void **state)
{
	struct agent_uid_set ever;
	const struct agent_uid_use rel[] = { { 9000, 10, 0 }, { 9064, 5, 0 }, { 8999, 1, 0 } };
	struct agent_uid_pick p = {
		.uid_min = 9000,
		.uid_max = 9064,
		.released = rel,
		.nreleased = 3,
		.now = 1000,
	};
	uint32_t uid = 0;

	(void)state;
	/* 65 uids: the last one sits alone in the second word. */
	assert_int_equal(agent_uid_set_init(&ever, 9000, 9064), 0);
	for (uint32_t u = 9000; u < 9064; u++)
		agent_uid_set_add(&ever, u);
	p.ever = &ever;
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, 9064);
	/* uid_max used too: wraps to the released ones (8999 is outside). */
	agent_uid_set_add(&ever, 9064);
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, 9064);
	p.nreleased = 1;
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, 9000);
	p.nreleased = 0;
	assert_int_equal(agent_uid_pick(&p, &uid), -ENOSPC);
	agent_uid_set_free(&ever);
	/* A one-uid range at the top of what uids allow. */
	p.uid_min = p.uid_max = UINT32_MAX - 1;
	assert_int_equal(agent_uid_set_init(&ever, p.uid_min, p.uid_max), 0);
	p.ever = &ever;
	assert_int_equal(agent_uid_pick(&p, &uid), 0);
	assert_int_equal(uid, UINT32_MAX - 1);
	agent_uid_set_free(&ever);
}

static void ever_cb(uint32_t uid, void *arg)
{
	agent_uid_set_add(arg, uid);
}

static void test_store_uid_use(void **state)
{
	char dir[] = "/tmp/agentd-uidalloc.XXXXXX", err[256];
	struct agent_store *st;
	struct agent_uid_use rows[8];
	struct agent_uid_set ever;
	size_t n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(agent_store_open(dir, AGENT_STORE_INIT, &st, err, sizeof(err)), 0);
	assert_int_equal(agent_store_uid_release(st, 7003, 300, 0), 0);
	assert_int_equal(agent_store_uid_release(st, 7001, 100, 0), 0);
	assert_int_equal(agent_store_uid_release(st, 7002, 100, 2), 0);
	assert_int_equal(agent_store_uid_release(st, 7004, 200, 0), 0);
	assert_int_equal(agent_store_uid_release(st, 7004, 950, 0), 0); /* released again */
	assert_int_equal(agent_store_uid_lru(st, 7000, 7010, 1000, 0, 0, rows, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(rows[0].uid, 7001);
	assert_int_equal(rows[1].uid, 7003);
	assert_int_equal(rows[2].uid, 7004);
	/* Quarantine drops the recent release; the page offset pages. */
	assert_int_equal(agent_store_uid_lru(st, 7000, 7010, 1000, 100, 0, rows, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(agent_store_uid_lru(st, 7000, 7010, 1000, 0, 1, rows, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].uid, 7003);
	/* A uid live again (or retired and unreaped) is not offered. */
	{
		struct agent_identity id = { 0 };

		snprintf(id.name, sizeof(id.name), "agent-lrulive");
		id.uid = 7001;
		snprintf(id.purpose, sizeof(id.purpose), "ci");
		snprintf(id.subject, sizeof(id.subject), "alice");
		snprintf(id.chain[0], sizeof(id.chain[0]), "alice");
		id.chain_len = 1;
		id.depth = 1;
		id.created = 900;
		id.expires = 2000;
		id.state = AGENT_STATE_LIVE;
		assert_int_equal(agent_store_insert(st, &id), 0);
		assert_int_equal(agent_store_uid_lru(st, 7000, 7010, 1000, 0, 0, rows, 8, &n), 0);
		assert_int_equal(n, 2);
		assert_int_equal(rows[0].uid, 7003);
		assert_int_equal(
			agent_store_retire(st, "agent-lrulive", AGENT_RETIRE_REVOKED, 950, NULL),
			0);
		assert_int_equal(agent_store_uid_lru(st, 7000, 7010, 1000, 0, 0, rows, 8, &n), 0);
		assert_int_equal(n, 2); /* retired, not yet reaped */
		assert_int_equal(agent_store_set_reaped(st, "agent-lrulive", 960, 0), 0);
		assert_int_equal(agent_store_uid_lru(st, 7000, 7010, 1000, 0, 0, rows, 8, &n), 0);
		assert_int_equal(n, 3);
	}
	/* Held ones are listed, and freed by a later successful sweep. */
	assert_int_equal(agent_store_uid_use_list(st, 1, rows, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].uid, 7002);
	assert_int_equal(rows[0].held, 2);
	assert_int_equal(agent_store_uid_hold(st, 7002, 0), 0);
	assert_int_equal(agent_store_uid_hold(st, 7999, 0), -ENOENT);
	assert_int_equal(agent_store_uid_use_list(st, 1, rows, 8, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(agent_uid_set_init(&ever, 7000, 7010), 0);
	assert_int_equal(agent_store_foreach_uid_ever(st, ever_cb, &ever), 0);
	assert_true(agent_uid_set_has(&ever, 7002));
	assert_false(agent_uid_set_has(&ever, 7005));
	agent_uid_set_free(&ever);
	agent_store_close(st);
	assert_int_equal(tmpdir_remove(dir), 0);
}

struct seen {
	char stripped[512], kept[512];
	uint64_t removed;
};

static void sweep_cb(char what, uint32_t uid, const char *path, uint64_t n, void *arg)
{
	struct seen *s = arg;

	(void)uid;
	if (what == 'R')
		s->removed += n;
	else if (what == 'S')
		snprintf(s->stripped + strlen(s->stripped),
			 sizeof(s->stripped) - strlen(s->stripped), "%s;", path);
	else if (what == 'K')
		snprintf(s->kept + strlen(s->kept), sizeof(s->kept) - strlen(s->kept), "%s;", path);
}

static void put_file(const char *dir, const char *name, mode_t mode)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* The sweep as the test's own uid: its files go, a setuid one is named
 * (stripped first), a symlink is removed and never followed, files of
 * other uids stay. Mount points are covered by tests/integration. */
static void test_sweep(void **state)
{
	char dir[] = "/tmp/agentd-sweep.XXXXXX", outside[] = "/tmp/agentd-out.XXXXXX", p[256];
	const char *dirs[] = { dir, "/nonexistent-sweep-dir" };
	uint32_t me = (uint32_t)getuid(), other = me + 1;
	struct agent_sweep_report rep;
	struct seen seen = { "", "", 0 };
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(mkdtemp(outside));
	put_file(dir, "plain", 0644);
	put_file(dir, "suid", 04755);
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	put_file(p, "deep", 0600);
	put_file(outside, "target", 0644);
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink(outside, p), 0);
	rep.cb = sweep_cb;
	rep.arg = &seen;
	/* Another uid's sweep removes nothing of ours. */
	assert_int_equal(agent_sweep(dirs, 2, &other, 1, &rep), 0);
	assert_int_equal(seen.removed, 0);
	assert_string_equal(seen.stripped, "");
	assert_int_equal(agent_sweep(dirs, 2, &me, 1, &rep), 0);
	assert_int_equal(seen.removed, 5); /* plain suid sub/deep sub link */
	snprintf(p, sizeof(p), "%s/suid;", dir);
	assert_string_equal(seen.stripped, p);
	assert_string_equal(seen.kept, "");
	snprintf(p, sizeof(p), "%s/plain", dir);
	assert_int_equal(lstat(p, &st), -1);
	snprintf(p, sizeof(p), "%s/target", outside);
	assert_int_equal(lstat(p, &st), 0); /* the link's target is untouched */
	assert_int_equal(tmpdir_remove(dir), 0);
	assert_int_equal(tmpdir_remove(outside), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_never_used_ascending),
		cmocka_unit_test(test_lru_after_never_used),
		cmocka_unit_test(test_quarantine_and_held),
		cmocka_unit_test(test_range_edges_and_wrap),
		cmocka_unit_test(test_store_uid_use),
		cmocka_unit_test(test_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
