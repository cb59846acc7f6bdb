/* Ephemeral home directories (agentd/homes.h). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentd/daemon.h"
#include "agentd/homes.h"

/* The base of ephemeral homes must be a root-owned directory that nobody
 * else can write, or a user could race symlinks into it. */
int agentd_home_base_open(struct agentd *d)
{
	struct stat st;
	int fd;

	bool made = mkdir(d->cfg->home_base, 0755) == 0;

	if (!made && errno != EEXIST)
		return -errno;
	fd = open(d->cfg->home_base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* 0755 whatever agentd's umask (077 under its unit): agents enter it. */
	if ((made && fchmod(fd, 0755) < 0) || fstat(fd, &st) < 0 || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		return -EPERM;
	}
	if (d->home_fd >= 0)
		close(d->home_fd);
	d->home_fd = fd;
	return 0;
}

int agentd_home_create(struct agentd *d, const char *name, uint32_t uid)
{
	int fd, r = 0;

	if (mkdirat(d->home_fd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(d->home_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchown(fd, uid, uid) < 0 || fchmod(fd, 0700) < 0)
		r = -errno;
	close(fd);
	return r;
}

bool agentd_purpose_has_home(struct agentd *d, const char *purpose)
{
	const struct agent_cfg_purpose *p = agent_config_purpose(d->cfg, purpose);

	return p && p->home == AGENT_HOME_EPHEMERAL;
}
