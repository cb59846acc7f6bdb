/* `agentctl audit trace NAME`: every record about one identity, in the
 * order of the input, told as a timeline. A record is about NAME if any of
 * its values is NAME (identity, caller, by, approver, the parent named in a
 * cascade...) or, for create and retire, if NAME is a hop of its chain (a
 * descendant). Event names are not interpreted, so records added later
 * (step-up approvals, for instance) show up without changes here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/audit_fleet.h"
#include "common/audit_verify.h"
#include "common/json.h"
#include "common/kv.h"
#include "common/limits.h"

struct trec {
	char *msg;
	char *host; /* the syslog HOSTNAME ("" for a bare record) */
	const char *file;
	unsigned long line;
	int authentic; /* 1 yes, 0 no, -1 not checked */
};

struct agent_audit_trace {
	char name[AGENT_NAME_MAX + 1];
	bool have_key;
	uint8_t key[AGENT_AUDIT_KEY_BYTES];
	struct agent_audit_keyring *kr; /* fleet: a key per host */
	char only_host[AGENT_AUDIT_HOST_MAX + 1];
	struct trec *r;
	size_t n, cap;
	struct agent_audit_fields f; /* scratch */
};

struct agent_audit_trace *agent_audit_trace_new(const char *name,
						const uint8_t key[AGENT_AUDIT_KEY_BYTES])
{
	struct agent_audit_trace *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	if (key) {
		t->have_key = true;
		memcpy(t->key, key, sizeof(t->key));
	}
	return t;
}

void agent_audit_trace_keyring(struct agent_audit_trace *t, struct agent_audit_keyring *kr)
{
	t->kr = kr;
	if (kr)
		t->have_key = true;
}

void agent_audit_trace_host(struct agent_audit_trace *t, const char *host)
{
	snprintf(t->only_host, sizeof(t->only_host), "%s", host ? host : "");
}

void agent_audit_trace_free(struct agent_audit_trace *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->r[i].msg);
		free(t->r[i].host);
	}
	free(t->r);
	explicit_bzero(t->key, sizeof(t->key));
	free(t);
}

static bool chain_has(const char *chain, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = chain; p; p = strchr(p, '>')) {
		if (*p == '>')
			p++;
		if (strncmp(p, name, n) == 0 && (p[n] == '>' || p[n] == '\0'))
			return true;
	}
	return false;
}

static bool about(const struct agent_audit_fields *f, const char *name)
{
	const char *ev = agent_audit_field(f, "event"), *chain = agent_audit_field(f, "chain");

	for (unsigned i = 0; i < f->n; i++)
		if (strcmp(f->key[i], "chain") != 0 && strcmp(f->value[i], name) == 0)
			return true;
	return ev && chain && (strcmp(ev, "create") == 0 || strcmp(ev, "retire") == 0) &&
	       chain_has(chain, name);
}

int agent_audit_trace_line(struct agent_audit_trace *t, const char *file, unsigned long lineno,
			   const char *line)
{
	char host[AGENT_AUDIT_HOST_MAX + 2];
	const uint8_t *key = t->key;
	const char *msg;
	struct trec *r;
	int err;

	if (agent_audit_line_split_host(line, &msg, host, sizeof(host)) != AGENT_LINE_RECORD)
		return 0;
	if (t->only_host[0] && strcmp(host, t->only_host) != 0)
		return 0;
	if (agent_audit_fields_parse(msg, &t->f) < 0 || !about(&t->f, t->name))
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		void *p = realloc(t->r, cap * sizeof(*t->r));

		if (!p)
			return -ENOMEM;
		t->r = p;
		t->cap = cap;
	}
	r = &t->r[t->n];
	r->msg = strdup(msg);
	r->host = strdup(host);
	if (!r->msg || !r->host) {
		free(r->msg);
		free(r->host);
		return -ENOMEM;
	}
	r->file = file;
	r->line = lineno;
	if (t->kr) {
		key = agent_audit_keyring_get(t->kr, host, &err);
		if (!key && err == -ENOMEM) {
			free(r->msg);
			free(r->host);
			return err;
		}
	}
	r->authentic = t->have_key && key ? agent_audit_rec_authentic(key, msg) : -1;
	t->n++;
	return 0;
}

