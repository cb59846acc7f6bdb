/* agentd.conf parser (see agentd/config.h and agentd.conf(5)).
 *
 * Strict: every setting must be known, typed and in range; each error names
 * the file and line. The file is trusted only after its descriptor is
 * checked (regular, root-owned, not group/other-writable, bounded size), and
 * that same descriptor is parsed. */
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

#include "agentd/config.h"
#include "common/text.h"

#define CONFIG_MAX_BYTES (1 << 20)
#define MAX_PURPOSES 64
#define MAX_DELEGATORS 64
#define MAX_WHO 64
#define MAX_SERVICES 64
#define MAX_CMD_RULES 64
#define MAX_APPROVERS 64
#define DEFAULT_UID_MIN 1879048192u
#define DEFAULT_UID_MAX 1879113727u
#define MAX_RANGE 1048576u

struct ctx {
	const char *name;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int fail(struct ctx *c, const config_setting_t *s,
						      const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s && config_setting_source_line(s))
		snprintf(c->err, c->errlen, "%s:%d: %s", c->name, config_setting_source_line(s), msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->name, msg);
	return -EINVAL;
}

/* Every child of group must be one of the allowed names. */
static int only_known(struct ctx *c, const config_setting_t *group, const char *const *allowed)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *n = config_setting_name(s);
		bool ok = false;

		for (const char *const *a = allowed; *a; a++)
			if (n && strcmp(n, *a) == 0)
				ok = true;
		if (!ok)
			return fail(c, s, "unknown setting '%s'", n ? n : "?");
	}
	return 0;
}

static int get_string(struct ctx *c, const config_setting_t *parent, const char *key,
		      const char **out, bool required)
{
	const config_setting_t *s = config_setting_get_member(parent, key);

	if (!s) {
		if (required)
			return fail(c, parent, "missing required setting '%s'", key);
		*out = NULL;
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(c, s, "'%s' must be a string", key);
	*out = config_setting_get_string(s);
	return 0;
}

static int get_duration(struct ctx *c, const config_setting_t *parent, const char *key,
			uint64_t *out, bool allow_zero)
{
	const config_setting_t *s = config_setting_get_member(parent, key);
	const char *v;
	int r;

	if (!s)
		return 0; /* keep the default */
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(c, s, "'%s' must be a duration string such as \"15m\"", key);
	v = config_setting_get_string(s);
	r = agent_duration_parse(v, out);
	if (r == -ERANGE)
		return fail(c, s, "'%s' = \"%s\" is too long (at most 366d)", key, v);
	if (r < 0)
		return fail(c, s, "'%s' = \"%s\" is not a duration (use e.g. 90s, 15m, 2h, 1d)",
			    key, v);
	if (!allow_zero && *out == 0)
		return fail(c, s, "'%s' must be longer than 0s", key);
	return 0;
}

static int get_int(struct ctx *c, const config_setting_t *parent, const char *key, long long min,
		   long long max, long long *out)
{
	const config_setting_t *s = config_setting_get_member(parent, key);
	long long v;

	if (!s)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else
		return fail(c, s, "'%s' must be an integer", key);
	if (v < min || v > max)
		return fail(c, s, "'%s' = %lld is out of range %lld..%lld", key, v, min, max);
	*out = v;
	return 0;
}

static int get_bool(struct ctx *c, const config_setting_t *parent, const char *key, bool *out)
{
	const config_setting_t *s = config_setting_get_member(parent, key);

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(c, s, "'%s' must be true or false", key);
	*out = config_setting_get_bool(s);
	return 0;
}

/* An array of strings: each checked by valid(); copied into out[max][width]. */
static int get_strings(struct ctx *c, const config_setting_t *parent, const char *key,
		       bool required, size_t max, size_t width, bool (*valid)(const char *),
		       const char *what, char **out, size_t *n)
{
	const config_setting_t *s = config_setting_get_member(parent, key);
	char *arr;
	int len;

	*n = 0;
	*out = NULL;
	if (!s)
		return required ? fail(c, parent, "missing required setting '%s'", key) : 0;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
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
				return fail(c, s, "'%s': an entry with control characters is not a valid %s",
					    key, what);
			return fail(c, s, "'%s': \"%s\" is not a valid %s", key, v, what);
		}
		memcpy(arr + (size_t)i * width, v, strlen(v) + 1);
	}
	*out = arr;
	*n = (size_t)len;
	return 0;
}

static bool valid_who(const char *s)
{
	if (strcmp(s, "*") == 0)
		return true;
	if (s[0] == '%')
		return agent_valid_username(s + 1);
	return agent_valid_username(s);
}

