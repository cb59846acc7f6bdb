/* NSS lookup benchmark.
 *   bench_nss fill PATH N          write a snapshot with N live identities
 *                                  (agent-000000..) for the module to read
 *   bench_nss lookup PREFIX N K    K getpwnam_r calls through glibc for random
 *                                  names PREFIX%06d below N, then K
 *                                  getpwuid_r; prints p50/p99 in ns
 *   bench_nss module SO N K        the same lookups (and K of names that are
 *                                  not agents) straight into the module's
 *                                  _nss_agent_getpw*_r (dlopen SO), with the
 *                                  timer's own cost and a raw syscall beside
 *   bench_nss grouplist PREFIX BASEGID N K EXPECT
 *                                  K getgrouplist calls through glibc for
 *                                  random PREFIX%06u below N with primary gid
 *                                  BASEGID + index; a call giving other than
 *                                  EXPECT groups counts as a miss
 * "fill" gives the purpose one supplementary group, 100. */
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/liveness.h"
#include "common/snapshot.h"

#define UMIN 1879048192u

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, long long *t, unsigned k, unsigned misses)
{
	qsort(t, k, sizeof(*t), cmp);
	printf("%s p50_ns=%lld p99_ns=%lld misses=%u\n", what, t[k / 2], t[(k * 99) / 100], misses);
}

typedef enum nss_status (*getpwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getpwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);

/* The module's own cost: its entry points called directly, no glibc NSS
 * machinery in between. The snapshot is the compiled-in one. */
static int bench_module(const char *so, unsigned n, unsigned k)
{
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	getpwnam_fn by_name;
	getpwuid_fn by_uid;
	long long *t = calloc(k, sizeof(*t));
	char buf[1024], name[64];
	struct passwd pw;
	unsigned misses = 0;
	int err;

	if (!h || !t) {
		fprintf(stderr, "bench_nss: dlopen %s: %s\n", so, h ? "out of memory" : dlerror());
		return 1;
	}
	by_name = (getpwnam_fn)dlsym(h, "_nss_agent_getpwnam_r");
	by_uid = (getpwuid_fn)dlsym(h, "_nss_agent_getpwuid_r");
	if (!by_name || !by_uid) {
		fprintf(stderr, "bench_nss: %s lacks _nss_agent_getpw*_r\n", so);
		return 1;
	}
	srand(1);
	/* Warm up: the first call maps the snapshot. */
	by_name("agent-000000", &pw, buf, sizeof(buf), &err);
	for (unsigned i = 0; i < k; i++) {
		long long s = now_ns();

		t[i] = now_ns() - s;
	}
	report("clock_gettime_pair", t, k, 0);
	for (unsigned i = 0; i < k; i++) {
		long long s = now_ns();

		syscall(SYS_getppid);
		t[i] = now_ns() - s;
	}
	report("syscall_getppid", t, k, 0);
	for (unsigned i = 0; i < k; i++) {
		long long s;

		snprintf(name, sizeof(name), "agent-%06u", (unsigned)rand() % n);
		s = now_ns();
		if (by_name(name, &pw, buf, sizeof(buf), &err) != NSS_STATUS_SUCCESS ||
		    strcmp(pw.pw_name, name) != 0)
			misses++;
		t[i] = now_ns() - s;
	}
	report("module_getpwnam_r", t, k, misses);
	misses = 0;
	for (unsigned i = 0; i < k; i++) {
		uid_t uid = UMIN + (unsigned)rand() % n;
		long long s = now_ns();

		if (by_uid(uid, &pw, buf, sizeof(buf), &err) != NSS_STATUS_SUCCESS || pw.pw_uid != uid)
			misses++;
		t[i] = now_ns() - s;
	}
	report("module_getpwuid_r", t, k, misses);
	/* Names that are not agents: what the module adds to every lookup
	 * that reaches it without an answer from "files". A hit is a miss. */
	misses = 0;
	for (unsigned i = 0; i < k; i++) {
		long long s;

		snprintf(name, sizeof(name), "human%06u", (unsigned)rand() % n);
		s = now_ns();
		if (by_name(name, &pw, buf, sizeof(buf), &err) != NSS_STATUS_NOTFOUND)
			misses++;
		t[i] = now_ns() - s;
	}
	report("module_getpwnam_r_notfound", t, k, misses);
	free(t);
	return 0;
}

