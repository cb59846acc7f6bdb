/* Unit tests: the audit chain (agentd/audit.c) and its reader
 * (common/audit_verify.c): records verify, restarts and crashes keep the
 * chain, every kind of tampering is reported at its line, values round-trip
 * and syslog lines are split as rsyslog writes them. The key-file reader
 * (common/keyfile.c) refuses symlinks, other owners, group or other
 * access and wrong sizes. A collector's file with several hosts' chains
 * interleaved verifies host by host (common/audit_fleet.c). The way out
 * (agentd/audit_out.c): a syslog socket that stops reading, restarts or is
 * absent never loses or reorders a record (memory, then the spill file,
 * replayed first, across a restart of agentd); with the spill file
 * unwritable too, records beyond the memory bound are dropped and declared,
 * never silently. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/tmpdir.h"

#include "agentd/audit.h"
#include "common/audit_fleet.h"
#include "common/audit_verify.h"
#include "common/keyfile.h"

#define MAXLINES 512

static char dir[] = "/tmp/agentd-audit.XXXXXX";
static char *lines[MAXLINES];
static size_t nlines;

static void sink(void *arg, const char *record)
{
	(void)arg;
	assert_true(nlines < MAXLINES);
	lines[nlines++] = strdup(record);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/agentd-audit.XXXXXX");
	nlines = 0;
	return tmpdir_make(dir);
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < nlines; i++)
		free(lines[i]);
	nlines = 0;
	return tmpdir_remove(dir);
}

static void open_chain(struct agent_audit *a)
{
	agent_audit_open(a, 0);
	a->out.path = NULL; /* the chain tests: the sink only */
	a->sink = sink;
	assert_int_equal(agent_audit_chain_open(a, dir), 0);
}

static void record(struct agent_audit *a, const char *event, const char *k, const char *v)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];

	agent_audit_begin(a, &kv, buf, sizeof(buf), event);
	if (strcmp(event, "start") == 0)
		agent_audit_start_fields(a, &kv);
	agent_kv_str(&kv, "identity", "agent-k7f3q2");
	if (k)
		agent_kv_str(&kv, k, v);
	agent_audit_emit(a, &kv, 5);
}

static void key(uint8_t k[AGENT_AUDIT_KEY_BYTES])
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, AGENT_AUDIT_KEY_FILE);
	assert_int_equal(agent_audit_key_read(path, k), 0);
}

struct found {
	int n;
	enum agent_audit_kind kind[32];
	unsigned long line[32];
};

static void collect(const struct agent_audit_finding *f, void *arg)
{
	struct found *x = arg;

	if (x->n < 32) {
		x->kind[x->n] = f->kind;
		x->line[x->n] = f->line;
		x->n++;
	}
}

/* Verifies text lines l[0..n) as one file; returns the number of findings,
 * everything reported (notes too) in *x. */
static int verify(char **l, size_t n, struct found *x, struct agent_audit_vstats *st)
{
	uint8_t k[AGENT_AUDIT_KEY_BYTES];
	struct agent_audit_vfy *v;
	int r;

	key(k);
	v = agent_audit_vfy_new(k);
	assert_non_null(v);
	memset(x, 0, sizeof(*x));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(agent_audit_vfy_line(v, "f", i + 1, l[i]), 0);
	r = agent_audit_vfy_finish(v, collect, x, st);
	agent_audit_vfy_free(v);
	return r;
}

static void scenario(struct agent_audit *a, int n)
{
	open_chain(a);
	record(a, "start", NULL, NULL);
	for (int i = 1; i < n; i++)
		record(a, i % 2 ? "auth" : "account", "service", "su");
}

static void test_chain_verifies(void **state)
{
	struct agent_audit a;
	struct agent_audit_vstats st;
	struct found x;
	struct stat sb;
	char path[256];

	(void)state;
	scenario(&a, 10);
	agent_audit_close(&a);
	assert_int_equal(nlines, 10);
	assert_int_equal(verify(lines, nlines, &x, &st), 0);
	assert_int_equal(x.n, 0); /* a new chain from seq 1: not even a note */
	assert_int_equal(st.verified, 10);
	assert_int_equal(st.first_seq, 1);
	assert_int_equal(st.last_seq, 10);
	assert_true(strncmp(lines[0], "v=2 seq=1 time=\"", 16) == 0);
	assert_non_null(strstr(lines[0], " event=\"start\" audit=\"new\""));
	assert_non_null(strstr(lines[0], " prev=\"00000000000000000000000000000000\" mac=\""));
	snprintf(path, sizeof(path), "%s/%s", dir, AGENT_AUDIT_KEY_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sb.st_size, AGENT_AUDIT_KEY_BYTES);
}

