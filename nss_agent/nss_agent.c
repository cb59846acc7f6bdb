/* libnss_agent.so.2: live agent identities for passwd, group, shadow and
 * initgroups, read from the snapshot agentd publishes.
 *
 * A guest in every process on the host, so:
 * - libc only; the snapshot path is compiled in, no environment is read;
 * - no socket, no NSS call of our own (no recursion), no stdout, no exit;
 * - every answer is a private copy of one record, validated, with the
 *   liveness rule applied to the record itself (agentd's state does not
 *   matter: an expired identity stops resolving at its deadline);
 * - buffers: size first, then fill; too small is TRYAGAIN with ERANGE and
 *   nothing written; unknown or invalid names are NOTFOUND; errno is left
 *   alone on success;
 * - one mutex guards the attachment; fork handlers keep it usable in a
 *   child. Lookups take no system call in the steady state (the stale flag
 *   and the clocks are read from memory / the vDSO), except one stat() of
 *   the locator at most once a second: a replaced or deleted snapshot is
 *   dropped within a second even if agentd never marked it stale;
 * - the snapshot is a SysV segment, not a mapped file, so no state of the
 *   file in /run (truncated under us, replaced, deleted, /run full) can
 *   raise SIGBUS here (see common/snapshot_format.h). */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <shadow.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/liveness.h"
#include "common/snapshot.h"
#include "nss_agent/nss_agent.h"

#ifndef AGENT_RUNDIR
#define AGENT_RUNDIR "/run/agentd"
#endif
/* The unit tests build this same file with their own path and owner; the
 * installed module always has the compiled-in /run/agentd and root. */
#ifdef NSS_AGENT_FUZZ /* the fuzz target: a path of its own per process */
extern char nss_agent_fuzz_path[];
#define NSS_AGENT_SNAP_PATH nss_agent_fuzz_path
#endif
#ifndef NSS_AGENT_SNAP_PATH
#define NSS_AGENT_SNAP_PATH AGENT_RUNDIR "/" AGENT_SNAP_FILE
#endif
#ifndef NSS_AGENT_SNAP_OWNER
#define NSS_AGENT_SNAP_OWNER 0
#endif
#define RETRY_OPEN_NS 1000000000LL /* after a failed open, wait 1 s */
#define RECHECK_NS 1000000000LL    /* re-stat the locator at most once a second */
#define NO_HOME "/nonexistent"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct agent_snap_map map;
static bool mapped;
static int64_t next_open_ns, next_check_ns;
static uint32_t pw_cursor, gr_cursor, sp_cursor;
static bool gr_agents_done;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
	pthread_mutex_lock(&lock);
}

static void after_fork(void)
{
	pthread_mutex_unlock(&lock);
}

