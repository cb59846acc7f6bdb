/* A loaded agentd.conf checked against the host (see agentd/config.h):
 * what the parser cannot know, because it depends on the machine.
 *
 * Rules kept here:
 * - No group agents receive is privileged: agents_group, and every purpose
 *   group, is neither gid 0 nor a group named in privileged_groups (by the
 *   name written, or by the name /etc/group gives its gid).
 * - agents_group is a group nss_agent invents: its name and gid belong to
 *   no local group, or "group: files [SUCCESS=merge] agent" would make every
 *   agent a member of that local group.
 * - The agent range is agentd's alone: no local user (uid or primary gid)
 *   and no local group has an id inside it, and no purpose group either.
 * - /etc/passwd and /etc/group are read as files (fgetpwent_r,
 *   fgetgrent_r), never through NSS: nss_agent answers there, and agentd
 *   must not ask itself. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentd/config.h"
#include "agentd/uidrange.h"

const struct agent_host_files agent_host_files_system = {
	.login_defs = "/etc/login.defs",
	.subuid = "/etc/subuid",
	.subgid = "/etc/subgid",
	.passwd = "/etc/passwd",
	.group = "/etc/group",
};

/* Groups whose members can become root, read every secret or log, or reach
 * raw devices: administration (root, wheel, sudo, admin, lpadmin), logs
 * (adm, systemd-journal), secrets (shadow), devices and memory (disk, kmem,
 * tty, sys), code root runs (staff: /usr/local on Debian), and daemons that
 * give root to their group (docker, lxd, incus-admin, libvirt). Documented
 * in agentd.conf(5). */
static const char *const privileged_groups[] = {
	"root", "wheel", "sudo", "admin", "lpadmin", "adm", "systemd-journal", "shadow",  "disk",
	"kmem", "tty",   "sys",  "staff", "docker",  "lxd", "incus-admin",     "libvirt", NULL,
};

bool agent_group_is_privileged(const char *name, gid_t gid)
{
	if (gid == 0)
		return true;
	for (const char *const *p = privileged_groups; name && *p; p++)
		if (strcmp(name, *p) == 0)
			return true;
	return false;
}

/* One parsed line of /etc/group or /etc/passwd. */
struct entry {
	char name[256];
	uint32_t id, gid; /* passwd: uid and primary gid; group: gid twice */
	int line;
};

/* Reads PATH line by line; each line that glibc's own parser accepts is
 * passed to cb with its line number. A missing file has no entries. cb
 * returns 0 to go on. */
static int each_entry(const char *path, bool passwd, int (*cb)(const struct entry *e, void *arg),
		      void *arg, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, *buf = NULL;
	size_t cap = 0, bufcap = 0;
	ssize_t len;
	int lineno = 0, r = 0;

	if (!f) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return r;
	}
	while (r == 0 && (len = getline(&line, &cap, f)) >= 0) {
		struct entry e = { .line = ++lineno };
		struct passwd pw, *pwp = NULL;
		struct group gr, *grp = NULL;
		size_t need = (size_t)len * (1 + sizeof(char *)) + 256;
		FILE *one;

		if (need > bufcap) {
			char *n = realloc(buf, need);

			if (!n) {
				r = -ENOMEM;
				break;
			}
			buf = n;
			bufcap = need;
		}
		one = len ? fmemopen(line, (size_t)len, "r") : NULL;
		if (!one)
			continue;
		if (passwd && fgetpwent_r(one, &pw, buf, bufcap, &pwp) == 0 && pwp) {
			snprintf(e.name, sizeof(e.name), "%s", pw.pw_name);
			e.id = pw.pw_uid;
			e.gid = pw.pw_gid;
			r = cb(&e, arg);
		} else if (!passwd && fgetgrent_r(one, &gr, buf, bufcap, &grp) == 0 && grp) {
			snprintf(e.name, sizeof(e.name), "%s", gr.gr_name);
			e.id = e.gid = gr.gr_gid;
			r = cb(&e, arg);
		}
		fclose(one);
	}
	if (r == 0 && ferror(f)) {
		r = -EIO;
		snprintf(err, errlen, "cannot read %s", path);
	}
	free(line);
	free(buf);
	fclose(f);
	return r;
}

/* "PATH:LINE" of a key, or "PATH" when it was left at its default. */
static const char *where(const struct agent_config *cfg, int line, char *buf, size_t len)
{
	if (line > 0)
		snprintf(buf, len, "%s:%d", cfg->path, line);
	else
		snprintf(buf, len, "%s", cfg->path);
	return buf;
}

struct host_ctx {
	const struct agent_config *cfg;
	const struct agent_host_files *f;
	char *err;
	size_t errlen;
	/* one group being checked */
	const char *key;  /* how the message names it: "agents_group", "purpose \"ci\": group" */
	const char *name; /* as written, NULL for a bare gid */
	uint32_t gid;
	bool local_is_collision; /* agents_group: any local name or gid is one */
	int line;
};

