/* agentd.conf parser (see agentd/config.h and agentd.conf(5)).
 *
 * Strict: every setting must be known, typed and in range; each error names
 * the file and line. The file is trusted only after its descriptor is
 * checked (regular, root-owned, not group/other-writable, bounded size), and
 * that same descriptor is parsed.
 *
 * Layout: one option table per level (the top level, a purpose, a
 * delegator) says for every key its type, default, limits, where it is
 * stored and what it means; one engine applies the defaults and reads every
 * row; the rules that relate keys to each other follow in check_rules().
 * A new key is one row (and its line in agentd.conf(5)). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>
#include <sodium.h>

#include "agentd/config.h"
#include "common/text.h"

#define CONFIG_MAX_BYTES (1 << 20) /* agentd.conf itself */
#define MAX_PURPOSES 64            /* purposes, and a purpose's delegate list */
#define MAX_DELEGATORS 64
#define MAX_WHO 64       /* who = [...] of one delegator */
#define MAX_SERVICES 64  /* services = {...} of one purpose */
#define MAX_CMD_RULES 64 /* each list of sudo_commands */
#define MAX_APPROVERS 64
#define MAX_SWEEP_DIRS 16
#define MAX_BUDGET 1000000          /* max_sudo, max_delegations, creates_per_minute */
#define MAX_ACTORS 64               /* verified_actors, global or of one purpose */
#define DEFAULT_UID_MIN 1879048192u /* 0x70000000: above systemd's container range */
#define DEFAULT_UID_MAX 1879113727u /* 65,536 uids */
#define MAX_RANGE 1048576u          /* uids in the agent range at most */
#define MAX_ID 0x7fffffffLL         /* uid_min, uid_max, agents_gid: below 2^31 */
#define DEFAULT_MAX_PER_CALLER 1000
#define DEFAULT_MAX_CONNECTIONS 64
#define MAX_CONNECTIONS 4096
#define DEFAULT_MAX_CONNECTIONS_PER_UID 16
#define DEFAULT_MAX_PENDING 256
#define MAX_PENDING 4096
#define MAX_PROCESSES 4194304 /* max_processes: the kernel's pid_max limit */
#define GRACE_UNIT_MS 1000    /* kill_grace is stored in milliseconds */
#define STR_(x) #x
#define STR(x) STR_(x)

struct ctx {
	const char *name;
	char *err;
	size_t errlen;
};

/* libconfig's line numbers are unsigned; ours are int (0 = unknown). */
static int src_line(const config_setting_t *s)
{
	return s ? (int)config_setting_source_line(s) : 0;
}

__attribute__((format(printf, 3, 4))) static int fail(struct ctx *c, const config_setting_t *s,
						      const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s && src_line(s))
		snprintf(c->err, c->errlen, "%s:%d: %s", c->name, src_line(s), msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->name, msg);
	return -EINVAL;
}

/* ------------------------------------------------------------ value checks */

/* Checks of one string value: NULL if fine, else why not (the message is
 * KEY "VALUE" WHY). */

static const char *check_prefix(const char *s)
{
	if (!agent_valid_prefix(s) || strlen(s) + AGENT_SUFFIX_LEN > AGENT_NAME_MAX)
		return "is invalid (lower-case letters, digits, '-' and '_', starting with a "
		       "letter, at most " STR(AGENT_PREFIX_MAX) ")";
	return NULL;
}

static const char *check_home_base(const char *s)
{
	return agent_valid_abspath(s) && strcmp(s, "/") != 0
		       ? NULL
		       : "must be an absolute path other than /";
}

static const char *check_abspath(const char *s)
{
	return agent_valid_abspath(s) ? NULL : "must be an absolute path";
}

/* "auto", "none" or an absolute path (a directory in a cgroup2 fs). */
static const char *check_cgroup_root(const char *s)
{
	return strcmp(s, "auto") == 0 || strcmp(s, "none") == 0 ||
			       (agent_valid_abspath(s) && strcmp(s, "/") != 0)
		       ? NULL
		       : "must be \"auto\", \"none\" or an absolute path other than /";
}

static const char *check_group_name(const char *s)
{
	return agent_valid_username(s) ? NULL : "is not a valid group name";
}

static const char *check_purpose_name(const char *s)
{
	return agent_valid_purpose(s) ? NULL
				      : "is invalid (lower-case letters, digits, '-' and '_', at "
					"most " STR(AGENT_PURPOSE_MAX) ")";
}

/* Checks of one entry of an array of strings. */
static bool valid_who(const char *s)
{
	if (strcmp(s, "*") == 0)
		return true;
	if (s[0] == '%')
		return agent_valid_username(s + 1);
	return agent_valid_username(s);
}

static bool valid_sweep_dir(const char *s)
{
	return agent_valid_abspath(s) && strcmp(s, "/") != 0;
}

static bool valid_approver(const char *s)
{
	return strcmp(s, "*") != 0 && valid_who(s);
}

bool agent_config_cmd_rule_valid(const char *rule, const char **rest)
{
	const char *end;
	char name[AGENT_NAME_MAX + 1];

	*rest = rule;
	if (rule[0] != '(')
		return true;
	end = strchr(rule, ')');
	if (!end || end == rule + 1 || end[1] != ' ')
		return false;
	for (const char *p = rule + 1;; p++) {
		size_t n = strcspn(p, ",)");

		if (n == 0 || n > AGENT_NAME_MAX)
			return false;
		memcpy(name, p, n);
		name[n] = '\0';
		if (!agent_valid_username(name))
			return false;
		p += n;
		if (p == end)
			break;
	}
	*rest = end + 2;
	return true;
}

/* "[(USER,...) ]PATH" or "... PATH ARGS": an absolute path, then optionally one space and a
 * glob for the arguments; printable ASCII only. */
