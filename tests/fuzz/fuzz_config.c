/* Fuzz target: the agentd.conf parser (without the file checks) and the
 * host checks' own rules (without host files). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct agent_host_files no_host = {
	.login_defs = "/nonexistent/login.defs",
	.subuid = "/nonexistent/subuid",
	.subgid = "/nonexistent/subgid",
	.passwd = "/nonexistent/passwd",
	.group = "/nonexistent/group",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config *cfg = NULL;
	char err[512];
	char *text;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (agent_config_parse_string(text, "fuzz.conf", &cfg, err, sizeof(err)) == 0) {
		if (cfg->uid_min > cfg->uid_max || cfg->default_ttl > cfg->max_ttl ||
		    cfg->max_live < 1 || cfg->max_live > cfg->uid_max - cfg->uid_min + 1)
			abort(); /* a valid config keeps its invariants */
		/* The host checks, against no host files: their own rules only. */
		if (agent_config_check_host(cfg, &no_host, err, sizeof(err)) < 0 &&
		    strncmp(err, "fuzz.conf", 9) != 0)
			abort(); /* every refusal names the file */
		agent_config_free(cfg);
	} else if (cfg || strncmp(err, "fuzz.conf", 9) != 0) {
		abort(); /* every error names the file */
	}
	free(text);
	return 0;
}