static void test_tampering(void **state)
{
	struct agent_audit a;
	struct agent_audit_vstats st;
	struct found x;
	char *t[MAXLINES], forged[AGENT_AUDIT_LINE_MAX], *p;

	(void)state;
	scenario(&a, 12);
	agent_audit_close(&a);

	/* delete line 5 (seq 5): a gap reported where seq 6 now is, line 5 */
	memcpy(t, lines, sizeof(t));
	memmove(&t[4], &t[5], (nlines - 5) * sizeof(*t));
	assert_int_equal(verify(t, nlines - 1, &x, &st), 1);
	assert_int_equal(x.kind[0], AGENT_AF_GAP);
	assert_int_equal(x.line[0], 5);

	/* swap lines 7 and 8: one reordering, at line 8 */
	memcpy(t, lines, sizeof(t));
	t[6] = lines[7];
	t[7] = lines[6];
	assert_int_equal(verify(t, nlines, &x, &st), 1);
	assert_int_equal(x.kind[0], AGENT_AF_REORDERED);
	assert_int_equal(x.line[0], 8);

	/* edit a field of line 3: altered, at line 3, nothing else */
	memcpy(t, lines, sizeof(t));
	snprintf(forged, sizeof(forged), "%s", lines[2]);
	p = strstr(forged, "service=\"su\"");
	assert_non_null(p);
	memcpy(p, "service=\"sx\"", 12);
	t[2] = forged;
	assert_int_equal(verify(t, nlines, &x, &st), 1);
	assert_int_equal(x.kind[0], AGENT_AF_ALTERED);
	assert_int_equal(x.line[0], 3);

	/* edit the last record (no successor): still altered */
	memcpy(t, lines, sizeof(t));
	snprintf(forged, sizeof(forged), "%s", lines[nlines - 1]);
	memcpy(strstr(forged, "service=\"su\""), "service=\"sx\"", 12);
	t[nlines - 1] = forged;
	assert_int_equal(verify(t, nlines, &x, &st), 1);
	assert_int_equal(x.kind[0], AGENT_AF_ALTERED);
	assert_int_equal(x.line[0], nlines);

	/* insert a forged line after line 4: foreign, at line 5 */
	memcpy(t, lines, 4 * sizeof(*t));
	snprintf(forged, sizeof(forged),
		 "v=2 seq=5 time=\"2026-11-22T15:30:00.000Z\" event=\"auth\" decision=\"allow\" "
		 "identity=\"agent-k7f3q2\" prev=\"%032d\" mac=\"%032d\"",
		 0, 0);
	t[4] = forged;
	memcpy(&t[5], &lines[4], (nlines - 4) * sizeof(*t));
	assert_int_equal(verify(t, nlines + 1, &x, &st), 1);
	assert_int_equal(x.kind[0], AGENT_AF_FOREIGN);
	assert_int_equal(x.line[0], 5);

	/* a copy of line 2 inserted after line 6: a duplicate (and out of order) */
	memcpy(t, lines, 6 * sizeof(*t));
	t[6] = lines[1];
	memcpy(&t[7], &lines[6], (nlines - 6) * sizeof(*t));
	assert_int_equal(verify(t, nlines + 1, &x, &st), 2);
	assert_int_equal(x.line[0], 7);
	assert_int_equal(x.line[1], 7);

	/* a record without its MAC, and a v=1 record */
	memcpy(t, lines, sizeof(t));
	snprintf(forged, sizeof(forged), "%.*s", (int)(strstr(lines[3], " prev=") - lines[3]),
		 lines[3]);
	t[3] = forged;
	t[5] = (char *)"v=1 seq=3 event=\"create\" decision=\"allow\"";
	assert_int_equal(verify(t, nlines, &x, &st), 4);
	assert_int_equal(x.kind[0], AGENT_AF_FOREIGN);
	assert_int_equal(x.line[0], 4);
	assert_int_equal(x.kind[1], AGENT_AF_GAP); /* seq 4 is gone */
	assert_int_equal(x.line[1], 5);
	assert_int_equal(x.kind[2], AGENT_AF_UNCHAINED);
	assert_int_equal(x.line[2], 6);
	assert_int_equal(x.kind[3], AGENT_AF_GAP); /* and seq 6 */
	assert_int_equal(x.line[3], 7);
}

static void test_restart_and_crash(void **state)
{
	struct agent_audit a;
	struct agent_audit_vstats st;
	struct found x;
	size_t crash_at;

	(void)state;
	/* a clean restart continues the chain */
	scenario(&a, 5);
	record(&a, "stop", NULL, NULL);
	agent_audit_close(&a);
	open_chain(&a);
	assert_string_equal(a.resume, "continued");
	record(&a, "start", NULL, NULL);
	assert_non_null(strstr(lines[6], "seq=7 "));
	assert_non_null(strstr(lines[6], "audit=\"continued\""));
	record(&a, "auth", NULL, NULL);
	record(&a, "account", NULL, NULL);
	/* then a crash: no clean checkpoint (the fd is just dropped) */
	close(a.dirfd);
	closelog();
	crash_at = nlines;
	open_chain(&a);
	assert_string_equal(a.resume, "crash");
	record(&a, "start", NULL, NULL);
	/* the last checkpoint was taken after the start record (seq 7) */
	{
		char want[64];

		snprintf(want, sizeof(want), "seq=%d ", 7 + AGENT_AUDIT_CHECKPOINT_EVERY + 1);
		assert_non_null(strstr(lines[crash_at], want));
		snprintf(want, sizeof(want), "audit=\"crash\" lost_from=8 lost_to=%d",
			 7 + AGENT_AUDIT_CHECKPOINT_EVERY);
		assert_non_null(strstr(lines[crash_at], want));
	}
	record(&a, "auth", NULL, NULL);
	agent_audit_close(&a);
	assert_int_equal(verify(lines, nlines, &x, &st), 0);
	assert_int_equal(x.n, 1);
	/* 10 to 7 + AGENT_AUDIT_CHECKPOINT_EVERY never issued or lost */
	assert_int_equal(x.kind[0], AGENT_AF_NOTE_LOST);
	assert_int_equal(x.line[0], crash_at + 1);
	assert_int_equal(st.last_seq, 7 + AGENT_AUDIT_CHECKPOINT_EVERY + 2);

	/* reading from the middle of the chain (a rotated log) */
	assert_int_equal(verify(lines + 3, nlines - 3, &x, &st), 0);
	assert_int_equal(x.kind[0], AGENT_AF_NOTE_ANCHOR);
	assert_int_equal(x.line[0], 1);

	/* deletions are not excused by the crash: before the range, and
	 * inside it when a later record of the crashed run is there (seq 8) */
	{
		char *t[MAXLINES];

		memcpy(t, lines, sizeof(t));
		memmove(&t[2], &t[3], (nlines - 3) * sizeof(*t));
		assert_int_equal(verify(t, nlines - 1, &x, &st), 1);
		assert_int_equal(x.kind[0], AGENT_AF_GAP);
		assert_int_equal(x.line[0], 3);
		memcpy(t, lines, sizeof(t));
		memmove(&t[7], &t[8], (nlines - 8) * sizeof(*t));
		assert_int_equal(verify(t, nlines - 1, &x, &st), 1);
		assert_int_equal(x.kind[0], AGENT_AF_GAP);
		assert_int_equal(x.line[0], 8);
	}
}

