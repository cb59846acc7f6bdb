/* NSS snapshot writer, agentd's side (format in common/snapshot_format.h).
 *
 * A new geometry is a new segment, written in full (every page allocated
 * before anyone can read it), then a new locator: a temporary file in the
 * same directory, allocated with posix_fallocate (a full /run fails here,
 * cleanly, with the published snapshot untouched), written with pwrite
 * (never mapped: an administrator's truncate cannot hurt agentd either),
 * renamed into place. The segment it replaced is then marked stale and
 * removed (its pages live until its last reader detaches). Puts and
 * removes happen in place under the sequence counter. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/random.h>
#include <sys/shm.h>
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
	int shmid;
};

static uint64_t align8(uint64_t v)
{
	return (v + 7) & ~7ULL;
}

/* The locator at path, if it is a well-formed one; 0 or -errno. */
static int read_locator(const char *path, struct snap_locator *loc)
{
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != (off_t)sizeof(*loc)) {
		close(fd);
		return -EBADMSG;
	}
	n = pread(fd, loc, sizeof(*loc), 0);
	close(fd);
	if (n != (ssize_t)sizeof(*loc) || memcmp(loc->magic, SNAP_LOC_MAGIC, 8) != 0 ||
	    loc->size != sizeof(*loc) || loc->shmid < 0)
		return -EBADMSG;
	return 0;
}

/* Marks the segment the old locator named stale and removes it, if it is
 * ours (owner is us, the nonce matches): attached readers move on, and its
 * pages go when the last one detaches. */
static void retire_segment(const struct snap_locator *old)
{
	struct shmid_ds ds;
	struct snap_header *h;

	if (shmctl(old->shmid, IPC_STAT, &ds) < 0 || ds.shm_perm.uid != geteuid() ||
	    ds.shm_segsz < sizeof(*h))
		return;
	h = shmat(old->shmid, NULL, 0);
	if (h == (void *)-1)
		return;
	if (memcmp(h->magic, SNAP_MAGIC, sizeof(h->magic)) == 0 &&
	    memcmp(h->nonce, old->nonce, sizeof(h->nonce)) == 0) {
		__atomic_store_n(&h->stale, 1, __ATOMIC_RELEASE);
		shmctl(old->shmid, IPC_RMID, NULL);
	}
	shmdt(h);
}

/* Writes a locator for shmid under a temporary name next to path and
 * renames it into place, first retiring nothing: 0 or -errno (then path is
 * as it was). */
static int publish_locator(const char *path, const struct snap_locator *loc)
{
	char tmp[512];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0644) < 0) {
		r = -errno;
		goto fail;
	}
	r = posix_fallocate(fd, 0, sizeof(*loc));
	if (r != 0) {
		r = -r;
		goto fail;
	}
	if (pwrite(fd, loc, sizeof(*loc), 0) != (ssize_t)sizeof(*loc)) {
		r = errno ? -errno : -EIO;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	close(fd);
	return 0;
fail:
	unlink(tmp);
	close(fd);
	return r;
}

/* A new root-owned segment of size bytes, attached read-write and every
 * page written (so no later read or write of it allocates). */
static int new_segment(size_t size, int *shmid, uint8_t **base)
{
	void *p;
	int id = shmget(IPC_PRIVATE, size, IPC_CREAT | IPC_EXCL | 0644);

	if (id < 0)
		return -errno;
	p = shmat(id, NULL, 0);
	if (p == (void *)-1) {
		int r = -errno;

		shmctl(id, IPC_RMID, NULL);
		return r;
	}
	memset(p, 0, size);
	*shmid = id;
	*base = p;
	return 0;
}

static void drop_segment(int shmid, void *base)
{
	shmctl(shmid, IPC_RMID, NULL);
	shmdt(base);
}

/* Publishes a filled segment: the locator, then the old one retired. */
static int publish(const char *path, int shmid, size_t size, const struct snap_header *h)
{
	struct snap_locator loc = { 0 }, old;
	bool had_old = read_locator(path, &old) == 0;
	int r;

	memcpy(loc.magic, SNAP_LOC_MAGIC, sizeof(loc.magic));
	loc.version = SNAP_VERSION;
	loc.size = sizeof(loc);
	loc.shmid = shmid;
	loc.bom = SNAP_BOM;
	loc.seg_size = size;
	memcpy(loc.nonce, h->nonce, sizeof(loc.nonce));
	memcpy(loc.boot_id, h->boot_id, sizeof(loc.boot_id));
	r = publish_locator(path, &loc);
	if (r < 0)
		return r;
	if (had_old && old.shmid != shmid)
		retire_segment(&old);
	return 0;
}