static bool valid_approver(const char *s)
{
	return strcmp(s, "*") != 0 && valid_who(s);
}

/* "PATH" or "PATH ARGS": an absolute path, then optionally one space and a
 * glob for the arguments; printable ASCII only. */
static bool valid_cmd_rule(const char *s)
{
	char path[AGENT_CMD_RULE_MAX + 1];
	size_t n = strcspn(s, " ");

	for (const char *p = s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return false;
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

static int parse_services(struct ctx *c, const config_setting_t *ps, struct agent_cfg_purpose *p)
{
	const config_setting_t *s = config_setting_get_member(ps, "services");
	int n;

	if (!s)
		return 0;
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

		if (!name || !agent_valid_username(name))
			return fail(c, e, "'%s' is not a valid PAM service name", name ? name : "?");
		if (!v)
			return fail(c, e, "service '%s' must be \"allow\", \"approve\" or \"deny\"",
				    name);
		if (strcmp(v, "allow") == 0)
			sv->rule = AGENT_RULE_ALLOW;
		else if (strcmp(v, "approve") == 0)
			sv->rule = AGENT_RULE_APPROVE;
		else if (strcmp(v, "deny") == 0)
			sv->rule = AGENT_RULE_DENY;
		else
			return fail(c, e, "service '%s' = \"%s\": use \"allow\", \"approve\" or \"deny\"",
				    name, v);
		snprintf(sv->name, sizeof(sv->name), "%s", name);
		p->nservices++;
	}
	return 0;
}

/* sudo_commands = { allow = [...]; approve = [...]; deny = [...]; } */
static int parse_sudo_commands(struct ctx *c, const config_setting_t *ps,
			       struct agent_cfg_purpose *p)
{
	static const char *const keys[] = { "allow", "approve", "deny", NULL };
	static const struct { const char *key; enum agent_rule rule; } lists[] = {
		{ "allow", AGENT_RULE_ALLOW }, { "approve", AGENT_RULE_APPROVE },
		{ "deny", AGENT_RULE_DENY },
	};
	const config_setting_t *s = config_setting_get_member(ps, "sudo_commands");
	int r;

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return fail(c, s, "'sudo_commands' must be a group such as "
				  "{ allow = [ \"/usr/bin/id\" ]; }");
	if ((r = only_known(c, s, keys)) < 0)
		return r;
	p->has_sudo_commands = true;
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct agent_cfg_cmdlist *l = &p->sudo_cmds[lists[i].rule];
		char *arr = NULL;

		r = get_strings(c, s, lists[i].key, false, MAX_CMD_RULES, AGENT_CMD_RULE_MAX + 1,
				valid_cmd_rule, "command rule (\"/abs/path\" or \"/abs/path ARGS\")",
				&arr, &l->n);
		if (r < 0)
			return r;
		l->rules = (char(*)[AGENT_CMD_RULE_MAX + 1])arr;
	}
	return 0;
}

static int parse_purpose(struct ctx *c, struct agent_config *cfg, const config_setting_t *ps,
			 struct agent_cfg_purpose *p)
{
	static const char *const keys[] = { "name", "groups", "shell", "home", "services",
					    "sudo_commands", "delegate", "max_depth", "max_ttl",
					    NULL };
	const char *name, *shell, *home;
	char *groups = NULL, *del = NULL;
	size_t ng = 0, nd = 0;
	long long depth = 1;
	int r;

	if (config_setting_type(ps) != CONFIG_TYPE_GROUP)
		return fail(c, ps, "each purpose must be a group { name = ...; }");
	if ((r = only_known(c, ps, keys)) < 0 || (r = get_string(c, ps, "name", &name, true)) < 0)
		return r;
	if (!agent_valid_purpose(name))
		return fail(c, ps, "purpose name \"%s\" is invalid (lower-case letters, digits, "
				   "'-' and '_', at most %d)", name, AGENT_PURPOSE_MAX);
	snprintf(p->name, sizeof(p->name), "%s", name);
	for (size_t i = 0; i < cfg->npurposes; i++)
		if (strcmp(cfg->purposes[i].name, name) == 0)
			return fail(c, ps, "purpose \"%s\" is defined twice", name);

