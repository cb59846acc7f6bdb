/* pam_agent's decision logic (common/pam_decide.c) through a fake PAM
 * handle and a fake agentd (a forked process on a socket in a scratch
 * directory, answering each request as its mode says and saving what it
 * received). Fault injection: every call the module makes to libc that can
 * fail (allocation, open, fstat, pread, shmat, shmctl, mmap, socket,
 * connect, send, receive, poll, getpwnam_r) is wrapped (-Wl,--wrap) and fails in turn; no fault may
 * turn a denial into success, and none may make an agent PAM_IGNORE. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <fcntl.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/pam_decide.h"
#include "common/snapshot.h"
#include "common/wire.h"
#include "tests/unit/tmpdir.h"

/* ------------------------------------------------------------ faults */

static long fault_at;    /* the call number that fails; 0 = none */
static long fault_calls; /* wrapped calls so far */

static bool fault(void)
{
	return fault_at && ++fault_calls == fault_at;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
int __real_open(const char *path, int flags, ...);
int __real_fstat(int fd, struct stat *st);
void *__real_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off);
int __real_socket(int d, int t, int p);
int __real_connect(int fd, const struct sockaddr *sa, socklen_t len);
ssize_t __real_sendmsg(int fd, const struct msghdr *m, int flags);
ssize_t __real_recv(int fd, void *buf, size_t n, int flags);
int __real_poll(struct pollfd *p, nfds_t n, int t);
int __real_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t n,
		      struct passwd **out);
ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);
void *__real_shmat(int id, const void *addr, int flags);
int __real_shmctl(int id, int cmd, struct shmid_ds *ds);
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off);
void *__wrap_shmat(int id, const void *addr, int flags);
int __wrap_shmctl(int id, int cmd, struct shmid_ds *ds);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
int __wrap_open(const char *path, int flags, ...);
int __wrap_fstat(int fd, struct stat *st);
void *__wrap_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off);
int __wrap_socket(int d, int t, int p);
int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags);
ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags);
int __wrap_poll(struct pollfd *p, nfds_t n, int t);
int __wrap_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t n,
		      struct passwd **out);

void *__wrap_malloc(size_t n)
{
	if (fault()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(n);
}

void *__wrap_calloc(size_t a, size_t b)
{
	if (fault()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(a, b);
}

int __wrap_open(const char *path, int flags, ...)
{
	va_list ap;
	int mode;

	va_start(ap, flags);
	mode = va_arg(ap, int);
	va_end(ap);
	if (fault()) {
		errno = EMFILE;
		return -1;
	}
	return __real_open(path, flags, mode);
}

int __wrap_fstat(int fd, struct stat *st)
{
	if (fault()) {
		errno = EIO;
		return -1;
	}
	return __real_fstat(fd, st);
}

void *__wrap_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
	if (fault()) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return __real_mmap(a, n, prot, flags, fd, off);
}

int __wrap_socket(int d, int t, int p)
{
	if (fault()) {
		errno = EMFILE;
		return -1;
	}
	return __real_socket(d, t, p);
}

int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (fault()) {
		errno = ECONNREFUSED;
		return -1;
	}
	return __real_connect(fd, sa, len);
}

/* After each request sent, the client sleeps this long (a loaded host
 * that runs it again only later): 0 = not at all. */
static long nap_after_send_ms;

ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags)
{
	ssize_t n;

	if (fault()) {
		errno = ENOBUFS;
		return -1;
	}
	n = __real_sendmsg(fd, m, flags);
	if (n > 0 && nap_after_send_ms) {
		struct timespec ts = { nap_after_send_ms / 1000,
				       nap_after_send_ms % 1000 * 1000000 };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return n;
}

ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags)
{
	if (fault()) {
		errno = ECONNRESET;
		return -1;
	}
	return __real_recv(fd, buf, n, flags);
}

int __wrap_poll(struct pollfd *p, nfds_t n, int t)
{
	if (fault()) {
		errno = ENOMEM;
		return -1;
	}
	return __real_poll(p, n, t);
}

int __wrap_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t n, struct passwd **out)
{
	if (fault()) {
		*out = NULL;
		return EIO;
	}
	return __real_getpwnam_r(name, pw, buf, n, out);
}

ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
	if (fault()) {
		errno = EIO;
		return -1;
	}
	return __real_pread(fd, buf, n, off);
}

void *__wrap_shmat(int id, const void *addr, int flags)
{
	if (fault()) {
		errno = ENOMEM;
		return (void *)-1;
	}
	return __real_shmat(id, addr, flags);
}

int __wrap_shmctl(int id, int cmd, struct shmid_ds *ds)
{
	if (fault()) {
		errno = EINVAL;
		return -1;
	}
	return __real_shmctl(id, cmd, ds);
}

/* ------------------------------------------------------------ fake agentd */

