/* The audit chain's MAC, computed by agentd (agentd/audit.c) and checked by
 * every reader (common/audit_verify.c, common/audit_trace.c,
 * common/audit_fleet.c): BLAKE2b keyed with the 32-byte audit key, 16 bytes,
 * written as lower-case hex, over every byte of a record before " mac="
 * (agentd-audit(5)). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_AUDIT_KEY_BYTES 32
#define AGENT_AUDIT_MAC_BYTES 16
#define AGENT_AUDIT_MAC_HEX (2 * AGENT_AUDIT_MAC_BYTES)
#define AGENT_AUDIT_KEY_FILE "audit.key"

/* hex gets the lower-case hex MAC of text[0..len) and a NUL. */
void agent_audit_mac_hex(const uint8_t key[AGENT_AUDIT_KEY_BYTES], const char *text, size_t len,
			 char hex[AGENT_AUDIT_MAC_HEX + 1]);
/* Is hex (AGENT_AUDIT_MAC_HEX characters) the MAC of text[0..len)? Compared
 * in constant time. */
bool agent_audit_mac_ok(const uint8_t key[AGENT_AUDIT_KEY_BYTES], const char *text, size_t len,
			const char *hex);
/* Reads an audit key file (common/keyfile.h's checks; owner root or the
 * caller). 0 or -errno. */
int agent_audit_key_read(const char *path, uint8_t key[AGENT_AUDIT_KEY_BYTES]);
