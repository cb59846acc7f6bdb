/* Tokens: 32 random bytes shown once as base64url text, stored only as a
 * keyed BLAKE2b-256 hash (the key lives root-only in the state directory). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "common/limits.h"

struct agent_token_key {
	uint8_t key[32];
};

/* Loads DIR/token.key, creating it (0600, O_EXCL) if missing, through
 * common/keyfile.h's reader. 0 or -errno. */
int agent_token_key_load(const char *dir, struct agent_token_key *k);

/* Makes a token: text (NUL-terminated base64url) and its hash. */
int agent_token_new(const struct agent_token_key *k, char text[AGENT_TOKEN_TEXT_MAX],
		    uint8_t hash[AGENT_TOKEN_HASH_BYTES]);

/* Constant-time check of presented text against a stored hash; the decoded
 * bytes are wiped. 0 if it matches, -EACCES if not, -EINVAL if malformed. */
int agent_token_verify(const struct agent_token_key *k, const char *text,
		       const uint8_t hash[AGENT_TOKEN_HASH_BYTES]);
