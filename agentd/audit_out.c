/* Audit records to /dev/log without waiting. See agentd/audit_out.h.
 *
 * The spill file, $statedir/audit.spill (0600, root, in the root-only state
 * directory), holds one line per message: a status byte, '-' still to send
 * or '+' sent, then the datagram exactly as it goes to the socket, then a
 * newline (messages are printable ASCII: records by common/kv.h, the few
 * diagnostics sanitised here). Lines are appended at the file's end with
 * pwritev; a short write is cut off again with ftruncate, so the file only
 * ever holds whole lines. A sent line is marked '+' in place (one byte,
 * pwrite), so a restart resumes after it instead of sending it twice. When
 * every line is sent the file is removed.
 *
 * fsync policy: appends and marks are not synced one by one (a crash of
 * agentd keeps them: they are in the page cache). agent_audit_out_sync,
 * which agentd/audit.c calls before every checkpoint of the chain and at a
 * clean stop, spills what memory holds and fdatasyncs the file. So after a
 * power loss, the file holds every record up to the checkpoint, and what
 * may be missing lies in the range the crash-recovery start record declares;
 * a '+' mark lost the same way sends a record twice (verify: a copy). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agentd/audit_out.h"
#include "common/clock.h"

#define SPILL_REJECTED AGENT_AUDIT_SPILL_FILE ".rejected"

struct agent_audit_msg {
	struct agent_audit_msg *next;
	size_t len;
	char text[]; /* the datagram, NUL-terminated */
};

uint64_t agent_audit_now_ms(void)
{
	return (uint64_t)agent_mono_ms();
}

void agent_audit_out_init(struct agent_audit_out *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	o->path = path;
	o->fd = o->dirfd = o->sfd = -1;
	o->hold = AGENT_AUDIT_HOLD;
	o->mem_max = AGENT_AUDIT_MEM_MAX;
	o->smax = AGENT_AUDIT_SPILL_MAX;
	tzset();
}

bool agent_audit_out_busy(const struct agent_audit_out *o)
{
	return o->head || o->spill_pending;
}

/* "<PRI>Mmm dd hh:mm:ss agentd[PID]: msg" as glibc's syslog(3) writes it:
 * local time, C locale. Bytes rsyslog or a spill line could trip on (control
 * characters, newline) become '?'. Returns the length, or 0 if it did not
 * fit. */
static size_t format_dgram(char *buf, size_t cap, int pri, const char *msg)
{
	time_t now = time(NULL);
	struct tm tm;
	char when[32];
	int n;

	localtime_r(&now, &tm);
	if (strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm) == 0)
		return 0;
	n = snprintf(buf, cap, "<%d>%s agentd[%ld]: %s", pri, when, (long)getpid(), msg);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return (size_t)n;
}

/* false on ENOMEM (the caller accounts for the message). */
static bool enqueue(struct agent_audit_out *o, const char *dgram, size_t len)
{
	struct agent_audit_msg *m = malloc(sizeof(*m) + len + 1);

	if (!m)
		return false;
	m->next = NULL;
	m->len = len;
	memcpy(m->text, dgram, len + 1);
	if (o->tail)
		o->tail->next = m;
	else
		o->head = m;
	o->tail = m;
	o->qlen++;
	o->qbytes += len;
	return true;
}

static void dequeue(struct agent_audit_out *o)
{
	struct agent_audit_msg *m = o->head;

	o->head = m->next;
	if (!o->head)
		o->tail = NULL;
	o->qlen--;
	o->qbytes -= m->len;
	free(m);
}

/* A diagnostic about the way out itself: queued behind what waits, never
 * refused for the memory bound (there are at most two per failure). */
static void note(struct agent_audit_out *o, int level, const char *text)
{
	char buf[AGENT_AUDIT_DGRAM_MAX];
	size_t len = format_dgram(buf, sizeof(buf), LOG_AUTHPRIV | level, text);

	if (len && o->path)
		(void)enqueue(o, buf, len);
}

static void close_socket(struct agent_audit_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
}

static int connect_log(struct agent_audit_out *o)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(o->path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, o->path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A stream-only /dev/log gives EPROTOTYPE: records then wait as if
	 * syslog were down (agentd-audit(5)). */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	o->fd = fd;
	o->conn_err = 0;
	return 0;
}

/* 0 sent; -EAGAIN try later; -EMSGSIZE never deliverable; other -errno:
 * no syslog to talk to (try later). */
