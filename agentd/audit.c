/* Audit records to syslog, chained. See agentd/audit.h and agentd-audit(5).
 *
 * audit.state holds one kv line, `v=1 seq=N mac="M" clean=0|1`: the last
 * record the checkpoint covers and whether the run ended there. It is
 * replaced atomically (O_EXCL-free temp file in the root-only state
 * directory, fsync, rename, fsync of the directory), so it is either the
 * old or the new checkpoint after a crash. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agentd/audit.h"
#include "common/audit_mac.h"
#include "common/keyfile.h"
#include "common/text.h"

#define STATE_TMP AGENT_AUDIT_STATE_FILE ".tmp"

void agent_audit_open(struct agent_audit *a, int to_stderr)
{
	memset(a, 0, sizeof(*a));
	a->to_stderr = to_stderr;
	a->dirfd = -1;
	agent_audit_out_init(&a->out, "/dev/log");
	/* Only for messages before the audit queue exists (start-up errors)
	 * and in children; the daemon's own messages go through the queue
	 * (agent_audit_log), which never blocks. */
	openlog("agentd", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
}

void agent_audit_vlog(struct agent_audit *a, int level, const char *fmt, va_list ap)
{
	char text[512];

	vsnprintf(text, sizeof(text), fmt, ap);
	agent_audit_out_push(&a->out, LOG_AUTHPRIV | level, text, agent_audit_now_ms());
	if (a->to_stderr)
		fprintf(stderr, "agentd: %s\n", text);
}

void agent_audit_log(struct agent_audit *a, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	agent_audit_vlog(a, level, fmt, ap);
	va_end(ap);
}

struct state {
	uint64_t v, seq, clean;
	bool has_v, has_seq, has_clean;
	char mac[AGENT_AUDIT_MAC_HEX + 1];
};

static int state_cb(const char *key, const char *value, void *arg)
{
	struct state *s = arg;
	char *end;

	if (strcmp(key, "mac") == 0) {
		if (strlen(value) != AGENT_AUDIT_MAC_HEX)
			return -EBADMSG;
		memcpy(s->mac, value, sizeof(s->mac));
		return 0;
	}
	errno = 0;
	uint64_t n = strtoull(value, &end, 10);

	if (errno || *end || !*value)
		return -EBADMSG;
	if (strcmp(key, "v") == 0)
		s->v = n, s->has_v = true;
	else if (strcmp(key, "seq") == 0)
		s->seq = n, s->has_seq = true;
	else if (strcmp(key, "clean") == 0)
		s->clean = n, s->has_clean = true;
	return 0;
}

/* Reads audit.state: 0 and *s, -ENOENT, or -EBADMSG / -errno. */
static int state_read(int dirfd, struct state *s)
{
	char buf[256];
	struct stat st;
	ssize_t n;
	int fd, r = 0;

	memset(s, 0, sizeof(*s));
	fd = openat(dirfd, AGENT_AUDIT_STATE_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) || st.st_size >= (off_t)sizeof(buf)) {
		close(fd);
		return -EBADMSG;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || buf[n - 1] != '\n')
		return -EBADMSG;
	buf[n - 1] = '\0';
	r = agent_kv_parse(buf, state_cb, s);
	if (r < 0 || !s->has_v || s->v != 1 || !s->has_seq || !s->has_clean || s->clean > 1 ||
	    !s->mac[0] || s->seq > UINT64_MAX / 2)
		return -EBADMSG;
	return 0;
}

int agent_audit_chain_open(struct agent_audit *a, const char *state_dir)
{
	struct state s;
	bool had_key;
	int r;

	if (sodium_init() < 0)
		return -EIO;
	a->dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->dirfd < 0)
		return -errno;
	/* Records a previous run could not deliver go out before this run's. */
	agent_audit_out_open_spill(&a->out, a->dirfd);
	had_key = faccessat(a->dirfd, AGENT_AUDIT_KEY_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	r = agent_keyfile_load(state_dir, AGENT_AUDIT_KEY_FILE, a->key, sizeof(a->key));
	if (r < 0)
		goto fail;
	r = had_key ? state_read(a->dirfd, &s) : -ENOENT;
	if (r == -ENOENT) {
		/* A new key (or no checkpoint yet) starts a new chain. */
		a->seq = 0;
		memset(a->prev, '0', AGENT_AUDIT_MAC_HEX);
		a->resume = "new";
	} else if (r < 0) {
		goto fail;
	} else if (s.clean) {
		a->seq = s.seq;
		memcpy(a->prev, s.mac, sizeof(a->prev));
		a->resume = "continued";
	} else {
		/* The crashed run may have used every seq up to the checkpoint
		 * it did not reach; none of them is used again. */
		a->lost_from = s.seq + 1;
		a->lost_to = s.seq + AGENT_AUDIT_CHECKPOINT_EVERY;
		a->seq = a->lost_to;
		memcpy(a->prev, s.mac, sizeof(a->prev));
		a->resume = "crash";
	}
	a->prev[AGENT_AUDIT_MAC_HEX] = '\0';
	a->ckpt_seq = a->seq;
	a->ckpt_due = true; /* the first record of the run moves the checkpoint */
	a->chained = true;
	return 0;
fail:
	sodium_memzero(a->key, sizeof(a->key));
	a->out.dirfd = -1;
	if (a->out.sfd >= 0)
		close(a->out.sfd);
	a->out.sfd = -1;
	a->out.spill_pending = false;
	close(a->dirfd);
	a->dirfd = -1;
	return r;
}