enum mode {
	M_OK,           /* OK, or SESSION for SESSION_OPEN */
	M_DENY,         /* ERROR EACCES */
	M_EXPIRED,      /* ERROR EKEYEXPIRED */
	M_UNKNOWN,      /* ERROR ENOENT */
	M_GARBAGE,      /* an invalid datagram */
	M_WRONG_TYPE,   /* an IDENTITY reply */
	M_SILENT,       /* never answers (a frozen agentd) */
	M_STEPUP_OK,    /* STEPUP, then OK; a request with a grant: OK/SESSION */
	M_STEPUP_DENY,  /* STEPUP, then ERROR EACCES */
	M_STEPUP_HANG,  /* STEPUP expiring at once, then nothing */
	M_STEPUP_CLOSE, /* STEPUP, then the connection closes */
	M_SESSION_BAD,  /* SESSION for another name */
};

static char dir[] = "/tmp/pam-decide-XXXXXX";
static char sock_path[108], snap_path[160], seen_path[160];
static pid_t server = -1;

static void reply(int fd, struct agent_wbuf *w)
{
	if (agent_wire_finish(w) == 0)
		(void)send(fd, w->data, w->len, MSG_NOSIGNAL);
}

static void reply_error(int fd, int e)
{
	struct agent_wbuf w;

	agent_wire_begin(&w, AGENT_MSG_ERROR);
	agent_wire_u64(&w, AGENT_A_ERRNO, (uint64_t)e);
	agent_wire_str(&w, AGENT_A_MESSAGE, e == EACCES ? "refused by policy" : "no");
	reply(fd, &w);
}

static void reply_ok_for(int fd, const struct agent_msg *m, const char *name)
{
	struct agent_wbuf w;

	if (m->type == AGENT_MSG_SESSION_OPEN) {
		agent_wire_begin(&w, AGENT_MSG_SESSION);
		agent_wire_str(&w, AGENT_A_NAME, name);
		agent_wire_str(&w, AGENT_A_PURPOSE, "ci");
		agent_wire_u64(&w, AGENT_A_EXPIRES, (uint64_t)time(NULL) + 600);
		agent_wire_u64(&w, AGENT_A_SESSION_ID, 42);
		agent_wire_str(&w, AGENT_A_SUBJECT, "alice");
	} else {
		agent_wire_begin(&w, AGENT_MSG_OK);
	}
	reply(fd, &w);
}

static void stepup(int fd, int64_t expires)
{
	struct agent_wbuf w;

	agent_wire_begin(&w, AGENT_MSG_STEPUP);
	agent_wire_str(&w, AGENT_A_REQUEST_ID, "k7f3qx");
	agent_wire_u64(&w, AGENT_A_EXPIRES, (uint64_t)expires);
	agent_wire_str(&w, AGENT_A_MESSAGE, "Approval required: request k7f3qx");
	reply(fd, &w);
}

static void serve_one(int fd, enum mode mode, int seen)
{
	uint8_t buf[AGENT_WIRE_MAX];
	struct agent_msg m;
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	const char *name;
	static const uint8_t junk[] = { 9, 9, 9 };

	if (n <= 0 || agent_wire_parse(&m, buf, (size_t)n) < 0)
		return;
	if (m.type != AGENT_MSG_SESSION_CLOSE)
		if (write(seen, buf, (size_t)n) != n) /* the last request, for the test */
			_exit(1);
	name = agent_msg_str(&m, AGENT_A_NAME);
	if (m.type == AGENT_MSG_SESSION_CLOSE) {
		reply_ok_for(fd, &m, name);
		return;
	}
	switch (mode) {
	case M_OK:
		reply_ok_for(fd, &m, name);
		break;
	case M_DENY:
		reply_error(fd, EACCES);
		break;
	case M_EXPIRED:
		reply_error(fd, EKEYEXPIRED);
		break;
	case M_UNKNOWN:
		reply_error(fd, ENOENT);
		break;
	case M_GARBAGE:
		(void)send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
		break;
	case M_WRONG_TYPE: {
		struct agent_wbuf w;

		agent_wire_begin(&w, AGENT_MSG_END);
		reply(fd, &w);
		break;
	}
	case M_SILENT:
		pause();
		break;
	case M_STEPUP_OK:
	case M_STEPUP_DENY:
	case M_STEPUP_HANG:
	case M_STEPUP_CLOSE:
		if (mode == M_STEPUP_OK && agent_msg_str(&m, AGENT_A_REQUEST_ID)) {
			reply_ok_for(fd, &m, name);
			break;
		}
		stepup(fd, mode == M_STEPUP_HANG ? time(NULL) - 10 : time(NULL) + 30);
		if (mode == M_STEPUP_OK)
			reply_ok_for(fd, &(struct agent_msg){ .type = AGENT_MSG_OK }, name);
		else if (mode == M_STEPUP_DENY)
			reply_error(fd, EACCES);
		else if (mode == M_STEPUP_HANG)
			sleep(30);
		break;
	case M_SESSION_BAD:
		reply_ok_for(fd, &m, m.type == AGENT_MSG_SESSION_OPEN ? "agent-other1" : name);
		break;
	}
}

