/* Unit tests: runtime authorization decisions (risk, two-person approval),
 * every branch. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <limits.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "agentd/actor.h"
#include "agentd/config.h"
#include "agentd/policy.h"

#define NOW 1800000000

static const char risk_policy[] =
	"approvers = [ \"alice\", \"bob\", \"carol\", \"%admins\" ];\n"
	"purposes = (\n"
	"  { name = \"low\"; services = { su = \"allow\"; sudo = \"allow\"; sshd = \"approve\"; };\n"
	"    delegate = [ \"low\", \"high\" ]; max_depth = 3;\n"
	"    service_risk = { su = \"medium\"; };\n"
	"    sudo_commands = { allow = [ \"/usr/bin/id\", \"/usr/bin/systemctl *\", \"/sbin/reboot\" ];\n"
	"      risk = { high = [ \"/usr/bin/systemctl restart *\" ];\n"
	"               critical = [ \"/sbin/reboot\", \"/usr/bin/systemctl restart db\" ]; }; }; },\n"
	"  { name = \"high\"; risk = \"high\"; services = { su = \"allow\"; sudo = \"deny\"; }; },\n"
	"  { name = \"crit\"; risk = \"critical\"; services = { su = \"allow\"; sshd = \"approve\"; }; }\n"
	");\n"
	"delegators = ( { who = [ \"*\" ]; purposes = [ \"*\" ]; } );\n";

static struct agent_config *parse_or_die(const char *text)
{
	struct agent_config *c = NULL;
	char err[256] = "";

	if (agent_config_parse_string(text, "authz.conf", &c, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return c;
}

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

static struct agent_identity ident(const char *purpose, enum agent_risk risk,
				   const struct agent_now *now)
{
	struct agent_identity id = { 0 };

	snprintf(id.name, sizeof(id.name), "agent-risk01");
	id.uid = 1879048192;
	snprintf(id.purpose, sizeof(id.purpose), "%s", purpose);
	snprintf(id.subject, sizeof(id.subject), "alice");
	snprintf(id.chain[0], sizeof(id.chain[0]), "alice");
	snprintf(id.chain[1], sizeof(id.chain[1]), "orch");
	id.chain_len = 2;
	id.depth = 1;
	id.expires = now->real + 600;
	id.expires_boot_ns = agent_boot_deadline(id.expires, now);
	id.state = AGENT_STATE_LIVE;
	id.risk = risk;
	return id;
}

static struct agent_create_decision create(const struct agent_config *c,
					   const struct agent_caller *caller, const char *purpose,
					   const char *risk)
{
	struct agent_create_req req = { .purpose = purpose };
	struct agent_create_decision d;

	if (risk) {
		req.has_risk = true;
		assert_int_equal(agent_risk_parse(risk, &req.risk), 0);
	}
	agent_policy_create(c, caller, &req, NOW, &d);
	return d;
}

static void test_risk_names(void **state)
{
	enum agent_risk r;

	(void)state;
	assert_string_equal(agent_risk_str(AGENT_RISK_LOW), "low");
	assert_string_equal(agent_risk_str(AGENT_RISK_MEDIUM), "medium");
	assert_string_equal(agent_risk_str(AGENT_RISK_HIGH), "high");
	assert_string_equal(agent_risk_str(AGENT_RISK_CRITICAL), "critical");
	assert_string_equal(agent_risk_str((enum agent_risk)9), "unknown");
	assert_int_equal(agent_risk_parse("critical", &r), 0);
	assert_int_equal(r, AGENT_RISK_CRITICAL);
	assert_int_equal(agent_risk_parse("High", &r), -EINVAL);
	assert_int_equal(agent_risk_parse("", &r), -EINVAL);
	assert_int_equal(agent_risk_parse(NULL, &r), -EINVAL);
	assert_string_equal(agent_retire_reason_str(AGENT_RETIRE_POLICY), "policy");
}

static void test_config_risk(void **state)
{
	struct agent_config *c = parse_or_die(risk_policy), *bad = NULL;
	char err[256];

	(void)state;
	assert_int_equal(c->approve_risk, AGENT_RISK_HIGH); /* the default */
	assert_int_equal(c->purposes[0].risk, AGENT_RISK_LOW);
	assert_int_equal(c->purposes[1].risk, AGENT_RISK_HIGH);
	assert_int_equal(c->purposes[2].risk, AGENT_RISK_CRITICAL);
	assert_int_equal(c->purposes[0].services[0].risk, AGENT_RISK_MEDIUM); /* su */
	assert_int_equal(c->purposes[0].services[1].risk, AGENT_RISK_LOW);    /* sudo */
	assert_int_equal(c->purposes[0].sudo_risk[AGENT_RISK_HIGH].n, 1);
	assert_int_equal(c->purposes[0].sudo_risk[AGENT_RISK_CRITICAL].n, 2);
	agent_config_free(c);

	c = parse_or_die("approve_risk = \"critical\";\n");
	assert_int_equal(c->approve_risk, AGENT_RISK_CRITICAL);
	agent_config_free(c);

	assert_int_equal(agent_config_parse_string("approve_risk = \"severe\";\n", "b.conf", &bad,
						   err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "b.conf:1: approve_risk = \"severe\": use \"low\""));
	assert_int_equal(
		agent_config_parse_string("purposes = ( { name = \"x\"; risk = \"huge\"; } );\n",
					  "b.conf", &bad, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "risk = \"huge\""));
	/* service_risk names only listed services, with a known level */
	assert_int_equal(agent_config_parse_string(
				 "purposes = ( { name = \"x\"; services = { su = \"allow\"; };\n"
				 "  service_risk = { sshd = \"high\"; }; } );\n",
				 "b.conf", &bad, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "b.conf:2: service_risk: 'sshd' is not in services"));
	assert_int_equal(agent_config_parse_string(
				 "purposes = ( { name = \"x\"; services = { su = \"allow\"; };\n"
				 "  service_risk = { su = \"extreme\"; }; } );\n",
				 "b.conf", &bad, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "service_risk 'su': use"));
	assert_int_equal(agent_config_parse_string(
				 "purposes = ( { name = \"x\"; service_risk = [ 1 ]; } );\n",
				 "b.conf", &bad, err, sizeof(err)),
			 -EINVAL);
	/* sudo_commands.risk: levels medium..critical, each a list of rules */
	assert_int_equal(agent_config_parse_string(
				 "purposes = ( { name = \"x\"; sudo_commands = { risk = {\n"
				 "  low = [ \"/bin/true\" ]; }; }; } );\n",
				 "b.conf", &bad, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "unknown setting 'low'"));
	assert_int_equal(agent_config_parse_string(
				 "purposes = ( { name = \"x\"; sudo_commands = { risk = {\n"
				 "  high = [ \"relative\" ]; }; }; } );\n",
				 "b.conf", &bad, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "is not a valid command rule"));
	assert_int_equal(
		agent_config_parse_string(
			"purposes = ( { name = \"x\"; sudo_commands = { risk = 3; }; } );\n",
			"b.conf", &bad, err, sizeof(err)),
		-EINVAL);
	assert_null(bad);
}

