/* Unit tests: durations, timestamps, validators, the liveness rule, the
 * audit key=value format and the JSON writer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/identity.h"
#include "common/json.h"
#include "common/kv.h"
#include "common/limits.h"
#include "common/liveness.h"
#include "common/text.h"

static void test_duration_parse(void **state)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t sec;
	} cases[] = {
		{ "90s", 0, 90 },
		{ "15m", 0, 900 },
		{ "2h", 0, 7200 },
		{ "1d", 0, 86400 },
		{ "1w", 0, 604800 },
		{ "1h30m", 0, 5400 },
		{ "45", 0, 45 },
		{ "0s", 0, 0 },
		{ "366d", 0, 366 * 86400 },
		{ "", -EINVAL, 0 },
		{ "5x", -EINVAL, 0 },
		{ "-5s", -EINVAL, 0 },
		{ " 5s", -EINVAL, 0 },
		{ "5s ", -EINVAL, 0 },
		{ "h", -EINVAL, 0 },
		{ "1h30", -EINVAL, 0 },
		{ "5S", -EINVAL, 0 },
		{ "367d", -ERANGE, 0 },
		{ "99999999999999999999999s", -ERANGE, 0 },
		{ "18446744073709551615s", -ERANGE, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;

		assert_int_equal(agent_duration_parse(cases[i].in, &v), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(v, cases[i].sec);
	}
	assert_int_equal(agent_duration_parse(NULL, &(uint64_t){ 0 }), -EINVAL);
}

static void test_duration_format(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(agent_duration_format(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0s");
	assert_int_equal(agent_duration_format(90, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1m30s");
	assert_int_equal(agent_duration_format(7200, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2h");
	assert_int_equal(agent_duration_format(90061, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1d1h1m1s");
	assert_int_equal(agent_duration_format(90061, buf, 4), -ENOSPC);
	/* format then parse is the identity */
	for (uint64_t v = 0; v < 200000; v += 997) {
		uint64_t back;

		assert_int_equal(agent_duration_format(v, buf, sizeof(buf)), 0);
		assert_int_equal(agent_duration_parse(buf, &back), 0);
		assert_int_equal(back, v);
	}
}

