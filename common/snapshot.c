/* NSS snapshot reader (format, and why it is a SysV segment, in
 * common/snapshot_format.h).
 *
 * Libc only: linked into libnss_agent.so.2, which runs in every process.
 * Rules kept here:
 * - nothing of the locator file is ever mapped: it is read with pread, so
 *   no state of that file (truncated, replaced, deleted, a full /run) can
 *   raise a signal; the segment it names cannot shrink under a reader;
 * - the locator's descriptor is checked (regular, owner, mode, size) and
 *   the segment's owner, creator, mode and size before it is attached;
 * - the geometry is validated once at open with overflow-safe arithmetic,
 *   and every later read stays inside it;
 * - lookups copy a slot under the sequence counter, then validate the copy
 *   (used flag, uid, NUL-terminated strings, purpose index, name syntax):
 *   a torn or corrupt record is retried or refused, never trusted. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/snapshot.h"
#include "common/snapshot_format.h"
#include "common/text.h"

#define SEQ_TRIES 64

static bool span_ok(uint64_t off, uint64_t count, uint64_t size, uint64_t file, uint64_t *end)
{
	if (count && size > (UINT64_MAX - off) / count)
		return false;
	*end = off + count * size;
	return *end <= file;
}

static int validate(const struct snap_header *h, size_t size, struct agent_snap_map *m)
{
	uint64_t pend, send, iend;

	if (memcmp(h->magic, SNAP_MAGIC, sizeof(h->magic)) != 0 || h->version != SNAP_VERSION ||
	    h->header_size != sizeof(*h) || h->bom != SNAP_BOM ||
	    h->slot_size != sizeof(struct snap_slot) ||
	    h->purpose_size != sizeof(struct snap_purpose) || h->file_size != size)
		return -EBADMSG;
	if (h->nslots == 0 || h->nslots > SNAP_MAX_SLOTS || h->npurposes > SNAP_MAX_PURPOSES ||
	    h->index_entries < 2 * (uint64_t)h->nslots ||
	    (h->index_entries & (h->index_entries - 1)) != 0 ||
	    (uint64_t)h->uid_min + h->nslots - 1 > UINT32_MAX)
		return -EBADMSG;
	if (h->purposes_off < sizeof(*h) || h->purposes_off % 8 || h->slots_off % 8 ||
	    h->index_off % 8 ||
	    !span_ok(h->purposes_off, h->npurposes, sizeof(struct snap_purpose), size, &pend) ||
	    h->slots_off < pend ||
	    !span_ok(h->slots_off, h->nslots, sizeof(struct snap_slot), size, &send) ||
	    h->index_off < send ||
	    !span_ok(h->index_off, h->index_entries, sizeof(uint32_t), size, &iend))
		return -EBADMSG;
	if (!memchr(h->agents_group, '\0', sizeof(h->agents_group)) ||
	    (h->agents_group[0] && !agent_valid_username(h->agents_group)))
		return -EBADMSG;
	m->uid_min = h->uid_min;
	m->nslots = h->nslots;
	m->npurposes = h->npurposes;
	m->index_mask = h->index_entries - 1;
	m->purposes_off = h->purposes_off;
	m->slots_off = h->slots_off;
	m->index_off = h->index_off;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int agent_snap_boot_id(uint8_t out[16])
{
	char buf[64];
	ssize_t n;
	int fd, k = 0;

	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	for (ssize_t i = 0; i < n && k < 32; i++) {
		int v;

		if (buf[i] == '-')
			continue;
		v = hexval(buf[i]);
		if (v < 0)
			break;
		if (k % 2 == 0)
			out[k / 2] = (uint8_t)(v << 4);
		else
			out[k / 2] |= (uint8_t)v;
		k++;
	}
	return k == 32 ? 0 : -EBADMSG;
}

int agent_snap_open_mem(const void *buf, size_t size, struct agent_snap_map *m)
{
	int r;

	memset(m, 0, sizeof(*m));
	if (size < sizeof(struct snap_header) || size > SNAP_MAX_FILE)
		return -EBADMSG;
	r = validate(buf, size, m);
	if (r < 0) {
		memset(m, 0, sizeof(*m));
		return r;
	}
	m->base = buf;
	m->size = size;
	return 0;
}

/* Reads and checks the locator at path: 0 and *loc, *st, or -errno. */
static int read_locator(const char *path, uid_t expect_uid, struct snap_locator *loc,
			struct stat *st)
{
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : (errno == ELOOP ? -EPERM : -errno);
	if (fstat(fd, st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st->st_mode) || st->st_uid != expect_uid ||
	    (st->st_mode & (S_IWGRP | S_IWOTH))) {
		r = -EPERM;
		goto out;
	}
	if (st->st_size != (off_t)sizeof(*loc)) {
		r = -EBADMSG;
		goto out;
	}
	n = pread(fd, loc, sizeof(*loc), 0);
	if (n != (ssize_t)sizeof(*loc)) {
		r = n < 0 ? -errno : -EBADMSG; /* shortened since fstat */
		goto out;
	}
	if (memcmp(loc->magic, SNAP_LOC_MAGIC, sizeof(loc->magic)) != 0 ||
	    loc->version != SNAP_VERSION || loc->size != sizeof(*loc) || loc->bom != SNAP_BOM ||
	    loc->shmid < 0 || loc->seg_size < sizeof(struct snap_header) ||
	    loc->seg_size > SNAP_MAX_FILE)
		r = -EBADMSG;
out:
	close(fd);
	return r;
}