static void server_start(enum mode mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd;

	unlink(sock_path);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	server = fork();
	assert_true(server >= 0);
	if (server == 0) {
		fault_at = 0;
		for (;;) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			int seen = open(seen_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

			if (fd < 0)
				_exit(1);
			serve_one(fd, mode, seen);
			close(seen);
			close(fd);
		}
	}
	close(lfd);
}

static void server_stop(void)
{
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
	}
	server = -1;
	unlink(sock_path);
}

/* The last request the fake agentd received. */
static int last_request(uint8_t *buf, struct agent_msg *m)
{
	int fd = open(seen_path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, AGENT_WIRE_MAX);
	close(fd);
	return n > 0 ? agent_wire_parse(m, buf, (size_t)n) : -1;
}

/* ------------------------------------------------------------ fake PAM handle */

struct fake {
	const char *user;
	bool user_fails;
	const char *service, *tty, *rhost, *ruser;
	const char *tok;
	int tok_rc;
	void *pin, *session;
	bool set_fails;
	const char *env_cmd, *env_user, *env_logname;
	const char *exe;
	char said[1024];
	char logged[2048];
	int envs;
};

static struct fake F;

static int f_get_user(void *ctx, bool prompt, const char **user)
{
	(void)ctx;
	(void)prompt;
	*user = F.user;
	return F.user_fails ? -1 : 0;
}

static const char *f_get_item(void *ctx, enum pa_item item)
{
	(void)ctx;
	switch (item) {
	case PA_ITEM_SERVICE:
		return F.service;
	case PA_ITEM_TTY:
		return F.tty;
	case PA_ITEM_RHOST:
		return F.rhost;
	default:
		return F.ruser;
	}
}

static int f_get_authtok(void *ctx, const char **tok)
{
	(void)ctx;
	*tok = F.tok;
	return F.tok_rc;
}

static void *f_get_data(void *ctx, const char *key)
{
	(void)ctx;
	return strcmp(key, PA_DATA_PIN) == 0 ? F.pin : F.session;
}

static int f_set_data(void *ctx, const char *key, void *data)
{
	void **slot = strcmp(key, PA_DATA_PIN) == 0 ? &F.pin : &F.session;

	(void)ctx;
	if (F.set_fails)
		return -1;
	free(*slot);
	*slot = data;
	return 0;
}

static int f_put_env(void *ctx, const char *kv)
{
	(void)ctx;
	(void)kv;
	F.envs++;
	return 0;
}

static void f_say(void *ctx, const char *msg)
{
	(void)ctx;
	snprintf(F.said + strlen(F.said), sizeof(F.said) - strlen(F.said), "%s\n", msg);
}

static void f_log(void *ctx, int prio, const char *msg)
{
	(void)ctx;
	(void)prio;
	snprintf(F.logged + strlen(F.logged), sizeof(F.logged) - strlen(F.logged), "%s\n", msg);
}

static const char *f_get_env(void *ctx, const char *name)
{
	(void)ctx;
	if (strcmp(name, "SUDO_COMMAND") == 0)
		return F.env_cmd;
	if (strcmp(name, "USER") == 0)
		return F.env_user;
	if (strcmp(name, "LOGNAME") == 0)
		return F.env_logname;
	return NULL;
}

static ssize_t f_exe(void *ctx, char *buf, size_t len)
{
	(void)ctx;
	if (!F.exe)
		return -1;
	snprintf(buf, len, "%s", F.exe);
	return (ssize_t)strlen(buf);
}

static const struct pa_host H = { NULL,       f_get_user, f_get_item, f_get_authtok,
				  f_get_data, f_set_data, f_put_env,  f_say,
				  f_log,      f_get_env,  f_exe };

static void fake_reset(const char *user, const char *service)
{
	free(F.pin);
	free(F.session);
	memset(&F, 0, sizeof(F));
	F.user = user;
	F.service = service;
	F.tty = "/dev/pts/3";
	F.tok = "tok-abcdef";
}

static const char *args_default[] = { "timeout=1000" };

static enum pa_result stage(enum pa_stage st)
{
	return pa_stage(&H, st, false, 1, args_default, sock_path, snap_path);
}

static enum pa_result stage_args(enum pa_stage st, int argc, const char **argv)
{
	return pa_stage(&H, st, false, argc, argv, sock_path, snap_path);
}

/* ------------------------------------------------------------ setup */

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (tmpdir_make(dir) < 0)
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/agentd.sock", dir);
	snprintf(snap_path, sizeof(snap_path), "%s/passwd.snap", dir); /* absent */
	snprintf(seen_path, sizeof(seen_path), "%s/seen", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	server_stop();
	fake_reset(NULL, NULL);
	return tmpdir_remove(dir);
}

static int each_teardown(void **state)
{
	(void)state;
	server_stop();
	return 0;
}

/* ------------------------------------------------------------ namespace */

