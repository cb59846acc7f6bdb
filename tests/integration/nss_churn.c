/* Churn checker for nss.sh: threads (and a forked child) look identities up
 * through glibc for SECONDS while agentd creates and retires them. Every
 * answer must be a complete published record: an agent name whose uid maps
 * back to the same name (or to nothing, if it retired in between). Reports
 * lookups, inconsistencies, and descriptor and RSS growth; exits 1 on any
 * inconsistency or growth.
 *   nss_churn UID_MIN COUNT SECONDS */
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned uid_min, count, seconds;
static long lookups, bad;

static long fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	long n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static void *worker(void *arg)
{
	time_t end = time(NULL) + seconds;
	unsigned seed = (unsigned)(uintptr_t)arg;
	long n = 0, b = 0;

	while (time(NULL) < end) {
		char buf[1024], buf2[1024];
		struct passwd pw, pw2, *r = NULL, *r2 = NULL;
		uid_t uid = uid_min + ((uid_t)rand_r(&seed) % count);

		n++;
		if (getpwuid_r(uid, &pw, buf, sizeof(buf), &r) != 0 || !r)
			continue;
		if (pw.pw_uid != uid || pw.pw_gid != uid || strncmp(pw.pw_name, "agent-", 6) != 0 ||
		    strlen(pw.pw_name) != 12 || strncmp(pw.pw_gecos, "agent ", 6) != 0) {
			b++;
			continue;
		}
		if (getpwnam_r(pw.pw_name, &pw2, buf2, sizeof(buf2), &r2) == 0 && r2 &&
		    pw2.pw_uid != uid)
			b++;
	}
	__atomic_add_fetch(&lookups, n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&bad, b, __ATOMIC_RELAXED);
	return NULL;
}

static int run(const char *who)
{
	pthread_t t[4];
	long fd0, rss0, fd1, rss1;

	worker((void *)(uintptr_t)99); /* warm up: maps the snapshot */
	lookups = bad = 0;
	fd0 = fds();
	rss0 = rss_kb();
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	fd1 = fds();
	rss1 = rss_kb();
	printf("%s: %ld lookups, %ld inconsistent, fds %ld -> %ld, rss %ld -> %ld kB\n", who,
	       lookups, bad, fd0, fd1, rss0, rss1);
	return bad == 0 && fd1 <= fd0 && rss1 - rss0 < 4096 ? 0 : 1;
}

int main(int argc, char **argv)
{
	int status, rc;
	pid_t p;

	if (argc != 4)
		return 2;
	uid_min = (unsigned)strtoul(argv[1], NULL, 10);
	count = (unsigned)strtoul(argv[2], NULL, 10);
	seconds = (unsigned)strtoul(argv[3], NULL, 10);
	p = fork();
	if (p == 0)
		_exit(run("child process"));
	rc = run("threads");
	if (waitpid(p, &status, 0) != p || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rc = 1;
	return rc;
}