static void test_checkpoint_every(void **state)
{
	struct agent_audit a;
	char path[256], buf[256];
	FILE *f;

	(void)state;
	scenario(&a, AGENT_AUDIT_CHECKPOINT_EVERY + 3);
	snprintf(path, sizeof(path), "%s/%s", dir, AGENT_AUDIT_STATE_FILE);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	/* after the first record, then after EVERY more */
	snprintf(path, sizeof(path), "v=1 seq=%d mac=\"", AGENT_AUDIT_CHECKPOINT_EVERY + 1);
	assert_true(strncmp(buf, path, strlen(path)) == 0);
	assert_non_null(strstr(buf, " clean=0\n"));
	agent_audit_close(&a);
	f = fopen((snprintf(path, sizeof(path), "%s/%s", dir, AGENT_AUDIT_STATE_FILE), path), "r");
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_non_null(strstr(buf, " clean=1\n"));

	/* a damaged checkpoint stops the chain from opening */
	f = fopen(path, "w");
	fputs("garbage\n", f);
	fclose(f);
	agent_audit_open(&a, 0);
	assert_int_equal(agent_audit_chain_open(&a, dir), -EBADMSG);
	closelog();
}

static void test_values_roundtrip(void **state)
{
	static const char *const values[] = {
		"two words",
		"a \"quoted\" word",
		"line\nbreak",
		"tab\tand\rcr",
		"bell\a esc\x1b",
		"back\\slash",
		"caf\xc3\xa9 \xe2\x9c\x93",
		"mac=\"0000\" prev=\"x\"",
		"\x7f",
		"",
	};
	struct agent_audit a;
	struct agent_audit_fields *f = malloc(sizeof(*f));
	struct agent_audit_vstats st;
	struct found x;

	(void)state;
	assert_non_null(f);
	open_chain(&a);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		record(&a, "create", "task", values[i]);
	agent_audit_close(&a);
	for (size_t i = 0; i < nlines; i++) {
		for (const char *p = lines[i]; *p; p++)
			assert_true(*p >= 0x20 && *p < 0x7f); /* one printable line */
		assert_int_equal(agent_audit_fields_parse(lines[i], f), 0);
		assert_string_equal(agent_audit_field(f, "task"), values[i]);
		assert_string_equal(agent_audit_field(f, "identity"), "agent-k7f3q2");
	}
	assert_int_equal(verify(lines, nlines, &x, &st), 0);
	assert_int_equal(st.verified, nlines);
	free(f);
}

static void test_oversize_drops_fields(void **state)
{
	struct agent_audit a;
	struct agent_audit_vstats st;
	struct found x;
	char big[1200];

	(void)state;
	memset(big, '\x01', sizeof(big) - 1); /* 4 bytes each once escaped */
	big[sizeof(big) - 1] = '\0';
	open_chain(&a);
	record(&a, "create", "task", big);
	agent_audit_close(&a);
	assert_true(strlen(lines[0]) < AGENT_AUDIT_LINE_MAX);
	assert_null(strstr(lines[0], "task="));
	assert_non_null(strstr(lines[0], " identity=\"agent-k7f3q2\" dropped=1 prev=\""));
	assert_int_equal(verify(lines, nlines, &x, &st), 0);
}

static void test_line_split(void **state)
{
	const char *m;

	(void)state;
	assert_int_equal(agent_audit_line_split("v=2 seq=1", &m), AGENT_LINE_RECORD);
	assert_string_equal(m, "v=2 seq=1");
	assert_int_equal(agent_audit_line_split("Nov 22 15:30:00 host agentd[42]: v=2 seq=1", &m),
			 AGENT_LINE_RECORD);
	assert_string_equal(m, "v=2 seq=1");
	assert_int_equal(agent_audit_line_split("Nov  2 05:30:00 host agentd[42]: v=2 x=1", &m),
			 AGENT_LINE_RECORD);
	assert_int_equal(agent_audit_line_split(
				 "2026-11-22T15:30:00.123456+00:00 host agentd[42]: v=2 seq=1", &m),
			 AGENT_LINE_RECORD);
	assert_string_equal(m, "v=2 seq=1");
	assert_int_equal(agent_audit_line_split("2026-11-22T15:30:00Z h agentd: v=2 seq=1", &m),
			 AGENT_LINE_RECORD);
	assert_int_equal(
		agent_audit_line_split(
			"2026-11-22T15:30:00.1+00:00 host agentd[42]: store: cannot purge", &m),
		AGENT_LINE_AGENTD);
	assert_int_equal(
		agent_audit_line_split("2026-11-22T15:30:00.1+00:00 host sshd[7]: v=2 seq=1", &m),
		AGENT_LINE_OTHER);
	assert_int_equal(agent_audit_line_split("Nov 22 15:30:00 host agentdx[1]: v=2", &m),
			 AGENT_LINE_OTHER);
	assert_int_equal(agent_audit_line_split("", &m), AGENT_LINE_OTHER);
	assert_int_equal(agent_audit_line_split("garbage", &m), AGENT_LINE_OTHER);
}