static void test_namespace(void **state)
{
	struct pa_args a;
	const char *custom[] = { "prefix=bot-", "uids=1-1" };

	(void)state;
	fake_reset("x", "su");
	pa_parse_args(&H, 0, NULL, sock_path, snap_path, &a);
	assert_false(a.bad);
	assert_true(pa_in_namespace(&a, "agent-k7f3q2"));
	assert_true(pa_in_namespace(&a, "agent-"));
	assert_false(pa_in_namespace(&a, "root"));
	assert_false(pa_in_namespace(&a, "alice-agent"));
	assert_false(pa_in_namespace(&a, NULL));
	assert_false(pa_in_namespace(&a, "bad name;rm"));
	/* the uid range: daemon (uid 1 on Debian) is in a range 1-1 */
	pa_parse_args(&H, 2, custom, sock_path, snap_path, &a);
	assert_false(a.bad);
	assert_true(pa_in_namespace(&a, "bot-abc"));
	assert_false(pa_in_namespace(&a, "agent-abc"));
	assert_true(pa_in_namespace(&a, "daemon"));
	assert_false(pa_in_namespace(&a, "root"));
}

static void test_args(void **state)
{
	struct pa_args a;
	const char *bad[][1] = {
		{ "timeout=99" },      { "timeout=60001" }, { "timeout=1x" },
		{ "prefix=Bad" },      { "prefix=" },       { "uids=5-4" },
		{ "uids=-1-4" },       { "uids=1-" },       { "uids=1-99999999999" },
		{ "socket=relative" }, { "frobnicate" }
	};
	const char *good[] = { "timeout=100", "socket=/run/x.sock", "sudo=/opt/sudo",
			       "prefix=bot-", "uids=1000-2000",     "debug" };

	(void)state;
	fake_reset("x", "su");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pa_parse_args(&H, 1, bad[i], sock_path, snap_path, &a);
		if (!a.bad)
			fail_msg("accepted %s", bad[i][0]);
	}
	pa_parse_args(&H, 6, good, sock_path, snap_path, &a);
	assert_false(a.bad);
	assert_int_equal(a.timeout_ms, 100);
	assert_string_equal(a.socket, "/run/x.sock");
	assert_string_equal(a.sudo, "/opt/sudo");
	assert_string_equal(a.prefix, "bot-");
	assert_int_equal(a.uid_min, 1000);
	assert_int_equal(a.uid_max, 2000);
	assert_true(a.debug);
	/* bad arguments: an agent is refused, a human ignored */
	fake_reset("agent-k7f3q2", "su");
	assert_int_equal(stage_args(PA_ACCOUNT, 1, bad[0]), PA_SERVICE_ERR);
	fake_reset("alice", "su");
	assert_int_equal(stage_args(PA_ACCOUNT, 1, bad[0]), PA_IGNORE);
}

/* ------------------------------------------------------------ stages */

static void test_human_ignored(void **state)
{
	(void)state;
	/* no agentd at all: humans never need it */
	fake_reset("root", "su");
	assert_int_equal(stage(PA_AUTH), PA_IGNORE);
	assert_int_equal(stage(PA_SETCRED), PA_IGNORE);
	assert_int_equal(stage(PA_ACCOUNT), PA_IGNORE);
	assert_int_equal(stage(PA_SESSION_OPEN), PA_IGNORE);
	assert_int_equal(stage(PA_SESSION_CLOSE), PA_IGNORE);
	fake_reset(NULL, "su");
	assert_int_equal(stage(PA_ACCOUNT), PA_IGNORE);
	fake_reset("root", "su");
	F.user_fails = true;
	assert_int_equal(stage(PA_ACCOUNT), PA_IGNORE);
	/* a human whose pin cannot be stored is still ignored */
	fake_reset("root", "su");
	F.set_fails = true;
	assert_int_equal(stage(PA_ACCOUNT), PA_IGNORE);
}

static void test_agent_unreachable(void **state)
{
	(void)state;
	/* no agentd: an agent is refused in every stage, never ignored */
	fake_reset("agent-gone01", "su");
	assert_int_equal(stage(PA_AUTH), PA_UNAVAIL);
	assert_int_equal(stage(PA_ACCOUNT), PA_PERM_DENIED);
	assert_int_equal(stage(PA_SESSION_OPEN), PA_PERM_DENIED);
	assert_non_null(strstr(F.said, "the agentd service is not available"));
	assert_non_null(strstr(F.logged, "agentd not usable"));
	/* a pin that cannot be stored refuses an agent */
	fake_reset("agent-gone01", "su");
	F.set_fails = true;
	assert_int_equal(stage(PA_ACCOUNT), PA_BUF_ERR);
}

