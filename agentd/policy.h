/* Who may create what: the delegation decision, a pure function of the
 * configuration, the caller and the request, so tests can reach every
 * branch. agentd gathers the inputs; this decides. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "agentd/config.h"
#include "common/identity.h"
#include "common/liveness.h"

struct agent_caller {
	uid_t uid;
	char user[AGENT_NAME_MAX + 1];                         /* resolved name, "" if none */
	char groups[AGENT_GROUPS_MAX * 2][AGENT_NAME_MAX + 1]; /* group names */
	size_t ngroups;
	/* Set when the caller's uid is a live agent identity. */
	const struct agent_identity *agent;
};

struct agent_create_req {
	const char *purpose;
	uint64_t ttl;         /* seconds, 0 = default */
	const char *for_user; /* NULL = the caller is the subject */
	bool has_risk;        /* --risk given: */
	enum agent_risk risk; /* at least the purpose's (and the parent's) */
	/* Budgets, counted by the caller from the store: */
	uint64_t parent_children; /* sub-identities the parent ever had */
	uint64_t recent_creates;  /* creates by this caller in the last 60 s */
};

struct agent_create_decision {
	bool allowed;
	char reason[160]; /* why not, or which rule allowed: for audit and the caller */
	uint64_t ttl;     /* granted TTL in seconds, after clamping */
	int64_t expires;  /* now + ttl, clamped to the parent's expiry */
	char subject[AGENT_NAME_MAX + 1];
	char chain[AGENT_CHAIN_MAX][AGENT_NAME_MAX + 1];
	unsigned chain_len;
	unsigned depth;
	char parent[AGENT_NAME_MAX + 1];
	enum agent_risk risk;    /* the highest of the purpose's, the parent's and --risk */
	const char *over_budget; /* refused by a budget: "max_delegations" or
				  * "creates_per_minute"; NULL otherwise */
};

/* Decides a create. now is unix seconds. A requested TTL above what the
 * matching rule allows is refused (not silently shortened); a default TTL is
 * clamped to the rule's maximum and, for a sub-delegation, to the parent's
 * remaining lifetime. Root (uid 0) may create any purpose and act for
 * anyone. The identity's risk is the purpose's (for a sub-delegation at
 * least the parent's); a requested risk may raise it, and one below it is
 * refused. */
void agent_policy_create(const struct agent_config *cfg, const struct agent_caller *caller,
			 const struct agent_create_req *req, int64_t now,
			 struct agent_create_decision *out);

/* May the caller see this identity (list/show)? Root sees all; others see
 * identities whose subject or chain names them, and an agent sees itself
 * and its descendants. */
bool agent_policy_may_see(const struct agent_caller *caller, const struct agent_identity *id);

/* May the caller revoke it? Root; any principal in its chain (a delegator
 * revokes what it delegated, directly or through its agents); the identity
 * itself. */
bool agent_policy_may_revoke(const struct agent_caller *caller, const struct agent_identity *id);

/* A PAM service for an identity: may this identity use it now? */
struct agent_service_decision {
	bool allowed;
	bool approve;                       /* not allowed yet: a human must approve (step-up) */
	int err;                            /* when refused: ENOENT (not an identity), EKEYEXPIRED
			   * (retired or past its deadline), EACCES (the policy) */
	char reason[192];                   /* why: for audit and the user */
	char rule[AGENT_RULE_TEXT_MAX + 1]; /* the rule that decided, e.g.
					     * "purpose ci: sshd = allow" */
	enum agent_risk risk;               /* of the action: the highest of the identity's, the
			       * service's (service_risk) and the command's */
	unsigned approvals;                 /* with approve: approvers needed (2 for critical) */
	bool over_budget;                   /* max_sudo used up (denied, or sent for approval) */
};

/* The sudo budget (max_sudo) of an identity's PAM decision out, made by
 * agent_policy_sudo: a sudo the policy allows or sends for approval, when
 * the identity has used max_sudo already, is refused, or sent for approval
 * if the purpose's over_budget says so. counted: this sudo (the same PAM
 * transaction) was counted already by an earlier stage: no check. */
void agent_policy_sudo_budget(const struct agent_config *cfg, const struct agent_identity *id,
			      const char *service, bool counted,
			      struct agent_service_decision *out);

/* Decides one PAM decision for id (NULL if the store has no such name)
 * under cfg at now. Unlisted services are denied; "approve" is a refusal
 * with approve set (the caller runs the step-up). For sudo (and sudo-i)
 * under a purpose with sudo_commands, command (sudo's SUDO_COMMAND, NULL if
 * unknown or untrusted) is matched: deny rules, then approve, then allow,
 * else the service's rule; an unknown command is never allowed outright.
 * Then risk: an allowed action whose risk is at or above approve_risk needs
 * approval; an approval of a critical action needs two approvers. */
