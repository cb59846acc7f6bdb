/* agentd --check-host (see agentd/hostcheck.h, agentd(8), pam_agent(8)).
 *
 * Read-only and best effort: files that do not exist are skipped (a host
 * without sshd has no sshd stack to weaken); each finding names the file
 * and line, what it weakens and the fix. The parsers are deliberately
 * simple (sudoers and PAM syntax have corners this does not model, such as
 * aliases and per-user Defaults scopes): a Defaults line with any scope
 * counts, since it weakens enforcement for someone. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentd/config.h"
#include "agentd/hostcheck.h"
#include "common/pam_decide.h"

#define HC_LINE_MAX 4096
#define HC_STACK_MAX 256
#define HC_INCLUDE_DEPTH 8

struct hc {
	const char *root;
	FILE *out;
	int found;
	int read; /* files read */
	const char *prefix;
	unsigned uid_min, uid_max;
	/* sudoers */
	bool acct_off, session_off;
	char nopasswd[16][160]; /* "FILE:LINE" of NOPASSWD rules */
	unsigned nnopasswd;
};

__attribute__((format(printf, 4, 5))) static void finding(struct hc *h, const char *file, int line,
							  const char *fmt, ...)
{
	va_list ap;

	fprintf(h->out, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(h->out, fmt, ap);
	va_end(ap);
	fputc('\n', h->out);
	h->found++;
}

static FILE *open_rel(struct hc *h, const char *rel)
{
	char path[1024];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s%s", h->root, rel) >= (int)sizeof(path))
		return NULL;
	f = fopen(path, "re");
	if (f)
		h->read++;
	return f;
}

/* Next logical line (backslash continuations joined, comments from an
 * unquoted '#' removed, surrounding blanks trimmed); its first physical
 * line number in *lineno. false at the end. keep_hash_include: sudoers'
 * "#include" lines are not comments. */
static bool next_line(FILE *f, char *out, size_t len, int *lineno, int *counter)
{
	char buf[HC_LINE_MAX];
	size_t n = 0;

	out[0] = '\0';
	*lineno = *counter + 1;
	while (fgets(buf, sizeof(buf), f)) {
		size_t l = strcspn(buf, "\n");
		bool cont;

		(*counter)++;
		buf[l] = '\0';
		cont = l > 0 && buf[l - 1] == '\\';
		if (cont)
			buf[--l] = '\0';
		if (n + l + 1 < len) {
			memcpy(out + n, buf, l + 1);
			n += l;
		}
		if (!cont)
			break;
		if (n + 1 < len)
			out[n++] = ' ', out[n] = '\0';
	}
	if (n == 0 && feof(f))
		return false;
	{
		bool q = false;

		for (char *p = out; *p; p++) {
			if (*p == '"')
				q = !q;
			else if (*p == '#' && !q && strncmp(p, "#include", 8) != 0) {
				*p = '\0';
				break;
			}
		}
	}
	while (n && isspace((unsigned char)out[n - 1]))
		out[--n] = '\0';
	n = strspn(out, " \t");
	memmove(out, out + n, strlen(out + n) + 1);
	return true;
}

/* ------------------------------------------------------------ sudoers */

static bool has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += wl)
		if ((p == list || !isalnum((unsigned char)p[-1])) &&
		    !isalnum((unsigned char)p[wl]) && p[wl] != '_')
			return true;
	return false;
}

static void sudoers_setting(struct hc *h, const char *file, int line, const char *s)
{
	if (strcmp(s, "!pam_acct_mgmt") == 0) {
		h->acct_off = true;
		finding(h, file, line,
			"Defaults !pam_acct_mgmt: sudo skips the PAM account stage. Fix: remove it "
			"(pam_agent decides in every stage, but with NOPASSWD and !pam_session "
			"no stage runs at all).");
	} else if (strcmp(s, "!pam_session") == 0) {
		h->session_off = true;
		finding(h, file, line,
			"Defaults !pam_session: sudo skips the PAM session stage (pam_agent's check "
			"of the run-as user set by sudo itself). Fix: remove it.");
	} else if (strcmp(s, "!set_logname") == 0) {
		finding(h, file, line,
			"Defaults !set_logname: USER and LOGNAME no longer name sudo's run-as user, "
			"so pam_agent cannot tell it before the session stage. Fix: remove it.");
	} else if (strcmp(s, "targetpw") == 0 || strcmp(s, "rootpw") == 0 ||
		   strcmp(s, "runaspw") == 0) {
		finding(h, file, line,
			"Defaults %s: sudo authenticates another user than the caller, so an "
			"agent's token is not what is checked. Fix: remove it.",
			s);
	} else if (strncmp(s, "env_keep", 8) == 0 && strchr(s, '=') &&
		   (has_word(s + 8, "USER") || has_word(s + 8, "LOGNAME"))) {
		finding(h, file, line,
			"%s: the caller's USER or LOGNAME is kept, so the run-as user pam_agent "
			"reads from sudo's environment can be forged. Fix: remove USER and LOGNAME "
			"from env_keep.",
			s);
	}
}