static bool valid_cmd_rule(const char *s)
{
	char path[AGENT_CMD_RULE_MAX + 1];
	size_t n;

	for (const char *p = s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return false;
	if (!agent_config_cmd_rule_valid(s, &s)) /* "(user,...) " run-as prefix */
		return false;
	n = strcspn(s, " ");
	if (n > AGENT_PATH_MAX || s[0] != '/')
		return false;
	memcpy(path, s, n);
	path[n] = '\0';
	return agent_valid_abspath(path) && (s[n] == '\0' || s[n + 1] != '\0');
}

static bool valid_purpose_or_star(const char *s)
{
	return strcmp(s, "*") == 0 || agent_valid_purpose(s);
}

static bool valid_group(const char *s)
{
	size_t i = 0;

	while (s[i] >= '0' && s[i] <= '9')
		i++;
	return (i > 0 && s[i] == '\0') || agent_valid_username(s);
}

static bool valid_purpose_name(const char *s)
{
	return agent_valid_purpose(s);
}

/* ------------------------------------------------------------ the option tables */

enum opt_type {
	OPT_INT,      /* integer in min..max; stored in 4 or 8 bytes */
	OPT_DURATION, /* duration string; seconds (times unit) in a uint64_t */
	OPT_BOOL,
	OPT_STRING,  /* stored in char[size], checked by check() */
	OPT_ENUM,    /* one of choices, stored as an enum */
	OPT_STRINGS, /* array of strings, each checked by valid(), into a calloc'd
		       * char[n][size] at off, n at count_off */
	OPT_SECTION, /* read by its own function, parse() */
};

struct choice {
	const char *name;
	int value;
};

struct opt {
	const char *name;
	enum opt_type type;
	size_t off, size; /* where the value is stored, and how wide it is */
	bool required;
	long long def;     /* INT, BOOL, ENUM */
	const char *sdef;  /* STRING; DURATION as written ("15m"), NULL = 0 */
	long long min;     /* INT; DURATION: 1 refuses 0s */
	long long max;     /* INT; STRINGS: entries at most */
	const char *dmax;  /* DURATION: at most this ("60s"); NULL = 366d */
	unsigned unit;     /* DURATION: stored = seconds * unit (0 = 1) */
	const char *label; /* STRING: how messages name the key, if not by name */
	const char *(*check)(const char *v);
	bool (*valid)(const char *v);
	const char *what;             /* STRINGS: "... is not a valid WHAT" */
	size_t count_off;             /* STRINGS */
	const struct choice *choices; /* ENUM, NULL-terminated */
	int (*parse)(struct ctx *c, const config_setting_t *s, void *base); /* SECTION */
	const char *doc;
};

#define AT(T, f) .off = offsetof(T, f), .size = sizeof(((T *)0)->f)
#define CFG(f) AT(struct agent_config, f)
#define PUR(f) AT(struct agent_cfg_purpose, f)
#define DEL(f) AT(struct agent_cfg_delegator, f)
/* An array of strings: the pointer, its count and the width of an entry. */
#define LIST(T, f, nf, width) .off = offsetof(T, f), .count_off = offsetof(T, nf), .size = (width)

static int parse_purposes(struct ctx *c, const config_setting_t *s, void *base);
static int parse_delegators(struct ctx *c, const config_setting_t *s, void *base);
static int parse_groups(struct ctx *c, const config_setting_t *s, void *base);
static int parse_services(struct ctx *c, const config_setting_t *s, void *base);
static int parse_sudo_commands(struct ctx *c, const config_setting_t *s, void *base);
static int parse_service_risk(struct ctx *c, const config_setting_t *s, void *base);
static int parse_actors(struct ctx *c, const config_setting_t *s, void *base);
static int parse_purpose_actors(struct ctx *c, const config_setting_t *s, void *base);

static const struct choice risk_choices[] = {
	{ "low", AGENT_RISK_LOW },
	{ "medium", AGENT_RISK_MEDIUM },
	{ "high", AGENT_RISK_HIGH },
	{ "critical", AGENT_RISK_CRITICAL },
	{ NULL, 0 },
};

static const struct choice budget_choices[] = {
	{ "deny", AGENT_RULE_DENY },
	{ "approve", AGENT_RULE_APPROVE },
	{ NULL, 0 },
};

static const struct choice home_choices[] = {
	{ "none", AGENT_HOME_NONE },
	{ "ephemeral", AGENT_HOME_EPHEMERAL },
	{ NULL, 0 },
};

/* The top level, in the order errors are looked for. */
static const struct opt root_opts[] = {
	{ "uid_min", OPT_INT, CFG(uid_min), .def = DEFAULT_UID_MIN, .min = 1, .max = MAX_ID,
	  .doc = "first uid of the agent range" },
	{ "uid_max", OPT_INT, CFG(uid_max), .def = DEFAULT_UID_MAX, .min = 1, .max = MAX_ID,
	  .doc = "last uid of the agent range" },
	{ "name_prefix", OPT_STRING, CFG(name_prefix), .sdef = "agent-", .check = check_prefix,
	  .doc = "identity names are this and " STR(AGENT_SUFFIX_LEN) " random characters" },
	{ "default_ttl", OPT_DURATION, CFG(default_ttl), .sdef = "15m", .min = 1,
	  .doc = "TTL of a create that names none" },
	{ "max_ttl", OPT_DURATION, CFG(max_ttl), .sdef = "8h", .min = 1,
	  .doc = "the longest TTL anyone may ask for" },
	{ "uid_quarantine", OPT_DURATION, CFG(uid_quarantine), .sdef = "24h",
	  .doc = "how long a reaped uid stays out of circulation" },
	{ "kill_grace", OPT_DURATION, CFG(kill_grace_ms), .sdef = "2s", .dmax = "60s",
	  .unit = GRACE_UNIT_MS, .doc = "SIGTERM to the first SIGKILL at retirement" },
	{ "retired_retention", OPT_DURATION, CFG(retired_retention), .sdef = "30d",
	  .doc = "how long retired records are kept" },
	{ "home_base", OPT_STRING, CFG(home_base), .sdef = "/home/agents", .check = check_home_base,
	  .doc = "where ephemeral homes are created" },
	{ "agents_group", OPT_STRING, CFG(agents_group), .sdef = "", .check = check_group_name,
	  .doc = "a group of all live agents (needs agents_gid)" },
	{ "agents_gid", OPT_INT, CFG(agents_gid), .def = 0, .min = 1, .max = MAX_ID,
	  .doc = "the gid of agents_group" },
	{ "max_live", OPT_INT, CFG(max_live), .def = 0, .min = 0, .max = MAX_RANGE,
	  .doc = "live identities at most, 1 to the size of the uid range (check_rules)" },
	{ "max_live_per_caller", OPT_INT, CFG(max_live_per_caller), .def = DEFAULT_MAX_PER_CALLER,
	  .min = 1, .max = MAX_RANGE, .doc = "live identities at most per creating uid" },
	{ "max_connections", OPT_INT, CFG(max_connections), .def = DEFAULT_MAX_CONNECTIONS,
	  .min = 1, .max = MAX_CONNECTIONS, .doc = "concurrent client connections at most" },
	{ "max_connections_per_uid", OPT_INT, CFG(max_connections_per_uid),
	  .def = DEFAULT_MAX_CONNECTIONS_PER_UID, .min = 1, .max = MAX_CONNECTIONS,
	  .doc = "concurrent client connections at most per non-root uid" },
	{ "connection_idle_timeout", OPT_DURATION, CFG(connection_idle_timeout), .sdef = "30s",
	  .min = 1, .dmax = "1h",
	  .doc = "a connection with no request in progress is closed after this" },
	{ "approvers", OPT_STRINGS,
	  LIST(struct agent_config, approvers, napprovers, AGENT_NAME_MAX + 2),
	  .max = MAX_APPROVERS, .valid = valid_approver,
	  .what = "approver (\"user\" or \"%group\")", .doc = "who may decide step-up requests" },
	{ "sweep_dirs", OPT_STRINGS,
	  LIST(struct agent_config, sweep_dirs, nsweep_dirs, AGENT_PATH_MAX + 1),
	  .max = MAX_SWEEP_DIRS, .valid = valid_sweep_dir, .what = "absolute path other than /",
	  .doc = "shared writable places swept of a retired uid's files (unset: "
		 "/tmp /var/tmp /dev/shm /dev/mqueue); home_base is always swept" },
	{ "approval_timeout", OPT_DURATION, CFG(approval_timeout), .sdef = "5m", .min = 1,
	  .dmax = "1h", .doc = "how long a step-up request waits" },
	{ "notify_command", OPT_STRING, CFG(notify_command), .sdef = "", .check = check_abspath,
	  .doc = "run for each new step-up request" },
	{ "subject_may_approve", OPT_BOOL, CFG(subject_may_approve), .def = true,
	  .doc = "whether the subject may approve its agents' requests" },
	{ "max_pending", OPT_INT, CFG(max_pending), .def = DEFAULT_MAX_PENDING, .min = 1,
	  .max = MAX_PENDING, .doc = "pending step-up requests at most" },
	{ "approve_risk", OPT_ENUM, CFG(approve_risk), .def = AGENT_RISK_HIGH,
	  .choices = risk_choices,
	  .doc = "an allowed action at or above this risk needs an approver (critical: two)" },
	{ "cgroup_root", OPT_STRING, CFG(cgroup_root), .sdef = "auto", .check = check_cgroup_root,
	  .doc = "the cgroup2 subtree identities' processes are contained in (auto, none, a path)" },
	{ "verified_actors", OPT_SECTION, .parse = parse_actors,
	  .doc = "programs recognised as creating clients, for every purpose" },
	{ "policy_check_interval", OPT_DURATION, CFG(policy_check_interval), .sdef = "60s",
	  .min = 1, .dmax = "1d",
	  .doc = "how often live identities are re-checked against the policy" },
	/* Purposes first: delegators refer to them. */
	{ "purposes", OPT_SECTION, .parse = parse_purposes, .doc = "the purposes" },
	{ "delegators", OPT_SECTION, .parse = parse_delegators, .doc = "who may create what" },
};

/* One element of purposes = ( ... ). */
static const struct opt purpose_opts[] = {
	{ "name", OPT_STRING, PUR(name), .required = true, .label = "purpose name",
	  .check = check_purpose_name, .doc = "unique name of the purpose" },
	{ "groups", OPT_SECTION, .parse = parse_groups,
	  .doc = "supplementary groups, by name or gid" },
	{ "shell", OPT_STRING, PUR(shell), .sdef = "/bin/sh", .check = check_abspath,
	  .doc = "login shell" },
	{ "home", OPT_ENUM, PUR(home), .def = AGENT_HOME_NONE, .choices = home_choices,
	  .doc = "none (/nonexistent) or ephemeral (home_base/NAME)" },
	{ "services", OPT_SECTION, .parse = parse_services,
	  .doc = "PAM service -> allow, approve or deny" },
	{ "sudo_commands", OPT_SECTION, .parse = parse_sudo_commands,
	  .doc = "per-command rules for sudo" },
	{ "risk", OPT_ENUM, PUR(risk), .def = AGENT_RISK_LOW, .choices = risk_choices,
	  .doc = "the least risk of its identities: low, medium, high or critical" },
	{ "service_risk", OPT_SECTION, .parse = parse_service_risk,
	  .doc = "PAM service -> the risk of using it" },
	{ "verified_actors", OPT_SECTION, .parse = parse_purpose_actors,
	  .doc = "programs recognised as creating clients of this purpose" },
	{ "require_verified_actor", OPT_BOOL, PUR(require_verified_actor), .def = false,
	  .doc = "refuse a create whose client is no verified actor" },
	{ "max_sudo", OPT_INT, PUR(max_sudo), .def = 0, .min = 0, .max = MAX_BUDGET,
	  .doc = "sudo actions one identity may perform (0: no budget)" },
	{ "max_delegations", OPT_INT, PUR(max_delegations), .def = 0, .min = 0, .max = MAX_BUDGET,
	  .doc = "sub-identities one identity may create (0: no budget)" },
	{ "over_budget", OPT_ENUM, PUR(over_budget), .def = AGENT_RULE_DENY,
	  .choices = budget_choices, .doc = "beyond max_sudo: deny, or approve (a human decides)" },
	{ "delegate", OPT_STRINGS,
	  LIST(struct agent_cfg_purpose, delegate, ndelegate, AGENT_PURPOSE_MAX + 1),
	  .max = MAX_PURPOSES, .valid = valid_purpose_name, .what = "purpose name",
	  .doc = "purposes an identity may create" },
	{ "max_depth", OPT_INT, PUR(max_depth), .def = 1, .min = 1, .max = AGENT_CHAIN_MAX,
	  .doc = "how deep in a delegation an identity may sit" },
	{ "max_ttl", OPT_DURATION, PUR(max_ttl), .min = 1,
	  .doc = "longest TTL of the purpose (unset: the global max_ttl)" },
	{ "max_processes", OPT_INT, PUR(max_processes), .def = 0, .min = 0, .max = MAX_PROCESSES,
	  .doc = "pids.max of an identity's cgroup (0: no limit)" },
};

static const char *check_sha256(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n == 64 && s[n] == '\0' ? NULL : "is not 64 lower-case hex digits";
}

static const char *check_actor_name(const char *s)
{
	return agent_valid_username(s) ? NULL : "is not a valid actor name";
}

#define ACT(f) AT(struct agent_cfg_actor, f)
/* One element of verified_actors = ( ... ). */
static const struct opt actor_opts[] = {
	{ "name", OPT_STRING, ACT(name), .required = true, .label = "actor name",
	  .check = check_actor_name, .doc = "the actor's name, recorded as actor_name" },
	{ "path", OPT_STRING, ACT(path), .required = true, .check = check_abspath,
	  .doc = "the executable (the same file as the client's, by device and inode)" },
	{ "sha256", OPT_STRING, ACT(sha256_hex), .sdef = "", .check = check_sha256,
	  .doc = "pins the executable's content" },
	{ "who", OPT_STRINGS, LIST(struct agent_cfg_actor, who, nwho, AGENT_NAME_MAX + 2),
	  .max = MAX_WHO, .valid = valid_who, .what = "user, %group or \"*\"",
	  .doc = "callers who may run it as this actor (unset: anyone)" },
};

/* One element of delegators = ( ... ). */
static const struct opt delegator_opts[] = {
	{ "who", OPT_STRINGS, LIST(struct agent_cfg_delegator, who, nwho, AGENT_NAME_MAX + 2),
	  .required = true, .max = MAX_WHO, .valid = valid_who, .what = "user, %group or \"*\"",
	  .doc = "callers the rule applies to" },
	{ "purposes", OPT_STRINGS,
	  LIST(struct agent_cfg_delegator, purposes, npurposes, AGENT_PURPOSE_MAX + 1),
	  .required = true, .max = MAX_PURPOSES, .valid = valid_purpose_or_star,
	  .what = "purpose name or \"*\"", .doc = "purposes they may create" },
	{ "max_ttl", OPT_DURATION, DEL(max_ttl), .min = 1, .doc = "longest TTL the rule grants" },
	{ "may_act_for", OPT_BOOL, DEL(may_act_for), .def = false,
	  .doc = "whether they may name another subject" },
	{ "creates_per_minute", OPT_INT, DEL(creates_per_minute), .def = 0, .min = 0,
	  .max = MAX_BUDGET, .doc = "creates one caller may make in any 60 s (0: no budget)" },
};

#define NOPTS(t) (sizeof(t) / sizeof((t)[0]))

/* ------------------------------------------------------------ the engine */

/* A duration of the table as written ("15m"); the tables are tested. */
static uint64_t table_duration(const char *s)
{
	uint64_t v = 0;

	if (s && agent_duration_parse(s, &v) < 0)
		abort();
	return v;
}

static void store_u(void *base, const struct opt *o, uint64_t v)
{
	char *p = (char *)base + o->off;

	if (o->size == sizeof(uint64_t)) {
		memcpy(p, &v, sizeof(v));
	} else if (o->size == sizeof(uint32_t)) {
		uint32_t w = (uint32_t)v;

		memcpy(p, &w, sizeof(w));
	} else {
		abort(); /* a table row with a field of another width */
	}
}

static void apply_defaults(const struct opt *t, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++) {
		const struct opt *o = &t[i];
		unsigned unit = o->unit ? o->unit : 1;

		switch (o->type) {
		case OPT_INT:
		case OPT_ENUM:
			store_u(base, o, (uint64_t)o->def);
			break;
		case OPT_DURATION:
			store_u(base, o, table_duration(o->sdef) * unit);
			break;
		case OPT_BOOL:
			*(bool *)((char *)base + o->off) = o->def != 0;
			break;
		case OPT_STRING:
			snprintf((char *)base + o->off, o->size, "%s", o->sdef ? o->sdef : "");
			break;
		case OPT_STRINGS:
		case OPT_SECTION:
			break; /* calloc'd: none */
		}
	}
}

