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
	"  { name = \"ci\"; delegate = [ \"ci\" ]; max_depth = 2; },\n"
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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
