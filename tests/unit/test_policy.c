/* Unit tests: the delegation decision, every branch. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agentd/config.h"
#include "agentd/policy.h"

#define NOW 1800000000

static const char policy[] =
	"max_ttl = \"8h\"; default_ttl = \"2h\";\n"
	"purposes = (\n"
	"  { name = \"ci\"; delegate = [ \"ci\" ]; max_depth = 2;"
	"    services = { su = \"allow\"; login = \"deny\"; sudo = \"approve\"; }; },\n"
	"  { name = \"research\"; max_ttl = \"4h\"; },\n"
	"  { name = \"deep\"; delegate = [ \"deep\" ]; max_depth = 8; }\n"
	");\n"
	"delegators = (\n"
	"  { who = [ \"%developers\" ]; purposes = [ \"ci\" ]; max_ttl = \"1h\"; },\n"
	"  { who = [ \"orchestrator\" ]; purposes = [ \"*\" ]; may_act_for = true; },\n"
	"  { who = [ \"*\" ]; purposes = [ \"research\" ]; }\n"
	");\n";

static struct agent_config *cfg;

static struct agent_caller user(const char *name, const char *group)
{
	struct agent_caller c = { .uid = 2000 };

	snprintf(c.user, sizeof(c.user), "%s", name);
	if (group) {
		snprintf(c.groups[0], sizeof(c.groups[0]), "%s", group);
		c.ngroups = 1;
	}
	return c;
}

static struct agent_create_decision decide(const struct agent_caller *c, const char *purpose,
					   uint64_t ttl, const char *for_user)
{
	struct agent_create_req req = { .purpose = purpose, .ttl = ttl, .for_user = for_user };
	struct agent_create_decision d;

	agent_policy_create(cfg, c, &req, NOW, &d);
	return d;
}

static void test_unknown_purpose(void **state)
{
	struct agent_caller root = { .uid = 0 };
	struct agent_create_decision d;

	(void)state;
	snprintf(root.user, sizeof(root.user), "root");
	d = decide(&root, "nosuch", 0, NULL);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "unknown purpose nosuch"));
}

static void test_root(void **state)
{
	struct agent_caller root = { .uid = 0 };
	struct agent_create_decision d;

	(void)state;
	snprintf(root.user, sizeof(root.user), "root");
	d = decide(&root, "ci", 0, "alice");
	assert_true(d.allowed);
	assert_string_equal(d.reason, "root");
	assert_string_equal(d.subject, "alice");
	assert_int_equal(d.chain_len, 2);
	assert_string_equal(d.chain[0], "alice");
	assert_string_equal(d.chain[1], "root");
	assert_int_equal(d.ttl, 7200); /* default */
	assert_int_equal(d.expires, NOW + 7200);
	assert_int_equal(d.depth, 1);
	d = decide(&root, "ci", 9 * 3600, NULL);
	assert_false(d.allowed); /* even root stays under max_ttl */
	assert_non_null(strstr(d.reason, "maximum of 8h"));
}

static void test_delegator_group(void **state)
{
	struct agent_caller alice = user("alice", "developers");
	struct agent_create_decision d;

	(void)state;
	d = decide(&alice, "ci", 1800, NULL);
	assert_true(d.allowed);
	assert_non_null(strstr(d.reason, "delegator rule at line 8"));
	assert_string_equal(d.subject, "alice");
	assert_int_equal(d.chain_len, 1);
	assert_string_equal(d.chain[0], "alice");
	d = decide(&alice, "ci", 0, NULL); /* default 2h clamped to the rule's 1h */
	assert_true(d.allowed);
	assert_int_equal(d.ttl, 3600);
	d = decide(&alice, "ci", 7200, NULL); /* asked above the rule: refused */
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "maximum of 1h"));
	d = decide(&alice, "ci", 600, "bob"); /* no may_act_for */
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "acting for another subject"));
}

static void test_delegator_star_and_mismatch(void **state)
{
	struct agent_caller m = user("mallory", NULL);
	struct agent_create_decision d;

	(void)state;
	d = decide(&m, "ci", 0, NULL);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "no delegator rule lets mallory create purpose ci"));
	d = decide(&m, "research", 0, NULL); /* "*" rule */
	assert_true(d.allowed);
	assert_int_equal(d.ttl, 7200);
	d = decide(&m, "research", 5 * 3600, NULL); /* purpose max 4h */
	assert_false(d.allowed);
	struct agent_caller dev = user("alice", "developers");
	d = decide(&dev, "research", 0, NULL); /* first rule does not list it: the "*" rule */
	assert_true(d.allowed);
	assert_non_null(strstr(d.reason, "line 10"));
}

static void test_act_for(void **state)
{
	struct agent_caller o = user("orchestrator", NULL);
	struct agent_create_decision d;

	(void)state;
	d = decide(&o, "deep", 0, "alice");
	assert_true(d.allowed);
	assert_string_equal(d.subject, "alice");
	assert_int_equal(d.chain_len, 2);
	assert_string_equal(d.chain[0], "alice");
	assert_string_equal(d.chain[1], "orchestrator");
	d = decide(&o, "deep", 0, "orchestrator"); /* for itself: no duplicate hop */
	assert_true(d.allowed);
	assert_int_equal(d.chain_len, 1);
}

