/* agentctl: the command-line client of agentd. See agentctl(1).
 *
 * Exit status: 0 done, 1 refused or failed, 2 usage error, 3 agentd
 * unreachable. One line on stderr per error. The token of a create is
 * printed once and wiped from memory; it never goes to argv or the
 * environment. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "agentctl/agentctl.h"
#include "common/client.h"
#include "common/identity.h"
#include "common/json.h"
#include "common/text.h"
#include "common/wire.h"

#ifndef AGENT_RUNDIR
#define AGENT_RUNDIR "/run/agentd"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("agentctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see agentctl --help)\n", stderr);
	return EXIT_USAGE;
}

/* getopt's '?' (its own message is off: opterr = 0): one line naming the
 * argument getopt stopped at. */
int bad_option(const char *cmd, char **argv)
{
	if (!cmd)
		return usage_error("unknown option or missing value '%s'", argv[optind - 1]);
	return usage_error("%s: unknown option or missing value '%s'", cmd, argv[optind - 1]);
}

/* `agentctl COMMAND --help`: the command's synopsis and what it does. */
static const struct cmd_help {
	const char *name, *text;
} cmd_helps[] = {
	{ "create", "create --purpose NAME [--ttl DURATION] [--actor LABEL] [--task TEXT]\n"
		    "         [--for USER] [--risk LEVEL] [--ssh-key FILE] [--json]\n"
		    "Create an identity for a task; prints its token once (on stdout; the\n"
		    "reminder that it is shown once goes to stderr, on a terminal only).\n"
		    "--for USER: as USER's delegate (the policy's may_act_for); --ssh-key\n"
		    "FILE binds one OpenSSH public key for ssh logins. --risk LEVEL (low,\n"
		    "medium, high, critical) raises the identity's risk above its purpose's.\n" },
	{ "run", "run --purpose NAME [--ttl DURATION] [--actor LABEL] [--task TEXT]\n"
		 "    [--for USER] [--risk LEVEL] [--json] [--] CMD [ARG...]\n"
		 "Run CMD as a new identity through the PAM service agentd, with this\n"
		 "stdin, stdout and stderr; the identity is retired (everything CMD left\n"
		 "killed) when CMD ends. Exits with CMD's status, 128+N if killed by\n"
		 "signal N, 125 if the run failed. --json: one line of JSON on stdout\n"
		 "after CMD's own output (identity, exit code or signal, status).\n" },
	{ "list", "list [--all] [--json]\n"
		  "The live identities you may see (root: all); --all adds retired ones.\n" },
	{ "show", "show NAME [--json]\nOne identity in full.\n" },
	{ "revoke", "revoke NAME... [--reason TEXT] [--json]\n"
		    "Retire identities and their descendants now; their processes are killed.\n"
		    "Up to 64 names go in one request, revoked together or not at all.\n" },
	{ "status", "status [--json]\nagentd's version, uptime and counts.\n" },
	{ "pending",
	  "pending [--json]\nThe step-up requests (sudo, approve services) you may decide.\n" },
	{ "approve", "approve ID [--reason TEXT] [--json]\n"
		     "Approve a pending request; agentd re-authenticates you (PAM service\n"
		     "agentd-approve) first.\n" },
	{ "deny", "deny ID [--reason TEXT] [--json]\nDeny a pending request.\n" },
	{ "authorized-keys", "authorized-keys USER [--json]\n"
			     "The SSH key bound to the live identity USER, for sshd's\n"
			     "AuthorizedKeysCommand; nothing for anyone else.\n" },
	{ "audit",
	  "audit verify [--key FILE | --key-dir DIR] [--json] [FILE...]\n"
	  "audit trace NAME [--key FILE | --key-dir DIR] [--host HOST] [--json] [FILE...]\n"
	  "verify: check the chain of agentd's audit records in syslog files (or\n"
	  "stdin) with the audit key; trace: one identity's story from them.\n" },
};

/* Whether argv (a command's arguments) asks for help: -h or --help before
 * "--" and, for run, before the command. */
static bool wants_help(const char *cmd, int argc, char **argv)
{
	bool run = strcmp(cmd, "run") == 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			return false;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return true;
		if (!run)
			continue;
		if (a[0] != '-')
			return false;
		if (!strchr(a, '=') && (strcmp(a, "--purpose") == 0 || strcmp(a, "--ttl") == 0 ||
					strcmp(a, "--actor") == 0 || strcmp(a, "--task") == 0 ||
					strcmp(a, "--for") == 0))
			i++;
	}
	return false;
}

static int cmd_help(const char *cmd)
{
	for (size_t i = 0; i < sizeof(cmd_helps) / sizeof(cmd_helps[0]); i++)
		if (strcmp(cmd_helps[i].name, cmd) == 0) {
			printf("Usage: agentctl [OPTIONS] %s", cmd_helps[i].text);
			if (strcmp(cmd, "create") == 0 || strcmp(cmd, "run") == 0)
				fputs("DURATION: 90s, 15m, 2h, 1d, or combined as 1h30m.\n",
				      stdout);
			fputs("See agentctl(1).\n", stdout);
			return 0;
		}
	return usage_error("unknown command '%s'", cmd);
}

