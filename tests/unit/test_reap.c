/* Unit tests: tree removal (never through a symlink), and, as root, the
 * kill loop, IPC removal and the reaper helper's batches on processes this
 * test starts itself. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/tmpdir.h"

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include "agentd/kill.h"
#include "agentd/reap_helper.h"
#include "agentd/uidrange.h"

#define TEST_UID 1879113001u

static char dir[] = "/tmp/agentd-reap.XXXXXX";

static void touch(const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	close(fd);
}

static void test_remove_tree(void **state)
{
	char home[160], p[256], outside[160];

	(void)state;
	snprintf(home, sizeof(home), "%s/home", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	assert_int_equal(mkdir(home, 0700), 0);
	assert_int_equal(mkdir(outside, 0700), 0);
	snprintf(p, sizeof(p), "%s/keep", outside);
	touch(p);
	snprintf(p, sizeof(p), "%s/a", home);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/a/b", home);
	mkdir(p, 0500); /* read-only dir: root removes it anyway */
	snprintf(p, sizeof(p), "%s/a/file", home);
	touch(p);
	snprintf(p, sizeof(p), "%s/link-to-file", home);
	assert_int_equal(symlink(outside, p), 0);
	snprintf(p, sizeof(p), "%s/a/link-to-dir", home);
	assert_int_equal(symlink(outside, p), 0);
	snprintf(p, sizeof(p), "%s/keep", outside);
	char lf[256];
	snprintf(lf, sizeof(lf), "%s/link-file", home);
	assert_int_equal(symlink(p, lf), 0);
	snprintf(p, sizeof(p), "%s/a/b", home);
	chmod(p, 0700);

	assert_int_equal(agent_remove_tree(home), 0);
	assert_int_equal(access(home, F_OK), -1);
	snprintf(p, sizeof(p), "%s/keep", outside);
	assert_int_equal(access(p, F_OK), 0); /* the symlinks' targets survive */

	/* a symlink as the top is refused, its target untouched */
	snprintf(p, sizeof(p), "%s/toplink", dir);
	assert_int_equal(symlink(outside, p), 0);
	int r = agent_remove_tree(p);
	assert_true(r == -ENOTDIR || r == -ELOOP); /* O_DIRECTORY|O_NOFOLLOW */
	assert_int_equal(access(outside, F_OK), 0);
	assert_int_equal(access(p, F_OK), 0); /* the link itself stays too */
	/* a file as the top is refused */
	snprintf(p, sizeof(p), "%s/keep", outside);
	assert_int_equal(agent_remove_tree(p), -ENOTDIR);
	/* nothing there: nothing to do */
	assert_int_equal(agent_remove_tree(home), 0);
}

static bool uid_in_use(uid_t uid)
{
	struct agent_uid_set s;
	bool used;

	if (agent_uid_set_init(&s, uid, uid) < 0)
		return true;
	agent_uid_set_scan_proc(&s, "/proc");
	used = agent_uid_set_has(&s, uid);
	agent_uid_set_free(&s);
	return used;
}

static void *pause_thread(void *arg)
{
	(void)arg;
	sleep(20); /* long enough to fail the test if nothing kills it */
	return NULL;
}

static pid_t spawn(uid_t uid, int mode)
{
	pid_t p = fork();

	assert_true(p >= 0);
	if (p == 0) {
		if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
			_exit(100);
		if (mode == 4 && setresuid(0, 0, 0) == 0 && setresuid(0, uid, 0) < 0)
			_exit(100); /* only its effective uid is uid */
		if (mode == 1 || mode == 4)
			signal(SIGTERM, SIG_IGN);
		if (mode == 2)
			raise(SIGSTOP);
		if (mode == 5) {
			/* Its leader exits while another thread runs on: /proc
			 * shows a zombie (State Z, Threads 2) that is alive. */
			pthread_t t;

			if (pthread_create(&t, NULL, pause_thread, NULL) != 0)
				_exit(100);
			pthread_exit(NULL);
		}
		if (mode == 3) {
			int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);

			printf("%d\n", id);
			fflush(stdout);
		}
		for (;;)
			pause();
	}
	return p;
}

