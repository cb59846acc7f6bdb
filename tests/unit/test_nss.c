/* Unit tests: every _nss_agent_* entry point, built from the module's own
 * source against a test snapshot path, with every buffer length from 0 to
 * the size needed: TRYAGAIN/ERANGE below, success at it, nothing written
 * past it. */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <setjmp.h>
#include <shadow.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/liveness.h"
#include "common/snapshot.h"
#include "nss_agent/nss_agent.h"

#define DIR "/tmp/agentd-nss-test"
#define PATH DIR "/passwd.snap"
#define UMIN 1879048192u
#define AGID 1879113728u

static struct agent_snap_writer *w;

static const struct agent_snap_purpose purposes[2] = {
	{ .name = "ci",
	  .shell = "/bin/bash",
	  .home_base = "/home/agents",
	  .ngroups = 2,
	  .gids = { 100, 27 } },
	{ .name = "research", .shell = "/bin/sh", .home_base = "" },
};

static void put(uint32_t uid, const char *name, uint32_t purpose, int64_t ttl)
{
	struct agent_snap_entry e = { .uid = uid, .purpose = purpose };
	struct agent_now now;

	agent_now(&now);
	e.expires = now.real + ttl;
	e.expires_boot_ns = agent_boot_deadline(e.expires, &now);
	snprintf(e.name, sizeof(e.name), "%s", name);
	snprintf(e.subject, sizeof(e.subject), "alice");
	assert_int_equal(agent_snap_put(w, &e), 0);
}

static void new_snapshot(void)
{
	struct agent_snap_params p = { .uid_min = UMIN,
				       .uid_max = UMIN + 255,
				       .purposes = purposes,
				       .npurposes = 2,
				       .agents_group = "agents",
				       .agents_gid = AGID };

	agent_snap_writer_destroy(w, NULL); /* the new one retires it anyway */
	w = NULL;
	assert_int_equal(agent_snap_writer_create(PATH, &p, &w), 0);
}

/* Calls f with every length up to the first success; checks the protocol
 * and the canary past the buffer. Returns the length that succeeded. */
#define SWEEP(call)                                                                                \
	({                                                                                         \
		size_t ok_len = 0;                                                                 \
		for (size_t sl = 0; sl < 4096; sl++) {                                             \
			char *sb = malloc(sl + 16);                                                \
			int se = 0;                                                                \
			enum nss_status st;                                                        \
			memset(sb, 0x5a, sl + 16);                                                 \
			errno = 1234;                                                              \
			st = call;                                                                 \
			for (size_t k = sl; k < sl + 16; k++)                                      \
				assert_int_equal((unsigned char)sb[k], 0x5a);                      \
			if (st == NSS_STATUS_SUCCESS) {                                            \
				assert_int_equal(errno, 1234); /* untouched on success */          \
				ok_len = sl;                                                       \
				free(sb);                                                          \
				break;                                                             \
			}                                                                          \
			assert_int_equal(st, NSS_STATUS_TRYAGAIN);                                 \
			assert_int_equal(se, ERANGE);                                              \
			free(sb);                                                                  \
		}                                                                                  \
		assert_true(ok_len > 0);                                                           \
		ok_len;                                                                            \
	})

