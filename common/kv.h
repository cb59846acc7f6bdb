/* Builder for the key=value lines of audit records.
 *
 * Format (documented in agentd-audit(5)): fields separated by one space;
 * key is [a-z_]+; a value that is a decimal number is written bare, every
 * other value in double quotes with \" \\ escaped and any byte < 0x20, 0x7f
 * or >= 0x80 written as \xHH, so a record is one printable ASCII line that
 * rsyslog passes through unchanged. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_kv {
	char *buf;
	size_t len; /* bytes used, without NUL; buf is always NUL-terminated */
	size_t cap;
	bool truncated;   /* a field did not fit and was dropped */
	unsigned dropped; /* how many fields were dropped */
	size_t held;      /* bytes of buf kept out of cap for a later tail */
};

void agent_kv_init(struct agent_kv *kv, char *buf, size_t cap);
/* Quoted string value; NULL is written as "". */
void agent_kv_str(struct agent_kv *kv, const char *key, const char *value);
void agent_kv_u64(struct agent_kv *kv, const char *key, uint64_t value);
void agent_kv_i64(struct agent_kv *kv, const char *key, int64_t value);

/* Parses one record back into fields, for agentctl audit and the tests.
 * Calls cb(key, value, arg) for each field with value unescaped (NUL-free
 * values only). Returns 0, or -EBADMSG on any syntax error, or the first
 * non-zero value cb returned. */
int agent_kv_parse(const char *line, int (*cb)(const char *key, const char *value, void *arg),
		   void *arg);
