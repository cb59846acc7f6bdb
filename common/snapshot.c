/* NSS snapshot reader (format in common/snapshot_format.h).
 *
 * Libc only: linked into libnss_agent.so.2, which runs in every process.
 * Rules kept here:
 * - the descriptor is checked (regular, owner, mode, size) before mapping;
 * - the geometry is validated once at open with overflow-safe arithmetic,
 *   and every later read stays inside it;
 * - lookups copy a slot under the sequence counter, then validate the copy
 *   (used flag, uid, NUL-terminated strings, purpose index, name syntax):
 *   a torn or corrupt record is retried or refused, never trusted. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
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
	    h->slots_off < pend || !span_ok(h->slots_off, h->nslots, sizeof(struct snap_slot), size, &send) ||
	    h->index_off < send || !span_ok(h->index_off, h->index_entries, sizeof(uint32_t), size, &iend))
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

int agent_snap_open(const char *path, uid_t expect_uid, struct agent_snap_map *m)
{
	struct stat st;
	void *p;
	int fd, r;

	memset(m, 0, sizeof(*m));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : (errno == ELOOP ? -EPERM : -errno);
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != expect_uid || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		r = -EPERM;
		goto out;
	}
	if ((uint64_t)st.st_size < sizeof(struct snap_header) ||
	    (uint64_t)st.st_size > SNAP_MAX_FILE) {
		r = -EBADMSG;
		goto out;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	r = validate(p, (size_t)st.st_size, m);
	if (r < 0) {
		munmap(p, (size_t)st.st_size);
		memset(m, 0, sizeof(*m));
		goto out;
	}
	m->base = p;
	m->size = (size_t)st.st_size;
out:
	close(fd);
	return r;
}

void agent_snap_close(struct agent_snap_map *m)
{
	if (m && m->base)
		munmap((void *)m->base, m->size);
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
	    !memchr(s->name, '\0', sizeof(s->name)) || !memchr(s->subject, '\0', sizeof(s->subject)) ||
	    !agent_valid_username(s->name) || (s->subject[0] && !agent_valid_username(s->subject)))
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