static void test_syslog_lines_verify(void **state)
{
	struct agent_audit a;
	struct agent_audit_vstats st;
	struct found x;
	char *t[MAXLINES];
	size_t n = 0;

	(void)state;
	scenario(&a, 4);
	agent_audit_close(&a);
	for (size_t i = 0; i < nlines; i++) {
		char *l;

		assert_true(asprintf(&l,
				     i % 2 ? "Nov 22 15:30:0%zu host agentd[42]: %s"
					   : "2026-11-22T15:30:0%zu.5+00:00 host agentd[42]: %s",
				     i, lines[i]) > 0);
		t[n++] = l;
		t[n++] = strdup("Nov 22 15:30:00 host sudo: alice : TTY=pts/0 ; COMMAND=/bin/true");
	}
	assert_int_equal(verify(t, n, &x, &st), 0);
	assert_int_equal(st.verified, nlines);
	for (size_t i = 0; i < n; i++)
		free(t[i]);
}

/* ------------------------------------------------------------ key files */

static void write_key(const char *path, size_t len, mode_t mode)
{
	uint8_t k[64];
	int fd;

	memset(k, 0x5a, sizeof(k));
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, k, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_keyfile_checks(void **state)
{
	uint8_t k[AGENT_AUDIT_KEY_BYTES], zero[AGENT_AUDIT_KEY_BYTES] = { 0 };
	char path[256], link[256], fifo[256];
	uid_t me = geteuid();

	(void)state;
	snprintf(path, sizeof(path), "%s/k.key", dir);
	snprintf(link, sizeof(link), "%s/link.key", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo.key", dir);

	write_key(path, sizeof(k), 0600);
	assert_int_equal(agent_keyfile_read(AT_FDCWD, path, me, k, sizeof(k)), 0);
	assert_int_equal(k[0], 0x5a);
	assert_int_equal(agent_audit_key_read(path, k), 0);
	write_key(path, sizeof(k), 0400);
	assert_int_equal(agent_keyfile_read(AT_FDCWD, path, me, k, sizeof(k)), 0);

	/* a symlink to a good key file is not followed */
	write_key(path, sizeof(k), 0600);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(agent_keyfile_read(AT_FDCWD, link, me, k, sizeof(k)), -ELOOP);
	assert_memory_equal(k, zero, sizeof(k)); /* wiped on failure */
	assert_int_equal(agent_audit_key_read(link, k), -ELOOP);

	/* any group or other permission bit */
	for (mode_t m = 01; m <= 040; m <<= 1) {
		write_key(path, sizeof(k), 0600 | m);
		assert_int_equal(agent_keyfile_read(AT_FDCWD, path, me, k, sizeof(k)), -EPERM);
	}
	write_key(path, sizeof(k), 0640);
	assert_int_equal(agent_audit_key_read(path, k), -EPERM); /* the verifier's reader too */

	/* wrong sizes */
	write_key(path, sizeof(k) - 1, 0600);
	assert_int_equal(agent_keyfile_read(AT_FDCWD, path, me, k, sizeof(k)), -EINVAL);
	write_key(path, sizeof(k) + 1, 0600);
	assert_int_equal(agent_keyfile_read(AT_FDCWD, path, me, k, sizeof(k)), -EINVAL);
	write_key(path, 0, 0600);
	assert_int_equal(agent_keyfile_read(AT_FDCWD, path, me, k, sizeof(k)), -EINVAL);

	/* wrong owner: a file of another uid (as root), or ours when another
	 * owner is required (as anyone else); root's is always accepted */
	write_key(path, sizeof(k), 0600);
	if (me == 0) {
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(agent_keyfile_read(AT_FDCWD, path, 0, k, sizeof(k)), -EPERM);
		assert_int_equal(agent_audit_key_read(path, k), -EPERM);
	} else {
		assert_int_equal(agent_keyfile_read(AT_FDCWD, path, me + 1, k, sizeof(k)), -EPERM);
	}

	/* not a regular file: a FIFO (opened without blocking), a directory */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(agent_keyfile_read(AT_FDCWD, fifo, me, k, sizeof(k)), -EPERM);
	assert_int_equal(agent_keyfile_read(AT_FDCWD, dir, me, k, sizeof(k)), -EPERM);
	assert_int_equal(agent_keyfile_read(AT_FDCWD, "/nonexistent/k", me, k, sizeof(k)), -ENOENT);
}

static void test_keyfile_load_creates(void **state)
{
	uint8_t k1[32], k2[32];
	char path[256];
	struct stat sb;

	(void)state;
	snprintf(path, sizeof(path), "%s/new.key", dir);
	assert_int_equal(agent_keyfile_load(dir, "new.key", k1, sizeof(k1)), 0);
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_size, sizeof(k1));
	assert_int_equal(agent_keyfile_load(dir, "new.key", k2, sizeof(k2)), 0);
	assert_memory_equal(k1, k2, sizeof(k1));
	/* an existing but unsafe file is refused, never replaced */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(agent_keyfile_load(dir, "new.key", k2, sizeof(k2)), -EPERM);
	assert_int_equal(lstat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
}

/* ------------------------------------------------------------ fleet */

static void test_host_valid(void **state)
{
	char longname[AGENT_AUDIT_HOST_MAX + 2];

	(void)state;
	assert_true(agent_audit_host_valid("web1"));
	assert_true(agent_audit_host_valid("web-1.example.org"));
	assert_true(agent_audit_host_valid("9_x"));
	assert_false(agent_audit_host_valid(""));
	assert_false(agent_audit_host_valid(".."));
	assert_false(agent_audit_host_valid(".hidden"));
	assert_false(agent_audit_host_valid("-x"));
	assert_false(agent_audit_host_valid("a/b"));
	assert_false(agent_audit_host_valid("../etc/shadow"));
	assert_false(agent_audit_host_valid("a b"));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(agent_audit_host_valid(longname));
	longname[AGENT_AUDIT_HOST_MAX] = '\0';
	assert_true(agent_audit_host_valid(longname));
}

/* Copies DIR/SUB/audit.key to DIR/keys/HOST.key. */
static void copy_key(const char *sub, const char *host)
{
	uint8_t k[AGENT_AUDIT_KEY_BYTES];
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, AGENT_AUDIT_KEY_FILE);
	assert_int_equal(agent_audit_key_read(path, k), 0);
	snprintf(path, sizeof(path), "%s/keys/%s.key", dir, host);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, k, sizeof(k)), (ssize_t)sizeof(k));
	close(fd);
}

