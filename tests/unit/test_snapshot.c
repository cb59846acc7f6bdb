/* Unit tests: the NSS snapshot writer and reader, corrupt snapshots, the
 * locator file in every state (truncated in place while attached, zero
 * length, short, replaced, deleted, another boot's), segment checks, and
 * readers racing a writer. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/tmpdir.h"

#include "common/snapshot.h"
#include "common/snapshot_format.h"

#define UMIN 1879048192u

static char dir[] = "/tmp/agentd-snap.XXXXXX";
static char path[128];

static const struct agent_snap_purpose purposes[2] = {
	{ .name = "ci",
	  .shell = "/bin/bash",
	  .home_base = "/home/agents",
	  .ngroups = 2,
	  .gids = { 100, 27 } },
	{ .name = "research", .shell = "/bin/sh", .home_base = "" },
};

static struct agent_snap_writer *make(uint32_t nslots)
{
	struct agent_snap_params p = {
		.uid_min = UMIN,
		.uid_max = UMIN + nslots - 1,
		.purposes = purposes,
		.npurposes = 2,
		.agents_group = "agents",
		.agents_gid = 1879113728,
	};
	struct agent_snap_writer *w = NULL;

	assert_int_equal(agent_snap_writer_create(path, &p, &w), 0);
	return w;
}

static struct agent_snap_entry entry(uint32_t uid, const char *name)
{
	struct agent_snap_entry e = {
		.uid = uid, .purpose = uid % 2, .expires = 2000000000, .expires_boot_ns = 42
	};

	snprintf(e.name, sizeof(e.name), "%s", name);
	snprintf(e.subject, sizeof(e.subject), "u%u", uid - UMIN);
	return e;
}

static void test_put_lookup_remove(void **state)
{
	struct agent_snap_writer *w = make(64);
	struct agent_snap_map m;
	struct agent_snap_entry e, got;
	struct agent_snap_purpose p;
	char gname[AGENT_NAME_MAX + 1];
	uint32_t gid, cursor = 0;
	int n = 0;

	(void)state;
	assert_int_equal(agent_snap_open(path, geteuid(), &m), 0);
	e = entry(UMIN + 5, "agent-aaaaaa");
	assert_int_equal(agent_snap_put(w, &e), 0);
	/* visible to a mapping opened before the put */
	assert_int_equal(agent_snap_by_name(&m, "agent-aaaaaa", &got), 0);
	assert_int_equal(got.uid, UMIN + 5);
	assert_string_equal(got.subject, "u5");
	assert_int_equal(got.expires, 2000000000);
	assert_int_equal(agent_snap_by_uid(&m, UMIN + 5, &got), 0);
	assert_string_equal(got.name, "agent-aaaaaa");
	assert_int_equal(agent_snap_by_uid(&m, UMIN + 6, &got), -ENOENT);
	assert_int_equal(agent_snap_by_uid(&m, 0, &got), -ENOENT);
	assert_int_equal(agent_snap_by_uid(&m, UMIN + 64, &got), -ENOENT);
	assert_int_equal(agent_snap_by_name(&m, "agent-nosuch", &got), -ENOENT);
	assert_int_equal(agent_snap_by_name(&m, "a-name-that-is-longer-than-32-bytes", &got),
			 -ENOENT);
	assert_int_equal(agent_snap_purpose(&m, 0, &p), 0);
	assert_string_equal(p.shell, "/bin/bash");
	assert_int_equal(p.ngroups, 2);
	assert_int_equal(p.gids[1], 27);
	assert_int_equal(agent_snap_purpose(&m, 2, &p), -ENOENT);
	assert_int_equal(agent_snap_agents_group(&m, gname, &gid), 0);
	assert_string_equal(gname, "agents");
	assert_int_equal(gid, 1879113728);

	/* replace: same uid, new name */
	e = entry(UMIN + 5, "agent-bbbbbb");
	assert_int_equal(agent_snap_put(w, &e), 0);
	assert_int_equal(agent_snap_by_name(&m, "agent-aaaaaa", &got), -ENOENT);
	assert_int_equal(agent_snap_by_name(&m, "agent-bbbbbb", &got), 0);
	e = entry(UMIN + 9, "agent-cccccc");
	assert_int_equal(agent_snap_put(w, &e), 0);
	assert_int_equal(agent_snap_count(w), 2);
	while (agent_snap_next(&m, &cursor, &got) == 0)
		n++;
	assert_int_equal(n, 2);

	assert_int_equal(agent_snap_remove(w, UMIN + 5), 0);
	assert_int_equal(agent_snap_remove(w, UMIN + 5), 0); /* no-op */
	assert_int_equal(agent_snap_by_name(&m, "agent-bbbbbb", &got), -ENOENT);
	assert_int_equal(agent_snap_by_uid(&m, UMIN + 5, &got), -ENOENT);
	assert_int_equal(agent_snap_count(w), 1);

	/* bad puts */
	e = entry(UMIN + 64, "agent-dddddd");
	assert_int_equal(agent_snap_put(w, &e), -EINVAL);
	e = entry(UMIN + 1, "agent-dddddd");
	e.purpose = 7;
	assert_int_equal(agent_snap_put(w, &e), -EINVAL);

	/* a second writer replaces the file and marks the old one stale */
	assert_false(agent_snap_is_stale(&m));
	struct agent_snap_writer *w2 = make(64);
	assert_true(agent_snap_is_stale(&m));
	struct agent_snap_map m2;
	assert_int_equal(agent_snap_open(path, geteuid(), &m2), 0);
	assert_false(agent_snap_is_stale(&m2));
	assert_int_equal(agent_snap_by_name(&m2, "agent-cccccc", &got), -ENOENT); /* fresh */
	agent_snap_close(&m2);
	agent_snap_close(&m);
	agent_snap_writer_destroy(w, path);
	agent_snap_writer_destroy(w2, path);
}