static struct agent_identity parent_of(const char *purpose, unsigned depth, int64_t expires)
{
	struct agent_identity p = { 0 };

	snprintf(p.name, sizeof(p.name), "agent-parent");
	p.uid = 1879048192;
	snprintf(p.purpose, sizeof(p.purpose), "%s", purpose);
	snprintf(p.subject, sizeof(p.subject), "alice");
	snprintf(p.chain[0], sizeof(p.chain[0]), "alice");
	p.chain_len = 1;
	p.depth = depth;
	p.expires = expires;
	p.state = AGENT_STATE_LIVE;
	return p;
}

static void test_sub_delegation(void **state)
{
	struct agent_identity parent = parent_of("ci", 1, NOW + 1800);
	struct agent_caller c = { .uid = parent.uid, .agent = &parent };
	struct agent_create_decision d;

	(void)state;
	snprintf(c.user, sizeof(c.user), "%s", parent.name);
	d = decide(&c, "ci", 600, NULL);
	assert_true(d.allowed);
	assert_string_equal(d.subject, "alice");
	assert_int_equal(d.chain_len, 2);
	assert_string_equal(d.chain[1], "agent-parent");
	assert_string_equal(d.parent, "agent-parent");
	assert_int_equal(d.depth, 2);
	d = decide(&c, "ci", 0, NULL); /* default clamped to the parent's end */
	assert_true(d.allowed);
	assert_int_equal(d.expires, NOW + 1800);
	d = decide(&c, "ci", 3600, NULL); /* would outlive the parent */
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "outlive the parent"));
	d = decide(&c, "research", 60, NULL); /* not delegable */
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "may not delegate"));
	d = decide(&c, "ci", 60, "bob");
	assert_false(d.allowed);

	parent = parent_of("ci", 2, NOW + 1800); /* already at max_depth 2 */
	d = decide(&c, "ci", 60, NULL);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "max_depth"));

	parent = parent_of("deep", 1, NOW - 1); /* expired parent */
	d = decide(&c, "deep", 0, NULL);
	assert_false(d.allowed);

	parent = parent_of("deep", 1, NOW + 100); /* chain at its maximum */
	parent.chain_len = AGENT_CHAIN_MAX;
	d = decide(&c, "deep", 10, NULL);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "chain longer"));
}

static void test_visibility(void **state)
{
	struct agent_identity id = parent_of("ci", 1, NOW + 100);
	struct agent_caller alice = user("alice", NULL), bob = user("bob", NULL);
	struct agent_caller root = { .uid = 0 }, orch = user("orchestrator", NULL);
	struct agent_caller self = { .uid = id.uid, .agent = &id };
	struct agent_caller nobody = { .uid = 1234 };

	(void)state;
	snprintf(self.user, sizeof(self.user), "%s", id.name);
	snprintf(id.chain[1], sizeof(id.chain[1]), "orchestrator");
	id.chain_len = 2;
	assert_true(agent_policy_may_see(&root, &id));
	assert_true(agent_policy_may_see(&alice, &id));
	assert_true(agent_policy_may_see(&orch, &id));
	assert_true(agent_policy_may_see(&self, &id));
	assert_false(agent_policy_may_see(&bob, &id));
	assert_false(agent_policy_may_see(&nobody, &id));
	assert_true(agent_policy_may_revoke(&root, &id));
	assert_true(agent_policy_may_revoke(&alice, &id));
	assert_true(agent_policy_may_revoke(&orch, &id));
	assert_true(agent_policy_may_revoke(&self, &id));
	assert_false(agent_policy_may_revoke(&bob, &id));
	/* a subject who is not in the chain sees but cannot revoke */
	snprintf(id.subject, sizeof(id.subject), "carol");
	struct agent_caller carol = user("carol", NULL);
	assert_true(agent_policy_may_see(&carol, &id));
	assert_false(agent_policy_may_revoke(&carol, &id));
}

/* A live identity of purpose, with both deadlines set from now. */
static struct agent_identity svc_ident(const char *purpose, const struct agent_now *now)
{
	struct agent_identity id = parent_of(purpose, 1, now->real + 600);

	snprintf(id.name, sizeof(id.name), "agent-svc001");
	id.expires_boot_ns = agent_boot_deadline(id.expires, now);
	return id;
}

static struct agent_service_decision svc(const struct agent_identity *id, const char *service,
					 const struct agent_now *now)
{
	struct agent_service_decision d;

	memset(&d, 0x5a, sizeof(d)); /* the decision must not depend on the caller's bytes */
	agent_policy_service(cfg, id, service, NULL, now, &d);
	return d;
}

static void test_service_not_identity(void **state)
{
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_service_decision d;

	(void)state;
	d = svc(NULL, "su", &now);
	assert_false(d.allowed);
	assert_int_equal(d.err, ENOENT);
	assert_string_equal(d.reason, "not an agent identity");
	assert_string_equal(d.rule, "");
}