static void test_keyring(void **state)
{
	struct agent_audit_keyring *kr;
	char keys[256], path[256];
	int err = 0;

	(void)state;
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	assert_int_equal(mkdir(keys, 0777), 0);
	assert_int_equal(chmod(keys, 0777), 0);
	assert_null(agent_audit_keyring_open(keys, &err)); /* others may write there */
	assert_int_equal(err, -EPERM);
	assert_int_equal(chmod(keys, 0755), 0);
	assert_null(agent_audit_keyring_open("/nonexistent", &err));
	assert_int_equal(err, -ENOENT);
	snprintf(path, sizeof(path), "%s/keys/h1.key", dir);
	write_key(path, AGENT_AUDIT_KEY_BYTES, 0600);
	snprintf(path, sizeof(path), "%s/keys/h2.key", dir);
	write_key(path, AGENT_AUDIT_KEY_BYTES, 0644);
	snprintf(path, sizeof(path), "%s/keys/h3.key", dir);
	assert_int_equal(symlink("h1.key", path), 0);
	kr = agent_audit_keyring_open(keys, &err);
	assert_non_null(kr);
	assert_non_null(agent_audit_keyring_get(kr, "h1", &err));
	assert_null(agent_audit_keyring_get(kr, "h2", &err));
	assert_int_equal(err, -EPERM);
	assert_null(agent_audit_keyring_get(kr, "h3", &err));
	assert_int_equal(err, -ELOOP);
	assert_null(agent_audit_keyring_get(kr, "h4", &err));
	assert_int_equal(err, -ENOENT);
	assert_null(agent_audit_keyring_get(kr, "../keys/h1", &err));
	assert_int_equal(err, -EINVAL);
	assert_null(agent_audit_keyring_get(kr, "", &err));
	assert_int_equal(err, -EINVAL);
	/* the answer is kept: a key removed later still reads as before */
	snprintf(path, sizeof(path), "%s/keys/h1.key", dir);
	unlink(path);
	assert_non_null(agent_audit_keyring_get(kr, "h1", &err));
	agent_audit_keyring_free(kr);
}

struct fleet_seen {
	int n;
	char host[32][16];
	enum agent_audit_kind kind[32];
	unsigned long line[32];
	int nsum;
	struct agent_audit_host_summary sum[8];
	char sumhost[8][16];
};

static void fleet_finding(const char *host, const struct agent_audit_finding *f, void *arg)
{
	struct fleet_seen *x = arg;

	if (x->n < 32) {
		snprintf(x->host[x->n], sizeof(x->host[0]), "%s", host);
		x->kind[x->n] = f->kind;
		x->line[x->n] = f->line;
		x->n++;
	}
}

static void fleet_summary(const struct agent_audit_host_summary *s, void *arg)
{
	struct fleet_seen *x = arg;

	if (x->nsum < 8) {
		x->sum[x->nsum] = *s;
		snprintf(x->sumhost[x->nsum], sizeof(x->sumhost[0]), "%s", s->host);
		x->nsum++;
	}
}

static int fleet_verify(char **l, size_t n, struct fleet_seen *x, unsigned *nhosts)
{
	struct agent_audit_keyring *kr;
	struct agent_audit_fleet *f;
	char keys[256];
	int err, r;

	snprintf(keys, sizeof(keys), "%s/keys", dir);
	kr = agent_audit_keyring_open(keys, &err);
	assert_non_null(kr);
	f = agent_audit_fleet_new(kr);
	assert_non_null(f);
	memset(x, 0, sizeof(*x));
	for (size_t i = 0; i < n; i++)
		if (l[i])
			assert_int_equal(agent_audit_fleet_line(f, "c", i + 1, l[i]), 0);
	r = agent_audit_fleet_finish(f, fleet_finding, fleet_summary, x, nhosts);
	agent_audit_fleet_free(f);
	agent_audit_keyring_free(kr);
	return r;
}

/* Two hosts' chains of 6 records each, interleaved as a collector writes
 * them, with another program's line between. */
static size_t fleet_input(char **t)
{
	struct agent_audit a;
	char sub[256], keys[256];
	size_t n = 0;

	for (int h = 0; h < 2; h++) {
		snprintf(sub, sizeof(sub), "%s/%c", dir, 'a' + h);
		assert_int_equal(mkdir(sub, 0700), 0);
		agent_audit_open(&a, 0);
		a.sink = sink;
		assert_int_equal(agent_audit_chain_open(&a, sub), 0);
		record(&a, "start", NULL, NULL);
		for (int i = 1; i < 6; i++)
			record(&a, "auth", "service", "su");
		agent_audit_close(&a);
	}
	assert_int_equal(nlines, 12);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	assert_int_equal(mkdir(keys, 0700), 0);
	copy_key("a", "web1");
	copy_key("b", "web2");
	for (size_t i = 0; i < 6; i++)
		for (int h = 0; h < 2; h++) {
			assert_true(asprintf(&t[n++],
					     "2026-11-22T15:30:0%zu.5+00:00 web%d agentd[4%d]: %s",
					     i, h + 1, h, lines[6 * (size_t)h + i]) > 0);
			if (h == 0)
				t[n++] = strdup("2026-11-22T15:30:00.1+00:00 web2 sshd[9]: hello");
		}
	return n; /* line 3k+1: web1 record k+1; 3k+3: web2 record k+1 */
}

