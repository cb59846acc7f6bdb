/* A fleet's audit records in one collector file (see common/audit_fleet.h).
 *
 * Host names come from the log lines, so they are untrusted: a name is
 * used as a key file name only if it is a plain host name (no '/', no
 * leading '.'), and the key file is opened relative to the key directory
 * without following symlinks. A line that names the wrong host gains
 * nothing: its record fails under that host's key (foreign) and leaves a
 * gap in its own host's chain. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/audit_fleet.h"
#include "common/keyfile.h"

bool agent_audit_host_valid(const char *host)
{
	size_t n = 0;

	for (const char *p = host; *p; p++, n++) {
		char c = *p;
		bool alnum =
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (n == 0 || (c != '.' && c != '-' && c != '_')))
			return false;
	}
	return n >= 1 && n <= AGENT_AUDIT_HOST_MAX;
}

/* ------------------------------------------------------------ names */

/* A small open-addressing table from host name to a value. */
struct slot {
	char *name;
	void *val;
};

struct ntab {
	struct slot *s;
	size_t cap, n;
};

static size_t hash(const char *s)
{
	size_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct slot *ntab_find(struct slot *s, size_t cap, const char *name)
{
	size_t i = hash(name) & (cap - 1);

	while (s[i].name && strcmp(s[i].name, name) != 0)
		i = (i + 1) & (cap - 1);
	return &s[i];
}

/* The slot of name, added (val NULL) if new; NULL on ENOMEM. */
static struct slot *ntab_get(struct ntab *t, const char *name)
{
	struct slot *x;

	if (t->cap && (x = ntab_find(t->s, t->cap, name))->name)
		return x;
	if (2 * (t->n + 1) > t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct slot *s = calloc(cap, sizeof(*s));

		if (!s)
			return NULL;
		for (size_t i = 0; i < t->cap; i++)
			if (t->s[i].name)
				*ntab_find(s, cap, t->s[i].name) = t->s[i];
		free(t->s);
		t->s = s;
		t->cap = cap;
	}
	x = ntab_find(t->s, t->cap, name);
	x->name = strdup(name);
	if (!x->name)
		return NULL;
	x->val = NULL;
	t->n++;
	return x;
}

static void ntab_free(struct ntab *t, void (*free_val)(void *))
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->s[i].name) {
			free(t->s[i].name);
			free_val(t->s[i].val);
		}
	free(t->s);
	memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------------ key ring */

struct kent {
	int err;
	uint8_t key[AGENT_AUDIT_KEY_BYTES];
};

struct agent_audit_keyring {
	int dirfd;
	char *dir;
	struct ntab t;
};

struct agent_audit_keyring *agent_audit_keyring_open(const char *dir, int *err)
{
	struct agent_audit_keyring *kr;
	struct stat st;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (fstat(fd, &st) < 0 || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & 022)) {
		*err = -EPERM;
		close(fd);
		return NULL;
	}
	kr = calloc(1, sizeof(*kr));
	if (kr)
		kr->dir = strdup(dir);
	if (!kr || !kr->dir) {
		free(kr);
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	kr->dirfd = fd;
	return kr;
}

static void kent_free(void *p)
{
	struct kent *k = p;

	if (k)
		sodium_memzero(k->key, sizeof(k->key));
	free(k);
}

void agent_audit_keyring_free(struct agent_audit_keyring *kr)
{
	if (!kr)
		return;
	ntab_free(&kr->t, kent_free);
	close(kr->dirfd);
	free(kr->dir);
	free(kr);
}

const char *agent_audit_keyring_dir(const struct agent_audit_keyring *kr)
{
	return kr->dir;
}

const uint8_t *agent_audit_keyring_get(struct agent_audit_keyring *kr, const char *host, int *err)
{
	char file[AGENT_AUDIT_HOST_MAX + 8];
	struct slot *s = ntab_get(&kr->t, host);
	struct kent *k;

	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	if (!s->val) {
		k = calloc(1, sizeof(*k));
		if (!k) {
			*err = -ENOMEM;
			return NULL;
		}
		if (!agent_audit_host_valid(host))
			k->err = -EINVAL;
		else {
			snprintf(file, sizeof(file), "%s.key", host);
			k->err = agent_keyfile_read(kr->dirfd, file, geteuid(), k->key,
						    sizeof(k->key));
		}
		s->val = k;
	}
	k = s->val;
	*err = k->err;
	return k->err ? NULL : k->key;
}

/* ------------------------------------------------------------ verifier */

struct fhost {
	struct agent_audit_vfy *v; /* NULL without a key */
	int key_error;
	uint64_t records;
	const char *first_file;
	unsigned long first_line;
};

struct agent_audit_fleet {
	struct agent_audit_keyring *kr;
	struct ntab t;
};

