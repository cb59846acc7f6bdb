/* Audit records: one syslog record per decision, facility AUTHPRIV, ident
 * "agentd", in the key=value format of common/kv.h, documented in
 * agentd-audit(5). Every record starts with v=2 seq=N time=T [req=R]
 * event=EVENT and ends with prev=P mac=M: a keyed BLAKE2b chain (see
 * common/audit_verify.h) whose key ($statedir/audit.key) never leaves the
 * state directory. seq never restarts: the chain's position is checkpointed
 * in $statedir/audit.state every AGENT_AUDIT_CHECKPOINT_EVERY records and at
 * a clean stop; after a crash the chain resumes past every seq the lost run
 * could have used, and its start record declares that range.
 *
 * Records leave through agentd/audit_out.h: a non-blocking socket, then
 * memory, then the spill file, so no record waits on syslog and none is
 * reordered. Only when memory is full as well (the spill file cannot be
 * written) is a record dropped: its seq stays used, and the next record that
 * fits is followed by an "audit-lost" record naming the dropped range, so
 * `agentctl audit verify` reports the gap and the log says why. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include "agentd/audit_out.h"
#include "common/audit_verify.h"
#include "common/identity.h"
#include "common/kv.h"

#define AGENT_AUDIT_LINE_MAX 2048 /* below rsyslog's default 8 KiB message size */
/* Room kept at the end of every record for dropped=, prev= and mac=. */
#define AGENT_AUDIT_TAIL_RESERVE 128
#define AGENT_AUDIT_CHECKPOINT_EVERY 256

struct agent_audit {
	uint64_t seq;  /* of the last record emitted */
	int to_stderr; /* also print records on stderr (foreground mode) */
	bool chained;  /* agent_audit_chain_open succeeded */
	uint8_t key[AGENT_AUDIT_KEY_BYTES];
	char prev[AGENT_AUDIT_MAC_HEX + 1]; /* MAC of record seq */
	int dirfd;                          /* the state directory, -1 if none */
	uint64_t ckpt_seq;                  /* last seq written to audit.state */
	bool ckpt_due;                      /* checkpoint after the next record */
	const char *resume;                 /* "new", "continued" or "crash" */
	uint64_t lost_from, lost_to;        /* after a crash: seqs the lost run may have used */
	uint64_t run_seq;                   /* seq of this run's start record */
	uint64_t nreq;                      /* requests dispatched in this run */
	bool in_req;                        /* records carry req=RUN_SEQ.NREQ */
	struct agent_audit_out out;         /* the way to syslog */
	uint64_t drop_from, drop_to;        /* dropped, not yet declared (0: none) */
	int drop_err;                       /* why (spill_err when it began) */
	bool ckpt_failed;                   /* the last checkpoint failed (logged) */
	/* Tests only: gets each finished record as well. */
	void (*sink)(void *arg, const char *record);
	void *sink_arg;
};

void agent_audit_open(struct agent_audit *a, int to_stderr);
/* The event loop's hook: sends what waits (never blocking) and returns the
 * epoll timeout until the next attempt, -1 when nothing waits. */
int agent_audit_pump(struct agent_audit *a);
/* Same, with the clock given (CLOCK_MONOTONIC ms), for tests. */
int agent_audit_pump_at(struct agent_audit *a, uint64_t now_ms);
/* A diagnostic line (not a record) to syslog through the same queue:
 * "agentd[PID]: text", facility AUTHPRIV (and to stderr with -f). Never
 * blocks: agentd's main process logs only through here, never syslog(3). */
void agent_audit_log(struct agent_audit *a, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void agent_audit_vlog(struct agent_audit *a, int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* Loads (or creates, 0600) DIR/audit.key and resumes the chain from
 * DIR/audit.state. 0, or -errno (-EBADMSG for an unreadable audit.state,
 * which is never overwritten: remove it to start a new chain). */
int agent_audit_chain_open(struct agent_audit *a, const char *state_dir);
/* Writes the chain's position to audit.state (clean: after the last
 * record of a run). 0 or -errno. */
int agent_audit_checkpoint(struct agent_audit *a, bool clean);
/* Writes a clean checkpoint if the chain is open (records that syslog did
 * not take by then stay in the spill file for the next run), closes the
 * log. */
void agent_audit_close(struct agent_audit *a);

/* Starts a record: kv is initialised on buf with v, seq, time, req and
 * event; cap should be AGENT_AUDIT_LINE_MAX. */
void agent_audit_begin(struct agent_audit *a, struct agent_kv *kv, char *buf, size_t cap,
		       const char *event);
/* Adds the identity's who-acted-for-whom fields: identity uid subject chain
 * actor purpose (chain as "alice>orchestrator>agent-x"). */
void agent_audit_identity(struct agent_kv *kv, const struct agent_identity *id);
/* The chain fields of a start record: audit (new | continued | crash),
 * lost_from and lost_to after a crash. Marks this record as the run's. */
void agent_audit_start_fields(struct agent_audit *a, struct agent_kv *kv);
/* Emits the record (LOG_AUTHPRIV | LOG_NOTICE, or LOG_WARNING for a
 * refusal): adds dropped=N if fields did not fit, prev and mac, bumps seq
 * and checkpoints when due. */
void agent_audit_emit(struct agent_audit *a, struct agent_kv *kv, int priority);

/* Brackets the handling of one client request: the records in between
 * carry req="RUN_SEQ.N" (unique across runs: RUN_SEQ is the run's start). */
void agent_audit_request_begin(struct agent_audit *a);
void agent_audit_request_end(struct agent_audit *a);