static void test_service_retired(void **state)
{
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_identity id = svc_ident("ci", &now);
	struct agent_service_decision d;

	(void)state;
	id.state = AGENT_STATE_RETIRED;
	id.retire_reason = AGENT_RETIRE_REVOKED;
	d = svc(&id, "su", &now); /* an allowed service, still within its TTL */
	assert_false(d.allowed);
	assert_int_equal(d.err, EKEYEXPIRED);
	assert_string_equal(d.reason, "agent-svc001 is retired (revoked)");
	id.retire_reason = AGENT_RETIRE_TASK_ENDED;
	d = svc(&id, "su", &now);
	assert_int_equal(d.err, EKEYEXPIRED);
	assert_non_null(strstr(d.reason, "(task-ended)"));
}

static void test_service_expired(void **state)
{
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_identity id = svc_ident("ci", &now);
	struct agent_now later;
	struct agent_service_decision d;

	(void)state;
	d = svc(&id, "su", &now);
	assert_true(d.allowed);
	/* the wall clock reached the deadline (boot clock agrees) */
	later.real = id.expires;
	later.boot_ns = id.expires_boot_ns;
	d = svc(&id, "su", &later);
	assert_false(d.allowed);
	assert_int_equal(d.err, EKEYEXPIRED);
	assert_string_equal(d.reason, "agent-svc001 has expired");
	/* the wall clock alone: no boot deadline recorded */
	id.expires_boot_ns = 0;
	later.real = id.expires;
	later.boot_ns = 0;
	d = svc(&id, "su", &later);
	assert_int_equal(d.err, EKEYEXPIRED);
	/* the boot clock alone: the wall clock was set back, the TTL still ends */
	id = svc_ident("ci", &now);
	later.real = now.real - 3600;
	later.boot_ns = id.expires_boot_ns;
	d = svc(&id, "su", &later);
	assert_false(d.allowed);
	assert_int_equal(d.err, EKEYEXPIRED);
	later.boot_ns = id.expires_boot_ns - 1; /* one nanosecond before: live */
	d = svc(&id, "su", &later);
	assert_true(d.allowed);
}

static void test_service_unknown_purpose(void **state)
{
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_identity id = svc_ident("gone", &now); /* purpose removed by a reload */
	struct agent_service_decision d;

	(void)state;
	d = svc(&id, "su", &now);
	assert_false(d.allowed);
	assert_int_equal(d.err, EACCES);
	assert_string_equal(d.reason, "purpose gone is not in the policy");
}

static void test_service_rules(void **state)
{
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_identity id = svc_ident("ci", &now);
	struct agent_service_decision d;

	(void)state;
	d = svc(&id, "su", &now);
	assert_true(d.allowed);
	assert_int_equal(d.err, 0);
	assert_string_equal(d.rule, "purpose ci: su = allow");
	assert_string_equal(d.reason, "service su allowed for purpose ci");

	d = svc(&id, "login", &now);
	assert_false(d.allowed);
	assert_int_equal(d.err, EACCES);
	assert_string_equal(d.rule, "purpose ci: login = deny");
	assert_string_equal(d.reason, "service login is denied for purpose ci");

	d = svc(&id, "sudo", &now); /* no step-up yet: a denial that says so */
	assert_false(d.allowed);
	assert_int_equal(d.err, EACCES);
	assert_string_equal(d.rule, "purpose ci: sudo = approve");
	assert_non_null(strstr(d.reason, "needs step-up approval"));

	d = svc(&id, "sshd", &now);
	assert_false(d.allowed);
	assert_int_equal(d.err, EACCES);
	assert_string_equal(d.rule, "purpose ci: sshd unlisted = deny");
	assert_string_equal(d.reason, "service sshd is not allowed for purpose ci");

	d = svc(&id, "Su", &now); /* service names match exactly */
	assert_false(d.allowed);
	assert_string_equal(d.rule, "purpose ci: Su unlisted = deny");

	d = svc(&id, NULL, &now);
	assert_false(d.allowed);
	assert_int_equal(d.err, EACCES);
	assert_string_equal(d.rule, "purpose ci: ? unlisted = deny");

	/* a purpose with no services at all denies every one */
	id = svc_ident("research", &now);
	d = svc(&id, "su", &now);
	assert_false(d.allowed);
	assert_int_equal(d.err, EACCES);
	assert_string_equal(d.rule, "purpose research: su unlisted = deny");
}

static int setup(void **state)
{
	char err[256];

	(void)state;
	if (agent_config_parse_string(policy, "policy.conf", &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	agent_config_free(cfg);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_purpose), cmocka_unit_test(test_root),
		cmocka_unit_test(test_delegator_group), cmocka_unit_test(test_delegator_star_and_mismatch),
		cmocka_unit_test(test_act_for),         cmocka_unit_test(test_sub_delegation),
		cmocka_unit_test(test_visibility),
		cmocka_unit_test(test_service_not_identity), cmocka_unit_test(test_service_retired),
		cmocka_unit_test(test_service_expired),      cmocka_unit_test(test_service_unknown_purpose),
		cmocka_unit_test(test_service_rules),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