/* Every child of group must be a row of the table. */
static int only_known(struct ctx *c, const config_setting_t *group, const struct opt *t, size_t n)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		bool ok = false;

		for (size_t k = 0; k < n && name; k++)
			ok |= strcmp(name, t[k].name) == 0;
		if (!ok)
			return fail(c, s, "unknown setting '%s'", name ? name : "?");
	}
	return 0;
}

static int read_int(struct ctx *c, const config_setting_t *s, const struct opt *o, void *base)
{
	long long v;

	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else
		return fail(c, s, "'%s' must be an integer", o->name);
	if (v < o->min || v > o->max)
		return fail(c, s, "'%s' = %lld is out of range %lld..%lld", o->name, v, o->min,
			    o->max);
	store_u(base, o, (uint64_t)v);
	return 0;
}

static int read_duration(struct ctx *c, const config_setting_t *s, const struct opt *o, void *base)
{
	const char *v;
	uint64_t sec;
	int r;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(c, s, "'%s' must be a duration string such as \"15m\"", o->name);
	v = config_setting_get_string(s);
	r = agent_duration_parse(v, &sec);
	if (r == -ERANGE)
		return fail(c, s, "'%s' = \"%s\" is too long (at most 366d)", o->name, v);
	if (r < 0)
		return fail(c, s, "'%s' = \"%s\" is not a duration (use e.g. 90s, 15m, 2h, 1d)",
			    o->name, v);
	if (o->min > 0 && sec == 0)
		return fail(c, s, "'%s' must be longer than 0s", o->name);
	if (o->dmax && sec > table_duration(o->dmax))
		return fail(c, s, "%s must be at most %s", o->name, o->dmax);
	store_u(base, o, sec * (o->unit ? o->unit : 1));
	return 0;
}

