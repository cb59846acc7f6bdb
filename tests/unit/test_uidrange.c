/* Unit tests: uid range checks against login.defs, subuid/subgid and the
 * reserved ranges; the /proc uid scan; the NSS check. */
#include <errno.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/tmpdir.h"

#include "agentd/uidrange.h"

static char dir[] = "/tmp/agentd-range.XXXXXX";
static char defs[160], sub[160], subg[160];

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int check(uint32_t a, uint32_t b, char *err, size_t len)
{
	struct agent_range_sources src = { defs, sub, subg };

	return agent_range_check(a, b, &src, err, len);
}

static void test_default_range_ok(void **state)
{
	char err[256] = "";

	(void)state;
	put(defs, "# Debian\nUID_MIN\t\t\t 1000\nUID_MAX\t\t\t60000\n");
	put(sub, "alice:100000:65536\nbob:165536:65536\n");
	put(subg, "alice:100000:65536\n");
	assert_int_equal(check(1879048192, 1879113727, err, sizeof(err)), 0);
}

static void test_reserved(void **state)
{
	static const struct {
		uint32_t a, b;
		const char *needle;
	} cases[] = {
		{ 0, 10, "uid 0" },
		{ 61000, 61200, "dynamic users" },
		{ 65534, 65534, "nobody" },
		{ 65536, 65600, "16-bit boundary" },
		{ 600000, 700000, "container" },
		{ 1879048000, 1879048300, "container" },
		{ 2147483000, 2147484000, "2^31" },
		{ 5000, 6000, "UID_MIN..UID_MAX" },
		{ 500, 600, "SYS_UID_MIN..SYS_UID_MAX" },
		{ 1879090000, 1879090010, "/subuid" },
		{ 10, 5, "empty" },
	};
	(void)state;
	put(defs, "UID_MIN 1000\nUID_MAX 60000\n");
	put(sub, "alice:1879090000:100\n");
	put(subg, "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";

		assert_int_equal(check(cases[i].a, cases[i].b, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].needle))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
	}
}