/* A batch of removals: one write (the sequence counter moves once, by two),
 * every removed entry gone, every other one still found. */
static void test_remove_many(void **state)
{
	struct agent_snap_writer *w = make(256);
	struct agent_snap_map m;
	struct agent_snap_entry e, got;
	const struct snap_header *h;
	uint32_t uids[151], seq;
	char name[AGENT_NAME_MAX + 1];
	size_t k = 0;

	(void)state;
	assert_int_equal(agent_snap_open(path, geteuid(), &m), 0);
	for (uint32_t i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "agent-%06u", i);
		e = entry(UMIN + i, name);
		assert_int_equal(agent_snap_put(w, &e), 0);
		if (i % 4 != 0)
			uids[k++] = UMIN + i;
	}
	uids[k++] = UMIN + 250; /* absent: skipped */
	h = (const struct snap_header *)m.base;
	seq = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
	assert_int_equal(agent_snap_remove_many(w, uids, k), 0);
	assert_int_equal(__atomic_load_n(&h->seq, __ATOMIC_ACQUIRE), seq + 2);
	assert_int_equal(agent_snap_count(w), 50);
	for (uint32_t i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "agent-%06u", i);
		assert_int_equal(agent_snap_by_name(&m, name, &got), i % 4 == 0 ? 0 : -ENOENT);
		assert_int_equal(agent_snap_by_uid(&m, UMIN + i, &got), i % 4 == 0 ? 0 : -ENOENT);
	}
	assert_int_equal(agent_snap_remove_many(w, uids, 0), 0);
	assert_int_equal(agent_snap_remove_many(NULL, uids, k), 0);
	agent_snap_close(&m);
	agent_snap_writer_destroy(w, path);
}

/* A tiny table forces probe collisions; every removal order must leave
 * the others resolvable (backward-shift deletion). */