static int read_string(struct ctx *c, const config_setting_t *s, const struct opt *o, void *base)
{
	const char *label = o->label ? o->label : o->name, *v, *why;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(c, s, "'%s' must be a string", o->name);
	v = config_setting_get_string(s);
	if (o->type == OPT_ENUM) {
		char use[128] = "";

		for (const struct choice *ch = o->choices; ch->name; ch++)
			if (strcmp(v, ch->name) == 0) {
				store_u(base, o, (uint64_t)ch->value);
				return 0;
			}
		for (const struct choice *ch = o->choices; ch->name; ch++)
			snprintf(use + strlen(use), sizeof(use) - strlen(use), "%s\"%s\"",
				 ch == o->choices ? ""
				 : ch[1].name     ? ", "
						  : " or ",
				 ch->name);
		return fail(c, s, "%s = \"%s\": use %s", o->name, v, use);
	}
	why = o->check ? o->check(v) : NULL;
	if (!why && strlen(v) >= o->size)
		why = "is too long";
	if (why)
		return fail(c, s, "%s \"%s\" %s", label, v, why);
	memcpy((char *)base + o->off, v, strlen(v) + 1);
	return 0;
}

/* An array of strings: each checked by valid(); copied into out[max][width]. */
static int get_strings(struct ctx *c, const config_setting_t *s, const char *key, bool required,
		       size_t max, size_t width, bool (*valid)(const char *), const char *what,
		       char **out, size_t *n)
{
	char *arr;
	int len;

	*n = 0;
	*out = NULL;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(c, s, "'%s' must be an array of strings", key);
	len = config_setting_length(s);
	if (required && len == 0)
		return fail(c, s, "'%s' must not be empty", key);
	if ((size_t)len > max)
		return fail(c, s, "'%s' has more than %zu entries", key, max);
	arr = calloc((size_t)len ? (size_t)len : 1, width);
	if (!arr)
		return -ENOMEM;
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);

		if (!v) {
			free(arr);
			return fail(c, s, "'%s' must be an array of strings", key);
		}
		if (strlen(v) >= width || !valid(v)) {
			bool printable = true;

			for (const char *p = v; *p; p++)
				printable &= *p >= 0x20 && *p != 0x7f;
			free(arr);
			if (!printable)
				return fail(
					c, s,
					"'%s': an entry with control characters is not a valid %s",
					key, what);
			return fail(c, s, "'%s': \"%s\" is not a valid %s", key, v, what);
		}
		memcpy(arr + (size_t)i * width, v, strlen(v) + 1);
	}
	*out = arr;
	*n = (size_t)len;
	return 0;
}

