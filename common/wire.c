/* The wire codec (format in common/wire.h): one table of tags, one table of
 * message schemas, one parser used by both ends and by the writer's own
 * check. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/wire.h"

enum vtype { T_NONE = 0, T_STR, T_U64, T_FLAG };

#define MSG_HDR_LEN 4  /* u16 version, u16 type */
#define ATTR_HDR_LEN 4 /* u16 tag, u16 len */
#define U64_LEN 8
/* RUN's attributes that appear once: PURPOSE TTL ACTOR TASK FOR CWD RISK. */
#define RUN_SINGLE_ATTRS 7

static const struct {
	enum vtype type;
	uint16_t max; /* STR: bytes before the NUL */
} tags[AGENT_A__MAX] = {
	[AGENT_A_NAME] = { T_STR, AGENT_NAME_MAX },
	[AGENT_A_PURPOSE] = { T_STR, AGENT_PURPOSE_MAX },
	[AGENT_A_TTL] = { T_U64, 0 },
	[AGENT_A_ACTOR] = { T_STR, AGENT_ACTOR_MAX },
	[AGENT_A_TASK] = { T_STR, AGENT_TASK_MAX },
	[AGENT_A_FOR] = { T_STR, AGENT_NAME_MAX },
	[AGENT_A_REASON] = { T_STR, AGENT_REASON_MAX },
	[AGENT_A_ALL] = { T_FLAG, 0 },
	[AGENT_A_UID] = { T_U64, 0 },
	[AGENT_A_GID] = { T_U64, 0 },
	[AGENT_A_SUBJECT] = { T_STR, AGENT_NAME_MAX },
	[AGENT_A_CHAIN] = { T_STR, AGENT_NAME_MAX },
	[AGENT_A_PARENT] = { T_STR, AGENT_NAME_MAX },
	[AGENT_A_CREATED] = { T_U64, 0 },
	[AGENT_A_EXPIRES] = { T_U64, 0 },
	[AGENT_A_STATE] = { T_STR, AGENT_STATE_TEXT_MAX },
	[AGENT_A_RETIRE_REASON] = { T_STR, AGENT_RETIRE_REASON_TEXT_MAX },
	[AGENT_A_RETIRED_AT] = { T_U64, 0 },
	[AGENT_A_TOKEN] = { T_STR, AGENT_TOKEN_TEXT_MAX - 1 },
	[AGENT_A_ERRNO] = { T_U64, 0 },
	[AGENT_A_MESSAGE] = { T_STR, AGENT_MESSAGE_MAX },
	[AGENT_A_KILLED] = { T_U64, 0 },
	[AGENT_A_VERSION] = { T_STR, AGENT_VERSION_TEXT_MAX },
	[AGENT_A_LIVE] = { T_U64, 0 },
	[AGENT_A_UID_MIN] = { T_U64, 0 },
	[AGENT_A_UID_MAX] = { T_U64, 0 },
	[AGENT_A_QUARANTINED] = { T_U64, 0 },
	[AGENT_A_UPTIME] = { T_U64, 0 },
	[AGENT_A_DEPTH] = { T_U64, 0 },
	[AGENT_A_ACTOR_UID] = { T_U64, 0 },
	[AGENT_A_SERVICE] = { T_STR, AGENT_SERVICE_MAX },
	[AGENT_A_TTY] = { T_STR, AGENT_TTY_MAX },
	[AGENT_A_RHOST] = { T_STR, AGENT_RHOST_MAX },
	[AGENT_A_RUSER] = { T_STR, AGENT_RUSER_MAX },
	[AGENT_A_SESSION_ID] = { T_U64, 0 },
	[AGENT_A_SSH_KEY] = { T_STR, AGENT_SSH_KEY_MAX },
	[AGENT_A_ARGV] = { T_STR, AGENT_ARG_MAX },
	[AGENT_A_WAIT_STATUS] = { T_U64, 0 },
	[AGENT_A_CWD] = { T_STR, AGENT_PATH_MAX },
	[AGENT_A_HELD] = { T_U64, 0 },
	[AGENT_A_HELD_UIDS] = { T_STR, AGENT_HELD_TEXT_MAX },
	[AGENT_A_SWEEPING] = { T_U64, 0 },
	[AGENT_A_REAPING] = { T_U64, 0 },
	[AGENT_A_SURVIVORS] = { T_U64, 0 },
	[AGENT_A_SURVIVOR_UIDS] = { T_STR, AGENT_HELD_TEXT_MAX },
	[AGENT_A_COMMAND] = { T_STR, AGENT_COMMAND_MAX },
	[AGENT_A_REQUEST_ID] = { T_STR, AGENT_REQUEST_ID_LEN },
	[AGENT_A_STYLE] = { T_U64, 0 },
	[AGENT_A_TEXT] = { T_STR, AGENT_CONV_TEXT_MAX },
	[AGENT_A_PID] = { T_U64, 0 },
	[AGENT_A_RULE] = { T_STR, AGENT_RULE_TEXT_MAX },
	[AGENT_A_RUNAS] = { T_STR, AGENT_NAME_MAX },
	[AGENT_A_RISK] = { T_STR, AGENT_RISK_TEXT_MAX },
	[AGENT_A_APPROVALS] = { T_U64, 0 },
	[AGENT_A_APPROVER] = { T_STR, AGENT_NAME_MAX },
	[AGENT_A_ACTOR_VERIFIED] = { T_U64, 0 },
	[AGENT_A_ACTOR_NAME] = { T_STR, AGENT_NAME_MAX },
	[AGENT_A_SUDO_USED] = { T_U64, 0 },
};

