/* Unit tests: agentd.conf parsing. Every error must name the right line;
 * the file checks refuse what they should. */
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

#include "agentd/config.h"

static const char full[] =
	"uid_min = 1879048192;\n"                               /* 1 */
	"uid_max = 1879048447;\n"                               /* 2 */
	"name_prefix = \"ag-\";\n"                              /* 3 */
	"default_ttl = \"10m\"; max_ttl = \"4h\";\n"            /* 4 */
	"uid_quarantine = \"1h\"; kill_grace = \"3s\";\n"       /* 5 */
	"home_base = \"/var/agents\";\n"                        /* 6 */
	"agents_group = \"agents\"; agents_gid = 1879113728;\n" /* 7 */
	"max_live = 100; max_live_per_caller = 10; max_connections = 8; max_connections_per_uid = 4; connection_idle_timeout = \"5s\";\n" /* 8 */
	"retired_retention = \"7d\";\n" /* 9 */
	"purposes = (\n"                /* 10 */
	"  { name = \"ci\"; groups = [ \"0\", \"12345\" ]; shell = \"/bin/bash\";\n"
	"    home = \"ephemeral\"; services = { sshd = \"allow\"; sudo = \"approve\"; login = \"deny\"; };\n"
	"    delegate = [ \"ci\", \"research\" ]; max_depth = 3; max_ttl = \"2h\"; },\n"
	"  { name = \"research\"; }\n"
	");\n"
	"delegators = (\n"
	"  { who = [ \"%developers\", \"bob\" ]; purposes = [ \"ci\" ]; max_ttl = \"1h\"; },\n"
	"  { who = [ \"*\" ]; purposes = [ \"*\" ]; may_act_for = true; }\n"
	");\n";

static void test_full(void **state)
{
	struct agent_config *c = NULL;
	char err[512] = "";

	(void)state;
	assert_int_equal(agent_config_parse_string(full, "t.conf", &c, err, sizeof(err)), 0);
	assert_int_equal(c->uid_min, 1879048192u);
	assert_int_equal(c->uid_max, 1879048447u);
	assert_string_equal(c->name_prefix, "ag-");
	assert_int_equal(c->default_ttl, 600);
	assert_int_equal(c->max_ttl, 4 * 3600);
	assert_int_equal(c->uid_quarantine, 3600);
	assert_int_equal(c->kill_grace_ms, 3000);
	assert_string_equal(c->home_base, "/var/agents");
	assert_string_equal(c->agents_group, "agents");
	assert_int_equal(c->agents_gid, 1879113728u);
	assert_int_equal(c->max_live, 100);
	assert_int_equal(c->max_live_per_caller, 10);
	assert_int_equal(c->max_connections, 8);
	assert_int_equal(c->max_connections_per_uid, 4);
	assert_int_equal(c->connection_idle_timeout, 5);
	assert_int_equal(c->retired_retention, 7 * 86400);
	assert_int_equal(c->npurposes, 2);
	const struct agent_cfg_purpose *p = agent_config_purpose(c, "ci");
	assert_non_null(p);
	assert_int_equal(p->ngroups, 2);
	assert_int_equal(p->gids[0], 0);
	assert_int_equal(p->gids[1], 12345);
	assert_string_equal(p->shell, "/bin/bash");
	assert_int_equal(p->home, AGENT_HOME_EPHEMERAL);
	assert_int_equal(agent_config_service_rule(p, "sshd"), AGENT_RULE_ALLOW);
	assert_int_equal(agent_config_service_rule(p, "sudo"), AGENT_RULE_APPROVE);
	assert_int_equal(agent_config_service_rule(p, "login"), AGENT_RULE_DENY);
	assert_int_equal(agent_config_service_rule(p, "cron"), AGENT_RULE_DENY); /* unlisted */
	assert_true(agent_config_may_delegate(p, "research"));
	assert_int_equal(p->max_depth, 3);
	assert_int_equal(p->max_ttl, 7200);
	p = agent_config_purpose(c, "research");
	assert_non_null(p);
	assert_string_equal(p->shell, "/bin/sh");
	assert_int_equal(p->home, AGENT_HOME_NONE);
	assert_int_equal(p->max_depth, 1);
	assert_false(agent_config_may_delegate(p, "ci"));
	assert_null(agent_config_purpose(c, "nosuch"));
	assert_int_equal(c->ndelegators, 2);
	assert_int_equal(c->delegators[0].nwho, 2);
	assert_string_equal(c->delegators[0].who[0], "%developers");
	assert_int_equal(c->delegators[0].max_ttl, 3600);
	assert_int_equal(c->delegators[0].line, 17);
	assert_false(c->delegators[0].may_act_for);
	assert_true(c->delegators[1].may_act_for);
	agent_config_free(c);
}

