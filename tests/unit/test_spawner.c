/* Unit tests: the runner spawner's request (agentd/spawner.h): what agentd
 * encodes decodes to the same run; short, overlong and malformed requests
 * are refused whole. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agentd/runner.h"
#include "agentd/spawner.h"
#include "common/identity.h"

static uint8_t buf[AGENTD_SPAWN_MSG_MAX];

static void spec(struct agentd_run_spec *s, struct agent_identity *id, const char *const *argv)
{
	static const gid_t groups[] = { 100, 2900 };

	memset(id, 0, sizeof(*id));
	snprintf(id->name, sizeof(id->name), "agent-abc123");
	id->uid = 1879048200;
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->argv = argv;
	s->cwd = "/work";
	s->ruser = "alice";
	s->home = "/var/lib/agentd/homes/agent-abc123";
	s->shell = "/bin/sh";
	s->groups = groups;
	s->ngroups = 2;
}

static void test_round_trip(void **state)
{
	const char *const argv[] = { "sh", "-c", "echo hi", "", NULL };
	struct agentd_run_spec s;
	struct agent_identity id;
	struct agentd_spawn_job j;
	ssize_t n;

	(void)state;
	spec(&s, &id, argv);
	n = agentd_spawn_encode(&s, true, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(agentd_spawn_decode(buf, (size_t)n, &j), 0);
	assert_string_equal(j.name, "agent-abc123");
	assert_int_equal(j.uid, 1879048200);
	assert_int_equal(j.ngroups, 2);
	assert_int_equal(j.groups[0], 100);
	assert_int_equal(j.groups[1], 2900);
	assert_string_equal(j.cwd, "/work");
	assert_string_equal(j.ruser, "alice");
	assert_string_equal(j.home, s.home);
	assert_string_equal(j.shell, "/bin/sh");
	for (int i = 0; argv[i]; i++)
		assert_string_equal(j.argv[i], argv[i]);
	assert_null(j.argv[4]);
	assert_true(j.flags & AGENTD_SPAWN_CGROUP);

	/* Without the optional ones. */
	s.cwd = NULL;
	s.ruser = NULL;
	n = agentd_spawn_encode(&s, false, buf, sizeof(buf));
	assert_int_equal(agentd_spawn_decode(buf, (size_t)n, &j), 0);
	assert_null(j.cwd);
	assert_null(j.ruser);
	assert_false(j.flags & AGENTD_SPAWN_CGROUP);
	assert_string_equal(j.argv[2], "echo hi");
}

/* Every prefix of a valid request, and the request with a byte more, is
 * refused; so are counts out of range, unknown flags and uid 0. */
static void test_malformed(void **state)
{
	const char *const argv[] = { "true", NULL };
	struct agentd_spawn_hdr h;
	struct agentd_run_spec s;
	struct agent_identity id;
	struct agentd_spawn_job j;
	ssize_t n;

	(void)state;
	spec(&s, &id, argv);
	n = agentd_spawn_encode(&s, true, buf, sizeof(buf));
	assert_true(n > 0);
	for (ssize_t k = 0; k < n; k++)
		assert_int_equal(agentd_spawn_decode(buf, (size_t)k, &j), -EBADMSG);
	buf[n] = 'x';
	assert_int_equal(agentd_spawn_decode(buf, (size_t)n + 1, &j), -EBADMSG);

	memcpy(&h, buf, sizeof(h));
	h.argc = 2; /* one string short */
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(agentd_spawn_decode(buf, (size_t)n, &j), -EBADMSG);
	h.argc = 0;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(agentd_spawn_decode(buf, (size_t)n, &j), -EBADMSG);
	h.argc = 1;
	h.ngroups = AGENT_GROUPS_MAX + 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(agentd_spawn_decode(buf, (size_t)n, &j), -EBADMSG);
	h.ngroups = 2;
	h.flags |= 8;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(agentd_spawn_decode(buf, (size_t)n, &j), -EBADMSG);
	h.flags &= ~8u;
	h.uid = 0;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(agentd_spawn_decode(buf, (size_t)n, &j), -EBADMSG);
	h.uid = 1879048200;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(agentd_spawn_decode(buf, (size_t)n, &j), 0);

	/* A name longer than a user name can be. */
	memset(id.name, 'a', sizeof(id.name) - 1);
	id.name[sizeof(id.name) - 1] = '\0';
	n = agentd_spawn_encode(&s, false, buf, sizeof(buf));
	assert_int_equal(agentd_spawn_decode(buf, (size_t)n, &j), 0);
	buf[sizeof(h) + AGENT_NAME_MAX] = 'a'; /* its NUL, overwritten */
	assert_int_equal(agentd_spawn_decode(buf, (size_t)n, &j), -EBADMSG);
}

/* What does not fit is refused by the encoder, not cut. */
static void test_too_big(void **state)
{
	const char *argv[AGENT_ARGV_MAX + 2];
	struct agentd_run_spec s;
	struct agent_identity id;

	(void)state;
	for (int i = 0; i < AGENT_ARGV_MAX + 1; i++)
		argv[i] = "x";
	argv[AGENT_ARGV_MAX + 1] = NULL;
	spec(&s, &id, argv);
	assert_int_equal(agentd_spawn_encode(&s, false, buf, sizeof(buf)), -E2BIG);
	argv[AGENT_ARGV_MAX] = NULL;
	assert_true(agentd_spawn_encode(&s, false, buf, sizeof(buf)) > 0);
	assert_int_equal(agentd_spawn_encode(&s, false, buf, sizeof(struct agentd_spawn_hdr) + 8),
			 -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
