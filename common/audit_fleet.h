/* A fleet's audit records, collected in one place: rsyslog on each host
 * forwards agentd's records to a collector, which writes the lines of all
 * hosts, interleaved, into one file (agentd-audit(5), FLEET). Each host has
 * its own chain and its own key; a line's host is the syslog HOSTNAME
 * field in front of the record.
 *
 * The key ring maps a host to DIR/HOST.key (read once, through
 * common/keyfile.h's checks). The fleet verifier runs one chain verifier
 * (common/audit_verify.h) per host on that host's lines, with the
 * collector file's line numbers, and reports each host's findings
 * separately. A host without a usable key is a finding, never passed. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/audit_verify.h"

/* Longest host name a key file is looked up for (a DNS name). */
#define AGENT_AUDIT_HOST_MAX 253

/* Can host name a key file: 1 to AGENT_AUDIT_HOST_MAX letters, digits,
 * '.', '-', '_', starting with a letter or digit. */
bool agent_audit_host_valid(const char *host);

struct agent_audit_keyring;
/* Opens the key directory: owned by root or the caller and writable by
 * neither group nor others (else -EPERM). NULL and *err (-errno). */
struct agent_audit_keyring *agent_audit_keyring_open(const char *dir, int *err);
void agent_audit_keyring_free(struct agent_audit_keyring *kr);
const char *agent_audit_keyring_dir(const struct agent_audit_keyring *kr);
/* host's key, read on first use and kept; NULL and *err: -EINVAL (the name
 * cannot name a key file), -ENOENT (no key file), or the reader's -errno,
 * or -ENOMEM. The same answer every time for one host. */
const uint8_t *agent_audit_keyring_get(struct agent_audit_keyring *kr, const char *host, int *err);

/* One host's result. */
struct agent_audit_host_summary {
	const char *host;             /* "" for records without a syslog host name */
	int key_error;                /* 0, or why the host has no key */
	uint64_t records;             /* agentd records of this host */
	struct agent_audit_vstats st; /* the chain verifier's (zero without a key) */
};

struct agent_audit_fleet;
/* kr stays the caller's and must outlive the verifier. NULL on ENOMEM. */
struct agent_audit_fleet *agent_audit_fleet_new(struct agent_audit_keyring *kr);
void agent_audit_fleet_free(struct agent_audit_fleet *f);
/* Feeds one line, as agent_audit_vfy_line. 0 or -ENOMEM. */
int agent_audit_fleet_line(struct agent_audit_fleet *f, const char *file, unsigned long lineno,
			   const char *line);
/* Ends the input. Host by host, in order of name: finding() for each of
 * its findings and notes (by file and line), then summary(). Returns the
 * number of findings of all hosts (notes excluded), or -ENOMEM. *nhosts
 * (if not NULL) gets the number of hosts seen. */
int agent_audit_fleet_finish(struct agent_audit_fleet *f,
			     void (*finding)(const char *host, const struct agent_audit_finding *fd,
					     void *arg),
			     void (*summary)(const struct agent_audit_host_summary *s, void *arg),
			     void *arg, unsigned *nhosts);