static int group_cb(const struct entry *e, void *arg)
{
	struct host_ctx *h = arg;
	char at[AGENT_PATH_MAX + 16];
	bool same_name = h->name && strcmp(e->name, h->name) == 0;

	if (e->gid == h->gid && agent_group_is_privileged(e->name, e->gid)) {
		snprintf(h->err, h->errlen,
			 "%s: %s \"%s\" (gid %u) is privileged: local group \"%s\" (%s:%d); "
			 "agents must not get its rights",
			 where(h->cfg, h->line, at, sizeof(at)), h->key, h->name ? h->name : "",
			 h->gid, e->name, h->f->group, e->line);
		return -EINVAL;
	}
	if (h->local_is_collision && (same_name || e->gid == h->gid)) {
		snprintf(h->err, h->errlen,
			 "%s: %s \"%s\" (gid %u) collides with local group \"%s\" (gid %u, %s:%d); "
			 "choose a name and gid no local group uses",
			 where(h->cfg, h->line, at, sizeof(at)), h->key, h->name ? h->name : "",
			 h->gid, e->name, e->gid, h->f->group, e->line);
		return -EINVAL;
	}
	return 0;
}

/* One group agents will receive: by name, by gid, then against the file. */
static int check_group(struct host_ctx *h)
{
	char at[AGENT_PATH_MAX + 16];
	const struct agent_config *cfg = h->cfg;

	where(cfg, h->line, at, sizeof(at));
	if (agent_group_is_privileged(h->name, h->gid)) {
		snprintf(
			h->err, h->errlen,
			"%s: %s \"%s\" (gid %u) is a privileged group; agents must not get its rights",
			at, h->key, h->name ? h->name : "", h->gid);
		return -EINVAL;
	}
	if (h->gid >= cfg->uid_min && h->gid <= cfg->uid_max) {
		snprintf(h->err, h->errlen,
			 "%s: %s \"%s\" (gid %u) lies inside the agent uid range", at, h->key,
			 h->name ? h->name : "", h->gid);
		return -EINVAL;
	}
	return each_entry(h->f->group, false, group_cb, h, h->err, h->errlen);
}

static int check_groups(const struct agent_config *cfg, const struct agent_host_files *f, char *err,
			size_t errlen)
{
	struct host_ctx h = { .cfg = cfg, .f = f, .err = err, .errlen = errlen };
	char key[AGENT_PURPOSE_MAX + 32];
	int r;

	if (cfg->agents_group[0]) {
		h.key = "agents_group";
		h.name = cfg->agents_group;
		h.gid = cfg->agents_gid;
		h.local_is_collision = true;
		h.line = cfg->line.agents_group ? cfg->line.agents_group : cfg->line.agents_gid;
		if ((r = check_group(&h)) < 0)
			return r;
	}
	h.local_is_collision = false;
	for (size_t i = 0; i < cfg->npurposes; i++) {
		const struct agent_cfg_purpose *p = &cfg->purposes[i];

		snprintf(key, sizeof(key), "purpose \"%s\": group", p->name);
		h.key = key;
		h.line = p->groups_line;
		for (size_t k = 0; k < p->ngroups; k++) {
			h.name = p->groups[k];
			h.gid = p->gids[k];
			if ((r = check_group(&h)) < 0)
				return r;
		}
	}
	return 0;
}

static int range_cb(const struct entry *e, void *arg)
{
	struct host_ctx *h = arg;
	const struct agent_config *cfg = h->cfg;
	char at[AGENT_PATH_MAX + 16];
	bool passwd = h->key != NULL;
	uint32_t id = e->id >= cfg->uid_min && e->id <= cfg->uid_max ? e->id : e->gid;

	if (id < cfg->uid_min || id > cfg->uid_max)
		return 0;
	snprintf(h->err, h->errlen,
		 "%s: the agent uid range %u-%u holds local %s \"%s\" (%s %u, %s:%d); move the "
		 "range (uid_min, uid_max) or that %s",
		 where(cfg, h->line, at, sizeof(at)), cfg->uid_min, cfg->uid_max,
		 passwd ? "user" : "group", e->name,
		 !passwd       ? "gid"
		 : id == e->id ? "uid"
			       : "primary gid",
		 id, passwd ? h->f->passwd : h->f->group, e->line, passwd ? "user" : "group");
	return -EINVAL;
}

int agent_config_check_host(const struct agent_config *cfg, const struct agent_host_files *f,
			    char *err, size_t errlen)
{
	struct agent_range_sources src = {
		.login_defs = f->login_defs,
		.subuid = f->subuid,
		.subgid = f->subgid,
	};
	struct host_ctx h = { .cfg = cfg, .f = f, .err = err, .errlen = errlen };
	char at[AGENT_PATH_MAX + 16], msg[384];
	int r;

	h.line = cfg->line.uid_min ? cfg->line.uid_min : cfg->line.uid_max;
	if (agent_range_check(cfg->uid_min, cfg->uid_max, &src, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %s", where(cfg, h.line, at, sizeof(at)), msg);
		return -EINVAL;
	}
	if ((r = check_groups(cfg, f, err, errlen)) < 0)
		return r;
	h.key = "passwd"; /* range_cb: a user */
	if ((r = each_entry(f->passwd, true, range_cb, &h, err, errlen)) < 0)
		return r;
	h.key = NULL; /* a group */
	return each_entry(f->group, false, range_cb, &h, err, errlen);
}