void agent_policy_service(const struct agent_config *cfg, const struct agent_identity *id,
			  const char *service, const char *command, const struct agent_now *now,
			  struct agent_service_decision *out);

/* The same with sudo's run-as user (runas: the target user, NULL if
 * unknown). A command rule matches only the run-as users it names in a
 * "(user,user) " prefix, or root when it names none. A sudo whose run-as
 * user no matching rule names is denied unless that user is root; an
 * unknown run-as user is never allowed outright (approve at most).
 * agent_policy_service() is this with runas "root". */
void agent_policy_sudo(const struct agent_config *cfg, const struct agent_identity *id,
		       const char *service, const char *command, const char *runas,
		       const struct agent_now *now, struct agent_service_decision *out);

/* Does a whole sudo_commands rule ("[(user,...) ]PATH [GLOB]") match
 * command run as runas? */
bool agent_policy_rule_matches(const char *rule, const char *command, const char *runas);

/* Does a sudo_commands rule match command ("PATH ARGS...")? "PATH" alone
 * matches any arguments; "PATH GLOB" matches when fnmatch(3) (no flags)
 * matches the arguments as sudo joins them ("" if none; a GLOB of two
 * double quotes means no arguments). */
bool agent_policy_command_matches(const char *rule, const char *command);

/* May the caller approve or deny a step-up request of identity id? Never an
 * agent identity (the caller checks the agent uid range too), never the
 * identity itself, only a user named in approvers (directly or by a group),
 * and, when subject_may_approve is false, neither the identity's subject
 * nor anyone in its delegation chain. why
 * says which. */
bool agent_policy_may_approve(const struct agent_config *cfg, const struct agent_caller *caller,
			      const struct agent_identity *id, char *why, size_t whylen);

/* The same for an action of risk `risk` that approvers prior[0..nprior)
 * approved already: a critical action's approver is never the identity's
 * subject nor anyone in its delegation chain (whatever subject_may_approve
 * says), and never one who approved it already. */
bool agent_policy_may_approve_risk(const struct agent_config *cfg,
				   const struct agent_caller *caller,
				   const struct agent_identity *id, enum agent_risk risk,
				   const char (*prior)[AGENT_NAME_MAX + 1], unsigned nprior,
				   char *why, size_t whylen);

/* Does the caller match one of who[n] ("user", "%group", "*")? */
bool agent_policy_who_matches(char (*who)[AGENT_NAME_MAX + 2], size_t n,
			      const struct agent_caller *caller);

/* The actor decision of a create under purpose p: claimed is --actor (NULL
 * if none), verified the name of the verified actor the client is ("" if
 * none, why says why). With require_verified_actor, refused unless the
 * client is one and a claimed label is its name; otherwise allowed. Sets
 * *is_verified (the record's actor_verified): a verified client whose
 * claim, if any, is its name. reason: why refused. */
bool agent_policy_actor(const struct agent_cfg_purpose *p, const char *claimed,
			const char *verified, const char *why, bool *is_verified, char *reason,
			size_t reasonlen);

/* Policy that follows live identities (agentd/follow.c): a live identity
 * re-checked against the policy in force now. */
enum agent_recheck {
	AGENT_RECHECK_KEEP = 0,
	AGENT_RECHECK_RETIRE = 1,  /* reason policy */
	AGENT_RECHECK_SHORTEN = 2, /* expires lowered to out->expires */
};
struct agent_recheck_decision {
	enum agent_recheck action;
	int64_t expires;  /* SHORTEN: the new deadline */
	char reason[192]; /* why, for the record */
};

/* Re-decides live identity id at now (unix seconds). For a top-level
 * identity, creator is its creating caller resolved now (NULL: the uid no
 * longer has a user name; uid 0 is root); for a sub-identity parent_purpose
 * is its parent's purpose. Retired: its purpose is gone; a sub-identity
 * whose parent's purpose may no longer delegate it, or that sits deeper
 * than max_depth; a top-level one no delegator rule lets its creator create
 * any more (or act for its subject). Shortened: a max_ttl (global, the
 * purpose's, the delegator rule's) now ends it earlier; retired if that
 * is already past. */
void agent_policy_recheck(const struct agent_config *cfg, const struct agent_identity *id,
			  const struct agent_caller *creator, const char *parent_purpose,
			  int64_t now, struct agent_recheck_decision *out);