static void test_collisions(void **state)
{
	(void)state;
	srand(7);
	for (int round = 0; round < 200; round++) {
		struct agent_snap_writer *w = make(8);
		struct agent_snap_map m;
		struct agent_snap_entry e, got;
		char names[8][16];
		bool present[8] = { false };

		assert_int_equal(agent_snap_open(path, geteuid(), &m), 0);
		for (int i = 0; i < 8; i++) {
			snprintf(names[i], sizeof(names[i]), "agent-%06d", rand() % 1000000);
			e = entry(UMIN + (uint32_t)i, names[i]);
			assert_int_equal(agent_snap_put(w, &e), 0);
			present[i] = true;
		}
		for (int k = 0; k < 8; k++) {
			int victim = rand() % 8;

			assert_int_equal(agent_snap_remove(w, UMIN + (uint32_t)victim), 0);
			present[victim] = false;
			for (int i = 0; i < 8; i++) {
				int r = agent_snap_by_name(&m, names[i], &got);

				if (present[i]) {
					assert_int_equal(r, 0);
					assert_int_equal(got.uid, UMIN + (uint32_t)i);
				} else {
					/* unless another slot has the same random name */
					bool dup = false;

					for (int j = 0; j < 8; j++)
						dup |= present[j] &&
						       strcmp(names[j], names[i]) == 0;
					assert_int_equal(r, dup ? 0 : -ENOENT);
				}
			}
		}
		agent_snap_close(&m);
		agent_snap_writer_destroy(w, path);
	}
}

static void write_bytes(const char *p, const void *b, size_t n, mode_t mode)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	close(fd);
	chmod(p, mode);
}

/* A copy of the segment the locator at p names. */
static uint8_t *read_all(const char *p, size_t *n)
{
	struct agent_snap_map m;
	uint8_t *b;

	assert_int_equal(agent_snap_open(p, geteuid(), &m), 0);
	b = malloc(m.size);
	memcpy(b, m.base, m.size);
	*n = m.size;
	agent_snap_close(&m);
	return b;
}

/* Opens the mutated copy; if it opens, every reader call must stay sane. */
static int try_bytes(const uint8_t *b, size_t n)
{
	char p[160];
	struct agent_snap_map m;
	struct agent_snap_entry e;
	struct agent_snap_purpose pp;
	uint32_t cursor = 0;
	int r;

	int shmid;

	snprintf(p, sizeof(p), "%s/mutant", dir);
	r = agent_snap_publish_raw(p, b, n, NULL, &shmid);
	if (r < 0)
		return r;
	r = agent_snap_open(p, geteuid(), &m);
	shmctl(shmid, IPC_RMID, NULL); /* gone when the reader detaches */
	if (r < 0)
		return r;
	r = agent_snap_by_name(&m, "agent-aaaaaa", &e);
	if (r == 0)
		r = agent_snap_purpose(&m, e.purpose, &pp);
	agent_snap_by_uid(&m, UMIN, &e);
	while (agent_snap_next(&m, &cursor, &e) != -ENOENT && cursor < 100000)
		;
	agent_snap_close(&m);
	return r;
}

