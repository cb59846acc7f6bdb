/* Tokens (see agentd/token.h). The key never leaves the state directory;
 * a token's text exists only in the create reply and the caller's hands. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agentd/token.h"

int agent_token_key_load(const char *dir, struct agent_token_key *k)
{
	return agent_key_file_load(dir, "token.key", k->key, sizeof(k->key));
}

int agent_key_file_load(const char *dir, const char *file, uint8_t *key, size_t len)
{
	char path[512];
	struct stat st;
	ssize_t n;
	int fd, dfd, r = 0;

	if (sodium_init() < 0)
		return -EIO;
	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		randombytes_buf(key, len);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		if (write(fd, key, len) != (ssize_t)len || fsync(fd) < 0)
			r = -EIO;
		close(fd);
		if (r < 0) {
			unlink(path);
			sodium_memzero(key, len);
			return r;
		}
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		return 0;
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		r = -EPERM;
		goto out;
	}
	if (st.st_size != (off_t)len) {
		r = -EINVAL;
		goto out;
	}
	n = read(fd, key, len);
	if (n != (ssize_t)len)
		r = -EIO;
out:
	close(fd);
	if (r < 0)
		sodium_memzero(key, len);
	return r;
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

	if (!text || strlen(text) != sodium_base64_ENCODED_LEN(AGENT_TOKEN_BYTES,
			sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1)
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