static int read_strings(struct ctx *c, const config_setting_t *s, const struct opt *o, void *base)
{
	char *arr = NULL;
	size_t n = 0;
	int r = get_strings(c, s, o->name, o->required, (size_t)o->max, o->size, o->valid, o->what,
			    &arr, &n);

	/* Stored even on error, so that agent_config_free() sees it. */
	memcpy((char *)base + o->off, &arr, sizeof(arr));
	memcpy((char *)base + o->count_off, &n, sizeof(n));
	return r;
}

static int parse_opt(struct ctx *c, const config_setting_t *parent, const struct opt *o, void *base)
{
	const config_setting_t *s = config_setting_get_member(parent, o->name);

	if (!s)
		return o->required ? fail(c, parent, "missing required setting '%s'", o->name) : 0;
	switch (o->type) {
	case OPT_INT:
		return read_int(c, s, o, base);
	case OPT_DURATION:
		return read_duration(c, s, o, base);
	case OPT_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail(c, s, "'%s' must be true or false", o->name);
		*(bool *)((char *)base + o->off) = config_setting_get_bool(s);
		return 0;
	case OPT_STRING:
	case OPT_ENUM:
		return read_string(c, s, o, base);
	case OPT_STRINGS:
		return read_strings(c, s, o, base);
	case OPT_SECTION:
		return o->parse(c, s, base);
	}
	return -EINVAL;
}

/* Unknown keys first, then every row in order; the first error wins. */
static int parse_table(struct ctx *c, const config_setting_t *group, const struct opt *t, size_t n,
		       void *base)
{
	int r = only_known(c, group, t, n);

	for (size_t i = 0; i < n && r == 0; i++)
		r = parse_opt(c, group, &t[i], base);
	return r;
}

/* ------------------------------------------------------------ sections */

static int resolve_gid(struct ctx *c, const config_setting_t *s, const char *g, gid_t *out)
{
	struct group gr, *grp = NULL;
	char buf[16384];
	char *end;

	if (g[0] >= '0' && g[0] <= '9') {
		unsigned long v = strtoul(g, &end, 10);

		if (*end || v >= 0xffffffffUL)
			return fail(c, s, "group \"%s\" is not a valid gid", g);
		*out = (gid_t)v;
		return 0;
	}
	if (getgrnam_r(g, &gr, buf, sizeof(buf), &grp) != 0 || !grp)
		return fail(c, s, "group \"%s\" does not exist", g);
	*out = grp->gr_gid;
	return 0;
}

/* groups = [ "users", "1234" ]: names are resolved now. */
static int parse_groups(struct ctx *c, const config_setting_t *s, void *base)
{
	struct agent_cfg_purpose *p = base;
	char *groups = NULL;
	size_t ng = 0;
	int r = get_strings(c, s, "groups", false, AGENT_GROUPS_MAX, AGENT_NAME_MAX + 1,
			    valid_group, "group name or gid", &groups, &ng);

	if (r < 0)
		return r;
	p->groups_line = src_line(s);
	for (size_t i = 0; i < ng && r == 0; i++) {
		memcpy(p->groups[i], groups + i * (AGENT_NAME_MAX + 1), AGENT_NAME_MAX + 1);
		r = resolve_gid(c, s, p->groups[i], &p->gids[i]);
	}
	free(groups);
	if (r == 0)
		p->ngroups = ng;
	return r;
}