static void test_corrupt(void **state)
{
	struct agent_snap_writer *w = make(16);
	struct agent_snap_entry e = entry(UMIN, "agent-aaaaaa");
	struct snap_header *h;
	uint8_t *good, *b;
	size_t n;

	(void)state;
	assert_int_equal(agent_snap_put(w, &e), 0);
	good = read_all(path, &n);
	agent_snap_writer_destroy(w, path);
	b = malloc(n);
	assert_int_equal(try_bytes(good, n), 0);

	assert_int_equal(try_bytes(good, 0), -EINVAL); /* nothing to publish */
	assert_int_equal(try_bytes(good, sizeof(struct snap_header) - 1), -EBADMSG);
	/* truncated at every section boundary and in between */
	for (size_t cut = sizeof(struct snap_header); cut < n; cut += 97)
		assert_int_equal(try_bytes(good, cut), -EBADMSG);

#define MUTATE(stmt, want)                                                                         \
	do {                                                                                       \
		memcpy(b, good, n);                                                                \
		h = (struct snap_header *)(void *)b;                                               \
		stmt;                                                                              \
		assert_int_equal(try_bytes(b, n), want);                                           \
	} while (0)

	MUTATE(h->magic[0] ^= 1, -EBADMSG);
	MUTATE(h->version = 1, -EBADMSG);
	MUTATE(h->version = 3, -EBADMSG);
	MUTATE(h->bom = 0x04030201, -EBADMSG);
	MUTATE(h->slot_size = 64, -EBADMSG);
	MUTATE(h->nslots = 0, -EBADMSG);
	MUTATE(h->nslots = 0xffffffff, -EBADMSG);
	MUTATE(h->npurposes = 1000, -EBADMSG);
	MUTATE(h->index_entries = 24, -EBADMSG);
	MUTATE(h->index_entries = 1u << 30, -EBADMSG);
	MUTATE(h->slots_off = h->purposes_off, -EBADMSG); /* overlap */
	MUTATE(h->index_off = n, -EBADMSG);
	MUTATE(h->purposes_off = 0xffffffffffffff00ull, -EBADMSG);
	MUTATE(h->file_size = n + 1, -EBADMSG);
	MUTATE(h->uid_min = 0xfffffff8u, -EBADMSG);
	MUTATE(memset(h->agents_group, 'a', sizeof(h->agents_group)), -EBADMSG);

	/* record-level damage is caught at lookup */
	memcpy(b, good, n);
	h = (struct snap_header *)(void *)b;
	struct snap_slot *s = (struct snap_slot *)(void *)(b + h->slots_off);
	struct snap_purpose *sp = (struct snap_purpose *)(void *)(b + h->purposes_off);
	uint32_t *idx = (uint32_t *)(void *)(b + h->index_off);
	MUTATE(((struct snap_slot *)(void *)(b + h->slots_off))->uid = 5, -EBADMSG);
	MUTATE(memset(((struct snap_slot *)(void *)(b + h->slots_off))->subject, 'x', 33),
	       -EBADMSG);
	MUTATE(((struct snap_slot *)(void *)(b + h->slots_off))->purpose = 9, -EBADMSG);
	MUTATE(((struct snap_slot *)(void *)(b + h->slots_off))->used = 7, -EBADMSG);
	MUTATE(memcpy(((struct snap_purpose *)(void *)(b + h->purposes_off))->shell, "rel", 4),
	       -EBADMSG);
	MUTATE(((struct snap_purpose *)(void *)(b + h->purposes_off))->ngroups = 99, -EBADMSG);
	MUTATE(for (uint32_t i = 0; i < h->index_entries;
		    i++)((uint32_t *)(void *)(b + h->index_off))[i] = 1000,
	       -EBADMSG);
	(void)s;
	(void)sp;
	(void)idx;

	/* random byte flips never crash (the verdict may be anything) */
	srand(3);
	for (int i = 0; i < 2000; i++) {
		memcpy(b, good, n);
		for (int k = 0; k < 4; k++)
			b[(size_t)rand() % n] ^= (uint8_t)(1 + rand() % 255);
		try_bytes(b, n);
	}
	free(b);
	free(good);
}

static void test_file_checks(void **state)
{
	struct agent_snap_writer *w = make(4);
	struct agent_snap_map m;
	char p[160];

	(void)state;
	assert_int_equal(agent_snap_open(path, geteuid() + 1, &m), -EPERM); /* owner */
	chmod(path, 0666);
	assert_int_equal(agent_snap_open(path, geteuid(), &m), -EPERM); /* mode */
	chmod(path, 0644);
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink(path, p), 0);
	assert_int_equal(agent_snap_open(p, geteuid(), &m), -EPERM);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0644), 0);
	assert_int_equal(agent_snap_open(p, geteuid(), &m), -EPERM); /* and no hang */
	assert_int_equal(agent_snap_open(dir, geteuid(), &m), -EPERM);
	snprintf(p, sizeof(p), "%s/missing", dir);
	assert_int_equal(agent_snap_open(p, geteuid(), &m), -ENOENT);

	/* the segment: writable by others is refused, and so is one gone */
	struct shmid_ds ds;
	struct snap_locator loc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, &loc, sizeof(loc)), (ssize_t)sizeof(loc));
	close(fd);
	assert_int_equal(shmctl(loc.shmid, IPC_STAT, &ds), 0);
	ds.shm_perm.mode = 0666;
	assert_int_equal(shmctl(loc.shmid, IPC_SET, &ds), 0);
	assert_int_equal(agent_snap_open(path, geteuid(), &m), -EPERM);
	ds.shm_perm.mode = 0644;
	assert_int_equal(shmctl(loc.shmid, IPC_SET, &ds), 0);
	assert_int_equal(agent_snap_open(path, geteuid(), &m), 0);
	agent_snap_close(&m);
	/* a locator naming a segment that does not exist (any more) */
	agent_snap_writer_destroy(w, NULL);
	assert_int_equal(agent_snap_open(path, geteuid(), &m), -ENOENT);
	unlink(path);
}

