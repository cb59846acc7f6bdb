/* Verified actors: which program is the client that asks for a create?
 * (agentd.conf(5): verified_actors, require_verified_actor) */
#pragma once
#include <stdbool.h>
#include <sys/socket.h>
#include "agentd/config.h"
#include "agentd/policy.h"

struct agentd_actor {
	bool verified;                 /* a verified_actors entry matched */
	char name[AGENT_NAME_MAX + 1]; /* that entry's name */
	char why[160];                 /* why none matched (for the record) */
};

/* Identifies the peer of the connected socket sock (credentials cred, from
 * SO_PEERCRED) against purpose p's verified_actors, then the global ones:
 * the peer's executable, read through a pidfd of that very process
 * (SO_PEERPIDFD, else pidfd_open), is the file at an entry's path (device
 * and inode), with the entry's SHA-256 if it pins one, and caller matches
 * the entry's who. Never fails: an error is "not verified" with a why. */
void agentd_actor_identify(const struct agent_config *cfg, const struct agent_cfg_purpose *p,
			   int sock, const struct ucred *cred, const struct agent_caller *caller,
			   struct agentd_actor *out);

/* The SHA-256 of what fd holds (at most 1 GiB), read from offset 0. */
int agentd_actor_hash_fd(int fd, unsigned char out[32]);
