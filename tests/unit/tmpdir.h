/* Scratch directories for unit tests: made with mkdtemp, removed with
 * nftw (no shell, no following of symlinks). */
#pragma once
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int tmpdir_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* dir is a template ending in XXXXXX; 0 or -1. */
static inline int tmpdir_make(char *dir)
{
	return mkdtemp(dir) ? 0 : -1;
}

static inline int tmpdir_remove(const char *dir)
{
	return nftw(dir, tmpdir_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
