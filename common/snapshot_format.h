/* On-disk layout of the NSS snapshot ($runstatedir/agentd/passwd.snap).
 * Internal to common/snapshot.c (reader) and common/snapshot_write.c.
 *
 *   header      struct snap_header, at offset 0
 *   purposes    npurposes x struct snap_purpose, at purposes_off
 *   slots       nslots x struct snap_slot, at slots_off; slot i holds the
 *               identity with uid uid_min + i (O(1) by uid)
 *   index       index_entries x uint32_t, at index_off: open addressing
 *               by FNV-1a of the name, linear probing, entry = slot + 1,
 *               0 = empty; removal by backward shift (no tombstones)
 *
 * Host byte order (the file never leaves the host; bom checks it). The
 * single writer (agentd) updates slots and index in place under a sequence
 * counter: odd while it writes. Readers copy what they need, then re-read
 * the counter and retry if it moved. The geometry never changes in place:
 * a new geometry is a new file renamed over the old one, whose `stale` flag
 * the writer then sets so mapped readers reopen. The file never shrinks in
 * place, so a mapping never loses pages under a reader. */
#pragma once
#include <stdint.h>
#include "common/limits.h"

#define SNAP_MAGIC "AGSNAP\0\1"
#define SNAP_VERSION 1u
#define SNAP_BOM 0x01020304u
#define SNAP_MAX_SLOTS (1u << 20)
#define SNAP_MAX_PURPOSES 64u
#define SNAP_MAX_FILE (512ull << 20)

struct snap_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint32_t bom;
	uint32_t seq;   /* seqlock; odd while the writer mutates */
	uint32_t stale; /* 1 once a newer file replaced this one */
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
	uint64_t file_size;
	char agents_group[AGENT_NAME_MAX + 1];
	char reserved[256 - 88 - (AGENT_NAME_MAX + 1)];
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