static void sudoers_line(struct hc *h, const char *file, int line, char *l)
{
	if (!l[0] || l[0] == '#' || l[0] == '@')
		return;
	if (strncmp(l, "Defaults", 8) == 0 &&
	    (l[8] == ' ' || l[8] == '\t' || strchr(":@>!", l[8]))) {
		char *p = l + strcspn(l, " \t"), *tok;
		bool q = false;

		/* settings, comma separated (not inside quotes) */
		for (tok = p; *p; p++) {
			if (*p == '"')
				q = !q;
			if ((*p == ',' && !q) || !p[1]) {
				char one[HC_LINE_MAX];
				size_t n = (size_t)(p - tok) + (*p == ',' ? 0 : 1);

				memcpy(one, tok, n);
				one[n] = '\0';
				{
					char *s = one + strspn(one, " \t"), *e = s + strlen(s);

					while (e > s && isspace((unsigned char)e[-1]))
						*--e = '\0';
					sudoers_setting(h, file, line, s);
				}
				tok = p + 1;
			}
		}
		return;
	}
	if (strstr(l, "NOPASSWD") && h->nnopasswd < 16)
		snprintf(h->nopasswd[h->nnopasswd++], sizeof(h->nopasswd[0]), "%s:%d", file, line);
}

static void sudoers_file(struct hc *h, const char *rel)
{
	FILE *f = open_rel(h, rel);
	char l[HC_LINE_MAX];
	int line, counter = 0;

	if (!f)
		return;
	while (next_line(f, l, sizeof(l), &line, &counter))
		sudoers_line(h, rel, line, l);
	fclose(f);
}

/* sudo reads the files of an includedir whose names have no '.' and do not
 * end in '~', in sorted order. */
static int sudoers_d_filter(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && !strchr(e->d_name, '.') && n && e->d_name[n - 1] != '~';
}

static void check_sudoers(struct hc *h)
{
	struct dirent **list = NULL;
	char dir[1024], rel[600];
	int n;

	sudoers_file(h, "/etc/sudoers");
	snprintf(dir, sizeof(dir), "%s/etc/sudoers.d", h->root);
	n = scandir(dir, &list, sudoers_d_filter, alphasort);
	for (int i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "/etc/sudoers.d/%.255s", list[i]->d_name);
		sudoers_file(h, rel);
		free(list[i]);
	}
	free(list);
	if (h->acct_off && h->session_off)
		for (unsigned i = 0; i < h->nnopasswd; i++) {
			char file[160];
			char *colon;

			snprintf(file, sizeof(file), "%s", h->nopasswd[i]);
			colon = strrchr(file, ':');
			*colon = '\0';
			finding(h, file, atoi(colon + 1),
				"NOPASSWD with !pam_acct_mgmt and !pam_session: sudo runs no PAM "
				"stage for this rule, so pam_agent never decides. Fix: drop "
				"!pam_acct_mgmt and !pam_session (or NOPASSWD).");
		}
}

/* ------------------------------------------------------------ PAM */

struct pam_entry {
	char file[300];
	int line;
	char control[128];
	char module[256]; /* basename */
	char args[256];
};

struct pam_stack {
	struct pam_entry e[HC_STACK_MAX];
	unsigned n;
};

/* Appends the lines of TYPE from /etc/pam.d/NAME (following @include and
 * include/substack) to s. false if the file does not exist. */