/* Per message type: for each tag, 0 = not allowed, 1 = optional,
 * 2 = required; repeat = how many times a tag may appear (default 1). */
#define OPT 1
#define REQ 2
struct schema {
	enum agent_msg_type type;
	uint8_t use[AGENT_A__MAX];
	uint8_t repeat[AGENT_A__MAX];
};

static const struct schema schemas[] = {
	{ AGENT_MSG_CREATE,
	  { [AGENT_A_PURPOSE] = REQ,
	    [AGENT_A_TTL] = OPT,
	    [AGENT_A_ACTOR] = OPT,
	    [AGENT_A_TASK] = OPT,
	    [AGENT_A_FOR] = OPT,
	    [AGENT_A_SSH_KEY] = OPT,
	    [AGENT_A_RISK] = OPT },
	  { 0 } },
	{ AGENT_MSG_LIST, { [AGENT_A_ALL] = OPT }, { 0 } },
	{ AGENT_MSG_SHOW, { [AGENT_A_NAME] = REQ }, { 0 } },
	{ AGENT_MSG_REVOKE,
	  { [AGENT_A_NAME] = REQ, [AGENT_A_REASON] = OPT },
	  { [AGENT_A_NAME] = AGENT_REVOKE_NAMES_MAX } },
	{ AGENT_MSG_STATUS, { 0 }, { 0 } },
	{ AGENT_MSG_AUTH,
	  { [AGENT_A_NAME] = REQ,
	    [AGENT_A_TOKEN] = REQ,
	    [AGENT_A_SERVICE] = REQ,
	    [AGENT_A_TTY] = OPT,
	    [AGENT_A_RHOST] = OPT,
	    [AGENT_A_RUSER] = OPT,
	    [AGENT_A_COMMAND] = OPT,
	    [AGENT_A_RUNAS] = OPT,
	    [AGENT_A_REQUEST_ID] = OPT },
	  { 0 } },
	{ AGENT_MSG_ACCOUNT,
	  { [AGENT_A_NAME] = REQ,
	    [AGENT_A_SERVICE] = REQ,
	    [AGENT_A_TTY] = OPT,
	    [AGENT_A_RHOST] = OPT,
	    [AGENT_A_RUSER] = OPT,
	    [AGENT_A_COMMAND] = OPT,
	    [AGENT_A_RUNAS] = OPT,
	    [AGENT_A_REQUEST_ID] = OPT },
	  { 0 } },
	{ AGENT_MSG_SESSION_OPEN,
	  { [AGENT_A_NAME] = REQ,
	    [AGENT_A_SERVICE] = REQ,
	    [AGENT_A_TTY] = OPT,
	    [AGENT_A_RHOST] = OPT,
	    [AGENT_A_RUSER] = OPT,
	    [AGENT_A_COMMAND] = OPT,
	    [AGENT_A_RUNAS] = OPT,
	    [AGENT_A_REQUEST_ID] = OPT },
	  { 0 } },
	{ AGENT_MSG_SESSION_CLOSE, { [AGENT_A_NAME] = REQ, [AGENT_A_SESSION_ID] = REQ }, { 0 } },
	{ AGENT_MSG_AUTHORIZED_KEYS, { [AGENT_A_NAME] = REQ }, { 0 } },
	{ AGENT_MSG_RUN,
	  { [AGENT_A_PURPOSE] = REQ,
	    [AGENT_A_TTL] = OPT,
	    [AGENT_A_ACTOR] = OPT,
	    [AGENT_A_TASK] = OPT,
	    [AGENT_A_FOR] = OPT,
	    [AGENT_A_ARGV] = REQ,
	    [AGENT_A_CWD] = OPT,
	    [AGENT_A_RISK] = OPT },
	  { [AGENT_A_ARGV] = AGENT_ARGV_MAX } },
	{ AGENT_MSG_OK,
	  { [AGENT_A_MESSAGE] = OPT,
	    [AGENT_A_KILLED] = OPT,
	    [AGENT_A_SSH_KEY] = OPT,
	    [AGENT_A_EXPIRES] = OPT },
	  { 0 } },
	{ AGENT_MSG_ERROR, { [AGENT_A_ERRNO] = REQ, [AGENT_A_MESSAGE] = REQ }, { 0 } },
	{ AGENT_MSG_IDENTITY,
	  { [AGENT_A_NAME] = REQ,
	    [AGENT_A_UID] = REQ,
	    [AGENT_A_PURPOSE] = REQ,
	    [AGENT_A_STATE] = REQ,
	    [AGENT_A_GID] = OPT,
	    [AGENT_A_SUBJECT] = OPT,
	    [AGENT_A_CHAIN] = OPT,
	    [AGENT_A_PARENT] = OPT,
	    [AGENT_A_ACTOR] = OPT,
	    [AGENT_A_TASK] = OPT,
	    [AGENT_A_CREATED] = OPT,
	    [AGENT_A_EXPIRES] = OPT,
	    [AGENT_A_RETIRE_REASON] = OPT,
	    [AGENT_A_RETIRED_AT] = OPT,
	    [AGENT_A_TOKEN] = OPT,
	    [AGENT_A_KILLED] = OPT,
	    [AGENT_A_DEPTH] = OPT,
	    [AGENT_A_ACTOR_UID] = OPT,
	    [AGENT_A_REASON] = OPT,
	    [AGENT_A_RISK] = OPT,
	    [AGENT_A_ACTOR_VERIFIED] = OPT,
	    [AGENT_A_ACTOR_NAME] = OPT,
	    [AGENT_A_SUDO_USED] = OPT },
	  { [AGENT_A_CHAIN] = AGENT_CHAIN_MAX } },
	{ AGENT_MSG_END, { 0 }, { 0 } },
	{ AGENT_MSG_STATUS_REPLY,
	  { [AGENT_A_VERSION] = OPT,
	    [AGENT_A_LIVE] = OPT,
	    [AGENT_A_UID_MIN] = OPT,
	    [AGENT_A_UID_MAX] = OPT,
	    [AGENT_A_QUARANTINED] = OPT,
	    [AGENT_A_UPTIME] = OPT,
	    [AGENT_A_HELD] = OPT,
	    [AGENT_A_HELD_UIDS] = OPT,
	    [AGENT_A_SWEEPING] = OPT,
	    [AGENT_A_REAPING] = OPT,
	    [AGENT_A_SURVIVORS] = OPT,
	    [AGENT_A_SURVIVOR_UIDS] = OPT },
	  { 0 } },
	{ AGENT_MSG_SESSION,
	  { [AGENT_A_NAME] = REQ,
	    [AGENT_A_PURPOSE] = REQ,
	    [AGENT_A_EXPIRES] = REQ,
	    [AGENT_A_SESSION_ID] = REQ,
	    [AGENT_A_SUBJECT] = OPT,
	    [AGENT_A_RISK] = OPT },
	  { 0 } },
	{ AGENT_MSG_EXIT, { [AGENT_A_WAIT_STATUS] = REQ, [AGENT_A_MESSAGE] = OPT }, { 0 } },
	{ AGENT_MSG_PENDING, { 0 }, { 0 } },
	{ AGENT_MSG_APPROVE, { [AGENT_A_REQUEST_ID] = REQ, [AGENT_A_REASON] = OPT }, { 0 } },
	{ AGENT_MSG_DENY, { [AGENT_A_REQUEST_ID] = REQ, [AGENT_A_REASON] = OPT }, { 0 } },
	{ AGENT_MSG_PROMPT_REPLY, { [AGENT_A_TEXT] = OPT }, { 0 } },
	{ AGENT_MSG_STEPUP,
	  { [AGENT_A_REQUEST_ID] = REQ, [AGENT_A_EXPIRES] = REQ, [AGENT_A_MESSAGE] = REQ },
	  { 0 } },
	{ AGENT_MSG_PROMPT, { [AGENT_A_STYLE] = REQ, [AGENT_A_TEXT] = OPT }, { 0 } },
	{ AGENT_MSG_REQUEST,
	  { [AGENT_A_REQUEST_ID] = REQ,
	    [AGENT_A_NAME] = REQ,
	    [AGENT_A_UID] = REQ,
	    [AGENT_A_PURPOSE] = REQ,
	    [AGENT_A_SUBJECT] = OPT,
	    [AGENT_A_CHAIN] = OPT,
	    [AGENT_A_SERVICE] = REQ,
	    [AGENT_A_COMMAND] = OPT,
	    [AGENT_A_TTY] = OPT,
	    [AGENT_A_RHOST] = OPT,
	    [AGENT_A_RUSER] = OPT,
	    [AGENT_A_PID] = OPT,
	    [AGENT_A_CREATED] = REQ,
	    [AGENT_A_EXPIRES] = REQ,
	    [AGENT_A_RULE] = OPT,
	    [AGENT_A_RUNAS] = OPT,
	    [AGENT_A_RISK] = OPT,
	    [AGENT_A_APPROVALS] = OPT,
	    [AGENT_A_APPROVER] = OPT },
	  { [AGENT_A_CHAIN] = AGENT_CHAIN_MAX, [AGENT_A_APPROVER] = 2 } },
};