int agent_audit_checkpoint(struct agent_audit *a, bool clean)
{
	char line[128];
	int fd, n, r = 0;

	if (!a->chained || a->dirfd < 0)
		return -EBADF;
	/* Every record the checkpoint covers is delivered or durably spilled:
	 * only the range a crash start declares can be missing. */
	agent_audit_out_sync(&a->out);
	n = snprintf(line, sizeof(line), "v=1 seq=%" PRIu64 " mac=\"%s\" clean=%d\n", a->seq,
		     a->prev, clean ? 1 : 0);
	if (n < 0 || n >= (int)sizeof(line))
		return -EOVERFLOW;
	fd = openat(a->dirfd, STATE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)n) != n || fsync(fd) < 0)
		r = -EIO;
	if (close(fd) < 0 && r == 0)
		r = -EIO;
	if (r == 0 && renameat(a->dirfd, STATE_TMP, a->dirfd, AGENT_AUDIT_STATE_FILE) < 0)
		r = -errno;
	if (r == 0 && fsync(a->dirfd) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(a->dirfd, STATE_TMP, 0);
		if (!a->ckpt_failed)
			agent_audit_log(a, LOG_ERR, "cannot checkpoint the audit chain: %s",
					strerror(-r));
		a->ckpt_failed = true;
		return r;
	}
	if (a->ckpt_failed)
		agent_audit_log(a, LOG_NOTICE, "the audit chain is checkpointed again");
	a->ckpt_failed = false;
	a->ckpt_seq = a->seq;
	a->ckpt_due = false;
	return 0;
}

void agent_audit_close(struct agent_audit *a)
{
	size_t lost;

	/* Last chance for the socket; the rest goes to the spill file. */
	a->out.next_ms = 0;
	agent_audit_out_pump(&a->out, agent_audit_now_ms());
	if (a->chained)
		agent_audit_checkpoint(a, true);
	lost = agent_audit_out_close(&a->out, agent_audit_now_ms());
	if (lost || a->drop_from)
		fprintf(stderr, "agentd: %zu audit message(s) could be kept nowhere at stop%s\n",
			lost,
			a->drop_from ? ", and an undeclared range of records was dropped" : "");
	if (a->dirfd >= 0)
		close(a->dirfd);
	a->dirfd = -1;
	a->chained = false;
	sodium_memzero(a->key, sizeof(a->key));
	closelog();
}