static void write_locator_bytes(const void *b, size_t n)
{
	char tmp[160];

	snprintf(tmp, sizeof(tmp), "%s/loc.tmp", dir);
	write_bytes(tmp, b, n, 0644);
	assert_int_equal(rename(tmp, path), 0);
}

/* Every state of the locator file under a reader that has the snapshot
 * open: nothing of the file is mapped, so none of them can fault; each
 * is seen as "replaced" by one stat(), and a reopen refuses it. */
static void test_file_states(void **state)
{
	struct agent_snap_writer *w = make(16), *w2;
	struct agent_snap_entry e = entry(UMIN + 3, "agent-aaaaaa"), got;
	struct agent_snap_map m, m2;
	struct snap_locator loc;
	uint8_t *good;
	size_t n;
	int fd;

	(void)state;
	assert_int_equal(agent_snap_put(w, &e), 0);
	assert_int_equal(agent_snap_open(path, geteuid(), &m), 0);
	assert_false(agent_snap_replaced(&m, path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(read(fd, &loc, sizeof(loc)), (ssize_t)sizeof(loc));
	close(fd);

	/* truncated in place (truncate -s0, cp /dev/null, >) while attached */
	assert_int_equal(truncate(path, 0), 0);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(agent_snap_by_uid(&m, UMIN + 3, &got), 0);
		assert_int_equal(agent_snap_by_name(&m, "agent-aaaaaa", &got), 0);
	}
	assert_true(agent_snap_replaced(&m, path));
	assert_int_equal(agent_snap_open(path, geteuid(), &m2), -EBADMSG); /* zero length */
	/* short, long and garbage locators */
	write_locator_bytes(&loc, sizeof(loc) - 1);
	assert_int_equal(agent_snap_open(path, geteuid(), &m2), -EBADMSG);
	good = malloc(4096);
	memset(good, 0xa5, 4096);
	write_locator_bytes(good, 4096);
	assert_int_equal(agent_snap_open(path, geteuid(), &m2), -EBADMSG);
	write_locator_bytes(good, sizeof(loc));
	assert_int_equal(agent_snap_open(path, geteuid(), &m2), -EBADMSG);
	free(good);
	/* a locator whose nonce is not its segment's */
	loc.nonce[3] ^= 1;
	write_locator_bytes(&loc, sizeof(loc));
	assert_int_equal(agent_snap_open(path, geteuid(), &m2), -EBADMSG);
	loc.nonce[3] ^= 1;
	/* the same bytes again: a new inode, so "replaced", but it opens */
	write_locator_bytes(&loc, sizeof(loc));
	assert_true(agent_snap_replaced(&m, path));
	assert_int_equal(agent_snap_open(path, geteuid(), &m2), 0);
	assert_false(agent_snap_replaced(&m2, path));
	/* rewritten in place (same inode, new mtime) */
	struct timespec later[2] = { { 0, UTIME_OMIT }, { 12345, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, path, later, 0), 0);
	assert_true(agent_snap_replaced(&m2, path));
	agent_snap_close(&m2);

	/* replaced by a new snapshot whose writer died before marking the
	 * old one stale: the stale flag says nothing, the stat() does */
	w2 = make(16);
	assert_true(agent_snap_replaced(&m, path));
	assert_int_equal(agent_snap_open(path, geteuid(), &m2), 0);
	assert_int_equal(agent_snap_by_uid(&m2, UMIN + 3, &got), -ENOENT);
	agent_snap_close(&m2);

	/* deleted */
	assert_int_equal(unlink(path), 0);
	assert_true(agent_snap_replaced(&m, path));
	assert_int_equal(agent_snap_open(path, geteuid(), &m2), -ENOENT);
	/* the segment removed (ipcrm) under an attached reader: still readable */
	assert_int_equal(shmctl(loc.shmid, IPC_RMID, NULL), 0);
	assert_int_equal(agent_snap_by_uid(&m, UMIN + 3, &got), 0);
	agent_snap_close(&m);
	agent_snap_writer_destroy(w, NULL);
	agent_snap_writer_destroy(w2, NULL);

	/* another boot's snapshot does not open */
	struct agent_snap_params p = {
		.uid_min = UMIN,
		.uid_max = UMIN + 3,
		.purposes = purposes,
		.npurposes = 2,
		.agents_group = "",
		.boot_id = (const uint8_t *)"0123456789abcdef",
	};
	assert_int_equal(agent_snap_writer_create(path, &p, &w), 0);
	assert_int_equal(agent_snap_open(path, geteuid(), &m), -ESTALE);
	agent_snap_writer_destroy(w, path);
	/* and a raw copy of this boot's snapshot claiming another boot */
	w = make(4);
	good = read_all(path, &n);
	agent_snap_writer_destroy(w, path);
	struct snap_header *h = (struct snap_header *)(void *)good;
	int shmid;
	h->boot_id[0] ^= 1;
	assert_int_equal(agent_snap_publish_raw(path, good, n, NULL, &shmid), 0);
	assert_int_equal(agent_snap_open(path, geteuid(), &m), -EBADMSG); /* not the locator's */
	shmctl(shmid, IPC_RMID, NULL);
	unlink(path);
	free(good);

	/* a version 1 snapshot (the whole file, mapped) left by an old agentd */
	good = calloc(1, 8192);
	memcpy(good, "AGSNAP\0\1", 8);
	write_locator_bytes(good, 8192);
	assert_int_equal(agent_snap_open(path, geteuid(), &m), -EBADMSG);
	unlink(path);
	free(good);
}

/* Readers racing a writer see complete records only. */
static struct agent_snap_writer *race_w;
static volatile int race_stop;
static long race_reads, race_bad;

static void *reader(void *arg)
{
	struct agent_snap_map m;
	long reads = 0, bad = 0;

	(void)arg;
	if (agent_snap_open(path, geteuid(), &m) < 0)
		return (void *)1;
	while (!__atomic_load_n(&race_stop, __ATOMIC_RELAXED)) {
		for (uint32_t i = 0; i < 32; i++) {
			struct agent_snap_entry e;
			char want[16];
			int r = agent_snap_by_uid(&m, UMIN + i, &e);

			if (r == 0) {
				snprintf(want, sizeof(want), "u%u", i);
				if (strcmp(e.subject, want) != 0 || e.uid != UMIN + i)
					bad++;
				if (agent_snap_by_name(&m, e.name, &e) == 0 && e.uid != UMIN + i)
					bad++;
			} else if (r != -ENOENT && r != -EAGAIN) {
				bad++;
			}
			reads++;
		}
	}
	agent_snap_close(&m);
	__atomic_add_fetch(&race_reads, reads, __ATOMIC_RELAXED);
	__atomic_add_fetch(&race_bad, bad, __ATOMIC_RELAXED);
	return NULL;
}

static void test_race(void **state)
{
	pthread_t t[2];
	struct timespec start, now;
	unsigned long ops = 0;

	(void)state;
	race_w = make(32);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		uint32_t i = (uint32_t)(ops % 32);
		char name[16];
		struct agent_snap_entry e;

		snprintf(name, sizeof(name), "agent-%06lu", ops % 999999);
		e = entry(UMIN + i, name);
		if (ops % 3 == 2)
			agent_snap_remove(race_w, UMIN + i);
		else
			agent_snap_put(race_w, &e);
		ops++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < 1);
	__atomic_store_n(&race_stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	agent_snap_writer_destroy(race_w, path);
	printf("race: %lu writes, %ld reads, %ld inconsistent\n", ops, race_reads, race_bad);
	assert_true(race_reads > 0);
	assert_int_equal(race_bad, 0);
}

static int setup(void **state)
{
	(void)state;
	if (tmpdir_make(dir) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/passwd.snap", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_lookup_remove),
		cmocka_unit_test(test_remove_many),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_file_checks),
		cmocka_unit_test(test_file_states),
		cmocka_unit_test(test_race),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