/* RUN: its single attributes once each, ARGV up to its repeat. */
_Static_assert(AGENT_WIRE_MAX_ATTRS >= RUN_SINGLE_ATTRS + AGENT_ARGV_MAX,
	       "a RUN with AGENT_ARGV_MAX arguments must fit in struct agent_msg");

static const struct schema *schema_of(unsigned type)
{
	for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++)
		if ((unsigned)schemas[i].type == type)
			return &schemas[i];
	return NULL;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

void agent_wire_begin(struct agent_wbuf *w, enum agent_msg_type type)
{
	put16(w->data, AGENT_WIRE_VERSION);
	put16(w->data + 2, (uint16_t)type);
	w->len = MSG_HDR_LEN;
	w->error = 0;
}

static void put_attr(struct agent_wbuf *w, enum agent_attr tag, const void *val, size_t len)
{
	if (w->error)
		return;
	if (len > UINT16_MAX || len + ATTR_HDR_LEN > sizeof(w->data) - w->len) {
		w->error = -EMSGSIZE;
		return;
	}
	put16(w->data + w->len, (uint16_t)tag);
	put16(w->data + w->len + 2, (uint16_t)len);
	if (len)
		memcpy(w->data + w->len + ATTR_HDR_LEN, val, len);
	w->len += ATTR_HDR_LEN + len;
}