static void test_passwd(void **state)
{
	struct passwd pw;
	char buf[1024];
	int err = 0;

	(void)state;
	new_snapshot();
	put(UMIN + 1, "agent-aaaaaa", 0, 600);
	put(UMIN + 2, "agent-bbbbbb", 1, 600);
	SWEEP(_nss_agent_getpwnam_r("agent-aaaaaa", &pw, sb, sl, &se));
	assert_int_equal(_nss_agent_getpwnam_r("agent-aaaaaa", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	assert_string_equal(pw.pw_name, "agent-aaaaaa");
	assert_int_equal(pw.pw_uid, UMIN + 1);
	assert_int_equal(pw.pw_gid, UMIN + 1);
	assert_string_equal(pw.pw_gecos, "agent ci for alice");
	assert_string_equal(pw.pw_dir, "/home/agents/agent-aaaaaa");
	assert_string_equal(pw.pw_shell, "/bin/bash");
	assert_true(pw.pw_name >= buf && pw.pw_shell < buf + sizeof(buf));
	SWEEP(_nss_agent_getpwuid_r(UMIN + 2, &pw, sb, sl, &se));
	assert_int_equal(_nss_agent_getpwuid_r(UMIN + 2, &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	assert_string_equal(pw.pw_dir, "/nonexistent");
	assert_string_equal(pw.pw_shell, "/bin/sh");

	/* not agents: NOTFOUND, whatever the name */
	assert_int_equal(_nss_agent_getpwnam_r("root", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(_nss_agent_getpwuid_r(0, &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(_nss_agent_getpwuid_r(UMIN + 3, &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(_nss_agent_getpwnam_r("a-name-far-too-long-to-be-any-user", &pw, buf,
					       sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(_nss_agent_getpwnam_r("", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
}

static void test_expiry_and_retirement(void **state)
{
	struct passwd pw;
	char buf[1024];
	int err = 0;

	(void)state;
	new_snapshot();
	put(UMIN + 5, "agent-expire", 0, 1);
	assert_int_equal(_nss_agent_getpwnam_r("agent-expire", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	sleep(2); /* nobody removes it: the reader applies the deadline itself */
	assert_int_equal(_nss_agent_getpwnam_r("agent-expire", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(_nss_agent_getpwuid_r(UMIN + 5, &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
	put(UMIN + 6, "agent-retire", 0, 600);
	assert_int_equal(_nss_agent_getpwnam_r("agent-retire", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	assert_int_equal(agent_snap_remove(w, UMIN + 6), 0);
	assert_int_equal(_nss_agent_getpwnam_r("agent-retire", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
}

static void test_group_shadow_initgroups(void **state)
{
	struct group gr;
	struct spwd sp;
	char buf[2048];
	int err = 0;
	long start = 1, size = 1;
	gid_t *groups = malloc(sizeof(gid_t));

	(void)state;
	new_snapshot();
	put(UMIN + 1, "agent-aaaaaa", 0, 600);
	put(UMIN + 2, "agent-bbbbbb", 1, 600);
	SWEEP(_nss_agent_getgrnam_r("agent-aaaaaa", &gr, sb, sl, &se));
	assert_int_equal(_nss_agent_getgrnam_r("agent-aaaaaa", &gr, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	assert_int_equal(gr.gr_gid, UMIN + 1);
	assert_null(gr.gr_mem[0]);
	SWEEP(_nss_agent_getgrgid_r(UMIN + 2, &gr, sb, sl, &se));
	/* the group of all live agents lists them */
	SWEEP(_nss_agent_getgrnam_r("agents", &gr, sb, sl, &se));
	assert_int_equal(_nss_agent_getgrgid_r(AGID, &gr, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	assert_string_equal(gr.gr_name, "agents");
	assert_string_equal(gr.gr_mem[0], "agent-aaaaaa");
	assert_string_equal(gr.gr_mem[1], "agent-bbbbbb");
	assert_null(gr.gr_mem[2]);
	assert_int_equal(_nss_agent_getgrnam_r("users", &gr, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(_nss_agent_getgrgid_r(0, &gr, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);

	SWEEP(_nss_agent_getspnam_r("agent-aaaaaa", &sp, sb, sl, &se));
	assert_int_equal(_nss_agent_getspnam_r("agent-aaaaaa", &sp, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	assert_string_equal(sp.sp_pwdp, "!");
	assert_true(sp.sp_expire >= time(NULL) / 86400);
	assert_int_equal(_nss_agent_getspnam_r("root", &sp, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);

	groups[0] = UMIN + 1;
	assert_int_equal(_nss_agent_initgroups_dyn("agent-aaaaaa", UMIN + 1, &start, &size, &groups,
						   0, &err),
			 NSS_STATUS_SUCCESS);
	assert_int_equal(start, 4); /* own gid, 100, 27, agents */
	assert_int_equal(groups[1], 100);
	assert_int_equal(groups[2], 27);
	assert_int_equal(groups[3], AGID);
	start = 1;
	assert_int_equal(_nss_agent_initgroups_dyn("agent-aaaaaa", UMIN + 1, &start, &size, &groups,
						   2, &err),
			 NSS_STATUS_SUCCESS);
	assert_true(start <= 2); /* the limit holds */
	start = 0;
	assert_int_equal(_nss_agent_initgroups_dyn("root", 0, &start, &size, &groups, 0, &err),
			 NSS_STATUS_NOTFOUND);
	assert_int_equal(start, 0);
	free(groups);
}

static void test_enumeration(void **state)
{
	struct passwd pw;
	struct group gr;
	char buf[2048];
	int err = 0, n = 0;

	(void)state;
	new_snapshot();
	put(UMIN + 1, "agent-aaaaaa", 0, 600);
	put(UMIN + 7, "agent-cccccc", 1, 600);
	put(UMIN + 9, "agent-dead00", 1, -5); /* expired: not listed */
	_nss_agent_setpwent(0);
	/* a too-small buffer does not skip the entry */
	assert_int_equal(_nss_agent_getpwent_r(&pw, buf, 4, &err), NSS_STATUS_TRYAGAIN);
	assert_int_equal(err, ERANGE);
	while (_nss_agent_getpwent_r(&pw, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS)
		n++;
	_nss_agent_endpwent();
	assert_int_equal(n, 2);
	n = 0;
	_nss_agent_setgrent(0);
	while (_nss_agent_getgrent_r(&gr, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS)
		n++;
	_nss_agent_endgrent();
	assert_int_equal(n, 3); /* two private groups and "agents" */
}

static void test_replaced_and_missing(void **state)
{
	struct passwd pw;
	char buf[1024];
	int err = 0;

	(void)state;
	new_snapshot();
	put(UMIN + 1, "agent-aaaaaa", 0, 600);
	assert_int_equal(_nss_agent_getpwnam_r("agent-aaaaaa", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	new_snapshot(); /* agentd restarted: a new file, the old one marked stale */
	put(UMIN + 2, "agent-newone", 0, 600);
	assert_int_equal(_nss_agent_getpwnam_r("agent-newone", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	assert_int_equal(_nss_agent_getpwnam_r("agent-aaaaaa", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
	/* a world-writable snapshot is not trusted: NOTFOUND for everyone */
	new_snapshot();
	put(UMIN + 3, "agent-ww0000", 0, 600);
	chmod(PATH, 0666);
	new_snapshot(); /* marks the trusted mapping stale; the new file is 0644 */
	chmod(PATH, 0666);
	assert_int_equal(_nss_agent_getpwnam_r("agent-ww0000", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
	chmod(PATH, 0644);
}

static enum nss_status pwnam(const char *name)
{
	struct passwd pw;
	char buf[1024];
	int err = 0;

	return _nss_agent_getpwnam_r(name, &pw, buf, sizeof(buf), &err);
}

static enum nss_status pwuid(uid_t uid)
{
	struct passwd pw;
	char buf[1024];
	int err = 0;

	return _nss_agent_getpwuid_r(uid, &pw, buf, sizeof(buf), &err);
}

/* Does not resolve: NOTFOUND (no snapshot, not in it, another boot's) or
 * UNAVAIL (a damaged snapshot); either way glibc goes on to other sources. */
static bool gone(enum nss_status s)
{
	return s == NSS_STATUS_NOTFOUND || s == NSS_STATUS_UNAVAIL;
}

/* The module re-stats the snapshot's locator at most once a second. */
static void past_recheck(void)
{
	struct timespec ts = { 1, 200000000 };

	nanosleep(&ts, NULL);
}

/* Every state of the file under a process that has the snapshot attached:
 * no lookup faults, and within the re-check interval a truncated, deleted
 * or silently replaced snapshot stops resolving; another boot's never
 * resolves. */
static void test_file_states(void **state)
{
	struct agent_snap_writer *other = NULL;
	struct agent_snap_params p = { .uid_min = UMIN,
				       .uid_max = UMIN + 255,
				       .purposes = purposes,
				       .npurposes = 2,
				       .agents_group = "agents",
				       .agents_gid = AGID };

	(void)state;
	/* truncated in place while attached (truncate -s0, cp /dev/null) */
	new_snapshot();
	put(UMIN + 4, "agent-trunc0", 0, 600);
	past_recheck(); /* the previous test's failed open backs off a second */
	assert_int_equal(pwnam("agent-trunc0"), NSS_STATUS_SUCCESS);
	assert_int_equal(truncate(PATH, 0), 0);
	for (int i = 0; i < 100; i++) {
		enum nss_status s = pwuid(UMIN + 4);

		assert_true(s == NSS_STATUS_SUCCESS || s == NSS_STATUS_NOTFOUND);
	}
	past_recheck();
	assert_true(gone(pwnam("agent-trunc0")));
	assert_true(gone(pwuid(UMIN + 4)));

	/* deleted: the stale flag is never set, the name still goes */
	new_snapshot();
	put(UMIN + 5, "agent-delete", 0, 600);
	past_recheck(); /* a failed open backs off a second */
	assert_int_equal(pwnam("agent-delete"), NSS_STATUS_SUCCESS);
	assert_int_equal(unlink(PATH), 0);
	past_recheck();
	assert_true(gone(pwnam("agent-delete")));

	/* replaced by a snapshot whose writer died before marking this one
	 * stale (built elsewhere, its locator renamed over ours) */
	new_snapshot();
	put(UMIN + 6, "agent-oldone", 0, 600);
	past_recheck(); /* a failed open backs off a second */
	assert_int_equal(pwnam("agent-oldone"), NSS_STATUS_SUCCESS);
	assert_int_equal(agent_snap_writer_create(DIR "/other.snap", &p, &other), 0);
	assert_int_equal(rename(DIR "/other.snap", PATH), 0);
	past_recheck();
	assert_true(gone(pwnam("agent-oldone")));
	agent_snap_writer_destroy(other, NULL);

	/* the segment removed (ipcrm) under the attached reader: no fault */
	new_snapshot();
	put(UMIN + 7, "agent-ipcrm0", 0, 600);
	past_recheck(); /* a failed open backs off a second */
	assert_int_equal(pwnam("agent-ipcrm0"), NSS_STATUS_SUCCESS);
	agent_snap_writer_destroy(w, NULL);
	w = NULL;
	assert_int_equal(pwnam("agent-ipcrm0"), NSS_STATUS_SUCCESS); /* still attached */
	past_recheck();
	assert_int_equal(pwnam("agent-ipcrm0"), NSS_STATUS_SUCCESS); /* locator unchanged */

	/* another boot's snapshot */
	p.boot_id = (const uint8_t *)"0123456789abcdef";
	assert_int_equal(agent_snap_writer_create(PATH, &p, &w), 0);
	put(UMIN + 8, "agent-oldbt0", 0, 600);
	assert_true(gone(pwnam("agent-oldbt0")));
	assert_true(gone(pwnam("agent-ipcrm0")));
	past_recheck(); /* the failed open's back-off */
	assert_true(gone(pwnam("agent-oldbt0")));

	/* garbage, zero length and short locators */
	static const char *const junk[] = { "", "AGSNLOC",
					    "this is not a snapshot locator, "
					    "it is 64 bytes of text, more or lessxx" };
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		FILE *f = fopen(DIR "/junk", "we");

		assert_non_null(f);
		fputs(junk[i], f);
		fclose(f);
		assert_int_equal(rename(DIR "/junk", PATH), 0);
		past_recheck();
		assert_true(gone(pwnam("agent-oldbt0")));
		assert_true(gone(pwuid(UMIN + 8)));
	}
	/* and back: a good snapshot resolves again */
	new_snapshot();
	put(UMIN + 9, "agent-backup", 0, 600);
	past_recheck();
	assert_int_equal(pwnam("agent-backup"), NSS_STATUS_SUCCESS);
}

static int setup(void **state)
{
	(void)state;
	mkdir(DIR, 0755);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	agent_snap_writer_destroy(w, NULL);
	unlink(PATH);
	rmdir(DIR);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passwd),
		cmocka_unit_test(test_expiry_and_retirement),
		cmocka_unit_test(test_group_shadow_initgroups),
		cmocka_unit_test(test_enumeration),
		cmocka_unit_test(test_replaced_and_missing),
		cmocka_unit_test(test_file_states),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