static void usage(FILE *f)
{
	fputs("Usage: agentctl [-S SOCKET] [-t SECONDS] COMMAND [ARGS]\n"
	      "Create, inspect and retire task-scoped identities through agentd.\n\n"
	      "Commands:\n"
	      "  create --purpose NAME [--ttl DURATION] [--actor LABEL] [--task TEXT]\n"
	      "         [--for USER] [--risk LEVEL] [--ssh-key FILE] [--json]\n"
	      "                                     create an identity; prints its token once\n"
	      "  list [--all] [--json]              live identities you may see (--all: retired too)\n"
	      "  show NAME [--json]                 one identity in full\n"
	      "  revoke NAME... [--reason TEXT] [--json]\n"
	      "                                     retire an identity and its descendants now\n"
	      "  run --purpose NAME [--ttl DURATION] [--actor LABEL] [--task TEXT]\n"
	      "      [--for USER] [--risk LEVEL] [--json] [--] CMD [ARG...]\n"
	      "                                     run CMD as a new identity, retired when CMD ends;\n"
	      "                                     exits with CMD's status (125: run failed)\n"
	      "  status [--json]                    agentd's state\n"
	      "  pending [--json]                   step-up requests you may decide\n"
	      "  approve ID [--reason TEXT] [--json] approve one (agentd re-authenticates you)\n"
	      "  deny ID [--reason TEXT] [--json]   deny one\n"
	      "  authorized-keys USER [--json]      the live identity's SSH key (sshd's\n"
	      "                                     AuthorizedKeysCommand)\n"
	      "  audit verify [--key FILE | --key-dir DIR] [--json] [FILE...]\n"
	      "                                     check the audit chain in syslog files (or stdin)\n"
	      "  audit trace NAME [--key FILE | --key-dir DIR] [--host HOST] [--json] [FILE...]\n"
	      "                                     one identity's story from the audit records\n\n"
	      "Options:\n"
	      "  -S, --socket PATH   agentd's socket (default " AGENT_RUNDIR "/agentd.sock)\n"
	      "  -t, --timeout SECS  how long to wait for agentd (default 10)\n"
	      "  -h, --help          show this help\n"
	      "      --version       show the version\n\n"
	      "DURATION: 90s, 15m, 2h, 1d, or combined as 1h30m.\n"
	      "Exit status: 0 done, 1 refused or failed, 2 usage error, 3 agentd unreachable.\n",
	      f);
}

/* Sends c->w and reads one reply into c->m. Returns 0 or an exit status. */
static int call(struct ctl *c)
{
	int r = agent_wire_finish(&c->w);

	if (r < 0) {
		fprintf(stderr, "agentctl: request too large or invalid\n");
		return EXIT_USAGE;
	}
	if (c->fd < 0) {
		/* One deadline for connect, send and reply; busy is retried. */
		r = agent_client_call(c->socket, &c->w, NULL, 0, c->buf, &c->m, c->timeout_ms);
		if (r >= 0)
			c->fd = r;
		if (r == -ENOENT || r == -ECONNREFUSED || r == -EACCES || r == -ENAMETOOLONG) {
			fprintf(stderr, "agentctl: cannot reach agentd at %s: %s\n", c->socket,
				strerror(-r));
			return EXIT_UNREACHABLE;
		}
	} else {
		r = agent_client_send(c->fd, &c->w, c->timeout_ms);
		if (r == 0)
			r = agent_client_recv(c->fd, c->buf, &c->m, c->timeout_ms);
	}
	if (r > 0)
		r = 0;
	if (r == -EBADMSG) {
		fprintf(stderr, "agentctl: protocol error: malformed reply from agentd\n");
		return EXIT_REFUSED;
	}
	if (r < 0) {
		fprintf(stderr, "agentctl: agentd at %s did not answer: %s\n", c->socket,
			strerror(-r));
		return EXIT_UNREACHABLE;
	}
	if (c->m.type == AGENT_MSG_ERROR) {
		fprintf(stderr, "agentctl: %s\n", agent_msg_str(&c->m, AGENT_A_MESSAGE));
		return EXIT_REFUSED;
	}
	return 0;
}

static int expect(const struct ctl *c, enum agent_msg_type type)
{
	if (c->m.type == type)
		return 0;
	fprintf(stderr, "agentctl: protocol error: unexpected reply from agentd\n");
	return EXIT_REFUSED;
}

static void fmt_time(int64_t t, char *buf, size_t len)
{
	if (t <= 0 || agent_time_format(t, buf, len) < 0)
		snprintf(buf, len, "-");
}

static void chain_text(const struct agent_identity *id, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < id->chain_len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? " > " : "", id->chain[i]);

		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

static void json_identity(struct agent_json *j, const struct agent_identity *id, const char *token)
{
	char t[32];

	agent_json_begin_object(j, NULL);
	agent_json_str(j, "name", id->name);
	agent_json_u64(j, "uid", id->uid);
	agent_json_u64(j, "gid", id->uid);
	agent_json_str(j, "purpose", id->purpose);
	agent_json_str(j, "subject", id->subject);
	agent_json_begin_array(j, "chain");
	for (unsigned i = 0; i < id->chain_len; i++)
		agent_json_str(j, NULL, id->chain[i]);
	agent_json_end_array(j);
	/* Every key always present; null when unset. */
	agent_json_str(j, "actor", id->actor[0] ? id->actor : NULL);
	agent_json_str(j, "task", id->task[0] ? id->task : NULL);
	fmt_time(id->created, t, sizeof(t));
	agent_json_str(j, "created", t);
	fmt_time(id->expires, t, sizeof(t));
	agent_json_str(j, "expires", t);
	agent_json_str(j, "state", agent_state_str(id->state));
	agent_json_str(j, "parent", id->parent[0] ? id->parent : NULL);
	agent_json_u64(j, "depth", id->depth);
	agent_json_str(j, "risk", agent_risk_str(id->risk));
	agent_json_bool(j, "actor_verified", id->actor_verified);
	agent_json_str(j, "actor_name", id->actor_name[0] ? id->actor_name : NULL);
	agent_json_u64(j, "sudo_used", id->sudo_used);
	if (id->state == AGENT_STATE_RETIRED) {
		agent_json_str(j, "retire_reason", agent_retire_reason_str(id->retire_reason));
		fmt_time(id->retired_at, t, sizeof(t));
		agent_json_str(j, "retired_at", t);
	} else {
		agent_json_str(j, "retire_reason", NULL);
		agent_json_str(j, "retired_at", NULL);
	}
	agent_json_str(j, "retire_text", id->retire_text[0] ? id->retire_text : NULL);
	if (token)
		agent_json_str(j, "token", token);
	agent_json_end_object(j);
}