void agent_wire_str(struct agent_wbuf *w, enum agent_attr tag, const char *s)
{
	if ((unsigned)tag >= AGENT_A__MAX || tags[tag].type != T_STR || !s ||
	    strlen(s) > tags[tag].max) {
		if (!w->error)
			w->error = -EINVAL;
		return;
	}
	put_attr(w, tag, s, strlen(s) + 1);
}

void agent_wire_u64(struct agent_wbuf *w, enum agent_attr tag, uint64_t v)
{
	uint8_t b[U64_LEN];

	if ((unsigned)tag >= AGENT_A__MAX || tags[tag].type != T_U64) {
		if (!w->error)
			w->error = -EINVAL;
		return;
	}
	for (int i = 0; i < U64_LEN; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_attr(w, tag, b, U64_LEN);
}

void agent_wire_flag(struct agent_wbuf *w, enum agent_attr tag)
{
	if ((unsigned)tag >= AGENT_A__MAX || tags[tag].type != T_FLAG) {
		if (!w->error)
			w->error = -EINVAL;
		return;
	}
	put_attr(w, tag, NULL, 0);
}

int agent_wire_finish(struct agent_wbuf *w)
{
	struct agent_msg m;

	if (w->error)
		return w->error;
	return agent_wire_parse(&m, w->data, w->len) < 0 ? -EINVAL : 0;
}

void agent_wire_wipe(struct agent_wbuf *w)
{
	volatile uint8_t *p = w->data;

	for (size_t i = 0; i < sizeof(w->data); i++)
		p[i] = 0;
	w->len = 0;
}

int agent_wire_parse(struct agent_msg *m, const uint8_t *buf, size_t len)
{
	uint8_t seen[AGENT_A__MAX] = { 0 };
	const struct schema *s;
	size_t off = MSG_HDR_LEN;

	m->nattrs = 0;
	if (!buf || len < MSG_HDR_LEN || len > AGENT_WIRE_MAX || get16(buf) != AGENT_WIRE_VERSION)
		return -EBADMSG;
	s = schema_of(get16(buf + 2));
	if (!s)
		return -EBADMSG;
	m->type = s->type;
	while (off < len) {
		uint16_t tag, alen;
		const uint8_t *val;

		if (len - off < ATTR_HDR_LEN)
			return -EBADMSG;
		tag = get16(buf + off);
		alen = get16(buf + off + 2);
		off += ATTR_HDR_LEN;
		if (alen > len - off || tag == 0 || tag >= AGENT_A__MAX || !s->use[tag])
			return -EBADMSG;
		val = buf + off;
		switch (tags[tag].type) {
		case T_STR:
			if (alen < 1 || val[alen - 1] != '\0' || alen - 1u > tags[tag].max ||
			    memchr(val, '\0', alen - 1u))
				return -EBADMSG;
			break;
		case T_U64:
			if (alen != U64_LEN)
				return -EBADMSG;
			break;
		case T_FLAG:
			if (alen != 0)
				return -EBADMSG;
			break;
		default:
			return -EBADMSG;
		}
		if (++seen[tag] > (s->repeat[tag] ? s->repeat[tag] : 1))
			return -EBADMSG;
		if (m->nattrs >= AGENT_WIRE_MAX_ATTRS)
			return -EBADMSG;
		m->attrs[m->nattrs].tag = tag;
		m->attrs[m->nattrs].len = alen;
		m->attrs[m->nattrs].val = val;
		m->nattrs++;
		off += alen;
	}
	for (unsigned t = 1; t < AGENT_A__MAX; t++)
		if (s->use[t] == REQ && !seen[t])
			return -EBADMSG;
	return 0;
}

static const struct agent_attr_view *find(const struct agent_msg *m, enum agent_attr tag)
{
	for (unsigned i = 0; i < m->nattrs; i++)
		if (m->attrs[i].tag == tag)
			return &m->attrs[i];
	return NULL;
}

const char *agent_msg_str(const struct agent_msg *m, enum agent_attr tag)
{
	const struct agent_attr_view *a = find(m, tag);

	return a && (unsigned)tag < AGENT_A__MAX && tags[tag].type == T_STR ? (const char *)a->val
									    : NULL;
}

bool agent_msg_u64(const struct agent_msg *m, enum agent_attr tag, uint64_t *out)
{
	const struct agent_attr_view *a = find(m, tag);
	uint64_t v = 0;

	if (!a || a->len != U64_LEN)
		return false;
	for (int i = U64_LEN - 1; i >= 0; i--)
		v = v << 8 | a->val[i];
	*out = v;
	return true;
}

bool agent_msg_flag(const struct agent_msg *m, enum agent_attr tag)
{
	const struct agent_attr_view *a = find(m, tag);

	return a && a->len == 0;
}

unsigned agent_msg_strs(const struct agent_msg *m, enum agent_attr tag, const char **out,
			unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < m->nattrs; i++)
		if (m->attrs[i].tag == tag) {
			if (n < max)
				out[n] = (const char *)m->attrs[i].val;
			n++;
		}
	return n;
}