static void test_defaults(void **state)
{
	struct agent_config *c = NULL;
	char err[512];

	(void)state;
	assert_int_equal(agent_config_parse_string("", "empty.conf", &c, err, sizeof(err)), 0);
	assert_int_equal(c->uid_min, 1879048192u);
	assert_int_equal(c->uid_max, 1879113727u);
	assert_string_equal(c->name_prefix, "agent-");
	assert_int_equal(c->default_ttl, 900);
	assert_int_equal(c->max_ttl, 8 * 3600);
	assert_int_equal(c->uid_quarantine, 86400);
	assert_int_equal(c->kill_grace_ms, 2000);
	assert_string_equal(c->home_base, "/home/agents");
	assert_int_equal(c->max_live, 65536);
	assert_int_equal(c->max_live_per_caller, 1000);
	assert_int_equal(c->max_connections, 64);
	assert_int_equal(c->max_connections_per_uid, 16);
	assert_int_equal(c->connection_idle_timeout, 30);
	assert_int_equal(c->npurposes, 0);
	/* step-up approval: nobody approves until approvers is set */
	assert_int_equal(c->napprovers, 0);
	assert_int_equal(c->approval_timeout, 300);
	assert_string_equal(c->notify_command, "");
	assert_true(c->subject_may_approve);
	assert_int_equal(c->max_pending, 256);
	/* the leftovers sweep covers the shared writable places by default */
	assert_int_equal(c->nsweep_dirs, 4);
	assert_string_equal(c->sweep_dirs[0], "/tmp");
	assert_string_equal(c->sweep_dirs[1], "/var/tmp");
	assert_string_equal(c->sweep_dirs[2], "/dev/shm");
	assert_string_equal(c->sweep_dirs[3], "/dev/mqueue");
	agent_config_free(c);
	agent_config_free(NULL);
	/* set: exactly the list given; empty: only home_base */
	assert_int_equal(agent_config_parse_string("sweep_dirs = [ \"/srv/scratch\" ];", "s.conf",
						   &c, err, sizeof(err)),
			 0);
	assert_int_equal(c->nsweep_dirs, 1);
	assert_string_equal(c->sweep_dirs[0], "/srv/scratch");
	agent_config_free(c);
	assert_int_equal(
		agent_config_parse_string("sweep_dirs = [ ];", "s.conf", &c, err, sizeof(err)), 0);
	assert_int_equal(c->nsweep_dirs, 0);
	agent_config_free(c);
	assert_int_equal(agent_config_parse_string("", "s.conf", &c, err, sizeof(err)), 0);
	assert_string_equal(c->cgroup_root, "auto");
	agent_config_free(c);
	/* Containment keys. */
	assert_int_equal(
		agent_config_parse_string("cgroup_root = \"none\";\n"
					  "purposes = ( { name = \"ci\"; max_processes = 300; },"
					  " { name = \"r\"; } );\n",
					  "cg.conf", &c, err, sizeof(err)),
		0);
	assert_string_equal(c->cgroup_root, "none");
	assert_int_equal(c->purposes[0].max_processes, 300);
	assert_int_equal(c->purposes[1].max_processes, 0);
	agent_config_free(c);
	assert_int_equal(agent_config_parse_string("cgroup_root = \"/sys/fs/cgroup/agentd\";\n",
						   "cg.conf", &c, err, sizeof(err)),
			 0);
	assert_string_equal(c->cgroup_root, "/sys/fs/cgroup/agentd");
	agent_config_free(c);
}

