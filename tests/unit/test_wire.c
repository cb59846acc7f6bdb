/* Unit tests: the wire codec (every rejection rule) and the client's
 * bounded connect/send/recv. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/client.h"
#include "common/wire.h"

/* Raw message builder for malformed inputs. */
struct raw {
	uint8_t b[AGENT_WIRE_MAX + 64];
	size_t n;
};

static void raw16(struct raw *r, uint16_t v)
{
	r->b[r->n++] = (uint8_t)v;
	r->b[r->n++] = (uint8_t)(v >> 8);
}

static void raw_hdr(struct raw *r, uint16_t version, uint16_t type)
{
	r->n = 0;
	raw16(r, version);
	raw16(r, type);
}

static void raw_attr(struct raw *r, uint16_t tag, const void *v, uint16_t len)
{
	raw16(r, tag);
	raw16(r, len);
	memcpy(r->b + r->n, v, len);
	r->n += len;
}

static int parse_raw(const struct raw *r)
{
	struct agent_msg m;

	return agent_wire_parse(&m, r->b, r->n);
}

static void test_roundtrip_create(void **state)
{
	struct agent_wbuf w;
	struct agent_msg m;
	uint64_t ttl = 0;

	(void)state;
	agent_wire_begin(&w, AGENT_MSG_CREATE);
	agent_wire_str(&w, AGENT_A_PURPOSE, "ci");
	agent_wire_u64(&w, AGENT_A_TTL, 3600);
	agent_wire_str(&w, AGENT_A_ACTOR, "builder/2.1");
	agent_wire_str(&w, AGENT_A_FOR, "alice");
	assert_int_equal(agent_wire_finish(&w), 0);
	assert_int_equal(agent_wire_parse(&m, w.data, w.len), 0);
	assert_int_equal(m.type, AGENT_MSG_CREATE);
	assert_string_equal(agent_msg_str(&m, AGENT_A_PURPOSE), "ci");
	assert_true(agent_msg_u64(&m, AGENT_A_TTL, &ttl));
	assert_int_equal(ttl, 3600);
	assert_string_equal(agent_msg_str(&m, AGENT_A_FOR), "alice");
	assert_null(agent_msg_str(&m, AGENT_A_TASK));
	assert_false(agent_msg_flag(&m, AGENT_A_ALL));
}

static void test_roundtrip_all_types(void **state)
{
	struct agent_wbuf w;
	struct agent_msg m;

	(void)state;
	agent_wire_begin(&w, AGENT_MSG_LIST);
	agent_wire_flag(&w, AGENT_A_ALL);
	assert_int_equal(agent_wire_finish(&w), 0);
	assert_int_equal(agent_wire_parse(&m, w.data, w.len), 0);
	assert_true(agent_msg_flag(&m, AGENT_A_ALL));

	agent_wire_begin(&w, AGENT_MSG_SHOW);
	agent_wire_str(&w, AGENT_A_NAME, "agent-abc123");
	assert_int_equal(agent_wire_finish(&w), 0);
	agent_wire_begin(&w, AGENT_MSG_REVOKE);
	agent_wire_str(&w, AGENT_A_NAME, "agent-abc123");
	agent_wire_str(&w, AGENT_A_REASON, "done");
	assert_int_equal(agent_wire_finish(&w), 0);
	/* a REVOKE names up to AGENT_REVOKE_NAMES_MAX identities, no more */
	for (int extra = 0; extra <= 1; extra++) {
		const char *got[AGENT_REVOKE_NAMES_MAX + 1];

		agent_wire_begin(&w, AGENT_MSG_REVOKE);
		for (int i = 0; i < AGENT_REVOKE_NAMES_MAX + extra; i++)
			agent_wire_str(&w, AGENT_A_NAME, "agent-abc123");
		if (extra) {
			assert_int_not_equal(agent_wire_finish(&w), 0);
			continue;
		}
		assert_int_equal(agent_wire_finish(&w), 0);
		assert_int_equal(agent_wire_parse(&m, w.data, w.len), 0);
		assert_int_equal(agent_msg_strs(&m, AGENT_A_NAME, got, AGENT_REVOKE_NAMES_MAX + 1),
				 AGENT_REVOKE_NAMES_MAX);
	}
	agent_wire_begin(&w, AGENT_MSG_STATUS);
	assert_int_equal(agent_wire_finish(&w), 0);
	agent_wire_begin(&w, AGENT_MSG_END);
	assert_int_equal(agent_wire_finish(&w), 0);
	agent_wire_begin(&w, AGENT_MSG_OK);
	assert_int_equal(agent_wire_finish(&w), 0);
	agent_wire_begin(&w, AGENT_MSG_STATUS_REPLY);
	agent_wire_str(&w, AGENT_A_VERSION, "0.1.0");
	agent_wire_u64(&w, AGENT_A_LIVE, 3);
	assert_int_equal(agent_wire_finish(&w), 0);

	agent_wire_begin(&w, AGENT_MSG_ERROR);
	agent_wire_error(&w, -EPERM, "no delegator rule");
	assert_int_equal(agent_wire_finish(&w), 0);
	assert_int_equal(agent_wire_parse(&m, w.data, w.len), 0);
	uint64_t e = 0;
	assert_true(agent_msg_u64(&m, AGENT_A_ERRNO, &e));
	assert_int_equal(e, EPERM);
	assert_string_equal(agent_msg_str(&m, AGENT_A_MESSAGE), "no delegator rule");

	/* required attributes are enforced on the writing side too */
	agent_wire_begin(&w, AGENT_MSG_SHOW);
	assert_int_equal(agent_wire_finish(&w), -EINVAL);
	agent_wire_begin(&w, AGENT_MSG_SHOW);
	agent_wire_str(&w, AGENT_A_NAME, "x");
	agent_wire_str(&w, AGENT_A_PURPOSE, "ci"); /* not allowed in SHOW */
	assert_int_equal(agent_wire_finish(&w), -EINVAL);
}

