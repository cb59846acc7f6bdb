/* Fuzz target: the snapshot reader on arbitrary segment contents (the
 * header and geometry checks, then every lookup), in memory, and the
 * locator check on the same bytes as a locator file. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct agent_snap_map m;
	struct agent_snap_entry e;
	struct agent_snap_purpose p;
	char gname[AGENT_NAME_MAX + 1];
	uint32_t gid, cursor = 0;
	int fd;

	if (agent_snap_open_mem(data, size, &m) == 0) {
		agent_snap_by_name(&m, "agent-aaaaaa", &e);
		agent_snap_by_uid(&m, 1879048192, &e);
		while (agent_snap_next(&m, &cursor, &e) != -2 /* ENOENT */ && cursor < 2000000) {
			if (agent_snap_purpose(&m, e.purpose, &p) == 0 &&
			    strlen(p.shell) > AGENT_PATH_MAX)
				abort();
			if (agent_snap_by_name(&m, e.name, &e) == 0 && !e.name[0])
				abort();
		}
		agent_snap_agents_group(&m, gname, &gid);
		agent_snap_is_stale(&m);
		agent_snap_close(&m);
	}
	/* the same bytes as a locator file: refused or naming nothing */
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/agentd-fuzz-snap.%d", (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size && agent_snap_open(path, geteuid(), &m) == 0)
		agent_snap_close(&m);
	close(fd);
	unlink(path);
	return 0;
}
