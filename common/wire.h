/* The agentd wire protocol: one message per SOCK_SEQPACKET datagram.
 *
 *   message = u16 version (1) | u16 type | attribute*
 *   attribute = u16 tag | u16 len | value[len]          (integers little-endian)
 *
 * Each tag has one value type everywhere: STR (len >= 1, value ends with its
 * only NUL, at most the tag's maximum bytes before it), U64 (len 8), FLAG
 * (len 0). Each message type has a schema: the tags it may carry, which are
 * required, which may repeat. agent_wire_parse() checks all of it before a
 * handler sees a byte, and a datagram longer than AGENT_WIRE_MAX is a
 * protocol violation (the peer is disconnected). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/identity.h"

#define AGENT_WIRE_VERSION 1
/* AGENT_WIRE_MAX, AGENT_WIRE_MAX_ATTRS and every string maximum: common/limits.h */

enum agent_msg_type {
	/* requests */
	AGENT_MSG_CREATE = 1, /* PURPOSE [TTL ACTOR TASK FOR] -> IDENTITY(+TOKEN) | ERROR */
	AGENT_MSG_LIST = 2,   /* [ALL] -> IDENTITY* END | ERROR */
	AGENT_MSG_SHOW = 3,   /* NAME -> IDENTITY | ERROR */
	AGENT_MSG_REVOKE = 4, /* NAME... (up to 64) [REASON] -> OK | ERROR (all or none) */
	AGENT_MSG_STATUS = 5, /* -> STATUS_REPLY | ERROR */
	/* from pam_agent (root peers only): one decision each */
	/* Each of AUTH, ACCOUNT and SESSION_OPEN carries the whole decision:
	 * [COMMAND RUNAS] for sudo, [REQUEST_ID] an approval this PAM
	 * transaction already got; each may be answered STEPUP first. */
	AGENT_MSG_AUTH = 6,             /* NAME TOKEN SERVICE [TTY RHOST RUSER ...] -> OK | ERROR */
	AGENT_MSG_ACCOUNT = 7,          /* NAME SERVICE [TTY RHOST RUSER ...] -> OK | ERROR */
	AGENT_MSG_SESSION_OPEN = 8,     /* NAME SERVICE [TTY RHOST RUSER ...] -> SESSION | ERROR */
	AGENT_MSG_SESSION_CLOSE = 9,    /* NAME SESSION_ID -> OK | ERROR */
	AGENT_MSG_AUTHORIZED_KEYS = 10, /* NAME -> OK(+SSH_KEY EXPIRES) | ERROR; anyone */
	AGENT_MSG_RUN =
		11, /* create fields + ARGV+ [CWD], fds 0-2 attached -> IDENTITY, EXIT | ERROR */
	/* step-up approval */
	AGENT_MSG_PENDING = 12,      /* -> REQUEST* END: requests the caller may decide */
	AGENT_MSG_APPROVE = 13,      /* REQUEST_ID [REASON] -> (PROMPT, PROMPT_REPLY)* OK | ERROR */
	AGENT_MSG_DENY = 14,         /* REQUEST_ID [REASON] -> OK | ERROR */
	AGENT_MSG_PROMPT_REPLY = 15, /* [TEXT]: the answer to a PROMPT */
	/* replies */
	AGENT_MSG_OK = 100,       /* [MESSAGE] */
	AGENT_MSG_ERROR = 101,    /* ERRNO MESSAGE */
	AGENT_MSG_IDENTITY = 102, /* identity fields, TOKEN only in reply to CREATE */
	AGENT_MSG_END = 103,      /* ends a LIST */
	AGENT_MSG_STATUS_REPLY = 104,
	AGENT_MSG_SESSION = 105, /* NAME PURPOSE EXPIRES SESSION_ID [SUBJECT] */
	AGENT_MSG_EXIT = 106,    /* WAIT_STATUS [MESSAGE]: the end of a RUN */
	AGENT_MSG_STEPUP = 107,  /* REQUEST_ID EXPIRES MESSAGE: to a PAM stage; OK | ERROR follow */
	AGENT_MSG_PROMPT = 108,  /* STYLE [TEXT]: a PAM conversation message for the approver */
	AGENT_MSG_REQUEST = 109, /* one pending step-up request (reply to PENDING) */
};