static int fill_ids(struct snap_header *h, const uint8_t *boot_id)
{
	size_t got = 0;

	while (got < sizeof(h->nonce)) {
		ssize_t n = getrandom(h->nonce + got, sizeof(h->nonce) - got, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	if (boot_id) {
		memcpy(h->boot_id, boot_id, sizeof(h->boot_id));
		return 0;
	}
	return agent_snap_boot_id(h->boot_id);
}

int agent_snap_writer_create(const char *path, const struct agent_snap_params *p,
			     struct agent_snap_writer **out)
{
	struct agent_snap_writer *w;
	uint64_t nslots, entries = 2, poff, soff, ioff, size;
	int r;

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
	if (strlen(path) + sizeof(".tmp.XXXXXX") > 512)
		return -ENAMETOOLONG;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	r = new_segment(size, &w->shmid, &w->base);
	if (r < 0) {
		free(w);
		return r;
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
		struct snap_purpose *sp = (struct snap_purpose *)(void *)(w->base + poff) + i;

		snprintf(sp->name, sizeof(sp->name), "%s", p->purposes[i].name);
		snprintf(sp->shell, sizeof(sp->shell), "%s", p->purposes[i].shell);
		snprintf(sp->home_base, sizeof(sp->home_base), "%s", p->purposes[i].home_base);
		sp->ngroups = p->purposes[i].ngroups > AGENT_GROUPS_MAX ? AGENT_GROUPS_MAX
									: p->purposes[i].ngroups;
		memcpy(sp->gids, p->purposes[i].gids, sizeof(sp->gids));
	}
	r = fill_ids(w->h, p->boot_id);
	if (r == 0)
		r = publish(path, w->shmid, size, w->h);
	if (r < 0) {
		drop_segment(w->shmid, w->base);
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

int agent_snap_publish_raw(const char *path, const void *bytes, size_t n, const uint8_t *boot_id,
			   int *shmid)
{
	struct snap_header h = { 0 };
	uint8_t *base;
	int id, r;

	if (n == 0 || n > SNAP_MAX_FILE)
		return -EINVAL;
	r = new_segment(n, &id, &base);
	if (r < 0)
		return r;
	memcpy(base, bytes, n);
	if (n >= sizeof(h)) {
		memcpy(&h, bytes, sizeof(h));
	} else {
		r = fill_ids(&h, boot_id);
		if (r < 0)
			goto fail;
	}
	if (boot_id)
		memcpy(h.boot_id, boot_id, sizeof(h.boot_id));
	else if ((r = agent_snap_boot_id(h.boot_id)) < 0)
		goto fail;
	r = publish(path, id, n, &h);
	if (r < 0)
		goto fail;
	shmdt(base);
	if (shmid)
		*shmid = id;
	return 0;
fail:
	drop_segment(id, base);
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

	if (!w)
		return -ENODEV; /* not published (agentd retries) */
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

/* Inside write_begin/write_end. */
static void remove_slot(struct agent_snap_writer *w, uint32_t uid)
{
	struct snap_slot *s;
	uint32_t i;
	int64_t pos;

	if (uid < w->h->uid_min || uid - w->h->uid_min >= w->h->nslots)
		return;
	i = uid - w->h->uid_min;
	s = &w->slots[i];
	if (!s->used)
		return;
	pos = index_find(w, i);
	if (pos >= 0)
		index_delete(w, (uint32_t)pos);
	memset(s, 0, sizeof(*s));
	w->count--;
}

int agent_snap_remove(struct agent_snap_writer *w, uint32_t uid)
{
	return agent_snap_remove_many(w, &uid, 1);
}

int agent_snap_remove_many(struct agent_snap_writer *w, const uint32_t *uids, size_t n)
{
	if (!w || !n)
		return 0;
	write_begin(w);
	for (size_t k = 0; k < n; k++)
		remove_slot(w, uids[k]);
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
	shmdt(w->base);
	free(w);
}

void agent_snap_writer_destroy(struct agent_snap_writer *w, const char *path)
{
	struct snap_locator loc;

	if (!w)
		return;
	if (path && read_locator(path, &loc) == 0 && loc.shmid == w->shmid)
		unlink(path);
	shmctl(w->shmid, IPC_RMID, NULL);
	agent_snap_writer_free(w);
}
