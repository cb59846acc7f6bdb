/* A tiny JSON writer for agentctl --json. Writes to a FILE; strings are
 * escaped per RFC 8259 (control characters as \u00XX). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct agent_json {
	FILE *f;
	int depth;
	bool need_comma[16];
};

void agent_json_init(struct agent_json *j, FILE *f);
void agent_json_begin_object(struct agent_json *j,
			     const char *key); /* key NULL at top / in arrays */
void agent_json_end_object(struct agent_json *j);
void agent_json_begin_array(struct agent_json *j, const char *key);
void agent_json_end_array(struct agent_json *j);
void agent_json_str(struct agent_json *j, const char *key, const char *value); /* NULL -> null */
void agent_json_u64(struct agent_json *j, const char *key, uint64_t value);
void agent_json_bool(struct agent_json *j, const char *key, bool value);
