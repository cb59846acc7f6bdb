/* Start-up reconciliation, before any request is served.
 *
 * Rebuilds the live table and the snapshot from the store; retires what
 * expired while agentd was down (or lost its purpose or uid range); finishes
 * interrupted reaps; kills processes in the range that belong to no live
 * identity; waits for those reapers. A boot deadline recorded in another
 * boot (boot_id changed) means nothing: it is derived anew. */
#pragma once

struct agentd;

int agentd_reconcile(struct agentd *d);
