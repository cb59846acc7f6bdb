/* Reading the audit chain back: line formats, records, the verifier
 * (format and chain rules in common/audit_verify.h and agentd-audit(5)).
 *
 * The verifier reads the whole input first, keeping a few bytes per record,
 * and judges at the end: a swap of two records is then one reordering, not
 * a gap plus a reordering, and a deleted record is one gap at the line where
 * the sequence resumes. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/audit_verify.h"
#include "common/kv.h"

#define TAIL_MAC_LEN (6 + AGENT_AUDIT_MAC_HEX + 1)  /* ` mac="` M `"` */
#define TAIL_PREV_LEN (7 + AGENT_AUDIT_MAC_HEX + 1) /* ` prev="` P `"` */

/* ------------------------------------------------------------ lines */

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool hexstr(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

enum agent_audit_line_kind agent_audit_line_split(const char *line, const char **msg)
{
	return agent_audit_line_split_host(line, msg, NULL, 0);
}

enum agent_audit_line_kind agent_audit_line_split_host(const char *line, const char **msg,
						       char *host, size_t cap)
{
	const char *p = line, *h;

	*msg = NULL;
	if (cap)
		host[0] = '\0';
	if (strncmp(p, "v=", 2) == 0) {
		*msg = p;
		return AGENT_LINE_RECORD;
	}
	if (digit(p[0]) && digit(p[1]) && digit(p[2]) && digit(p[3]) && p[4] == '-') {
		/* RFC 3339: 2026-11-22T15:30:00.123456+00:00 */
		p = strchr(p, ' ');
		if (!p || p - line < 19 || line[10] != 'T')
			return AGENT_LINE_OTHER;
	} else if (strlen(p) > 16 && p[3] == ' ' && p[6] == ' ' && p[9] == ':' && p[12] == ':' &&
		   p[15] == ' ') {
		/* traditional: "Nov 22 15:30:00", day padded with a space */
		p += 15;
	} else {
		return AGENT_LINE_OTHER;
	}
	p++;
	if (*p == ' ' || *p == '\0')
		return AGENT_LINE_OTHER;
	h = p;
	p = strchr(p, ' '); /* past the host name */
	if (!p || strncmp(p + 1, "agentd", 6) != 0)
		return AGENT_LINE_OTHER;
	if (cap && (size_t)(p - h) < cap) {
		memcpy(host, h, (size_t)(p - h));
		host[p - h] = '\0';
	}
	p += 7;
	if (*p == '[') {
		for (p++; digit(*p); p++)
			;
		if (*p++ != ']')
			return AGENT_LINE_OTHER;
	}
	if (*p++ != ':')
		return AGENT_LINE_OTHER;
	if (*p == ' ')
		p++;
	*msg = p;
	return strncmp(p, "v=", 2) == 0 ? AGENT_LINE_RECORD : AGENT_LINE_AGENTD;
}

/* ------------------------------------------------------------ records */

/* What the verifier needs of a record, found without trusting it. */
struct rec {
	unsigned version;
	bool has_seq, has_mac, syntax_ok;
	uint64_t seq;
	size_t text_len; /* bytes covered by the MAC */
	char prev[AGENT_AUDIT_MAC_HEX + 1], mac[AGENT_AUDIT_MAC_HEX + 1];
};

static bool parse_u64(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (!digit(*p))
		return false;
	for (; digit(*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*pp = p;
	*out = v;
	return true;
}

static int noop_cb(const char *k, const char *v, void *arg)
{
	(void)k;
	(void)v;
	(void)arg;
	return 0;
}

static void rec_scan(const char *msg, struct rec *r)
{
	const char *p = msg + 2;
	size_t len = strlen(msg);
	uint64_t v;

	memset(r, 0, sizeof(*r));
	if (strncmp(msg, "v=", 2) != 0 || !parse_u64(&p, &v) || v > 1000)
		return;
	r->version = (unsigned)v;
	if (strncmp(p, " seq=", 5) == 0) {
		p += 5;
		r->has_seq = parse_u64(&p, &r->seq) && (*p == ' ' || *p == '\0');
	}
	if (len >= TAIL_MAC_LEN + TAIL_PREV_LEN) {
		const char *m = msg + len - TAIL_MAC_LEN, *q = m - TAIL_PREV_LEN;

		if (strncmp(m, " mac=\"", 6) == 0 && hexstr(m + 6, AGENT_AUDIT_MAC_HEX) &&
		    msg[len - 1] == '"' && strncmp(q, " prev=\"", 7) == 0 &&
		    hexstr(q + 7, AGENT_AUDIT_MAC_HEX) && q[7 + AGENT_AUDIT_MAC_HEX] == '"') {
			r->has_mac = true;
			r->text_len = len - TAIL_MAC_LEN;
			memcpy(r->mac, m + 6, AGENT_AUDIT_MAC_HEX);
			memcpy(r->prev, q + 7, AGENT_AUDIT_MAC_HEX);
		}
	}
	r->syntax_ok = agent_kv_parse(msg, noop_cb, NULL) == 0;
}

static bool rec_check(const uint8_t *key, const char *msg, const struct rec *r)
{
	if (!r->has_mac || !r->syntax_ok)
		return false;
	return agent_audit_mac_ok(key, msg, r->text_len, r->mac);
}

bool agent_audit_rec_authentic(const uint8_t key[AGENT_AUDIT_KEY_BYTES], const char *msg)
{
	struct rec r;

	rec_scan(msg, &r);
	return r.version == AGENT_AUDIT_VERSION && r.has_seq && rec_check(key, msg, &r);
}

static int fields_cb(const char *key, const char *value, void *arg)
{
	struct agent_audit_fields *f = arg;
	size_t used = 0, kl = strlen(key) + 1, vl = strlen(value) + 1;

	if (f->n == AGENT_AUDIT_FIELDS_MAX)
		return -EBADMSG;
	if (f->n)
		used = (size_t)(f->value[f->n - 1] - f->store) + strlen(f->value[f->n - 1]) + 1;
	if (kl + vl > sizeof(f->store) - used)
		return -EBADMSG;
	memcpy(f->store + used, key, kl);
	memcpy(f->store + used + kl, value, vl);
	f->key[f->n] = f->store + used;
	f->value[f->n] = f->store + used + kl;
	f->n++;
	return 0;
}

int agent_audit_fields_parse(const char *msg, struct agent_audit_fields *f)
{
	int r;

	f->n = 0;
	if (strlen(msg) >= AGENT_AUDIT_READ_MAX)
		return -EBADMSG;
	r = agent_kv_parse(msg, fields_cb, f);
	if (r < 0)
		f->n = 0;
	return r < 0 ? -EBADMSG : 0;
}

const char *agent_audit_field(const struct agent_audit_fields *f, const char *key)
{
	for (unsigned i = 0; i < f->n; i++)
		if (strcmp(f->key[i], key) == 0)
			return f->value[i];
	return NULL;
}

/* ------------------------------------------------------------ verifier */

enum { E_ALTERED = 1, E_NEW = 2, E_CRASH = 4 };

struct ent {
	uint64_t seq, lost_from, lost_to;
	unsigned long line;
	unsigned file, seg;
	uint8_t flags;
	char mac[AGENT_AUDIT_MAC_HEX + 1], prev[AGENT_AUDIT_MAC_HEX + 1];
};

struct fnd {
	struct agent_audit_finding f;
	unsigned file;
	size_t order;
};

struct agent_audit_vfy {
	uint8_t key[AGENT_AUDIT_KEY_BYTES];
	struct ent *e;
	size_t n, cap;
	struct fnd *f;
	size_t nf, capf;
	const char **files;
	unsigned nfiles, capfiles;
	unsigned seg;
	bool oom;
	bool pend; /* a record that failed authentication, judged by the next one */
	unsigned pend_file;
	unsigned long pend_line;
	struct rec pend_rec;
	size_t last_auth; /* index + 1 of the last authentic entry, 0 = none */
	struct agent_audit_vstats st;
};

const char *agent_audit_kind_str(enum agent_audit_kind k)
{
	switch (k) {
	case AGENT_AF_GAP:
		return "gap";
	case AGENT_AF_REORDERED:
		return "reordered";
	case AGENT_AF_DUPLICATE:
		return "duplicate";
	case AGENT_AF_ALTERED:
		return "altered";
	case AGENT_AF_FOREIGN:
		return "foreign";
	case AGENT_AF_LINK:
		return "broken-link";
	case AGENT_AF_UNCHAINED:
		return "unchained";
	case AGENT_AF_UNKNOWN_HOST:
		return "unknown-host";
	case AGENT_AF_NOTE_LOST:
		return "note: lost in a crash";
	case AGENT_AF_NOTE_ANCHOR:
		return "note: anchor";
	case AGENT_AF_NOTE_NEW_CHAIN:
		return "note: new chain";
	}
	return "?";
}

bool agent_audit_kind_is_note(enum agent_audit_kind k)
{
	return k >= AGENT_AF_NOTE_LOST;
}

struct agent_audit_vfy *agent_audit_vfy_new(const uint8_t key[AGENT_AUDIT_KEY_BYTES])
{
	struct agent_audit_vfy *v = calloc(1, sizeof(*v));

	if (v)
		memcpy(v->key, key, AGENT_AUDIT_KEY_BYTES);
	return v;
}

void agent_audit_vfy_free(struct agent_audit_vfy *v)
{
	if (!v)
		return;
	sodium_memzero(v->key, sizeof(v->key));
	free(v->e);
	free(v->f);
	free(v->files);
	free(v);
}

static bool grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *q;
	size_t c;

	if (n < *cap)
		return true;
	c = *cap ? *cap * 2 : 64;
	q = realloc(*p, c * size);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

__attribute__((format(printf, 5, 6))) static void add(struct agent_audit_vfy *v,
						      enum agent_audit_kind kind, unsigned file,
						      unsigned long line, const char *fmt, ...)
{
	struct fnd *f;
	va_list ap;

	if (!grow((void **)&v->f, &v->capf, v->nf, sizeof(*v->f))) {
		v->oom = true;
		return;
	}
	f = &v->f[v->nf];
	memset(f, 0, sizeof(*f));
	f->f.kind = kind;
	f->f.line = line;
	f->file = file;
	f->order = v->nf++;
	va_start(ap, fmt);
	vsnprintf(f->f.text, sizeof(f->f.text), fmt, ap);
	va_end(ap);
}

static struct ent *push(struct agent_audit_vfy *v, unsigned file, unsigned long line, uint64_t seq,
			const struct rec *r)
{
	struct ent *e;

	if (!grow((void **)&v->e, &v->cap, v->n, sizeof(*v->e))) {
		v->oom = true;
		return NULL;
	}
	e = &v->e[v->n++];
	memset(e, 0, sizeof(*e));
	e->seq = seq;
	e->line = line;
	e->file = file;
	e->seg = v->seg;
	memcpy(e->mac, r->mac, sizeof(e->mac));
	memcpy(e->prev, r->prev, sizeof(e->prev));
	return e;
}

/* Judges the pending unauthentic record, knowing the record after it
 * (next, NULL at the end): if the next record's prev is its MAC, or its prev
 * is the MAC of the authentic record before it, agentd wrote that MAC and
 * the text was changed afterwards; otherwise the line was made up. */
static void judge_pending(struct agent_audit_vfy *v, const struct rec *next)
{
	const struct rec *p = &v->pend_rec;
	const struct ent *last = v->last_auth ? &v->e[v->last_auth - 1] : NULL;
	uint64_t seq = p->seq;
	bool has_seq = p->has_seq, altered = false;

	if (!v->pend)
		return;
	v->pend = false;
	if (p->has_mac && next && next->has_mac && strcmp(next->prev, p->mac) == 0) {
		altered = true;
		if (next->has_seq && next->seq > 0) {
			seq = next->seq - 1;
			has_seq = true;
		}
	} else if (p->has_mac && p->has_seq && last && last->seq + 1 == p->seq &&
		   strcmp(p->prev, last->mac) == 0) {
		altered = true;
	}
	if (!altered) {
		if (has_seq)
			add(v, AGENT_AF_FOREIGN, v->pend_file, v->pend_line,
			    "a record claiming seq %" PRIu64
			    " fails authentication: inserted or forged",
			    seq);
		else
			add(v, AGENT_AF_FOREIGN, v->pend_file, v->pend_line,
			    "an agentd record without a valid seq fails authentication");
		return;
	}
	if (has_seq) {
		struct ent *e = push(v, v->pend_file, v->pend_line, seq, p);

		if (e)
			e->flags = E_ALTERED;
		add(v, AGENT_AF_ALTERED, v->pend_file, v->pend_line,
		    "seq %" PRIu64
		    " fails authentication but its MAC is genuine: the record was edited",
		    seq);
	} else {
		add(v, AGENT_AF_ALTERED, v->pend_file, v->pend_line,
		    "a record fails authentication but its MAC is genuine: the record was edited");
	}
}

static unsigned file_index(struct agent_audit_vfy *v, const char *file)
{
	size_t cap = v->capfiles;

	if (v->nfiles && v->files[v->nfiles - 1] == file)
		return v->nfiles - 1;
	if (!grow((void **)&v->files, &cap, v->nfiles, sizeof(*v->files))) {
		v->oom = true;
		return v->nfiles ? v->nfiles - 1 : 0;
	}
	v->capfiles = (unsigned)cap;
	v->files[v->nfiles] = file;
	return v->nfiles++;
}

struct start_info {
	bool start;
	char audit[16];
	uint64_t lost_from, lost_to;
};

static int start_cb(const char *key, const char *value, void *arg)
{
	struct start_info *s = arg;

	if (strcmp(key, "event") == 0)
		s->start = strcmp(value, "start") == 0;
	else if (strcmp(key, "audit") == 0)
		snprintf(s->audit, sizeof(s->audit), "%s", value);
	else if (strcmp(key, "lost_from") == 0)
		s->lost_from = strtoull(value, NULL, 10);
	else if (strcmp(key, "lost_to") == 0)
		s->lost_to = strtoull(value, NULL, 10);
	return 0;
}

int agent_audit_vfy_line(struct agent_audit_vfy *v, const char *file, unsigned long lineno,
			 const char *line)
{
	struct start_info si = { 0 };
	const char *msg;
	struct rec r;
	unsigned fi;
	struct ent *e;

	v->st.lines++;
	switch (agent_audit_line_split(line, &msg)) {
	case AGENT_LINE_OTHER:
		return 0;
	case AGENT_LINE_AGENTD:
		v->st.other_agentd++;
		return 0;
	case AGENT_LINE_RECORD:
		break;
	}
	v->st.records++;
	fi = file_index(v, file);
	rec_scan(msg, &r);
	judge_pending(v, &r);
	if (r.version == 1) {
		add(v, AGENT_AF_UNCHAINED, fi, lineno,
		    "a v=1 record: not chained, not authenticated");
	} else if (r.version != AGENT_AUDIT_VERSION) {
		add(v, AGENT_AF_FOREIGN, fi, lineno, "not a record of a known format version");
	} else if (!r.has_seq || !r.has_mac) {
		add(v, AGENT_AF_FOREIGN, fi, lineno, "an agentd record without seq, prev or mac");
	} else if (!rec_check(v->key, msg, &r)) {
		v->pend = true;
		v->pend_file = fi;
		v->pend_line = lineno;
		v->pend_rec = r;
	} else {
		v->st.verified++;
		agent_kv_parse(msg, start_cb, &si);
		if (si.start && strcmp(si.audit, "new") == 0 && v->n)
			v->seg++;
		e = push(v, fi, lineno, r.seq, &r);
		if (e && si.start && strcmp(si.audit, "new") == 0)
			e->flags = E_NEW;
		if (e && si.start && strcmp(si.audit, "crash") == 0) {
			e->flags = E_CRASH;
			e->lost_from = si.lost_from;
			e->lost_to = si.lost_to;
		}
		v->last_auth = e ? v->n : v->last_auth;
	}
	return v->oom ? -ENOMEM : 0;
}

struct sref {
	uint64_t seq;
	size_t i;
};

static int sref_cmp(const void *a, const void *b)
{
	const struct sref *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Judges the chain segment e[a..b) (one chain, in file order). */
static void analyse(struct agent_audit_vfy *v, size_t a, size_t b)
{
	size_t m = b - a, maxi = a;
	struct sref *s = malloc(m * sizeof(*s));
	const struct ent *first;

	if (!s) {
		v->oom = true;
		return;
	}
	for (size_t i = a; i < b; i++) {
		const struct ent *e = &v->e[i];

		if (i > a && e->seq < v->e[maxi].seq)
			add(v, AGENT_AF_REORDERED, e->file, e->line,
			    "seq %" PRIu64 " comes after seq %" PRIu64 " (line %lu)", e->seq,
			    v->e[maxi].seq, v->e[maxi].line);
		else if (e->seq > v->e[maxi].seq)
			maxi = i;
		s[i - a] = (struct sref){ e->seq, i };
	}
	qsort(s, m, sizeof(*s), sref_cmp);
	first = &v->e[s[0].i];
	if (first->flags & E_NEW) {
		if (first->seg > 0 || first != &v->e[0])
			add(v, AGENT_AF_NOTE_NEW_CHAIN, first->file, first->line,
			    "agentd began a new chain here (its audit state was reset)");
	} else {
		add(v, AGENT_AF_NOTE_ANCHOR, first->file, first->line,
		    "the input starts inside the chain at seq %" PRIu64
		    ": the records before it are in older files",
		    first->seq);
	}
	for (size_t k = 1, ref = 0; k < m; k++) {
		const struct ent *x = &v->e[s[ref].i], *y = &v->e[s[k].i];

		if (y->seq == x->seq) {
			add(v, AGENT_AF_DUPLICATE, y->file, y->line,
			    "seq %" PRIu64 " again (first at line %lu)%s", y->seq, x->line,
			    strcmp(x->mac, y->mac) == 0 ? ": a copy" : "");
			continue;
		}
		ref = k;
		if (y->seq > x->seq + 1) {
			uint64_t lo = x->seq + 1, hi = y->seq - 1;

			/* Only the tail of a crashed run, right before the start
			 * that declares it, may be missing: agentd writes in
			 * order, so a hole followed by a record is a deletion. */
			bool lost = (y->flags & E_CRASH) && lo >= y->lost_from && hi <= y->lost_to;

			add(v, lost ? AGENT_AF_NOTE_LOST : AGENT_AF_GAP, y->file, y->line,
			    "seq %" PRIu64 "-%" PRIu64 " missing (%" PRIu64
			    " record(s)) before seq %" PRIu64 ", after seq %" PRIu64 " (line %lu)",
			    lo, hi, hi - lo + 1, y->seq, x->seq, x->line);
		} else if (!(y->flags & (E_CRASH | E_NEW)) &&
			   !((x->flags | y->flags) & E_ALTERED) && strcmp(y->prev, x->mac) != 0) {
			add(v, AGENT_AF_LINK, y->file, y->line,
			    "seq %" PRIu64 " does not follow seq %" PRIu64
			    " (line %lu): prev differs",
			    y->seq, x->seq, x->line);
		}
	}
	/* A start after a crash links to the last checkpointed record. */
	for (size_t k = 0; k < m; k++) {
		const struct ent *c = &v->e[s[k].i];
		uint64_t want = c->lost_from - 1;
		size_t lo = 0, hi = m;
		const struct sref *hit = NULL;

		if (!(c->flags & E_CRASH) || c->lost_from == 0)
			continue;
		while (lo < hi) { /* first entry with seq >= want */
			size_t mid = lo + (hi - lo) / 2;

			if (s[mid].seq < want)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < m && s[lo].seq == want)
			hit = &s[lo];
		if (hit && !(v->e[hit->i].flags & E_ALTERED) &&
		    strcmp(c->prev, v->e[hit->i].mac) != 0)
			add(v, AGENT_AF_LINK, c->file, c->line,
			    "the start after a crash does not follow seq %" PRIu64 " (line %lu)",
			    want, v->e[hit->i].line);
	}
	for (size_t k = 0; k < m; k++) {
		const struct ent *e = &v->e[s[k].i];

		if (e->flags & E_ALTERED)
			continue;
		if (!v->st.first_seq || e->seq < v->st.first_seq)
			v->st.first_seq = e->seq;
		if (e->seq > v->st.last_seq)
			v->st.last_seq = e->seq;
	}
	free(s);
}

static int fnd_cmp(const void *a, const void *b)
{
	const struct fnd *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->f.line != y->f.line)
		return x->f.line < y->f.line ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

int agent_audit_vfy_finish(struct agent_audit_vfy *v,
			   void (*cb)(const struct agent_audit_finding *f, void *arg), void *arg,
			   struct agent_audit_vstats *stats)
{
	int findings = 0;

	judge_pending(v, NULL);
	for (size_t a = 0, b; a < v->n; a = b) {
		for (b = a + 1; b < v->n && v->e[b].seg == v->e[a].seg; b++)
			;
		analyse(v, a, b);
	}
	if (v->oom)
		return -ENOMEM;
	if (v->nf)
		qsort(v->f, v->nf, sizeof(*v->f), fnd_cmp);
	for (size_t i = 0; i < v->nf; i++) {
		v->f[i].f.file = v->nfiles ? v->files[v->f[i].file] : "";
		if (agent_audit_kind_is_note(v->f[i].f.kind))
			v->st.notes++;
		else
			findings++;
		if (cb)
			cb(&v->f[i].f, arg);
	}
	v->st.findings = (unsigned)findings;
	if (stats)
		*stats = v->st;
	return findings;
}

int agent_audit_read_lines(const char *path,
			   int (*cb)(const char *file, unsigned long lineno, const char *line,
				     void *arg),
			   void *arg)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned long n = 0;
	ssize_t len;
	int r = 0;

	if (!f)
		return -errno;
	while (r == 0 && (len = getline(&line, &cap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		/* A NUL inside a line ends it early; the MAC then fails. */
		r = cb(path, ++n, line, arg);
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	free(line);
	if (f != stdin)
		fclose(f);
	return r;
}