static void test_create_risk(void **state)
{
	struct agent_config *c = parse_or_die(risk_policy);
	struct agent_caller alice = user("alice", NULL);
	struct agent_create_decision d;
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_identity parent = ident("low", AGENT_RISK_HIGH, &now);
	struct agent_caller agent = { .uid = parent.uid, .agent = &parent };

	(void)state;
	d = create(c, &alice, "low", NULL);
	assert_true(d.allowed);
	assert_int_equal(d.risk, AGENT_RISK_LOW);
	d = create(c, &alice, "high", NULL);
	assert_true(d.allowed);
	assert_int_equal(d.risk, AGENT_RISK_HIGH); /* the purpose's */
	d = create(c, &alice, "low", "critical");  /* raised */
	assert_true(d.allowed);
	assert_int_equal(d.risk, AGENT_RISK_CRITICAL);
	d = create(c, &alice, "high", "high"); /* equal is fine */
	assert_true(d.allowed);
	assert_int_equal(d.risk, AGENT_RISK_HIGH);
	d = create(c, &alice, "high", "medium"); /* never lowered */
	assert_false(d.allowed);
	assert_string_equal(d.reason, "risk medium is below the least risk high of this "
				      "identity (its purpose or parent)");
	/* a sub-delegation inherits its parent's risk when higher */
	snprintf(agent.user, sizeof(agent.user), "agent-risk01");
	d = create(c, &agent, "low", NULL);
	assert_true(d.allowed);
	assert_int_equal(d.risk, AGENT_RISK_HIGH);
	d = create(c, &agent, "low", "low");
	assert_false(d.allowed);
	d = create(c, &agent, "low", "critical");
	assert_true(d.allowed);
	assert_int_equal(d.risk, AGENT_RISK_CRITICAL);
	agent_config_free(c);
}

