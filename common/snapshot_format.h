/* On-disk and in-memory layout of the NSS snapshot. Internal to
 * common/snapshot.c (reader) and common/snapshot_write.c (agentd).
 *
 * Two objects:
 *
 *   the locator  $runstatedir/agentd/passwd.snap, a root-owned regular file
 *                of exactly one struct snap_locator: which System V shared
 *                memory segment holds the snapshot, its size, a random
 *                128-bit nonce and the boot id it was written in;
 *   the segment  a root-owned SysV shm segment (mode 0644), laid out as
 *
 *   header      struct snap_header, at offset 0
 *   purposes    npurposes x struct snap_purpose, at purposes_off
 *   slots       nslots x struct snap_slot, at slots_off; slot i holds the
 *               identity with uid uid_min + i (O(1) by uid)
 *   index       index_entries x uint32_t, at index_off: open addressing
 *               by FNV-1a of the name, linear probing, entry = slot + 1,
 *               0 = empty; removal by backward shift (no tombstones)
 *
 * Why a segment and not a mapped file (version 1 mapped the file itself):
 * a reader is a guest in every process of the host, and a lookup must not
 * take a system call (one costs more than the whole 1 us budget on some
 * hosts), so it reads shared memory. A shared mapping of a file raises
 * SIGBUS on any page beyond the file's end, and the file's end can move
 * under the reader: `truncate -s0`, `cp /dev/null` or `>` over the file, or
 * a page tmpfs could not allocate (full /run). MAP_PRIVATE does not help:
 * truncation unmaps private copy-on-write pages too. Checking the size
 * first (fstat, as SSSD's memory cache client does on each access) leaves a
 * window between the check and the read, and a SIGBUS handler inside
 * someone else's process is not ours to install. A SysV segment has no
 * end that can move: it cannot be truncated, grown or hole-punched through
 * any interface an administrator uses; `ipcrm` only marks it for removal
 * and the pages stay until the last reader detaches. Its pages are all
 * written by agentd when it is created, so a read never allocates. What
 * an administrator can do to the locator file (truncate, replace, delete,
 * fill /run) is seen by a reader only through open/pread at open time and
 * stat() at most once a second, all of which fail cleanly.
 *
 * Host byte order (the segment never leaves the host; bom checks it). The
 * single writer (agentd) updates slots and index in place under a sequence
 * counter: odd while it writes. Readers copy what they need, then re-read
 * the counter and retry if it moved. The geometry never changes in place:
 * a new geometry is a new segment and a new locator renamed over the old
 * one; the writer then sets the old segment's `stale` flag so attached
 * readers reopen, and marks it for removal. Independently of the flag, a
 * reader re-stats the locator path at most once a second and reopens when
 * it was replaced or deleted, so removed identities stop resolving within
 * a second even if agentd died between publishing and marking.
 *
 * Boot: the header and the locator carry the kernel's boot id
 * (/proc/sys/kernel/random/boot_id, 16 bytes); a reader refuses a snapshot
 * written in another boot (its boot deadlines mean nothing now). SysV
 * segments do not survive a reboot, so a locator left on a persistent
 * runtime directory names nothing or a foreign segment: the nonce, the
 * owner check and the boot id each refuse it. */
#pragma once
#include <stdint.h>
#include "common/limits.h"

#define SNAP_MAGIC "AGSNAP\0\2"
#define SNAP_LOC_MAGIC "AGSNLOC\2"
#define SNAP_VERSION 2u
#define SNAP_BOM 0x01020304u
#define SNAP_MAX_SLOTS (1u << 20)
#define SNAP_MAX_PURPOSES 64u
#define SNAP_MAX_FILE (512ull << 20)

struct snap_locator {
	char magic[8];
	uint32_t version;
	uint32_t size; /* sizeof(struct snap_locator) */
	int32_t shmid;
	uint32_t bom;
	uint64_t seg_size;
	uint8_t nonce[16];
	uint8_t boot_id[16];
};

struct snap_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint32_t bom;
	uint32_t seq;   /* seqlock; odd while the writer mutates */
	uint32_t stale; /* 1 once a newer snapshot replaced this one */
	uint32_t uid_min;
	uint32_t nslots;
	uint32_t slot_size;
	uint32_t npurposes;
	uint32_t purpose_size;
	uint32_t index_entries; /* power of two >= 2 * nslots */
	uint32_t agents_gid;    /* 0 = no group of all agents */
	uint64_t purposes_off;
	uint64_t slots_off;
	uint64_t index_off;
	uint64_t file_size; /* segment size */
	char agents_group[AGENT_NAME_MAX + 1];
	uint8_t nonce[16]; /* equal to the locator's */
	uint8_t boot_id[16];
	char reserved[256 - 88 - (AGENT_NAME_MAX + 1) - 32];
};

struct snap_purpose {
	char name[AGENT_PURPOSE_MAX + 1];
	char shell[AGENT_PATH_MAX + 1];
	char home_base[AGENT_PATH_MAX + 1];
	char pad[1];
	uint32_t ngroups;
	uint32_t gids[AGENT_GROUPS_MAX];
};

struct snap_slot {
	uint32_t used; /* 1 = holds an identity */
	uint32_t uid;
	uint32_t purpose;
	uint32_t reserved;
	int64_t expires;
	int64_t expires_boot_ns;
	char name[AGENT_NAME_MAX + 1];
	char subject[AGENT_NAME_MAX + 1];
	char pad[30];
};

_Static_assert(sizeof(struct snap_locator) == 64, "snapshot locator size");
_Static_assert(sizeof(struct snap_header) == 256, "snapshot header size");
_Static_assert(sizeof(struct snap_slot) == 128, "snapshot slot size");
_Static_assert(sizeof(struct snap_purpose) % 8 == 0, "snapshot purpose alignment");

static inline uint32_t snap_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}
