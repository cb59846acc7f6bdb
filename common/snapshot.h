/* The NSS snapshot: a root-owned SysV shared memory segment that agentd
 * writes and libnss_agent attaches read-only, named by a small root-owned
 * locator file in $runstatedir/agentd. The format, and why it is not a
 * mapped file, is in common/snapshot_format.h.
 *
 * The reader half (agent_snap_open .. agent_snap_close) links libc only and
 * never trusts a byte of the file: every offset, count and string is
 * bounds-checked on a private copy, so a corrupt or hostile file yields
 * -EBADMSG, never a crash or a read outside the mapping. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/limits.h"

#define AGENT_SNAP_FILE "passwd.snap"

/* One purpose as NSS needs it. */
struct agent_snap_purpose {
	char name[AGENT_PURPOSE_MAX + 1];
	char shell[AGENT_PATH_MAX + 1];
	char home_base[AGENT_PATH_MAX + 1]; /* "" = no home (/nonexistent) */
	uint32_t ngroups;
	uint32_t gids[AGENT_GROUPS_MAX];
};

/* One identity as NSS needs it (a copy; validated). */
struct agent_snap_entry {
	uint32_t uid;     /* gid == uid */
	uint32_t purpose; /* index into the purpose table */
	int64_t expires;  /* unix seconds */
	int64_t expires_boot_ns;
	char name[AGENT_NAME_MAX + 1];
	char subject[AGENT_NAME_MAX + 1];
};

/* ---- writer (agentd) ---- */

struct agent_snap_params {
	uint32_t uid_min, uid_max;
	const struct agent_snap_purpose *purposes;
	uint32_t npurposes;
	const char *agents_group; /* "" = none */
	uint32_t agents_gid;
	const uint8_t *boot_id; /* 16 bytes; NULL = this boot's (tests set it) */
};

struct agent_snap_writer;

/* Builds a new snapshot: a new segment, fully written, then its locator at
 * path (a temporary file in the same directory, mode 0644, allocated with
 * posix_fallocate before it is written, renamed into place); then marks
 * the segment it replaced stale (attached readers switch) and removed.
 * Any failure (a full /run: -ENOSPC) removes what was made and leaves the
 * published snapshot as it was. Starts empty; add entries with
 * agent_snap_put. 0 or -errno. */
int agent_snap_writer_create(const char *path, const struct agent_snap_params *p,
			     struct agent_snap_writer **out);
/* Adds or replaces the entry for e->uid, visible to readers on return. */
int agent_snap_put(struct agent_snap_writer *w, const struct agent_snap_entry *e);
/* Removes the entry for uid (no-op if absent), visible on return. */
int agent_snap_remove(struct agent_snap_writer *w, uint32_t uid);
/* Removes n entries in one write (readers see all of them go at once, and
 * retry once, not n times). Unknown uids are skipped. Always 0. */
int agent_snap_remove_many(struct agent_snap_writer *w, const uint32_t *uids, size_t n);
/* Number of entries present. */
uint32_t agent_snap_count(const struct agent_snap_writer *w);
/* Detaches; the published snapshot stays (readers keep resolving while
 * agentd is down). */
void agent_snap_writer_free(struct agent_snap_writer *w);
/* Removes the segment and, if it still names it, the locator at path;
 * then frees w. For tests and tools. */
void agent_snap_writer_destroy(struct agent_snap_writer *w, const char *path);
/* Publishes n raw bytes as a segment with a locator at path, the nonce
 * taken from the bytes' header when there is one: corrupt or hostile
 * snapshots for tests and the fuzz replay. boot_id as in the params. 0 or
 * -errno; *shmid (if not NULL) gets the segment. */
int agent_snap_publish_raw(const char *path, const void *bytes, size_t n, const uint8_t *boot_id,
			   int *shmid);
/* The running kernel's boot id (16 bytes). 0 or -errno. */
int agent_snap_boot_id(uint8_t out[16]);

/* ---- reader (nss_agent, tests) ---- */

struct agent_snap_map {
	const uint8_t *base;
	size_t size;
	bool attached; /* base is a segment (shmdt), not a caller's buffer */
	/* The locator as opened: a later stat() that differs means replaced. */
	uint64_t loc_dev, loc_ino;
	int64_t loc_mtime_sec, loc_mtime_nsec;
	/* Geometry validated at open (the writer never changes it in place). */
	uint32_t uid_min, nslots, npurposes, index_mask;
	uint64_t purposes_off, slots_off, index_off;
};

/* Reads the locator at path after checking its descriptor (regular file,
 * owned by root, or by expect_uid for tests: pass 0 in production, not
 * writable by group or others, exactly one locator long), then attaches
 * its segment read-only after checking it (owner and creator expect_uid,
 * not writable by group or others, the size the locator says), and checks
 * the header (format, nonce equal to the locator's, this boot's id).
 * 0, -ENOENT (no locator, or its segment is gone), -EPERM (ownership,
 * mode, type), -EBADMSG (format), -ESTALE (written in another boot). */
int agent_snap_open(const char *path, uid_t expect_uid, struct agent_snap_map *m);
/* The same checks of the header and geometry on a caller's buffer (kept,
 * not copied; no owner, nonce or boot check): the fuzz targets. */
int agent_snap_open_mem(const void *buf, size_t size, struct agent_snap_map *m);
void agent_snap_close(struct agent_snap_map *m);
/* True if agentd has replaced this snapshot (reopen to see the new one).
 * Reads shared memory only. */
bool agent_snap_is_stale(const struct agent_snap_map *m);
/* True if the locator at path is no longer the one m was opened from
 * (replaced, deleted, truncated or rewritten): one stat(). */
bool agent_snap_replaced(const struct agent_snap_map *m, const char *path);

/* Lookups copy the entry out under the file's sequence counter and validate
 * the copy. 0; -ENOENT; -EAGAIN if a writer kept it busy past the retry
 * bound; -EBADMSG if the file is corrupt. They do not apply the liveness
 * rule: callers do, with common/liveness.h. */
int agent_snap_by_name(const struct agent_snap_map *m, const char *name,
		       struct agent_snap_entry *out);
int agent_snap_by_uid(const struct agent_snap_map *m, uint32_t uid, struct agent_snap_entry *out);
/* Enumeration: *cursor starts at 0; returns 0 and advances, -ENOENT at the
 * end. */
int agent_snap_next(const struct agent_snap_map *m, uint32_t *cursor, struct agent_snap_entry *out);
int agent_snap_purpose(const struct agent_snap_map *m, uint32_t idx,
		       struct agent_snap_purpose *out);
/* The group of all live agents: 0 and name/gid, or -ENOENT if none. */
int agent_snap_agents_group(const struct agent_snap_map *m, char name[AGENT_NAME_MAX + 1],
			    uint32_t *gid);