static struct agent_service_decision act(const struct agent_config *c,
					 const struct agent_identity *id, const char *service,
					 const char *command)
{
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_service_decision d;

	memset(&d, 0x5a, sizeof(d));
	agent_policy_sudo(c, id, service, command, "root", &now, &d);
	return d;
}

static void test_action_risk(void **state)
{
	struct agent_config *c = parse_or_die(risk_policy);
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_identity low = ident("low", AGENT_RISK_LOW, &now);
	struct agent_identity raised = ident("low", AGENT_RISK_HIGH, &now);
	struct agent_identity crit = ident("crit", AGENT_RISK_CRITICAL, &now);
	struct agent_service_decision d;

	(void)state;
	/* low identity, low command: allowed, as before risk existed */
	d = act(c, &low, "sudo", "/usr/bin/id");
	assert_true(d.allowed);
	assert_int_equal(d.risk, AGENT_RISK_LOW);
	/* service_risk medium is below approve_risk high */
	d = act(c, &low, "su", NULL);
	assert_true(d.allowed);
	assert_int_equal(d.risk, AGENT_RISK_MEDIUM);
	/* a high-risk command: allowed by its rule, sent to one approver */
	d = act(c, &low, "sudo", "/usr/bin/systemctl restart web");
	assert_false(d.allowed);
	assert_true(d.approve);
	assert_int_equal(d.risk, AGENT_RISK_HIGH);
	assert_int_equal(d.approvals, 1);
	assert_non_null(strstr(d.rule, "; risk high >= approve_risk high"));
	assert_non_null(strstr(d.reason, "(risk high)"));
	/* the highest matching level wins: critical, two approvers */
	d = act(c, &low, "sudo", "/usr/bin/systemctl restart db");
	assert_true(d.approve);
	assert_int_equal(d.risk, AGENT_RISK_CRITICAL);
	assert_int_equal(d.approvals, 2);
	d = act(c, &low, "sudo", "/sbin/reboot");
	assert_int_equal(d.approvals, 2);
	/* a command no risk rule names keeps the identity's risk */
	d = act(c, &low, "sudo", "/usr/bin/systemctl status web");
	assert_true(d.allowed);
	/* an unknown command is never rated by a command rule */
	d = act(c, &low, "sudo", NULL);
	assert_true(d.approve);
	assert_int_equal(d.risk, AGENT_RISK_LOW);
	assert_int_equal(d.approvals, 1);
	/* the identity's risk applies to every action */
	d = act(c, &raised, "sudo", "/usr/bin/id");
	assert_true(d.approve);
	assert_int_equal(d.risk, AGENT_RISK_HIGH);
	d = act(c, &raised, "su", NULL);
	assert_true(d.approve);
	/* an approve rule of a critical identity needs two approvers */
	d = act(c, &crit, "sshd", NULL);
	assert_true(d.approve);
	assert_int_equal(d.approvals, 2);
	/* a deny stays a deny whatever the risk */
	{
		struct agent_identity h = ident("high", AGENT_RISK_HIGH, &now);

		d = act(c, &h, "sudo", "/usr/bin/id");
		assert_false(d.allowed);
		assert_false(d.approve);
	}
	/* an approve rule below approve_risk needs one approver */
	d = act(c, &low, "sshd", NULL);
	assert_true(d.approve);
	assert_int_equal(d.approvals, 1);
	agent_config_free(c);

	/* approve_risk = critical: high passes, critical still asks two */
	{
		char text[sizeof(risk_policy) + 64];

		snprintf(text, sizeof(text), "approve_risk = \"critical\";\n%s", risk_policy);
		c = parse_or_die(text);
		d = act(c, &raised, "sudo", "/usr/bin/id");
		assert_true(d.allowed);
		d = act(c, &low, "sudo", "/sbin/reboot");
		assert_true(d.approve);
		assert_int_equal(d.approvals, 2);
		agent_config_free(c);
		/* approve_risk = low: every allowed action asks */
		snprintf(text, sizeof(text), "approve_risk = \"low\";\n%s", risk_policy);
		c = parse_or_die(text);
		d = act(c, &low, "sudo", "/usr/bin/id");
		assert_true(d.approve);
		assert_int_equal(d.approvals, 1);
		agent_config_free(c);
	}
}