static bool pam_flatten(struct hc *h, const char *name, const char *type, struct pam_stack *s,
			int depth)
{
	char rel[300], l[HC_LINE_MAX];
	int line, counter = 0;
	FILE *f;

	if (depth > HC_INCLUDE_DEPTH || strchr(name, '/'))
		return false;
	snprintf(rel, sizeof(rel), "/etc/pam.d/%s", name);
	f = open_rel(h, rel);
	if (!f)
		return false;
	while (next_line(f, l, sizeof(l), &line, &counter)) {
		char *p = l, *t, ctl[128], mod[256];
		size_t k;

		if (!l[0])
			continue;
		if (strncmp(l, "@include", 8) == 0) {
			p = l + 8 + strspn(l + 8, " \t");
			pam_flatten(h, p, type, s, depth + 1);
			continue;
		}
		t = p;
		k = strcspn(p, " \t");
		if (!p[k])
			continue;
		p[k] = '\0';
		p += k + 1;
		p += strspn(p, " \t");
		if (strcmp(t[0] == '-' ? t + 1 : t, type) != 0)
			continue;
		if (*p == '[') {
			k = strcspn(p, "]");
			if (!p[k])
				continue;
			k++;
		} else {
			k = strcspn(p, " \t");
		}
		snprintf(ctl, sizeof(ctl), "%.*s", (int)k, p);
		p += k;
		p += strspn(p, " \t");
		k = strcspn(p, " \t");
		snprintf(mod, sizeof(mod), "%.*s", (int)k, p);
		p += k;
		p += strspn(p, " \t");
		if (strcmp(ctl, "include") == 0 || strcmp(ctl, "substack") == 0) {
			pam_flatten(h, mod, type, s, depth + 1);
			continue;
		}
		if (s->n < HC_STACK_MAX) {
			struct pam_entry *e = &s->e[s->n++];
			const char *base = strrchr(mod, '/');

			snprintf(e->file, sizeof(e->file), "%s", rel);
			e->line = line;
			snprintf(e->control, sizeof(e->control), "%s", ctl);
			snprintf(e->module, sizeof(e->module), "%s", base ? base + 1 : mod);
			snprintf(e->args, sizeof(e->args), "%s", p);
		}
	}
	fclose(f);
	return true;
}

/* A numeric jump "success=N" in a bracket control; 0 if none. */
static int jump_of(const char *ctl)
{
	const char *p = strstr(ctl, "success=");

	return p && isdigit((unsigned char)p[8]) ? atoi(p + 8) : 0;
}

static bool agent_fatal(const char *ctl)
{
	if (strcmp(ctl, "required") == 0 || strcmp(ctl, "requisite") == 0)
		return true;
	return ctl[0] == '[' && (strstr(ctl, "default=die") || strstr(ctl, "default=bad"));
}

static void check_args(struct hc *h, const struct pam_entry *e)
{
	char args[256], *save = NULL;
	const char *prefix = PA_DEFAULT_PREFIX;
	unsigned lo = PA_DEFAULT_UID_MIN, hi = PA_DEFAULT_UID_MAX;
	char want[64];

	snprintf(args, sizeof(args), "%s", e->args);
	for (char *a = strtok_r(args, " \t", &save); a; a = strtok_r(NULL, " \t", &save)) {
		if (strncmp(a, "prefix=", 7) == 0)
			prefix = a + 7;
		else if (strncmp(a, "uids=", 5) == 0 && sscanf(a + 5, "%u-%u", &lo, &hi) != 2)
			lo = hi = 0;
	}
	if (strcmp(prefix, h->prefix) != 0)
		finding(h, e->file, e->line,
			"pam_agent knows the agent names by prefix \"%s\" but agentd.conf's "
			"name_prefix is \"%s\". Fix: add prefix=%s to this line.",
			prefix, h->prefix, h->prefix);
	snprintf(want, sizeof(want), "%u-%u", h->uid_min, h->uid_max);
	if (lo != h->uid_min || hi != h->uid_max)
		finding(h, e->file, e->line,
			"pam_agent's agent uid range is %u-%u but agentd.conf's is %s. Fix: add "
			"uids=%s to this line.",
			lo, hi, want, want);
}

static const char *example_control(const char *type)
{
	return strcmp(type, "auth") == 0 ? "[success=done ignore=ignore default=die]"
					 : "[success=ok ignore=ignore default=die]";
}

