/* NSS snapshot writer, agentd's side (format in common/snapshot_format.h).
 *
 * A new geometry is a new file: written under a temporary name in the same
 * directory, renamed into place, and the file it replaced is marked stale.
 * Puts and removes happen in place under the sequence counter. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/snapshot.h"
#include "common/snapshot_format.h"

struct agent_snap_writer {
	uint8_t *base;
	size_t size;
	struct snap_header *h;
	struct snap_slot *slots;
	uint32_t *index;
	uint32_t mask;
	uint32_t count;
};

static uint64_t align8(uint64_t v)
{
	return (v + 7) & ~7ULL;
}

/* Sets the stale flag of the snapshot currently at fd, if it is one. */
static void mark_stale(int fd)
{
	struct stat st;
	struct snap_header *h;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < sizeof(struct snap_header))
		return;
	h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return;
	if (memcmp(h->magic, SNAP_MAGIC, sizeof(h->magic)) == 0)
		__atomic_store_n(&h->stale, 1, __ATOMIC_RELEASE);
	munmap(h, sizeof(*h));
}

int agent_snap_writer_create(const char *path, const struct agent_snap_params *p,
			     struct agent_snap_writer **out)
{
	struct agent_snap_writer *w;
	char tmp[512];
	uint64_t nslots, entries = 2, poff, soff, ioff, size;
	int fd = -1, oldfd, r;

	if (p->uid_max < p->uid_min || p->npurposes > SNAP_MAX_PURPOSES)
		return -EINVAL;
	nslots = (uint64_t)p->uid_max - p->uid_min + 1;
	if (nslots > SNAP_MAX_SLOTS)
		return -EINVAL;
	while (entries < 2 * nslots)
		entries <<= 1;
	poff = sizeof(struct snap_header);
	soff = align8(poff + (uint64_t)p->npurposes * sizeof(struct snap_purpose));
	ioff = align8(soff + nslots * sizeof(struct snap_slot));
	size = ioff + entries * sizeof(uint32_t);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	if (fchmod(fd, 0644) < 0 || ftruncate(fd, (off_t)size) < 0) {
		r = -errno;
		goto fail_unlink;
	}
	w->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w->base == MAP_FAILED) {
		w->base = NULL;
		r = -errno;
		goto fail_unlink;
	}
	w->size = size;
	w->h = (struct snap_header *)(void *)w->base;
	w->slots = (struct snap_slot *)(void *)(w->base + soff);
	w->index = (uint32_t *)(void *)(w->base + ioff);
	w->mask = (uint32_t)(entries - 1);

	memcpy(w->h->magic, SNAP_MAGIC, sizeof(w->h->magic));
	w->h->version = SNAP_VERSION;
	w->h->header_size = sizeof(struct snap_header);
	w->h->bom = SNAP_BOM;
	w->h->uid_min = p->uid_min;
	w->h->nslots = (uint32_t)nslots;
	w->h->slot_size = sizeof(struct snap_slot);
	w->h->npurposes = p->npurposes;
	w->h->purpose_size = sizeof(struct snap_purpose);
	w->h->index_entries = (uint32_t)entries;
	w->h->purposes_off = poff;
	w->h->slots_off = soff;
	w->h->index_off = ioff;
	w->h->file_size = size;
	if (p->agents_group && p->agents_group[0] && p->agents_gid) {
		snprintf(w->h->agents_group, sizeof(w->h->agents_group), "%s", p->agents_group);
		w->h->agents_gid = p->agents_gid;
	}
	for (uint32_t i = 0; i < p->npurposes; i++) {
		struct snap_purpose *sp =
			(struct snap_purpose *)(void *)(w->base + poff) + i;

		snprintf(sp->name, sizeof(sp->name), "%s", p->purposes[i].name);
		snprintf(sp->shell, sizeof(sp->shell), "%s", p->purposes[i].shell);
		snprintf(sp->home_base, sizeof(sp->home_base), "%s", p->purposes[i].home_base);
		sp->ngroups = p->purposes[i].ngroups > AGENT_GROUPS_MAX ? AGENT_GROUPS_MAX :
									 p->purposes[i].ngroups;
		memcpy(sp->gids, p->purposes[i].gids, sizeof(sp->gids));
	}

	/* Replace the published file; then tell its readers to move on. */
	oldfd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (rename(tmp, path) < 0) {
		r = -errno;
		if (oldfd >= 0)
			close(oldfd);
		goto fail_unlink;
	}
	if (oldfd >= 0) {
		mark_stale(oldfd);
		close(oldfd);
	}
	close(fd);
	*out = w;
	return 0;