static void test_fleet_interleaved(void **state)
{
	struct fleet_seen x;
	char *t[64];
	unsigned nhosts;
	size_t n;

	(void)state;
	n = fleet_input(t);
	assert_int_equal(fleet_verify(t, n, &x, &nhosts), 0);
	assert_int_equal(nhosts, 2);
	assert_int_equal(x.nsum, 2);
	assert_string_equal(x.sumhost[0], "web1");
	assert_string_equal(x.sumhost[1], "web2");
	for (int h = 0; h < 2; h++) {
		assert_int_equal(x.sum[h].st.verified, 6);
		assert_int_equal(x.sum[h].st.first_seq, 1);
		assert_int_equal(x.sum[h].st.last_seq, 6);
		assert_int_equal(x.sum[h].st.findings, 0);
	}
	/* one verifier for all would have called the other host's records
	 * foreign: the single-key verifier does */
	{
		struct found y;
		struct agent_audit_vstats st;
		uint8_t k[AGENT_AUDIT_KEY_BYTES];
		struct agent_audit_vfy *v;
		char path[256];

		snprintf(path, sizeof(path), "%s/keys/web1.key", dir);
		assert_int_equal(agent_audit_key_read(path, k), 0);
		v = agent_audit_vfy_new(k);
		memset(&y, 0, sizeof(y));
		for (size_t i = 0; i < n; i++)
			assert_int_equal(agent_audit_vfy_line(v, "c", i + 1, t[i]), 0);
		assert_int_equal(agent_audit_vfy_finish(v, collect, &y, &st), 6);
		agent_audit_vfy_free(v);
	}

	/* delete web2's 4th record (line 12): a gap in web2 where its
	 * sequence resumes (line 15), web1 clean */
	free(t[11]);
	t[11] = NULL;
	assert_int_equal(fleet_verify(t, n, &x, &nhosts), 1);
	assert_int_equal(x.sum[0].st.findings, 0);
	assert_int_equal(x.sum[1].st.findings, 1);
	for (int i = 0; i < x.n; i++)
		if (!agent_audit_kind_is_note(x.kind[i])) {
			assert_string_equal(x.host[i], "web2");
			assert_int_equal(x.kind[i], AGENT_AF_GAP);
			assert_int_equal(x.line[i], 15);
		}
	for (size_t i = 0; i < n; i++)
		free(t[i]);
}

static void test_fleet_unknown_host(void **state)
{
	struct fleet_seen x;
	char *t[64], path[256];
	unsigned nhosts;
	size_t n;
	bool saw_web2 = false, saw_bare = false;

	(void)state;
	n = fleet_input(t);
	/* web2 has no key; a bare record has no host at all */
	snprintf(path, sizeof(path), "%s/keys/web2.key", dir);
	assert_int_equal(unlink(path), 0);
	t[n++] = strdup(lines[0]);
	assert_int_equal(fleet_verify(t, n, &x, &nhosts), 2);
	assert_int_equal(nhosts, 3);
	for (int i = 0; i < x.n; i++) {
		if (x.kind[i] != AGENT_AF_UNKNOWN_HOST)
			continue;
		if (strcmp(x.host[i], "web2") == 0) {
			saw_web2 = true;
			assert_int_equal(x.line[i], 3); /* its first record */
		} else if (x.host[i][0] == '\0') {
			saw_bare = true;
			assert_int_equal(x.line[i], n);
		}
	}
	assert_true(saw_web2);
	assert_true(saw_bare);
	assert_string_equal(x.sumhost[2], "web2");
	assert_int_equal(x.sum[2].records, 6);
	assert_int_equal(x.sum[2].key_error, -ENOENT);
	assert_int_equal(x.sum[1].st.verified, 6); /* web1 */

	/* trace with the key ring: web1's records authenticated, web2's
	 * unchecked (marked ?), each shown with its host */
	{
		struct agent_audit_keyring *kr;
		struct agent_audit_trace *tr;
		char keys[256], *out = NULL;
		size_t outlen = 0;
		FILE *mem;
		int err;

		snprintf(keys, sizeof(keys), "%s/keys", dir);
		kr = agent_audit_keyring_open(keys, &err);
		assert_non_null(kr);
		tr = agent_audit_trace_new("agent-k7f3q2", NULL);
		assert_non_null(tr);
		agent_audit_trace_keyring(tr, kr);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(agent_audit_trace_line(tr, "c", i + 1, t[i]), 0);
		mem = open_memstream(&out, &outlen);
		assert_non_null(mem);
		assert_int_equal(agent_audit_trace_print(tr, mem, false), 13);
		fclose(mem);
		assert_non_null(strstr(out, "\nhosts:     web1 web2 (none)\n"));
		assert_non_null(
			strstr(out, "records:   13, 7 not authenticated (no key for their host"));
		assert_non_null(strstr(out, "\n  web1 "));
		assert_non_null(strstr(out, "\n? web2 "));
		free(out);
		agent_audit_trace_free(tr);
		/* --host: only web1's, all authentic */
		tr = agent_audit_trace_new("agent-k7f3q2", NULL);
		agent_audit_trace_keyring(tr, kr);
		agent_audit_trace_host(tr, "web1");
		for (size_t i = 0; i < n; i++)
			assert_int_equal(agent_audit_trace_line(tr, "c", i + 1, t[i]), 0);
		mem = open_memstream(&out, &outlen);
		assert_int_equal(agent_audit_trace_print(tr, mem, false), 6);
		fclose(mem);
		assert_non_null(strstr(out, "records:   6, each authenticated"));
		free(out);
		agent_audit_trace_free(tr);
		agent_audit_keyring_free(kr);
	}
	for (size_t i = 0; i < n; i++)
		free(t[i]);
}

