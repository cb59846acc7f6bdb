/* agentd.conf: the policy, parsed strictly (libconfig). See agentd.conf(5).
 *
 * Any unknown key, wrong type, bad value or bad range is an error that names
 * the file and line. A loaded configuration is immutable; a reload builds a
 * new one and swaps it in only if it is valid. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/identity.h"
#include "common/limits.h"

enum agent_rule {
	AGENT_RULE_DENY = 0,
	AGENT_RULE_ALLOW = 1,
	AGENT_RULE_APPROVE = 2,
};

enum agent_home {
	AGENT_HOME_NONE = 0,      /* home is /nonexistent */
	AGENT_HOME_EPHEMERAL = 1, /* home_base/NAME, created at create, removed at retire */
};

struct agent_cfg_service {
	char name[AGENT_NAME_MAX + 1]; /* PAM service name */
	enum agent_rule rule;
	enum agent_risk risk; /* service_risk; default low */
};

/* Command rules for sudo, one list per outcome (see agent_policy_command). */
#define AGENT_CMD_RULE_MAX 256
struct agent_cfg_cmdlist {
	char (*rules)[AGENT_CMD_RULE_MAX + 1]; /* "PATH" or "PATH ARGS-GLOB" */
	size_t n;
};

/* A program agentd recognises as the creating client (agentd/actor.c): the
 * executable at path (the same file: device and inode), optionally pinned by
 * its SHA-256, run by one of who (none = anyone). */
struct agent_cfg_actor {
	char name[AGENT_NAME_MAX + 1];
	char path[AGENT_PATH_MAX + 1];
	char sha256_hex[65]; /* "" = not pinned */
	unsigned char sha256[32];
	char (*who)[AGENT_NAME_MAX + 2];
	size_t nwho;
};

struct agent_cfg_purpose {
	char name[AGENT_PURPOSE_MAX + 1];
	char groups[AGENT_GROUPS_MAX][AGENT_NAME_MAX + 1]; /* as written */
	gid_t gids[AGENT_GROUPS_MAX];                      /* resolved at load */
	size_t ngroups;
	char shell[AGENT_PATH_MAX + 1];     /* default /bin/sh */
	enum agent_home home;               /* default none */
	struct agent_cfg_service *services; /* unlisted services are denied */
	size_t nservices;
	char (*delegate)[AGENT_PURPOSE_MAX + 1]; /* purposes this one may create */
	size_t ndelegate;
	unsigned max_depth;                    /* default 1: no sub-delegation */
	uint64_t max_ttl;                      /* seconds; 0 = the global max_ttl */
	unsigned max_processes;                /* pids.max of an identity's cgroup; 0 = no limit */
	int groups_line;                       /* of groups = [...], 0 if none */
	bool has_sudo_commands;                /* a sudo_commands group was given */
	struct agent_cfg_cmdlist sudo_cmds[3]; /* indexed by enum agent_rule */
	enum agent_risk risk;                  /* default low */
	struct agent_cfg_cmdlist sudo_risk[4]; /* sudo_commands.risk, indexed by enum agent_risk */
	struct agent_cfg_actor *actors;        /* verified_actors of this purpose */
	size_t nactors;
	bool require_verified_actor; /* default false */
	unsigned max_sudo;           /* sudo actions per identity, 0 = no budget */
	unsigned max_delegations;    /* sub-identities per identity, 0 = no budget */
	enum agent_rule over_budget; /* beyond max_sudo: deny (default) or approve */
};

/* who: "user", "%group", or "*" (anyone who is not an agent identity). */
struct agent_cfg_delegator {
	char (*who)[AGENT_NAME_MAX + 2];
	size_t nwho;
	char (*purposes)[AGENT_PURPOSE_MAX + 1]; /* "*" = every purpose */
	size_t npurposes;
	uint64_t max_ttl;            /* seconds; 0 = the global max_ttl */
	bool may_act_for;            /* may name another subject with --for */
	unsigned creates_per_minute; /* creates per caller in any 60 s, 0 = no budget */
	int line;                    /* for messages */
};