static void text_identity(const struct agent_identity *id, bool full)
{
	char chain[AGENT_CHAIN_MAX * (AGENT_NAME_MAX + 3) + 1], t[32], left[32];

	chain_text(id, chain, sizeof(chain));
	printf("name:     %s\nuid:      %u\ngid:      %u\npurpose:  %s\nsubject:  %s\n"
	       "chain:    %s\n",
	       id->name, id->uid, id->uid, id->purpose, id->subject, chain);
	fmt_time(id->expires, t, sizeof(t));
	if (id->state == AGENT_STATE_LIVE && id->expires > time(NULL) &&
	    agent_duration_format((uint64_t)(id->expires - time(NULL)), left, sizeof(left)) == 0)
		printf("expires:  %s (in %s)\n", t, left);
	else
		printf("expires:  %s\n", t);
	if (!full)
		return;
	if (id->parent[0])
		printf("parent:   %s\n", id->parent);
	printf("depth:    %u\nrisk:     %s\n", id->depth, agent_risk_str(id->risk));
	if (id->actor[0])
		printf("actor:    %s\n", id->actor);
	printf("verified: %s%s%s\n", id->actor_verified ? "yes" : "no",
	       id->actor_name[0] ? " " : "", id->actor_name);
	printf("sudo:     %u used\n", id->sudo_used);
	if (id->task[0])
		printf("task:     %s\n", id->task);
	fmt_time(id->created, t, sizeof(t));
	printf("created:  %s\nstate:    %s\n", t, agent_state_str(id->state));
	if (id->state == AGENT_STATE_RETIRED) {
		fmt_time(id->retired_at, t, sizeof(t));
		printf("retired:  %s (%s)\n", t, agent_retire_reason_str(id->retire_reason));
		if (id->retire_text[0])
			printf("reason:   %s\n", id->retire_text);
	}
}

/* ---------------------------------------------------------------- create */

/* The first key line of an OpenSSH public key file ("-" = stdin). 0, or an
 * exit status after one message. */
static int read_ssh_key(const char *path, char *out, size_t cap)
{
	char line[AGENT_SSH_KEY_MAX + 2];
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	bool found = false;

	if (!f) {
		fprintf(stderr, "agentctl: cannot read %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");

		if (line[n] == '\0' && !feof(f))
			break; /* longer than any key we accept */
		/* ssh-keygen -C '' writes "TYPE BASE64 ": a trailing blank is no
		 * part of the key, and agentd takes only the canonical form. */
		while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		line[n] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		found = true;
	}
	if (f != stdin)
		fclose(f);
	if (!found || !agent_valid_ssh_key(line) || strlen(line) >= cap)
		return usage_error("%s: not an OpenSSH public key line (TYPE BASE64 [COMMENT], "
				   "no options)",
				   path);
	memcpy(out, line, strlen(line) + 1);
	return 0;
}

/* The options create and run share. */
struct create_args {
	const char *purpose, *actor, *task, *for_user, *risk;
	char ssh_key[AGENT_SSH_KEY_MAX + 1];
	uint64_t ttl;
	bool json;
};

/* Parses create's options (run: no --ssh-key, and stops at the first
 * argument, the command). 0 or an exit status after one message. */