static const struct choice rule_choices[] = {
	{ "allow", AGENT_RULE_ALLOW },
	{ "approve", AGENT_RULE_APPROVE },
	{ "deny", AGENT_RULE_DENY },
	{ NULL, 0 },
};

/* services = { sshd = "allow"; sudo = "approve"; } */
static int parse_services(struct ctx *c, const config_setting_t *s, void *base)
{
	struct agent_cfg_purpose *p = base;
	int n;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return fail(c, s, "'services' must be a group such as { sshd = \"allow\"; }");
	n = config_setting_length(s);
	if (n > MAX_SERVICES)
		return fail(c, s, "more than %d services", MAX_SERVICES);
	p->services = calloc((size_t)n ? (size_t)n : 1, sizeof(*p->services));
	if (!p->services)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(e), *v = config_setting_get_string(e);
		struct agent_cfg_service *sv = &p->services[i];
		const struct choice *ch = rule_choices;

		if (!name || !agent_valid_username(name))
			return fail(c, e, "'%s' is not a valid PAM service name",
				    name ? name : "?");
		if (!v)
			return fail(c, e, "service '%s' must be \"allow\", \"approve\" or \"deny\"",
				    name);
		while (ch->name && strcmp(v, ch->name) != 0)
			ch++;
		if (!ch->name)
			return fail(c, e,
				    "service '%s' = \"%s\": use \"allow\", \"approve\" or \"deny\"",
				    name, v);
		sv->rule = (enum agent_rule)ch->value;
		snprintf(sv->name, sizeof(sv->name), "%s", name);
		p->nservices++;
	}
	return 0;
}

/* The lists of command rules in group s named by choices, each into
 * lists[its value]. */
static int parse_cmdlists(struct ctx *c, const config_setting_t *s, const struct choice *choices,
			  struct agent_cfg_cmdlist *lists)
{
	for (const struct choice *ch = choices; ch->name; ch++) {
		const config_setting_t *l = config_setting_get_member(s, ch->name);
		struct agent_cfg_cmdlist *cl = &lists[ch->value];
		char *arr = NULL;
		int r;

		if (!l)
			continue;
		r = get_strings(c, l, ch->name, false, MAX_CMD_RULES, AGENT_CMD_RULE_MAX + 1,
				valid_cmd_rule,
				"command rule (\"/abs/path\" or \"/abs/path ARGS\")", &arr, &cl->n);
		if (r < 0)
			return r;
		cl->rules = (char(*)[AGENT_CMD_RULE_MAX + 1]) arr;
	}
	return 0;
}

/* sudo_commands.risk = { high = [...]; critical = [...]; }: command rules,
 * matched like the others, that raise the risk of a sudo. */
static int parse_cmd_risk(struct ctx *c, const config_setting_t *s, struct agent_cfg_purpose *p)
{
	static const struct opt levels[] = {
		{ .name = "medium" },
		{ .name = "high" },
		{ .name = "critical" },
	};
	int r;

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return fail(
			c, s,
			"'risk' must be a group such as { high = [ \"/usr/bin/systemctl\" ]; }");
	if ((r = only_known(c, s, levels, NOPTS(levels))) < 0)
		return r;
	if ((r = parse_cmdlists(c, s, risk_choices + 1, p->sudo_risk)) < 0)
		return r;
	return 0;
}

/* service_risk = { sudo = "high"; }: after services, each a listed service. */
static int parse_service_risk(struct ctx *c, const config_setting_t *s, void *base)
{
	struct agent_cfg_purpose *p = base;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return fail(c, s, "'service_risk' must be a group such as { sudo = \"high\"; }");
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(e), *v = config_setting_get_string(e);
		const struct choice *ch = risk_choices;
		size_t k = 0;

		while (name && k < p->nservices && strcmp(p->services[k].name, name) != 0)
			k++;
		if (!name || k == p->nservices)
			return fail(c, e, "service_risk: '%s' is not in services",
				    name ? name : "?");
		while (v && ch->name && strcmp(v, ch->name) != 0)
			ch++;
		if (!v || !ch->name)
			return fail(c, e,
				    "service_risk '%s': use \"low\", \"medium\", \"high\" or "
				    "\"critical\"",
				    name);
		p->services[k].risk = (enum agent_risk)ch->value;
	}
	return 0;
}

/* sudo_commands = { allow = [...]; approve = [...]; deny = [...]; risk = {...}; } */
static int parse_sudo_commands(struct ctx *c, const config_setting_t *s, void *base)
{
	static const struct opt lists[] = {
		{ .name = "allow" },
		{ .name = "approve" },
		{ .name = "deny" },
		{ .name = "risk" },
	};
	struct agent_cfg_purpose *p = base;
	int r;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return fail(c, s,
			    "'sudo_commands' must be a group such as "
			    "{ allow = [ \"/usr/bin/id\" ]; }");
	if ((r = only_known(c, s, lists, NOPTS(lists))) < 0)
		return r;
	p->has_sudo_commands = true;
	if ((r = parse_cmdlists(c, s, rule_choices, p->sudo_cmds)) < 0)
		return r;
	return parse_cmd_risk(c, config_setting_get_member(s, "risk"), p);
}

/* A list of groups, each read through its table into an array of items;
 * shape is the message for an entry that is not a group. */
static int parse_items(struct ctx *c, const config_setting_t *s, const struct opt *t, size_t n,
		       const char *shape, size_t max, size_t item_size, void **items, size_t *count)
{
	int len = config_setting_length(s);

	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(c, s, "'%s' must be a list ( { ... }, { ... } )",
			    config_setting_name(s));
	if ((size_t)len > max)
		return fail(c, s, "'%s' has more than %zu entries", config_setting_name(s), max);
	*items = calloc((size_t)len + 1, item_size);
	if (!*items)
		return -ENOMEM;
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		void *item = (char *)*items + (size_t)i * item_size;
		int r;

		(*count)++; /* counted even on error, so that free() sees it */
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return fail(c, e, "%s", shape);
		apply_defaults(t, n, item);
		if ((r = parse_table(c, e, t, n, item)) < 0)
			return r;
	}
	return 0;
}

