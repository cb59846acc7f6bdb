/* agentctl audit verify|trace: agentd-audit(5) records read back from log
 * files (or stdin), checked with the audit key; agentd is not asked. See
 * agentctl(1). Text output is one line per finding and a summary line;
 * --json is one object (keys in agentctl(1)). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentctl/agentctl.h"
#include "common/audit_fleet.h"
#include "common/audit_verify.h"
#include "common/json.h"
#include "common/keyfile.h"
#include "common/text.h"

#ifndef AGENT_STATEDIR
#define AGENT_STATEDIR "/var/lib/agentd"
#endif

/* Feeds each line of the files, in order, to cb: 0, or -errno said once. */
static int read_files(char **files, int nfiles,
		      int (*cb)(const char *file, unsigned long n, const char *line, void *arg),
		      void *arg)
{
	int r = 0;

	for (int i = 0; r == 0 && i < nfiles; i++)
		if ((r = agent_audit_read_lines(files[i], cb, arg)) < 0)
			fprintf(stderr, "agentctl: %s: %s\n", files[i], strerror(-r));
	return r;
}

/* Where verify's results go: text lines, or one JSON object (--json). */
struct vout {
	bool json;
	struct agent_json j;
	bool host_open; /* fleet, JSON: a host's object is open */
	uint64_t verified;
	unsigned findings, bad_hosts;
};

static const char *file_name(const char *file)
{
	return strcmp(file, "-") == 0 ? "(stdin)" : file;
}

static void json_finding(struct vout *o, const struct agent_audit_finding *f)
{
	agent_json_begin_object(&o->j, NULL);
	agent_json_str(&o->j, "file", file_name(f->file));
	agent_json_u64(&o->j, "line", f->line);
	agent_json_str(&o->j, "kind", agent_audit_kind_str(f->kind));
	agent_json_bool(&o->j, "note", agent_audit_kind_is_note(f->kind));
	agent_json_str(&o->j, "text", f->text);
	agent_json_end_object(&o->j);
}

static void print_finding(const struct agent_audit_finding *f, void *arg)
{
	struct vout *o = arg;

	if (o->json)
		json_finding(o, f);
	else
		printf("%s:%lu: %s: %s\n", file_name(f->file), f->line,
		       agent_audit_kind_str(f->kind), f->text);
}

/* The seq range of verified records, or nulls when none verified. */
static void json_seq_range(struct vout *o, const struct agent_audit_vstats *st)
{
	if (st->verified) {
		agent_json_u64(&o->j, "first_seq", st->first_seq);
		agent_json_u64(&o->j, "last_seq", st->last_seq);
	} else {
		agent_json_str(&o->j, "first_seq", NULL);
		agent_json_str(&o->j, "last_seq", NULL);
	}
}

/* Single-key verify: the chain, and the first two host names seen (a
 * collector's file wants --key-dir). */
struct verify_in {
	struct agent_audit_vfy *v;
	char host[2][AGENT_AUDIT_HOST_MAX + 1];
};

static int verify_line(const char *file, unsigned long n, const char *line, void *arg)
{
	struct verify_in *in = arg;
	char host[AGENT_AUDIT_HOST_MAX + 1];
	const char *msg;

	if (!in->host[1][0] &&
	    agent_audit_line_split_host(line, &msg, host, sizeof(host)) == AGENT_LINE_RECORD &&
	    host[0] && strcmp(host, in->host[0]) != 0)
		memcpy(in->host[in->host[0][0] ? 1 : 0], host, sizeof(host));
	return agent_audit_vfy_line(in->v, file, n, line);
}

static int trace_line(const char *file, unsigned long n, const char *line, void *arg)
{
	return agent_audit_trace_line(arg, file, n, line);
}

/* Reads the key (default: the state directory's); 0 or -errno, said once. */
static int audit_key(const char *path, uint8_t key[AGENT_AUDIT_KEY_BYTES], bool quiet)
{
	int r = agent_audit_key_read(path, key);

	if (r < 0 && !quiet)
		fprintf(stderr, "agentctl: cannot read the audit key %s: %s%s\n", path,
			agent_keyfile_strerror(r),
			r == -EACCES ? " (it is root's: run as root, or pass --key FILE)" : "");
	return r;
}

static void json_open_host(struct vout *o, const char *host)
{
	if (o->host_open)
		return;
	agent_json_begin_object(&o->j, NULL);
	agent_json_str(&o->j, "host", host[0] ? host : NULL);
	agent_json_begin_array(&o->j, "findings");
	o->host_open = true;
}