static void test_two_person(void **state)
{
	struct agent_config *c = parse_or_die(risk_policy);
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_identity id = ident("low", AGENT_RISK_LOW, &now);
	struct agent_caller alice = user("alice", NULL), bob = user("bob", NULL);
	struct agent_caller carol = user("carol", NULL), orch = user("orch", "admins");
	struct agent_caller dave = user("dave", "admins"), eve = user("eve", NULL);
	char prior[2][AGENT_NAME_MAX + 1] = { "bob", "" };
	char why[160];

	(void)state;
	/* high: the ordinary rules (the subject may approve by default) */
	assert_true(agent_policy_may_approve_risk(c, &alice, &id, AGENT_RISK_HIGH, NULL, 0, why,
						  sizeof(why)));
	assert_true(agent_policy_may_approve_risk(c, &orch, &id, AGENT_RISK_HIGH, NULL, 0, why,
						  sizeof(why)));
	assert_false(agent_policy_may_approve_risk(c, &eve, &id, AGENT_RISK_HIGH, NULL, 0, why,
						   sizeof(why)));
	assert_string_equal(why, "eve is not an approver (approvers in agentd.conf)");
	/* critical: never the subject, never anyone in the chain */
	assert_false(agent_policy_may_approve_risk(c, &alice, &id, AGENT_RISK_CRITICAL, NULL, 0,
						   why, sizeof(why)));
	assert_string_equal(why, "alice is in the delegation chain of agent-risk01 and the "
				 "action is critical");
	assert_false(agent_policy_may_approve_risk(c, &orch, &id, AGENT_RISK_CRITICAL, NULL, 0, why,
						   sizeof(why)));
	assert_true(agent_policy_may_approve_risk(c, &bob, &id, AGENT_RISK_CRITICAL, NULL, 0, why,
						  sizeof(why)));
	assert_true(agent_policy_may_approve_risk(c, &dave, &id, AGENT_RISK_CRITICAL, NULL, 0, why,
						  sizeof(why)));
	/* no one twice */
	assert_false(agent_policy_may_approve_risk(c, &bob, &id, AGENT_RISK_CRITICAL,
						   (const char(*)[AGENT_NAME_MAX + 1]) prior, 1,
						   why, sizeof(why)));
	assert_string_equal(why, "bob has approved this request already; it needs another "
				 "approver");
	assert_true(agent_policy_may_approve_risk(c, &carol, &id, AGENT_RISK_CRITICAL,
						  (const char(*)[AGENT_NAME_MAX + 1]) prior, 1, why,
						  sizeof(why)));
	/* the identity itself, still never */
	{
		struct agent_caller self = user("agent-risk01", "admins");

		assert_false(agent_policy_may_approve_risk(c, &self, &id, AGENT_RISK_CRITICAL, NULL,
							   0, why, sizeof(why)));
		assert_string_equal(why, "an identity never approves its own request");
	}
	agent_config_free(c);
}

static void test_config_actors(void **state)
{
	struct agent_config *c, *bad = NULL;
	char err[256];

	(void)state;
	c = parse_or_die(
		"verified_actors = ( { name = \"orch\"; path = \"/usr/bin/orch\";\n"
		"  sha256 = \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\";\n"
		"  who = [ \"orchestrator\", \"%ops\" ]; } );\n"
		"purposes = ( { name = \"ci\"; require_verified_actor = true;\n"
		"  verified_actors = ( { name = \"ci-runner\"; path = \"/usr/bin/runner\"; } ); } );\n");
	assert_int_equal(c->nactors, 1);
	assert_string_equal(c->actors[0].name, "orch");
	assert_int_equal(c->actors[0].sha256[0], 0xba);
	assert_int_equal(c->actors[0].sha256[31], 0xad);
	assert_int_equal(c->actors[0].nwho, 2);
	assert_true(c->purposes[0].require_verified_actor);
	assert_int_equal(c->purposes[0].nactors, 1);
	assert_string_equal(c->purposes[0].actors[0].path, "/usr/bin/runner");
	assert_string_equal(c->purposes[0].actors[0].sha256_hex, "");
	agent_config_free(c);
	c = parse_or_die("purposes = ( { name = \"ci\"; } );\n");
	assert_false(c->purposes[0].require_verified_actor); /* the default */
	assert_int_equal(c->nactors, 0);
	agent_config_free(c);

	assert_int_equal(
		agent_config_parse_string(
			"verified_actors = ( { name = \"a\"; path = \"/x\"; sha256 = \"ab\"; } );\n",
			"b.conf", &bad, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "is not 64 lower-case hex digits"));
	assert_int_equal(agent_config_parse_string(
				 "verified_actors = ( { name = \"a\"; path = \"rel\"; } );\n",
				 "b.conf", &bad, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "must be an absolute path"));
	assert_int_equal(agent_config_parse_string("verified_actors = ( { path = \"/x\"; } );\n",
						   "b.conf", &bad, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "missing required setting 'name'"));
	assert_int_equal(
		agent_config_parse_string("verified_actors = ( { name = \"a\"; path = \"/x\"; },\n"
					  "  { name = \"a\"; path = \"/y\"; } );\n",
					  "b.conf", &bad, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "b.conf:2: verified actor \"a\" is defined twice"));
	assert_int_equal(
		agent_config_parse_string(
			"verified_actors = ( { name = \"a\"; path = \"/x\"; how = 1; } );\n",
			"b.conf", &bad, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "unknown setting 'how'"));
	assert_null(bad);
}