static int actors_into(struct ctx *c, const config_setting_t *s, struct agent_cfg_actor **out,
		       size_t *n)
{
	void *items = NULL;
	int r = parse_items(c, s, actor_opts, NOPTS(actor_opts),
			    "each verified actor must be a group { name = ...; path = ...; }",
			    MAX_ACTORS, sizeof(**out), &items, n);

	*out = items;
	for (size_t i = 0; r == 0 && i < *n; i++) {
		struct agent_cfg_actor *a = &(*out)[i];

		if (a->sha256_hex[0] && sodium_hex2bin(a->sha256, sizeof(a->sha256), a->sha256_hex,
						       64, NULL, NULL, NULL) != 0)
			r = fail(c, config_setting_get_elem(s, (unsigned)i), "bad sha256");
		for (size_t k = 0; r == 0 && k < i; k++)
			if (strcmp((*out)[k].name, a->name) == 0)
				r = fail(c, config_setting_get_elem(s, (unsigned)i),
					 "verified actor \"%s\" is defined twice", a->name);
	}
	return r;
}

static int parse_actors(struct ctx *c, const config_setting_t *s, void *base)
{
	struct agent_config *cfg = base;

	return actors_into(c, s, &cfg->actors, &cfg->nactors);
}

static int parse_purpose_actors(struct ctx *c, const config_setting_t *s, void *base)
{
	struct agent_cfg_purpose *p = base;

	return actors_into(c, s, &p->actors, &p->nactors);
}

static int parse_purposes(struct ctx *c, const config_setting_t *s, void *base)
{
	struct agent_config *cfg = base;
	void *items = NULL;
	int r = parse_items(c, s, purpose_opts, NOPTS(purpose_opts),
			    "each purpose must be a group { name = ...; }", MAX_PURPOSES,
			    sizeof(*cfg->purposes), &items, &cfg->npurposes);

	cfg->purposes = items;
	return r;
}

static int parse_delegators(struct ctx *c, const config_setting_t *s, void *base)
{
	struct agent_config *cfg = base;
	void *items = NULL;
	int r = parse_items(c, s, delegator_opts, NOPTS(delegator_opts),
			    "each delegator must be a group { who = [...]; purposes = [...]; }",
			    MAX_DELEGATORS, sizeof(*cfg->delegators), &items, &cfg->ndelegators);

	cfg->delegators = items;
	for (size_t i = 0; i < cfg->ndelegators; i++)
		cfg->delegators[i].line = src_line(config_setting_get_elem(s, (unsigned)i));
	return r;
}

/* ------------------------------------------------------------ cross-key rules */

static bool have_purpose(const struct agent_config *cfg, const char *name, size_t upto)
{
	for (size_t i = 0; i < upto; i++)
		if (strcmp(cfg->purposes[i].name, name) == 0)
			return true;
	return false;
}

static int check_purpose_rules(struct ctx *c, const config_setting_t *root,
			       struct agent_config *cfg)
{
	const config_setting_t *ps = config_setting_get_member(root, "purposes");

	for (size_t i = 0; i < cfg->npurposes; i++) {
		const struct agent_cfg_purpose *p = &cfg->purposes[i];
		const config_setting_t *e = config_setting_get_elem(ps, (unsigned)i);

		if (have_purpose(cfg, p->name, i))
			return fail(c, e, "purpose \"%s\" is defined twice", p->name);
		if (p->max_ttl > cfg->max_ttl)
			return fail(c, config_setting_get_member(e, "max_ttl"),
				    "max_ttl of purpose \"%s\" exceeds the global max_ttl",
				    p->name);
		for (size_t k = 0; k < p->ndelegate; k++)
			if (!have_purpose(cfg, p->delegate[k], cfg->npurposes))
				return fail(c, config_setting_get_member(e, "delegate"),
					    "unknown purpose \"%s\" in delegate", p->delegate[k]);
	}
	return 0;
}

static int check_delegator_rules(struct ctx *c, const config_setting_t *root,
				 const struct agent_config *cfg)
{
	const config_setting_t *ds = config_setting_get_member(root, "delegators");

	for (size_t i = 0; i < cfg->ndelegators; i++) {
		const struct agent_cfg_delegator *d = &cfg->delegators[i];
		const config_setting_t *e = config_setting_get_elem(ds, (unsigned)i);

		for (size_t k = 0; k < d->npurposes; k++)
			if (strcmp(d->purposes[k], "*") != 0 &&
			    !have_purpose(cfg, d->purposes[k], cfg->npurposes))
				return fail(c, config_setting_get_member(e, "purposes"),
					    "unknown purpose \"%s\"", d->purposes[k]);
		if (d->max_ttl > cfg->max_ttl)
			return fail(c, config_setting_get_member(e, "max_ttl"),
				    "delegator max_ttl exceeds the global max_ttl");
	}
	return 0;
}

/* The rules between keys, once every key has been read. */
static int check_rules(struct ctx *c, const config_setting_t *root, struct agent_config *cfg)
{
#define AT_KEY(k) config_setting_get_member(root, k)
	uint64_t range = (uint64_t)cfg->uid_max - cfg->uid_min + 1;
	int r;

	cfg->line.uid_min = src_line(AT_KEY("uid_min"));
	cfg->line.uid_max = src_line(AT_KEY("uid_max"));
	if (cfg->uid_min > cfg->uid_max)
		return fail(c, AT_KEY("uid_max"), "uid_max (%u) is below uid_min (%u)",
			    cfg->uid_max, cfg->uid_min);
	if (range > MAX_RANGE)
		return fail(c, AT_KEY("uid_max"), "the uid range holds more than %u uids",
			    MAX_RANGE);
	if (cfg->default_ttl > cfg->max_ttl)
		return fail(c, AT_KEY("default_ttl"), "default_ttl is longer than max_ttl");
	if (cfg->agents_group[0] && !AT_KEY("agents_gid"))
		return fail(c, AT_KEY("agents_group"), "agents_group needs agents_gid");
	if (!cfg->agents_group[0] && AT_KEY("agents_gid"))
		return fail(c, AT_KEY("agents_gid"), "agents_gid without agents_group");
	if (cfg->agents_group[0] && cfg->agents_gid >= cfg->uid_min &&
	    cfg->agents_gid <= cfg->uid_max)
		return fail(c, AT_KEY("agents_gid"),
			    "agents_gid %u lies inside the agent uid range",
			    (unsigned)cfg->agents_gid);
	cfg->line.agents_group = src_line(AT_KEY("agents_group"));
	cfg->line.agents_gid = src_line(AT_KEY("agents_gid"));
	if (!AT_KEY("max_live"))
		cfg->max_live = (unsigned)range;
	if (cfg->max_live < 1 || cfg->max_live > range)
		return fail(c, AT_KEY("max_live"), "'max_live' = %u is out of range 1..%llu",
			    cfg->max_live, (unsigned long long)range);
	if ((r = check_purpose_rules(c, root, cfg)) < 0)
		return r;
	return check_delegator_rules(c, root, cfg);
#undef AT_KEY
}