	r = get_strings(c, ps, "groups", false, AGENT_GROUPS_MAX, AGENT_NAME_MAX + 1, valid_group,
			"group name or gid", &groups, &ng);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ng; i++) {
		memcpy(p->groups[i], groups + i * (AGENT_NAME_MAX + 1), AGENT_NAME_MAX + 1);
		r = resolve_gid(c, config_setting_get_member(ps, "groups"), p->groups[i], &p->gids[i]);
		if (r < 0) {
			free(groups);
			return r;
		}
	}
	free(groups);
	p->ngroups = ng;

	if ((r = get_string(c, ps, "shell", &shell, false)) < 0)
		return r;
	if (shell && !agent_valid_abspath(shell))
		return fail(c, config_setting_get_member(ps, "shell"),
			    "shell \"%s\" must be an absolute path", shell);
	snprintf(p->shell, sizeof(p->shell), "%s", shell ? shell : "/bin/sh");

	if ((r = get_string(c, ps, "home", &home, false)) < 0)
		return r;
	if (!home || strcmp(home, "none") == 0)
		p->home = AGENT_HOME_NONE;
	else if (strcmp(home, "ephemeral") == 0)
		p->home = AGENT_HOME_EPHEMERAL;
	else
		return fail(c, config_setting_get_member(ps, "home"),
			    "home = \"%s\": use \"none\" or \"ephemeral\"", home);

	if ((r = parse_services(c, ps, p)) < 0 || (r = parse_sudo_commands(c, ps, p)) < 0)
		return r;
	r = get_strings(c, ps, "delegate", false, MAX_PURPOSES, AGENT_PURPOSE_MAX + 1,
			valid_purpose_name, "purpose name", &del, &nd);
	if (r < 0)
		return r;
	p->delegate = (char(*)[AGENT_PURPOSE_MAX + 1])del;
	p->ndelegate = nd;
	if ((r = get_int(c, ps, "max_depth", 1, AGENT_CHAIN_MAX, &depth)) < 0)
		return r;
	p->max_depth = (unsigned)depth;
	if ((r = get_duration(c, ps, "max_ttl", &p->max_ttl, false)) < 0)
		return r;
	if (p->max_ttl > cfg->max_ttl)
		return fail(c, config_setting_get_member(ps, "max_ttl"),
			    "max_ttl of purpose \"%s\" exceeds the global max_ttl", name);
	return 0;
}

static bool have_purpose(const struct agent_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->npurposes; i++)
		if (strcmp(cfg->purposes[i].name, name) == 0)
			return true;
	return false;
}

static int parse_delegator(struct ctx *c, struct agent_config *cfg, const config_setting_t *ds,
			   struct agent_cfg_delegator *d)
{
	static const char *const keys[] = { "who", "purposes", "max_ttl", "may_act_for", NULL };
	char *who = NULL, *purposes = NULL;
	int r;

	if (config_setting_type(ds) != CONFIG_TYPE_GROUP)
		return fail(c, ds, "each delegator must be a group { who = [...]; purposes = [...]; }");
	d->line = config_setting_source_line(ds);
	if ((r = only_known(c, ds, keys)) < 0)
		return r;
	r = get_strings(c, ds, "who", true, MAX_WHO, AGENT_NAME_MAX + 2, valid_who,
			"user, %group or \"*\"", &who, &d->nwho);
	d->who = (char(*)[AGENT_NAME_MAX + 2])who;
	if (r < 0)
		return r;
	r = get_strings(c, ds, "purposes", true, MAX_PURPOSES, AGENT_PURPOSE_MAX + 1,
			valid_purpose_or_star, "purpose name or \"*\"", &purposes, &d->npurposes);
	d->purposes = (char(*)[AGENT_PURPOSE_MAX + 1])purposes;
	if (r < 0)
		return r;
	for (size_t i = 0; i < d->npurposes; i++)
		if (strcmp(d->purposes[i], "*") != 0 && !have_purpose(cfg, d->purposes[i]))
			return fail(c, config_setting_get_member(ds, "purposes"),
				    "unknown purpose \"%s\"", d->purposes[i]);
	if ((r = get_duration(c, ds, "max_ttl", &d->max_ttl, false)) < 0)
		return r;
	if (d->max_ttl > cfg->max_ttl)
		return fail(c, config_setting_get_member(ds, "max_ttl"),
			    "delegator max_ttl exceeds the global max_ttl");
	return get_bool(c, ds, "may_act_for", &d->may_act_for);
}

static int parse_list(struct ctx *c, const config_setting_t *root, const char *key,
		      const config_setting_t **out, int max)
{
	const config_setting_t *s = config_setting_get_member(root, key);

	*out = NULL;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(c, s, "'%s' must be a list ( { ... }, { ... } )", key);
	if (config_setting_length(s) > max)
		return fail(c, s, "'%s' has more than %d entries", key, max);
	*out = s;
	return 0;
}

