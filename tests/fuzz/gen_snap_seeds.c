/* Writes the seeds of the snapshot and nss fuzz targets: format-2 segments
 * from the real writer (empty, a few live identities over two purposes
 * with and without the agents group, an expired one, a full small table)
 * and a few damaged copies. Run once from the build directory:
 *   cc -I. -I$top_srcdir -o /tmp/gen tests/fuzz/gen_snap_seeds.c \
 *      .libs/libagent_common.a && /tmp/gen $top_srcdir/tests/fuzz/corpus
 * Seeds are checked in; regenerating changes their nonces and boot ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "common/snapshot.h"
#include "common/snapshot_format.h"

#define UMIN 1879048192u

static const struct agent_snap_purpose purposes[2] = {
	{ .name = "ci",
	  .shell = "/bin/bash",
	  .home_base = "/home/agents",
	  .ngroups = 2,
	  .gids = { 100, 27 } },
	{ .name = "research", .shell = "/bin/sh", .home_base = "" },
};

static void save(const char *dir, const char *name, const void *b, size_t n)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "wbe");
	if (!f || fwrite(b, 1, n, f) != n)
		exit(1);
	fclose(f);
}

static void both(const char *top, const char *name, const void *b, size_t n)
{
	char d[512];

	snprintf(d, sizeof(d), "%s/snapshot", top);
	save(d, name, b, n);
	snprintf(d, sizeof(d), "%s/nss", top);
	save(d, name, b, n);
}

static void seed(const char *top, const char *name, uint32_t nslots, int nlive, bool group,
		 bool damage)
{
	const char *path = "/tmp/agentd-gen-seeds.snap";
	struct agent_snap_params p = { .uid_min = UMIN,
				       .uid_max = UMIN + nslots - 1,
				       .purposes = purposes,
				       .npurposes = 2,
				       .agents_group = group ? "agents" : "",
				       .agents_gid = group ? UMIN + 65536 : 0 };
	struct agent_snap_writer *w;
	struct agent_snap_map m;
	uint8_t *b;

	if (agent_snap_writer_create(path, &p, &w) < 0)
		exit(1);
	for (int i = 0; i < nlive; i++) {
		struct agent_snap_entry e = { .uid = UMIN + (uint32_t)i,
					      .purpose = (uint32_t)i % 2,
					      .expires = i == 2 ? 1000000000 : 4000000000 };

		snprintf(e.name, sizeof(e.name), i ? "agent-%06d" : "agent-aaaaaa", i);
		snprintf(e.subject, sizeof(e.subject), i % 3 ? "alice" : "");
		agent_snap_put(w, &e);
	}
	if (agent_snap_open(path, geteuid(), &m) < 0)
		exit(1);
	b = malloc(m.size);
	memcpy(b, m.base, m.size);
	both(top, name, b, m.size);
	if (damage) {
		char n2[128];
		struct snap_header *h = (struct snap_header *)(void *)b;

		snprintf(n2, sizeof(n2), "%s-seq-odd", name);
		h->seq |= 1;
		both(top, n2, b, m.size);
		h->seq &= ~1u;
		snprintf(n2, sizeof(n2), "%s-stale", name);
		h->stale = 1;
		both(top, n2, b, m.size);
		h->stale = 0;
		snprintf(n2, sizeof(n2), "%s-short", name);
		both(top, n2, b, m.size / 2);
		snprintf(n2, sizeof(n2), "%s-index-loop", name);
		for (uint32_t i = 0; i < h->index_entries; i++)
			((uint32_t *)(void *)(b + h->index_off))[i] = 1;
		both(top, n2, b, m.size);
	}
	free(b);
	agent_snap_close(&m);
	agent_snap_writer_destroy(w, path);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	seed(argv[1], "v2-empty", 4, 0, false, false);
	seed(argv[1], "v2-three", 16, 3, true, true);
	seed(argv[1], "v2-nogroup", 8, 5, false, false);
	seed(argv[1], "v2-full", 8, 8, true, true);
	return 0;
}