static void test_every_stage_decides(void **state)
{
	uint8_t buf[AGENT_WIRE_MAX];
	struct agent_msg m;

	(void)state;
	server_start(M_DENY);
	fake_reset("agent-k7f3q2", "sudo");
	assert_int_equal(stage(PA_AUTH), PA_AUTH_ERR);
	assert_non_null(strstr(F.said, "refused by policy"));
	assert_int_equal(stage(PA_ACCOUNT), PA_PERM_DENIED);
	assert_int_equal(stage(PA_SESSION_OPEN), PA_PERM_DENIED);
	assert_int_equal(last_request(buf, &m), 0);
	assert_int_equal(m.type, AGENT_MSG_SESSION_OPEN);
	assert_string_equal(agent_msg_str(&m, AGENT_A_NAME), "agent-k7f3q2");
	assert_string_equal(agent_msg_str(&m, AGENT_A_SERVICE), "sudo");
	assert_string_equal(agent_msg_str(&m, AGENT_A_TTY), "/dev/pts/3");
	/* not sudo itself: no command, no run-as user */
	assert_null(agent_msg_str(&m, AGENT_A_COMMAND));
	assert_null(agent_msg_str(&m, AGENT_A_RUNAS));
	/* any single stage alone decides too */
	fake_reset("agent-k7f3q2", "sudo");
	assert_int_equal(stage(PA_SESSION_OPEN), PA_PERM_DENIED);
	server_stop();

	server_start(M_EXPIRED);
	fake_reset("agent-k7f3q2", "su");
	assert_int_equal(stage(PA_ACCOUNT), PA_ACCT_EXPIRED);
	assert_int_equal(stage(PA_AUTH), PA_AUTH_ERR);
	assert_int_equal(stage(PA_SESSION_OPEN), PA_PERM_DENIED);
	server_stop();
	server_start(M_UNKNOWN);
	fake_reset("agent-k7f3q2", "su");
	assert_int_equal(stage(PA_ACCOUNT), PA_USER_UNKNOWN);
	server_stop();
}

static void test_allowed(void **state)
{
	uint8_t buf[AGENT_WIRE_MAX];
	struct agent_msg m;

	(void)state;
	server_start(M_OK);
	fake_reset("agent-k7f3q2", "su");
	assert_int_equal(stage(PA_AUTH), PA_OK);
	assert_int_equal(last_request(buf, &m), 0);
	assert_int_equal(m.type, AGENT_MSG_AUTH);
	assert_string_equal(agent_msg_str(&m, AGENT_A_TOKEN), "tok-abcdef");
	assert_int_equal(stage(PA_SETCRED), PA_OK);
	assert_int_equal(stage(PA_ACCOUNT), PA_OK);
	assert_int_equal(stage(PA_SESSION_OPEN), PA_OK);
	assert_non_null(F.session);
	assert_int_equal(F.envs, 4);
	assert_int_equal(stage(PA_SESSION_CLOSE), PA_OK);
	/* close without an open session of ours */
	fake_reset("agent-k7f3q2", "su");
	assert_int_equal(stage(PA_SESSION_CLOSE), PA_OK);
	server_stop();
}

/* A module that slept through its deadline after asking (descheduled on a
 * loaded host) still takes the answer agentd sent meanwhile; a frozen
 * agentd is still refused at the deadline. */
static void test_slept_through_deadline(void **state)
{
	const char *argv[] = { "timeout=100" };

	(void)state;
	nap_after_send_ms = 300;
	server_start(M_OK);
	fake_reset("agent-k7f3q2", "su");
	assert_int_equal(stage_args(PA_ACCOUNT, 1, argv), PA_OK);
	server_stop();
	assert_null(strstr(F.said, "not available"));
	server_stop();
	server_start(M_DENY);
	fake_reset("agent-k7f3q2", "su");
	assert_int_equal(stage_args(PA_ACCOUNT, 1, argv), PA_PERM_DENIED);
	assert_null(strstr(F.said, "not available"));
	server_stop();
	server_start(M_SILENT);
	fake_reset("agent-k7f3q2", "su");
	assert_int_equal(stage_args(PA_ACCOUNT, 1, argv), PA_PERM_DENIED);
	assert_non_null(strstr(F.said, "not available"));
	server_stop();
	nap_after_send_ms = 0;
}

static void test_auth_token(void **state)
{
	(void)state;
	fake_reset("agent-k7f3q2", "su");
	F.tok = NULL;
	F.tok_rc = -1;
	assert_int_equal(stage(PA_AUTH), PA_AUTH_ERR);
	fake_reset("agent-k7f3q2", "su");
	F.tok = NULL;
	F.tok_rc = -EAGAIN;
	assert_int_equal(stage(PA_AUTH), PA_INCOMPLETE);
	fake_reset("agent-k7f3q2", "su");
	F.tok = "";
	assert_int_equal(stage(PA_AUTH), PA_AUTH_ERR);
	fake_reset("agent-k7f3q2", "su");
	F.tok = "0123456789012345678901234567890123456789012345678901234567890123456789";
	assert_int_equal(stage(PA_AUTH), PA_AUTH_ERR);
	assert_non_null(strstr(F.logged, "malformed token"));
}

