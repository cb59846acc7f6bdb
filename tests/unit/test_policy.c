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

static void test_command_matches(void **state)
{
	(void)state;
	/* the path alone: any arguments, or none */
	assert_true(agent_policy_command_matches("/usr/bin/id", "/usr/bin/id"));
	assert_true(agent_policy_command_matches("/usr/bin/id", "/usr/bin/id -u"));
	assert_true(agent_policy_command_matches("/usr/bin/id", "/usr/bin/id -u -n root"));
	/* the path matches exactly, not as a prefix, and never as a glob */
	assert_false(agent_policy_command_matches("/usr/bin/id", "/usr/bin/idx"));
	assert_false(agent_policy_command_matches("/usr/bin/id", "/usr/bin/id2 -u"));
	assert_false(agent_policy_command_matches("/usr/bin/id", "/usr/bin/i"));
	assert_false(agent_policy_command_matches("/usr/bin/id", "/usr/sbin/id"));
	assert_false(agent_policy_command_matches("/usr/bin/id", "/bin/id"));
	assert_false(agent_policy_command_matches("/usr/bin/*", "/usr/bin/id"));
	assert_false(agent_policy_command_matches("/usr/bin/id", "/usr/bin/[i]d"));
	assert_false(agent_policy_command_matches("/usr/bin/id", ""));
	/* exact arguments */
	assert_true(agent_policy_command_matches("/usr/bin/id -u", "/usr/bin/id -u"));
	assert_false(agent_policy_command_matches("/usr/bin/id -u", "/usr/bin/id"));
	assert_false(agent_policy_command_matches("/usr/bin/id -u", "/usr/bin/id -un"));
	assert_false(agent_policy_command_matches("/usr/bin/id -u", "/usr/bin/id -u root"));
	assert_false(agent_policy_command_matches("/usr/bin/id -u", "/usr/bin/idx -u"));
	/* a glob over the arguments as sudo joins them */
	assert_true(agent_policy_command_matches("/usr/bin/apt-get install *",
						 "/usr/bin/apt-get install vim"));
	assert_true(agent_policy_command_matches("/usr/bin/apt-get install *",
						 "/usr/bin/apt-get install vim curl"));
	assert_true(agent_policy_command_matches("/usr/bin/apt-get install *",
						 "/usr/bin/apt-get install "));
	assert_false(agent_policy_command_matches("/usr/bin/apt-get install *",
						  "/usr/bin/apt-get install"));
	assert_false(agent_policy_command_matches("/usr/bin/apt-get install *",
						  "/usr/bin/apt-get remove vim"));
	assert_false(agent_policy_command_matches("/usr/bin/apt-get install *",
						  "/usr/bin/apt-get  install vim"));
	assert_false(
		agent_policy_command_matches("/usr/bin/apt-get install *", "/usr/bin/apt-get"));
	/* '*' crosses '/' (no FNM_PATHNAME) */
	assert_true(agent_policy_command_matches("/bin/rm -f /tmp/*", "/bin/rm -f /tmp/a/b"));
	assert_false(agent_policy_command_matches("/bin/rm -f /tmp/*", "/bin/rm -f /etc/passwd"));
	/* "" means no arguments at all */
	assert_true(agent_policy_command_matches("/usr/bin/true \"\"", "/usr/bin/true"));
	assert_false(agent_policy_command_matches("/usr/bin/true \"\"", "/usr/bin/true x"));
	assert_false(agent_policy_command_matches("/usr/bin/true \"\"", "/usr/bin/true \"\""));
	/* other glob characters in the rule's arguments */
	assert_true(agent_policy_command_matches("/bin/ls /tmp/[ab]?", "/bin/ls /tmp/ax"));
	assert_true(agent_policy_command_matches("/bin/ls /tmp/[ab]?", "/bin/ls /tmp/b1"));
	assert_false(agent_policy_command_matches("/bin/ls /tmp/[ab]?", "/bin/ls /tmp/cx"));
	assert_false(agent_policy_command_matches("/bin/ls /tmp/[ab]?", "/bin/ls /tmp/a"));
	assert_false(agent_policy_command_matches("/bin/ls /tmp/[!a]", "/bin/ls /tmp/a"));
	assert_true(agent_policy_command_matches("/bin/ls /tmp/[!a]", "/bin/ls /tmp/b"));
	/* an escaped glob character is literal */
	assert_true(agent_policy_command_matches("/bin/echo \\*", "/bin/echo *"));
	assert_false(agent_policy_command_matches("/bin/echo \\*", "/bin/echo x"));
	/* glob characters in the command are only text */
	assert_false(agent_policy_command_matches("/bin/echo a", "/bin/echo *"));
	assert_false(agent_policy_command_matches("/bin/echo a", "/bin/echo ?"));
	/* an unknown command matches nothing */
	assert_false(agent_policy_command_matches("/usr/bin/id", NULL));
	assert_false(agent_policy_command_matches("/usr/bin/true \"\"", NULL));
}