static void print_host_finding(const char *host, const struct agent_audit_finding *f, void *arg)
{
	struct vout *o = arg;

	if (o->json) {
		json_open_host(o, host);
		json_finding(o, f);
		return;
	}
	printf("%s:%lu: %s: %s: %s\n", file_name(f->file), f->line, host[0] ? host : "(no host)",
	       agent_audit_kind_str(f->kind), f->text);
}

static void json_host_summary(struct vout *o, const struct agent_audit_host_summary *s)
{
	json_open_host(o, s->host);
	agent_json_end_array(&o->j);
	agent_json_u64(&o->j, "records", s->records);
	agent_json_bool(&o->j, "key", !s->key_error);
	agent_json_u64(&o->j, "verified", s->st.verified);
	json_seq_range(o, &s->st);
	agent_json_u64(&o->j, "notes", s->st.notes);
	agent_json_end_object(&o->j);
	o->host_open = false;
}

static void print_host_summary(const struct agent_audit_host_summary *s, void *arg)
{
	struct vout *o = arg;
	const char *h = s->host[0] ? s->host : "(no host)";

	o->verified += s->st.verified;
	o->findings += s->st.findings;
	o->bad_hosts += s->st.findings != 0;
	if (o->json)
		json_host_summary(o, s);
	else if (s->key_error)
		printf("host %s: %llu record(s), none verified (no key)\n", h,
		       (unsigned long long)s->records);
	else if (s->st.verified == 0)
		printf("host %s: %llu record(s), none authentic; %u finding(s)\n", h,
		       (unsigned long long)s->records, s->st.findings);
	else
		printf("host %s: %llu record(s) verified, seq %llu-%llu; %u finding(s), %u note(s)\n",
		       h, (unsigned long long)s->st.verified, (unsigned long long)s->st.first_seq,
		       (unsigned long long)s->st.last_seq, s->st.findings, s->st.notes);
}

static int fleet_line(const char *file, unsigned long n, const char *line, void *arg)
{
	return agent_audit_fleet_line(arg, file, n, line);
}

/* audit verify --key-dir: each host's chain with its own key. */
static int audit_verify_fleet(struct agent_audit_keyring *kr, bool json, char **files, int nfiles)
{
	struct agent_audit_fleet *f = agent_audit_fleet_new(kr);
	struct vout o = { .json = json };
	unsigned nhosts = 0;
	int r = 0;

	if (!f)
		return EXIT_REFUSED;
	r = read_files(files, nfiles, fleet_line, f);
	if (r == 0 && json) {
		agent_json_init(&o.j, stdout);
		agent_json_begin_object(&o.j, NULL);
		agent_json_begin_array(&o.j, "hosts");
	}
	if (r == 0)
		r = agent_audit_fleet_finish(f, print_host_finding, print_host_summary, &o,
					     &nhosts);
	agent_audit_fleet_free(f);
	if (r < 0)
		return EXIT_REFUSED;
	if (json) {
		agent_json_end_array(&o.j);
		agent_json_u64(&o.j, "records_verified", o.verified);
		agent_json_u64(&o.j, "findings", o.findings);
		agent_json_bool(&o.j, "ok", nhosts && !o.findings);
		agent_json_end_object(&o.j);
	} else if (nhosts == 0) {
		printf("no agentd record in the input\n");
	} else {
		printf("%u host(s), %llu record(s) verified; %u finding(s)", nhosts,
		       (unsigned long long)o.verified, o.findings);
		if (o.bad_hosts)
			printf(" in %u host(s)", o.bad_hosts);
		putchar('\n');
	}
	return nhosts && !o.findings ? 0 : EXIT_REFUSED;
}

static int audit_trace(const char *name, const uint8_t *key, struct agent_audit_keyring *kr,
		       const char *host, bool json, char **files, int nfiles)
{
	struct agent_audit_trace *t = agent_audit_trace_new(name, key);
	int r = 0;

	if (!t)
		return EXIT_REFUSED;
	agent_audit_trace_keyring(t, kr);
	agent_audit_trace_host(t, host);
	r = read_files(files, nfiles, trace_line, t);
	if (r == 0 && agent_audit_trace_print(t, stdout, json) == 0) {
		fprintf(stderr, "agentctl: no audit record about %s%s%s\n", name,
			host ? " from host " : "", host ? host : "");
		r = -ENOENT;
	}
	agent_audit_trace_free(t);
	return r < 0 ? EXIT_REFUSED : 0;
}

static void verify_json_tail(struct vout *o, const struct verify_in *in,
			     const struct agent_audit_vstats *st)
{
	agent_json_end_array(&o->j);
	agent_json_u64(&o->j, "lines", st->lines);
	agent_json_u64(&o->j, "records_verified", st->verified);
	json_seq_range(o, st);
	agent_json_u64(&o->j, "notes", st->notes);
	agent_json_bool(&o->j, "several_hosts", in->host[1][0] != 0);
	agent_json_bool(&o->j, "ok", st->verified && !st->findings);
	agent_json_end_object(&o->j);
}