static void fhost_free(void *p)
{
	struct fhost *h = p;

	if (h)
		agent_audit_vfy_free(h->v);
	free(h);
}

struct agent_audit_fleet *agent_audit_fleet_new(struct agent_audit_keyring *kr)
{
	struct agent_audit_fleet *f = calloc(1, sizeof(*f));

	if (f)
		f->kr = kr;
	return f;
}

void agent_audit_fleet_free(struct agent_audit_fleet *f)
{
	if (!f)
		return;
	ntab_free(&f->t, fhost_free);
	free(f);
}

int agent_audit_fleet_line(struct agent_audit_fleet *f, const char *file, unsigned long lineno,
			   const char *line)
{
	char name[AGENT_AUDIT_HOST_MAX + 2];
	enum agent_audit_line_kind kind;
	const uint8_t *key;
	struct fhost *h;
	struct slot *s;
	const char *msg;
	int err;

	kind = agent_audit_line_split_host(line, &msg, name, sizeof(name));
	if (kind == AGENT_LINE_OTHER)
		return 0;
	s = ntab_get(&f->t, name);
	if (!s)
		return -ENOMEM;
	if (!s->val) {
		h = calloc(1, sizeof(*h));
		if (!h)
			return -ENOMEM;
		s->val = h;
		if (!name[0])
			h->key_error = -ENOENT;
		else if ((key = agent_audit_keyring_get(f->kr, name, &err)) != NULL) {
			h->v = agent_audit_vfy_new(key);
			if (!h->v)
				return -ENOMEM;
		} else if (err == -ENOMEM) {
			return err;
		} else {
			h->key_error = err;
		}
	}
	h = s->val;
	if (kind == AGENT_LINE_RECORD && h->records++ == 0) {
		h->first_file = file;
		h->first_line = lineno;
	}
	return h->v ? agent_audit_vfy_line(h->v, file, lineno, line) : 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct slot *const *)a)->name,
		      (*(const struct slot *const *)b)->name);
}

struct relay {
	const char *host;
	void (*finding)(const char *host, const struct agent_audit_finding *fd, void *arg);
	void *arg;
};

static void relay_finding(const struct agent_audit_finding *fd, void *arg)
{
	struct relay *r = arg;

	if (r->finding)
		r->finding(r->host, fd, r->arg);
}

static void unknown_host(struct agent_audit_fleet *f, const char *name, const struct fhost *h,
			 struct agent_audit_finding *fd)
{
	memset(fd, 0, sizeof(*fd));
	fd->kind = AGENT_AF_UNKNOWN_HOST;
	fd->file = h->first_file;
	fd->line = h->first_line;
	if (!name[0])
		snprintf(fd->text, sizeof(fd->text),
			 "%" PRIu64 " record(s) without a syslog host name: no key to check them",
			 h->records);
	else if (h->key_error == -EINVAL)
		snprintf(fd->text, sizeof(fd->text),
			 "%" PRIu64 " record(s) not verified: the host name cannot name a key file",
			 h->records);
	else
		snprintf(fd->text, sizeof(fd->text),
			 "%" PRIu64 " record(s) not verified: no usable key %s/%.*s.key (%s)",
			 h->records, f->kr->dir, 64, name,
			 h->key_error == -ENOENT ? "missing"
						 : agent_keyfile_strerror(h->key_error));
}

int agent_audit_fleet_finish(struct agent_audit_fleet *f,
			     void (*finding)(const char *host, const struct agent_audit_finding *fd,
					     void *arg),
			     void (*summary)(const struct agent_audit_host_summary *s, void *arg),
			     void *arg, unsigned *nhosts)
{
	struct slot **v = calloc(f->t.n ? f->t.n : 1, sizeof(*v));
	size_t n = 0;
	int total = 0, r;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < f->t.cap; i++)
		if (f->t.s[i].name && ((struct fhost *)f->t.s[i].val)->records)
			v[n++] = &f->t.s[i];
	qsort(v, n, sizeof(*v), name_cmp);
	for (size_t i = 0; i < n; i++) {
		struct fhost *h = v[i]->val;
		struct agent_audit_host_summary s = { .host = v[i]->name,
						      .key_error = h->key_error,
						      .records = h->records };
		struct relay rl = { v[i]->name, finding, arg };

		if (h->v) {
			r = agent_audit_vfy_finish(h->v, relay_finding, &rl, &s.st);
			if (r < 0) {
				free(v);
				return r;
			}
			total += r;
		} else {
			struct agent_audit_finding fd;

			unknown_host(f, v[i]->name, h, &fd);
			if (finding)
				finding(v[i]->name, &fd, arg);
			s.st.findings = 1;
			total++;
		}
		if (summary)
			summary(&s, arg);
	}
	free(v);
	if (nhosts)
		*nhosts = (unsigned)n;
	return total;
}