static struct agent_config *config_new(void)
{
	struct agent_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg)
		apply_defaults(root_opts, NOPTS(root_opts), cfg);
	return cfg;
}

/* sweep_dirs left unset: the shared writable places of a Debian host. */
static int default_sweep_dirs(const config_setting_t *root, struct agent_config *cfg)
{
	static const char *const defs[] = { "/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue" };
	const size_t n = sizeof(defs) / sizeof(defs[0]);

	if (config_setting_get_member(root, "sweep_dirs"))
		return 0;
	cfg->sweep_dirs = calloc(n, sizeof(*cfg->sweep_dirs));
	if (!cfg->sweep_dirs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		snprintf(cfg->sweep_dirs[i], sizeof(cfg->sweep_dirs[i]), "%s", defs[i]);
	cfg->nsweep_dirs = n;
	return 0;
}

static int parse_root(struct ctx *c, const config_setting_t *root, struct agent_config *cfg)
{
	int r = parse_table(c, root, root_opts, NOPTS(root_opts), cfg);

	if (r == 0)
		r = default_sweep_dirs(root, cfg);
	return r < 0 ? r : check_rules(c, root, cfg);
}

/* Parses an initialised libconfig object (read already) into *out. */
static int finish(struct ctx *c, config_t *lc, int ok, struct agent_config **out)
{
	struct agent_config *cfg;
	int r;

	if (!ok) {
		if (config_error_type(lc) == CONFIG_ERR_PARSE)
			snprintf(c->err, c->errlen, "%s:%d: %s", c->name, config_error_line(lc),
				 config_error_text(lc));
		else
			snprintf(c->err, c->errlen, "%s: %s", c->name, config_error_text(lc));
		return -EINVAL;
	}
	cfg = config_new();
	if (!cfg)
		return -ENOMEM;
	snprintf(cfg->path, sizeof(cfg->path), "%s", c->name);
	r = parse_root(c, config_root_setting(lc), cfg);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(c->err, c->errlen, "%s: out of memory", c->name);
		agent_config_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

/* libconfig's @include would read a file that never passed our checks. */
static int refuse_include(struct ctx *c, const char *text)
{
	int line = 1;

	for (const char *p = text; *p; p++) {
		const char *q = p;

		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, "@include", 8) == 0) {
			snprintf(c->err, c->errlen, "%s:%d: @include is not supported", c->name,
				 line);
			return -EINVAL;
		}
		p = strchr(p, '\n');
		if (!p)
			break;
		line++;
	}
	return 0;
}

int agent_config_parse_string(const char *text, const char *name, struct agent_config **out,
			      char *err, size_t errlen)
{
	struct ctx c = { name, err, errlen };
	config_t lc;
	int r;

	*out = NULL;
	r = refuse_include(&c, text);
	if (r < 0)
		return r;
	config_init(&lc);
	r = finish(&c, &lc, config_read_string(&lc, text) == CONFIG_TRUE, out);
	config_destroy(&lc);
	return r;
}

int agent_config_load(const char *path, struct agent_config **out, char *err, size_t errlen)
{
	struct stat st;
	char *text;
	FILE *f;
	int fd, r;

	*out = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path,
			 errno == ELOOP ? "is a symbolic link (refused)" : strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_uid != 0) {
		snprintf(err, errlen, "%s: must be owned by root", path);
		close(fd);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s: must not be writable by group or others", path);
		close(fd);
		return -EPERM;
	}
	if (st.st_size > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, CONFIG_MAX_BYTES);
		close(fd);
		return -EFBIG;
	}
	f = fdopen(fd, "re");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	text = calloc(1, (size_t)st.st_size + 1);
	if (!text || fread(text, 1, (size_t)st.st_size + 1, f) != (size_t)st.st_size) {
		snprintf(err, errlen, "%s: %s", path,
			 text ? "changed while being read" : "out of memory");
		free(text);
		fclose(f);
		return text ? -EIO : -ENOMEM;
	}
	fclose(f);
	r = agent_config_parse_string(text, path, out, err, errlen);
	free(text);
	return r;
}

void agent_config_free(struct agent_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->npurposes; i++) {
		free(cfg->purposes[i].services);
		free(cfg->purposes[i].delegate);
		for (size_t k = 0; k < 3; k++)
			free(cfg->purposes[i].sudo_cmds[k].rules);
		for (size_t k = 0; k < 4; k++)
			free(cfg->purposes[i].sudo_risk[k].rules);
		for (size_t k = 0; k < cfg->purposes[i].nactors; k++)
			free(cfg->purposes[i].actors[k].who);
		free(cfg->purposes[i].actors);
	}
	for (size_t i = 0; i < cfg->ndelegators; i++) {
		free(cfg->delegators[i].who);
		free(cfg->delegators[i].purposes);
	}
	for (size_t k = 0; k < cfg->nactors; k++)
		free(cfg->actors[k].who);
	free(cfg->actors);
	free(cfg->purposes);
	free(cfg->delegators);
	free(cfg->approvers);
	free(cfg->sweep_dirs);
	free(cfg);
}