/* Shown in the header, not repeated on each line. */
static bool header_key(const char *k)
{
	static const char *const keys[] = { "v",         "seq",      "time",    "event",
					    "decision",  "identity", "uid",     "subject",
					    "chain",     "actor",    "purpose", "expires",
					    "prev",      "mac",      "risk",    "actor_verified",
					    "actor_name" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(k, keys[i]) == 0)
			return true;
	return false;
}

static void print_value(FILE *out, const char *key, const char *value)
{
	char buf[AGENT_AUDIT_READ_MAX * 4 + 64];
	struct agent_kv kv;
	bool number = *value != '\0';

	for (const char *p = value; *p; p++)
		number = number && *p >= '0' && *p <= '9';
	agent_kv_init(&kv, buf, sizeof(buf));
	if (number)
		fprintf(out, " %s=%s", key, value);
	else {
		agent_kv_str(&kv, key, value);
		fprintf(out, " %s", buf);
	}
}

/* Fleet: the hosts the records came from, in order of appearance (the
 * first HOSTS_SHOWN of them). */
#define HOSTS_SHOWN 16
static void print_hosts(struct agent_audit_trace *t, FILE *out)
{
	const char *shown[HOSTS_SHOWN];
	size_t n = 0;
	bool more = false;

	fputs("hosts:    ", out);
	for (size_t i = 0; i < t->n; i++) {
		bool seen = false;

		for (size_t k = 0; k < n && !seen; k++)
			seen = strcmp(shown[k], t->r[i].host) == 0;
		if (seen)
			continue;
		if (n == HOSTS_SHOWN) {
			more = true;
			break;
		}
		shown[n++] = t->r[i].host;
		fprintf(out, " %s", t->r[i].host[0] ? t->r[i].host : "(none)");
	}
	fputs(more ? " ...\n" : "\n", out);
}

static void print_header(struct agent_audit_trace *t, FILE *out, size_t unauth, size_t unchecked)
{
	const char *uid = NULL, *purpose = NULL, *subject = NULL, *chain = NULL, *actor = NULL,
		   *task = NULL, *risk = NULL, *verified = NULL, *actor_name = NULL;

	/* The identity's own create record (else its first record) describes it. */
	for (int pass = 0; pass < 2 && !chain; pass++)
		for (size_t i = 0; i < t->n && !chain; i++) {
			const char *id, *ev;

			agent_audit_fields_parse(t->r[i].msg, &t->f);
			id = agent_audit_field(&t->f, "identity");
			ev = agent_audit_field(&t->f, "event");
			if (!id || strcmp(id, t->name) != 0 || !agent_audit_field(&t->f, "chain") ||
			    (pass == 0 && (!ev || strcmp(ev, "create") != 0)))
				continue;
			uid = agent_audit_field(&t->f, "uid");
			purpose = agent_audit_field(&t->f, "purpose");
			subject = agent_audit_field(&t->f, "subject");
			chain = agent_audit_field(&t->f, "chain");
			actor = agent_audit_field(&t->f, "actor");
			task = agent_audit_field(&t->f, "task");
			risk = agent_audit_field(&t->f, "risk");
			verified = agent_audit_field(&t->f, "actor_verified");
			actor_name = agent_audit_field(&t->f, "actor_name");
		}
	fprintf(out, "identity:  %s", t->name);
	if (uid)
		fprintf(out, " (uid %s)", uid);
	fputc('\n', out);
	if (chain) {
		fprintf(out, "purpose:   %s\nfor:       %s\ndelegated: ", purpose ? purpose : "?",
			subject ? subject : "?");
		for (const char *p = chain; *p; p++)
			if (*p == '>')
				fputs(" > ", out);
			else
				fputc(*p, out);
		fprintf(out, " > %s\n", t->name);
		if (actor)
			fprintf(out, "actor:     %s\n", actor);
		if (task)
			fprintf(out, "task:      %s\n", task);
		if (verified)
			fprintf(out, "verified:  %s%s%s\n", verified, actor_name ? " " : "",
				actor_name ? actor_name : "");
		if (risk)
			fprintf(out, "risk:      %s\n", risk);
	}
	if (t->kr)
		print_hosts(t, out);
	if (!t->have_key)
		fprintf(out, "records:   %zu, not authenticated (no key)\n", t->n);
	else if (unauth)
		fprintf(out, "records:   %zu, %zu FAIL authentication (marked !)\n", t->n, unauth);
	else if (unchecked)
		fprintf(out,
			"records:   %zu, %zu not authenticated (no key for their host, "
			"marked ?)\n",
			t->n, unchecked);
	else
		fprintf(out,
			"records:   %zu, each authenticated (run 'agentctl audit verify' for "
			"the chain)\n",
			t->n);
	fputc('\n', out);
}

