/* The request handlers' entry: one table of request types (handlers.c).
 * The loop (loop.c) calls agentd_dispatch for each request conn.c receives;
 * the handlers live in handlers.c (agentctl's requests), handlers_pam.h
 * (pam_agent's), approval.h (step-up) and run.h (`agentctl run`). */
#pragma once

struct agentd;
struct agentd_conn;
struct agent_msg;

/* Dispatches one parsed request; queues the reply on c. */
void agentd_dispatch(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
