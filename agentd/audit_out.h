/* The way out of agentd for audit records: /dev/log without ever waiting.
 *
 * Records are written as syslog(3) writes them (one RFC 3164 datagram,
 * "<PRI>Mmm dd hh:mm:ss agentd[PID]: MESSAGE") to a non-blocking datagram
 * socket. What the socket does not take (EAGAIN, ENOBUFS: the reader stopped
 * reading; ENOENT, ECONNREFUSED: no syslog) waits, in order:
 *
 *   1. in memory, up to AGENT_AUDIT_HOLD records;
 *   2. then in the spill file $statedir/audit.spill, appended in order (see
 *      audit_out.c for its format and fsync policy), up to
 *      AGENT_AUDIT_SPILL_MAX bytes;
 *   3. when the spill file cannot be written (disk full, EIO, over its
 *      bound), in memory again, up to mem_max bytes; the cause is logged
 *      once. Past that, push refuses the record (-ENOBUFS) and the caller
 *      accounts for it (agentd/audit.c declares the lost range in a record).
 *
 * Everything in the spill file is older than everything in memory, and it
 * is sent first: when the socket accepts again, and at start-up before any
 * record of the new run. The socket is reconnected when syslog restarts.
 * A record the socket accepted is delivered as far as agentd can tell. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_AUDIT_SPILL_FILE "audit.spill"
#define AGENT_AUDIT_HOLD 32                 /* records in memory before spilling */
#define AGENT_AUDIT_SPILL_MAX (32ull << 20) /* bytes in the spill file */
#define AGENT_AUDIT_MEM_MAX (4u << 20)      /* bytes in memory when the spill fails */
#define AGENT_AUDIT_PUMP_BATCH 256          /* records sent per pump call */
#define AGENT_AUDIT_RETRY_MIN_MS 20
#define AGENT_AUDIT_RETRY_MAX_MS 500
/* One datagram: the record, its header and the spill line's status byte. */
#define AGENT_AUDIT_DGRAM_MAX (2048 + 128)

struct agent_audit_msg;

struct agent_audit_out {
	const char *path; /* the syslog socket; NULL: records go nowhere */
	int fd;           /* connected datagram socket, or -1 */
	int dirfd;        /* the state directory (not owned), or -1: no spill */
	/* in memory, oldest first */
	struct agent_audit_msg *head, *tail;
	size_t qlen, qbytes;
	size_t hold, mem_max; /* AGENT_AUDIT_HOLD, AGENT_AUDIT_MEM_MAX (tests lower them) */
	/* the spill file */
	int sfd;              /* or -1 */
	uint64_t ssize, soff; /* its size; the next line to send */
	bool sdirty;          /* appended to since the last fdatasync */
	uint64_t smax;        /* AGENT_AUDIT_SPILL_MAX */
	bool spill_pending;   /* it has lines to send */
	int spill_err;        /* why the last spill failed (logged once), 0 */
	/* retries */
	uint64_t next_ms;  /* no attempt before (CLOCK_MONOTONIC ms) */
	unsigned delay_ms; /* current back-off, 0 when the socket takes records */
	int conn_err;      /* why the last connect failed, 0 */
	/* counters (tests, bench) */
	uint64_t sent, spilled, replayed, refused;
};

/* path: the socket (normally "/dev/log"), or NULL. */
void agent_audit_out_init(struct agent_audit_out *o, const char *path);
/* Adopts the state directory: an existing spill file is sent before
 * anything pushed after this. 0, or -errno (the spill file is then set
 * aside as audit.spill.rejected and the cause queued as a message). */
int agent_audit_out_open_spill(struct agent_audit_out *o, int dirfd);
/* Sends or queues one message (no newline) at syslog priority pri
 * (facility | level). 0: sent or held; -ENOBUFS: neither the socket, the
 * spill file nor memory (the bound, or ENOMEM) took it: nothing was kept;
 * -EMSGSIZE: too long to be a datagram (dropped too). */
int agent_audit_out_push(struct agent_audit_out *o, int pri, const char *msg, uint64_t now_ms);
/* Sends what waits, up to AGENT_AUDIT_PUMP_BATCH records, never blocking.
 * Returns the ms until it should be called again: -1 nothing waits, 0 more
 * is ready now, else the back-off. */
int agent_audit_out_pump(struct agent_audit_out *o, uint64_t now_ms);
/* Would a push of about len bytes be held if the socket refused it? */
bool agent_audit_out_room(const struct agent_audit_out *o, size_t len);
/* Moves what waits in memory to the spill file and makes the file durable
 * (fdatasync). 0, or -errno (memory still holds the rest). */
int agent_audit_out_sync(struct agent_audit_out *o);
/* One last pump, then sync; closes the socket and the spill file. Returns
 * the number of messages that could be kept nowhere (they are dropped). */
size_t agent_audit_out_close(struct agent_audit_out *o, uint64_t now_ms);
/* Does anything wait? */
bool agent_audit_out_busy(const struct agent_audit_out *o);
uint64_t agent_audit_now_ms(void);
