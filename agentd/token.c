/* Tokens (see agentd/token.h). The key never leaves the state directory;
 * a token's text exists only in the create reply and the caller's hands. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "agentd/token.h"
#include "common/keyfile.h"

int agent_token_key_load(const char *dir, struct agent_token_key *k)
{
	return agent_keyfile_load(dir, "token.key", k->key, sizeof(k->key));
}

static void hash_token(const struct agent_token_key *k, const uint8_t raw[AGENT_TOKEN_BYTES],
		       uint8_t hash[AGENT_TOKEN_HASH_BYTES])
{
	crypto_generichash(hash, AGENT_TOKEN_HASH_BYTES, raw, AGENT_TOKEN_BYTES, k->key,
			   sizeof(k->key));
}

int agent_token_new(const struct agent_token_key *k, char text[AGENT_TOKEN_TEXT_MAX],
		    uint8_t hash[AGENT_TOKEN_HASH_BYTES])
{
	uint8_t raw[AGENT_TOKEN_BYTES];

	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(text, AGENT_TOKEN_TEXT_MAX, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	hash_token(k, raw, hash);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

int agent_token_verify(const struct agent_token_key *k, const char *text,
		       const uint8_t hash[AGENT_TOKEN_HASH_BYTES])
{
	uint8_t raw[AGENT_TOKEN_BYTES], h[AGENT_TOKEN_HASH_BYTES];
	size_t len = 0;
	int r;

	if (!text ||
	    strlen(text) != sodium_base64_ENCODED_LEN(AGENT_TOKEN_BYTES,
						      sodium_base64_VARIANT_URLSAFE_NO_PADDING) -
				    1)
		return -EINVAL;
	if (sodium_base642bin(raw, sizeof(raw), text, strlen(text), NULL, &len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != sizeof(raw)) {
		sodium_memzero(raw, sizeof(raw));
		return -EINVAL;
	}
	hash_token(k, raw, h);
	r = sodium_memcmp(h, hash, sizeof(h)) == 0 ? 0 : -EACCES;
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(h, sizeof(h));
	return r;
}