static const char stepup[] =
	"approvers = [ \"alice\", \"%wheel\", \"bob_2\" ];\n"
	"approval_timeout = \"1h\";\n"
	"notify_command = \"/usr/local/bin/page-oncall\";\n"
	"subject_may_approve = false;\n"
	"max_pending = 4096;\n"
	"purposes = (\n"
	"  { name = \"ops\"; services = { sudo = \"allow\"; };\n"
	"    sudo_commands = {\n"
	"      allow = [ \"/usr/bin/id\", \"/usr/bin/true \\\"\\\"\" ];\n"
	"      approve = [ \"/usr/bin/apt-get install *\" ];\n"
	"      deny = [ \"/bin/rm -rf /*\", \"/usr/bin/[a-z]* x?\" ]; }; },\n"
	"  { name = \"only-deny\"; sudo_commands = { deny = [ \"/bin/sh\" ]; }; },\n"
	"  { name = \"none\"; }\n"
	");\n";

static void test_stepup_keys(void **state)
{
	struct agent_config *c = NULL;
	const struct agent_cfg_purpose *p;
	char err[512] = "";

	(void)state;
	if (agent_config_parse_string(stepup, "s.conf", &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c->napprovers, 3);
	assert_string_equal(c->approvers[0], "alice");
	assert_string_equal(c->approvers[1], "%wheel");
	assert_string_equal(c->approvers[2], "bob_2");
	assert_int_equal(c->approval_timeout, 3600);
	assert_string_equal(c->notify_command, "/usr/local/bin/page-oncall");
	assert_false(c->subject_may_approve);
	assert_int_equal(c->max_pending, 4096);

	p = agent_config_purpose(c, "ops");
	assert_non_null(p);
	assert_true(p->has_sudo_commands);
	assert_int_equal(p->sudo_cmds[AGENT_RULE_ALLOW].n, 2);
	assert_string_equal(p->sudo_cmds[AGENT_RULE_ALLOW].rules[0], "/usr/bin/id");
	assert_string_equal(p->sudo_cmds[AGENT_RULE_ALLOW].rules[1], "/usr/bin/true \"\"");
	assert_int_equal(p->sudo_cmds[AGENT_RULE_APPROVE].n, 1);
	assert_string_equal(p->sudo_cmds[AGENT_RULE_APPROVE].rules[0],
			    "/usr/bin/apt-get install *");
	assert_int_equal(p->sudo_cmds[AGENT_RULE_DENY].n, 2);
	assert_string_equal(p->sudo_cmds[AGENT_RULE_DENY].rules[1], "/usr/bin/[a-z]* x?");
	p = agent_config_purpose(c, "only-deny");
	assert_true(p->has_sudo_commands);
	assert_int_equal(p->sudo_cmds[AGENT_RULE_ALLOW].n, 0);
	assert_int_equal(p->sudo_cmds[AGENT_RULE_APPROVE].n, 0);
	assert_int_equal(p->sudo_cmds[AGENT_RULE_DENY].n, 1);
	p = agent_config_purpose(c, "none");
	assert_false(p->has_sudo_commands);
	for (int k = 0; k < 3; k++)
		assert_int_equal(p->sudo_cmds[k].n, 0);
	agent_config_free(c);

	/* the smallest values in range */
	assert_int_equal(agent_config_parse_string("approval_timeout = \"1s\"; max_pending = 1;\n"
						   "subject_may_approve = true;\n",
						   "s.conf", &c, err, sizeof(err)),
			 0);
	assert_int_equal(c->approval_timeout, 1);
	assert_int_equal(c->max_pending, 1);
	assert_true(c->subject_may_approve);
	agent_config_free(c);
}

static const struct {
	const char *text;
	int line;
	const char *needle;
} bad[] = {
	{ "uid_min = 5;\nbogus = 1;\n", 2, "unknown setting 'bogus'" },
	{ "\npurposes = ( { name = \"ci\"; colour = \"red\"; } );\n", 2,
	  "unknown setting 'colour'" },
	{ "uid_min = \"x\";\n", 1, "must be an integer" },
	{ "\n\ndefault_ttl = \"5 minutes\";\n", 3, "is not a duration" },
	{ "max_ttl = \"0s\";\n", 1, "longer than 0s" },
	{ "default_ttl = 15;\n", 1, "duration string" },
	{ "default_ttl = \"9h\";\n", 1, "longer than max_ttl" },
	{ "uid_min = 2000000000;\nuid_max = 1999999999;\n", 2, "below uid_min" },
	{ "uid_min = 1000000;\nuid_max = 9000000;\n", 2, "more than 1048576" },
	{ "uid_min = 0;\n", 1, "out of range" },
	{ "uid_max = 3000000000;\n", 1, "out of range" },
	{ "name_prefix = \"Agent\";\n", 1, "name_prefix" },
	{ "name_prefix = \"a-very-long-prefix\";\n", 1, "name_prefix" },
	{ "kill_grace = \"2m\";\n", 1, "at most 60s" },
	{ "home_base = \"relative\";\n", 1, "absolute path" },
	{ "home_base = \"/\";\n", 1, "absolute path" },
	{ "sweep_dirs = [ \"tmp\" ];\n", 1, "\"tmp\" is not a valid absolute path" },
	{ "sweep_dirs = [ \"/\" ];\n", 1, "is not a valid absolute path other than /" },
	{ "agents_group = \"agents\";\n", 1, "needs agents_gid" },
	{ "agents_gid = 5000;\n", 1, "without agents_group" },
	{ "agents_group = \"agents\"; agents_gid = 1879048200;\n", 1,
	  "inside the agent uid range" },
	{ "max_live = 70000;\n", 1, "out of range" },
	{ "max_connections = 0;\n", 1, "out of range" },
	{ "max_connections_per_uid = 0;\n", 1, "out of range" },
	{ "connection_idle_timeout = \"2h\";\n", 1, "at most 1h" },
	{ "purposes = ( { name = \"ci\"; },\n { name = \"ci\"; } );\n", 2, "defined twice" },
	{ "purposes = ( { name = \"Bad\"; } );\n", 1, "purpose name" },
	{ "purposes = ( { groups = [ \"users\" ]; } );\n", 1, "missing required setting 'name'" },
	{ "purposes = (\n { name = \"ci\"; delegate = [ \"nosuch\" ]; } );\n", 2,
	  "unknown purpose \"nosuch\"" },
	{ "purposes = (\n { name = \"ci\"; services = { sshd = \"maybe\"; }; } );\n", 2,
	  "use \"allow\"" },
	{ "purposes = (\n { name = \"ci\"; services = { sshd = 1; }; } );\n", 2,
	  "must be \"allow\"" },
	{ "purposes = (\n { name = \"ci\"; home = \"persistent\"; } );\n", 2,
	  "use \"none\" or \"ephemeral\"" },
	{ "purposes = (\n { name = \"ci\"; shell = \"bash\"; } );\n", 2, "absolute path" },
	{ "purposes = (\n { name = \"ci\"; groups = [ \"no-such-group-xyz\" ]; } );\n", 2,
	  "does not exist" },
	{ "purposes = (\n { name = \"ci\"; max_depth = 0; } );\n", 2, "out of range" },
	{ "purposes = (\n { name = \"ci\"; max_depth = 9; } );\n", 2, "out of range" },
	{ "purposes = (\n { name = \"ci\"; max_ttl = \"9h\"; } );\n", 2,
	  "exceeds the global max_ttl" },
	{ "purposes = ( { name = \"ci\"; } );\ndelegators = (\n { who = [ \"alice\" ]; purposes = [ \"nosuch\" ]; } );\n",
	  3, "unknown purpose \"nosuch\"" },
	{ "purposes = ( { name = \"ci\"; } );\ndelegators = (\n { who = [ \"Bad User\" ]; purposes = [ \"ci\" ]; } );\n",
	  3, "not a valid user" },
	{ "purposes = ( { name = \"ci\"; } );\ndelegators = (\n { who = [ ]; purposes = [ \"ci\" ]; } );\n",
	  3, "must not be empty" },
	{ "purposes = ( { name = \"ci\"; } );\ndelegators = (\n { purposes = [ \"ci\" ]; } );\n", 3,
	  "missing required setting 'who'" },
	{ "purposes = ( { name = \"ci\"; } );\ndelegators = (\n { who = [ \"a\" ]; purposes = [ \"ci\" ]; may_act_for = 1; } );\n",
	  3, "true or false" },
	/* step-up approval */
	{ "\napprovers = [ \"*\" ];\n", 2, "not a valid approver" },
	{ "approvers = [ \"alice\", \"Bob\" ];\n", 1, "\"Bob\" is not a valid approver" },
	{ "approvers = [ \"%\" ];\n", 1, "not a valid approver" },
	{ "approvers = [ \"%Wheel\" ];\n", 1, "not a valid approver" },
	{ "approvers = [ \"bad user\" ];\n", 1, "not a valid approver" },
	{ "approvers = [ \"a-name-that-is-longer-than-32-chars\" ];\n", 1, "not a valid approver" },
	{ "approvers = \"alice\";\n", 1, "must be an array of strings" },
	{ "approvers = [ 1 ];\n", 1, "must be an array of strings" },
	{ "\n\napproval_timeout = \"61m\";\n", 3, "at most 1h" },
	{ "approval_timeout = \"2h\";\n", 1, "at most 1h" },
	{ "approval_timeout = \"0s\";\n", 1, "longer than 0s" },
	{ "approval_timeout = 300;\n", 1, "duration string" },
	{ "\nnotify_command = \"notify.sh\";\n", 2, "must be an absolute path" },
	{ "notify_command = \"./notify.sh\";\n", 1, "must be an absolute path" },
	{ "notify_command = \"/usr/bin/../bin/notify\";\n", 1, "must be an absolute path" },
	{ "notify_command = \"\";\n", 1, "must be an absolute path" },
	{ "subject_may_approve = \"no\";\n", 1, "true or false" },
	{ "max_pending = 0;\n", 1, "out of range 1..4096" },
	{ "\nmax_pending = 4097;\n", 2, "out of range 1..4096" },
	{ "max_pending = \"8\";\n", 1, "must be an integer" },
	{ "cgroup_root = \"sys/fs/cgroup\";\n", 1,
	  "must be \"auto\", \"none\" or an absolute path" },
	{ "\ncgroup_root = \"/\";\n", 2, "must be \"auto\", \"none\" or an absolute path" },
	{ "cgroup_root = \"\";\n", 1, "must be \"auto\", \"none\" or an absolute path" },
	{ "purposes = (\n { name = \"ci\";\n max_processes = -1; } );\n", 3,
	  "out of range 0..4194304" },
	{ "purposes = (\n { name = \"ci\";\n max_processes = 4194305; } );\n", 3,
	  "out of range 0..4194304" },
	{ "purposes = (\n { name = \"ci\";\n sudo_commands = [ \"/usr/bin/id\" ]; } );\n", 3,
	  "'sudo_commands' must be a group" },
	{ "purposes = (\n { name = \"ci\";\n sudo_commands = \"/usr/bin/id\"; } );\n", 3,
	  "'sudo_commands' must be a group" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"/usr/bin/id\" ];\n"
	  " prompt = [ \"/usr/bin/id\" ]; }; } );\n",
	  4, "unknown setting 'prompt'" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = \"/usr/bin/id\"; }; } );\n",
	  3, "must be an array of strings" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"id\" ]; }; } );\n", 3,
	  "\"id\" is not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n deny = [ \" /bin/rm\" ]; }; } );\n",
	  3, "not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n approve = [ \"*\" ]; }; } );\n", 3,
	  "not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"/usr/bin/id\\t-u\" ]; }; } );\n",
	  3, "not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"/usr/bin/id -u\\n\" ]; }; } );\n",
	  3, "not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"/usr/bin/id \xc3\xa9\" ]; }; } );\n",
	  3, "not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"/usr/bin/id \\x01\" ]; }; } );\n",
	  3, "not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"/usr/bin/id \\x7f\" ]; }; } );\n",
	  3, "not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"/usr/bin/../../bin/sh\" ]; }; } );\n",
	  3, "not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"/usr/bin/..\" ]; }; } );\n",
	  3, "not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"/usr//bin/id\" ]; }; } );\n",
	  3, "not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"/usr/bin/\" ]; }; } );\n",
	  3, "not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"/usr/bin/id \" ]; }; } );\n",
	  3, "not a valid command rule" },
	{ "purposes = (\n { name = \"ci\"; sudo_commands = {\n allow = [ \"\" ]; }; } );\n", 3,
	  "not a valid command rule" },
	{ "purposes = { name = \"ci\"; };\n", 1, "must be a list" },
	{ "uid_min = 5;\nuid_max = = 6;\n", 2, "syntax error" },
	{ "uid_min = 5;\n  @include \"/etc/passwd\"\n", 2, "@include is not supported" },
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct agent_config *c = (void *)1;
		char err[512] = "", want[32];
		int r = agent_config_parse_string(bad[i].text, "bad.conf", &c, err, sizeof(err));

		snprintf(want, sizeof(want), "bad.conf:%d:", bad[i].line);
		if (r >= 0 || !strstr(err, want) || !strstr(err, bad[i].needle))
			fail_msg("case %zu: r=%d err='%s' (wanted line %d, '%s')", i, r, err,
				 bad[i].line, bad[i].needle);
		assert_null(c);
	}
}