static void test_kill_uid(void **state)
{
	pid_t kids[3];
	unsigned killed = 0;
	int status;

	(void)state;
	if (geteuid() != 0) {
		printf("skip: the kill loop needs root to run processes as another uid\n");
		return;
	}
	if (uid_in_use(TEST_UID)) {
		printf("skip: uid %u is in use on this host; not signalling anything\n", TEST_UID);
		return;
	}
	kids[0] = spawn(TEST_UID, 0);
	kids[1] = spawn(TEST_UID, 1); /* ignores SIGTERM */
	kids[2] = spawn(TEST_UID, 2); /* stopped */
	usleep(200000);
	assert_true(uid_in_use(TEST_UID));
	assert_int_equal(agent_kill_uid(TEST_UID, 200, "/proc", &killed), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFSIGNALED(status));
	}
	assert_int_equal(killed, 3);
	assert_false(uid_in_use(TEST_UID));
	/* nothing left: nothing killed */
	assert_int_equal(agent_kill_uid(TEST_UID, 200, "/proc", &killed), 0);
	assert_int_equal(killed, 0);
	assert_int_equal(agent_kill_uid(0, 0, "/proc", &killed), -EINVAL); /* never root */
}

static void test_ipc(void **state)
{
	struct shmid_ds ds;
	unsigned killed;
	int pfd[2], id = -1, status;
	pid_t p;

	(void)state;
	if (geteuid() != 0) {
		printf("skip: IPC removal test needs root\n");
		return;
	}
	if (uid_in_use(TEST_UID)) {
		printf("skip: uid %u is in use on this host\n", TEST_UID);
		return;
	}
	assert_int_equal(pipe(pfd), 0);
	p = fork();
	if (p == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		/* The segment's creator runs as TEST_UID and stays alive. */
		spawn(TEST_UID, 3);
		_exit(0);
	}
	close(pfd[1]);
	FILE *f = fdopen(pfd[0], "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &id), 1);
	fclose(f);
	assert_true(id >= 0);
	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	assert_int_equal(ds.shm_perm.uid, TEST_UID);
	assert_int_equal(agent_kill_uid(TEST_UID, 100, "/proc", &killed), 0);
	assert_int_equal(agent_remove_ipc(TEST_UID), 0);
	assert_int_equal(shmctl(id, IPC_STAT, &ds), -1);
	waitpid(p, &status, 0);
}

/* Starts the reaper helper as agentd does (a child on a socketpair) and
 * sends it q[0..n); *sock is agentd's end. */
static pid_t start_helper(const struct agent_reap_req *q, int n, int *sock)
{
	int sv[2];
	pid_t helper;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	helper = fork();
	assert_true(helper >= 0);
	if (helper == 0) {
		close(sv[0]);
		agent_reap_helper_run(sv[1]);
	}
	close(sv[1]);
	for (int i = 0; i < n; i++)
		assert_int_equal(send(sv[0], &q[i], agent_reap_req_size(&q[i]), 0),
				 (ssize_t)agent_reap_req_size(&q[i]));
	*sock = sv[0];
	return helper;
}

/* The reaper helper, as agentd runs it: two uids and a duplicate request
 * in one batch; a TERM-ignoring, a stopped, an effective-uid-only process
 * and one whose leader thread exited (a zombie in /proc) among them. Every process dies, every request is answered. */
static void test_helper_batch(void **state)
{
	const uint32_t u1 = TEST_UID, u2 = TEST_UID + 1, u3 = TEST_UID + 2;
	struct agent_reap_req q[4] = {
		{ .uid = u1, .grace_ms = 200, .bound_ms = 2000 },
		{ .uid = u2, .grace_ms = 200, .bound_ms = 2000 },
		{ .uid = u1, .grace_ms = 200, .bound_ms = 2000 },
		{ .uid = u3, .grace_ms = 200, .bound_ms = 2000 },
	};
	unsigned got1 = 0, got2 = 0, got3 = 0;
	pid_t kids[6], helper;
	int sock, status;

	(void)state;
	if (geteuid() != 0) {
		printf("skip: the helper test needs root to run processes as other uids\n");
		return;
	}
	/* (the previous test's processes may still be on their way out) */
	for (int t = 0; t < 200 && (uid_in_use(u1) || uid_in_use(u2) || uid_in_use(u3)); t++)
		usleep(10000);
	if (uid_in_use(u1) || uid_in_use(u2) || uid_in_use(u3)) {
		printf("skip: uid %u, %u or %u is in use on this host; not signalling anything\n",
		       u1, u2, u3);
		return;
	}
	kids[0] = spawn(u1, 0);
	kids[1] = spawn(u1, 1); /* ignores SIGTERM */
	kids[2] = spawn(u1, 2); /* stopped */
	kids[3] = spawn(u1, 4); /* real and saved uid root: kill(-1) cannot reach it */
	kids[4] = spawn(u2, 1);
	kids[5] = spawn(u3, 5); /* alone: only the scans can find it */
	usleep(200000);
	assert_true(uid_in_use(u1));
	assert_true(uid_in_use(u2));
	helper = start_helper(q, 4, &sock);
	for (int i = 0; i < 4; i++) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		struct agent_reap_res res;

		assert_int_equal(poll(&pfd, 1, 10000), 1);
		assert_int_equal(recv(sock, &res, sizeof(res), 0), (ssize_t)sizeof(res));
		assert_int_equal(res.rc, 0);
		assert_int_equal(res.survivors, 0);
		if (res.uid == u1) {
			assert_true(res.killed >= 4);
			got1++;
		} else if (res.uid == u3) {
			assert_true(res.killed >= 1);
			got3++;
		} else {
			assert_int_equal(res.uid, u2);
			assert_true(res.killed >= 1);
			got2++;
		}
	}
	assert_int_equal(got1, 2); /* the duplicate is answered too */
	assert_int_equal(got2, 1);
	assert_int_equal(got3, 1);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFSIGNALED(status));
	}
	assert_false(uid_in_use(u1));
	assert_false(uid_in_use(u2));
	assert_false(uid_in_use(u3));
	close(sock); /* the helper exits once agentd's end is closed */
	for (int t = 0; t < 500 && waitpid(helper, &status, WNOHANG) == 0; t++)
		usleep(10000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Homes, as the helper removes them once a uid is done: an empty one (in
 * the helper's own loop), one with a tree in it (by a cleaner child), one
 * that is a symlink to a directory elsewhere (never followed: reported,
 * and what it points to stays whole). The uids have no processes. */
static void test_helper_homes(void **state)
{
	const uint32_t u1 = TEST_UID + 10, u2 = TEST_UID + 11, u3 = TEST_UID + 12;
	char empty[160], full[160], link[160], outside[160], p[256];
	struct agent_reap_req q[3] = {
		{ .uid = u1, .bound_ms = 2000 },
		{ .uid = u2, .bound_ms = 2000 },
		{ .uid = u3, .bound_ms = 2000 },
	};
	bool seen[3] = { false, false, false };
	int sock, status;
	pid_t helper;

	(void)state;
	if (uid_in_use(u1) || uid_in_use(u2) || uid_in_use(u3)) {
		printf("skip: uid %u, %u or %u is in use on this host\n", u1, u2, u3);
		return;
	}
	snprintf(empty, sizeof(empty), "%s/home-empty", dir);
	snprintf(full, sizeof(full), "%s/home-full", dir);
	snprintf(link, sizeof(link), "%s/home-link", dir);
	snprintf(outside, sizeof(outside), "%s/elsewhere", dir);
	assert_int_equal(mkdir(empty, 0700), 0);
	assert_int_equal(mkdir(full, 0700), 0);
	snprintf(p, sizeof(p), "%s/sub", full);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/sub/file", full);
	touch(p);
	assert_int_equal(mkdir(outside, 0700), 0);
	snprintf(p, sizeof(p), "%s/keep", outside);
	touch(p);
	assert_int_equal(symlink(outside, link), 0);
	snprintf(q[0].home, sizeof(q[0].home), "%s", empty);
	snprintf(q[1].home, sizeof(q[1].home), "%s", full);
	snprintf(q[2].home, sizeof(q[2].home), "%s", link);
	helper = start_helper(q, 3, &sock);
	for (int i = 0; i < 3; i++) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		struct agent_reap_res res;

		assert_int_equal(poll(&pfd, 1, 10000), 1);
		assert_int_equal(recv(sock, &res, sizeof(res), 0), (ssize_t)sizeof(res));
		assert_int_equal(res.killed, 0);
		if (res.uid == u3) {
			assert_true(res.rc < 0); /* not a directory it may enter */
			seen[2] = true;
			continue;
		}
		assert_int_equal(res.rc, 0);
		seen[res.uid == u1 ? 0 : 1] = true;
		assert_true(res.uid == u1 || res.uid == u2);
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	assert_int_equal(access(empty, F_OK), -1);
	assert_int_equal(access(full, F_OK), -1);
	snprintf(p, sizeof(p), "%s/keep", outside);
	assert_int_equal(access(p, F_OK), 0);
	close(sock);
	for (int t = 0; t < 500 && waitpid(helper, &status, WNOHANG) == 0; t++)
		usleep(10000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	unlink(link);
	unlink(p);
	rmdir(outside);
}

static int setup(void **state)
{
	(void)state;
	return tmpdir_make(dir);
}

static int teardown(void **state)
{
	(void)state;
	return tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remove_tree),  cmocka_unit_test(test_kill_uid),
		cmocka_unit_test(test_ipc),          cmocka_unit_test(test_helper_batch),
		cmocka_unit_test(test_helper_homes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