static void test_sources(void **state)
{
	char err[256] = "";

	(void)state;
	/* custom login.defs ranges, hex accepted */
	put(defs, "UID_MIN 0x70010000\nUID_MAX 0x7001ffff\n");
	put(sub, "");
	put(subg, "");
	assert_int_equal(check(1879113800, 1879113900, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "UID_MIN..UID_MAX 1879113728-1879179263"));
	/* GID ranges count too: gid == uid for agents */
	put(defs, "GID_MIN 1879100000\nGID_MAX 1879200000\n");
	assert_int_equal(check(1879150000, 1879150010, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "GID_MIN..GID_MAX"));
	/* subgid */
	put(defs, "");
	put(subg, "# comment\n\nbob:1879080000:10\n");
	assert_int_equal(check(1879080005, 1879080006, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "subgid"));
	assert_non_null(strstr(err, "line 3"));
	/* malformed line */
	put(subg, "bob:450000\n");
	assert_int_equal(check(1879048192, 1879048200, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1: malformed line"));
	put(subg, "bob:x:10\n");
	assert_int_equal(check(1879048192, 1879048200, err, sizeof(err)), -EINVAL);
	/* missing files are fine */
	put(subg, "");
	unlink(defs);
	unlink(sub);
	unlink(subg);
	assert_int_equal(check(1879048192, 1879048200, err, sizeof(err)), 0);
	/* defaults apply without login.defs */
	assert_int_equal(check(2000, 2001, err, sizeof(err)), -EINVAL);
}

/* A fake /proc/PID/status under dir/tree. */
static void mkstatus_in(const char *tree, const char *pid, const char *text)
{
	char p[200];

	snprintf(p, sizeof(p), "%s/%s/%s", dir, tree, pid);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%s/%s/status", dir, tree, pid);
	put(p, text);
}

static void mkstatus(const char *pid, const char *text)
{
	mkstatus_in("proc", pid, text);
}

static void test_uid_set(void **state)
{
	struct agent_uid_set s;
	char proc[200];

	(void)state;
	assert_int_equal(agent_uid_set_init(&s, 100, 227), 0);
	agent_uid_set_add(&s, 100);
	agent_uid_set_add(&s, 227);
	agent_uid_set_add(&s, 99);  /* out of range: ignored */
	agent_uid_set_add(&s, 228); /* ignored */
	assert_true(agent_uid_set_has(&s, 100));
	assert_true(agent_uid_set_has(&s, 227));
	assert_false(agent_uid_set_has(&s, 101));
	assert_false(agent_uid_set_has(&s, 99));
	assert_false(agent_uid_set_has(&s, 228));
	agent_uid_set_free(&s);

	snprintf(proc, sizeof(proc), "%s/proc", dir);
	mkdir(proc, 0755);
	mkstatus("1", "Name:\tinit\nUid:\t0\t0\t0\t0\n");
	mkstatus("42", "Name:\tx\nUid:\t150\t150\t150\t150\n");
	mkstatus("43", "Name:\ty\nUid:\t1000\t160\t1000\t1000\n"); /* effective in range */
	mkstatus("44", "Name:\tz\nGid:\t1\n");                     /* no Uid line */
	mkstatus("45", "Name:\tw\nUid:\tjunk\n");
	mkstatus("self", "Name:\tq\nUid:\t170\t170\t170\t170\n"); /* not numeric: skipped */
	assert_int_equal(agent_uid_set_init(&s, 100, 227), 0);
	assert_int_equal(agent_uid_set_scan_proc(&s, proc), 0);
	assert_true(agent_uid_set_has(&s, 150));
	assert_true(agent_uid_set_has(&s, 160));
	assert_false(agent_uid_set_has(&s, 170));
	assert_false(agent_uid_set_has(&s, 101));
	agent_uid_set_free(&s);

	/* the real /proc: our own uid shows up */
	uid_t me = getuid();
	assert_int_equal(agent_uid_set_init(&s, me, me), 0);
	assert_int_equal(agent_uid_set_scan_proc(&s, "/proc"), 0);
	assert_true(agent_uid_set_has(&s, me));
	agent_uid_set_free(&s);
	assert_int_equal(agent_uid_set_scan_proc(&s, "/nonexistent-proc"), -ENOENT);
}

/* One scan serves a burst: what starts or changes its uids after it is
 * seen at the next scan (agent_uid_has_process covers real uids now). */
static void test_proc_cache(void **state)
{
	struct agent_proc_cache c;
	char proc[200];

	(void)state;
	snprintf(proc, sizeof(proc), "%s/proc", dir);
	mkdir(proc, 0755);
	mkstatus("52", "Name:\tx\nUid:\t180\t180\t180\t180\n");
	assert_int_equal(agent_proc_cache_init(&c, 100, 227, proc), 0);
	assert_true(agent_proc_cache_uid_busy(&c, 190)); /* never scanned: cannot tell */
	assert_int_equal(agent_proc_cache_refresh(&c, 1000, 50), 0);
	assert_int_equal(c.scans, 1);
	assert_true(agent_proc_cache_uid_busy(&c, 180));
	assert_false(agent_proc_cache_uid_busy(&c, 190));
	/* A new process with uid 190 and a changed status of a known pid. */
	mkstatus("53", "Name:\tn\nUid:\t190\t190\t190\t190\n");
	mkstatus("52", "Name:\tx\nUid:\t200\t200\t200\t200\n");
	assert_int_equal(agent_proc_cache_refresh(&c, 1040, 50), 0);
	assert_int_equal(c.scans, 1);                     /* within 50 ms: no rescan */
	assert_false(agent_proc_cache_uid_busy(&c, 190)); /* seen at the next scan */
	assert_false(agent_proc_cache_uid_busy(&c, 200));
	assert_int_equal(agent_proc_cache_refresh(&c, 1051, 50), 0);
	assert_int_equal(c.scans, 2);
	assert_true(agent_proc_cache_uid_busy(&c, 190));
	assert_true(agent_proc_cache_uid_busy(&c, 200));
	assert_false(agent_proc_cache_uid_busy(&c, 180));
	agent_proc_cache_free(&c);
}

/* The same scan in a child: the last answers stand until it is collected,
 * a failed one keeps them, a cancelled one leaves no child behind, and a
 * scan made in process since it started is not overwritten by it. */
static void test_proc_cache_child(void **state)
{
	struct agent_proc_cache c;
	char proc[200];
	int rfd, rfd2;

	(void)state;
	snprintf(proc, sizeof(proc), "%s/proc2", dir);
	mkdir(proc, 0755);
	mkstatus_in("proc2", "62", "Name:\tx\nUid:\t180\t180\t180\t180\n");
	assert_int_equal(agent_proc_cache_init(&c, 100, 227, proc), 0);
	assert_false(agent_proc_cache_scanning(&c));
	assert_int_equal(agent_proc_cache_scan_finish(&c, -1), -ECHILD);
	assert_int_equal(agent_proc_cache_scan_start(&c, 1000, &rfd), 0);
	assert_true(agent_proc_cache_scanning(&c));
	assert_int_equal(agent_proc_cache_scan_start(&c, 1000, &rfd2), -EBUSY);
	assert_true(agent_proc_cache_uid_busy(&c, 190)); /* no answer yet */
	assert_int_equal(agent_proc_cache_scan_finish(&c, -1), 0);
	assert_false(agent_proc_cache_scanning(&c));
	assert_int_equal(c.scans, 1);
	assert_int_equal(c.at_ms, 1000);
	assert_true(agent_proc_cache_uid_busy(&c, 180));
	assert_false(agent_proc_cache_uid_busy(&c, 190));

	/* Started, then a process appears: the scan's answer is read when it
	 * is collected, and the child saw the tree as it was then or later. */
	mkstatus_in("proc2", "63", "Name:\tn\nUid:\t190\t190\t190\t190\n");
	assert_int_equal(agent_proc_cache_scan_start(&c, 2000, &rfd), 0);
	assert_false(agent_proc_cache_uid_busy(&c, 190)); /* the last answers stand */
	assert_int_equal(agent_proc_cache_scan_finish(&c, -1), 0);
	assert_true(agent_proc_cache_uid_busy(&c, 190));
	assert_int_equal(c.at_ms, 2000);

	/* An in-process scan made after the child started wins. */
	assert_int_equal(agent_proc_cache_scan_start(&c, 3000, &rfd), 0);
	mkstatus_in("proc2", "63", "Name:\tn\nUid:\t1000\t1000\t1000\t1000\n");
	assert_int_equal(agent_proc_cache_refresh(&c, 3001, 0), 0);
	assert_false(agent_proc_cache_uid_busy(&c, 190));
	assert_int_equal(agent_proc_cache_scan_finish(&c, -1), 0);
	assert_int_equal(c.at_ms, 3001);
	assert_int_equal(c.scans, 3);

	/* Cancelled: collected, nothing adopted, no child left. */
	assert_int_equal(agent_proc_cache_scan_start(&c, 4000, &rfd), 0);
	agent_proc_cache_scan_cancel(&c);
	assert_false(agent_proc_cache_scanning(&c));
	assert_int_equal(c.at_ms, 3001);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	agent_proc_cache_free(&c);

	/* A scan that fails keeps the last answers. */
	assert_int_equal(agent_proc_cache_init(&c, 100, 227, "/nonexistent-proc"), 0);
	c.scanned = true;
	c.at_ms = 5;
	agent_uid_set_add(&c.uids, 150);
	assert_int_equal(agent_proc_cache_scan_start(&c, 6000, &rfd), 0);
	assert_int_equal(agent_proc_cache_scan_finish(&c, -1), -EIO);
	assert_true(agent_proc_cache_uid_busy(&c, 150));
	assert_int_equal(c.at_ms, 5);
	/* freed with a scan in flight: the child is killed and collected */
	assert_int_equal(agent_proc_cache_scan_start(&c, 7000, &rfd), 0);
	agent_proc_cache_free(&c);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

/* A scan child with no verdict in time is killed, and the last answers
 * stand: here its first status file is a FIFO nobody writes, so its open
 * blocks for good. */
static void test_proc_cache_child_hangs(void **state)
{
	struct agent_proc_cache c;
	char p[200];
	int rfd;

	(void)state;
	snprintf(p, sizeof(p), "%s/proc3", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/proc3/77", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/proc3/77/status", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/proc3", dir);
	assert_int_equal(agent_proc_cache_init(&c, 100, 227, p), 0);
	c.scanned = true;
	c.at_ms = 5;
	agent_uid_set_add(&c.uids, 150);
	assert_int_equal(agent_proc_cache_scan_start(&c, 6000, &rfd), 0);
	assert_int_equal(agent_proc_cache_scan_finish(&c, 100), -ETIMEDOUT);
	assert_false(agent_proc_cache_scanning(&c));
	assert_true(agent_proc_cache_uid_busy(&c, 150));
	assert_int_equal(c.at_ms, 5);
	agent_proc_cache_free(&c);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* Whether a process has a uid as its real uid, now (getpriority). Root
 * only for a process of another uid: skipped otherwise. */
static void test_has_process(void **state)
{
	const uint32_t u = 1879113001; /* in agentd's default range, not a user's */
	pid_t p;
	int i;

	(void)state;
	assert_true(agent_uid_has_process(0)); /* 0 would mean the caller: refused */
	assert_false(agent_uid_has_process(u));
	if (geteuid() != 0) {
		skip(); /* a process of another uid needs root */
		return;
	}
	p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		if (setresgid(u, u, u) < 0 || setresuid(u, u, u) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	for (i = 0; i < 1000 && !agent_uid_has_process(u); i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	assert_true(agent_uid_has_process(u));
	assert_false(agent_uid_has_process(u + 1));
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	assert_false(agent_uid_has_process(u));
}

static void test_nss(void **state)
{
	(void)state;
	assert_true(agent_uid_known_to_nss(0));
	if (getpwuid(1879113000) == NULL)
		assert_false(agent_uid_known_to_nss(1879113000));
	else
		printf("note: uid 1879113000 exists on this host; negative case not checked\n");
}

static int setup(void **state)
{
	(void)state;
	if (tmpdir_make(dir) < 0)
		return -1;
	snprintf(defs, sizeof(defs), "%s/login.defs", dir);
	snprintf(sub, sizeof(sub), "%s/subuid", dir);
	snprintf(subg, sizeof(subg), "%s/subgid", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_range_ok),
		cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_uid_set),
		cmocka_unit_test(test_proc_cache),
		cmocka_unit_test(test_proc_cache_child),
		cmocka_unit_test(test_proc_cache_child_hangs),
		cmocka_unit_test(test_has_process),
		cmocka_unit_test(test_nss),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