static void test_actor_decision(void **state)
{
	struct agent_config *c =
		parse_or_die("purposes = ( { name = \"req\"; require_verified_actor = true; },\n"
			     "  { name = \"free\"; } );\n");
	const struct agent_cfg_purpose *req = &c->purposes[0], *fr = &c->purposes[1];
	char why[256];
	bool v;

	(void)state;
	/* not required: always allowed, verified only when the claim fits */
	assert_true(agent_policy_actor(fr, NULL, "", "no match", &v, why, sizeof(why)));
	assert_false(v);
	assert_true(agent_policy_actor(fr, NULL, "orch", "", &v, why, sizeof(why)));
	assert_true(v);
	assert_true(agent_policy_actor(fr, "orch", "orch", "", &v, why, sizeof(why)));
	assert_true(v);
	assert_true(agent_policy_actor(fr, "other", "orch", "", &v, why, sizeof(why)));
	assert_false(v);
	assert_true(agent_policy_actor(NULL, "x", NULL, NULL, &v, why, sizeof(why)));
	assert_false(v);
	/* required */
	assert_true(agent_policy_actor(req, NULL, "orch", "", &v, why, sizeof(why)));
	assert_true(v);
	assert_true(agent_policy_actor(req, "orch", "orch", "", &v, why, sizeof(why)));
	assert_false(agent_policy_actor(req, "other", "orch", "", &v, why, sizeof(why)));
	assert_false(v);
	assert_string_equal(why, "actor \"other\" claimed, but the client is verified actor orch "
				 "(purpose req requires a verified actor)");
	assert_false(agent_policy_actor(req, NULL, "", "the client exited", &v, why, sizeof(why)));
	assert_string_equal(why, "purpose req requires a verified actor: the client exited");
	assert_false(agent_policy_actor(req, "orch", "", "", &v, why, sizeof(why)));
	assert_string_equal(why, "purpose req requires a verified actor: none matched");
	agent_config_free(c);
}

