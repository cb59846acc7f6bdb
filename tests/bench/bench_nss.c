/* NSS lookup benchmark.
 *   bench_nss fill PATH N          write a snapshot with N live identities
 *                                  (agent-000000..) for the module to read
 *   bench_nss lookup PREFIX N K    K getpwnam_r calls through glibc for random
 *                                  names PREFIX%06d below N, then K
 *                                  getpwuid_r; prints p50/p99 in ns */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/live.h"
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

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "fill") == 0) {
		struct agent_snap_purpose p = { .name = "bench", .shell = "/bin/sh" };
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
	fprintf(stderr, "usage: bench_nss fill PATH N | bench_nss lookup PREFIX N K\n");
	return 2;
}