static void print_text(struct agent_audit_trace *t, FILE *out)
{
	size_t unauth = 0, unchecked = 0;

	for (size_t i = 0; i < t->n; i++) {
		unauth += t->r[i].authentic == 0;
		unchecked += t->r[i].authentic < 0;
	}
	print_header(t, out, unauth, unchecked);
	for (size_t i = 0; i < t->n; i++) {
		const char *time, *seq, *ev, *dec, *id;

		if (agent_audit_fields_parse(t->r[i].msg, &t->f) < 0)
			continue;
		time = agent_audit_field(&t->f, "time");
		seq = agent_audit_field(&t->f, "seq");
		ev = agent_audit_field(&t->f, "event");
		dec = agent_audit_field(&t->f, "decision");
		id = agent_audit_field(&t->f, "identity");
		fputc(t->r[i].authentic == 0                 ? '!'
		      : t->have_key && t->r[i].authentic < 0 ? '?'
							     : ' ',
		      out);
		if (t->kr)
			fprintf(out, " %-16s", t->r[i].host[0] ? t->r[i].host : "-");
		fprintf(out, " %-24s %8s  %-14s %-5s", time ? time : "-", seq ? seq : "-",
			ev ? ev : "?", dec ? dec : "");
		if (id && strcmp(id, t->name) != 0) {
			const char *p = agent_audit_field(&t->f, "purpose");

			fprintf(out, " identity=%s", id);
			if (p)
				fprintf(out, " purpose=%s", p);
		}
		for (unsigned k = 0; k < t->f.n; k++)
			if (!header_key(t->f.key[k]))
				print_value(out, t->f.key[k], t->f.value[k]);
		fputc('\n', out);
	}
}

static void print_json(struct agent_audit_trace *t, FILE *out)
{
	struct agent_json j;

	agent_json_init(&j, out);
	agent_json_begin_object(&j, NULL);
	agent_json_str(&j, "identity", t->name);
	agent_json_bool(&j, "key", t->have_key);
	agent_json_begin_array(&j, "records");
	for (size_t i = 0; i < t->n; i++) {
		if (agent_audit_fields_parse(t->r[i].msg, &t->f) < 0)
			continue;
		agent_json_begin_object(&j, NULL);
		agent_json_str(&j, "file", t->r[i].file);
		if (t->r[i].host[0])
			agent_json_str(&j, "host", t->r[i].host);
		agent_json_u64(&j, "line", t->r[i].line);
		if (t->r[i].authentic >= 0)
			agent_json_bool(&j, "authentic", t->r[i].authentic == 1);
		agent_json_begin_object(&j, "fields");
		for (unsigned k = 0; k < t->f.n; k++)
			agent_json_str(&j, t->f.key[k], t->f.value[k]);
		agent_json_end_object(&j);
		agent_json_end_object(&j);
	}
	agent_json_end_array(&j);
	agent_json_end_object(&j);
	fputc('\n', out);
}

size_t agent_audit_trace_print(struct agent_audit_trace *t, FILE *out, bool json)
{
	if (json)
		print_json(t, out);
	else
		print_text(t, out);
	return t->n;
}