static char dir[] = "/tmp/agentd-config.XXXXXX";

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_file_checks(void **state)
{
	struct agent_config *c = NULL;
	char path[128], link[128], err[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/agentd.conf", dir);
	snprintf(link, sizeof(link), "%s/link.conf", dir);
	write_file(path, "max_live = 5;\n", 0644);
	if (geteuid() == 0) {
		assert_int_equal(agent_config_load(path, &c, err, sizeof(err)), 0);
		assert_int_equal(c->max_live, 5);
		assert_string_equal(c->path, path);
		agent_config_free(c);
		assert_int_equal(chown(path, 65534, 0), 0);
		assert_int_equal(agent_config_load(path, &c, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "must be owned by root"));
		assert_int_equal(chown(path, 0, 0), 0);
	} else {
		/* Owned by us, not root: refused for that reason. */
		assert_int_equal(agent_config_load(path, &c, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "must be owned by root"));
		printf("note: not root, the accepting half of the owner check is not exercised\n");
	}
	chmod(path, 0664);
	assert_true(agent_config_load(path, &c, err, sizeof(err)) < 0);
	if (geteuid() == 0)
		assert_non_null(strstr(err, "writable by group or others"));
	chmod(path, 0644);
	assert_int_equal(symlink(path, link), 0);
	assert_true(agent_config_load(link, &c, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "symbolic link"));
	assert_true(agent_config_load(dir, &c, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(link, sizeof(link), "%s/fifo", dir);
	assert_int_equal(mkfifo(link, 0644), 0);
	assert_true(agent_config_load(link, &c, err, sizeof(err)) < 0); /* no hang */
	snprintf(link, sizeof(link), "%s/missing.conf", dir);
	assert_int_equal(agent_config_load(link, &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "No such file"));
	assert_null(c);
}

/* ------------------------------------------------------------ host checks */

static const char group_fixture[] = "root:x:0:\n"                   /* 1 */
				    "# a comment line\n"            /* 2 */
				    "sudo:x:27:alice\n"             /* 3 */
				    "users:x:100:\n"                /* 4 */
				    "developers:x:2900:alice,bob\n" /* 5 */
				    "not a group line\n"            /* 6 */
				    "docker:x:998:\n";              /* 7 */
static const char passwd_fixture[] = "root:x:0:0:root:/root:/bin/bash\n"
				     "alice:x:2901:2901::/nonexistent:/bin/sh\n";

struct host {
	char group[160], passwd[160];
	struct agent_host_files f;
};

/* Fixture files in dir/host; extra lines are appended to passwd or group. */
static void host_files(struct host *h, const char *extra_passwd, const char *extra_group)
{
	char text[1024];

	snprintf(h->group, sizeof(h->group), "%s/group", dir);
	snprintf(h->passwd, sizeof(h->passwd), "%s/passwd", dir);
	snprintf(text, sizeof(text), "%s%s", group_fixture, extra_group ? extra_group : "");
	write_file(h->group, text, 0644);
	snprintf(text, sizeof(text), "%s%s", passwd_fixture, extra_passwd ? extra_passwd : "");
	write_file(h->passwd, text, 0644);
	h->f = (struct agent_host_files){
		.login_defs = "/nonexistent/login.defs",
		.subuid = "/nonexistent/subuid",
		.subgid = "/nonexistent/subgid",
		.passwd = h->passwd,
		.group = h->group,
	};
}

/* Parses text (which must be valid), runs the host check, returns its
 * result and leaves the message in err. */
static int host_check(const char *text, const char *extra_passwd, const char *extra_group,
		      char *err, size_t errlen)
{
	struct agent_config *c = NULL;
	struct host h;
	int r;

	host_files(&h, extra_passwd, extra_group);
	if (agent_config_parse_string(text, "h.conf", &c, err, errlen) != 0)
		fail_msg("fixture config does not parse: %s", err);
	err[0] = '\0';
	r = agent_config_check_host(c, &h.f, err, errlen);
	agent_config_free(c);
	return r;
}

static const struct {
	const char *conf, *passwd, *group;
	const char *needles[3];
} host_bad[] = {
	/* privileged by name, as written */
	{ "uid_min = 1879048192;\nagents_group = \"sudo\"; agents_gid = 27;\n",
	  NULL,
	  NULL,
	  { "h.conf:2: agents_group \"sudo\" (gid 27) is a privileged group" } },
	{ "agents_group = \"wheel\"; agents_gid = 5000;\n",
	  NULL,
	  NULL,
	  { "h.conf:1:", "\"wheel\"", "privileged" } },
	/* privileged through the local name of its gid */
	{ "agents_group = \"agents\"; agents_gid = 998;\n",
	  NULL,
	  NULL,
	  { "h.conf:1:", "local group \"docker\"", "/group:7)" } },
	/* a local name or gid */
	{ "agents_group = \"developers\"; agents_gid = 5000;\n",
	  NULL,
	  NULL,
	  { "h.conf:1: agents_group \"developers\" (gid 5000) collides with local group "
	    "\"developers\" (gid 2900, ",
	    "/group:5)" } },
	{ "agents_group = \"agents\";\nagents_gid = 2900;\n",
	  NULL,
	  NULL,
	  { "h.conf:1:", "collides with local group \"developers\"" } },
	/* purpose groups: gid 0, a privileged name, a privileged local gid, in range */
	{ "\npurposes = ( { name = \"ci\";\n groups = [ \"100\", \"0\" ]; } );\n",
	  NULL,
	  NULL,
	  { "h.conf:3: purpose \"ci\": group \"0\" (gid 0) is a privileged group" } },
	{ "purposes = ( { name = \"ci\"; groups = [ \"root\" ]; } );\n",
	  NULL,
	  NULL,
	  { "h.conf:1:", "group \"root\" (gid 0) is a privileged group" } },
	{ "purposes = ( { name = \"ci\"; groups = [ \"27\" ]; } );\n",
	  NULL,
	  NULL,
	  { "h.conf:1:", "group \"27\" (gid 27) is privileged: local group \"sudo\"",
	    "/group:3)" } },
	{ "purposes = ( { name = \"ci\"; groups = [ \"1879048200\" ]; } );\n",
	  NULL,
	  NULL,
	  { "h.conf:1:", "inside the agent uid range" } },
	/* local users and groups inside the range */
	{ "uid_min = 1879048192;\n",
	  "squatter:x:1879048192:100::/:/bin/sh\n",
	  NULL,
	  { "h.conf:1: the agent uid range 1879048192-1879113727 holds local user \"squatter\" "
	    "(uid 1879048192, ",
	    "/passwd:3)" } },
	{ "\nuid_max = 1879113727;\n",
	  "odd:x:3000:1879048300::/:/bin/sh\n",
	  NULL,
	  { "h.conf:2:", "local user \"odd\" (primary gid 1879048300" } },
	{ "",
	  NULL,
	  "squat:x:1879113727:\n",
	  { "h.conf: the agent uid range", "local group \"squat\" (gid 1879113727, ",
	    "/group:8)" } },
	/* the uid range checks name the key too */
	{ "uid_min = 1000; uid_max = 2000;\n", NULL, NULL, { "h.conf:1:", "overlaps" } },
};

static void test_host_refusals(void **state)
{
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(host_bad) / sizeof(host_bad[0]); i++) {
		int r = host_check(host_bad[i].conf, host_bad[i].passwd, host_bad[i].group, err,
				   sizeof(err));

		if (r != -EINVAL)
			fail_msg("case %zu: r=%d err='%s'", i, r, err);
		for (size_t k = 0; k < 3 && host_bad[i].needles[k]; k++)
			if (!strstr(err, host_bad[i].needles[k]))
				fail_msg("case %zu: '%s' lacks '%s'", i, err,
					 host_bad[i].needles[k]);
		if (strchr(err, '\n'))
			fail_msg("case %zu: not one line: '%s'", i, err);
	}
}

static void test_host_accepts(void **state)
{
	struct agent_config *c = NULL;
	struct agent_host_files none = {
		.login_defs = "/nonexistent/a",
		.subuid = "/nonexistent/b",
		.subgid = "/nonexistent/c",
		.passwd = "/nonexistent/d",
		.group = "/nonexistent/e",
	};
	char err[512];

	(void)state;
	/* an unused name and gid, a local unprivileged purpose group, local
	 * users and groups outside the range */
	assert_int_equal(
		host_check("agents_group = \"agents\"; agents_gid = 2950;\n"
			   "purposes = ( { name = \"ci\"; groups = [ \"100\", \"2900\" ]; } );\n",
			   "bob:x:2904:2904::/:/bin/sh\n", "agentsx:x:2951:\n", err, sizeof(err)),
		0);
	/* just below and just above the range */
	assert_int_equal(host_check("", "lo:x:1879048191:1879048191::/:/bin/sh\n",
				    "hi:x:1879113728:\n", err, sizeof(err)),
			 0);
	/* missing files hold no entries */
	assert_int_equal(agent_config_parse_string("agents_group = \"sudo2\"; agents_gid = 27;\n",
						   "h.conf", &c, err, sizeof(err)),
			 0);
	assert_int_equal(agent_config_check_host(c, &none, err, sizeof(err)), 0);
	agent_config_free(c);
	/* the privileged list itself */
	assert_true(agent_group_is_privileged("users", 0));
	assert_true(agent_group_is_privileged("adm", 4));
	assert_true(agent_group_is_privileged("shadow", 42));
	assert_true(agent_group_is_privileged("systemd-journal", 101));
	assert_true(agent_group_is_privileged(NULL, 0));
	assert_false(agent_group_is_privileged("users", 100));
	assert_false(agent_group_is_privileged(NULL, 27));
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
		cmocka_unit_test(test_full),         cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_stepup_keys),  cmocka_unit_test(test_errors),
		cmocka_unit_test(test_file_checks),  cmocka_unit_test(test_host_refusals),
		cmocka_unit_test(test_host_accepts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
