/* Limits shared by agentd, agentctl and the modules.
 *
 * Every string a caller can make agentd hold has a maximum here; the wire
 * codec, the store and the snapshot all enforce the same numbers. String
 * maxima count bytes without the NUL. */
#pragma once

#define AGENT_NAME_MAX 32    /* user and identity names, bytes without NUL */
#define AGENT_PREFIX_MAX 16  /* name_prefix in agentd.conf */
#define AGENT_SUFFIX_LEN 6   /* random part of an identity name */
#define AGENT_PURPOSE_MAX 32 /* purpose names */
#define AGENT_ACTOR_MAX 128  /* --actor label */
#define AGENT_TASK_MAX 512   /* --task text */
#define AGENT_REASON_MAX 256 /* --reason text */
#define AGENT_PATH_MAX 256   /* shell, home base */
#define AGENT_CHAIN_MAX 8    /* hops in a delegation chain */
#define AGENT_GROUPS_MAX 32  /* supplementary groups of a purpose */
#define AGENT_TOKEN_BYTES 32 /* raw token */
#define AGENT_TOKEN_HASH_BYTES 32
#define AGENT_TOKEN_TEXT_MAX 64 /* base64url text of a token, with NUL */
#define AGENT_SERVICE_MAX 64    /* PAM service name */
#define AGENT_TTY_MAX 64        /* PAM_TTY as carried and logged */
#define AGENT_RHOST_MAX 255     /* PAM_RHOST (a DNS name at most) */
#define AGENT_RUSER_MAX 64      /* PAM_RUSER */
#define AGENT_SSH_KEY_MAX 4096  /* one public key line (RSA 16384 fits) */
#define AGENT_ARG_MAX 2048      /* one argument of agentctl run */
#define AGENT_ARGV_MAX 64       /* arguments of agentctl run (the datagram bounds the sum) */
#define AGENT_COMMAND_MAX 1024  /* a sudo command line (SUDO_COMMAND); longer is unknown */
#define AGENT_REQUEST_ID_LEN 6  /* step-up request ids, e.g. "k7f3qx" */
#define AGENT_CONV_TEXT_MAX 512 /* one PAM prompt, message or answer relayed */

/* Identities one REVOKE may name: revoked together, in one transaction. */
#define AGENT_REVOKE_NAMES_MAX 64
/* The policy rule that decided, as logged and carried: at most
 * "purpose P: sudo_commands approve \"RULE\"" with a 256-byte RULE. */
#define AGENT_RULE_TEXT_MAX 383
#define AGENT_MAX_TTL_SEC (366LL * 24 * 3600)

/* The wire protocol (format in common/wire.h). */
#define AGENT_WIRE_MAX 8192 /* bytes in one datagram; longer ends the connection */
/* Attributes one message may carry: at least the largest schema allows,
 * a RUN with every optional field and AGENT_ARGV_MAX arguments (checked in
 * wire.c). */
#define AGENT_WIRE_MAX_ATTRS 80
#define AGENT_MESSAGE_MAX 512           /* the text of an OK, ERROR, EXIT or STEPUP reply */
#define AGENT_STATE_TEXT_MAX 16         /* an identity's state as carried: "live", "retired" */
#define AGENT_RETIRE_REASON_TEXT_MAX 32 /* a retirement reason as carried: "expired", ... */
#define AGENT_VERSION_TEXT_MAX 64       /* agentd's version in a STATUS reply */
#define AGENT_HELD_SHOWN_MAX 16         /* held uids listed in a STATUS reply */
#define AGENT_HELD_TEXT_MAX (AGENT_HELD_SHOWN_MAX * 11) /* "UID UID ...", decimal */
