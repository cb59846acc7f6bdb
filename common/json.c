/* Minimal JSON writer for agentctl --json (RFC 8259 string escaping). */
#include <inttypes.h>
#include <stdio.h>

#include "common/json.h"

void agent_json_init(struct agent_json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->need_comma[0] = false;
}

static void sep(struct agent_json *j, const char *key);

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void sep(struct agent_json *j, const char *key)
{
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = true;
	if (key) {
		put_string(j->f, key);
		fputc(':', j->f);
	}
}

static void open_(struct agent_json *j, const char *key, char c)
{
	sep(j, key);
	fputc(c, j->f);
	if (j->depth < 15)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_(struct agent_json *j, char c)
{
	if (j->depth > 0)
		j->depth--;
	fputc(c, j->f);
	if (j->depth == 0)
		fputc('\n', j->f);
}

void agent_json_begin_object(struct agent_json *j, const char *key)
{
	open_(j, key, '{');
}

void agent_json_end_object(struct agent_json *j)
{
	close_(j, '}');
}

void agent_json_begin_array(struct agent_json *j, const char *key)
{
	open_(j, key, '[');
}

void agent_json_end_array(struct agent_json *j)
{
	close_(j, ']');
}

void agent_json_str(struct agent_json *j, const char *key, const char *value)
{
	sep(j, key);
	if (value)
		put_string(j->f, value);
	else
		fputs("null", j->f);
}

void agent_json_u64(struct agent_json *j, const char *key, uint64_t value)
{
	sep(j, key);
	fprintf(j->f, "%" PRIu64, value);
}

void agent_json_bool(struct agent_json *j, const char *key, bool value)
{
	sep(j, key);
	fputs(value ? "true" : "false", j->f);
}