static int bench_grouplist(const char *prefix, gid_t base, unsigned n, unsigned k, int expect)
{
	long long *t = calloc(k, sizeof(*t));
	gid_t groups[64];
	char name[64];
	unsigned misses = 0;

	if (!t)
		return 1;
	srand(1);
	for (unsigned i = 0; i < k; i++) {
		unsigned idx = (unsigned)rand() % n;
		int ng = 64;
		long long s;

		snprintf(name, sizeof(name), "%s%06u", prefix, idx);
		s = now_ns();
		if (getgrouplist(name, base + idx, groups, &ng) != expect)
			misses++;
		t[i] = now_ns() - s;
	}
	report("getgrouplist", t, k, misses);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "module") == 0)
		return bench_module(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
	if (argc == 7 && strcmp(argv[1], "grouplist") == 0)
		return bench_grouplist(argv[2], (gid_t)strtoul(argv[3], NULL, 10),
				       (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]),
				       atoi(argv[6]));
	if (argc == 4 && strcmp(argv[1], "fill") == 0) {
		struct agent_snap_purpose p = { .name = "bench", .shell = "/bin/sh",
						.ngroups = 1, .gids = { 100 } };
		struct agent_snap_params sp = { .uid_min = UMIN, .uid_max = UMIN + 65535,
						.purposes = &p, .npurposes = 1, .agents_group = "" };
		struct agent_snap_writer *w;
		struct agent_now now;
		unsigned n = (unsigned)atoi(argv[3]);

		agent_now(&now);
		if (agent_snap_writer_create(argv[2], &sp, &w) < 0)
			return 1;
		for (unsigned i = 0; i < n; i++) {
			struct agent_snap_entry e = { .uid = UMIN + i, .expires = now.real + 3600 };

			e.expires_boot_ns = agent_boot_deadline(e.expires, &now);
			snprintf(e.name, sizeof(e.name), "agent-%06u", i);
			snprintf(e.subject, sizeof(e.subject), "bench");
			if (agent_snap_put(w, &e) < 0)
				return 1;
		}
		agent_snap_writer_free(w);
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "lookup") == 0) {
		const char *prefix = argv[2];
		unsigned n = (unsigned)atoi(argv[3]), k = (unsigned)atoi(argv[4]), misses = 0;
		long long *t = calloc(k, sizeof(*t));
		char buf[1024], name[64];
		struct passwd pw, *r;

		srand(1);
		for (unsigned i = 0; i < k; i++) {
			long long s;

			snprintf(name, sizeof(name), "%s%06u", prefix, (unsigned)rand() % n);
			s = now_ns();
			if (getpwnam_r(name, &pw, buf, sizeof(buf), &r) != 0 || !r)
				misses++;
			t[i] = now_ns() - s;
		}
		report("getpwnam_r", t, k, misses);
		misses = 0;
		for (unsigned i = 0; i < k; i++) {
			unsigned idx = (unsigned)rand() % n;
			uid_t uid = strcmp(prefix, "agent-") == 0 ? UMIN + idx : 200000 + idx;
			long long s = now_ns();

			if (getpwuid_r(uid, &pw, buf, sizeof(buf), &r) != 0 || !r)
				misses++;
			t[i] = now_ns() - s;
		}
		report("getpwuid_r", t, k, misses);
		free(t);
		return 0;
	}
	fprintf(stderr, "usage: bench_nss fill PATH N | lookup PREFIX N K | module SO N K |\n"
			"       grouplist PREFIX BASEGID N K EXPECT\n");
	return 2;
}