static int parse_root(struct ctx *c, const config_setting_t *root, struct agent_config *cfg)
{
	static const char *const keys[] = {
		"uid_min", "uid_max", "name_prefix", "default_ttl", "max_ttl", "uid_quarantine",
		"kill_grace", "home_base", "agents_group", "agents_gid", "max_live",
		"max_live_per_caller", "max_connections", "retired_retention", "approvers",
		"approval_timeout", "notify_command", "subject_may_approve", "max_pending",
		"delegators", "purposes", NULL,
	};
	const config_setting_t *purposes, *delegators;
	long long umin = DEFAULT_UID_MIN, umax = DEFAULT_UID_MAX, v;
	uint64_t grace = 2;
	const char *str;
	int r;

	if ((r = only_known(c, root, keys)) < 0)
		return r;
	if ((r = get_int(c, root, "uid_min", 1, 0x7fffffffLL, &umin)) < 0 ||
	    (r = get_int(c, root, "uid_max", 1, 0x7fffffffLL, &umax)) < 0)
		return r;
	if (umin > umax)
		return fail(c, config_setting_get_member(root, "uid_max"),
			    "uid_max (%lld) is below uid_min (%lld)", umax, umin);
	if (umax - umin + 1 > MAX_RANGE)
		return fail(c, config_setting_get_member(root, "uid_max"),
			    "the uid range holds more than %u uids", MAX_RANGE);
	cfg->uid_min = (uint32_t)umin;
	cfg->uid_max = (uint32_t)umax;

	if ((r = get_string(c, root, "name_prefix", &str, false)) < 0)
		return r;
	if (str && (!agent_valid_prefix(str) || strlen(str) + AGENT_SUFFIX_LEN > AGENT_NAME_MAX))
		return fail(c, config_setting_get_member(root, "name_prefix"),
			    "name_prefix \"%s\" is invalid (lower-case letters, digits, '-' and "
			    "'_', starting with a letter, at most %d)", str, AGENT_PREFIX_MAX);
	snprintf(cfg->name_prefix, sizeof(cfg->name_prefix), "%s", str ? str : "agent-");

	if ((r = get_duration(c, root, "default_ttl", &cfg->default_ttl, false)) < 0 ||
	    (r = get_duration(c, root, "max_ttl", &cfg->max_ttl, false)) < 0 ||
	    (r = get_duration(c, root, "uid_quarantine", &cfg->uid_quarantine, true)) < 0 ||
	    (r = get_duration(c, root, "kill_grace", &grace, true)) < 0 ||
	    (r = get_duration(c, root, "retired_retention", &cfg->retired_retention, true)) < 0)
		return r;
	if (cfg->default_ttl > cfg->max_ttl)
		return fail(c, config_setting_get_member(root, "default_ttl"),
			    "default_ttl is longer than max_ttl");
	if (grace > 60)
		return fail(c, config_setting_get_member(root, "kill_grace"),
			    "kill_grace must be at most 60s");
	cfg->kill_grace_ms = grace * 1000;

	if ((r = get_string(c, root, "home_base", &str, false)) < 0)
		return r;
	if (str && (!agent_valid_abspath(str) || strcmp(str, "/") == 0))
		return fail(c, config_setting_get_member(root, "home_base"),
			    "home_base \"%s\" must be an absolute path other than /", str);
	snprintf(cfg->home_base, sizeof(cfg->home_base), "%s", str ? str : "/home/agents");

	if ((r = get_string(c, root, "agents_group", &str, false)) < 0)
		return r;
	if (str) {
		if (!agent_valid_username(str))
			return fail(c, config_setting_get_member(root, "agents_group"),
				    "agents_group \"%s\" is not a valid group name", str);
		snprintf(cfg->agents_group, sizeof(cfg->agents_group), "%s", str);
		if (!config_setting_get_member(root, "agents_gid"))
			return fail(c, config_setting_get_member(root, "agents_group"),
				    "agents_group needs agents_gid");
		v = 0;
		if ((r = get_int(c, root, "agents_gid", 1, 0x7fffffffLL, &v)) < 0)
			return r;
		if (v >= umin && v <= umax)
			return fail(c, config_setting_get_member(root, "agents_gid"),
				    "agents_gid %lld lies inside the agent uid range", v);
		cfg->agents_gid = (gid_t)v;
	} else if (config_setting_get_member(root, "agents_gid")) {
		return fail(c, config_setting_get_member(root, "agents_gid"),
			    "agents_gid without agents_group");
	}

	v = (long long)(umax - umin + 1);
	if ((r = get_int(c, root, "max_live", 1, umax - umin + 1, &v)) < 0)
		return r;
	cfg->max_live = (unsigned)v;
	v = 1000;
	if ((r = get_int(c, root, "max_live_per_caller", 1, MAX_RANGE, &v)) < 0)
		return r;
	cfg->max_live_per_caller = (unsigned)v;
	v = 64;
	if ((r = get_int(c, root, "max_connections", 1, 4096, &v)) < 0)
		return r;
	cfg->max_connections = (unsigned)v;

	/* Step-up approval. */
	{
		char *arr = NULL;

		r = get_strings(c, root, "approvers", false, MAX_APPROVERS, AGENT_NAME_MAX + 2,
				valid_approver, "approver (\"user\" or \"%group\")", &arr,
				&cfg->napprovers);
		if (r < 0)
			return r;
		cfg->approvers = (char(*)[AGENT_NAME_MAX + 2])arr;
	}
	if ((r = get_duration(c, root, "approval_timeout", &cfg->approval_timeout, false)) < 0)
		return r;
	if (cfg->approval_timeout > 3600)
		return fail(c, config_setting_get_member(root, "approval_timeout"),
			    "approval_timeout must be at most 1h");
	if ((r = get_string(c, root, "notify_command", &str, false)) < 0)
		return r;
	if (str && !agent_valid_abspath(str))
		return fail(c, config_setting_get_member(root, "notify_command"),
			    "notify_command \"%s\" must be an absolute path", str);
	snprintf(cfg->notify_command, sizeof(cfg->notify_command), "%s", str ? str : "");
	if ((r = get_bool(c, root, "subject_may_approve", &cfg->subject_may_approve)) < 0)
		return r;
	v = 256;
	if ((r = get_int(c, root, "max_pending", 1, 4096, &v)) < 0)
		return r;
	cfg->max_pending = (unsigned)v;

	/* Purposes first: delegators refer to them. */
	if ((r = parse_list(c, root, "purposes", &purposes, MAX_PURPOSES)) < 0 ||
	    (r = parse_list(c, root, "delegators", &delegators, MAX_DELEGATORS)) < 0)
		return r;
	if (purposes) {
		cfg->purposes = calloc((size_t)config_setting_length(purposes) + 1,
				       sizeof(*cfg->purposes));
		if (!cfg->purposes)
			return -ENOMEM;
		for (int i = 0; i < config_setting_length(purposes); i++) {
			r = parse_purpose(c, cfg, config_setting_get_elem(purposes, (unsigned)i),
					  &cfg->purposes[cfg->npurposes]);
			cfg->npurposes++; /* counted even on error, so free() sees it */
			if (r < 0)
				return r;
		}
		for (size_t i = 0; i < cfg->npurposes; i++)
			for (size_t k = 0; k < cfg->purposes[i].ndelegate; k++)
				if (!have_purpose(cfg, cfg->purposes[i].delegate[k]))
					return fail(c, config_setting_get_member(
						       config_setting_get_elem(purposes, (unsigned)i),
						       "delegate"),
						    "unknown purpose \"%s\" in delegate",
						    cfg->purposes[i].delegate[k]);
	}
	if (delegators) {
		cfg->delegators = calloc((size_t)config_setting_length(delegators) + 1,
					 sizeof(*cfg->delegators));
		if (!cfg->delegators)
			return -ENOMEM;
		for (int i = 0; i < config_setting_length(delegators); i++) {
			r = parse_delegator(c, cfg, config_setting_get_elem(delegators, (unsigned)i),
					    &cfg->delegators[cfg->ndelegators]);
			cfg->ndelegators++;
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static struct agent_config *config_new(void)
{
	struct agent_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->default_ttl = 15 * 60;
	cfg->max_ttl = 8 * 3600;
	cfg->uid_quarantine = 24 * 3600;
	cfg->retired_retention = 30 * 86400;
	cfg->approval_timeout = 5 * 60;
	cfg->subject_may_approve = true;
	cfg->max_pending = 256;
	return cfg;
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
			snprintf(c->err, c->errlen, "%s:%d: @include is not supported", c->name, line);
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
		snprintf(err, errlen, "%s: %s", path, text ? "changed while being read" : "out of memory");
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
	}
	for (size_t i = 0; i < cfg->ndelegators; i++) {
		free(cfg->delegators[i].who);
		free(cfg->delegators[i].purposes);
	}
	free(cfg->purposes);
	free(cfg->delegators);
	free(cfg->approvers);
	free(cfg);
}