int agent_snap_open(const char *path, uid_t expect_uid, struct agent_snap_map *m)
{
	struct snap_locator loc;
	struct shmid_ds ds;
	struct stat st;
	uint8_t boot[16];
	const struct snap_header *h;
	void *p;
	int r;

	memset(m, 0, sizeof(*m));
	r = read_locator(path, expect_uid, &loc, &st);
	if (r < 0)
		return r;
	if (agent_snap_boot_id(boot) < 0 || memcmp(boot, loc.boot_id, sizeof(boot)) != 0)
		return -ESTALE;
	p = shmat(loc.shmid, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return errno == EACCES ? -EPERM : -ENOENT; /* gone, or not ours to read */
	/* Attached, the id cannot be reused: the checks are of this segment. */
	if (shmctl(loc.shmid, IPC_STAT, &ds) < 0) {
		r = -ENOENT;
		goto fail;
	}
	if (ds.shm_perm.uid != expect_uid || ds.shm_perm.cuid != expect_uid ||
	    (ds.shm_perm.mode & (S_IWGRP | S_IWOTH))) {
		r = -EPERM;
		goto fail;
	}
	if (ds.shm_segsz != loc.seg_size) {
		r = -EBADMSG;
		goto fail;
	}
	r = validate(p, (size_t)loc.seg_size, m);
	h = p;
	if (r == 0 && (memcmp(h->nonce, loc.nonce, sizeof(loc.nonce)) != 0 ||
		       memcmp(h->boot_id, loc.boot_id, sizeof(loc.boot_id)) != 0))
		r = -EBADMSG;
	if (r < 0)
		goto fail;
	m->base = p;
	m->size = (size_t)loc.seg_size;
	m->attached = true;
	m->loc_dev = st.st_dev;
	m->loc_ino = st.st_ino;
	m->loc_mtime_sec = st.st_mtim.tv_sec;
	m->loc_mtime_nsec = st.st_mtim.tv_nsec;
	return 0;
fail:
	shmdt(p);
	memset(m, 0, sizeof(*m));
	return r;
}

bool agent_snap_replaced(const struct agent_snap_map *m, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return true;
	return st.st_dev != m->loc_dev || st.st_ino != m->loc_ino ||
	       st.st_mtim.tv_sec != m->loc_mtime_sec || st.st_mtim.tv_nsec != m->loc_mtime_nsec ||
	       st.st_size != (off_t)sizeof(struct snap_locator) || st.st_nlink == 0;
}

void agent_snap_close(struct agent_snap_map *m)
{
	if (m && m->base && m->attached)
		shmdt(m->base);
	if (m)
		memset(m, 0, sizeof(*m));
}

static const struct snap_header *hdr(const struct agent_snap_map *m)
{
	return (const struct snap_header *)(const void *)m->base;
}

bool agent_snap_is_stale(const struct agent_snap_map *m)
{
	return __atomic_load_n(&hdr(m)->stale, __ATOMIC_ACQUIRE) != 0;
}

static const struct snap_slot *slot_at(const struct agent_snap_map *m, uint32_t i)
{
	return (const struct snap_slot *)(const void *)(m->base + m->slots_off) + i;
}

static uint32_t index_at(const struct agent_snap_map *m, uint32_t i)
{
	const uint32_t *idx = (const uint32_t *)(const void *)(m->base + m->index_off);

	return __atomic_load_n(&idx[i & m->index_mask], __ATOMIC_RELAXED);
}

static void copy_slot(const struct snap_slot *src, struct snap_slot *dst)
{
	memcpy(dst, (const void *)src, sizeof(*dst));
}

/* A copied slot as an entry: 0, -ENOENT (empty) or -EBADMSG. */
static int to_entry(const struct agent_snap_map *m, uint32_t i, const struct snap_slot *s,
		    struct agent_snap_entry *out)
{
	if (s->used == 0)
		return -ENOENT;
	if (s->used != 1 || s->uid != m->uid_min + i || s->purpose >= m->npurposes ||
	    !memchr(s->name, '\0', sizeof(s->name)) ||
	    !memchr(s->subject, '\0', sizeof(s->subject)) || !agent_valid_username(s->name) ||
	    (s->subject[0] && !agent_valid_username(s->subject)))
		return -EBADMSG;
	out->uid = s->uid;
	out->purpose = s->purpose;
	out->expires = s->expires;
	out->expires_boot_ns = s->expires_boot_ns;
	memcpy(out->name, s->name, sizeof(out->name));
	memcpy(out->subject, s->subject, sizeof(out->subject));
	return 0;
}

static uint32_t seq_begin(const struct agent_snap_map *m)
{
	return __atomic_load_n(&hdr(m)->seq, __ATOMIC_ACQUIRE);
}

static bool seq_retry(const struct agent_snap_map *m, uint32_t s)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return (s & 1) || __atomic_load_n(&hdr(m)->seq, __ATOMIC_RELAXED) != s;
}

