/* Fuzz target: the audit record readers (common/audit_verify.c). The input
 * is a log: its lines go through the line splitter (with the host name a
 * collector's file is grouped by, common/audit_fleet.h), the field parser, the
 * verifier and the trace collector under a fixed key (0x2a * 32, the key
 * the seed corpus was made with). Then the input is used as a value in a
 * record chained under that key, which must read back authentic and
 * unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/audit_fleet.h"
#include "common/audit_verify.h"
#include "common/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct agent_audit_fields fields;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[AGENT_AUDIT_KEY_BYTES];
	char *text = malloc(size + 1), rec[AGENT_AUDIT_READ_MAX], mac[AGENT_AUDIT_MAC_HEX + 1];
	struct agent_audit_vstats st;
	struct agent_audit_vfy *v;
	struct agent_audit_trace *t;
	unsigned long n = 0;
	struct agent_kv kv;
	FILE *devnull;

	if (!text)
		return 0;
	memset(key, 0x2a, sizeof(key));
	memcpy(text, data, size);
	text[size] = '\0';
	v = agent_audit_vfy_new(key);
	t = agent_audit_trace_new("agent-k7f3q2", key);
	if (!v || !t)
		abort();
	for (char *line = text, *next; line; line = next) {
		char host[AGENT_AUDIT_HOST_MAX + 2];
		const char *msg, *msg2;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* the host is a word of the line, never cut, and changes nothing else */
		if (agent_audit_line_split_host(line, &msg2, host, sizeof(host)) !=
			    agent_audit_line_split(line, &msg) ||
		    msg != msg2 || strchr(host, ' ') || (host[0] && !strstr(line, host)))
			abort();
		agent_audit_host_valid(host);
		if (agent_audit_line_split(line, &msg) == AGENT_LINE_RECORD) {
			if (msg < line || msg > line + strlen(line))
				abort();
			agent_audit_fields_parse(msg, &fields);
			for (unsigned i = 0; i < fields.n; i++)
				if (agent_audit_field(&fields, fields.key[i]) == NULL)
					abort();
		}
		if (agent_audit_vfy_line(v, "fuzz", ++n, line) < 0 ||
		    agent_audit_trace_line(t, "fuzz", n, line) < 0)
			abort();
	}
	if (agent_audit_vfy_finish(v, NULL, NULL, &st) < 0 || st.verified > st.records ||
	    st.records > st.lines)
		abort();
	devnull = fopen("/dev/null", "w");
	if (devnull) {
		agent_audit_trace_print(t, devnull, size & 1);
		fclose(devnull);
	}
	agent_audit_trace_free(t);
	agent_audit_vfy_free(v);

	/* a record made from the input reads back authentic, value intact */
	memcpy(text, data, size);
	text[size] = '\0';
	agent_kv_init(&kv, rec, sizeof(rec) - 128);
	agent_kv_u64(&kv, "v", 2);
	agent_kv_u64(&kv, "seq", 1);
	agent_kv_str(&kv, "event", "fuzz");
	agent_kv_str(&kv, "task", text);
	kv.cap += 128;
	agent_kv_str(&kv, "prev", "00000000000000000000000000000000");
	agent_audit_mac_hex(key, kv.buf, kv.len, mac);
	agent_kv_str(&kv, "mac", mac);
	if (!agent_audit_rec_authentic(key, rec))
		abort();
	if (agent_audit_fields_parse(rec, &fields) != 0)
		abort();
	if (!kv.truncated && strlen(text) == size &&
	    strcmp(agent_audit_field(&fields, "task"), text) != 0)
		abort();
	free(text);
	return 0;
}