void agent_wire_put_identity(struct agent_wbuf *w, const struct agent_identity *id)
{
	agent_wire_str(w, AGENT_A_NAME, id->name);
	agent_wire_u64(w, AGENT_A_UID, id->uid);
	agent_wire_u64(w, AGENT_A_GID, id->uid);
	agent_wire_str(w, AGENT_A_PURPOSE, id->purpose);
	agent_wire_str(w, AGENT_A_STATE, agent_state_str(id->state));
	if (id->subject[0])
		agent_wire_str(w, AGENT_A_SUBJECT, id->subject);
	for (unsigned i = 0; i < id->chain_len && i < AGENT_CHAIN_MAX; i++)
		agent_wire_str(w, AGENT_A_CHAIN, id->chain[i]);
	if (id->parent[0])
		agent_wire_str(w, AGENT_A_PARENT, id->parent);
	if (id->actor[0])
		agent_wire_str(w, AGENT_A_ACTOR, id->actor);
	if (id->task[0])
		agent_wire_str(w, AGENT_A_TASK, id->task);
	agent_wire_u64(w, AGENT_A_CREATED, (uint64_t)id->created);
	agent_wire_u64(w, AGENT_A_EXPIRES, (uint64_t)id->expires);
	agent_wire_u64(w, AGENT_A_DEPTH, id->depth);
	agent_wire_u64(w, AGENT_A_ACTOR_UID, id->creator_uid);
	agent_wire_str(w, AGENT_A_RISK, agent_risk_str(id->risk));
	agent_wire_u64(w, AGENT_A_ACTOR_VERIFIED, id->actor_verified);
	if (id->actor_name[0])
		agent_wire_str(w, AGENT_A_ACTOR_NAME, id->actor_name);
	agent_wire_u64(w, AGENT_A_SUDO_USED, id->sudo_used);
	if (id->state == AGENT_STATE_RETIRED) {
		agent_wire_str(w, AGENT_A_RETIRE_REASON,
			       agent_retire_reason_str(id->retire_reason));
		agent_wire_u64(w, AGENT_A_RETIRED_AT, (uint64_t)id->retired_at);
		agent_wire_u64(w, AGENT_A_KILLED, id->killed);
		if (id->retire_text[0])
			agent_wire_str(w, AGENT_A_REASON, id->retire_text);
	}
}