static int parse_create_args(int argc, char **argv, bool run, struct create_args *a)
{
	static const struct option opts[] = {
		{ "purpose", required_argument, NULL, 'p' },
		{ "ttl", required_argument, NULL, 'T' },
		{ "actor", required_argument, NULL, 'a' },
		{ "task", required_argument, NULL, 'k' },
		{ "for", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "ssh-key", required_argument, NULL, 's' },
		{ "risk", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = run ? "run" : "create";
	int o, r;

	memset(a, 0, sizeof(*a));
	while ((o = getopt_long(argc, argv, run ? "+" : "", opts, NULL)) != -1) {
		if (run && o == 's')
			return usage_error("run: --ssh-key is an option of create");
		switch (o) {
		case 'p':
			a->purpose = optarg;
			break;
		case 'a':
			a->actor = optarg;
			break;
		case 'k':
			a->task = optarg;
			break;
		case 'f':
			a->for_user = optarg;
			break;
		case 'r':
			a->risk = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 's':
			if ((r = read_ssh_key(optarg, a->ssh_key, sizeof(a->ssh_key))) != 0)
				return r;
			break;
		case 'T':
			if (agent_duration_parse(optarg, &a->ttl) < 0 || a->ttl == 0)
				return usage_error("invalid --ttl '%s' (use e.g. 90s, 15m, 2h)",
						   optarg);
			break;
		default:
			return bad_option(cmd, argv);
		}
	}
	if (!run && optind < argc)
		return usage_error("create: unexpected argument '%s'", argv[optind]);
	if (run && optind >= argc)
		return usage_error(
			"run: a command is required (agentctl run [OPTIONS] -- CMD [ARG...])");
	if (!a->purpose)
		return usage_error("%s: --purpose is required", cmd);
	if (!agent_valid_purpose(a->purpose))
		return usage_error("invalid purpose name '%s'", a->purpose);
	if (a->for_user && !agent_valid_username(a->for_user))
		return usage_error("invalid user name for --for");
	if (a->risk && agent_risk_parse(a->risk, &(enum agent_risk){ 0 }) < 0)
		return usage_error("invalid --risk '%s' (use low, medium, high or critical)",
				   a->risk);
	if (a->actor && !agent_valid_text(a->actor, AGENT_ACTOR_MAX))
		return usage_error("--actor must be at most %d bytes of printable UTF-8",
				   AGENT_ACTOR_MAX);
	if (a->task && !agent_valid_text(a->task, AGENT_TASK_MAX))
		return usage_error("--task must be at most %d bytes of printable UTF-8",
				   AGENT_TASK_MAX);
	return 0;
}

static void put_create_args(struct agent_wbuf *w, const struct create_args *a)
{
	agent_wire_str(w, AGENT_A_PURPOSE, a->purpose);
	if (a->ttl)
		agent_wire_u64(w, AGENT_A_TTL, a->ttl);
	if (a->actor)
		agent_wire_str(w, AGENT_A_ACTOR, a->actor);
	if (a->task)
		agent_wire_str(w, AGENT_A_TASK, a->task);
	if (a->for_user)
		agent_wire_str(w, AGENT_A_FOR, a->for_user);
	if (a->risk)
		agent_wire_str(w, AGENT_A_RISK, a->risk);
}

static int cmd_create(struct ctl *c, int argc, char **argv)
{
	struct create_args a;
	struct agent_identity id;
	const char *token;
	int r = parse_create_args(argc, argv, false, &a);

	if (r != 0)
		return r;
	agent_wire_begin(&c->w, AGENT_MSG_CREATE);
	put_create_args(&c->w, &a);
	if (a.ssh_key[0])
		agent_wire_str(&c->w, AGENT_A_SSH_KEY, a.ssh_key);
	r = call(c);
	if (r == 0)
		r = expect(c, AGENT_MSG_IDENTITY);
	if (r == 0 && (agent_wire_get_identity(&c->m, &id) < 0 ||
		       !(token = agent_msg_str(&c->m, AGENT_A_TOKEN)))) {
		fprintf(stderr, "agentctl: protocol error: incomplete reply from agentd\n");
		r = EXIT_REFUSED;
	}
	if (r == 0) {
		if (a.json) {
			struct agent_json j;

			agent_json_init(&j, stdout);
			json_identity(&j, &id, token);
		} else {
			text_identity(&id, false);
			printf("token:    %s\n", token);
			if (isatty(STDOUT_FILENO))
				fprintf(stderr, "agentctl: the token is shown only once\n");
		}
		fflush(stdout);
	}
	explicit_bzero(c->buf, sizeof(c->buf));
	return r;
}

/* ---------------------------------------------------------------- run */

enum { RUN_FAILED = 125 }; /* agentctl or agentd failed; the command's own codes pass through */

/* Waits for the EXIT of a run: as long as the identity may live, plus the
 * kill loop's bound. 0 with c->m, or RUN_FAILED after one message. */
static int run_wait(struct ctl *c, int64_t expires)
{
	int64_t left = expires - time(NULL) + 60;
	int r;

	if (left < 60)
		left = 60;
	if (left > INT32_MAX / 1000)
		left = INT32_MAX / 1000;
	r = agent_client_recv(c->fd, c->buf, &c->m, (int)left * 1000);
	if (r < 0) {
		fprintf(stderr, "agentctl: run: lost agentd before the command's end: %s\n",
			r == -ECONNRESET ? "connection closed" : strerror(-r));
		return RUN_FAILED;
	}
	return 0;
}

/* run --json: one object, one line, after the command has ended (the
 * command's own output came before it on the same stdout). */
static void json_run(const struct agent_identity *id, int wstatus, int status, const char *msg)
{
	struct agent_json j;
	char t[32];

	agent_json_init(&j, stdout);
	agent_json_begin_object(&j, NULL);
	agent_json_str(&j, "name", id->name);
	agent_json_u64(&j, "uid", id->uid);
	agent_json_str(&j, "purpose", id->purpose);
	fmt_time(id->expires, t, sizeof(t));
	agent_json_str(&j, "expires", t);
	if (WIFEXITED(wstatus))
		agent_json_u64(&j, "exit_code", (uint64_t)WEXITSTATUS(wstatus));
	else
		agent_json_str(&j, "exit_code", NULL);
	if (WIFSIGNALED(wstatus))
		agent_json_u64(&j, "signal", (uint64_t)WTERMSIG(wstatus));
	else
		agent_json_str(&j, "signal", NULL);
	agent_json_u64(&j, "status", (uint64_t)status);
	agent_json_str(&j, "message", msg);
	agent_json_end_object(&j);
	fflush(stdout);
}

/* agentctl run [create options] [--] CMD [ARG...]: see agentctl(1). The
 * exit status is the command's (128+N if killed by signal N), 125 if
 * agentctl, agentd or the PAM stack refused or failed. */
static int cmd_run(struct ctl *c, int argc, char **argv)
{
	static const int stdfds[3] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO };
	struct create_args a;
	struct agent_identity id;
	char cwd[AGENT_PATH_MAX + 1];
	const char *msg;
	uint64_t st;
	int r = parse_create_args(argc, argv, true, &a);

	if (r != 0)
		return RUN_FAILED;
	if (argc - optind > AGENT_ARGV_MAX)
		return usage_error("run: at most %d command arguments", AGENT_ARGV_MAX), RUN_FAILED;
	for (int i = 0; i < 3; i++)
		if (fcntl(stdfds[i], F_GETFD) < 0) {
			fprintf(stderr, "agentctl: run: descriptor %d is not open\n", i);
			return RUN_FAILED;
		}
	agent_wire_begin(&c->w, AGENT_MSG_RUN);
	put_create_args(&c->w, &a);
	for (int i = optind; i < argc; i++)
		agent_wire_str(&c->w, AGENT_A_ARGV, argv[i]);
	if (getcwd(cwd, sizeof(cwd)) && agent_valid_abspath(cwd))
		agent_wire_str(&c->w, AGENT_A_CWD, cwd);
	if (agent_wire_finish(&c->w) < 0) {
		fprintf(stderr, "agentctl: run: the command line is too long\n");
		return RUN_FAILED;
	}
	r = agent_client_call(c->socket, &c->w, stdfds, 3, c->buf, &c->m, c->timeout_ms);
	if (r >= 0) {
		c->fd = r;
		r = 0;
	}
	if (r == -ENOENT || r == -ECONNREFUSED || r == -EACCES || r == -ENAMETOOLONG) {
		fprintf(stderr, "agentctl: cannot reach agentd at %s: %s\n", c->socket,
			strerror(-r));
		return RUN_FAILED;
	}
	if (r < 0) {
		fprintf(stderr, "agentctl: agentd at %s did not answer: %s\n", c->socket,
			strerror(-r));
		return RUN_FAILED;
	}
	if (c->m.type == AGENT_MSG_ERROR) {
		fprintf(stderr, "agentctl: %s\n", agent_msg_str(&c->m, AGENT_A_MESSAGE));
		return RUN_FAILED;
	}
	if (c->m.type != AGENT_MSG_IDENTITY || agent_wire_get_identity(&c->m, &id) < 0) {
		fprintf(stderr, "agentctl: protocol error: unexpected reply from agentd\n");
		return RUN_FAILED;
	}
	/* From here on the command owns our stdout and stderr: say nothing
	 * unless something fails. */
	r = run_wait(c, id.expires);
	if (r != 0)
		return r;
	msg = agent_msg_str(&c->m, AGENT_A_MESSAGE);
	if (c->m.type != AGENT_MSG_EXIT || !agent_msg_u64(&c->m, AGENT_A_WAIT_STATUS, &st) ||
	    st > UINT32_MAX) {
		fprintf(stderr, "agentctl: protocol error: unexpected reply from agentd\n");
		return RUN_FAILED;
	}
	if (msg)
		fprintf(stderr, "agentctl: run: %s\n", msg);
	r = WIFSIGNALED((int)st) ? 128 + WTERMSIG((int)st)
	    : WIFEXITED((int)st) ? WEXITSTATUS((int)st)
				 : RUN_FAILED;
	if (a.json)
		json_run(&id, (int)st, r, msg);
	return r;
}

/* ---------------------------------------------------------------- list, show */

/* The next message of a listing (list, pending) into c->m. 0 or an exit
 * status after one message. */
static int next_entry(struct ctl *c, const char *what)
{
	int r = agent_client_recv(c->fd, c->buf, &c->m, c->timeout_ms);

	if (r == 0)
		return 0;
	fprintf(stderr, "agentctl: %s interrupted: %s\n", what, strerror(-r));
	return r == -EBADMSG ? EXIT_REFUSED : EXIT_UNREACHABLE;
}

static int cmd_list(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent_json j;
	bool all = false, json = false;
	int o, r;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a')
			all = true;
		else if (o == 'j')
			json = true;
		else
			return bad_option("list", argv);
	}
	if (optind < argc)
		return usage_error("list: unexpected argument '%s'", argv[optind]);
	agent_wire_begin(&c->w, AGENT_MSG_LIST);
	if (all)
		agent_wire_flag(&c->w, AGENT_A_ALL);
	r = call(c);
	if (r)
		return r;
	if (json) {
		agent_json_init(&j, stdout);
		agent_json_begin_array(&j, NULL);
	} else {
		printf("%-20s %-10s %-12s %-16s %-20s %s\n", "NAME", "UID", "PURPOSE", "SUBJECT",
		       "EXPIRES", "STATE");
	}
	for (;;) {
		struct agent_identity id;
		char t[32], state[48];

		if (c->m.type == AGENT_MSG_END)
			break;
		if (expect(c, AGENT_MSG_IDENTITY) || agent_wire_get_identity(&c->m, &id) < 0) {
			fprintf(stderr, "agentctl: protocol error: bad list entry\n");
			return EXIT_REFUSED;
		}
		if (json) {
			json_identity(&j, &id, NULL);
		} else {
			fmt_time(id.expires, t, sizeof(t));
			if (id.state == AGENT_STATE_RETIRED)
				snprintf(state, sizeof(state), "retired(%s)",
					 agent_retire_reason_str(id.retire_reason));
			else
				snprintf(state, sizeof(state), "live");
			printf("%-20s %-10u %-12s %-16s %-20s %s\n", id.name, id.uid, id.purpose,
			       id.subject, t, state);
		}
		if ((r = next_entry(c, "list")) != 0)
			return r;
	}
	if (json)
		agent_json_end_array(&j);
	return 0;
}