static void test_line_split_host(void **state)
{
	char host[16];
	const char *m;

	(void)state;
	assert_int_equal(
		agent_audit_line_split_host("2026-11-22T15:30:00.5+00:00 web1 agentd[1]: v=2 x", &m,
					    host, sizeof(host)),
		AGENT_LINE_RECORD);
	assert_string_equal(host, "web1");
	assert_int_equal(agent_audit_line_split_host("Nov 22 15:30:00 db.example agentd: oops", &m,
						     host, sizeof(host)),
			 AGENT_LINE_AGENTD);
	assert_string_equal(host, "db.example");
	assert_int_equal(agent_audit_line_split_host("v=2 seq=1", &m, host, sizeof(host)),
			 AGENT_LINE_RECORD);
	assert_string_equal(host, "");
	/* a name longer than the buffer is not cut: it is left out */
	assert_int_equal(
		agent_audit_line_split_host("Nov 22 15:30:00 a-very-long-host-name agentd: v=2", &m,
					    host, sizeof(host)),
		AGENT_LINE_RECORD);
	assert_string_equal(host, "");
}

/* ------------------------------------------------------------ the way out */

static char logpath[300];
static char *rx[MAXLINES];
static size_t nrx;

/* A syslog socket of our own that reads only when told to. */
static int rx_open(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	unlink(logpath);
	strcpy(sun.sun_path, logpath);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Reads what waits on fd; keeps the message after "agentd[PID]: ". */
static size_t rx_drain(int fd)
{
	char buf[4096];
	ssize_t n;
	size_t got = 0;

	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		char *m;

		buf[n] = '\0';
		assert_true(buf[0] == '<' && strchr(buf, '>'));
		m = strstr(buf, "agentd[");
		assert_non_null(m);
		m = strstr(m, "]: ");
		assert_non_null(m);
		assert_true(nrx < MAXLINES);
		rx[nrx++] = strdup(m + 3);
		got++;
	}
	return got;
}

static void rx_free(void)
{
	for (size_t i = 0; i < nrx; i++)
		free(rx[i]);
	nrx = 0;
}

/* Pumps and reads until nothing waits; the clock jumps past each back-off. */
static void deliver_all(struct agent_audit *a, int fd)
{
	static uint64_t now = 1ull << 40;
	int idle = 0;

	for (int i = 0; i < 100000 && idle < 2; i++) {
		int r = agent_audit_pump_at(a, now += 1000);

		idle = (r < 0 && rx_drain(fd) == 0) ? idle + 1 : 0;
		if (r >= 0)
			rx_drain(fd);
	}
	assert_int_equal(agent_audit_pump_at(a, now += 1000), -1);
	assert_false(agent_audit_out_busy(&a->out));
}

static void open_out(struct agent_audit *a)
{
	agent_audit_open(a, 0);
	a->out.path = logpath;
	a->sink = sink;
	assert_int_equal(agent_audit_chain_open(a, dir), 0);
}

/* The records of rx[] only (diagnostics left out), as verify's input. */
static size_t rx_records(char **t)
{
	size_t n = 0;

	for (size_t i = 0; i < nrx; i++)
		if (strncmp(rx[i], "v=", 2) == 0)
			t[n++] = rx[i];
	return n;
}

static bool spill_exists(void)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%s", dir, AGENT_AUDIT_SPILL_FILE);
	return access(path, F_OK) == 0;
}

static void test_stall_spills_in_order(void **state)
{
	struct agent_audit a;
	struct agent_audit_vstats st;
	struct found x;
	char *t[MAXLINES];
	size_t n, k, full;
	int fd;

	(void)state;
	fd = rx_open();
	open_out(&a);
	record(&a, "start", NULL, NULL);
	/* until the socket is full (its size is the host's), then 50 more */
	for (k = 1, full = 0; (full == 0 || k < full + 50) && k < MAXLINES; k++) {
		record(&a, "auth", "service", "su");
		if (!full && a.out.spilled)
			full = k;
	}
	/* the reader never read: the socket holds a few, memory and the
	 * spill file the rest, and the pump asks to be called again */
	assert_true(a.out.spilled > 0);
	assert_true(spill_exists());
	assert_true(agent_audit_pump_at(&a, 0) > 0);
	deliver_all(&a, fd);
	assert_false(spill_exists());
	n = rx_records(t);
	assert_int_equal(n, k);
	for (size_t i = 0; i < n; i++) {
		char want[32];

		snprintf(want, sizeof(want), "v=2 seq=%zu ", i + 1);
		assert_memory_equal(t[i], want, strlen(want));
	}
	assert_int_equal(verify(t, n, &x, &st), 0);
	assert_int_equal(st.verified, k);
	agent_audit_close(&a);
	close(fd);
	rx_free();
}