static int copy(char *dst, size_t cap, const char *src)
{
	if (!src)
		return 0;
	if (strlen(src) >= cap)
		return -EBADMSG;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

int agent_wire_get_identity(const struct agent_msg *m, struct agent_identity *id)
{
	const char *chain[AGENT_CHAIN_MAX];
	const char *state = agent_msg_str(m, AGENT_A_STATE);
	const char *reason = agent_msg_str(m, AGENT_A_RETIRE_REASON);
	const char *risk = agent_msg_str(m, AGENT_A_RISK);
	uint64_t v;
	unsigned n;

	memset(id, 0, sizeof(*id));
	if (m->type != AGENT_MSG_IDENTITY || !state || !agent_msg_u64(m, AGENT_A_UID, &v) ||
	    v > UINT32_MAX)
		return -EBADMSG;
	id->uid = (uint32_t)v;
	if (copy(id->name, sizeof(id->name), agent_msg_str(m, AGENT_A_NAME)) < 0 ||
	    copy(id->purpose, sizeof(id->purpose), agent_msg_str(m, AGENT_A_PURPOSE)) < 0 ||
	    copy(id->subject, sizeof(id->subject), agent_msg_str(m, AGENT_A_SUBJECT)) < 0 ||
	    copy(id->parent, sizeof(id->parent), agent_msg_str(m, AGENT_A_PARENT)) < 0 ||
	    copy(id->actor, sizeof(id->actor), agent_msg_str(m, AGENT_A_ACTOR)) < 0 ||
	    copy(id->task, sizeof(id->task), agent_msg_str(m, AGENT_A_TASK)) < 0 ||
	    copy(id->retire_text, sizeof(id->retire_text), agent_msg_str(m, AGENT_A_REASON)) < 0 ||
	    copy(id->actor_name, sizeof(id->actor_name), agent_msg_str(m, AGENT_A_ACTOR_NAME)) < 0)
		return -EBADMSG;
	if (risk && agent_risk_parse(risk, &id->risk) < 0)
		return -EBADMSG;
	if (strcmp(state, "live") == 0)
		id->state = AGENT_STATE_LIVE;
	else if (strcmp(state, "retired") == 0)
		id->state = AGENT_STATE_RETIRED;
	else
		return -EBADMSG;
	if (reason && agent_retire_reason_parse(reason, &id->retire_reason) < 0)
		return -EBADMSG;
	n = agent_msg_strs(m, AGENT_A_CHAIN, chain, AGENT_CHAIN_MAX);
	if (n > AGENT_CHAIN_MAX)
		return -EBADMSG;
	for (unsigned i = 0; i < n; i++)
		if (copy(id->chain[i], sizeof(id->chain[i]), chain[i]) < 0)
			return -EBADMSG;
	id->chain_len = n;
	if (agent_msg_u64(m, AGENT_A_CREATED, &v))
		id->created = (int64_t)v;
	if (agent_msg_u64(m, AGENT_A_EXPIRES, &v))
		id->expires = (int64_t)v;
	if (agent_msg_u64(m, AGENT_A_RETIRED_AT, &v))
		id->retired_at = (int64_t)v;
	if (agent_msg_u64(m, AGENT_A_DEPTH, &v) && v <= AGENT_CHAIN_MAX)
		id->depth = (unsigned)v;
	if (agent_msg_u64(m, AGENT_A_ACTOR_UID, &v) && v <= UINT32_MAX)
		id->creator_uid = (uint32_t)v;
	if (agent_msg_u64(m, AGENT_A_KILLED, &v) && v <= UINT32_MAX)
		id->killed = (uint32_t)v;
	if (agent_msg_u64(m, AGENT_A_ACTOR_VERIFIED, &v))
		id->actor_verified = v != 0;
	if (agent_msg_u64(m, AGENT_A_SUDO_USED, &v) && v <= UINT32_MAX)
		id->sudo_used = (uint32_t)v;
	return 0;
}

void agent_wire_error(struct agent_wbuf *w, int err, const char *message)
{
	char msg[AGENT_MESSAGE_MAX + 1];

	snprintf(msg, sizeof(msg), "%s", message ? message : "error");
	agent_wire_u64(w, AGENT_A_ERRNO, (uint64_t)(err < 0 ? -err : err));
	agent_wire_str(w, AGENT_A_MESSAGE, msg);
}