enum agent_attr {
	AGENT_A_NAME = 1,           /* STR  AGENT_NAME_MAX */
	AGENT_A_PURPOSE = 2,        /* STR  AGENT_PURPOSE_MAX */
	AGENT_A_TTL = 3,            /* U64  seconds */
	AGENT_A_ACTOR = 4,          /* STR  AGENT_ACTOR_MAX */
	AGENT_A_TASK = 5,           /* STR  AGENT_TASK_MAX */
	AGENT_A_FOR = 6,            /* STR  AGENT_NAME_MAX */
	AGENT_A_REASON = 7,         /* STR  AGENT_REASON_MAX */
	AGENT_A_ALL = 8,            /* FLAG */
	AGENT_A_UID = 9,            /* U64 */
	AGENT_A_GID = 10,           /* U64 */
	AGENT_A_SUBJECT = 11,       /* STR  AGENT_NAME_MAX */
	AGENT_A_CHAIN = 12,         /* STR  AGENT_NAME_MAX, repeatable up to AGENT_CHAIN_MAX */
	AGENT_A_PARENT = 13,        /* STR  AGENT_NAME_MAX */
	AGENT_A_CREATED = 14,       /* U64  unix seconds */
	AGENT_A_EXPIRES = 15,       /* U64  unix seconds */
	AGENT_A_STATE = 16,         /* STR  AGENT_STATE_TEXT_MAX: "live" | "retired" */
	AGENT_A_RETIRE_REASON = 17, /* STR  AGENT_RETIRE_REASON_TEXT_MAX */
	AGENT_A_RETIRED_AT = 18,    /* U64 */
	AGENT_A_TOKEN = 19,         /* STR  AGENT_TOKEN_TEXT_MAX */
	AGENT_A_ERRNO = 20,         /* U64  a positive errno value */
	AGENT_A_MESSAGE = 21,       /* STR  AGENT_MESSAGE_MAX */
	AGENT_A_KILLED = 22,        /* U64 */
	AGENT_A_VERSION = 23,       /* STR  AGENT_VERSION_TEXT_MAX */
	AGENT_A_LIVE = 24,          /* U64  live identities */
	AGENT_A_UID_MIN = 25,       /* U64 */
	AGENT_A_UID_MAX = 26,       /* U64 */
	AGENT_A_QUARANTINED = 27,   /* U64 uids in quarantine or being reaped */
	AGENT_A_UPTIME = 28,        /* U64  seconds */
	AGENT_A_DEPTH = 29,         /* U64 */
	AGENT_A_ACTOR_UID = 30,     /* U64  creator's uid */
	AGENT_A_SERVICE = 31,       /* STR  AGENT_SERVICE_MAX (PAM_SERVICE) */
	AGENT_A_TTY = 32,           /* STR  AGENT_TTY_MAX (PAM_TTY) */
	AGENT_A_RHOST = 33,         /* STR  AGENT_RHOST_MAX (PAM_RHOST) */
	AGENT_A_RUSER = 34,         /* STR  AGENT_RUSER_MAX (PAM_RUSER) */
	AGENT_A_SESSION_ID = 35,    /* U64 */
	AGENT_A_SSH_KEY = 36,       /* STR  AGENT_SSH_KEY_MAX, one authorized_keys line */
	AGENT_A_ARGV = 37,          /* STR  AGENT_ARG_MAX, repeatable up to AGENT_ARGV_MAX */
	AGENT_A_WAIT_STATUS = 38,   /* U64  a wait(2) status */
	AGENT_A_CWD = 39,           /* STR  AGENT_PATH_MAX */
	AGENT_A_COMMAND = 40,       /* STR  AGENT_COMMAND_MAX (sudo's SUDO_COMMAND) */
	AGENT_A_REQUEST_ID = 41,    /* STR  AGENT_REQUEST_ID_LEN */
	AGENT_A_STYLE = 42,         /* U64  a PAM message style */
	AGENT_A_TEXT = 43,          /* STR  AGENT_CONV_TEXT_MAX */
	AGENT_A_PID = 44,           /* U64 */
	AGENT_A_RULE = 45,          /* STR  AGENT_RULE_TEXT_MAX: the policy rule that decided */
	AGENT_A_RUNAS = 46,         /* STR  AGENT_NAME_MAX: sudo's run-as (target) user */
	/* 47-59: runtime authorization (risk, approvals, verified actors, budgets) */
	AGENT_A_RISK = 47,           /* STR  AGENT_RISK_TEXT_MAX: "low" .. "critical" */
	AGENT_A_APPROVALS = 48,      /* U64  approvals a step-up request needs (1 or 2) */
	AGENT_A_APPROVER = 49,       /* STR  AGENT_NAME_MAX, repeatable: who approved so far */
	AGENT_A_ACTOR_VERIFIED = 50, /* U64  1 if the creating program was a verified actor */
	AGENT_A_ACTOR_NAME = 51,     /* STR  AGENT_NAME_MAX: the verified_actors entry */
	AGENT_A_SUDO_USED = 52,      /* U64  sudo actions used (max_sudo) */
	/* 60-65: uid reuse and reaping (STATUS_REPLY) */
	AGENT_A_HELD = 60,          /* U64  uids held back: leftovers could not be removed */
	AGENT_A_HELD_UIDS = 61,     /* STR  AGENT_HELD_TEXT_MAX: the first AGENT_HELD_SHOWN_MAX of
				 * them, decimal, space-separated */
	AGENT_A_SWEEPING = 62,      /* U64  uids whose leftovers sweep is pending or running */
	AGENT_A_REAPING = 63,       /* U64  retired uids whose processes are not confirmed gone */
	AGENT_A_SURVIVORS = 64,     /* U64  of those, uids whose last reap left processes running */
	AGENT_A_SURVIVOR_UIDS = 65, /* STR  AGENT_HELD_TEXT_MAX: the first AGENT_HELD_SHOWN_MAX
				     * of them, decimal, space-separated */
	AGENT_A__MAX
};

