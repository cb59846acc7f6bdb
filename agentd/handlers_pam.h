/* Requests from pam_agent (handlers_pam.c): authentication by token,
 * account decisions (which may start a step-up, approval.h), sessions and
 * ssh's AuthorizedKeysCommand. */
#pragma once

struct agentd;
struct agentd_conn;
struct agentd_placing;
struct agentd_session;
struct agent_msg;

void agentd_h_auth(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
void agentd_h_account(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
void agentd_h_session_open(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
/* A session open's process was moved into its cgroup, or could not be
 * (its W_PLACE descriptor is readable): the answer goes to pam_agent. */
void agentd_session_placed(struct agentd *d, struct agentd_placing *p);
/* c is going away: a placement under way answers no one. */
void agentd_placing_conn_gone(struct agentd *d, struct agentd_conn *c);
/* Shutdown: waits for the placements under way, answers none. */
void agentd_placings_forget(struct agentd *d);
void agentd_h_session_close(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
void agentd_h_authorized_keys(struct agentd *d, struct agentd_conn *c, const struct agent_msg *m);
/* The session-close record (closed by pam_agent, or its process exited). */
void agentd_audit_session_end(struct agentd *d, const struct agentd_session *s, const char *reason);