struct agent_config {
	char path[AGENT_PATH_MAX + 1];
	uint32_t uid_min, uid_max;              /* inclusive; at most 1,048,576 uids */
	char name_prefix[AGENT_PREFIX_MAX + 1]; /* default "agent-" */
	uint64_t default_ttl;                   /* default 15m */
	uint64_t max_ttl;                       /* default 8h */
	uint64_t uid_quarantine;                /* default 24h */
	uint64_t kill_grace_ms;                 /* TERM -> KILL, default 2000 */
	char home_base[AGENT_PATH_MAX + 1];     /* default /home/agents */
	char agents_group[AGENT_NAME_MAX + 1];  /* group of all live agents, "" = none */
	gid_t agents_gid;                       /* its gid, required with agents_group */
	unsigned max_live;                      /* default: the size of the uid range */
	unsigned max_live_per_caller;           /* default 1000 */
	unsigned max_connections;               /* default 64 */
	unsigned max_connections_per_uid;       /* default 16; root is not limited */
	uint64_t connection_idle_timeout;       /* seconds, default 30s */
	uint64_t retired_retention;             /* keep retired records, default 30d */
	char (*approvers)[AGENT_NAME_MAX + 2];  /* "user" or "%group"; none by default */
	size_t napprovers;
	char (*sweep_dirs)[AGENT_PATH_MAX + 1]; /* leftovers sweep; default /tmp /var/tmp
						  * /dev/shm /dev/mqueue */
	size_t nsweep_dirs;
	uint64_t approval_timeout;               /* seconds, default 5m, at most 1h */
	char notify_command[AGENT_PATH_MAX + 1]; /* "" = none */
	bool subject_may_approve;                /* default true */
	unsigned max_pending;                    /* pending step-up requests, default 256 */
	enum agent_risk approve_risk;         /* actions at or above need approval; default high */
	char cgroup_root[AGENT_PATH_MAX + 1]; /* "auto" (default), "none" or a path */
	struct agent_cfg_actor *actors;       /* verified_actors (global) */
	size_t nactors;
	uint64_t policy_check_interval; /* seconds, default 60s: live identities re-checked */
	struct agent_cfg_delegator *delegators;
	size_t ndelegators;
	struct agent_cfg_purpose *purposes;
	size_t npurposes;
	struct {
		int uid_min, uid_max, agents_group, agents_gid;
	} line; /* where these keys were set, 0 if not (for messages) */
};

/* Opens path with O_NOFOLLOW|O_CLOEXEC, checks the descriptor (regular file,
 * owned by root, not writable by group or others, at most 1 MiB), then parses
 * that same descriptor. Returns 0 and *out, or -errno with a message
 * "PATH:LINE: what is wrong" (or "PATH: what is wrong") in err. */
int agent_config_load(const char *path, struct agent_config **out, char *err, size_t errlen);

/* Parses text without the file checks (tests, fuzzing). name is used in
 * messages. Same return convention. */
int agent_config_parse_string(const char *text, const char *name, struct agent_config **out,
			      char *err, size_t errlen);

void agent_config_free(struct agent_config *cfg);

/* The host's account and range files, read as files (never through NSS,
 * where nss_agent answers); tests point them at fixtures. */
struct agent_host_files {
	const char *login_defs, *subuid, *subgid; /* see agent_range_check() */
	const char *passwd, *group;
};
extern const struct agent_host_files agent_host_files_system; /* the /etc ones */

/* Checks a loaded configuration against the host, at --check-config, at
 * start and at every reload (agentd/config_host.c):
 * - the uid range as agent_range_check() does;
 * - agents_group and every purpose group is not privileged: gid 0, or a name
 *   (as written, or the name the group file gives its gid) in the list of
 *   agentd.conf(5);
 * - agents_group's name and agents_gid are no local group's;
 * - no purpose group, local user (uid or primary gid) or local group lies in
 *   the agent uid range.
 * Returns 0, -EINVAL with "PATH:LINE: KEY ... local ENTRY (FILE:LINE)" in err,
 * or -errno if a file cannot be read. */
int agent_config_check_host(const struct agent_config *cfg, const struct agent_host_files *f,
			    char *err, size_t errlen);
/* gid 0, or one of the privileged group names (agentd.conf(5)). */
bool agent_group_is_privileged(const char *name, gid_t gid);

const struct agent_cfg_purpose *agent_config_purpose(const struct agent_config *cfg,
						     const char *name);
/* The entry for a PAM service, NULL if unlisted. */
const struct agent_cfg_service *agent_config_service(const struct agent_cfg_purpose *p,
						     const char *service);
/* The rule for a PAM service; unlisted services are denied. */
enum agent_rule agent_config_service_rule(const struct agent_cfg_purpose *p, const char *service);
bool agent_config_may_delegate(const struct agent_cfg_purpose *p, const char *child_purpose);

/* Is the "(user,user) " run-as prefix of a sudo_commands rule well formed
 * (valid user names)? *rest is the command part (the rule itself without a
 * prefix). */
bool agent_config_cmd_rule_valid(const char *rule, const char **rest);
