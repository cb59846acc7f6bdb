/* Durations, timestamps and the validators for strings that cross a trust
 * boundary. Libc only: nss_agent links this file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/limits.h"
#include "common/text.h"

int agent_duration_parse(const char *s, uint64_t *sec)
{
	uint64_t total = 0;
	bool any = false;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		uint64_t n = 0, mult;
		bool digits = false;

		while (*s >= '0' && *s <= '9') {
			if (n > (UINT64_MAX - 9) / 10)
				return -ERANGE;
			n = n * 10 + (uint64_t)(*s++ - '0');
			digits = true;
		}
		if (!digits)
			return -EINVAL;
		switch (*s) {
		case '\0':
			/* A bare number is seconds, but only as the whole string. */
			if (any)
				return -EINVAL;
			mult = 1;
			break;
		case 's':
			mult = 1;
			s++;
			break;
		case 'm':
			mult = 60;
			s++;
			break;
		case 'h':
			mult = 3600;
			s++;
			break;
		case 'd':
			mult = 86400;
			s++;
			break;
		case 'w':
			mult = 604800;
			s++;
			break;
		default:
			return -EINVAL;
		}
		if (n > UINT64_MAX / mult || total > UINT64_MAX - n * mult)
			return -ERANGE;
		total += n * mult;
		if (total > (uint64_t)AGENT_MAX_TTL_SEC)
			return -ERANGE;
		any = true;
	}
	*sec = total;
	return 0;
}

int agent_duration_format(uint64_t sec, char *buf, size_t len)
{
	static const struct {
		uint64_t n;
		char u;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	size_t off = 0;

	if (!buf || len == 0)
		return -ENOSPC;
	if (sec == 0)
		return snprintf(buf, len, "0s") >= (int)len ? -ENOSPC : 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t q = sec / units[i].n;
		int w;

		if (!q)
			continue;
		sec -= q * units[i].n;
		w = snprintf(buf + off, len - off, "%llu%c", (unsigned long long)q, units[i].u);
		if (w < 0 || (size_t)w >= len - off)
			return -ENOSPC;
		off += (size_t)w;
	}
	return 0;
}

int agent_time_format(int64_t unix_sec, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)unix_sec;

	if (!buf || !gmtime_r(&t, &tm))
		return -EINVAL;
	if (strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -ENOSPC;
	return 0;
}

static bool lower_or_digit(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool agent_valid_username(const char *s)
{
	size_t n;

	if (!s || !*s)
		return false;
	n = strlen(s);
	if (n > AGENT_NAME_MAX)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (lower_or_digit(s[i]) || s[i] == '_' || s[i] == '-')
			continue;
		if (s[i] == '$' && i == n - 1)
			continue;
		return false;
	}
	return true;
}

static bool valid_word(const char *s, size_t max)
{
	size_t n;

	if (!s || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	n = strlen(s);
	if (n > max)
		return false;
	for (size_t i = 1; i < n; i++)
		if (!lower_or_digit(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

bool agent_valid_purpose(const char *s)
{
	return valid_word(s, AGENT_PURPOSE_MAX);
}

bool agent_valid_prefix(const char *s)
{
	return valid_word(s, AGENT_PREFIX_MAX);
}

/* Strict UTF-8: shortest form, no surrogates, at most U+10FFFF, and no
 * C0, DEL or C1 control characters. */
bool agent_valid_text(const char *str, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	if (!s)
		return false;
	n = strlen(str);
	if (n > max)
		return false;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t len;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
			return false;
		i += len;
	}
	return true;
}

bool agent_valid_abspath(const char *s)
{
	size_t n;

	if (!s || s[0] != '/')
		return false;
	n = strlen(s);
	if (n > AGENT_PATH_MAX)
		return false;
	if (n > 1 && s[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c == '/' && s[i + 1] == '/')
			return false;
		if (c == '/' && s[i + 1] == '.' && s[i + 2] == '.' &&
		    (s[i + 3] == '/' || s[i + 3] == '\0'))
			return false;
	}
	return true;
}

bool agent_valid_ssh_key(const char *s)
{
	static const char *const types[] = {
		"ssh-ed25519",
		"ssh-rsa",
		"ecdsa-sha2-nistp256",
		"ecdsa-sha2-nistp384",
		"ecdsa-sha2-nistp521",
		"sk-ssh-ed25519@openssh.com",
		"sk-ecdsa-sha2-nistp256@openssh.com",
	};
	const char *p, *sp;
	size_t n, tl;
	bool known = false;

	if (!s || (n = strnlen(s, AGENT_SSH_KEY_MAX + 1)) > AGENT_SSH_KEY_MAX)
		return false;
	for (p = s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return false;
	sp = strchr(s, ' ');
	if (!sp)
		return false;
	tl = (size_t)(sp - s);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i]) == tl && memcmp(types[i], s, tl) == 0)
			known = true;
	if (!known)
		return false;
	p = sp + 1;
	n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
	if (n < 16)
		return false;
	p += n;
	p += strspn(p, "=");
	return *p == '\0' || (*p == ' ' && p[1] != '\0');
}