static int send_one(struct agent_audit_out *o, const char *dgram, size_t len)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		ssize_t n;
		int r;

		if (o->fd < 0 && (r = connect_log(o)) < 0) {
			o->conn_err = -r;
			return r;
		}
		do
			n = send(o->fd, dgram, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n == (ssize_t)len) {
			o->sent++;
			return 0;
		}
		if (n >= 0) /* a datagram is never cut short */
			return -EIO;
		switch (errno) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
		case ENOBUFS:
		case ENOMEM:
			return -EAGAIN;
		case EMSGSIZE:
			return -EMSGSIZE;
		default:
			/* ECONNREFUSED, ENOTCONN, EPIPE...: syslog went away
			 * or restarted; a new socket finds the new one. */
			close_socket(o);
			break;
		}
	}
	return -ECONNREFUSED;
}

/* Appends what memory holds to the spill file, oldest first, while it fits.
 * 0 when memory is empty, else -errno (the first failure is noted). */
static int spill(struct agent_audit_out *o)
{
	int r = 0;

	if (!o->head)
		return 0;
	if (o->dirfd < 0)
		return -ENOENT;
	if (o->sfd < 0) {
		struct stat st;

		o->sfd = openat(o->dirfd, AGENT_AUDIT_SPILL_FILE,
				O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (o->sfd < 0) {
			r = -errno;
			goto out;
		}
		if (fstat(o->sfd, &st) < 0) {
			r = -errno;
			close(o->sfd);
			o->sfd = -1;
			goto out;
		}
		o->ssize = (uint64_t)st.st_size;
		o->soff = o->spill_pending ? o->soff : o->ssize;
		o->sdirty = o->ssize > 0; /* not known to be synced */
	}
	while (o->head) {
		struct agent_audit_msg *m = o->head;
		struct iovec iov[3] = {
			{ .iov_base = (void *)"-", .iov_len = 1 },
			{ .iov_base = m->text, .iov_len = m->len },
			{ .iov_base = (void *)"\n", .iov_len = 1 },
		};
		ssize_t want = (ssize_t)m->len + 2, n;

		if (o->ssize + (uint64_t)want > o->smax) {
			r = -EFBIG;
			break;
		}
		n = pwritev(o->sfd, iov, 3, (off_t)o->ssize);
		if (n > 0)
			o->sdirty = true;
		if (n != want) {
			r = n < 0 ? -errno : -ENOSPC;
			/* Whole lines only: cut off what was written. */
			if (n > 0 && ftruncate(o->sfd, (off_t)o->ssize) < 0)
				r = -errno;
			break;
		}
		o->ssize += (uint64_t)n;
		o->spill_pending = true;
		o->spilled++;
		dequeue(o);
	}
out:
	if (r < 0 && !o->spill_err) {
		char text[256];

		snprintf(text, sizeof(text),
			 "cannot spill audit records to %s in the state directory: %s; "
			 "holding up to %zu KiB in memory",
			 AGENT_AUDIT_SPILL_FILE, strerror(-r), o->mem_max / 1024);
		o->spill_err = -r;
		note(o, LOG_ERR, text);
	} else if (r == 0 && o->spill_err) {
		o->spill_err = 0;
		note(o, LOG_NOTICE, "audit records spill to " AGENT_AUDIT_SPILL_FILE " again");
	}
	return r;
}

static void spill_done(struct agent_audit_out *o)
{
	unlinkat(o->dirfd, AGENT_AUDIT_SPILL_FILE, 0);
	close(o->sfd);
	o->sfd = -1;
	o->ssize = o->soff = 0;
	o->spill_pending = false;
}

/* The next line of the spill file to send: 1 with line[0..*len) (the
 * datagram, without status and newline) and *next (offset after it), 0 at
 * the end, -errno. Sent, damaged and torn lines are passed over. */
static int spill_next(struct agent_audit_out *o, char *line, size_t cap, size_t *len,
		      uint64_t *next)
{
	char buf[AGENT_AUDIT_DGRAM_MAX + 2];

	while (o->soff < o->ssize) {
		ssize_t n = pread(o->sfd, buf, sizeof(buf), (off_t)o->soff);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) /* shorter than we thought */
			break;
		nl = memchr(buf, '\n', (size_t)n);
		if (!nl && (size_t)n < sizeof(buf)) {
			/* A torn last line (a crash while appending): cut it. */
			if (ftruncate(o->sfd, (off_t)o->soff) == 0)
				o->ssize = o->soff;
			break;
		}
		if (!nl) { /* too long to be ours: skip to the next newline */
			o->soff += (uint64_t)n;
			continue;
		}
		size_t l = (size_t)(nl - buf);

		if (buf[0] == '-' && l >= 2 && l - 1 < cap) {
			memcpy(line, buf + 1, l - 1);
			line[l - 1] = '\0';
			*len = l - 1;
			*next = o->soff + l + 1;
			return 1;
		}
		o->soff += l + 1;
	}
	return 0;
}