static const char sudo_policy[] =
	"approvers = [ \"alice\", \"%admins\", \"carol\" ];\n"
	"purposes = (\n"
	"  { name = \"ops\"; services = { sudo = \"allow\"; sudo-i = \"allow\"; su = \"allow\"; };\n"
	"    sudo_commands = {\n"
	"      allow = [ \"/usr/bin/id\", \"/usr/bin/apt-get install *\", \"/usr/bin/systemctl\" ];\n"
	"      approve = [ \"/usr/bin/apt-get install *\", \"/usr/bin/systemctl\" ];\n"
	"      deny = [ \"/usr/bin/apt-get install evil*\", \"/usr/bin/systemctl\" ]; }; },\n"
	"  { name = \"gated\"; services = { sudo = \"approve\"; };\n"
	"    sudo_commands = { allow = [ \"/usr/bin/id\" ]; deny = [ \"/bin/rm\" ]; }; },\n"
	"  { name = \"closed\"; services = { sudo = \"deny\"; su = \"allow\"; };\n"
	"    sudo_commands = { allow = [ \"/usr/bin/id\" ]; }; },\n"
	"  { name = \"empty\"; services = { sudo = \"allow\"; }; sudo_commands = { }; },\n"
	"  { name = \"plain\"; services = { sudo = \"allow\"; }; }\n"
	");\n";

static struct agent_service_decision sudo_svc(const struct agent_config *c, const char *purpose,
					      const char *service, const char *command)
{
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_identity id = svc_ident(purpose, &now);
	struct agent_service_decision d;

	memset(&d, 0x5a, sizeof(d));
	agent_policy_service(c, &id, service, command, &now, &d);
	return d;
}

static struct agent_config *parse_or_die(const char *text)
{
	struct agent_config *c = NULL;
	char err[256] = "";