/* The real thing on a socketpair: this test program is the peer. */
static void test_actor_identify(void **state)
{
	char exe[1024], text[4096], hex[65];
	unsigned char hash[32];
	struct agent_caller me = user("tester", "testers");
	struct agent_config *c;
	struct agentd_actor a;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	ssize_t n;
	int sp[2], fd;

	(void)state;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	fd = open(exe, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(agentd_actor_hash_fd(fd, hash), 0);
	close(fd);
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(getsockopt(sp[0], SOL_SOCKET, SO_PEERCRED, &cred, &len), 0);

	/* pinned, right user: verified (the purpose's list first) */
	snprintf(
		text, sizeof(text),
		"verified_actors = ( { name = \"global\"; path = \"%s\"; } );\n"
		"purposes = ( { name = \"p\"; verified_actors = ( { name = \"me\"; path = \"%s\";\n"
		"  sha256 = \"%s\"; who = [ \"%%testers\" ]; } ); } );\n",
		exe, exe, hex);
	c = parse_or_die(text);
	agentd_actor_identify(c, &c->purposes[0], sp[0], &cred, &me, &a);
	assert_true(a.verified);
	assert_string_equal(a.name, "me");
	/* another caller: not in who, so the global entry matches */
	me = user("someone", NULL);
	agentd_actor_identify(c, &c->purposes[0], sp[0], &cred, &me, &a);
	assert_true(a.verified);
	assert_string_equal(a.name, "global");
	agent_config_free(c);

	/* a wrong pin, another path: not verified, and why */
	hex[0] = hex[0] == '0' ? '1' : '0';
	snprintf(text, sizeof(text),
		 "verified_actors = ( { name = \"pinned\"; path = \"%s\"; sha256 = \"%s\"; },\n"
		 "  { name = \"other\"; path = \"/bin/true\"; } );\n",
		 exe, hex);
	c = parse_or_die(text);
	agentd_actor_identify(c, NULL, sp[0], &cred, &me, &a);
	assert_false(a.verified);
	assert_string_equal(a.name, "");
	assert_string_equal(a.why, "the client's executable is no verified actor");
	agent_config_free(c);

	/* no actors at all */
	c = parse_or_die("max_ttl = \"1h\";\n");
	agentd_actor_identify(c, NULL, sp[0], &cred, &me, &a);
	assert_false(a.verified);
	assert_string_equal(a.why, "no verified_actors in the policy");
	agent_config_free(c);
	close(sp[0]);
	close(sp[1]);

	/* the hash itself: SHA-256 of "abc" */
	{
		char tmpl[] = "/tmp/test_authz.XXXXXX";

		fd = mkstemp(tmpl);
		assert_true(fd >= 0);
		unlink(tmpl);
		assert_int_equal(write(fd, "abc", 3), 3);
		assert_int_equal(agentd_actor_hash_fd(fd, hash), 0);
		sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
		assert_string_equal(
			hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		close(fd);
	}
}

static void test_recheck(void **state)
{
	struct agent_config *c = parse_or_die(
		"max_ttl = \"8h\";\n"
		"purposes = ( { name = \"ci\"; max_ttl = \"2h\"; delegate = [ \"ci\" ]; max_depth = 2; },\n"
		"  { name = \"leaf\"; } );\n"
		"delegators = ( { who = [ \"%devs\" ]; purposes = [ \"ci\" ]; max_ttl = \"1h\"; },\n"
		"  { who = [ \"orch\" ]; purposes = [ \"*\" ]; may_act_for = true; } );\n");
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_identity id = ident("ci", AGENT_RISK_LOW, &now);
	struct agent_caller alice = user("alice", "devs"), orch = user("orch", NULL);
	struct agent_caller gone = { .uid = 3000 }, root = user("root", NULL);
	struct agent_recheck_decision d;

	(void)state;
	root.uid = 0;
	id.creator_uid = 3000;
	id.created = NOW - 600;
	id.expires = NOW + 600; /* 20 minutes in all */
	/* created by orch for alice: still allowed */
	agent_policy_recheck(c, &id, &orch, NULL, NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_KEEP);
	/* created by alice for alice (subject alice) through %devs */
	agent_policy_recheck(c, &id, &alice, NULL, NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_KEEP);
	/* alice left the group */
	{
		struct agent_caller left = user("alice", NULL);

		agent_policy_recheck(c, &id, &left, NULL, NOW, &d);
		assert_int_equal(d.action, AGENT_RECHECK_RETIRE);
		assert_string_equal(d.reason,
				    "no delegator rule lets alice create purpose ci any more");
	}
	/* a creator whose account is gone */
	agent_policy_recheck(c, &id, &gone, NULL, NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_RETIRE);
	assert_string_equal(d.reason, "its creator (uid 3000) no longer has a user name");
	agent_policy_recheck(c, &id, NULL, NULL, NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_RETIRE);
	/* root created it: only the purpose and max_ttl matter */
	agent_policy_recheck(c, &id, &root, NULL, NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_KEEP);
	/* acting for someone else without may_act_for */
	snprintf(id.subject, sizeof(id.subject), "bob");
	agent_policy_recheck(c, &id, &alice, NULL, NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_RETIRE);
	assert_non_null(strstr(d.reason, "no longer lets alice act for bob"));
	snprintf(id.subject, sizeof(id.subject), "alice");
	/* the purpose is gone */
	snprintf(id.purpose, sizeof(id.purpose), "gone");
	agent_policy_recheck(c, &id, &orch, NULL, NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_RETIRE);
	assert_string_equal(d.reason, "purpose gone is no longer in the policy");
	snprintf(id.purpose, sizeof(id.purpose), "ci");
	/* max_ttl: the delegator rule's 1h shortens a 3h identity of alice's */
	id.expires = id.created + 3 * 3600;
	agent_policy_recheck(c, &id, &alice, NULL, NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_SHORTEN);
	assert_int_equal(d.expires, id.created + 3600);
	assert_string_equal(d.reason, "max_ttl is now 1h");
	/* orch: the purpose's 2h */
	agent_policy_recheck(c, &id, &orch, NULL, NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_SHORTEN);
	assert_int_equal(d.expires, id.created + 7200);
	/* already older than the new maximum: retired */
	id.created = NOW - 3 * 3600;
	agent_policy_recheck(c, &id, &orch, NULL, NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_RETIRE);
	assert_string_equal(d.reason, "max_ttl is now 2h, which it has outlived");
	id.created = NOW - 600;
	id.expires = NOW + 600;
	/* a sub-identity: its parent's purpose must still delegate it */
	snprintf(id.parent, sizeof(id.parent), "agent-parent");
	id.depth = 2;
	agent_policy_recheck(c, &id, NULL, "ci", NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_KEEP);
	agent_policy_recheck(c, &id, NULL, "leaf", NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_RETIRE);
	assert_string_equal(d.reason, "purpose leaf may no longer delegate purpose ci");
	agent_policy_recheck(c, &id, NULL, NULL, NOW, &d); /* parent not found */
	assert_int_equal(d.action, AGENT_RECHECK_RETIRE);
	/* deeper than max_depth now */
	id.depth = 3;
	agent_policy_recheck(c, &id, NULL, "ci", NOW, &d);
	assert_int_equal(d.action, AGENT_RECHECK_RETIRE);
	assert_string_equal(d.reason, "depth 3 now exceeds max_depth 2 of purpose ci");
	agent_config_free(c);

	/* the interval: default 60s, bounded */
	c = parse_or_die("max_ttl = \"1h\";\n");
	assert_int_equal(c->policy_check_interval, 60);
	agent_config_free(c);
	c = parse_or_die("policy_check_interval = \"5s\";\n");
	assert_int_equal(c->policy_check_interval, 5);
	agent_config_free(c);
	{
		struct agent_config *bad = NULL;
		char err[256];

		assert_int_equal(agent_config_parse_string("policy_check_interval = \"0s\";\n",
							   "b.conf", &bad, err, sizeof(err)),
				 -EINVAL);
		assert_int_equal(agent_config_parse_string("policy_check_interval = \"2d\";\n",
							   "b.conf", &bad, err, sizeof(err)),
				 -EINVAL);
	}
}

static const char budget_policy[] =
	"purposes = (\n"
	"  { name = \"b\"; services = { sudo = \"allow\"; su = \"allow\"; sshd = \"approve\"; };\n"
	"    max_sudo = 2; max_delegations = 2; delegate = [ \"b\" ]; max_depth = 3; },\n"
	"  { name = \"ask\"; services = { sudo = \"allow\"; }; max_sudo = 1; over_budget = \"approve\"; },\n"
	"  { name = \"free\"; services = { sudo = \"allow\"; }; delegate = [ \"free\" ]; max_depth = 3; }\n"
	");\n"
	"delegators = ( { who = [ \"alice\" ]; purposes = [ \"*\" ]; creates_per_minute = 3; },\n"
	"  { who = [ \"bob\" ]; purposes = [ \"*\" ]; } );\n";

static void test_budgets(void **state)
{
	struct agent_config *c = parse_or_die(budget_policy);
	struct agent_now now = { .real = NOW, .boot_ns = 5000000000LL };
	struct agent_identity id = ident("b", AGENT_RISK_LOW, &now);
	struct agent_caller alice = user("alice", NULL), bob = user("bob", NULL);
	struct agent_caller agent = { .uid = id.uid, .agent = &id };
	struct agent_create_req req = { .purpose = "b" };
	struct agent_create_decision cd;
	struct agent_service_decision d;

	(void)state;
	assert_int_equal(c->purposes[0].max_sudo, 2);
	assert_int_equal(c->purposes[0].over_budget, AGENT_RULE_DENY); /* the default */
	assert_int_equal(c->purposes[1].over_budget, AGENT_RULE_APPROVE);
	assert_int_equal(c->delegators[0].creates_per_minute, 3);
	assert_int_equal(c->delegators[1].creates_per_minute, 0);
	/* creates_per_minute: the 4th create within a minute is refused */
	req.recent_creates = 2;
	agent_policy_create(c, &alice, &req, NOW, &cd);
	assert_true(cd.allowed);
	assert_null(cd.over_budget);
	req.recent_creates = 3;
	agent_policy_create(c, &alice, &req, NOW, &cd);
	assert_false(cd.allowed);
	assert_string_equal(cd.over_budget, "creates_per_minute");
	assert_non_null(strstr(cd.reason, "over budget: alice created 3 identities in the last "
					  "minute"));
	agent_policy_create(c, &bob, &req, NOW, &cd); /* no budget in bob's rule */
	assert_true(cd.allowed);
	/* max_delegations: of the parent's purpose, counting every child ever */
	snprintf(agent.user, sizeof(agent.user), "%s", id.name);
	req.recent_creates = 0;
	req.parent_children = 1;
	agent_policy_create(c, &agent, &req, NOW, &cd);
	assert_true(cd.allowed);
	req.parent_children = 2;
	agent_policy_create(c, &agent, &req, NOW, &cd);
	assert_false(cd.allowed);
	assert_string_equal(cd.over_budget, "max_delegations");
	assert_non_null(strstr(cd.reason, "max_delegations of purpose b is 2"));
	{
		struct agent_identity fp = ident("free", AGENT_RISK_LOW, &now);
		struct agent_caller fa = { .uid = fp.uid, .agent = &fp };
		struct agent_create_req fr = { .purpose = "free", .parent_children = 1000 };

		agent_policy_create(c, &fa, &fr, NOW, &cd);
		assert_true(cd.allowed); /* no budget */
	}
	/* max_sudo, deny: the third sudo is refused */
	id.sudo_used = 1;
	agent_policy_sudo(c, &id, "sudo", "/usr/bin/id", "root", &now, &d);
	agent_policy_sudo_budget(c, &id, "sudo", false, &d);
	assert_true(d.allowed);
	assert_false(d.over_budget);
	id.sudo_used = 2;
	agent_policy_sudo(c, &id, "sudo", "/usr/bin/id", "root", &now, &d);
	agent_policy_sudo_budget(c, &id, "sudo", false, &d);
	assert_false(d.allowed);
	assert_false(d.approve);
	assert_true(d.over_budget);
	assert_string_equal(d.reason,
			    "over budget: 2 of max_sudo 2 sudo actions used for purpose b");
	assert_non_null(strstr(d.rule, "; max_sudo 2 used = deny"));
	/* a later stage of a sudo counted already is not refused by the count */
	agent_policy_sudo(c, &id, "sudo", "/usr/bin/id", "root", &now, &d);
	agent_policy_sudo_budget(c, &id, "sudo", true, &d);
	assert_true(d.allowed);
	/* other services are not sudo actions */
	agent_policy_sudo(c, &id, "su", NULL, "root", &now, &d);
	agent_policy_sudo_budget(c, &id, "su", false, &d);
	assert_true(d.allowed);
	/* a denied action stays denied, without a budget record */
	agent_policy_sudo(c, &id, "cron", NULL, "root", &now, &d);
	agent_policy_sudo_budget(c, &id, "cron", false, &d);
	assert_false(d.allowed);
	assert_false(d.over_budget);
	/* over_budget = approve: sent to a human instead */
	{
		struct agent_identity a = ident("ask", AGENT_RISK_LOW, &now);

		a.sudo_used = 1;
		agent_policy_sudo(c, &a, "sudo", "/usr/bin/id", "root", &now, &d);
		agent_policy_sudo_budget(c, &a, "sudo", false, &d);
		assert_false(d.allowed);
		assert_true(d.approve);
		assert_int_equal(d.approvals, 1);
		assert_true(d.over_budget);
		assert_non_null(strstr(d.reason, "needs step-up approval"));
		/* critical stays two */
		a.risk = AGENT_RISK_CRITICAL;
		agent_policy_sudo(c, &a, "sudo", "/usr/bin/id", "root", &now, &d);
		agent_policy_sudo_budget(c, &a, "sudo", false, &d);
		assert_true(d.approve);
		assert_int_equal(d.approvals, 2);
	}
	/* no identity: nothing to do */
	agent_policy_sudo(c, NULL, "sudo", "/usr/bin/id", "root", &now, &d);
	agent_policy_sudo_budget(c, NULL, "sudo", false, &d);
	assert_false(d.allowed);
	agent_config_free(c);
	{
		struct agent_config *bad = NULL;
		char err[256];

		assert_int_equal(
			agent_config_parse_string(
				"purposes = ( { name = \"x\"; over_budget = \"allow\"; } );\n",
				"b.conf", &bad, err, sizeof(err)),
			-EINVAL);
		assert_non_null(
			strstr(err, "over_budget = \"allow\": use \"deny\" or \"approve\""));
		assert_int_equal(agent_config_parse_string(
					 "purposes = ( { name = \"x\"; max_sudo = -1; } );\n",
					 "b.conf", &bad, err, sizeof(err)),
				 -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_risk_names),     cmocka_unit_test(test_config_risk),
		cmocka_unit_test(test_create_risk),    cmocka_unit_test(test_action_risk),
		cmocka_unit_test(test_two_person),     cmocka_unit_test(test_config_actors),
		cmocka_unit_test(test_actor_decision), cmocka_unit_test(test_actor_identify),
		cmocka_unit_test(test_recheck),        cmocka_unit_test(test_budgets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