/* The options of a command whose only option is --json, and its operands:
 * exactly one NAME (show), or none. 0 or a usage error's exit status. */
static int json_only(int argc, char **argv, const char *cmd, bool one_name, bool *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	*json = false;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'j')
			return bad_option(cmd, argv);
		*json = true;
	}
	if (one_name && argc - optind != 1)
		return usage_error("%s: exactly one NAME is required", cmd);
	if (!one_name && optind < argc)
		return usage_error("%s: unexpected argument '%s'", cmd, argv[optind]);
	return 0;
}

static int cmd_show(struct ctl *c, int argc, char **argv)
{
	struct agent_identity id;
	bool json;
	int r = json_only(argc, argv, "show", true, &json);

	if (r)
		return r;
	if (!agent_valid_username(argv[optind]))
		return usage_error("invalid identity name '%s'", argv[optind]);
	agent_wire_begin(&c->w, AGENT_MSG_SHOW);
	agent_wire_str(&c->w, AGENT_A_NAME, argv[optind]);
	r = call(c);
	if (r == 0)
		r = expect(c, AGENT_MSG_IDENTITY);
	if (r == 0 && agent_wire_get_identity(&c->m, &id) < 0) {
		fprintf(stderr, "agentctl: protocol error: bad identity in reply\n");
		r = EXIT_REFUSED;
	}
	if (r)
		return r;
	if (json) {
		struct agent_json j;

		agent_json_init(&j, stdout);
		json_identity(&j, &id, NULL);
	} else {
		text_identity(&id, true);
	}
	return 0;
}

/* ---------------------------------------------------------------- revoke, status */

static int cmd_revoke(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *reason = NULL;
	struct agent_json j;
	bool json = false;
	int o, r;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'j')
			json = true;
		else if (o == 'r')
			reason = optarg;
		else
			return bad_option("revoke", argv);
	}
	if (argc - optind < 1)
		return usage_error("revoke: at least one NAME is required");
	for (int i = optind; i < argc; i++)
		if (!agent_valid_username(argv[i]))
			return usage_error("invalid identity name '%s'", argv[i]);
	if (reason && !agent_valid_text(reason, AGENT_REASON_MAX))
		return usage_error("--reason must be at most %d bytes of printable UTF-8",
				   AGENT_REASON_MAX);
	if (json && argc - optind > 1) {
		agent_json_init(&j, stdout);
		agent_json_begin_array(&j, NULL);
	}
	/* Up to AGENT_REVOKE_NAMES_MAX names a request: each request is
	 * revoked as a whole or not at all; an error stops at that request. */
	r = 0;
	for (int i = optind; i < argc && r == 0; i += AGENT_REVOKE_NAMES_MAX) {
		int end = argc - i > AGENT_REVOKE_NAMES_MAX ? i + AGENT_REVOKE_NAMES_MAX : argc;

		agent_wire_begin(&c->w, AGENT_MSG_REVOKE);
		for (int k = i; k < end; k++)
			agent_wire_str(&c->w, AGENT_A_NAME, argv[k]);
		if (reason)
			agent_wire_str(&c->w, AGENT_A_REASON, reason);
		r = call(c);
		if (r == 0)
			r = expect(c, AGENT_MSG_OK);
		for (int k = i; r == 0 && k < end; k++) {
			if (json) {
				if (argc - optind == 1)
					agent_json_init(&j, stdout);
				agent_json_begin_object(&j, NULL);
				agent_json_str(&j, "name", argv[k]);
				agent_json_str(&j, "state", "retired");
				agent_json_str(&j, "reason", reason);
				agent_json_end_object(&j);
			} else {
				printf("revoked %s\n", argv[k]);
			}
		}
	}
	if (json && argc - optind > 1)
		agent_json_end_array(&j);
	return r;
}