static void check_pam_type(struct hc *h, const char *svc, const char *type)
{
	struct pam_stack *s = calloc(1, sizeof(*s));
	unsigned agent = 0;
	bool exists;

	if (!s)
		return;
	exists = pam_flatten(h, svc, type, s, 0);
	if (!exists) {
		free(s);
		return;
	}
	while (agent < s->n && strcmp(s->e[agent].module, "pam_agent.so") != 0)
		agent++;
	if (agent == s->n) {
		char file[300];

		snprintf(file, sizeof(file), "/etc/pam.d/%s", svc);
		finding(h, file, 0,
			"pam_agent is missing from the %s stack of %s, so this stage does not ask "
			"agentd. Fix: add \"%s %s pam_agent.so\" as its first %s line (see "
			"pam_agent(8)).",
			type, svc, type, example_control(type), type);
		free(s);
		return;
	}
	for (unsigned i = 0; i < agent; i++) {
		const struct pam_entry *e = &s->e[i];
		int j = jump_of(e->control);

		/* pam_rootok passes only for root, who needs no agent decision */
		if (strcmp(e->module, "pam_rootok.so") == 0)
			continue;
		if (strcmp(e->control, "sufficient") == 0 || strstr(e->control, "=done"))
			finding(h, e->file, e->line,
				"%s (%s) can end the %s %s stack before pam_agent decides. Fix: put "
				"pam_agent above it.",
				e->module, e->control, svc, type);
		else if (j > 0 && i + (unsigned)j >= agent)
			finding(h, e->file, e->line,
				"%s (%s) can jump over pam_agent in the %s %s stack. Fix: put "
				"pam_agent above it.",
				e->module, e->control, svc, type);
	}
	if (!agent_fatal(s->e[agent].control))
		finding(h, s->e[agent].file, s->e[agent].line,
			"pam_agent is \"%s\" in the %s %s stack, so its refusal is not final. Fix: "
			"use \"%s\".",
			s->e[agent].control, svc, type, example_control(type));
	check_args(h, &s->e[agent]);
	free(s);
}

static void check_pam(struct hc *h)
{
	static const struct {
		const char *svc;
		const char *types[3];
	} services[] = {
		{ "su", { "auth", "account", "session" } },
		{ "su-l", { "auth", "account", "session" } },
		{ "sudo", { "auth", "account", "session" } },
		{ "sudo-i", { "auth", "account", "session" } },
		{ "login", { "auth", "account", "session" } },
		/* sshd: public-key logins run no auth stage */
		{ "sshd", { "account", "session", NULL } },
	};

	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		for (size_t t = 0; t < 3 && services[i].types[t]; t++)
			check_pam_type(h, services[i].svc, services[i].types[t]);
}

/* ------------------------------------------------------------ nsswitch */

static void check_nsswitch(struct hc *h)
{
	static const char *const dbs[] = { "passwd", "group", "shadow" };
	FILE *f = open_rel(h, "/etc/nsswitch.conf");
	char l[HC_LINE_MAX];
	int line, counter = 0;

	if (!f)
		return;
	while (next_line(f, l, sizeof(l), &line, &counter)) {
		char *save = NULL, *tok;
		int pos = 0, files = -1, agent = -1;
		size_t k = strcspn(l, ":");
		bool known = false;

		if (!l[k])
			continue;
		l[k] = '\0';
		for (size_t i = 0; i < 3; i++)
			known |= strcmp(l, dbs[i]) == 0;
		if (!known)
			continue;
		for (tok = strtok_r(l + k + 1, " \t", &save); tok;
		     tok = strtok_r(NULL, " \t", &save)) {
			if (tok[0] == '[')
				continue;
			if (strcmp(tok, "files") == 0 && files < 0)
				files = pos;
			if (strcmp(tok, "agent") == 0 && agent < 0)
				agent = pos;
			pos++;
		}
		if (agent >= 0 && (files < 0 || agent < files))
			finding(h, "/etc/nsswitch.conf", line,
				"%s: agent comes before files, so a snapshot entry could shadow a local "
				"account. Fix: list files first (\"%s: files agent\").",
				l, l);
	}
	fclose(f);
}

int agentd_check_host(const char *root, const struct agent_config *cfg, FILE *out)
{
	struct hc *h = calloc(1, sizeof(*h));
	int found;

	if (!h)
		return -ENOMEM;
	h->root = root ? root : "";
	h->out = out;
	h->prefix = cfg ? cfg->name_prefix : PA_DEFAULT_PREFIX;
	h->uid_min = cfg ? cfg->uid_min : PA_DEFAULT_UID_MIN;
	h->uid_max = cfg ? cfg->uid_max : PA_DEFAULT_UID_MAX;
	check_sudoers(h);
	check_pam(h);
	check_nsswitch(h);
	found = h->read ? h->found : -ENOENT;
	free(h);
	return found;
}
