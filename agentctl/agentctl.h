/* agentctl's commands share these (agentctl/agentctl.c holds the client
 * commands and main, agentctl/audit_cmd.c the offline audit commands). */
#ifndef AGENTCTL_AGENTCTL_H
#define AGENTCTL_AGENTCTL_H

#include <stdint.h>

#include "common/wire.h"

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct ctl {
	const char *socket;
	int timeout_ms;
	int fd;
	uint8_t buf[AGENT_WIRE_MAX];
	struct agent_wbuf w;
	struct agent_msg m;
};

/* One line on stderr ("agentctl: ... (see agentctl --help)"); EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int usage_error(const char *fmt, ...);
/* getopt's '?' for cmd (NULL: the global options) as one usage line. */
int bad_option(const char *cmd, char **argv);

/* agentctl audit verify|trace ...: reads log files, not agentd. */
int cmd_audit(struct ctl *c, int argc, char **argv);

#endif
