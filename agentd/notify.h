/* The systemd readiness protocol (sd_notify(3)), without libsystemd. */
#ifndef AGENTD_NOTIFY_H
#define AGENTD_NOTIFY_H

/* Sends STATE (e.g. "READY=1") as one datagram to the AF_UNIX socket named
 * by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace), then
 * removes NOTIFY_SOCKET from the environment so that no child inherits it.
 * Returns 1 if sent, 0 if NOTIFY_SOCKET is unset (not under systemd's
 * Type=notify), or a negative errno. Never blocks. */
int agentd_notify(const char *state);

#endif