/* ---------------------------------------------------------------- step-up */

static int cmd_pending(struct ctl *c, int argc, char **argv)
{
	struct agent_json j;
	bool json;
	int r = json_only(argc, argv, "pending", false, &json);

	if (r)
		return r;
	agent_wire_begin(&c->w, AGENT_MSG_PENDING);
	r = call(c);
	if (r)
		return r;
	if (json) {
		agent_json_init(&j, stdout);
		agent_json_begin_array(&j, NULL);
	} else {
		printf("%-8s %-16s %-8s %-20s %s\n", "REQUEST", "IDENTITY", "SERVICE", "EXPIRES",
		       "COMMAND");
	}
	while (c->m.type != AGENT_MSG_END) {
		const char *id = agent_msg_str(&c->m, AGENT_A_REQUEST_ID);
		const char *name = agent_msg_str(&c->m, AGENT_A_NAME);
		const char *svc = agent_msg_str(&c->m, AGENT_A_SERVICE);
		const char *cmd = agent_msg_str(&c->m, AGENT_A_COMMAND);
		const char *chain[AGENT_CHAIN_MAX];
		unsigned nchain = agent_msg_strs(&c->m, AGENT_A_CHAIN, chain, AGENT_CHAIN_MAX);
		uint64_t uid = 0, pid = 0, created = 0, expires = 0, approvals = 1;
		const char *appr[2];
		unsigned nappr = agent_msg_strs(&c->m, AGENT_A_APPROVER, appr, 2);
		const char *risk = agent_msg_str(&c->m, AGENT_A_RISK);
		char t[32], t2[32];

		if (c->m.type != AGENT_MSG_REQUEST || !id || !name || !svc ||
		    !agent_msg_u64(&c->m, AGENT_A_EXPIRES, &expires) || expires > INT64_MAX ||
		    !agent_msg_u64(&c->m, AGENT_A_CREATED, &created) || created > INT64_MAX) {
			fprintf(stderr, "agentctl: protocol error: bad pending entry\n");
			return EXIT_REFUSED;
		}
		agent_msg_u64(&c->m, AGENT_A_UID, &uid);
		agent_msg_u64(&c->m, AGENT_A_PID, &pid);
		agent_msg_u64(&c->m, AGENT_A_APPROVALS, &approvals);
		fmt_time((int64_t)expires, t, sizeof(t));
		fmt_time((int64_t)created, t2, sizeof(t2));
		if (json) {
			agent_json_begin_object(&j, NULL);
			agent_json_str(&j, "request", id);
			agent_json_str(&j, "identity", name);
			agent_json_u64(&j, "uid", uid);
			agent_json_str(&j, "purpose", agent_msg_str(&c->m, AGENT_A_PURPOSE));
			agent_json_str(&j, "subject", agent_msg_str(&c->m, AGENT_A_SUBJECT));
			agent_json_begin_array(&j, "chain");
			for (unsigned i = 0; i < nchain; i++)
				agent_json_str(&j, NULL, chain[i]);
			agent_json_end_array(&j);
			agent_json_str(&j, "service", svc);
			agent_json_str(&j, "command", cmd);
			agent_json_str(&j, "tty", agent_msg_str(&c->m, AGENT_A_TTY));
			agent_json_str(&j, "rhost", agent_msg_str(&c->m, AGENT_A_RHOST));
			agent_json_str(&j, "ruser", agent_msg_str(&c->m, AGENT_A_RUSER));
			agent_json_str(&j, "runas", agent_msg_str(&c->m, AGENT_A_RUNAS));
			agent_json_u64(&j, "pid", pid);
			agent_json_str(&j, "requested", t2);
			agent_json_str(&j, "expires", t);
			agent_json_str(&j, "rule", agent_msg_str(&c->m, AGENT_A_RULE));
			agent_json_str(&j, "risk", agent_msg_str(&c->m, AGENT_A_RISK));
			agent_json_u64(&j, "approvals", approvals);
			agent_json_begin_array(&j, "approved_by");
			for (unsigned i = 0; i < nappr && i < 2; i++)
				agent_json_str(&j, NULL, appr[i]);
			agent_json_end_array(&j);
			agent_json_end_object(&j);
		} else {
			const char *runas = agent_msg_str(&c->m, AGENT_A_RUNAS);

			printf("%-8s %-16s %-8s %-20s %s%s%s%s", id, name, svc, t,
			       cmd ? cmd : "(unknown)", runas ? " (as " : "", runas ? runas : "",
			       runas ? ")" : "");
			if (risk && strcmp(risk, "low") != 0)
				printf(" [risk %s, %u of %u approvals]", risk,
				       nappr < 2 ? nappr : 2, (unsigned)approvals);
			printf("\n");
		}
		if ((r = next_entry(c, "pending")) != 0)
			return r;
	}
	if (json)
		agent_json_end_array(&j);
	fflush(stdout);
	return 0;
}

/* One answer to a PAM prompt relayed by agentd: from the terminal without
 * echo (ECHO_OFF) when stdin is one, else one line of stdin. 0 or -1. */
static int read_answer(int style, const char *text, char *out, size_t cap)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO), hide = style == PAM_PROMPT_ECHO_OFF;
	size_t n;

	fputs(text ? text : "", stderr);
	fflush(stderr);
	if (tty && hide && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	} else {
		hide = false;
	}
	if (!fgets(out, (int)cap, stdin))
		out[0] = '\0';
	if (hide) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	n = strcspn(out, "\n");
	if (out[n] != '\n' && !feof(stdin) && strlen(out) + 1 >= cap)
		return -1; /* longer than agentd relays */
	out[n] = '\0';
	return 0;
}

/* Sends APPROVE or DENY; for an approval, answers agentd's relayed PAM
 * conversation until the decision. */