static void init_once(void)
{
	pthread_atfork(before_fork, after_fork, after_fork);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* With the lock held: a usable mapping, or a negative errno. */
static int snap_locked(void)
{
	int r;

	int saved = errno; /* our system calls must not leak into errno */

	if (mapped && !agent_snap_is_stale(&map)) {
		int64_t now = mono_ns();
		bool replaced;

		if (now < next_check_ns)
			return 0;
		next_check_ns = now + RECHECK_NS;
		replaced = agent_snap_replaced(&map, NSS_AGENT_SNAP_PATH);
		errno = saved;
		if (!replaced)
			return 0;
	}
	if (!mapped && mono_ns() < next_open_ns)
		return -ENOENT;
	if (mapped) {
		agent_snap_close(&map);
		mapped = false;
	}
	r = agent_snap_open(NSS_AGENT_SNAP_PATH, NSS_AGENT_SNAP_OWNER, &map);
	errno = saved;
	if (r < 0) {
		next_open_ns = mono_ns() + RETRY_OPEN_NS;
		return r;
	}
	mapped = true;
	next_check_ns = mono_ns() + RECHECK_NS;
	return 0;
}

#ifdef NSS_AGENT_TEST
/* Tests and the fuzz target only: forget the attachment, the back-off and
 * the enumeration cursors, as a fresh process would start. */
void nss_agent_test_reset(void);
void nss_agent_test_reset(void)
{
	pthread_mutex_lock(&lock);
	if (mapped)
		agent_snap_close(&map);
	mapped = false;
	next_open_ns = next_check_ns = 0;
	pw_cursor = gr_cursor = sp_cursor = 0;
	gr_agents_done = false;
	pthread_mutex_unlock(&lock);
}
#endif

static bool entry_live(const struct agent_snap_entry *e)
{
	struct agent_now now;

	agent_now(&now);
	return agent_is_live(false, e->expires, e->expires_boot_ns, &now);
}

/* Maps a reader result to NSS: missing file or entry is NOTFOUND (never a
 * lock-out of anyone), a busy writer is TRYAGAIN, corruption UNAVAIL. */
static enum nss_status status_of(int r, int *errnop)
{
	switch (r) {
	case 0:
		return NSS_STATUS_SUCCESS;
	case -ENOENT:
	case -EPERM:
	case -ESTALE: /* another boot's snapshot */
		return NSS_STATUS_NOTFOUND;
	case -EAGAIN:
		*errnop = EAGAIN;
		return NSS_STATUS_TRYAGAIN;
	default:
		*errnop = ENOENT;
		return NSS_STATUS_UNAVAIL;
	}
}

/* ---------------------------------------------------------------- buffers */

struct buf {
	char *p;
	size_t left;
};

static char *buf_str(struct buf *b, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = b->p;

	memcpy(d, s, n);
	b->p += n;
	b->left -= n;
	return d;
}

static size_t home_len(const struct agent_snap_purpose *p, const struct agent_snap_entry *e)
{
	return p->home_base[0] ? strlen(p->home_base) + 1 + strlen(e->name) + 1 : sizeof(NO_HOME);
}

static char *buf_home(struct buf *b, const struct agent_snap_purpose *p,
		      const struct agent_snap_entry *e)
{
	char *d = b->p;
	size_t n;

	if (!p->home_base[0])
		return buf_str(b, NO_HOME);
	n = strlen(p->home_base);
	memcpy(d, p->home_base, n);
	d[n] = '/';
	memcpy(d + n + 1, e->name, strlen(e->name) + 1);
	n += 1 + strlen(e->name) + 1;
	b->p += n;
	b->left -= n;
	return d;
}

/* GECOS: "agent <purpose> for <subject>" (no commas: those split fields). */
static size_t gecos_len(const struct agent_snap_purpose *p, const struct agent_snap_entry *e)
{
	return sizeof("agent  for ") + strlen(p->name) + strlen(e->subject);
}

static char *buf_gecos(struct buf *b, const struct agent_snap_purpose *p,
		       const struct agent_snap_entry *e)
{
	char *d = b->p;
	size_t n = gecos_len(p, e);

	memcpy(d, "agent ", 6);
	memcpy(d + 6, p->name, strlen(p->name));
	memcpy(d + 6 + strlen(p->name), " for ", 5);
	memcpy(d + 11 + strlen(p->name), e->subject, strlen(e->subject) + 1);
	b->p += n;
	b->left -= n;
	return d;
}

static enum nss_status fill_passwd(const struct agent_snap_entry *e,
				   const struct agent_snap_purpose *p, struct passwd *pw,
				   char *buffer, size_t buflen, int *errnop)
{
	struct buf b = { buffer, buflen };
	size_t need = strlen(e->name) + 1 + sizeof("x") + gecos_len(p, e) + home_len(p, e) +
		      strlen(p->shell) + 1;

	if (!buffer || buflen < need) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	pw->pw_name = buf_str(&b, e->name);
	pw->pw_passwd = buf_str(&b, "x");
	pw->pw_uid = e->uid;
	pw->pw_gid = e->uid;
	pw->pw_gecos = buf_gecos(&b, p, e);
	pw->pw_dir = buf_home(&b, p, e);
	pw->pw_shell = buf_str(&b, p->shell);
	return NSS_STATUS_SUCCESS;
}

/* Group with members: the member pointer array is placed first, aligned. */
static enum nss_status fill_group(const char *name, gid_t gid, const char *const *members,
				  size_t nmem, struct group *gr, char *buffer, size_t buflen,
				  int *errnop)
{
	uintptr_t a = (uintptr_t)buffer;
	size_t pad = (alignof(char *) - a % alignof(char *)) % alignof(char *);
	size_t need = pad + (nmem + 1) * sizeof(char *) + strlen(name) + 1 + sizeof("x");
	struct buf b;
	char **mem;

	for (size_t i = 0; i < nmem; i++)
		need += strlen(members[i]) + 1;
	if (!buffer || buflen < need) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	mem = (char **)(void *)(buffer + pad);
	b.p = buffer + pad + (nmem + 1) * sizeof(char *);
	b.left = buflen - pad - (nmem + 1) * sizeof(char *);
	gr->gr_name = buf_str(&b, name);
	gr->gr_passwd = buf_str(&b, "x");
	gr->gr_gid = gid;
	for (size_t i = 0; i < nmem; i++)
		mem[i] = buf_str(&b, members[i]);
	mem[nmem] = NULL;
	gr->gr_mem = mem;
	return NSS_STATUS_SUCCESS;
}

/* ---------------------------------------------------------------- passwd */

/* With the lock held: a live entry by name or uid, and its purpose. */
static int find_locked(const char *name, uint32_t uid, struct agent_snap_entry *e,
		       struct agent_snap_purpose *p)
{
	int r = snap_locked();

	if (r == 0)
		r = name ? agent_snap_by_name(&map, name, e) : agent_snap_by_uid(&map, uid, e);
	if (r == 0 && !entry_live(e))
		r = -ENOENT;
	if (r == 0)
		r = agent_snap_purpose(&map, e->purpose, p);
	return r;
}

static enum nss_status lookup_pw(const char *name, uint32_t uid, struct passwd *pw, char *buffer,
				 size_t buflen, int *errnop)
{
	struct agent_snap_entry e;
	struct agent_snap_purpose p;
	int r;

	pthread_once(&once, init_once);
	pthread_mutex_lock(&lock);
	r = find_locked(name, uid, &e, &p);
	pthread_mutex_unlock(&lock);
	if (r < 0)
		return status_of(r, errnop);
	return fill_passwd(&e, &p, pw, buffer, buflen, errnop);
}

enum nss_status _nss_agent_getpwnam_r(const char *name, struct passwd *pw, char *buffer,
				      size_t buflen, int *errnop)
{
	if (!name || strlen(name) > AGENT_NAME_MAX)
		return NSS_STATUS_NOTFOUND;
	return lookup_pw(name, 0, pw, buffer, buflen, errnop);
}

enum nss_status _nss_agent_getpwuid_r(uid_t uid, struct passwd *pw, char *buffer, size_t buflen,
				      int *errnop)
{
	return lookup_pw(NULL, uid, pw, buffer, buflen, errnop);
}

enum nss_status _nss_agent_setpwent(int stayopen)
{
	(void)stayopen;
	pthread_mutex_lock(&lock);
	pw_cursor = 0;
	pthread_mutex_unlock(&lock);
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_agent_endpwent(void)
{
	return _nss_agent_setpwent(0);
}

/* Next live entry from *cursor; the cursor moves only on success so a
 * retry with a bigger buffer returns the same entry. With the lock held. */
static int next_live_locked(uint32_t *cursor, struct agent_snap_entry *e,
			    struct agent_snap_purpose *p, uint32_t *after)
{
	uint32_t c = *cursor;
	int r = snap_locked();

	while (r == 0) {
		r = agent_snap_next(&map, &c, e);
		if (r == 0 && entry_live(e)) {
			r = agent_snap_purpose(&map, e->purpose, p);
			break;
		}
	}
	*after = c;
	return r;
}

/* One step of an enumeration with cursor *cursor, filled by fill. */
typedef enum nss_status (*fill_fn)(const struct agent_snap_entry *e,
				   const struct agent_snap_purpose *p, void *result, char *buffer,
				   size_t buflen, int *errnop);

static enum nss_status enumerate(uint32_t *cursor, fill_fn fill, void *result, char *buffer,
				 size_t buflen, int *errnop)
{
	struct agent_snap_entry e;
	struct agent_snap_purpose p;
	enum nss_status s;
	uint32_t after;
	int r;

	pthread_once(&once, init_once);
	pthread_mutex_lock(&lock);
	r = next_live_locked(cursor, &e, &p, &after);
	s = r < 0 ? status_of(r, errnop) : fill(&e, &p, result, buffer, buflen, errnop);
	if (s == NSS_STATUS_SUCCESS)
		*cursor = after;
	pthread_mutex_unlock(&lock);
	return s;
}

static enum nss_status fill_passwd_cb(const struct agent_snap_entry *e,
				      const struct agent_snap_purpose *p, void *result,
				      char *buffer, size_t buflen, int *errnop)
{
	return fill_passwd(e, p, result, buffer, buflen, errnop);
}

enum nss_status _nss_agent_getpwent_r(struct passwd *pw, char *buffer, size_t buflen, int *errnop)
{
	return enumerate(&pw_cursor, fill_passwd_cb, pw, buffer, buflen, errnop);
}

/* ---------------------------------------------------------------- shadow */

static enum nss_status fill_shadow(const struct agent_snap_entry *e, struct spwd *sp, char *buffer,
				   size_t buflen, int *errnop)
{
	struct buf b = { buffer, buflen };

	if (!buffer || buflen < strlen(e->name) + 1 + sizeof("!")) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	sp->sp_namp = buf_str(&b, e->name);
	sp->sp_pwdp = buf_str(&b, "!"); /* no password: tokens go through pam_agent */
	sp->sp_lstchg = (long)(time(NULL) / 86400);
	sp->sp_min = 0;
	sp->sp_max = -1;
	sp->sp_warn = -1;
	sp->sp_inact = -1;
	/* Account expiry in days, rounded up: NSS itself stops answering at
	 * the exact deadline. */
	sp->sp_expire = (long)((e->expires + 86399) / 86400);
	sp->sp_flag = ~0UL;
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_agent_getspnam_r(const char *name, struct spwd *sp, char *buffer,
				      size_t buflen, int *errnop)
{
	struct agent_snap_entry e;
	struct agent_snap_purpose p;
	int r;

	if (!name || strlen(name) > AGENT_NAME_MAX)
		return NSS_STATUS_NOTFOUND;
	pthread_once(&once, init_once);
	pthread_mutex_lock(&lock);
	r = find_locked(name, 0, &e, &p);
	pthread_mutex_unlock(&lock);
	if (r < 0)
		return status_of(r, errnop);
	return fill_shadow(&e, sp, buffer, buflen, errnop);
}

enum nss_status _nss_agent_setspent(int stayopen)
{
	(void)stayopen;
	pthread_mutex_lock(&lock);
	sp_cursor = 0;
	pthread_mutex_unlock(&lock);
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_agent_endspent(void)
{
	return _nss_agent_setspent(0);
}

static enum nss_status fill_shadow_cb(const struct agent_snap_entry *e,
				      const struct agent_snap_purpose *p, void *result,
				      char *buffer, size_t buflen, int *errnop)
{
	(void)p;
	return fill_shadow(e, result, buffer, buflen, errnop);
}

enum nss_status _nss_agent_getspent_r(struct spwd *sp, char *buffer, size_t buflen, int *errnop)
{
	return enumerate(&sp_cursor, fill_shadow_cb, sp, buffer, buflen, errnop);
}

/* ---------------------------------------------------------------- group */

/* The group of all live agents, members listed. With the lock held;
 * members point into a heap array the caller frees. */
static enum nss_status agents_group_locked(const char *want_name, int64_t want_gid,
					   struct group *gr, char *buffer, size_t buflen,
					   int *errnop)
{
	char gname[AGENT_NAME_MAX + 1];
	struct agent_snap_entry e;
	uint32_t gid, c = 0;
	char(*names)[AGENT_NAME_MAX + 1] = NULL;
	const char **members = NULL;
	size_t n = 0, cap = 0;
	enum nss_status s;
	int r;

	r = agent_snap_agents_group(&map, gname, &gid);
	if (r < 0)
		return status_of(r, errnop);
	if ((want_name && strcmp(want_name, gname) != 0) || (want_gid >= 0 && want_gid != gid))
		return NSS_STATUS_NOTFOUND;
	while ((r = agent_snap_next(&map, &c, &e)) == 0) {
		if (!entry_live(&e))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *q = realloc(names, ncap * sizeof(*names));

			if (!q) {
				free(names);
				*errnop = ENOMEM;
				return NSS_STATUS_TRYAGAIN;
			}
			names = q;
			cap = ncap;
		}
		memcpy(names[n++], e.name, sizeof(e.name));
	}
	if (r != -ENOENT) {
		free(names);
		return status_of(r, errnop);
	}
	members = calloc(n + 1, sizeof(*members));
	if (!members) {
		free(names);
		*errnop = ENOMEM;
		return NSS_STATUS_TRYAGAIN;
	}
	for (size_t i = 0; i < n; i++)
		members[i] = names[i];
	s = fill_group(gname, gid, members, n, gr, buffer, buflen, errnop);
	free(members);
	free(names);
	return s;
}

static enum nss_status lookup_gr(const char *name, int64_t gid, struct group *gr, char *buffer,
				 size_t buflen, int *errnop)
{
	struct agent_snap_entry e;
	struct agent_snap_purpose p;
	enum nss_status s;
	int r;

	pthread_once(&once, init_once);
	pthread_mutex_lock(&lock);
	r = snap_locked();
	if (r < 0) {
		pthread_mutex_unlock(&lock);
		return status_of(r, errnop);
	}
	/* The private group of an identity: same name, gid == uid. */
	r = find_locked(name, name ? 0 : (uint32_t)gid, &e, &p);
	if (r == 0) {
		pthread_mutex_unlock(&lock);
		return fill_group(e.name, e.uid, NULL, 0, gr, buffer, buflen, errnop);
	}
	if (r != -ENOENT) {
		pthread_mutex_unlock(&lock);
		return status_of(r, errnop);
	}
	s = agents_group_locked(name, gid, gr, buffer, buflen, errnop);
	pthread_mutex_unlock(&lock);
	return s;
}

enum nss_status _nss_agent_getgrnam_r(const char *name, struct group *gr, char *buffer,
				      size_t buflen, int *errnop)
{
	if (!name || strlen(name) > AGENT_NAME_MAX)
		return NSS_STATUS_NOTFOUND;
	return lookup_gr(name, -1, gr, buffer, buflen, errnop);
}

enum nss_status _nss_agent_getgrgid_r(gid_t gid, struct group *gr, char *buffer, size_t buflen,
				      int *errnop)
{
	return lookup_gr(NULL, gid, gr, buffer, buflen, errnop);
}

enum nss_status _nss_agent_setgrent(int stayopen)
{
	(void)stayopen;
	pthread_mutex_lock(&lock);
	gr_cursor = 0;
	gr_agents_done = false;
	pthread_mutex_unlock(&lock);
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_agent_endgrent(void)
{
	return _nss_agent_setgrent(0);
}

enum nss_status _nss_agent_getgrent_r(struct group *gr, char *buffer, size_t buflen, int *errnop)
{
	struct agent_snap_entry e;
	struct agent_snap_purpose p;
	enum nss_status s;
	uint32_t after;
	int r;

	pthread_once(&once, init_once);
	pthread_mutex_lock(&lock);
	r = next_live_locked(&gr_cursor, &e, &p, &after);
	if (r == 0) {
		s = fill_group(e.name, e.uid, NULL, 0, gr, buffer, buflen, errnop);
		if (s == NSS_STATUS_SUCCESS)
			gr_cursor = after;
	} else if (r == -ENOENT && !gr_agents_done) {
		s = agents_group_locked(NULL, -1, gr, buffer, buflen, errnop);
		if (s == NSS_STATUS_SUCCESS || s == NSS_STATUS_NOTFOUND)
			gr_agents_done = true;
	} else {
		s = status_of(r, errnop);
	}
	pthread_mutex_unlock(&lock);
	return s;
}

/* ---------------------------------------------------------------- initgroups */

static bool add_gid(gid_t g, gid_t skip, long int *start, long int *size, gid_t **groupsp,
		    long int limit)
{
	for (long int i = 0; i < *start; i++)
		if ((*groupsp)[i] == g)
			return true;
	if (g == skip)
		return true;
	if (limit > 0 && *start >= limit)
		return false;
	if (*start == *size) {
		long int nsize = *size ? *size * 2 : 16;
		gid_t *n;

		if (limit > 0 && nsize > limit)
			nsize = limit;
		if (nsize <= *size)
			return false;
		n = realloc(*groupsp, (size_t)nsize * sizeof(gid_t));
		if (!n)
			return false;
		*groupsp = n;
		*size = nsize;
	}
	(*groupsp)[(*start)++] = g;
	return true;
}

enum nss_status _nss_agent_initgroups_dyn(const char *user, gid_t group, long int *start,
					  long int *size, gid_t **groupsp, long int limit,
					  int *errnop)
{
	char gname[AGENT_NAME_MAX + 1];
	struct agent_snap_entry e;
	struct agent_snap_purpose p;
	uint32_t agid;
	int r;

	if (!user || strlen(user) > AGENT_NAME_MAX)
		return NSS_STATUS_NOTFOUND;
	pthread_once(&once, init_once);
	pthread_mutex_lock(&lock);
	r = find_locked(user, 0, &e, &p);
	if (r == 0 && agent_snap_agents_group(&map, gname, &agid) < 0)
		agid = 0;
	pthread_mutex_unlock(&lock);
	if (r < 0)
		return status_of(r, errnop);
	for (uint32_t i = 0; i < p.ngroups && i < AGENT_GROUPS_MAX; i++)
		if (!add_gid(p.gids[i], group, start, size, groupsp, limit))
			return NSS_STATUS_SUCCESS; /* the limit was reached */
	if (agid)
		add_gid(agid, group, start, size, groupsp, limit);
	return NSS_STATUS_SUCCESS;
}
