/* agentd's audit chain as a reader sees it: the syslog line
 * formats records are read back from, the verifier behind `agentctl audit
 * verify` and the record fields behind `agentctl audit trace`.
 *
 * A v2 record (agentd-audit(5)) is a key=value line (common/kv.h) that
 * starts "v=2 seq=N" and ends ` prev="P" mac="M"`: M is the record's MAC
 * (common/audit_mac.h) over every byte of the line before " mac="; P is
 * the M of record seq-1 (32 zeros for the first record of a
 * chain). Each record is thus authenticated on its own and bound to its
 * predecessor: a reader with the key finds deleted, reordered, edited and
 * inserted records from the records alone. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/audit_mac.h"

#define AGENT_AUDIT_VERSION 2
#define AGENT_AUDIT_STATE_FILE "audit.state"
/* Longest line the readers accept (rsyslog's default message size). */
#define AGENT_AUDIT_READ_MAX 8192

enum agent_audit_line_kind {
	AGENT_LINE_OTHER,  /* not from agentd */
	AGENT_LINE_AGENTD, /* from agentd, but not a record (a diagnostic) */
	AGENT_LINE_RECORD, /* a record: *msg points at its "v=" */
};
/* Finds the message in one log line (no newline): a bare record, or a
 * syslog line as rsyslog writes it, "TIMESTAMP HOST agentd[PID]: MESSAGE",
 * with the traditional ("Nov 22 15:30:00") or the RFC 3339 timestamp. */
enum agent_audit_line_kind agent_audit_line_split(const char *line, const char **msg);
/* The same, and the syslog line's HOSTNAME field copied to host[0..cap):
 * "" for a bare record or for a name that does not fit. */
enum agent_audit_line_kind agent_audit_line_split_host(const char *line, const char **msg,
						       char *host, size_t cap);

/* What the verifier reports. Notes explain and never fail a verification. */
enum agent_audit_kind {
	AGENT_AF_GAP = 1,        /* records missing from the sequence */
	AGENT_AF_REORDERED,      /* a record after one with a higher seq */
	AGENT_AF_DUPLICATE,      /* a seq seen before */
	AGENT_AF_ALTERED,        /* fails authentication, its successor vouches for its MAC */
	AGENT_AF_FOREIGN,        /* an agentd "record" that is not authentic: inserted or forged */
	AGENT_AF_LINK,           /* authentic, but prev is not its predecessor's MAC */
	AGENT_AF_UNCHAINED,      /* a v=1 record: no MAC, cannot be trusted */
	AGENT_AF_UNKNOWN_HOST,   /* fleet: records of a host without a usable key */
	AGENT_AF_NOTE_LOST,      /* missing records a crash-recovery start declared */
	AGENT_AF_NOTE_ANCHOR,    /* the input starts inside a chain */
	AGENT_AF_NOTE_NEW_CHAIN, /* agentd began a new chain (its audit state was reset) */
};

struct agent_audit_finding {
	enum agent_audit_kind kind;
	const char *file; /* as given to agent_audit_vfy_line */
	unsigned long line;
	char text[240];
};

struct agent_audit_vstats {
	uint64_t lines, records, verified, other_agentd;
	uint64_t first_seq, last_seq; /* of the verified records, by seq */
	unsigned findings, notes;
};

const char *agent_audit_kind_str(enum agent_audit_kind k);
bool agent_audit_kind_is_note(enum agent_audit_kind k);

struct agent_audit_vfy;
/* NULL on ENOMEM. The key is copied (and wiped by _free). */
struct agent_audit_vfy *agent_audit_vfy_new(const uint8_t key[AGENT_AUDIT_KEY_BYTES]);
void agent_audit_vfy_free(struct agent_audit_vfy *v);
/* Feeds one line (without its newline); lines of all files in order, as one
 * stream (e.g. auth.log.1 then auth.log). file must stay valid until
 * _finish. 0 or -ENOMEM. */
int agent_audit_vfy_line(struct agent_audit_vfy *v, const char *file, unsigned long lineno,
			 const char *line);
/* Ends the input and calls cb for every finding and note, ordered by file
 * and line. Returns the number of findings (notes excluded), or -ENOMEM. */
int agent_audit_vfy_finish(struct agent_audit_vfy *v,
			   void (*cb)(const struct agent_audit_finding *f, void *arg), void *arg,
			   struct agent_audit_vstats *stats);

/* Calls cb for each line of path ("-": standard input), newline removed,
 * numbered from 1. 0, -errno, or what cb returned if not 0. */
int agent_audit_read_lines(const char *path,
			   int (*cb)(const char *file, unsigned long lineno, const char *line,
				     void *arg),
			   void *arg);

/* One record's fields, parsed (values unescaped). */
#define AGENT_AUDIT_FIELDS_MAX 48
struct agent_audit_fields {
	unsigned n;
	const char *key[AGENT_AUDIT_FIELDS_MAX];
	const char *value[AGENT_AUDIT_FIELDS_MAX];
	char store[AGENT_AUDIT_READ_MAX * 2];
};
/* 0, or -EBADMSG (syntax, or too many fields). */
int agent_audit_fields_parse(const char *msg, struct agent_audit_fields *f);
/* The value of key, or NULL. */
const char *agent_audit_field(const struct agent_audit_fields *f, const char *key);
/* Does msg carry a valid MAC under key (ignoring the chain)? */
bool agent_audit_rec_authentic(const uint8_t key[AGENT_AUDIT_KEY_BYTES], const char *msg);

/* agentctl audit trace: the records about one identity, as a timeline. */
struct agent_audit_trace;
/* key may be NULL (records are then shown unauthenticated). */
struct agent_audit_trace *agent_audit_trace_new(const char *name,
						const uint8_t key[AGENT_AUDIT_KEY_BYTES]);
void agent_audit_trace_free(struct agent_audit_trace *t);
/* Fleet (common/audit_fleet.h): each record is checked with its host's key
 * from kr (which outlives t), and shown with its host. */
struct agent_audit_keyring;
void agent_audit_trace_keyring(struct agent_audit_trace *t, struct agent_audit_keyring *kr);
/* Only records whose syslog HOSTNAME is host (NULL or "": all). */
void agent_audit_trace_host(struct agent_audit_trace *t, const char *host);
int agent_audit_trace_line(struct agent_audit_trace *t, const char *file, unsigned long lineno,
			   const char *line);
/* Prints the story; returns the number of records shown. */
size_t agent_audit_trace_print(struct agent_audit_trace *t, FILE *out, bool json);