/* Writer: fill with begin + put*, then finish. Puts after an overflow or a
 * type/maximum violation are ignored and finish() reports -EMSGSIZE or
 * -EINVAL; the message must then not be sent. */
struct agent_wbuf {
	uint8_t data[AGENT_WIRE_MAX];
	size_t len;
	int error; /* first error, 0 if none */
};

void agent_wire_begin(struct agent_wbuf *w, enum agent_msg_type type);
void agent_wire_str(struct agent_wbuf *w, enum agent_attr tag, const char *s);
void agent_wire_u64(struct agent_wbuf *w, enum agent_attr tag, uint64_t v);
void agent_wire_flag(struct agent_wbuf *w, enum agent_attr tag);
/* 0, or the first error (-EMSGSIZE, -EINVAL). Also checks the message
 * against its schema (required attributes present), as parse would. */
int agent_wire_finish(struct agent_wbuf *w);
/* Wipes the buffer (it may have held a token). */
void agent_wire_wipe(struct agent_wbuf *w);

/* Reader: a validated view into a datagram; buf must outlive it. */
struct agent_attr_view {
	uint16_t tag;
	uint16_t len;
	const uint8_t *val;
};
struct agent_msg {
	enum agent_msg_type type;
	unsigned nattrs;
	struct agent_attr_view attrs[AGENT_WIRE_MAX_ATTRS];
};

/* 0, or -EBADMSG for anything that breaks the format or the type's schema
 * (unknown version/type/tag, tag not allowed for the type, bad length, NUL
 * inside a string, over a maximum, duplicate of a non-repeatable tag, too
 * many repeats, required tag missing, trailing bytes). */
int agent_wire_parse(struct agent_msg *m, const uint8_t *buf, size_t len);

const char *agent_msg_str(const struct agent_msg *m, enum agent_attr tag); /* NULL if absent */
bool agent_msg_u64(const struct agent_msg *m, enum agent_attr tag, uint64_t *out);
bool agent_msg_flag(const struct agent_msg *m, enum agent_attr tag);
/* Repeated strings in order; returns how many were found (<= max stored). */
unsigned agent_msg_strs(const struct agent_msg *m, enum agent_attr tag, const char **out,
			unsigned max);

/* IDENTITY message <-> record. put writes every public field (never the
 * token hash); get fills what the message carries and returns 0 or -EBADMSG
 * (missing name/uid/purpose/state, a value that does not fit the record). */
void agent_wire_put_identity(struct agent_wbuf *w, const struct agent_identity *id);
int agent_wire_get_identity(const struct agent_msg *m, struct agent_identity *id);

/* ERROR reply helper: ERRNO (positive) and a one-line message. */
void agent_wire_error(struct agent_wbuf *w, int err, const char *message);