static int backoff(struct agent_audit_out *o, uint64_t now)
{
	o->delay_ms = o->delay_ms ? o->delay_ms * 2 : AGENT_AUDIT_RETRY_MIN_MS;
	if (o->delay_ms > AGENT_AUDIT_RETRY_MAX_MS)
		o->delay_ms = AGENT_AUDIT_RETRY_MAX_MS;
	o->next_ms = now + o->delay_ms;
	return (int)o->delay_ms;
}

int agent_audit_out_pump(struct agent_audit_out *o, uint64_t now)
{
	char line[AGENT_AUDIT_DGRAM_MAX];

	if (!o->path || !agent_audit_out_busy(o))
		return -1;
	if (now < o->next_ms)
		return (int)(o->next_ms - now);
	/* The disk may have room again: memory is the last resort. */
	if (o->spill_err && o->qlen >= o->hold)
		spill(o);
	for (unsigned budget = AGENT_AUDIT_PUMP_BATCH; budget; budget--) {
		int r;

		if (o->spill_pending) {
			size_t len = 0;
			uint64_t next = 0;

			r = spill_next(o, line, sizeof(line), &len, &next);
			if (r < 0)
				return backoff(o, now);
			if (r == 0) {
				spill_done(o);
				continue;
			}
			r = send_one(o, line, len);
			if (r < 0 && r != -EMSGSIZE)
				return backoff(o, now);
			(void)!pwrite(o->sfd, "+", 1, (off_t)o->soff);
			o->soff = next;
			o->replayed++;
		} else if (o->head) {
			r = send_one(o, o->head->text, o->head->len);
			if (r < 0 && r != -EMSGSIZE)
				return backoff(o, now);
			dequeue(o);
		} else {
			o->delay_ms = 0;
			o->next_ms = 0;
			return -1;
		}
	}
	o->delay_ms = 0;
	o->next_ms = 0;
	return agent_audit_out_busy(o) ? 0 : -1;
}

bool agent_audit_out_room(const struct agent_audit_out *o, size_t len)
{
	return !o->spill_err || o->qbytes + len <= o->mem_max;
}

int agent_audit_out_push(struct agent_audit_out *o, int pri, const char *msg, uint64_t now)
{
	char buf[AGENT_AUDIT_DGRAM_MAX];
	size_t len;

	if (!o->path)
		return 0;
	len = format_dgram(buf, sizeof(buf), pri, msg);
	if (!len)
		return -EMSGSIZE;
	if (!agent_audit_out_busy(o) && now >= o->next_ms) {
		int r = send_one(o, buf, len);

		if (r == 0 || r == -EMSGSIZE)
			return r;
		backoff(o, now);
	}
	if (o->qlen >= o->hold)
		spill(o);
	if ((o->spill_err && o->qbytes + len > o->mem_max) || !enqueue(o, buf, len)) {
		o->refused++;
		return -ENOBUFS;
	}
	if (o->qlen >= o->hold)
		spill(o);
	if (now >= o->next_ms)
		agent_audit_out_pump(o, now);
	return 0;
}

int agent_audit_out_sync(struct agent_audit_out *o)
{
	int r = spill(o);

	/* Only appends need the sync (a lost '+' mark sends a record twice). */
	if (o->sfd < 0 || !o->sdirty)
		return r;
	if (fdatasync(o->sfd) < 0)
		return r ? r : -errno;
	o->sdirty = false;
	return r;
}

int agent_audit_out_open_spill(struct agent_audit_out *o, int dirfd)
{
	struct stat st;
	int fd, r;

	o->dirfd = dirfd;
	fd = openat(dirfd, AGENT_AUDIT_SPILL_FILE, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
	} else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		r = -EPERM;
	} else {
		o->sfd = fd;
		o->ssize = (uint64_t)st.st_size;
		o->sdirty = o->ssize > 0; /* a crashed run's appends, perhaps unsynced */
		o->soff = 0;
		o->spill_pending = o->ssize > 0;
		if (!o->spill_pending)
			spill_done(o);
		return 0;
	}
	close(fd);
	if (renameat(dirfd, AGENT_AUDIT_SPILL_FILE, dirfd, SPILL_REJECTED) == 0) {
		char text[200];

		snprintf(text, sizeof(text), "audit spill file set aside as %s: %s", SPILL_REJECTED,
			 strerror(-r));
		note(o, LOG_ERR, text);
	}
	return r;
}

size_t agent_audit_out_close(struct agent_audit_out *o, uint64_t now)
{
	size_t lost = 0;

	o->next_ms = 0;
	agent_audit_out_pump(o, now);
	agent_audit_out_sync(o);
	while (o->head) {
		lost++;
		dequeue(o);
	}
	close_socket(o);
	if (o->sfd >= 0)
		close(o->sfd);
	o->sfd = -1;
	o->dirfd = -1;
	return lost;
}