int agent_snap_by_uid(const struct agent_snap_map *m, uint32_t uid, struct agent_snap_entry *out)
{
	struct snap_slot copy;
	uint32_t i;

	if (!m->base || uid < m->uid_min || uid - m->uid_min >= m->nslots)
		return -ENOENT;
	i = uid - m->uid_min;
	for (int t = 0; t < SEQ_TRIES; t++) {
		uint32_t s = seq_begin(m);

		copy_slot(slot_at(m, i), &copy);
		if (!seq_retry(m, s))
			return to_entry(m, i, &copy, out);
	}
	return -EAGAIN;
}

int agent_snap_by_name(const struct agent_snap_map *m, const char *name,
		       struct agent_snap_entry *out)
{
	uint32_t h;

	if (!m->base || !name || strnlen(name, AGENT_NAME_MAX + 1) > AGENT_NAME_MAX)
		return -ENOENT;
	h = snap_hash(name);
	for (int t = 0; t < SEQ_TRIES; t++) {
		uint32_t s = seq_begin(m);
		int r = -ENOENT;

		for (uint32_t probe = 0; probe <= m->index_mask; probe++) {
			uint32_t e = index_at(m, h + probe);
			struct snap_slot copy;

			if (e == 0)
				break;
			if (e > m->nslots) {
				r = -EBADMSG;
				break;
			}
			copy_slot(slot_at(m, e - 1), &copy);
			if (copy.used > 1) {
				r = -EBADMSG;
				break;
			}
			if (copy.used == 1 && strncmp(copy.name, name, sizeof(copy.name)) == 0) {
				r = to_entry(m, e - 1, &copy, out);
				break;
			}
		}
		if (!seq_retry(m, s))
			return r;
	}
	return -EAGAIN;
}

int agent_snap_next(const struct agent_snap_map *m, uint32_t *cursor, struct agent_snap_entry *out)
{
	if (!m->base)
		return -ENOENT;
	while (*cursor < m->nslots) {
		uint32_t i = (*cursor)++;
		int r = -EAGAIN;

		for (int t = 0; t < SEQ_TRIES; t++) {
			struct snap_slot copy;
			uint32_t s = seq_begin(m);

			copy_slot(slot_at(m, i), &copy);
			if (!seq_retry(m, s)) {
				r = to_entry(m, i, &copy, out);
				break;
			}
		}
		if (r != -ENOENT)
			return r;
	}
	return -ENOENT;
}

int agent_snap_purpose(const struct agent_snap_map *m, uint32_t idx, struct agent_snap_purpose *out)
{
	const struct snap_purpose *p;

	if (!m->base || idx >= m->npurposes)
		return -ENOENT;
	p = (const struct snap_purpose *)(const void *)(m->base + m->purposes_off) + idx;
	memset(out, 0, sizeof(*out));
	if (!memchr(p->name, '\0', sizeof(p->name)) || !memchr(p->shell, '\0', sizeof(p->shell)) ||
	    !memchr(p->home_base, '\0', sizeof(p->home_base)) || p->ngroups > AGENT_GROUPS_MAX ||
	    !agent_valid_purpose(p->name) || !agent_valid_abspath(p->shell) ||
	    (p->home_base[0] && !agent_valid_abspath(p->home_base)))
		return -EBADMSG;
	memcpy(out->name, p->name, sizeof(out->name));
	memcpy(out->shell, p->shell, sizeof(out->shell));
	memcpy(out->home_base, p->home_base, sizeof(out->home_base));
	out->ngroups = p->ngroups;
	memcpy(out->gids, p->gids, sizeof(out->gids));
	return 0;
}

int agent_snap_agents_group(const struct agent_snap_map *m, char name[AGENT_NAME_MAX + 1],
			    uint32_t *gid)
{
	const struct snap_header *h;

	if (!m->base)
		return -ENOENT;
	h = hdr(m);
	if (!h->agents_group[0] || !h->agents_gid)
		return -ENOENT;
	memcpy(name, h->agents_group, AGENT_NAME_MAX + 1); /* validated at open */
	*gid = h->agents_gid;
	return 0;
}
