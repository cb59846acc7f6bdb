/* Unit tests: the sd_notify datagram (agentd/notify.c) to a path socket and
 * to an abstract one, NOTIFY_SOCKET removed afterwards, and the refusals. */
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

#include "tests/unit/tmpdir.h"

#include "agentd/notify.h"

static int listener(struct sockaddr_un *sa, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)sa, len), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(buf, want, (size_t)n);
}

static void test_path_socket(void **state)
{
	char dir[] = "/tmp/agentd-notify.XXXXXX";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	(void)state;
	assert_int_equal(tmpdir_make(dir), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
	fd = listener(&sa, sizeof(sa));
	assert_int_equal(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);
	assert_int_equal(agentd_notify("READY=1"), 1);
	expect_datagram(fd, "READY=1");
	assert_null(getenv("NOTIFY_SOCKET"));
	/* Once unset, later calls are no-ops. */
	assert_int_equal(agentd_notify("READY=1"), 0);
	close(fd);
	assert_int_equal(tmpdir_remove(dir), 0);
}

static void test_abstract_socket(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[64];
	size_t len;
	int fd;

	(void)state;
	len = (size_t)snprintf(name, sizeof(name), "@agentd-notify-test-%ld", (long)getpid());
	memcpy(sa.sun_path, name, len);
	sa.sun_path[0] = '\0';
	fd = listener(&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
	assert_int_equal(agentd_notify("READY=1"), 1);
	expect_datagram(fd, "READY=1");
	close(fd);
}

static void test_refusals(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(agentd_notify("READY=1"), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", "relative/path", 1), 0);
	assert_int_equal(agentd_notify("READY=1"), -EINVAL);
	assert_null(getenv("NOTIFY_SOCKET"));
	assert_int_equal(setenv("NOTIFY_SOCKET", "/nonexistent/agentd-notify", 1), 0);
	assert_int_equal(agentd_notify("READY=1"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