fail_unlink:
	unlink(tmp);
fail:
	if (fd >= 0)
		close(fd);
	if (w->base)
		munmap(w->base, w->size);
	free(w);
	return r;
}

static void write_begin(struct agent_snap_writer *w)
{
	uint32_t s = __atomic_load_n(&w->h->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&w->h->seq, s + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(struct agent_snap_writer *w)
{
	uint32_t s = __atomic_load_n(&w->h->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&w->h->seq, s + 1, __ATOMIC_RELEASE);
}

/* Index position holding slot i (by its current name), or -1. */
static int64_t index_find(struct agent_snap_writer *w, uint32_t i)
{
	uint32_t h = snap_hash(w->slots[i].name);

	for (uint32_t p = 0; p <= w->mask; p++) {
		uint32_t pos = (h + p) & w->mask, e = w->index[pos];

		if (e == 0)
			return -1;
		if (e == i + 1)
			return pos;
	}
	return -1;
}

static void index_store(struct agent_snap_writer *w, uint32_t pos, uint32_t v)
{
	__atomic_store_n(&w->index[pos], v, __ATOMIC_RELAXED);
}

/* Backward-shift deletion: later entries of the probe run move up so no
 * lookup ever meets a gap before its entry. */
static void index_delete(struct agent_snap_writer *w, uint32_t pos)
{
	uint32_t i = pos, j = pos;

	for (;;) {
		uint32_t e, k;

		j = (j + 1) & w->mask;
		e = w->index[j];
		if (e == 0)
			break;
		k = snap_hash(w->slots[e - 1].name) & w->mask;
		/* Move e to i unless its home k lies cyclically in (i, j]. */
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		index_store(w, i, e);
		i = j;
	}
	index_store(w, i, 0);
}

static void index_insert(struct agent_snap_writer *w, uint32_t i)
{
	uint32_t h = snap_hash(w->slots[i].name);

	for (uint32_t p = 0; p <= w->mask; p++) {
		uint32_t pos = (h + p) & w->mask;

		if (w->index[pos] == 0) {
			index_store(w, pos, i + 1);
			return;
		}
	}
}

int agent_snap_put(struct agent_snap_writer *w, const struct agent_snap_entry *e)
{
	struct snap_slot *s;
	uint32_t i;
	int64_t pos;

	if (e->uid < w->h->uid_min || e->uid - w->h->uid_min >= w->h->nslots ||
	    e->purpose >= w->h->npurposes || !memchr(e->name, '\0', sizeof(e->name)) ||
	    !e->name[0] || !memchr(e->subject, '\0', sizeof(e->subject)))
		return -EINVAL;
	i = e->uid - w->h->uid_min;
	s = &w->slots[i];
	write_begin(w);
	if (s->used) {
		pos = index_find(w, i);
		if (pos >= 0)
			index_delete(w, (uint32_t)pos);
	} else {
		w->count++;
	}
	memset(s, 0, sizeof(*s));
	s->uid = e->uid;
	s->purpose = e->purpose;
	s->expires = e->expires;
	s->expires_boot_ns = e->expires_boot_ns;
	memcpy(s->name, e->name, sizeof(s->name));
	memcpy(s->subject, e->subject, sizeof(s->subject));
	s->used = 1;
	index_insert(w, i);
	write_end(w);
	return 0;
}

int agent_snap_remove(struct agent_snap_writer *w, uint32_t uid)
{
	struct snap_slot *s;
	uint32_t i;
	int64_t pos;

	if (uid < w->h->uid_min || uid - w->h->uid_min >= w->h->nslots)
		return 0;
	i = uid - w->h->uid_min;
	s = &w->slots[i];
	if (!s->used)
		return 0;
	write_begin(w);
	pos = index_find(w, i);
	if (pos >= 0)
		index_delete(w, (uint32_t)pos);
	memset(s, 0, sizeof(*s));
	w->count--;
	write_end(w);
	return 0;
}

uint32_t agent_snap_count(const struct agent_snap_writer *w)
{
	return w ? w->count : 0;
}

void agent_snap_writer_free(struct agent_snap_writer *w)
{
	if (!w)
		return;
	munmap(w->base, w->size);
	free(w);
}
