/* Secret key files (see common/keyfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/keyfile.h"

int agent_keyfile_read(int dirfd, const char *path, uid_t owner, uint8_t *key, size_t len)
{
	struct stat st;
	ssize_t n;
	int fd, r = 0;

	fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode) || (st.st_uid != owner && st.st_uid != 0) ||
		 (st.st_mode & 077))
		r = -EPERM;
	else if (st.st_size != (off_t)len)
		r = -EINVAL;
	else if ((n = read(fd, key, len)) != (ssize_t)len)
		r = n < 0 ? -errno : -EIO;
	close(fd);
out:
	if (r < 0)
		sodium_memzero(key, len);
	return r;
}

static int create(const char *dir, const char *path, uint8_t *key, size_t len)
{
	int fd, dfd, r = 0;

	randombytes_buf(key, len);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		sodium_memzero(key, len);
		return r;
	}
	if (write(fd, key, len) != (ssize_t)len || fsync(fd) < 0)
		r = -EIO;
	close(fd);
	if (r < 0) {
		unlink(path);
		sodium_memzero(key, len);
		return r;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int agent_keyfile_load(const char *dir, const char *file, uint8_t *key, size_t len)
{
	char path[512];
	int r;

	if (sodium_init() < 0)
		return -EIO;
	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = agent_keyfile_read(AT_FDCWD, path, geteuid(), key, len);
	return r == -ENOENT ? create(dir, path, key, len) : r;
}

const char *agent_keyfile_strerror(int err)
{
	switch (err) {
	case -ELOOP:
		return "a symlink (key files are read only when they are the file itself)";
	case -EPERM:
		return "not a regular file owned by root (or you) with no group or other access";
	case -EINVAL:
		return "not a key file of the right size";
	default:
		return strerror(-err);
	}
}