static void test_identity_roundtrip(void **state)
{
	struct agent_identity a = { 0 }, b;
	struct agent_wbuf w;
	struct agent_msg m;

	(void)state;
	strcpy(a.name, "agent-k7f3q2");
	a.uid = 1879048193;
	strcpy(a.purpose, "ci");
	strcpy(a.subject, "alice");
	strcpy(a.chain[0], "alice");
	strcpy(a.chain[1], "orchestrator");
	strcpy(a.chain[2], "agent-parent");
	a.chain_len = 3;
	strcpy(a.parent, "agent-parent");
	a.depth = 2;
	a.creator_uid = 1879048192;
	strcpy(a.actor, "builder/2.1");
	strcpy(a.task, "nightly \"tests\"");
	a.created = 1795360000;
	a.expires = 1795363600;
	a.state = AGENT_STATE_RETIRED;
	a.retire_reason = AGENT_RETIRE_PARENT;
	a.retired_at = 1795361000;
	strcpy(a.retire_text, "agent-parent");
	a.killed = 4;
	a.risk = AGENT_RISK_HIGH;
	a.actor_verified = true;
	strcpy(a.actor_name, "builder");
	a.sudo_used = 3;
	memset(a.token_hash, 0xab, sizeof(a.token_hash));

	agent_wire_begin(&w, AGENT_MSG_IDENTITY);
	agent_wire_put_identity(&w, &a);
	assert_int_equal(agent_wire_finish(&w), 0);
	assert_null(memmem(w.data, w.len, a.token_hash, 8)); /* never the hash */
	assert_int_equal(agent_wire_parse(&m, w.data, w.len), 0);
	assert_int_equal(agent_wire_get_identity(&m, &b), 0);
	assert_string_equal(b.name, a.name);
	assert_int_equal(b.uid, a.uid);
	assert_string_equal(b.subject, "alice");
	assert_int_equal(b.chain_len, 3);
	assert_string_equal(b.chain[2], "agent-parent");
	assert_string_equal(b.parent, "agent-parent");
	assert_int_equal(b.depth, 2);
	assert_string_equal(b.task, a.task);
	assert_int_equal(b.expires, a.expires);
	assert_int_equal(b.state, AGENT_STATE_RETIRED);
	assert_int_equal(b.retire_reason, AGENT_RETIRE_PARENT);
	assert_int_equal(b.killed, 4);
	assert_int_equal(b.risk, AGENT_RISK_HIGH);
	assert_true(b.actor_verified);
	assert_string_equal(b.actor_name, "builder");
	assert_int_equal(b.sudo_used, 3);

	/* an unknown risk level is refused */
	agent_wire_begin(&w, AGENT_MSG_IDENTITY);
	agent_wire_str(&w, AGENT_A_NAME, "agent-k7f3q2");
	agent_wire_u64(&w, AGENT_A_UID, 1879048193);
	agent_wire_str(&w, AGENT_A_PURPOSE, "ci");
	agent_wire_str(&w, AGENT_A_STATE, "live");
	agent_wire_str(&w, AGENT_A_RISK, "severe");
	assert_int_equal(agent_wire_finish(&w), 0);
	assert_int_equal(agent_wire_parse(&m, w.data, w.len), 0);
	assert_int_equal(agent_wire_get_identity(&m, &b), -EBADMSG);
	/* a risk longer than "critical" is no message */
	agent_wire_begin(&w, AGENT_MSG_CREATE);
	agent_wire_str(&w, AGENT_A_PURPOSE, "ci");
	agent_wire_str(&w, AGENT_A_RISK, "criticalx");
	assert_int_equal(agent_wire_finish(&w), -EINVAL);
	/* a REQUEST names at most two approvers */
	agent_wire_begin(&w, AGENT_MSG_REQUEST);
	agent_wire_str(&w, AGENT_A_REQUEST_ID, "abcdef");
	agent_wire_str(&w, AGENT_A_NAME, "agent-k7f3q2");
	agent_wire_u64(&w, AGENT_A_UID, 1879048193);
	agent_wire_str(&w, AGENT_A_PURPOSE, "ci");
	agent_wire_str(&w, AGENT_A_SERVICE, "sudo");
	agent_wire_u64(&w, AGENT_A_CREATED, 1);
	agent_wire_u64(&w, AGENT_A_EXPIRES, 2);
	agent_wire_str(&w, AGENT_A_RISK, "critical");
	agent_wire_u64(&w, AGENT_A_APPROVALS, 2);
	agent_wire_str(&w, AGENT_A_APPROVER, "bob");
	agent_wire_str(&w, AGENT_A_APPROVER, "carol");
	assert_int_equal(agent_wire_finish(&w), 0);
	assert_int_equal(agent_wire_parse(&m, w.data, w.len), 0);
	agent_wire_str(&w, AGENT_A_APPROVER, "dave");
	assert_int_equal(agent_wire_finish(&w), -EINVAL);

	/* a message of another type is not an identity */
	agent_wire_begin(&w, AGENT_MSG_END);
	agent_wire_finish(&w);
	agent_wire_parse(&m, w.data, w.len);
	assert_int_equal(agent_wire_get_identity(&m, &b), -EBADMSG);
}

static void test_parse_rejects(void **state)
{
	struct raw r;
	uint8_t u64[8] = { 0 };

	(void)state;
	r.n = 3;
	memset(r.b, 1, 3);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* truncated header */
	raw_hdr(&r, 2, AGENT_MSG_STATUS);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* unknown version */
	raw_hdr(&r, 1, 77);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* unknown type */
	raw_hdr(&r, 1, AGENT_MSG_STATUS);
	assert_int_equal(parse_raw(&r), 0);
	raw_attr(&r, 999, "x", 1);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* unknown tag */
	raw_hdr(&r, 1, AGENT_MSG_STATUS);
	raw_attr(&r, AGENT_A_NAME, "x", 2);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* tag not allowed for type */
	raw_hdr(&r, 1, AGENT_MSG_SHOW);
	raw_attr(&r, AGENT_A_NAME, "abc", 3);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* string without NUL */
	raw_hdr(&r, 1, AGENT_MSG_SHOW);
	raw_attr(&r, AGENT_A_NAME, "a\0c", 4);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* inner NUL */
	raw_hdr(&r, 1, AGENT_MSG_SHOW);
	raw_attr(&r, AGENT_A_NAME, "", 0);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* empty STR value */
	char big[64];
	memset(big, 'a', sizeof(big));
	big[33] = '\0';
	raw_hdr(&r, 1, AGENT_MSG_SHOW);
	raw_attr(&r, AGENT_A_NAME, big, 34);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* over the name maximum */
	raw_hdr(&r, 1, AGENT_MSG_CREATE);
	raw_attr(&r, AGENT_A_PURPOSE, "ci", 3);
	raw_attr(&r, AGENT_A_TTL, u64, 4);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* U64 of the wrong length */
	raw_hdr(&r, 1, AGENT_MSG_LIST);
	raw_attr(&r, AGENT_A_ALL, "x", 1);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* FLAG with a value */
	raw_hdr(&r, 1, AGENT_MSG_CREATE);
	raw_attr(&r, AGENT_A_PURPOSE, "ci", 3);
	raw_attr(&r, AGENT_A_PURPOSE, "ci", 3);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* duplicate */
	raw_hdr(&r, 1, AGENT_MSG_IDENTITY);
	raw_attr(&r, AGENT_A_NAME, "n", 2);
	raw_attr(&r, AGENT_A_UID, u64, 8);
	raw_attr(&r, AGENT_A_PURPOSE, "ci", 3);
	raw_attr(&r, AGENT_A_STATE, "live", 5);
	for (int i = 0; i < AGENT_CHAIN_MAX; i++)
		raw_attr(&r, AGENT_A_CHAIN, "x", 2);
	assert_int_equal(parse_raw(&r), 0);
	raw_attr(&r, AGENT_A_CHAIN, "x", 2);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* too many repeats */
	raw_hdr(&r, 1, AGENT_MSG_CREATE);
	raw_attr(&r, AGENT_A_TTL, u64, 8);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* required PURPOSE missing */
	raw_hdr(&r, 1, AGENT_MSG_SHOW);
	raw_attr(&r, AGENT_A_NAME, "x", 2);
	r.b[r.n++] = 0;
	assert_int_equal(parse_raw(&r), -EBADMSG); /* trailing byte */
	raw_hdr(&r, 1, AGENT_MSG_SHOW);
	raw16(&r, AGENT_A_NAME);
	raw16(&r, 50);
	assert_int_equal(parse_raw(&r), -EBADMSG); /* attribute past the end */
	assert_int_equal(agent_wire_parse(&(struct agent_msg){ 0 }, r.b, AGENT_WIRE_MAX + 1),
			 -EBADMSG);
}