static int decide_request(struct ctl *c, int argc, char **argv, bool approve)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = approve ? "approve" : "deny", *reason = NULL, *msg;
	char answer[AGENT_CONV_TEXT_MAX + 2];
	bool json = false;
	int o, r;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'j')
			json = true;
		else if (o == 'r')
			reason = optarg;
		else
			return bad_option(cmd, argv);
	}
	if (optind + 1 != argc)
		return usage_error("%s: exactly one request id is required", cmd);
	if (strlen(argv[optind]) != AGENT_REQUEST_ID_LEN)
		return usage_error("%s: '%s' is not a request id (see agentctl pending)", cmd,
				   argv[optind]);
	if (reason && !agent_valid_text(reason, AGENT_REASON_MAX))
		return usage_error("--reason must be at most %d bytes of printable UTF-8",
				   AGENT_REASON_MAX);
	agent_wire_begin(&c->w, approve ? AGENT_MSG_APPROVE : AGENT_MSG_DENY);
	agent_wire_str(&c->w, AGENT_A_REQUEST_ID, argv[optind]);
	if (reason)
		agent_wire_str(&c->w, AGENT_A_REASON, reason);
	r = call(c);
	while (r == 0 && c->m.type == AGENT_MSG_PROMPT) {
		uint64_t style = 0;
		const char *text = agent_msg_str(&c->m, AGENT_A_TEXT);

		agent_msg_u64(&c->m, AGENT_A_STYLE, &style);
		if (style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON) {
			if (read_answer((int)style, text, answer, sizeof(answer)) < 0) {
				explicit_bzero(answer, sizeof(answer));
				fprintf(stderr, "agentctl: answer too long\n");
				return EXIT_REFUSED;
			}
			agent_wire_begin(&c->w, AGENT_MSG_PROMPT_REPLY);
			if (answer[0])
				agent_wire_str(&c->w, AGENT_A_TEXT, answer);
			explicit_bzero(answer, sizeof(answer));
			r = call(c);
			agent_wire_wipe(&c->w);
		} else {
			if (text)
				fprintf(stderr, "%s\n", text);
			r = agent_client_recv(c->fd, c->buf, &c->m, c->timeout_ms + 120000);
			if (r < 0) {
				fprintf(stderr, "agentctl: agentd did not answer: %s\n",
					strerror(-r));
				return EXIT_UNREACHABLE;
			}
		}
	}
	if (r)
		return r;
	if (expect(c, AGENT_MSG_OK))
		return EXIT_REFUSED;
	msg = agent_msg_str(&c->m, AGENT_A_MESSAGE);
	if (json) {
		struct agent_json j;

		agent_json_init(&j, stdout);
		agent_json_begin_object(&j, NULL);
		agent_json_str(&j, "request", argv[optind]);
		/* The first of two approvals (a critical action) leaves it pending. */
		agent_json_str(&j, "decision",
			       !approve                                   ? "denied"
			       : msg && strncmp(msg, "approval ", 9) == 0 ? "partial"
									  : "approved");
		agent_json_str(&j, "reason", reason);
		agent_json_str(&j, "message", msg);
		agent_json_end_object(&j);
	} else {
		printf("%s %s\n", argv[optind], msg ? msg : approve ? "approved" : "denied");
	}
	return fflush(stdout) == 0 ? 0 : EXIT_REFUSED;
}

static int cmd_approve(struct ctl *c, int argc, char **argv)
{
	return decide_request(c, argc, argv, true);
}

static int cmd_deny(struct ctl *c, int argc, char **argv)
{
	return decide_request(c, argc, argv, false);
}

/* authorized-keys --json: one object, nulls when there is no key. */
static void json_authorized_key(const char *user, const char *key, const char *when)
{
	struct agent_json j;

	agent_json_init(&j, stdout);
	agent_json_begin_object(&j, NULL);
	agent_json_str(&j, "user", user);
	agent_json_str(&j, "key", key);
	agent_json_str(&j, "expires", when);
	agent_json_end_object(&j);
}

/* Asks agentd for user's key: 0 with c->m holding it, or an exit status
 * (quiet when agentd says no: every human login asks too). */
static int ask_authorized_key(struct ctl *c, const char *user)
{
	int r;

	agent_wire_begin(&c->w, AGENT_MSG_AUTHORIZED_KEYS);
	agent_wire_str(&c->w, AGENT_A_NAME, user);
	if (agent_wire_finish(&c->w) < 0)
		return EXIT_USAGE;
	if (c->fd < 0) {
		r = agent_client_call(c->socket, &c->w, NULL, 0, c->buf, &c->m, c->timeout_ms);
		if (r >= 0) {
			c->fd = r;
			r = 0;
		}
		if (r == -ENOENT || r == -ECONNREFUSED || r == -EACCES || r == -ENAMETOOLONG) {
			fprintf(stderr, "agentctl: cannot reach agentd at %s: %s\n", c->socket,
				strerror(-r));
			return EXIT_UNREACHABLE;
		}
	} else {
		r = agent_client_send(c->fd, &c->w, c->timeout_ms);
		if (r == 0)
			r = agent_client_recv(c->fd, c->buf, &c->m, c->timeout_ms);
	}
	if (r < 0) {
		fprintf(stderr, "agentctl: agentd at %s did not answer: %s\n", c->socket,
			strerror(-r));
		return r == -EBADMSG ? EXIT_REFUSED : EXIT_UNREACHABLE;
	}
	return c->m.type == AGENT_MSG_ERROR ? EXIT_REFUSED : 0;
}

/* For sshd's AuthorizedKeysCommand: the key bound at creation, only while
 * the identity is live, with an expiry-time option at its deadline. Quiet
 * for names without a key (every human login asks too). */
static int cmd_authorized_keys(struct ctl *c, int argc, char **argv)
{
	const char *key = NULL, *user;
	uint64_t expires;
	struct tm tm;
	time_t t;
	char when[32], iso[32];
	bool json;
	int r = json_only(argc, argv, "authorized-keys", true, &json);

	if (r)
		return r;
	user = argv[optind];
	r = agent_valid_username(user) ? ask_authorized_key(c, user) : EXIT_REFUSED;
	if (r == 0) {
		key = agent_msg_str(&c->m, AGENT_A_SSH_KEY);
		if (c->m.type != AGENT_MSG_OK || !key || !agent_valid_ssh_key(key) ||
		    !agent_msg_u64(&c->m, AGENT_A_EXPIRES, &expires) ||
		    expires > INT32_MAX * 4ULL) {
			fprintf(stderr, "agentctl: protocol error: unexpected reply from agentd\n");
			return EXIT_REFUSED;
		}
		t = (time_t)expires;
		if (!gmtime_r(&t, &tm) || strftime(when, sizeof(when), "%Y%m%d%H%M%SZ", &tm) == 0)
			return EXIT_REFUSED;
		fmt_time((int64_t)expires, iso, sizeof(iso));
	}
	if (json)
		json_authorized_key(user, r == 0 ? key : NULL, r == 0 ? iso : NULL);
	else if (r == 0)
		printf("expiry-time=\"%s\" %s\n", when, key);
	if (r == 0 && fflush(stdout) != 0)
		return EXIT_REFUSED;
	return r;
}