static void test_bad_replies(void **state)
{
	static const enum mode modes[] = { M_GARBAGE, M_WRONG_TYPE, M_SESSION_BAD };

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		server_start(modes[i]);
		fake_reset("agent-k7f3q2", "su");
		if (modes[i] != M_SESSION_BAD) {
			assert_int_equal(stage(PA_AUTH), PA_UNAVAIL);
			assert_int_equal(stage(PA_ACCOUNT), PA_PERM_DENIED);
		}
		assert_int_equal(stage(PA_SESSION_OPEN), PA_PERM_DENIED);
		assert_null(F.session);
		server_stop();
	}
}

static void test_user_pinned(void **state)
{
	(void)state;
	server_start(M_OK);
	/* agent -> another agent */
	fake_reset("agent-k7f3q2", "su");
	assert_int_equal(stage(PA_AUTH), PA_OK);
	F.user = "agent-other1";
	assert_int_equal(stage(PA_ACCOUNT), PA_PERM_DENIED);
	assert_int_equal(stage(PA_SESSION_OPEN), PA_PERM_DENIED);
	assert_non_null(strstr(F.logged, "PAM_USER changed from agent-k7f3q2 to agent-other1"));
	/* agent -> human */
	fake_reset("agent-k7f3q2", "su");
	assert_int_equal(stage(PA_AUTH), PA_OK);
	F.user = "root";
	assert_int_equal(stage(PA_ACCOUNT), PA_PERM_DENIED);
	assert_int_equal(stage(PA_SESSION_CLOSE), PA_SESSION_ERR);
	F.user = NULL;
	assert_int_equal(stage(PA_SESSION_OPEN), PA_PERM_DENIED);
	/* human -> agent */
	fake_reset("alice", "su");
	assert_int_equal(stage(PA_AUTH), PA_IGNORE);
	F.user = "agent-k7f3q2";
	assert_int_equal(stage(PA_ACCOUNT), PA_PERM_DENIED);
	assert_int_equal(stage(PA_AUTH), PA_AUTH_ERR);
	/* human -> human: not ours */
	fake_reset("alice", "su");
	assert_int_equal(stage(PA_AUTH), PA_IGNORE);
	F.user = "bob";
	assert_int_equal(stage(PA_ACCOUNT), PA_IGNORE);
	server_stop();
}

static void sudo_env(const char *cmd, const char *runas)
{
	F.exe = "/usr/bin/sudo";
	F.env_cmd = cmd;
	F.env_user = runas;
	F.env_logname = runas;
}

static void test_sudo_runas(void **state)
{
	uint8_t buf[AGENT_WIRE_MAX];
	struct agent_msg m;

	(void)state;
	server_start(M_OK);
	fake_reset("agent-k7f3q2", "sudo");
	sudo_env("/usr/bin/id -u", "bob");
	assert_int_equal(stage(PA_AUTH), PA_OK);
	assert_int_equal(last_request(buf, &m), 0);
	assert_string_equal(agent_msg_str(&m, AGENT_A_COMMAND), "/usr/bin/id -u");
	assert_string_equal(agent_msg_str(&m, AGENT_A_RUNAS), "bob");
	assert_int_equal(stage(PA_ACCOUNT), PA_OK);
	/* sudo's session stage: PAM_USER is the run-as user */
	F.user = "bob";
	assert_int_equal(stage(PA_SETCRED), PA_OK);
	assert_int_equal(stage(PA_SESSION_OPEN), PA_OK);
	assert_int_equal(last_request(buf, &m), 0);
	assert_string_equal(agent_msg_str(&m, AGENT_A_NAME), "agent-k7f3q2");
	assert_string_equal(agent_msg_str(&m, AGENT_A_RUNAS), "bob");
	assert_int_equal(stage(PA_SESSION_CLOSE), PA_OK);
	/* the environment says root, sudo's PAM_USER says bob: refused */
	fake_reset("agent-k7f3q2", "sudo");
	sudo_env("/usr/bin/id", "root");
	assert_int_equal(stage(PA_ACCOUNT), PA_OK);
	F.user = "bob";
	assert_int_equal(stage(PA_SESSION_OPEN), PA_PERM_DENIED);
	/* USER and LOGNAME disagree: the run-as user is unknown */
	fake_reset("agent-k7f3q2", "sudo");
	sudo_env("/usr/bin/id", "root");
	F.env_logname = "bob";
	assert_int_equal(stage(PA_ACCOUNT), PA_OK);
	assert_int_equal(last_request(buf, &m), 0);
	assert_null(agent_msg_str(&m, AGENT_A_RUNAS));
	/* not the sudo binary: the environment is not trusted */
	fake_reset("agent-k7f3q2", "sudo");
	sudo_env("/usr/bin/id", "root");
	F.exe = "/tmp/fake-sudo";
	assert_int_equal(stage(PA_ACCOUNT), PA_OK);
	assert_int_equal(last_request(buf, &m), 0);
	assert_null(agent_msg_str(&m, AGENT_A_COMMAND));
	assert_null(agent_msg_str(&m, AGENT_A_RUNAS));
	/* ... nor a PAM_USER change in the session stage */
	F.user = "root";
	assert_int_equal(stage(PA_SESSION_OPEN), PA_PERM_DENIED);
	/* exe unreadable */
	fake_reset("agent-k7f3q2", "sudo");
	sudo_env("/usr/bin/id", "root");
	F.exe = NULL;
	assert_int_equal(stage(PA_ACCOUNT), PA_OK);
	assert_int_equal(last_request(buf, &m), 0);
	assert_null(agent_msg_str(&m, AGENT_A_COMMAND));
	/* a human's sudo -u agent: the session is refused */
	fake_reset("alice", "sudo");
	sudo_env("/usr/bin/id", "agent-k7f3q2");
	assert_int_equal(stage(PA_ACCOUNT), PA_IGNORE);
	F.user = "agent-k7f3q2";
	assert_int_equal(stage(PA_SESSION_OPEN), PA_PERM_DENIED);
	server_stop();
}

