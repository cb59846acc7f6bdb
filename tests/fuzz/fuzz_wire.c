/* Fuzz target: the wire parser, its getters and the identity round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_msg m;
	struct agent_identity id, back;
	static struct agent_wbuf w;
	const char *chain[AGENT_CHAIN_MAX];
	uint64_t v;

	if (agent_wire_parse(&m, data, size) < 0)
		return 0;
	for (int t = 1; t < AGENT_A__MAX; t++) {
		const char *s = agent_msg_str(&m, (enum agent_attr)t);

		if (s && strlen(s) > AGENT_WIRE_MAX)
			abort();
		agent_msg_u64(&m, (enum agent_attr)t, &v);
		agent_msg_flag(&m, (enum agent_attr)t);
	}
	agent_msg_strs(&m, AGENT_A_CHAIN, chain, AGENT_CHAIN_MAX);
	if (agent_wire_get_identity(&m, &id) < 0)
		return 0;
	/* whatever parsed as an identity re-encodes to the same identity */
	agent_wire_begin(&w, AGENT_MSG_IDENTITY);
	agent_wire_put_identity(&w, &id);
	if (agent_wire_finish(&w) < 0)
		return 0; /* e.g. values the writer refuses */
	if (agent_wire_parse(&m, w.data, w.len) < 0 || agent_wire_get_identity(&m, &back) < 0)
		abort();
	if (strcmp(id.name, back.name) || id.uid != back.uid || id.chain_len != back.chain_len ||
	    strcmp(id.purpose, back.purpose))
		abort();
	return 0;
}