static void test_time_format(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(agent_time_format(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	assert_int_equal(agent_time_format(1795360000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-11-22T15:06:40Z");
	assert_int_equal(agent_time_format(1795360000, buf, 10), -ENOSPC);
}

static void test_validators(void **state)
{
	(void)state;
	assert_true(agent_valid_username("alice"));
	assert_true(agent_valid_username("_svc"));
	assert_true(agent_valid_username("agent-k7f3q2"));
	assert_true(agent_valid_username("machine$"));
	assert_true(agent_valid_username("a23456789012345678901234567890ab")); /* 32 */
	assert_false(agent_valid_username("a23456789012345678901234567890abc"));
	assert_false(agent_valid_username(""));
	assert_false(agent_valid_username(NULL));
	assert_false(agent_valid_username("Alice"));
	assert_false(agent_valid_username("1alice"));
	assert_false(agent_valid_username("-alice"));
	assert_false(agent_valid_username("al ice"));
	assert_false(agent_valid_username("a$b"));
	assert_false(agent_valid_username("../etc"));
	assert_false(agent_valid_username("al\nice"));

	assert_true(agent_valid_purpose("ci"));
	assert_true(agent_valid_purpose("build-2_x"));
	assert_false(agent_valid_purpose("_ci"));
	assert_false(agent_valid_purpose("Ci"));
	assert_false(agent_valid_purpose("ci!"));
	assert_false(agent_valid_purpose("*"));
	assert_true(agent_valid_prefix("agent-"));
	assert_false(agent_valid_prefix("agent-prefix-too-long"));

	assert_true(agent_valid_text("", 10));
	assert_true(agent_valid_text("builder/2.1 \"x\"", 64));
	assert_true(agent_valid_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 64));
	assert_false(agent_valid_text("toolong", 3));
	assert_false(agent_valid_text("a\nb", 10));
	assert_false(agent_valid_text("a\tb", 10));
	assert_false(agent_valid_text("a\x7f", 10));
	assert_false(agent_valid_text("\xc2\x85", 10));         /* C1 NEL */
	assert_false(agent_valid_text("\xc0\xaf", 10));         /* overlong */
	assert_false(agent_valid_text("\xe0\x80\xaf", 10));     /* overlong */
	assert_false(agent_valid_text("\xed\xa0\x80", 10));     /* surrogate */
	assert_false(agent_valid_text("\xf4\x90\x80\x80", 10)); /* > U+10FFFF */
	assert_false(agent_valid_text("\xc3", 10));             /* truncated */
	assert_false(agent_valid_text("\xff", 10));
	assert_false(agent_valid_text(NULL, 10));

	assert_true(agent_valid_abspath("/"));
	assert_true(agent_valid_abspath("/home/agents"));
	assert_true(agent_valid_abspath("/a/..b"));
	assert_false(agent_valid_abspath("home"));
	assert_false(agent_valid_abspath("/home/"));
	assert_false(agent_valid_abspath("/home//x"));
	assert_false(agent_valid_abspath("/home/../etc"));
	assert_false(agent_valid_abspath("/home/.."));
	assert_false(agent_valid_abspath("/a\nb"));
}

/* Public halves of keys made with ssh-keygen for this test. */
#define ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKgdmWDPqcYU7V537jr+xOc5Irooz8ry5ZEfxv+zCH7V"
#define ECDSA256                                                                                   \
	"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEKvWVGDsp7R"     \
	"NQIi2TCHWS8giZHN8MwIDOFRm3jkUCwD7PhE8ut9SQHC/Mxlp/qzhzUpcMRY+KKc+sgI/iTG7OI="
#define RSA                                                                                        \
	"ssh-rsa "                                                                                 \
	"AAAAB3NzaC1yc2EAAAADAQABAAABAQCjCph5QiSq9yvJ7vSXcxCkwL269dI0P+i1lN8uAeOo"                 \
	"1ufC0xKn782yjARQuEmaH0Ox4MVOmmERbSw0L50ACF4U1oe0RuYDLLwciuruA5YaITzw+SY+"                 \
	"1Ro1f757CqnToJmY+UdGz38U4bHgYsBCBPRFt2Cg2+N7xrMzxIIWQ8M2q4UqdDO0gRfL+nrY"                 \
	"1S2IeHx6CIcyDsCD2jxvzjdLMOykNltcbum1cS6+We34TrX7TmpfO8wk3cgb+AEYry/9K5J6"                 \
	"JHWTrJMRZjtPEwd4R0b35Ofpsd5sn0Mx3zWPJGcVJ+x50HQhLm+oNjtYIs10i7jT5vN8FV9T"                 \
	"fYnbD1s9jgit"

static void test_ssh_key(void **state)
{
	char big[AGENT_SSH_KEY_MAX + 2];
	size_t n;

	(void)state;
	assert_true(agent_valid_ssh_key(ED25519));
	assert_true(agent_valid_ssh_key(ED25519 " alice@laptop"));
	assert_true(agent_valid_ssh_key(ED25519 " ci key (rotated 2026-11)"));
	assert_true(agent_valid_ssh_key(RSA));
	assert_true(agent_valid_ssh_key(RSA " bob@example.org"));
	assert_true(agent_valid_ssh_key(ECDSA256)); /* ends in base64 padding */
	assert_true(agent_valid_ssh_key(ECDSA256 " a@b"));
	assert_true(agent_valid_ssh_key("ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEA=="));
	assert_true(agent_valid_ssh_key("sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5"));

	/* options in front (authorized_keys syntax) are not a key */
	assert_false(agent_valid_ssh_key("command=\"x\" " ED25519));
	assert_false(agent_valid_ssh_key("no-pty " ED25519));
	assert_false(agent_valid_ssh_key("restrict,command=\"/bin/sh\" " ED25519 " a@b"));
	/* unknown or mangled key types */
	assert_false(agent_valid_ssh_key("ssh-dss AAAAB3NzaC1kc3MAAACBAP"));
	assert_false(agent_valid_ssh_key("ssh-ed25519x AAAAC3NzaC1lZDI1NTE5AAAAIKgd"));
	assert_false(agent_valid_ssh_key("ssh-ed2551 AAAAC3NzaC1lZDI1NTE5AAAAIKgd"));
	assert_false(agent_valid_ssh_key("SSH-ED25519 AAAAC3NzaC1lZDI1NTE5AAAAIKgd"));
	assert_false(agent_valid_ssh_key("ssh-ed25519"));  /* type only */
	assert_false(agent_valid_ssh_key("ssh-ed25519 ")); /* no base64 */
	/* base64 too short (15 characters), or broken */
	assert_false(agent_valid_ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI"));
	assert_true(agent_valid_ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI1"));
	assert_false(agent_valid_ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI===="));
	assert_false(agent_valid_ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5!AAAA"));
	assert_false(agent_valid_ssh_key("ssh-ed25519 AAAAC3Nz=aC1lZDI1NTE5AAAA"));
	assert_false(agent_valid_ssh_key("ssh-ed25519 AAAAC3NzaC1l-ZDI1NTE5AAAA")); /* base64url */
	/* control characters anywhere */
	assert_false(agent_valid_ssh_key(ED25519 "\n"));
	assert_false(agent_valid_ssh_key(ED25519 "\n" ED25519));
	assert_false(agent_valid_ssh_key(ED25519 " a\nb"));
	assert_false(agent_valid_ssh_key(ED25519 " a\rb"));
	assert_false(agent_valid_ssh_key("ssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAIKgd"));
	assert_false(agent_valid_ssh_key(ED25519 "\tcomment"));
	assert_false(agent_valid_ssh_key(ED25519 " a\x7f"));
	assert_false(agent_valid_ssh_key(ED25519 " caf\xc3\xa9")); /* ASCII only */
	assert_false(agent_valid_ssh_key(ED25519 " \x1b[2Jx"));
	/* spacing: one space between fields, none at either end */
	assert_false(agent_valid_ssh_key(ED25519 " "));
	assert_false(agent_valid_ssh_key(" " ED25519));
	assert_false(agent_valid_ssh_key("ssh-ed25519  AAAAC3NzaC1lZDI1NTE5AAAAIKgd"));
	/* empty, NULL */
	assert_false(agent_valid_ssh_key(""));
	assert_false(agent_valid_ssh_key(NULL));

	/* exactly AGENT_SSH_KEY_MAX bytes passes, one more does not */
	n = (size_t)snprintf(big, sizeof(big), "ssh-rsa ");
	memset(big + n, 'A', AGENT_SSH_KEY_MAX - n);
	big[AGENT_SSH_KEY_MAX] = '\0';
	assert_true(agent_valid_ssh_key(big));
	big[AGENT_SSH_KEY_MAX] = 'A';
	big[AGENT_SSH_KEY_MAX + 1] = '\0';
	assert_false(agent_valid_ssh_key(big));
	/* the same with a comment making up the length */
	n = (size_t)snprintf(big, sizeof(big), "%s ", ED25519);
	memset(big + n, 'c', AGENT_SSH_KEY_MAX - n);
	big[AGENT_SSH_KEY_MAX] = '\0';
	assert_true(agent_valid_ssh_key(big));
	big[AGENT_SSH_KEY_MAX] = 'c';
	big[AGENT_SSH_KEY_MAX + 1] = '\0';
	assert_false(agent_valid_ssh_key(big));
}

static void test_liveness(void **state)
{
	struct agent_now now = { .real = 1000, .boot_ns = 50 * 1000000000LL };

	(void)state;
	assert_true(agent_is_live(false, 1001, 51 * 1000000000LL, &now));
	assert_false(agent_is_live(true, 1001, 51 * 1000000000LL, &now));
	assert_false(agent_is_live(false, 1000, 51 * 1000000000LL, &now)); /* at the deadline */
	/* The wall clock was set back: the boot deadline still ends it. */
	assert_false(agent_is_live(false, 5000, 50 * 1000000000LL, &now));
	/* No boot deadline known: the wall clock alone. */
	assert_true(agent_is_live(false, 1001, 0, &now));
	assert_int_equal(agent_boot_deadline(1010, &now), 60 * 1000000000LL);
	assert_int_equal(agent_boot_deadline(900, &now), now.boot_ns);
	assert_int_equal(agent_boot_deadline(INT64_MAX, &now), INT64_MAX);

	struct agent_now real;

	agent_now(&real);
	assert_true(real.real > 1700000000);
	assert_true(real.boot_ns > 0);
}

static void test_identity_strings(void **state)
{
	enum agent_retire_reason r;

	(void)state;
	assert_string_equal(agent_retire_reason_str(AGENT_RETIRE_PARENT), "parent-retired");
	assert_string_equal(agent_retire_reason_str((enum agent_retire_reason)99), "unknown");
	for (int i = 0; i <= AGENT_RETIRE_ORPHANED; i++) {
		assert_int_equal(agent_retire_reason_parse(agent_retire_reason_str(i), &r), 0);
		assert_int_equal(r, i);
	}
	assert_int_equal(agent_retire_reason_parse("bogus", &r), -EINVAL);
	assert_string_equal(agent_state_str(AGENT_STATE_LIVE), "live");
	assert_string_equal(agent_state_str(AGENT_STATE_RETIRED), "retired");
}

struct fields {
	char keys[16][32];
	char values[16][256];
	int n;
};

static int collect(const char *key, const char *value, void *arg)
{
	struct fields *f = arg;

	if (f->n >= 16)
		return -1;
	snprintf(f->keys[f->n], sizeof(f->keys[0]), "%s", key);
	snprintf(f->values[f->n], sizeof(f->values[0]), "%s", value);
	f->n++;
	return 0;
}

static void test_kv_build_and_parse(void **state)
{
	char buf[512];
	struct agent_kv kv;
	struct fields f = { 0 };

	(void)state;
	agent_kv_init(&kv, buf, sizeof(buf));
	agent_kv_u64(&kv, "v", 1);
	agent_kv_str(&kv, "event", "create");
	agent_kv_str(&kv, "task", "say \"hi\"\\\n\x01\xc3\xa9");
	agent_kv_i64(&kv, "delta", -5);
	agent_kv_str(&kv, "empty", NULL);
	assert_false(kv.truncated);
	assert_string_equal(buf,
			    "v=1 event=\"create\" task=\"say \\\"hi\\\"\\\\\\x0a\\x01\\xc3\\xa9\" "
			    "delta=-5 empty=\"\"");
	for (const char *p = buf; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f); /* one printable ASCII line */
	assert_int_equal(agent_kv_parse(buf, collect, &f), 0);
	assert_int_equal(f.n, 5);
	assert_string_equal(f.keys[2], "task");
	assert_string_equal(f.values[2], "say \"hi\"\\\n\x01\xc3\xa9");
	assert_string_equal(f.values[3], "-5");
	assert_string_equal(f.values[4], "");
}

static void test_kv_truncation(void **state)
{
	char buf[24];
	struct agent_kv kv;

	(void)state;
	agent_kv_init(&kv, buf, sizeof(buf));
	agent_kv_u64(&kv, "v", 1);
	agent_kv_str(&kv, "long", "this value does not fit in the buffer");
	assert_true(kv.truncated);
	assert_string_equal(buf, "v=1"); /* the field was dropped whole */
	agent_kv_str(&kv, "k", "ok");
	assert_string_equal(buf, "v=1 k=\"ok\"");
}

static void test_kv_roundtrip_random(void **state)
{
	(void)state;
	srand(42);
	for (int round = 0; round < 2000; round++) {
		char value[64], buf[512];
		struct agent_kv kv;
		struct fields f = { 0 };
		int n = rand() % 63;

		for (int i = 0; i < n; i++)
			value[i] = (char)(1 + rand() % 255);
		value[n] = '\0';
		agent_kv_init(&kv, buf, sizeof(buf));
		agent_kv_str(&kv, "x", value);
		assert_false(kv.truncated);
		assert_int_equal(agent_kv_parse(buf, collect, &f), 0);
		assert_int_equal(f.n, 1);
		assert_string_equal(f.values[0], value);
	}
}

static void test_kv_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"v",        "=1",       "v=",         "v=1  x=2",       "v=1 ",
		"V=1",      "v=\"open", "v=\"a\\q\"", "v=\"\\x0\"",     "v=\"\\x00\"",
		"v=1x",     "v=\"a\"b", "v=\"\x01\"", "v=\"\xc3\xa9\"", "v=-",
		"v=\"a\" ",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fields f = { 0 };

		assert_int_equal(agent_kv_parse(bad[i], collect, &f), -EBADMSG);
	}
}

static void test_json(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct agent_json j;

	(void)state;
	agent_json_init(&j, f);
	agent_json_begin_object(&j, NULL);
	agent_json_str(&j, "name", "a\"b\\c\n\x01");
	agent_json_u64(&j, "uid", 7);
	agent_json_begin_array(&j, "chain");
	agent_json_str(&j, NULL, "x");
	agent_json_str(&j, NULL, "y");
	agent_json_end_array(&j);
	agent_json_str(&j, "parent", NULL);
	agent_json_bool(&j, "ok", true);
	agent_json_end_object(&j);
	fclose(f);
	assert_string_equal(out, "{\"name\":\"a\\\"b\\\\c\\n\\u0001\",\"uid\":7,"
				 "\"chain\":[\"x\",\"y\"],\"parent\":null,\"ok\":true}\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_parse),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_validators),
		cmocka_unit_test(test_liveness),
		cmocka_unit_test(test_identity_strings),
		cmocka_unit_test(test_kv_build_and_parse),
		cmocka_unit_test(test_kv_truncation),
		cmocka_unit_test(test_kv_roundtrip_random),
		cmocka_unit_test(test_kv_parse_rejects),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_ssh_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