	if (agent_config_parse_string(text, "sudo.conf", &c, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return c;
}

#define assert_allowed(d, want_rule)                                                               \
	do {                                                                                       \
		assert_true((d).allowed);                                                          \
		assert_false((d).approve);                                                         \
		assert_int_equal((d).err, 0);                                                      \
		assert_string_equal((d).rule, want_rule);                                          \
	} while (0)
#define assert_approve(d, want_rule)                                                               \
	do {                                                                                       \
		assert_false((d).allowed);                                                         \
		assert_true((d).approve);                                                          \
		assert_int_equal((d).err, EACCES);                                                 \
		assert_non_null(strstr((d).reason, "needs step-up approval"));                     \
		assert_string_equal((d).rule, want_rule);                                          \
	} while (0)
#define assert_denied(d, want_rule)                                                                \
	do {                                                                                       \
		assert_false((d).allowed);                                                         \
		assert_false((d).approve);                                                         \
		assert_int_equal((d).err, EACCES);                                                 \
		assert_string_equal((d).rule, want_rule);                                          \
	} while (0)

static void test_sudo_commands_order(void **state)
{
	struct agent_config *c = parse_or_die(sudo_policy);
	struct agent_service_decision d;

	(void)state;
	/* only in allow */
	d = sudo_svc(c, "ops", "sudo", "/usr/bin/id -u");
	assert_allowed(d, "purpose ops: sudo_commands allow \"/usr/bin/id\"");
	assert_string_equal(d.reason, "service sudo allowed for purpose ops");
	/* in allow and approve: approve wins */
	d = sudo_svc(c, "ops", "sudo", "/usr/bin/apt-get install vim");
	assert_approve(d, "purpose ops: sudo_commands approve \"/usr/bin/apt-get install *\"");
	assert_string_equal(d.reason, "service sudo needs step-up approval for purpose ops");
	/* in all three: deny wins */
	d = sudo_svc(c, "ops", "sudo", "/usr/bin/apt-get install evil-pkg");
	assert_denied(d, "purpose ops: sudo_commands deny \"/usr/bin/apt-get install evil*\"");
	assert_string_equal(d.reason,
			    "command /usr/bin/apt-get install evil-pkg is denied for purpose ops");
	d = sudo_svc(c, "ops", "sudo", "/usr/bin/systemctl restart nginx");
	assert_denied(d, "purpose ops: sudo_commands deny \"/usr/bin/systemctl\"");
	/* no rule matches: the service's rule */
	d = sudo_svc(c, "ops", "sudo", "/usr/bin/whoami");
	assert_allowed(d, "purpose ops: no sudo_commands rule, sudo = allow");
	d = sudo_svc(c, "ops", "sudo", "/usr/bin/idx");
	assert_allowed(d, "purpose ops: no sudo_commands rule, sudo = allow");
	/* sudo-i is sudo too */
	d = sudo_svc(c, "ops", "sudo-i", "/usr/bin/systemctl");
	assert_denied(d, "purpose ops: sudo_commands deny \"/usr/bin/systemctl\"");
	d = sudo_svc(c, "ops", "sudo-i", "/usr/bin/apt-get install x");
	assert_approve(d, "purpose ops: sudo_commands approve \"/usr/bin/apt-get install *\"");
	assert_string_equal(d.reason, "service sudo-i needs step-up approval for purpose ops");

	/* service approve: an allow rule lets a command through, deny refuses */
	d = sudo_svc(c, "gated", "sudo", "/usr/bin/id");
	assert_allowed(d, "purpose gated: sudo_commands allow \"/usr/bin/id\"");
	d = sudo_svc(c, "gated", "sudo", "/bin/rm -rf /");
	assert_denied(d, "purpose gated: sudo_commands deny \"/bin/rm\"");
	d = sudo_svc(c, "gated", "sudo", "/bin/ls");
	assert_approve(d, "purpose gated: no sudo_commands rule, sudo = approve");

	/* service deny: no command rule overrides it */
	d = sudo_svc(c, "closed", "sudo", "/usr/bin/id");
	assert_denied(d, "purpose closed: sudo = deny");
	assert_string_equal(d.reason, "service sudo is denied for purpose closed");
	agent_config_free(c);
}

static void test_sudo_commands_unknown(void **state)
{
	struct agent_config *c = parse_or_die(sudo_policy);
	struct agent_service_decision d;

	(void)state;
	/* sudo = allow: an unknown command is never allowed outright */
	d = sudo_svc(c, "ops", "sudo", NULL);
	assert_approve(d, "purpose ops: sudo command unknown = approve");
	d = sudo_svc(c, "ops", "sudo-i", NULL);
	assert_approve(d, "purpose ops: sudo command unknown = approve");
	/* even with an empty sudo_commands group */
	d = sudo_svc(c, "empty", "sudo", NULL);
	assert_approve(d, "purpose empty: sudo command unknown = approve");
	d = sudo_svc(c, "empty", "sudo", "/usr/bin/id");
	assert_allowed(d, "purpose empty: no sudo_commands rule, sudo = allow");
	/* sudo = approve stays approve */
	d = sudo_svc(c, "gated", "sudo", NULL);
	assert_approve(d, "purpose gated: sudo command unknown = approve");
	/* sudo = deny stays deny */
	d = sudo_svc(c, "closed", "sudo", NULL);
	assert_denied(d, "purpose closed: sudo = deny");
	/* without sudo_commands the command plays no part */
	d = sudo_svc(c, "plain", "sudo", NULL);
	assert_allowed(d, "purpose plain: sudo = allow");
	d = sudo_svc(c, "plain", "sudo", "/usr/bin/systemctl");
	assert_allowed(d, "purpose plain: sudo = allow");
	agent_config_free(c);
}

static void test_sudo_commands_other_services(void **state)
{
	struct agent_config *c = parse_or_die(sudo_policy);
	struct agent_service_decision d;

	(void)state;
	/* su ignores sudo_commands, known command or not */
	d = sudo_svc(c, "ops", "su", "/usr/bin/systemctl");
	assert_allowed(d, "purpose ops: su = allow");
	d = sudo_svc(c, "ops", "su", NULL);
	assert_allowed(d, "purpose ops: su = allow");
	d = sudo_svc(c, "closed", "su", "/usr/bin/id");
	assert_allowed(d, "purpose closed: su = allow");
	/* a service whose name starts with sudo is not sudo */
	d = sudo_svc(c, "ops", "sudoedit", "/usr/bin/id");
	assert_denied(d, "purpose ops: sudoedit unlisted = deny");
	agent_config_free(c);
}

/* The longest rule text (a 32-byte purpose, a 256-byte command rule) comes
 * back whole: the audit record and agentctl pending show which rule. */
static void test_sudo_commands_longest_rule(void **state)
{
	char purpose[AGENT_PURPOSE_MAX + 1], rule[AGENT_CMD_RULE_MAX + 1], text[1024], want[512];
	char command[AGENT_CMD_RULE_MAX + 1];
	struct agent_config *c;
	struct agent_service_decision d;

	(void)state;
	memset(purpose, 'p', AGENT_PURPOSE_MAX);
	purpose[AGENT_PURPOSE_MAX] = '\0';
	memcpy(rule, "/usr/bin/x ", 11);
	memset(rule + 11, 'a', AGENT_CMD_RULE_MAX - 11);
	rule[AGENT_CMD_RULE_MAX] = '\0';
	snprintf(text, sizeof(text),
		 "purposes = ( { name = \"%s\"; services = { sudo = \"allow\"; };\n"
		 "  sudo_commands = { approve = [ \"%s\" ]; }; } );\n",
		 purpose, rule);
	c = parse_or_die(text);
	snprintf(command, sizeof(command), "%s", rule); /* the rule's glob is literal text */
	d = sudo_svc(c, purpose, "sudo", command);
	snprintf(want, sizeof(want), "purpose %s: sudo_commands approve \"%s\"", purpose, rule);
	assert_approve(d, want);
	assert_true(strlen(d.rule) <= AGENT_RULE_TEXT_MAX);
	agent_config_free(c);
}

static struct agent_service_decision runas_svc(const struct agent_config *c, const char *purpose,
					       const char *command, const char *runas)
{
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_identity id = svc_ident(purpose, &now);
	struct agent_service_decision d;

	memset(&d, 0x5a, sizeof(d));
	agent_policy_sudo(c, &id, "sudo", command, runas, &now, &d);
	return d;
}

static void test_sudo_runas(void **state)
{
	static const char text[] =
		"purposes = (\n"
		"  { name = \"db\"; services = { sudo = \"allow\"; su = \"allow\"; };\n"
		"    sudo_commands = { allow = [ \"/usr/bin/id\", \"(postgres,www-data) /usr/bin/psql\" ];\n"
		"      approve = [ \"(bob) /usr/bin/id -u\" ]; }; },\n"
		"  { name = \"plain\"; services = { sudo = \"allow\"; su = \"allow\"; }; },\n"
		"  { name = \"gated\"; services = { sudo = \"approve\"; }; }\n"
		");\n";
	struct agent_config *c = parse_or_die(text);
	struct agent_service_decision d;
	const char *rest;

	(void)state;
	/* a rule without run-as users: root only */
	d = runas_svc(c, "db", "/usr/bin/id", "root");
	assert_allowed(d, "purpose db: sudo_commands allow \"/usr/bin/id\"");
	d = runas_svc(c, "db", "/usr/bin/id", "bob");
	assert_false(d.allowed);
	assert_false(d.approve);
	assert_string_equal(d.rule, "purpose db: sudo run-as bob unlisted = deny");
	assert_string_equal(d.reason, "running commands as bob is denied for purpose db");
	/* a rule naming run-as users matches those only */
	d = runas_svc(c, "db", "/usr/bin/psql -l", "postgres");
	assert_allowed(d, "purpose db: sudo_commands allow \"(postgres,www-data) /usr/bin/psql\"");
	d = runas_svc(c, "db", "/usr/bin/psql -l", "www-data");
	assert_true(d.allowed);
	d = runas_svc(c, "db", "/usr/bin/psql -l", "root");
	assert_allowed(d, "purpose db: no sudo_commands rule, sudo = allow");
	d = runas_svc(c, "db", "/usr/bin/psql -l", "postgresx");
	assert_false(d.allowed);
	assert_false(d.approve);
	d = runas_svc(c, "db", "/usr/bin/id -u", "bob");
	assert_approve(d, "purpose db: sudo_commands approve \"(bob) /usr/bin/id -u\"");
	/* an unknown run-as user: never allowed outright */
	d = runas_svc(c, "db", "/usr/bin/id", NULL);
	assert_approve(d, "purpose db: sudo run-as user unknown = approve");
	d = runas_svc(c, "db", "/usr/bin/psql", NULL);
	assert_approve(d, "purpose db: sudo run-as user unknown = approve");
	/* no sudo_commands: sudo = allow means root only */
	d = runas_svc(c, "plain", "/usr/bin/id", "root");
	assert_true(d.allowed);
	d = runas_svc(c, "plain", "/usr/bin/id", "bob");
	assert_false(d.allowed);
	assert_false(d.approve);
	d = runas_svc(c, "plain", NULL, "root");
	assert_true(d.allowed);
	/* approve stays approve for root, becomes deny for another user */
	d = runas_svc(c, "gated", "/usr/bin/id", "root");
	assert_true(d.approve);
	d = runas_svc(c, "gated", "/usr/bin/id", "bob");
	assert_false(d.approve);
	assert_false(d.allowed);
	d = runas_svc(c, "gated", "/usr/bin/id", NULL);
	assert_true(d.approve);
	/* other services ignore the run-as user */
	{
		struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
		struct agent_identity id = svc_ident("plain", &now);

		agent_policy_sudo(c, &id, "su", NULL, "bob", &now, &d);
		assert_true(d.allowed);
	}
	agent_config_free(c);
	/* the rule syntax */
	assert_true(agent_config_cmd_rule_valid("/usr/bin/id", &rest));
	assert_string_equal(rest, "/usr/bin/id");
	assert_true(agent_config_cmd_rule_valid("(a,b-c) /usr/bin/id -u", &rest));
	assert_string_equal(rest, "/usr/bin/id -u");
	assert_false(agent_config_cmd_rule_valid("() /usr/bin/id", &rest));
	assert_false(agent_config_cmd_rule_valid("(a,) /usr/bin/id", &rest));
	assert_false(agent_config_cmd_rule_valid("(Bad) /usr/bin/id", &rest));
	assert_false(agent_config_cmd_rule_valid("(a)/usr/bin/id", &rest));
	assert_false(agent_config_cmd_rule_valid("(a /usr/bin/id", &rest));
	assert_false(agent_policy_rule_matches("(bob) /usr/bin/id", "/usr/bin/id", NULL));
	assert_false(agent_policy_rule_matches("(bob) /usr/bin/id", "/usr/bin/id", "bo"));
	assert_true(agent_policy_rule_matches("(al,bob) /usr/bin/id", "/usr/bin/id", "bob"));
	/* config rejects a malformed prefix */
	{
		struct agent_config *bad = NULL;
		char err[256] = "";

		assert_int_equal(agent_config_parse_string(
					 "purposes = ( { name = \"x\"; sudo_commands = { allow = [ "
					 "\"(Root) /usr/bin/id\" ]; }; } );\n",
					 "bad.conf", &bad, err, sizeof(err)),
				 -EINVAL);
		assert_null(bad);
	}
}

static void test_may_approve(void **state)
{
	struct agent_config *c = parse_or_die(sudo_policy);
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_identity id = svc_ident("ops", &now), other = svc_ident("ops", &now);
	struct agent_caller alice = user("alice", NULL), bob = user("bob", "developers");
	struct agent_caller dave = user("dave", "admins"), carol = user("carol", NULL);
	struct agent_caller nameless = { .uid = 4242 };
	struct agent_caller self = user(id.name, "admins");
	struct agent_caller agent = user("agent-other1", "admins");
	char why[160];

	(void)state;
	snprintf(other.name, sizeof(other.name), "agent-other1");
	agent.uid = other.uid;
	agent.agent = &other;
	/* id's subject is alice */
	assert_true(agent_policy_may_approve(c, &alice, &id, why, sizeof(why)));
	assert_string_equal(why, "alice is an approver");
	assert_true(agent_policy_may_approve(c, &dave, &id, why, sizeof(why))); /* %admins */
	assert_string_equal(why, "dave is an approver");
	assert_true(agent_policy_may_approve(c, &carol, &id, why, sizeof(why)));
	assert_false(agent_policy_may_approve(c, &bob, &id, why, sizeof(why)));
	assert_string_equal(why, "bob is not an approver (approvers in agentd.conf)");
	/* an agent identity, even one in an approver group */
	assert_false(agent_policy_may_approve(c, &agent, &id, why, sizeof(why)));
	assert_string_equal(why, "agent identities never approve");
	/* no user name */
	assert_false(agent_policy_may_approve(c, &nameless, &id, why, sizeof(why)));
	assert_string_equal(why, "uid 4242 has no user name");
	/* the identity itself, even through an approver group */
	assert_false(agent_policy_may_approve(c, &self, &id, why, sizeof(why)));
	assert_string_equal(why, "an identity never approves its own request");
	/* root is no approver unless listed */
	struct agent_caller root = user("root", NULL);
	root.uid = 0;
	assert_false(agent_policy_may_approve(c, &root, &id, why, sizeof(why)));
	agent_config_free(c);

	/* subject_may_approve = false: the subject is refused, other approvers
	 * are not */
	char text[sizeof(sudo_policy) + 64];
	snprintf(text, sizeof(text), "subject_may_approve = false;\n%s", sudo_policy);
	c = parse_or_die(text);
	assert_false(c->subject_may_approve);
	assert_false(agent_policy_may_approve(c, &alice, &id, why, sizeof(why)));
	assert_string_equal(why, "alice is the subject of agent-svc001 and subject_may_approve "
				 "is false");
	assert_true(agent_policy_may_approve(c, &carol, &id, why, sizeof(why)));
	assert_true(agent_policy_may_approve(c, &dave, &id, why, sizeof(why)));
	snprintf(id.subject, sizeof(id.subject), "carol");
	/* alice, who delegated it, stays in the chain: refused as well */
	assert_false(agent_policy_may_approve(c, &alice, &id, why, sizeof(why)));
	assert_string_equal(why, "alice is in the delegation chain of agent-svc001 and "
				 "subject_may_approve is false");
	assert_false(agent_policy_may_approve(c, &carol, &id, why, sizeof(why)));
	/* an orchestrator (dave) that created it for carol: every hop */
	snprintf(id.chain[0], sizeof(id.chain[0]), "carol");
	snprintf(id.chain[1], sizeof(id.chain[1]), "dave");
	snprintf(id.chain[2], sizeof(id.chain[2]), "agent-parent");
	id.chain_len = 3;
	assert_false(agent_policy_may_approve(c, &dave, &id, why, sizeof(why)));
	assert_string_equal(why, "dave is in the delegation chain of agent-svc001 and "
				 "subject_may_approve is false");
	assert_true(agent_policy_may_approve(c, &alice, &id, why, sizeof(why)));
	agent_config_free(c);

	/* subject_may_approve = true (default): the chain may approve */
	c = parse_or_die(sudo_policy);
	assert_true(agent_policy_may_approve(c, &dave, &id, why, sizeof(why)));
	agent_config_free(c);

	/* no approvers at all: nobody */
	c = parse_or_die("purposes = ( { name = \"ops\"; } );\n");
	assert_false(agent_policy_may_approve(c, &alice, &id, why, sizeof(why)));
	assert_false(agent_policy_may_approve(c, &dave, &id, why, sizeof(why)));
	agent_config_free(c);
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
		cmocka_unit_test(test_unknown_purpose),
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_delegator_group),
		cmocka_unit_test(test_delegator_star_and_mismatch),
		cmocka_unit_test(test_act_for),
		cmocka_unit_test(test_sub_delegation),
		cmocka_unit_test(test_visibility),
		cmocka_unit_test(test_service_not_identity),
		cmocka_unit_test(test_service_retired),
		cmocka_unit_test(test_service_expired),
		cmocka_unit_test(test_service_unknown_purpose),
		cmocka_unit_test(test_service_rules),
		cmocka_unit_test(test_command_matches),
		cmocka_unit_test(test_sudo_commands_order),
		cmocka_unit_test(test_sudo_commands_unknown),
		cmocka_unit_test(test_sudo_commands_other_services),
		cmocka_unit_test(test_sudo_commands_longest_rule),
		cmocka_unit_test(test_may_approve),
		cmocka_unit_test(test_sudo_runas),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