static void test_spill_survives_restart(void **state)
{
	struct agent_audit a;
	struct agent_audit_vstats st;
	struct found x;
	char *t[MAXLINES];
	size_t n, k;
	int fd;

	(void)state;
	fd = rx_open();
	open_out(&a);
	record(&a, "start", NULL, NULL);
	/* as many as it takes to fill the socket (its size is the host's) */
	for (k = 1; a.out.spilled == 0 && k < MAXLINES - 8; k++)
		record(&a, "auth", "service", "su");
	assert_true(a.out.spilled > 0);
	record(&a, "stop", NULL, NULL);
	k++;
	agent_audit_close(&a); /* syslog still stalled: the rest stays spilled */
	assert_true(spill_exists());
	open_out(&a);
	assert_string_equal(a.resume, "continued");
	record(&a, "start", NULL, NULL);
	for (int i = 0; i < 5; i++)
		record(&a, "auth", "service", "su");
	deliver_all(&a, fd);
	assert_false(spill_exists());
	n = rx_records(t);
	assert_int_equal(n, k + 6);
	/* the old run's records first, in order, then the new run's */
	for (size_t i = 0; i < n; i++) {
		char want[32];

		snprintf(want, sizeof(want), "v=2 seq=%zu ", i + 1);
		assert_memory_equal(t[i], want, strlen(want));
	}
	assert_non_null(strstr(t[k], "event=\"start\" audit=\"continued\""));
	assert_int_equal(verify(t, n, &x, &st), 0);
	agent_audit_close(&a);
	close(fd);
	rx_free();
}

static void test_syslog_restart_reconnects(void **state)
{
	struct agent_audit a;
	struct agent_audit_vstats st;
	struct found x;
	char *t[MAXLINES];
	int fd;

	(void)state;
	fd = rx_open();
	open_out(&a);
	record(&a, "start", NULL, NULL);
	record(&a, "auth", NULL, NULL);
	assert_int_equal(rx_drain(fd), 2);
	/* syslog goes away: records wait; it comes back on a new socket */
	close(fd);
	unlink(logpath);
	record(&a, "auth", NULL, NULL);
	record(&a, "account", NULL, NULL);
	assert_true(agent_audit_out_busy(&a.out));
	assert_int_equal(a.out.conn_err, ENOENT);
	fd = rx_open();
	record(&a, "session-close", NULL, NULL);
	deliver_all(&a, fd);
	assert_int_equal(rx_records(t), 5);
	assert_non_null(strstr(t[4], "seq=5 "));
	assert_int_equal(verify(t, 5, &x, &st), 0);
	agent_audit_close(&a);
	close(fd);
	rx_free();
}

struct lost {
	uint64_t from, to, count;
};

static int lost_cb(const char *key, const char *value, void *arg)
{
	struct lost *l = arg;

	if (strcmp(key, "lost_from") == 0)
		l->from = strtoull(value, NULL, 10);
	else if (strcmp(key, "lost_to") == 0)
		l->to = strtoull(value, NULL, 10);
	else if (strcmp(key, "count") == 0)
		l->count = strtoull(value, NULL, 10);
	return 0;
}

static void test_disk_full_loss_is_declared(void **state)
{
	struct agent_audit a;
	struct agent_audit_vstats st;
	struct found x;
	struct rlimit old, small;
	char *t[MAXLINES];
	bool seen[400] = { false }, declared[400] = { false };
	size_t n, gaps = 0, markers = 0;
	bool diag = false;
	int fd;

	(void)state;
	fd = rx_open();
	open_out(&a);
	a.out.mem_max = 8192;
	record(&a, "start", NULL, NULL);
	/* a disk with room for a few lines of the spill file only */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 4096;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	for (int i = 1; i < 300; i++)
		record(&a, "auth", "service", "su");
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	/* a short write reads as ENOSPC, the next one as EFBIG */
	assert_true(a.out.spill_err == EFBIG || a.out.spill_err == ENOSPC);
	assert_true(a.out.refused > 0);
	assert_true(a.out.qbytes <= 8192 + 1024); /* the bound, and a note */
	deliver_all(&a, fd);
	for (size_t i = 0; i < nrx; i++)
		if (strstr(rx[i], "cannot spill audit records to audit.spill"))
			diag = true;
	assert_true(diag);
	n = rx_records(t);
	/* every seq arrived or lies in a range an audit-lost record names */
	for (size_t i = 0; i < n; i++) {
		uint64_t seq = strtoull(t[i] + strlen("v=2 seq="), NULL, 10);

		assert_true(seq < 400);
		seen[seq] = true;
		if (strstr(t[i], "event=\"audit-lost\"")) {
			struct lost l = { 0 };

			assert_int_equal(agent_kv_parse(t[i], lost_cb, &l), 0);
			assert_true(l.from && l.to >= l.from && l.to < seq);
			assert_int_equal(l.count, l.to - l.from + 1);
			assert_true(strstr(t[i], "reason=\"File too large\"") ||
				    strstr(t[i], "reason=\"No space left on device\""));
			for (uint64_t s = l.from; s <= l.to; s++)
				declared[s] = true;
			markers++;
		}
	}
	assert_true(markers >= 1);
	for (uint64_t s = 1; s <= a.seq; s++) {
		assert_true(seen[s] != declared[s]);
		if (!seen[s] && seen[s - 1])
			gaps++;
	}
	/* and verify reports each hole as a gap: the loss is not hidden */
	assert_int_equal(verify(t, n, &x, &st), (int)gaps);
	for (int i = 0; i < x.n; i++)
		assert_int_equal(x.kind[i], AGENT_AF_GAP);
	agent_audit_close(&a);
	close(fd);
	rx_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_and_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_every, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_drops_fields, setup, teardown),
		cmocka_unit_test(test_line_split),
		cmocka_unit_test_setup_teardown(test_syslog_lines_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyfile_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyfile_load_creates, setup, teardown),
		cmocka_unit_test(test_host_valid),
		cmocka_unit_test_setup_teardown(test_keyring, setup, teardown),
		cmocka_unit_test(test_line_split_host),
		cmocka_unit_test_setup_teardown(test_fleet_interleaved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fleet_unknown_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall_spills_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spill_survives_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syslog_restart_reconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full_loss_is_declared, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