/* Parses what the writer produced; the message must survive both checks. */
static void finish_and_parse(struct agent_wbuf *w, struct agent_msg *m, enum agent_msg_type type)
{
	assert_int_equal(agent_wire_finish(w), 0);
	assert_int_equal(agent_wire_parse(m, w->data, w->len), 0);
	assert_int_equal(m->type, type);
}

static void test_roundtrip_pam_requests(void **state)
{
	struct agent_wbuf w;
	struct agent_msg m;
	uint64_t v = 0;
	static const enum agent_msg_type item_types[] = {
		AGENT_MSG_AUTH,
		AGENT_MSG_ACCOUNT,
		AGENT_MSG_SESSION_OPEN,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(item_types) / sizeof(item_types[0]); i++) {
		/* required only */
		agent_wire_begin(&w, item_types[i]);
		agent_wire_str(&w, AGENT_A_NAME, "agent-abc123");
		if (item_types[i] == AGENT_MSG_AUTH)
			agent_wire_str(&w, AGENT_A_TOKEN, "3q0Zk-token_text");
		agent_wire_str(&w, AGENT_A_SERVICE, "su");
		finish_and_parse(&w, &m, item_types[i]);
		assert_string_equal(agent_msg_str(&m, AGENT_A_NAME), "agent-abc123");
		assert_string_equal(agent_msg_str(&m, AGENT_A_SERVICE), "su");
		assert_null(agent_msg_str(&m, AGENT_A_TTY));
		assert_null(agent_msg_str(&m, AGENT_A_RHOST));
		assert_null(agent_msg_str(&m, AGENT_A_RUSER));
		/* with every PAM item */
		agent_wire_begin(&w, item_types[i]);
		agent_wire_str(&w, AGENT_A_NAME, "agent-abc123");
		if (item_types[i] == AGENT_MSG_AUTH)
			agent_wire_str(&w, AGENT_A_TOKEN, "3q0Zk-token_text");
		agent_wire_str(&w, AGENT_A_SERVICE, "sshd");
		agent_wire_str(&w, AGENT_A_TTY, "/dev/pts/9");
		agent_wire_str(&w, AGENT_A_RHOST, "192.0.2.7");
		agent_wire_str(&w, AGENT_A_RUSER, "alice");
		finish_and_parse(&w, &m, item_types[i]);
		assert_string_equal(agent_msg_str(&m, AGENT_A_SERVICE), "sshd");
		assert_string_equal(agent_msg_str(&m, AGENT_A_TTY), "/dev/pts/9");
		assert_string_equal(agent_msg_str(&m, AGENT_A_RHOST), "192.0.2.7");
		assert_string_equal(agent_msg_str(&m, AGENT_A_RUSER), "alice");
		if (item_types[i] == AGENT_MSG_AUTH)
			assert_string_equal(agent_msg_str(&m, AGENT_A_TOKEN), "3q0Zk-token_text");
		else
			assert_null(agent_msg_str(&m, AGENT_A_TOKEN));
	}

	agent_wire_begin(&w, AGENT_MSG_SESSION_CLOSE);
	agent_wire_str(&w, AGENT_A_NAME, "agent-abc123");
	agent_wire_u64(&w, AGENT_A_SESSION_ID, 0x0102030405060708ULL);
	finish_and_parse(&w, &m, AGENT_MSG_SESSION_CLOSE);
	assert_true(agent_msg_u64(&m, AGENT_A_SESSION_ID, &v));
	assert_true(v == 0x0102030405060708ULL);

	agent_wire_begin(&w, AGENT_MSG_AUTHORIZED_KEYS);
	agent_wire_str(&w, AGENT_A_NAME, "agent-abc123");
	finish_and_parse(&w, &m, AGENT_MSG_AUTHORIZED_KEYS);
	assert_string_equal(agent_msg_str(&m, AGENT_A_NAME), "agent-abc123");

	/* the key bound at create, and handed back by AUTHORIZED_KEYS */
	agent_wire_begin(&w, AGENT_MSG_CREATE);
	agent_wire_str(&w, AGENT_A_PURPOSE, "ci");
	agent_wire_str(&w, AGENT_A_SSH_KEY, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA a@b");
	finish_and_parse(&w, &m, AGENT_MSG_CREATE);
	assert_string_equal(agent_msg_str(&m, AGENT_A_SSH_KEY),
			    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA a@b");
	agent_wire_begin(&w, AGENT_MSG_OK);
	agent_wire_str(&w, AGENT_A_SSH_KEY, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA");
	agent_wire_u64(&w, AGENT_A_EXPIRES, 1795363600);
	finish_and_parse(&w, &m, AGENT_MSG_OK);
	assert_true(agent_msg_u64(&m, AGENT_A_EXPIRES, &v));
	assert_int_equal(v, 1795363600);

	agent_wire_begin(&w, AGENT_MSG_RUN);
	agent_wire_str(&w, AGENT_A_PURPOSE, "ci");
	agent_wire_u64(&w, AGENT_A_TTL, 600);
	agent_wire_str(&w, AGENT_A_ARGV, "make");
	agent_wire_str(&w, AGENT_A_ARGV, "check");
	agent_wire_str(&w, AGENT_A_CWD, "/srv/build");
	finish_and_parse(&w, &m, AGENT_MSG_RUN);
	const char *argv[4] = { NULL };
	assert_int_equal(agent_msg_strs(&m, AGENT_A_ARGV, argv, 4), 2);
	assert_string_equal(argv[0], "make"); /* in order */
	assert_string_equal(argv[1], "check");
	assert_string_equal(agent_msg_str(&m, AGENT_A_CWD), "/srv/build");
}

static void test_roundtrip_pam_replies(void **state)
{
	struct agent_wbuf w;
	struct agent_msg m;
	uint64_t v = 0;

	(void)state;
	agent_wire_begin(&w, AGENT_MSG_SESSION);
	agent_wire_str(&w, AGENT_A_NAME, "agent-abc123");
	agent_wire_str(&w, AGENT_A_PURPOSE, "ci");
	agent_wire_u64(&w, AGENT_A_EXPIRES, 1795363600);
	agent_wire_u64(&w, AGENT_A_SESSION_ID, 42);
	agent_wire_str(&w, AGENT_A_SUBJECT, "alice");
	finish_and_parse(&w, &m, AGENT_MSG_SESSION);
	assert_true(agent_msg_u64(&m, AGENT_A_SESSION_ID, &v));
	assert_int_equal(v, 42);
	assert_string_equal(agent_msg_str(&m, AGENT_A_SUBJECT), "alice");

	agent_wire_begin(&w, AGENT_MSG_EXIT);
	agent_wire_u64(&w, AGENT_A_WAIT_STATUS, 0x0100); /* exit status 1 */
	finish_and_parse(&w, &m, AGENT_MSG_EXIT);
	assert_true(agent_msg_u64(&m, AGENT_A_WAIT_STATUS, &v));
	assert_int_equal(v, 0x0100);
	agent_wire_begin(&w, AGENT_MSG_EXIT);
	agent_wire_u64(&w, AGENT_A_WAIT_STATUS, 9);
	agent_wire_str(&w, AGENT_A_MESSAGE, "killed at retirement");
	finish_and_parse(&w, &m, AGENT_MSG_EXIT);
	assert_string_equal(agent_msg_str(&m, AGENT_A_MESSAGE), "killed at retirement");
}

/* Each new type without one of its required attributes, both through the
 * writer's own check and through the parser. */
static void test_pam_required(void **state)
{
	static const struct {
		uint16_t type;
		uint16_t req[5];
	} cases[] = {
		{ AGENT_MSG_AUTH, { AGENT_A_NAME, AGENT_A_TOKEN, AGENT_A_SERVICE } },
		{ AGENT_MSG_ACCOUNT, { AGENT_A_NAME, AGENT_A_SERVICE } },
		{ AGENT_MSG_SESSION_OPEN, { AGENT_A_NAME, AGENT_A_SERVICE } },
		{ AGENT_MSG_SESSION_CLOSE, { AGENT_A_NAME, AGENT_A_SESSION_ID } },
		{ AGENT_MSG_AUTHORIZED_KEYS, { AGENT_A_NAME } },
		{ AGENT_MSG_RUN, { AGENT_A_PURPOSE, AGENT_A_ARGV } },
		{ AGENT_MSG_SESSION,
		  { AGENT_A_NAME, AGENT_A_PURPOSE, AGENT_A_EXPIRES, AGENT_A_SESSION_ID } },
		{ AGENT_MSG_EXIT, { AGENT_A_WAIT_STATUS } },
	};
	uint8_t u64[8] = { 1 };
	struct raw r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t nreq = 0;

		while (nreq < 5 && cases[i].req[nreq])
			nreq++;
		/* all required present: accepted */
		raw_hdr(&r, 1, cases[i].type);
		for (size_t k = 0; k < nreq; k++) {
			uint16_t t = cases[i].req[k];

			if (t == AGENT_A_SESSION_ID || t == AGENT_A_EXPIRES ||
			    t == AGENT_A_WAIT_STATUS)
				raw_attr(&r, t, u64, 8);
			else
				raw_attr(&r, t, "agent-x", 8);
		}
		assert_int_equal(parse_raw(&r), 0);
		/* leave each one out in turn: refused */
		for (size_t skip = 0; skip < nreq; skip++) {
			struct agent_wbuf w;

			raw_hdr(&r, 1, cases[i].type);
			agent_wire_begin(&w, (enum agent_msg_type)cases[i].type);
			for (size_t k = 0; k < nreq; k++) {
				uint16_t t = cases[i].req[k];

				if (k == skip)
					continue;
				if (t == AGENT_A_SESSION_ID || t == AGENT_A_EXPIRES ||
				    t == AGENT_A_WAIT_STATUS) {
					raw_attr(&r, t, u64, 8);
					agent_wire_u64(&w, (enum agent_attr)t, 1);
				} else {
					raw_attr(&r, t, "agent-x", 8);
					agent_wire_str(&w, (enum agent_attr)t, "agent-x");
				}
			}
			assert_int_equal(parse_raw(&r), -EBADMSG);
			assert_int_equal(agent_wire_finish(&w), -EINVAL);
		}
	}
}

static void test_pam_not_allowed(void **state)
{
	struct agent_wbuf w;
	struct raw r;
	uint8_t u64[8] = { 0 };

	(void)state;
	/* a token only travels in AUTH */
	raw_hdr(&r, 1, AGENT_MSG_ACCOUNT);
	raw_attr(&r, AGENT_A_NAME, "n", 2);
	raw_attr(&r, AGENT_A_SERVICE, "su", 3);
	assert_int_equal(parse_raw(&r), 0);
	raw_attr(&r, AGENT_A_TOKEN, "tok", 4);
	assert_int_equal(parse_raw(&r), -EBADMSG);
	raw_hdr(&r, 1, AGENT_MSG_SESSION_OPEN);
	raw_attr(&r, AGENT_A_NAME, "n", 2);
	raw_attr(&r, AGENT_A_SERVICE, "su", 3);
	raw_attr(&r, AGENT_A_TOKEN, "tok", 4);
	assert_int_equal(parse_raw(&r), -EBADMSG);
	/* SESSION_CLOSE carries no PAM items */
	raw_hdr(&r, 1, AGENT_MSG_SESSION_CLOSE);
	raw_attr(&r, AGENT_A_NAME, "n", 2);
	raw_attr(&r, AGENT_A_SESSION_ID, u64, 8);
	assert_int_equal(parse_raw(&r), 0);
	raw_attr(&r, AGENT_A_SERVICE, "su", 3);
	assert_int_equal(parse_raw(&r), -EBADMSG);
	/* AUTHORIZED_KEYS asks, it does not set a key */
	raw_hdr(&r, 1, AGENT_MSG_AUTHORIZED_KEYS);
	raw_attr(&r, AGENT_A_NAME, "n", 2);
	raw_attr(&r, AGENT_A_SSH_KEY, "ssh-ed25519 AAAA", 17);
	assert_int_equal(parse_raw(&r), -EBADMSG);
	/* RUN binds no SSH key; CREATE carries no ARGV */
	agent_wire_begin(&w, AGENT_MSG_RUN);
	agent_wire_str(&w, AGENT_A_PURPOSE, "ci");
	agent_wire_str(&w, AGENT_A_ARGV, "true");
	agent_wire_str(&w, AGENT_A_SSH_KEY, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA");
	assert_int_equal(agent_wire_finish(&w), -EINVAL);
	agent_wire_begin(&w, AGENT_MSG_CREATE);
	agent_wire_str(&w, AGENT_A_PURPOSE, "ci");
	agent_wire_str(&w, AGENT_A_ARGV, "true");
	assert_int_equal(agent_wire_finish(&w), -EINVAL);
	/* a repeated PAM item is a duplicate */
	raw_hdr(&r, 1, AGENT_MSG_ACCOUNT);
	raw_attr(&r, AGENT_A_NAME, "n", 2);
	raw_attr(&r, AGENT_A_SERVICE, "su", 3);
	raw_attr(&r, AGENT_A_SERVICE, "su", 3);
	assert_int_equal(parse_raw(&r), -EBADMSG);
}

/* Starts a message that may carry tag (OK for SSH_KEY, else ACCOUNT) with
 * its other required attributes, in both the raw and the writer form. */
static void carrier(struct raw *r, struct agent_wbuf *w, enum agent_attr tag)
{
	enum agent_msg_type type = tag == AGENT_A_SSH_KEY ? AGENT_MSG_OK : AGENT_MSG_ACCOUNT;

	raw_hdr(r, 1, (uint16_t)type);
	agent_wire_begin(w, type);
	if (type != AGENT_MSG_ACCOUNT)
		return;
	raw_attr(r, AGENT_A_NAME, "n", 2);
	agent_wire_str(w, AGENT_A_NAME, "n");
	if (tag != AGENT_A_SERVICE) {
		raw_attr(r, AGENT_A_SERVICE, "su", 3);
		agent_wire_str(w, AGENT_A_SERVICE, "su");
	}
}

/* A string attribute of exactly max bytes passes, max + 1 does not, in the
 * writer and in the parser. */
static void check_str_max(enum agent_attr tag, size_t max)
{
	char *v = malloc(max + 2);
	struct agent_wbuf w;
	struct raw r;

	assert_non_null(v);
	memset(v, 'a', max + 1);
	v[max] = '\0';
	carrier(&r, &w, tag);
	raw_attr(&r, tag, v, (uint16_t)(max + 1));
	assert_int_equal(parse_raw(&r), 0);
	agent_wire_str(&w, tag, v);
	assert_int_equal(agent_wire_finish(&w), 0);

	v[max] = 'a';
	v[max + 1] = '\0';
	carrier(&r, &w, tag);
	raw_attr(&r, tag, v, (uint16_t)(max + 2));
	assert_int_equal(parse_raw(&r), -EBADMSG);
	agent_wire_str(&w, tag, v);
	assert_int_equal(agent_wire_finish(&w), -EINVAL);
	free(v);
}

static void test_pam_maxima(void **state)
{
	(void)state;
	check_str_max(AGENT_A_SERVICE, AGENT_SERVICE_MAX);
	check_str_max(AGENT_A_TTY, AGENT_TTY_MAX);
	check_str_max(AGENT_A_RHOST, AGENT_RHOST_MAX);
	check_str_max(AGENT_A_RUSER, AGENT_RUSER_MAX);
	check_str_max(AGENT_A_SSH_KEY, AGENT_SSH_KEY_MAX);
}

static void test_run_argv_limit(void **state)
{
	struct agent_wbuf w;
	struct agent_msg m;
	const char *argv[AGENT_ARGV_MAX + 1];
	char arg[16];
	struct raw r;

	(void)state;
	/* the largest RUN: every optional field and AGENT_ARGV_MAX arguments */
	agent_wire_begin(&w, AGENT_MSG_RUN);
	agent_wire_str(&w, AGENT_A_PURPOSE, "ci");
	agent_wire_u64(&w, AGENT_A_TTL, 600);
	agent_wire_str(&w, AGENT_A_ACTOR, "builder/2.1");
	agent_wire_str(&w, AGENT_A_TASK, "nightly");
	agent_wire_str(&w, AGENT_A_FOR, "alice");
	agent_wire_str(&w, AGENT_A_CWD, "/srv");
	for (int i = 0; i < AGENT_ARGV_MAX; i++) {
		snprintf(arg, sizeof(arg), "arg%d", i);
		agent_wire_str(&w, AGENT_A_ARGV, arg);
	}
	finish_and_parse(&w, &m, AGENT_MSG_RUN);
	assert_int_equal(agent_msg_strs(&m, AGENT_A_ARGV, argv, AGENT_ARGV_MAX), AGENT_ARGV_MAX);
	assert_string_equal(argv[0], "arg0");
	assert_string_equal(argv[AGENT_ARGV_MAX - 1], "arg63");
	assert_string_equal(agent_msg_str(&m, AGENT_A_CWD), "/srv");
	/* one more argument: refused by the writer and the parser */
	agent_wire_str(&w, AGENT_A_ARGV, "one-too-many");
	assert_int_equal(w.error, 0);                     /* fits in the datagram... */
	assert_int_equal(agent_wire_finish(&w), -EINVAL); /* ...but not in the schema */
	assert_int_equal(agent_wire_parse(&m, w.data, w.len), -EBADMSG);

	/* the same limit without optional fields, through raw bytes */
	raw_hdr(&r, 1, AGENT_MSG_RUN);
	raw_attr(&r, AGENT_A_PURPOSE, "ci", 3);
	for (int i = 0; i < AGENT_ARGV_MAX; i++)
		raw_attr(&r, AGENT_A_ARGV, "x", 2);
	assert_int_equal(parse_raw(&r), 0);
	raw_attr(&r, AGENT_A_ARGV, "x", 2);
	assert_int_equal(parse_raw(&r), -EBADMSG);
	/* an argument over AGENT_ARG_MAX */
	char *big = malloc(AGENT_ARG_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', AGENT_ARG_MAX + 1);
	big[AGENT_ARG_MAX] = '\0';
	raw_hdr(&r, 1, AGENT_MSG_RUN);
	raw_attr(&r, AGENT_A_PURPOSE, "ci", 3);
	raw_attr(&r, AGENT_A_ARGV, big, AGENT_ARG_MAX + 1);
	assert_int_equal(parse_raw(&r), 0);
	big[AGENT_ARG_MAX] = 'a';
	big[AGENT_ARG_MAX + 1] = '\0';
	raw_hdr(&r, 1, AGENT_MSG_RUN);
	raw_attr(&r, AGENT_A_PURPOSE, "ci", 3);
	raw_attr(&r, AGENT_A_ARGV, big, AGENT_ARG_MAX + 2);
	assert_int_equal(parse_raw(&r), -EBADMSG);
	free(big);
}

/* ------------------------------------------------------------ step-up */

static void test_roundtrip_stepup(void **state)
{
	struct agent_wbuf w;
	struct agent_msg m;
	const char *chain[AGENT_CHAIN_MAX + 1];
	char hop[16];
	uint64_t v = 0;

	(void)state;
	agent_wire_begin(&w, AGENT_MSG_PENDING);
	finish_and_parse(&w, &m, AGENT_MSG_PENDING);
	assert_int_equal(m.nattrs, 0);

	agent_wire_begin(&w, AGENT_MSG_APPROVE);
	agent_wire_str(&w, AGENT_A_REQUEST_ID, "k7f3qx");
	finish_and_parse(&w, &m, AGENT_MSG_APPROVE);
	assert_string_equal(agent_msg_str(&m, AGENT_A_REQUEST_ID), "k7f3qx");
	assert_null(agent_msg_str(&m, AGENT_A_REASON));
	agent_wire_begin(&w, AGENT_MSG_APPROVE);
	agent_wire_str(&w, AGENT_A_REQUEST_ID, "k7f3qx");
	agent_wire_str(&w, AGENT_A_REASON, "ticket 42");
	finish_and_parse(&w, &m, AGENT_MSG_APPROVE);
	assert_string_equal(agent_msg_str(&m, AGENT_A_REASON), "ticket 42");

	agent_wire_begin(&w, AGENT_MSG_DENY);
	agent_wire_str(&w, AGENT_A_REQUEST_ID, "abcdef");
	agent_wire_str(&w, AGENT_A_REASON, "not today");
	finish_and_parse(&w, &m, AGENT_MSG_DENY);
	assert_string_equal(agent_msg_str(&m, AGENT_A_REQUEST_ID), "abcdef");
	assert_string_equal(agent_msg_str(&m, AGENT_A_REASON), "not today");

	agent_wire_begin(&w, AGENT_MSG_PROMPT_REPLY); /* no answer (an info message) */
	finish_and_parse(&w, &m, AGENT_MSG_PROMPT_REPLY);
	assert_null(agent_msg_str(&m, AGENT_A_TEXT));
	agent_wire_begin(&w, AGENT_MSG_PROMPT_REPLY);
	agent_wire_str(&w, AGENT_A_TEXT, "correct horse");
	finish_and_parse(&w, &m, AGENT_MSG_PROMPT_REPLY);
	assert_string_equal(agent_msg_str(&m, AGENT_A_TEXT), "correct horse");

	agent_wire_begin(&w, AGENT_MSG_STEPUP);
	agent_wire_str(&w, AGENT_A_REQUEST_ID, "k7f3qx");
	agent_wire_u64(&w, AGENT_A_EXPIRES, 1795363600);
	agent_wire_str(&w, AGENT_A_MESSAGE, "Approval required: request k7f3qx");
	finish_and_parse(&w, &m, AGENT_MSG_STEPUP);
	assert_true(agent_msg_u64(&m, AGENT_A_EXPIRES, &v));
	assert_int_equal(v, 1795363600);
	assert_string_equal(agent_msg_str(&m, AGENT_A_MESSAGE),
			    "Approval required: request k7f3qx");

	agent_wire_begin(&w, AGENT_MSG_PROMPT);
	agent_wire_u64(&w, AGENT_A_STYLE, 1); /* PAM_PROMPT_ECHO_OFF */
	agent_wire_str(&w, AGENT_A_TEXT, "Password: ");
	finish_and_parse(&w, &m, AGENT_MSG_PROMPT);
	assert_true(agent_msg_u64(&m, AGENT_A_STYLE, &v));
	assert_int_equal(v, 1);
	assert_string_equal(agent_msg_str(&m, AGENT_A_TEXT), "Password: ");
	agent_wire_begin(&w, AGENT_MSG_PROMPT);
	agent_wire_u64(&w, AGENT_A_STYLE, 4);
	finish_and_parse(&w, &m, AGENT_MSG_PROMPT);
	assert_null(agent_msg_str(&m, AGENT_A_TEXT));

	/* ACCOUNT carries sudo's command */
	agent_wire_begin(&w, AGENT_MSG_ACCOUNT);
	agent_wire_str(&w, AGENT_A_NAME, "agent-abc123");
	agent_wire_str(&w, AGENT_A_SERVICE, "sudo");
	agent_wire_str(&w, AGENT_A_COMMAND, "/usr/bin/apt-get install vim");
	finish_and_parse(&w, &m, AGENT_MSG_ACCOUNT);
	assert_string_equal(agent_msg_str(&m, AGENT_A_COMMAND), "/usr/bin/apt-get install vim");

	/* a REQUEST with every field and a full chain, in order */
	agent_wire_begin(&w, AGENT_MSG_REQUEST);
	agent_wire_str(&w, AGENT_A_REQUEST_ID, "k7f3qx");
	agent_wire_str(&w, AGENT_A_NAME, "agent-abc123");
	agent_wire_u64(&w, AGENT_A_UID, 1879048192);
	agent_wire_str(&w, AGENT_A_PURPOSE, "ci");
	agent_wire_str(&w, AGENT_A_SUBJECT, "alice");
	for (int i = 0; i < AGENT_CHAIN_MAX; i++) {
		snprintf(hop, sizeof(hop), "hop%d", i);
		agent_wire_str(&w, AGENT_A_CHAIN, hop);
	}
	agent_wire_str(&w, AGENT_A_SERVICE, "sudo");
	agent_wire_str(&w, AGENT_A_COMMAND, "/usr/bin/id -u");
	agent_wire_str(&w, AGENT_A_TTY, "/dev/pts/3");
	agent_wire_str(&w, AGENT_A_RHOST, "192.0.2.7");
	agent_wire_str(&w, AGENT_A_RUSER, "alice");
	agent_wire_u64(&w, AGENT_A_PID, 4242);
	agent_wire_u64(&w, AGENT_A_CREATED, 1795363000);
	agent_wire_u64(&w, AGENT_A_EXPIRES, 1795363300);
	agent_wire_str(&w, AGENT_A_RULE, "purpose ci: sudo = approve");
	finish_and_parse(&w, &m, AGENT_MSG_REQUEST);
	assert_int_equal(agent_msg_strs(&m, AGENT_A_CHAIN, chain, AGENT_CHAIN_MAX + 1),
			 AGENT_CHAIN_MAX);
	assert_string_equal(chain[0], "hop0");
	assert_string_equal(chain[AGENT_CHAIN_MAX - 1], "hop7");
	assert_true(agent_msg_u64(&m, AGENT_A_PID, &v));
	assert_int_equal(v, 4242);
	assert_true(agent_msg_u64(&m, AGENT_A_UID, &v));
	assert_int_equal(v, 1879048192);
	assert_string_equal(agent_msg_str(&m, AGENT_A_COMMAND), "/usr/bin/id -u");
	assert_string_equal(agent_msg_str(&m, AGENT_A_RULE), "purpose ci: sudo = approve");
	/* one hop more: refused by the writer and the parser */
	agent_wire_str(&w, AGENT_A_CHAIN, "hop8");
	assert_int_equal(agent_wire_finish(&w), -EINVAL);
	assert_int_equal(agent_wire_parse(&m, w.data, w.len), -EBADMSG);
}

static bool u64_tag(uint16_t t)
{
	return t == AGENT_A_EXPIRES || t == AGENT_A_UID || t == AGENT_A_CREATED ||
	       t == AGENT_A_STYLE || t == AGENT_A_PID;
}

static void put_either(struct raw *r, struct agent_wbuf *w, uint16_t t)
{
	static const uint8_t u64[8] = { 7 };

	if (u64_tag(t)) {
		raw_attr(r, t, u64, 8);
		if (w)
			agent_wire_u64(w, (enum agent_attr)t, 7);
	} else {
		raw_attr(r, t, "abcdef", 7);
		if (w)
			agent_wire_str(w, (enum agent_attr)t, "abcdef");
	}
}

static const struct {
	uint16_t type;
	uint16_t req[8];
} stepup_required[] = {
	{ AGENT_MSG_PENDING, { 0 } },
	{ AGENT_MSG_APPROVE, { AGENT_A_REQUEST_ID } },
	{ AGENT_MSG_DENY, { AGENT_A_REQUEST_ID } },
	{ AGENT_MSG_PROMPT_REPLY, { 0 } },
	{ AGENT_MSG_STEPUP, { AGENT_A_REQUEST_ID, AGENT_A_EXPIRES, AGENT_A_MESSAGE } },
	{ AGENT_MSG_PROMPT, { AGENT_A_STYLE } },
	{ AGENT_MSG_REQUEST,
	  { AGENT_A_REQUEST_ID, AGENT_A_NAME, AGENT_A_UID, AGENT_A_PURPOSE, AGENT_A_SERVICE,
	    AGENT_A_CREATED, AGENT_A_EXPIRES } },
};

/* Each step-up type with all its required attributes passes; without any
 * one of them, the writer and the parser refuse it. */
static void test_stepup_required(void **state)
{
	struct agent_wbuf w;
	struct raw r;

	(void)state;
	for (size_t i = 0; i < sizeof(stepup_required) / sizeof(stepup_required[0]); i++) {
		size_t nreq = 0;

		while (nreq < 8 && stepup_required[i].req[nreq])
			nreq++;
		raw_hdr(&r, 1, stepup_required[i].type);
		agent_wire_begin(&w, (enum agent_msg_type)stepup_required[i].type);
		for (size_t k = 0; k < nreq; k++)
			put_either(&r, &w, stepup_required[i].req[k]);
		if (parse_raw(&r) != 0 || agent_wire_finish(&w) != 0)
			fail_msg("type %u with its required attributes refused",
				 stepup_required[i].type);
		for (size_t skip = 0; skip < nreq; skip++) {
			raw_hdr(&r, 1, stepup_required[i].type);
			agent_wire_begin(&w, (enum agent_msg_type)stepup_required[i].type);
			for (size_t k = 0; k < nreq; k++)
				if (k != skip)
					put_either(&r, &w, stepup_required[i].req[k]);
			if (parse_raw(&r) != -EBADMSG || agent_wire_finish(&w) != -EINVAL)
				fail_msg("type %u without tag %u accepted", stepup_required[i].type,
					 stepup_required[i].req[skip]);
		}
	}
}

/* Starts msg type with its required attributes (raw form). */
static void with_required(struct raw *r, uint16_t type)
{
	raw_hdr(r, 1, type);
	for (size_t i = 0; i < sizeof(stepup_required) / sizeof(stepup_required[0]); i++)
		if (stepup_required[i].type == type)
			for (size_t k = 0; k < 8 && stepup_required[i].req[k]; k++)
				put_either(r, NULL, stepup_required[i].req[k]);
	if (type == AGENT_MSG_ACCOUNT || type == AGENT_MSG_AUTH || type == AGENT_MSG_SESSION_OPEN) {
		put_either(r, NULL, AGENT_A_NAME);
		put_either(r, NULL, AGENT_A_SERVICE);
		if (type == AGENT_MSG_AUTH)
			put_either(r, NULL, AGENT_A_TOKEN);
	}
	if (type == AGENT_MSG_CREATE)
		put_either(r, NULL, AGENT_A_PURPOSE);
}

static void test_stepup_not_allowed(void **state)
{
	static const struct {
		uint16_t type, tag;
	} cases[] = {
		/* sudo's command and run-as user only in the PAM decisions
		 * (every stage decides) and REQUEST */
		{ AGENT_MSG_PENDING, AGENT_A_RUNAS },
		{ AGENT_MSG_DENY, AGENT_A_RUNAS },
		{ AGENT_MSG_STEPUP, AGENT_A_RUNAS },
		{ AGENT_MSG_APPROVE, AGENT_A_RUNAS },
		{ AGENT_MSG_PROMPT_REPLY, AGENT_A_RUNAS },
		{ AGENT_MSG_CREATE, AGENT_A_COMMAND },
		{ AGENT_MSG_STEPUP, AGENT_A_COMMAND },
		{ AGENT_MSG_APPROVE, AGENT_A_COMMAND },
		{ AGENT_MSG_PENDING, AGENT_A_COMMAND },
		/* a request id only where a request is named */
		{ AGENT_MSG_PENDING, AGENT_A_REQUEST_ID },
		{ AGENT_MSG_PROMPT_REPLY, AGENT_A_REQUEST_ID },
		{ AGENT_MSG_PROMPT, AGENT_A_REQUEST_ID },
		/* the conversation's text only in PROMPT and PROMPT_REPLY */
		{ AGENT_MSG_APPROVE, AGENT_A_TEXT },
		{ AGENT_MSG_DENY, AGENT_A_TEXT },
		{ AGENT_MSG_STEPUP, AGENT_A_TEXT },
		{ AGENT_MSG_REQUEST, AGENT_A_TEXT },
		/* no token, style or pid where they do not belong */
		{ AGENT_MSG_PROMPT_REPLY, AGENT_A_TOKEN },
		{ AGENT_MSG_APPROVE, AGENT_A_TOKEN },
		{ AGENT_MSG_PROMPT_REPLY, AGENT_A_STYLE },
		{ AGENT_MSG_APPROVE, AGENT_A_PID },
		{ AGENT_MSG_ACCOUNT, AGENT_A_PID },
		{ AGENT_MSG_ACCOUNT, AGENT_A_RULE },
		{ AGENT_MSG_DENY, AGENT_A_NAME },
		{ AGENT_MSG_PENDING, AGENT_A_ALL },
		{ AGENT_MSG_REQUEST, AGENT_A_TOKEN },
	};
	struct raw r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		with_required(&r, cases[i].type);
		if (parse_raw(&r) != 0)
			fail_msg("case %zu: the carrier alone is refused", i);
		if (cases[i].tag == AGENT_A_ALL)
			raw_attr(&r, AGENT_A_ALL, "", 0);
		else
			put_either(&r, NULL, cases[i].tag);
		if (parse_raw(&r) != -EBADMSG)
			fail_msg("case %zu: tag %u accepted in type %u", i, cases[i].tag,
				 cases[i].type);
	}
	/* non-repeatable tags stay single */
	with_required(&r, AGENT_MSG_APPROVE);
	put_either(&r, NULL, AGENT_A_REQUEST_ID);
	assert_int_equal(parse_raw(&r), -EBADMSG);
	with_required(&r, AGENT_MSG_REQUEST);
	put_either(&r, NULL, AGENT_A_COMMAND);
	put_either(&r, NULL, AGENT_A_COMMAND);
	assert_int_equal(parse_raw(&r), -EBADMSG);
	with_required(&r, AGENT_MSG_PROMPT_REPLY);
	put_either(&r, NULL, AGENT_A_TEXT);
	put_either(&r, NULL, AGENT_A_TEXT);
	assert_int_equal(parse_raw(&r), -EBADMSG);
	/* CHAIN repeats in REQUEST up to AGENT_CHAIN_MAX */
	with_required(&r, AGENT_MSG_REQUEST);
	for (int i = 0; i < AGENT_CHAIN_MAX; i++)
		raw_attr(&r, AGENT_A_CHAIN, "alice", 6);
	assert_int_equal(parse_raw(&r), 0);
	raw_attr(&r, AGENT_A_CHAIN, "alice", 6);
	assert_int_equal(parse_raw(&r), -EBADMSG);
	/* STYLE and the times are U64, REQUEST_ID a string */
	raw_hdr(&r, 1, AGENT_MSG_PROMPT);
	raw_attr(&r, AGENT_A_STYLE, "1", 2);
	assert_int_equal(parse_raw(&r), -EBADMSG);
	raw_hdr(&r, 1, AGENT_MSG_APPROVE);
	raw_attr(&r, AGENT_A_REQUEST_ID, "abcdefg", 8); /* one over */
	assert_int_equal(parse_raw(&r), -EBADMSG);
}

/* A string of exactly max bytes in type passes, max + 1 does not, in the
 * writer and the parser. */
static void check_stepup_max(uint16_t type, enum agent_attr tag, size_t max)
{
	char *v = malloc(max + 2);
	struct agent_wbuf w;
	struct raw r;

	assert_non_null(v);
	for (int longer = 0; longer < 2; longer++) {
		memset(v, 'a', max + 1);
		v[max + (size_t)longer] = '\0';
		raw_hdr(&r, 1, type);
		agent_wire_begin(&w, (enum agent_msg_type)type);
		for (size_t i = 0; i < sizeof(stepup_required) / sizeof(stepup_required[0]); i++)
			if (stepup_required[i].type == type)
				for (size_t k = 0; k < 8 && stepup_required[i].req[k]; k++)
					if (stepup_required[i].req[k] != tag)
						put_either(&r, &w, stepup_required[i].req[k]);
		if (type == AGENT_MSG_ACCOUNT || type == AGENT_MSG_SESSION_OPEN ||
		    type == AGENT_MSG_AUTH) {
			put_either(&r, &w, AGENT_A_NAME);
			put_either(&r, &w, AGENT_A_SERVICE);
		}
		if (type == AGENT_MSG_AUTH)
			put_either(&r, &w, AGENT_A_TOKEN);
		raw_attr(&r, tag, v, (uint16_t)(max + (size_t)longer + 1));
		agent_wire_str(&w, tag, v);
		if (parse_raw(&r) != (longer ? -EBADMSG : 0) ||
		    agent_wire_finish(&w) != (longer ? -EINVAL : 0))
			fail_msg("type %u tag %u: %zu bytes %s", type, tag, max + (size_t)longer,
				 longer ? "accepted" : "refused");
	}
	free(v);
}

static void test_stepup_maxima(void **state)
{
	(void)state;
	check_stepup_max(AGENT_MSG_APPROVE, AGENT_A_REQUEST_ID, AGENT_REQUEST_ID_LEN);
	check_stepup_max(AGENT_MSG_DENY, AGENT_A_REQUEST_ID, AGENT_REQUEST_ID_LEN);
	check_stepup_max(AGENT_MSG_STEPUP, AGENT_A_REQUEST_ID, AGENT_REQUEST_ID_LEN);
	check_stepup_max(AGENT_MSG_REQUEST, AGENT_A_REQUEST_ID, AGENT_REQUEST_ID_LEN);
	check_stepup_max(AGENT_MSG_PROMPT_REPLY, AGENT_A_TEXT, AGENT_CONV_TEXT_MAX);
	check_stepup_max(AGENT_MSG_PROMPT, AGENT_A_TEXT, AGENT_CONV_TEXT_MAX);
	check_stepup_max(AGENT_MSG_ACCOUNT, AGENT_A_COMMAND, AGENT_COMMAND_MAX);
	check_stepup_max(AGENT_MSG_AUTH, AGENT_A_COMMAND, AGENT_COMMAND_MAX);
	check_stepup_max(AGENT_MSG_SESSION_OPEN, AGENT_A_COMMAND, AGENT_COMMAND_MAX);
	check_stepup_max(AGENT_MSG_ACCOUNT, AGENT_A_RUNAS, AGENT_NAME_MAX);
	check_stepup_max(AGENT_MSG_SESSION_OPEN, AGENT_A_RUNAS, AGENT_NAME_MAX);
	check_stepup_max(AGENT_MSG_REQUEST, AGENT_A_RUNAS, AGENT_NAME_MAX);
	check_stepup_max(AGENT_MSG_SESSION_OPEN, AGENT_A_REQUEST_ID, AGENT_REQUEST_ID_LEN);
	check_stepup_max(AGENT_MSG_REQUEST, AGENT_A_COMMAND, AGENT_COMMAND_MAX);
	check_stepup_max(AGENT_MSG_APPROVE, AGENT_A_REASON, AGENT_REASON_MAX);
	check_stepup_max(AGENT_MSG_STEPUP, AGENT_A_MESSAGE, 512);
	/* the longest rule text the policy writes (see agentd/policy.c) */
	check_stepup_max(AGENT_MSG_REQUEST, AGENT_A_RULE, AGENT_RULE_TEXT_MAX);
}

static void test_writer_overflow(void **state)
{
	struct agent_wbuf w;
	char task[AGENT_TASK_MAX + 1];

	(void)state;
	memset(task, 'x', AGENT_TASK_MAX);
	task[AGENT_TASK_MAX] = '\0';
	agent_wire_begin(&w, AGENT_MSG_IDENTITY);
	for (int i = 0; i < 40; i++)
		agent_wire_str(&w, AGENT_A_TASK, task);
	assert_int_equal(agent_wire_finish(&w), -EMSGSIZE);
	agent_wire_begin(&w, AGENT_MSG_CREATE);
	agent_wire_str(&w, AGENT_A_PURPOSE, "a-purpose-name-that-is-far-too-long-for-it");
	assert_int_equal(agent_wire_finish(&w), -EINVAL);
	agent_wire_begin(&w, AGENT_MSG_CREATE);
	agent_wire_u64(&w, AGENT_A_PURPOSE, 1); /* wrong type for the tag */
	assert_int_equal(agent_wire_finish(&w), -EINVAL);
}

static void test_client_socketpair(void **state)
{
	uint8_t buf[AGENT_WIRE_MAX];
	struct agent_wbuf w;
	struct agent_msg m;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	agent_wire_begin(&w, AGENT_MSG_STATUS);
	assert_int_equal(agent_wire_finish(&w), 0);
	assert_int_equal(agent_client_send(sv[0], &w, 1000), 0);
	assert_int_equal(agent_client_recv(sv[1], buf, &m, 1000), 0);
	assert_int_equal(m.type, AGENT_MSG_STATUS);
	/* nothing to read: a bounded wait */
	assert_int_equal(agent_client_recv(sv[1], buf, &m, 50), -ETIMEDOUT);
	/* garbage */
	assert_int_equal(send(sv[0], "\x01\x00\x63\x00", 4, 0), 4);
	assert_int_equal(agent_client_recv(sv[1], buf, &m, 1000), -EBADMSG);
	/* oversized datagram */
	uint8_t *huge = calloc(1, AGENT_WIRE_MAX + 100);
	assert_non_null(huge);
	assert_int_equal(send(sv[0], huge, AGENT_WIRE_MAX + 100, 0), AGENT_WIRE_MAX + 100);
	assert_int_equal(agent_client_recv(sv[1], buf, &m, 1000), -EBADMSG);
	free(huge);
	/* peer gone */
	close(sv[0]);
	assert_int_equal(agent_client_recv(sv[1], buf, &m, 1000), -ECONNRESET);
	close(sv[1]);
}

static void test_client_connect(void **state)
{
	char dir[] = "/tmp/agentd-wire.XXXXXX", path[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	assert_int_equal(agent_client_connect(path, 100), -ENOENT);
	char longpath[200];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(agent_client_connect(longpath, 100), -ENAMETOOLONG);

	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	fd = agent_client_connect(path, 1000);
	assert_true(fd > 2);
	close(fd);
	close(lfd);
	/* bound but not listening any more */
	assert_int_equal(agent_client_connect(path, 100), -ECONNREFUSED);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_create),
		cmocka_unit_test(test_roundtrip_all_types),
		cmocka_unit_test(test_identity_roundtrip),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_writer_overflow),
		cmocka_unit_test(test_client_socketpair),
		cmocka_unit_test(test_client_connect),
		cmocka_unit_test(test_roundtrip_pam_requests),
		cmocka_unit_test(test_roundtrip_pam_replies),
		cmocka_unit_test(test_pam_required),
		cmocka_unit_test(test_pam_not_allowed),
		cmocka_unit_test(test_pam_maxima),
		cmocka_unit_test(test_run_argv_limit),
		cmocka_unit_test(test_roundtrip_stepup),
		cmocka_unit_test(test_stepup_required),
		cmocka_unit_test(test_stepup_not_allowed),
		cmocka_unit_test(test_stepup_maxima),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