static void test_stepup(void **state)
{
	uint8_t buf[AGENT_WIRE_MAX];
	struct agent_msg m;
	struct pa_pin *pin;

	(void)state;
	server_start(M_STEPUP_OK);
	fake_reset("agent-k7f3q2", "sudo");
	sudo_env("/bin/sh -c true", "root");
	assert_int_equal(stage(PA_AUTH), PA_OK);
	assert_non_null(strstr(F.said, "Approval required: request k7f3qx"));
	pin = F.pin;
	assert_string_equal(pin->grant, "k7f3qx");
	/* later stages send the approval; agentd (here: the fake) accepts it */
	assert_int_equal(stage(PA_ACCOUNT), PA_OK);
	assert_int_equal(last_request(buf, &m), 0);
	assert_string_equal(agent_msg_str(&m, AGENT_A_REQUEST_ID), "k7f3qx");
	F.user = "root";
	assert_int_equal(stage(PA_SESSION_OPEN), PA_OK);
	assert_int_equal(last_request(buf, &m), 0);
	assert_string_equal(agent_msg_str(&m, AGENT_A_REQUEST_ID), "k7f3qx");
	/* another command in the same transaction: not reused */
	F.user = "agent-k7f3q2";
	sudo_env("/bin/sh -c false", "root");
	assert_int_equal(stage(PA_ACCOUNT), PA_OK);
	assert_int_equal(last_request(buf, &m), 0);
	assert_null(agent_msg_str(&m, AGENT_A_REQUEST_ID));
	/* the session stage gets its approval, then asks again with it */
	fake_reset("agent-k7f3q2", "sudo");
	sudo_env("/bin/sh -c true", "root");
	assert_int_equal(stage(PA_SESSION_OPEN), PA_OK);
	assert_non_null(F.session);
	server_stop();

	server_start(M_STEPUP_DENY);
	fake_reset("agent-k7f3q2", "sudo");
	assert_int_equal(stage(PA_ACCOUNT), PA_PERM_DENIED);
	assert_int_equal(stage(PA_AUTH), PA_AUTH_ERR);
	assert_int_equal(stage(PA_SESSION_OPEN), PA_PERM_DENIED);
	server_stop();

	server_start(M_STEPUP_HANG);
	fake_reset("agent-k7f3q2", "sudo");
	assert_int_equal(stage(PA_ACCOUNT), PA_PERM_DENIED);
	assert_non_null(strstr(F.said, "Approval not granted in time."));
	server_stop();

	server_start(M_STEPUP_CLOSE);
	fake_reset("agent-k7f3q2", "sudo");
	assert_int_equal(stage(PA_ACCOUNT), PA_PERM_DENIED);
	assert_int_equal(stage(PA_AUTH), PA_UNAVAIL);
	server_stop();
}

/* A frozen agentd: the stage ends within its timeout= (printed, not
 * asserted: no timing asserts in tests). */
