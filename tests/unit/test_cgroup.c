/* Unit tests: reading /proc/self/cgroup and mountinfo, building cgroup
 * paths, cgroup.controllers and cgroup.events; as root with a cgroup2
 * hierarchy, the kill without cgroup.kill (freeze, SIGKILL, thaw) on a
 * subtree and processes this test makes itself. */
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
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agentd/cgroup.h"

static void test_parse_self(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(agent_cgroup_parse_self("12:pids:/x\n1:name=systemd:/y\n"
						 "0::/system.slice/agentd.service\n",
						 out, sizeof(out)),
			 0);
	assert_string_equal(out, "/system.slice/agentd.service");
	assert_int_equal(agent_cgroup_parse_self("0::/\n", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
	/* The last line without a newline. */
	assert_int_equal(agent_cgroup_parse_self("1:cpu:/\n0::/a/b", out, sizeof(out)), 0);
	assert_string_equal(out, "/a/b");
	/* v1 only: no unified line. */
	assert_int_equal(agent_cgroup_parse_self("9:name=systemd:/\n8:pids:/\n", out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(agent_cgroup_parse_self("", out, sizeof(out)), -ENOENT);
	assert_int_equal(agent_cgroup_parse_self("0::relative\n", out, sizeof(out)), -EINVAL);
	assert_int_equal(agent_cgroup_parse_self("0::/a-long-path\n", out, 8), -ENAMETOOLONG);
}

static const char hybrid[] =
	"22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
	"30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"38 30 0:35 / /sys/fs/cgroup/pids rw,relatime shared:9 - cgroup cgroup rw,pids\n"
	"40 30 0:37 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw\n";

static void test_parse_mountinfo(void **state)
{
	char mnt[64], root[64], j[64];

	(void)state;
	/* v1 "cgroup" mounts are not it; optional fields are skipped. */
	assert_int_equal(
		agent_cgroup_parse_mountinfo(hybrid, 0, mnt, sizeof(mnt), root, sizeof(root)), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup/unified");
	assert_string_equal(root, "/");
	/* A namespaced view: the mount shows a subtree; spaces are escaped. */
	assert_int_equal(agent_cgroup_parse_mountinfo(
				 "1 0 0:1 / / rw - ext4 /dev/sda rw\n"
				 "7 1 0:9 /ns/x\\040y /sys/fs/cg\\134 rw - cgroup2 cgroup2 rw",
				 0, mnt, sizeof(mnt), root, sizeof(root)),
			 0);
	assert_string_equal(mnt, "/sys/fs/cg\\");
	assert_string_equal(root, "/ns/x y");
	assert_int_equal(agent_cgroup_parse_mountinfo("1 0 0:1 / / rw - ext4 /dev/sda rw\n", 0, mnt,
						      sizeof(mnt), root, sizeof(root)),
			 -ENOENT);
	assert_int_equal(
		agent_cgroup_parse_mountinfo("garbage\n", 0, mnt, sizeof(mnt), root, sizeof(root)),
		-EINVAL);
	assert_int_equal(agent_cgroup_parse_mountinfo(hybrid, 0, mnt, 8, root, sizeof(root)),
			 -ENAMETOOLONG);
	/* Inside a cgroup namespace: the outer mount shows "/..", the second
	 * cgroup2 mount is the namespace's own. */
	static const char nested[] =
		"40 30 0:37 /.. /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
		"90 80 0:37 / /sys/fs/cgroup rw,nosuid shared:2 - cgroup2 cgroup2 rw\n";
	assert_int_equal(
		agent_cgroup_parse_mountinfo(nested, 0, mnt, sizeof(mnt), root, sizeof(root)), 0);
	assert_string_equal(root, "/..");
	assert_int_equal(agent_cgroup_join(mnt, root, "/system.slice/a.service", j, sizeof(j)),
			 -ENOENT);
	assert_int_equal(
		agent_cgroup_parse_mountinfo(nested, 1, mnt, sizeof(mnt), root, sizeof(root)), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup");
	assert_string_equal(root, "/");
	assert_int_equal(
		agent_cgroup_parse_mountinfo(nested, 2, mnt, sizeof(mnt), root, sizeof(root)),
		-ENOENT);
}

static void test_join(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(agent_cgroup_join("/sys/fs/cgroup", "/", "/system.slice/a.service", out,
					   sizeof(out)),
			 0);
	assert_string_equal(out, "/sys/fs/cgroup/system.slice/a.service");
	assert_int_equal(agent_cgroup_join("/sys/fs/cgroup", "/", "/", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
	/* A mount of a subtree: the path is relative to the subtree. */
	assert_int_equal(agent_cgroup_join("/mnt", "/ns", "/ns/a", out, sizeof(out)), 0);
	assert_string_equal(out, "/mnt/a");
	assert_int_equal(agent_cgroup_join("/mnt", "/ns", "/ns", out, sizeof(out)), 0);
	assert_string_equal(out, "/mnt");
	/* Outside the mounted subtree, or a mere prefix of a name. */
	assert_int_equal(agent_cgroup_join("/mnt", "/ns", "/other", out, sizeof(out)), -ENOENT);
	assert_int_equal(agent_cgroup_join("/mnt", "/ns", "/nsx/a", out, sizeof(out)), -ENOENT);
	assert_int_equal(agent_cgroup_join("/sys/fs/cgroup", "/", "/a/long/path", out, 10),
			 -ENAMETOOLONG);
}

static void test_identity_path(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(
		agent_cgroup_identity_path("/sys/fs/cgroup/agentd", 1879048192u, out, sizeof(out)),
		0);
	assert_string_equal(out, "/sys/fs/cgroup/agentd/agent-1879048192");
	assert_int_equal(agent_cgroup_identity_path("/r", 4294967295u, out, sizeof(out)), 0);
	assert_string_equal(out, "/r/agent-4294967295");
	assert_int_equal(agent_cgroup_identity_path("/sys/fs/cgroup/agentd", 1, out, 16),
			 -ENAMETOOLONG);
}

static void test_words_and_events(void **state)
{
	(void)state;
	assert_true(agent_cgroup_has_word("cpuset cpu io memory pids\n", "pids"));
	assert_true(agent_cgroup_has_word("pids", "pids"));
	assert_false(agent_cgroup_has_word("cpuset cpu io memory\n", "pids"));
	assert_false(agent_cgroup_has_word("xpids pidsy\n", "pids"));
	assert_false(agent_cgroup_has_word("", "pids"));
	assert_true(agent_cgroup_events_empty("populated 0\nfrozen 0\n"));
	assert_false(agent_cgroup_events_empty("populated 1\nfrozen 0\n"));
	assert_false(agent_cgroup_events_empty("frozen 0\n"));
	/* Only a line's start counts. */
	assert_false(agent_cgroup_events_empty("xpopulated 0\npopulated 1\n"));
	assert_true(agent_cgroup_events_empty("frozen 1\npopulated 0\n"));
}

/* As root with a cgroup2 hierarchy: a cgroup of the test's own holding a
 * process that forks without pause is emptied by the freeze-kill-thaw path
 * (the one kernels without cgroup.kill take), then by cgroup.kill. */
static const char *cg2_mount(void)
{
	static const char *const c[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	struct statfs sf;

	for (size_t i = 0; i < 2; i++)
		if (statfs(c[i], &sf) == 0 && sf.f_type == 0x63677270)
			return c[i];
	return NULL;
}

static void kill_case(bool use_kill_file)
{
	const char *m = cg2_mount();
	char dir[256], procs[300], buf[64];
	pid_t pid;
	int fd, p[2];

	if (geteuid() != 0 || !m) {
		printf("# skipped: needs root and a cgroup2 hierarchy\n");
		skip();
	}
	snprintf(dir, sizeof(dir), "%s/agentd-test-cgroup.%ld.%d", m, (long)getpid(),
		 use_kill_file);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Enters the test cgroup, says so, then forks children that fork
		 * (bounded: 64 at a time, each living a moment). */
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(1);
		close(fd);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;) {
			for (int i = 0; i < 64; i++)
				if (fork() == 0) {
					if (fork() == 0)
						pause();
					pause();
				}
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			usleep(20000);
		}
	}
	close(p[1]);
	assert_int_equal(read(p[0], buf, 1), 1);
	close(p[0]);
	usleep(100000);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(agent_cgroup_kill_dir(fd, use_kill_file), 0);
	/* Our child is dead (killed), its descendants with it. */
	int st = 0;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	for (int i = 0; i < 200 && rmdir(dir) < 0 && errno == EBUSY; i++)
		usleep(10000);
	assert_int_equal(access(dir, F_OK), -1);
	close(fd);
}

static void test_kill_fallback(void **state)
{
	(void)state;
	kill_case(false);
}

static void test_kill_file(void **state)
{
	(void)state;
	kill_case(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_self),
		cmocka_unit_test(test_parse_mountinfo),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_identity_path),
		cmocka_unit_test(test_words_and_events),
		cmocka_unit_test(test_kill_fallback),
		cmocka_unit_test(test_kill_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
