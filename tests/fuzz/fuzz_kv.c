/* Fuzz target: the audit record parser, and build-then-parse round trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_cb(const char *key, const char *value, void *arg)
{
	const char *want = arg;

	if (want && (strcmp(key, "x") != 0 || strcmp(value, want) != 0))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), line[8192];
	struct agent_kv kv;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	agent_kv_parse(text, check_cb, NULL);
	/* the builder's output always parses back to the same value */
	agent_kv_init(&kv, line, sizeof(line));
	agent_kv_str(&kv, "x", text);
	if (!kv.truncated && strlen(text) == size && agent_kv_parse(line, check_cb, text) != 0)
		abort();
	free(text);
	return 0;
}
