/* Configuration reload (SIGHUP): all or nothing.
 *
 * A new configuration that does not parse, or changes the uid range, is
 * rejected and the old one stays. Otherwise identities whose purpose is gone
 * are retired (they keep no rights) and the snapshot is rebuilt. Each
 * attempt is one "config" audit record. */
#pragma once

struct agentd;

void agentd_reload_config(struct agentd *d);
/* The "config" audit record (error NULL when loaded). */
void agentd_audit_config(struct agentd *d, const char *decision, const char *error);