static void now_rfc3339(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void agent_audit_begin(struct agent_audit *a, struct agent_kv *kv, char *buf, size_t cap,
		       const char *event)
{
	char when[40];

	/* Every field goes in before the tail's room; emit gives it back. */
	agent_kv_init(kv, buf, cap);
	if (cap > 2 * AGENT_AUDIT_TAIL_RESERVE) {
		kv->cap -= AGENT_AUDIT_TAIL_RESERVE;
		kv->held = AGENT_AUDIT_TAIL_RESERVE;
	}
	agent_kv_u64(kv, "v", AGENT_AUDIT_VERSION);
	agent_kv_u64(kv, "seq", a->seq + 1);
	now_rfc3339(when, sizeof(when));
	agent_kv_str(kv, "time", when);
	if (a->in_req) {
		char req[48];

		snprintf(req, sizeof(req), "%" PRIu64 ".%" PRIu64, a->run_seq, a->nreq);
		agent_kv_str(kv, "req", req);
	}
	agent_kv_str(kv, "event", event);
}

void agent_audit_start_fields(struct agent_audit *a, struct agent_kv *kv)
{
	a->run_seq = a->seq + 1;
	agent_kv_str(kv, "audit", a->resume ? a->resume : "new");
	if (a->lost_from) {
		agent_kv_u64(kv, "lost_from", a->lost_from);
		agent_kv_u64(kv, "lost_to", a->lost_to);
	}
}

void agent_audit_identity(struct agent_kv *kv, const struct agent_identity *id)
{
	char chain[AGENT_CHAIN_MAX * (AGENT_NAME_MAX + 1) + 1];
	size_t off = 0;
	char when[32];

	chain[0] = '\0';
	for (unsigned i = 0; i < id->chain_len && i < AGENT_CHAIN_MAX; i++) {
		int n = snprintf(chain + off, sizeof(chain) - off, "%s%s", i ? ">" : "",
				 id->chain[i]);
		if (n < 0 || (size_t)n >= sizeof(chain) - off)
			break;
		off += (size_t)n;
	}
	agent_kv_str(kv, "identity", id->name);
	agent_kv_u64(kv, "uid", id->uid);
	agent_kv_str(kv, "subject", id->subject);
	agent_kv_str(kv, "chain", chain);
	if (id->actor[0])
		agent_kv_str(kv, "actor", id->actor);
	agent_kv_str(kv, "actor_verified", id->actor_verified ? "yes" : "no");
	if (id->actor_name[0])
		agent_kv_str(kv, "actor_name", id->actor_name);
	agent_kv_str(kv, "purpose", id->purpose);
	agent_kv_str(kv, "risk", agent_risk_str(id->risk));
	if (agent_time_format(id->expires, when, sizeof(when)) == 0)
		agent_kv_str(kv, "expires", when);
}

static void declare_drops(struct agent_audit *a);

void agent_audit_emit(struct agent_audit *a, struct agent_kv *kv, int priority)
{
	char mac[AGENT_AUDIT_MAC_HEX + 1];
	int r;

	kv->cap += kv->held;
	kv->held = 0;
	if (kv->dropped)
		agent_kv_u64(kv, "dropped", kv->dropped);
	if (a->chained) {
		agent_kv_str(kv, "prev", a->prev);
		agent_audit_mac_hex(a->key, kv->buf, kv->len, mac);
		agent_kv_str(kv, "mac", mac);
		memcpy(a->prev, mac, sizeof(a->prev));
	}
	a->seq++;
	r = agent_audit_out_push(&a->out, LOG_AUTHPRIV | priority, kv->buf, agent_audit_now_ms());
	if (r < 0 && a->chained) {
		/* Kept nowhere: its seq stays used; a record declares it. */
		if (!a->drop_from) {
			a->drop_from = a->seq;
			a->drop_err = a->out.spill_err ? a->out.spill_err : -r;
		}
		a->drop_to = a->seq;
	}
	if (a->to_stderr)
		fprintf(stderr, "%s\n", kv->buf);
	if (a->sink)
		a->sink(a->sink_arg, kv->buf);
	if (a->chained && (a->ckpt_due || a->seq - a->ckpt_seq >= AGENT_AUDIT_CHECKPOINT_EVERY))
		agent_audit_checkpoint(a, false);
	if (r == 0)
		declare_drops(a);
}

/* After records were dropped, and once there is room again: one record
 * naming them (lost_from, lost_to, count, why). */
static void declare_drops(struct agent_audit *a)
{
	struct agent_kv kv;
	char buf[AGENT_AUDIT_LINE_MAX];
	uint64_t from = a->drop_from, to = a->drop_to;

	if (!from || !agent_audit_out_room(&a->out, AGENT_AUDIT_LINE_MAX))
		return;
	a->drop_from = a->drop_to = 0;
	agent_audit_begin(a, &kv, buf, sizeof(buf), "audit-lost");
	agent_kv_u64(&kv, "lost_from", from);
	agent_kv_u64(&kv, "lost_to", to);
	agent_kv_u64(&kv, "count", to - from + 1);
	agent_kv_str(&kv, "reason", strerror(a->drop_err));
	agent_audit_emit(a, &kv, LOG_WARNING);
}

int agent_audit_pump_at(struct agent_audit *a, uint64_t now_ms)
{
	int r = agent_audit_out_pump(&a->out, now_ms);

	if (a->drop_from) {
		declare_drops(a);
		r = agent_audit_out_pump(&a->out, now_ms);
	}
	return r;
}

int agent_audit_pump(struct agent_audit *a)
{
	return agent_audit_pump_at(a, agent_audit_now_ms());
}

void agent_audit_request_begin(struct agent_audit *a)
{
	a->nreq++;
	a->in_req = true;
}

void agent_audit_request_end(struct agent_audit *a)
{
	a->in_req = false;
}
