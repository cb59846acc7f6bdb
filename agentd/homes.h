/* Ephemeral home directories under home_base.
 *
 * home_base must be a root-owned directory that nobody else can write, or a
 * user could race symlinks into it; homes are created relative to an fd on
 * it, never through a path. Homes are removed by the reaper (kill.c). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct agentd;

/* (Re)opens d->cfg->home_base into d->home_fd. 0, -EPERM, -errno. */
int agentd_home_base_open(struct agentd *d);
/* Creates the ephemeral home of an identity (0700, owned by uid). */
int agentd_home_create(struct agentd *d, const char *name, uint32_t uid);
/* Does this purpose give its identities an ephemeral home? */
bool agentd_purpose_has_home(struct agentd *d, const char *purpose);
