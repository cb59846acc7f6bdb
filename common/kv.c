/* key=value audit lines: builder and parser (format in common/kv.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kv.h"

void agent_kv_init(struct agent_kv *kv, char *buf, size_t cap)
{
	kv->buf = buf;
	kv->len = 0;
	kv->cap = cap;
	kv->truncated = false;
	kv->dropped = 0;
	kv->held = 0;
	if (cap)
		buf[0] = '\0';
}

/* Appends raw bytes if they fit with the NUL; all or nothing. */
static bool put(struct agent_kv *kv, const char *s, size_t n)
{
	if (kv->cap == 0 || n >= kv->cap - kv->len)
		return false;
	memcpy(kv->buf + kv->len, s, n);
	kv->len += n;
	kv->buf[kv->len] = '\0';
	return true;
}

static bool put_key(struct agent_kv *kv, const char *key)
{
	return (kv->len == 0 || put(kv, " ", 1)) && put(kv, key, strlen(key)) && put(kv, "=", 1);
}

void agent_kv_str(struct agent_kv *kv, const char *key, const char *value)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = kv->len;
	const unsigned char *v = (const unsigned char *)(value ? value : "");
	bool ok = put_key(kv, key) && put(kv, "\"", 1);

	for (; ok && *v; v++) {
		char esc[4] = { '\\', 'x', hex[*v >> 4], hex[*v & 15] };

		if (*v == '"' || *v == '\\') {
			esc[1] = (char)*v;
			ok = put(kv, esc, 2);
		} else if (*v < 0x20 || *v >= 0x7f) {
			ok = put(kv, esc, 4);
		} else {
			ok = put(kv, (const char *)v, 1);
		}
	}
	if (ok)
		ok = put(kv, "\"", 1);
	if (!ok) {
		kv->len = start;
		if (kv->cap)
			kv->buf[start] = '\0';
		kv->truncated = true;
		kv->dropped++;
	}
}

static void put_number(struct agent_kv *kv, const char *key, const char *num)
{
	size_t start = kv->len;

	if (!(put_key(kv, key) && put(kv, num, strlen(num)))) {
		kv->len = start;
		if (kv->cap)
			kv->buf[start] = '\0';
		kv->truncated = true;
		kv->dropped++;
	}
}

void agent_kv_u64(struct agent_kv *kv, const char *key, uint64_t value)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, value);
	put_number(kv, key, num);
}

void agent_kv_i64(struct agent_kv *kv, const char *key, int64_t value)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRId64, value);
	put_number(kv, key, num);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int agent_kv_parse(const char *line, int (*cb)(const char *key, const char *value, void *arg),
		   void *arg)
{
	size_t n = strlen(line);
	char *key = malloc(n + 1), *val = malloc(n + 1);
	const char *p = line;
	int r = 0;

	if (!key || !val) {
		r = -ENOMEM;
		goto out;
	}
	while (*p) {
		size_t k = 0, v = 0;

		while ((*p >= 'a' && *p <= 'z') || *p == '_')
			key[k++] = *p++;
		if (k == 0 || *p++ != '=') {
			r = -EBADMSG;
			goto out;
		}
		key[k] = '\0';
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0' || (unsigned char)*p < 0x20 ||
				    (unsigned char)*p >= 0x7f) {
					r = -EBADMSG;
					goto out;
				}
				if (*p != '\\') {
					val[v++] = *p;
					continue;
				}
				p++;
				if (*p == '"' || *p == '\\') {
					val[v++] = *p;
				} else if (*p == 'x' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
					int c = hexval(p[1]) << 4 | hexval(p[2]);

					if (c == 0) {
						r = -EBADMSG;
						goto out;
					}
					val[v++] = (char)c;
					p += 2;
				} else {
					r = -EBADMSG;
					goto out;
				}
			}
			p++;
		} else {
			while (*p >= '0' && *p <= '9')
				val[v++] = *p++;
			if (v == 0 && *p != '-') {
				r = -EBADMSG;
				goto out;
			}
			if (v == 0) { /* negative number */
				val[v++] = *p++;
				while (*p >= '0' && *p <= '9')
					val[v++] = *p++;
				if (v == 1) {
					r = -EBADMSG;
					goto out;
				}
			}
		}
		val[v] = '\0';
		if (*p == ' ')
			p++;
		else if (*p != '\0') {
			r = -EBADMSG;
			goto out;
		}
		if (*p == '\0' && p > line && p[-1] == ' ') {
			r = -EBADMSG;
			goto out;
		}
		r = cb(key, val, arg);
		if (r)
			goto out;
	}
out:
	free(key);
	free(val);
	return r;
}
