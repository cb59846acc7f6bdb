/* The audit chain's MAC (see common/audit_mac.h). */
#include <fcntl.h>
#include <unistd.h>

#include <sodium.h>

#include "common/audit_mac.h"
#include "common/keyfile.h"

void agent_audit_mac_hex(const uint8_t key[AGENT_AUDIT_KEY_BYTES], const char *text, size_t len,
			 char hex[AGENT_AUDIT_MAC_HEX + 1])
{
	uint8_t mac[AGENT_AUDIT_MAC_BYTES];

	crypto_generichash(mac, sizeof(mac), (const unsigned char *)text, len, key,
			   AGENT_AUDIT_KEY_BYTES);
	sodium_bin2hex(hex, AGENT_AUDIT_MAC_HEX + 1, mac, sizeof(mac));
}

bool agent_audit_mac_ok(const uint8_t key[AGENT_AUDIT_KEY_BYTES], const char *text, size_t len,
			const char *hex)
{
	char want[AGENT_AUDIT_MAC_HEX + 1];

	agent_audit_mac_hex(key, text, len, want);
	return sodium_memcmp(want, hex, AGENT_AUDIT_MAC_HEX) == 0;
}

int agent_audit_key_read(const char *path, uint8_t key[AGENT_AUDIT_KEY_BYTES])
{
	return agent_keyfile_read(AT_FDCWD, path, geteuid(), key, AGENT_AUDIT_KEY_BYTES);
}
