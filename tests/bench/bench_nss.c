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
 *   bench_nss spawn K NAME_A NAME_B
 *                                  whole processes: `getent passwd NAME_A`
 *                                  and `getent passwd NAME_B`, alternated,
 *                                  K each (posix_spawn to exit); p50/p90 of
 *                                  each in us and the ratio of the p50s
 *   bench_nss first K SERVICES=NAME...
 *                                  the first getpwnam of a fresh process
 *                                  (this program again, 'passwd' set to
 *                                  SERVICES by __nss_configure_lookup): what
 *                                  the lookup itself costs a new process
 *                                  (reading nsswitch.conf, loading modules,
 *                                  attaching the snapshot), without the
 *                                  exec and exit around it; up to 4 specs,
 *                                  taking turns, K each; p50/p10 in us
 * "fill" gives the purpose one supplementary group, 100. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
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

		if (by_uid(uid, &pw, buf, sizeof(buf), &err) != NSS_STATUS_SUCCESS ||
		    pw.pw_uid != uid)
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

extern char **environ;

static long long mean(const long long *v, unsigned k)
{
	long long sum = 0;

	for (unsigned i = 0; i < k; i++)
		sum += v[i];
	return k ? sum / k : 0;
}

/* One `getent passwd NAME` to its exit: wall time in ns (returned; -1 if
 * it failed) and the CPU time the kernel charged it (*cpu_ns): on a busy
 * host the wall time mostly measures the other tenants. */
static long long spawn_one(const char *name, long long *cpu_ns)
{
	struct rusage ru;
	char cmd[] = "getent", db[] = "passwd", arg[64];
	char *argv[] = { cmd, db, arg, NULL };
	posix_spawn_file_actions_t fa;
	long long s;
	int status;
	pid_t pid;

	snprintf(arg, sizeof(arg), "%s", name);
	s = now_ns();
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "getent", &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
	    (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 2 /* not found */))
		return -1;
	*cpu_ns = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
		  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	return now_ns() - s;
}

static int bench_spawn(unsigned k, const char *a, const char *b)
{
	long long *ta = calloc(k, sizeof(*ta)), *tb = calloc(k, sizeof(*tb));
	long long *ca = calloc(k, sizeof(*ca)), *cb = calloc(k, sizeof(*cb)), c;

	if (!ta || !tb || !ca || !cb)
		return 1;
	for (unsigned i = 0; i < 20; i++) /* warm the page cache */
		if (spawn_one(a, &c) < 0 || spawn_one(b, &c) < 0)
			return 1;
	for (unsigned i = 0; i < k; i++) {
		ta[i] = spawn_one(a, &ca[i]);
		tb[i] = spawn_one(b, &cb[i]);
		if (ta[i] < 0 || tb[i] < 0) {
			fprintf(stderr, "getent passwd failed\n");
			return 1;
		}
	}
	qsort(ta, k, sizeof(*ta), cmp);
	qsort(tb, k, sizeof(*tb), cmp);
	qsort(ca, k, sizeof(*ca), cmp);
	qsort(cb, k, sizeof(*cb), cmp);
	printf("getent passwd %s: wall p50_us=%lld cpu p50_us=%lld mean_cpu_us=%lld | getent passwd %s: wall p50_us=%lld"
	       " cpu p50_us=%lld mean_cpu_us=%lld | ratio wall_p50=%.3f cpu_p50=%.3f\n",
	       a, ta[k / 2] / 1000, ca[k / 2] / 1000, mean(ca, k) / 1000, b, tb[k / 2] / 1000,
	       cb[k / 2] / 1000, mean(cb, k) / 1000, (double)ta[k / 2] / (double)tb[k / 2],
	       (double)ca[k / 2] / (double)cb[k / 2]);
	free(ta);
	free(tb);
	free(ca);
	free(cb);
	return 0;
}

/* In a fresh process: 'passwd' set to services, then one getpwnam(name),
 * timed; prints the nanoseconds. */
static int first_one(const char *services, const char *name)
{
	long long s;

	if (__nss_configure_lookup("passwd", services) != 0)
		return 1;
	s = now_ns();
	(void)getpwnam(name);
	printf("%lld\n", now_ns() - s);
	return 0;
}

/* Runs `bench_nss first1 SERVICES NAME` and reads what it printed. */
static long long first_spawn(const char *services, const char *name)
{
	char self[] = "/proc/self/exe", mode[] = "first1", sv[128], nm[64], out[32];
	char *argv[] = { mode, sv, nm, NULL };
	posix_spawn_file_actions_t fa;
	int p[2], status;
	ssize_t n;
	pid_t pid;

	snprintf(sv, sizeof(sv), "%s", services);
	snprintf(nm, sizeof(nm), "%s", name);
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	if (posix_spawn(&pid, self, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(p[0]);
		close(p[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    n <= 0)
		return -1;
	out[n] = '\0';
	return atoll(out);
}

static int bench_first(unsigned k, int nspec, char **spec)
{
	long long *t[4];
	char sv[4][128], *nm[4];

	if (nspec < 1 || nspec > 4 || k == 0)
		return 2;
	for (int j = 0; j < nspec; j++) {
		char *eq = strchr(spec[j], '=');

		if (!eq || (size_t)(eq - spec[j]) >= sizeof(sv[j]))
			return 2;
		snprintf(sv[j], sizeof(sv[j]), "%.*s", (int)(eq - spec[j]), spec[j]);
		nm[j] = eq + 1;
		if (!(t[j] = calloc(k, sizeof(long long))))
			return 1;
	}
	for (unsigned i = 0; i < k + 10; i++) /* the first 10 warm the page cache */
		for (int j = 0; j < nspec; j++) {
			long long v = first_spawn(sv[j], nm[j]);

			if (v < 0) {
				fprintf(stderr, "bench_nss first1 '%s' %s failed\n", sv[j], nm[j]);
				return 1;
			}
			if (i >= 10)
				t[j][i - 10] = v;
		}
	for (int j = 0; j < nspec; j++) {
		qsort(t[j], k, sizeof(long long), cmp);
		printf("first getpwnam(%s), passwd: %s: p50_us=%.1f p10_us=%.1f\n", nm[j], sv[j],
		       (double)t[j][k / 2] / 1000, (double)t[j][k / 10] / 1000);
		free(t[j]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[0], "first1") == 0)
		return first_one(argv[1], argv[2]);
	if (argc >= 4 && strcmp(argv[1], "first") == 0)
		return bench_first((unsigned)atoi(argv[2]), argc - 3, argv + 3);
	if (argc == 5 && strcmp(argv[1], "spawn") == 0)
		return bench_spawn((unsigned)atoi(argv[2]), argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "module") == 0)
		return bench_module(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
	if (argc == 7 && strcmp(argv[1], "grouplist") == 0)
		return bench_grouplist(argv[2], (gid_t)strtoul(argv[3], NULL, 10),
				       (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]),
				       atoi(argv[6]));
	if (argc == 4 && strcmp(argv[1], "fill") == 0) {
		struct agent_snap_purpose p = {
			.name = "bench", .shell = "/bin/sh", .ngroups = 1, .gids = { 100 }
		};
		struct agent_snap_params sp = { .uid_min = UMIN,
						.uid_max = UMIN + 65535,
						.purposes = &p,
						.npurposes = 1,
						.agents_group = "" };
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
			"       grouplist PREFIX BASEGID N K EXPECT | spawn K NAME_A NAME_B |\n"
			"       first K SERVICES=NAME...\n");
	return 2;
}