/* A STATUS_REPLY list of uids ("UID UID ...") as a JSON array. */
static void json_uids(struct agent_json *j, const char *key, const char *uids)
{
	agent_json_begin_array(j, key);
	for (const char *p = uids; p && *p;) {
		char *end;
		unsigned long long u = strtoull(p, &end, 10);

		if (end == p)
			break;
		agent_json_u64(j, NULL, u);
		p = end + strspn(end, " ");
	}
	agent_json_end_array(j);
}

/* "LABEL N (UID UID ...)": the list is the first AGENT_HELD_SHOWN_MAX. */
static void print_uids(const char *label, uint64_t n, const char *uids)
{
	printf("%s %llu%s%s%s\n", label, (unsigned long long)n, uids ? " (" : "", uids ? uids : "",
	       uids ? (n > AGENT_HELD_SHOWN_MAX ? " ...)" : ")") : "");
}

static int cmd_status(struct ctl *c, int argc, char **argv)
{
	uint64_t live = 0, umin = 0, umax = 0, q = 0, up = 0, held = 0, sweeping = 0;
	uint64_t reaping = 0, survivors = 0;
	const char *held_uids, *survivor_uids;
	const char *version;
	bool json;
	int r = json_only(argc, argv, "status", false, &json);

	if (r)
		return r;
	agent_wire_begin(&c->w, AGENT_MSG_STATUS);
	r = call(c);
	if (r == 0)
		r = expect(c, AGENT_MSG_STATUS_REPLY);
	if (r)
		return r;
	version = agent_msg_str(&c->m, AGENT_A_VERSION);
	agent_msg_u64(&c->m, AGENT_A_LIVE, &live);
	agent_msg_u64(&c->m, AGENT_A_UID_MIN, &umin);
	agent_msg_u64(&c->m, AGENT_A_UID_MAX, &umax);
	agent_msg_u64(&c->m, AGENT_A_QUARANTINED, &q);
	agent_msg_u64(&c->m, AGENT_A_UPTIME, &up);
	agent_msg_u64(&c->m, AGENT_A_HELD, &held);
	agent_msg_u64(&c->m, AGENT_A_SWEEPING, &sweeping);
	held_uids = agent_msg_str(&c->m, AGENT_A_HELD_UIDS);
	agent_msg_u64(&c->m, AGENT_A_REAPING, &reaping);
	agent_msg_u64(&c->m, AGENT_A_SURVIVORS, &survivors);
	survivor_uids = agent_msg_str(&c->m, AGENT_A_SURVIVOR_UIDS);
	if (json) {
		struct agent_json j;

		agent_json_init(&j, stdout);
		agent_json_begin_object(&j, NULL);
		agent_json_str(&j, "version", version ? version : "");
		agent_json_u64(&j, "live", live);
		agent_json_u64(&j, "uid_min", umin);
		agent_json_u64(&j, "uid_max", umax);
		agent_json_u64(&j, "quarantined", q);
		agent_json_u64(&j, "uptime", up);
		agent_json_u64(&j, "held", held);
		json_uids(&j, "held_uids", held_uids);
		agent_json_u64(&j, "sweeping", sweeping);
		agent_json_u64(&j, "reaping", reaping);
		agent_json_u64(&j, "survivors", survivors);
		json_uids(&j, "survivor_uids", survivor_uids);
		agent_json_end_object(&j);
	} else {
		char u[32];

		agent_duration_format(up, u, sizeof(u));
		printf("agentd %s\nlive identities:  %llu\nuid range:        %llu-%llu\n"
		       "quarantined uids: %llu\nuptime:           %s\n",
		       version ? version : "?", (unsigned long long)live, (unsigned long long)umin,
		       (unsigned long long)umax, (unsigned long long)q, u);
		print_uids("held uids:       ", held, held_uids);
		printf("sweeping uids:    %llu\nreaping uids:     %llu\n",
		       (unsigned long long)sweeping, (unsigned long long)reaping);
		print_uids("survivor uids:   ", survivors, survivor_uids);
	}
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct ctl *, int, char **);
} commands[] = {
	{ "create", cmd_create },
	{ "list", cmd_list },
	{ "show", cmd_show },
	{ "revoke", cmd_revoke },
	{ "status", cmd_status },
	{ "run", cmd_run },
	{ "authorized-keys", cmd_authorized_keys },
	{ "pending", cmd_pending },
	{ "approve", cmd_approve },
	{ "deny", cmd_deny },
	{ "audit", cmd_audit },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ctl c = { .socket = AGENT_RUNDIR "/agentd.sock",
				.timeout_ms = 10000,
				.fd = -1 };
	int o, r;

	opterr = 0; /* one line per usage error, ours */
	while ((o = getopt_long(argc, argv, "+S:t:h", opts, NULL)) != -1) {
		switch (o) {
		case 'S':
			c.socket = optarg;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v <= 0 || v > 3600)
				return usage_error("invalid --timeout '%s'", optarg);
			c.timeout_ms = (int)v * 1000;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("agentctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			return bad_option(NULL, argv);
		}
	}
	if (optind >= argc)
		return usage_error("a command is required");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		argc -= optind;
		argv += optind;
		if (wants_help(argv[0], argc, argv))
			return cmd_help(argv[0]);
		optind = 0; /* glibc: reinitialise getopt for the command's own options */
		r = commands[i].fn(&c, argc, argv);
		if (c.fd >= 0)
			close(c.fd);
		agent_wire_wipe(&c.w);
		explicit_bzero(c.buf, sizeof(c.buf));
		return r;
	}
	return usage_error("unknown command '%s'", argv[optind]);
}