static int audit_verify(const uint8_t key[AGENT_AUDIT_KEY_BYTES], bool json, char **files,
			int nfiles)
{
	struct verify_in in = { .v = agent_audit_vfy_new(key) };
	struct agent_audit_vstats st = { 0 };
	struct vout o = { .json = json };
	int r = 0;

	if (!in.v)
		return EXIT_REFUSED;
	r = read_files(files, nfiles, verify_line, &in);
	if (r == 0 && json) {
		agent_json_init(&o.j, stdout);
		agent_json_begin_object(&o.j, NULL);
		agent_json_begin_array(&o.j, "findings");
	}
	if (r == 0)
		r = agent_audit_vfy_finish(in.v, print_finding, &o, &st);
	agent_audit_vfy_free(in.v);
	if (r < 0)
		return EXIT_REFUSED;
	if (json)
		verify_json_tail(&o, &in, &st);
	else if (in.host[1][0])
		printf("the input holds records of several hosts (%s, %s...): each has its own "
		       "chain and key; use --key-dir DIR\n",
		       in.host[0], in.host[1]);
	if (!json && st.verified == 0)
		printf("no authentic agentd record in %llu line(s)\n",
		       (unsigned long long)st.lines);
	else if (!json)
		printf("%llu record(s) verified, seq %llu-%llu; %u finding(s), %u note(s)\n",
		       (unsigned long long)st.verified, (unsigned long long)st.first_seq,
		       (unsigned long long)st.last_seq, st.findings, st.notes);
	return st.verified && !st.findings ? 0 : EXIT_REFUSED;
}

int cmd_audit(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "key-dir", required_argument, NULL, 'D' },
		{ "host", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static char stdin_name[] = "-";
	static char *stdin_only[] = { stdin_name };
	const char *keyfile = NULL, *keydir = NULL, *host = NULL, *sub, *name = NULL;
	struct agent_audit_keyring *kr = NULL;
	uint8_t key[AGENT_AUDIT_KEY_BYTES];
	bool json = false, have_key = false;
	char **files;
	int o, r, nfiles;

	(void)c;
	if (argc < 2)
		return usage_error("audit: verify or trace is required");
	sub = argv[1];
	argc--;
	argv++;
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'k')
			keyfile = optarg;
		else if (o == 'D')
			keydir = optarg;
		else if (o == 'H')
			host = optarg;
		else if (o == 'j')
			json = true;
		else
			return bad_option(sub, argv);
	}
	if (strcmp(sub, "trace") == 0) {
		if (optind >= argc || !agent_valid_username(argv[optind]))
			return usage_error("audit trace: an identity NAME is required");
		name = argv[optind++];
	} else if (strcmp(sub, "verify") != 0) {
		return usage_error("audit: unknown subcommand '%s'", sub);
	} else if (host) {
		return usage_error("audit verify: --host is for trace (verify checks every host)");
	}
	if (keyfile && keydir)
		return usage_error("audit %s: --key and --key-dir exclude each other", sub);
	if (host && !agent_audit_host_valid(host))
		return usage_error("audit trace: invalid --host '%s'", host);
	files = optind < argc ? argv + optind : stdin_only;
	nfiles = optind < argc ? argc - optind : 1;
	if (keydir) {
		kr = agent_audit_keyring_open(keydir, &r);
		if (!kr) {
			fprintf(stderr, "agentctl: cannot use the key directory %s: %s\n", keydir,
				r == -EPERM ? "not owned by root (or you), or writable by group or "
					      "others"
					    : strerror(-r));
			return EXIT_REFUSED;
		}
		r = name ? audit_trace(name, NULL, kr, host, json, files, nfiles)
			 : audit_verify_fleet(kr, json, files, nfiles);
		agent_audit_keyring_free(kr);
		return r;
	}
	/* trace works without the key (records shown unauthenticated) unless
	 * one is named; verify needs it. */
	have_key = audit_key(keyfile ? keyfile : AGENT_STATEDIR "/" AGENT_AUDIT_KEY_FILE, key,
			     name && !keyfile) == 0;
	if (!have_key && (!name || keyfile))
		return EXIT_REFUSED;
	r = name ? audit_trace(name, have_key ? key : NULL, NULL, host, json, files, nfiles)
		 : audit_verify(key, json, files, nfiles);
	explicit_bzero(key, sizeof(key));
	return r;
}