static void test_frozen(void **state)
{
	const char *args[] = { "timeout=200" };
	struct timespec t0, t1;

	(void)state;
	server_start(M_SILENT);
	fake_reset("agent-k7f3q2", "su");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(stage_args(PA_ACCOUNT, 1, args), PA_PERM_DENIED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# frozen agentd, timeout=200: account denied after %ld ms\n",
	       (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	server_stop();
}

/* ------------------------------------------------------------ faults */

static bool is_denial(enum pa_result r)
{
	return r != PA_OK && r != PA_IGNORE;
}

/* Runs fn with each wrapped call failing in turn until a run makes fewer
 * calls than the fault's number. check is called on every result. */
static void each_fault(enum mode mode, const char *user, enum pa_stage st,
		       void (*check)(enum pa_result r, long n))
{
	long n;

	server_start(mode);
	for (n = 1; n < 10000; n++) {
		enum pa_result r;

		fake_reset(user, "sudo");
		sudo_env("/usr/bin/id", "root");
		fault_calls = 0;
		fault_at = n;
		r = stage(st);
		fault_at = 0;
		check(r, n);
		if (fault_calls < n)
			break;
	}
	server_stop();
	assert_true(n > 3); /* the run made calls that could fail */
}

static void must_deny(enum pa_result r, long n)
{
	if (!is_denial(r))
		fail_msg("fault at call %ld: result %d is not a denial", n, r);
}

static void never_ignored(enum pa_result r, long n)
{
	if (r == PA_IGNORE)
		fail_msg("fault at call %ld: an agent was ignored", n);
}

static void test_faults_deny(void **state)
{
	static const enum mode modes[] = { M_DENY, M_EXPIRED, M_STEPUP_DENY };
	static const enum pa_stage stages[] = { PA_AUTH, PA_ACCOUNT, PA_SESSION_OPEN };

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		for (size_t k = 0; k < sizeof(stages) / sizeof(stages[0]); k++)
			each_fault(modes[i], "agent-k7f3q2", stages[k], must_deny);
	/* no agentd: nothing makes it succeed */
	for (size_t k = 0; k < sizeof(stages) / sizeof(stages[0]); k++) {
		long n;

		for (n = 1; n < 1000; n++) {
			enum pa_result r;

			fake_reset("agent-k7f3q2", "sudo");
			fault_calls = 0;
			fault_at = n;
			r = stage(stages[k]);
			fault_at = 0;
			must_deny(r, n);
			if (fault_calls < n)
				break;
		}
	}
}

static void test_faults_allow(void **state)
{
	static const enum pa_stage stages[] = { PA_AUTH, PA_ACCOUNT, PA_SESSION_OPEN };

	(void)state;
	/* with an agentd that allows, a fault may deny, never ignore */
	for (size_t k = 0; k < sizeof(stages) / sizeof(stages[0]); k++) {
		each_fault(M_OK, "agent-k7f3q2", stages[k], never_ignored);
		each_fault(M_STEPUP_OK, "agent-k7f3q2", stages[k], never_ignored);
	}
}

static void must_not_succeed(enum pa_result r, long n)
{
	if (r == PA_OK)
		fail_msg("fault at call %ld: a denial became success", n);
}

/* A name outside the prefix that only the snapshot names: the module opens
 * and checks the locator and attaches the segment. A failure there leaves such a name outside
 * the namespace (so does NSS, which reads the same file); it never makes a
 * denial a success. Needs a root-owned snapshot: root only. */
static void test_faults_snapshot(void **state)
{
	struct agent_snap_purpose pu = { .name = "ci", .shell = "/bin/sh" };
	struct agent_snap_params p = { .uid_min = 1879048192,
				       .uid_max = 1879048255,
				       .purposes = &pu,
				       .npurposes = 1,
				       .agents_group = "" };
	struct agent_snap_entry e = { .uid = 1879048192, .expires = time(NULL) + 600 };
	struct agent_snap_writer *w = NULL;
	const char *args[] = { "timeout=1000", "prefix=zz-" };
	long n;

	(void)state;
	if (geteuid() != 0) {
		printf("# test_faults_snapshot: not root, the snapshot cannot be root-owned\n");
		return;
	}
	snprintf(e.name, sizeof(e.name), "svc-bot1");
	e.expires_boot_ns = INT64_MAX;
	assert_int_equal(agent_snap_writer_create(snap_path, &p, &w), 0);
	assert_int_equal(agent_snap_put(w, &e), 0);
	server_start(M_DENY);
	fake_reset("svc-bot1", "su");
	assert_int_equal(stage_args(PA_ACCOUNT, 2, args), PA_PERM_DENIED); /* in the snapshot */
	for (n = 1; n < 1000; n++) {
		enum pa_result r;

		fake_reset("svc-bot1", "su");
		fault_calls = 0;
		fault_at = n;
		r = stage_args(PA_ACCOUNT, 2, args);
		fault_at = 0;
		must_not_succeed(r, n);
		if (fault_calls < n)
			break;
	}
	assert_true(n > 3);
	server_stop();
	agent_snap_writer_destroy(w, snap_path); /* the segment goes too */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_namespace, each_teardown),
		cmocka_unit_test_teardown(test_args, each_teardown),
		cmocka_unit_test_teardown(test_human_ignored, each_teardown),
		cmocka_unit_test_teardown(test_agent_unreachable, each_teardown),
		cmocka_unit_test_teardown(test_every_stage_decides, each_teardown),
		cmocka_unit_test_teardown(test_allowed, each_teardown),
		cmocka_unit_test_teardown(test_slept_through_deadline, each_teardown),
		cmocka_unit_test_teardown(test_auth_token, each_teardown),
		cmocka_unit_test_teardown(test_bad_replies, each_teardown),
		cmocka_unit_test_teardown(test_user_pinned, each_teardown),
		cmocka_unit_test_teardown(test_sudo_runas, each_teardown),
		cmocka_unit_test_teardown(test_stepup, each_teardown),
		cmocka_unit_test_teardown(test_frozen, each_teardown),
		cmocka_unit_test_teardown(test_faults_deny, each_teardown),
		cmocka_unit_test_teardown(test_faults_allow, each_teardown),
		cmocka_unit_test_teardown(test_faults_snapshot, each_teardown),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
