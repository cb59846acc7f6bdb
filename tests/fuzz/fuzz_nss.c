/* Fuzz target: libnss_agent's own entry points (nss_agent/nss_agent.c,
 * built in with a private snapshot path) on an arbitrary snapshot. The
 * input is published as a segment with a locator, exactly as agentd would
 * publish it, then every _nss_agent_* function runs on it: lookups by the
 * names and ids the enumeration returns and by fixed ones, every
 * enumeration to its end, each with a roomy, a small and no buffer. The
 * checks are the module's promises: no crash, no read or write outside a
 * buffer (ASan), and every answer it gives is a whole, valid record. */
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "common/snapshot.h"
#include "common/snapshot_format.h"
#include "common/text.h"
#include "nss_agent/nss_agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void nss_agent_test_reset(void);
char nss_agent_fuzz_path[64];

#define UMIN 1879048192u
#define MAX_STEPS 300

static void check_pw(const struct passwd *pw)
{
	if (!agent_valid_username(pw->pw_name) || strcmp(pw->pw_passwd, "x") != 0 ||
	    pw->pw_uid != pw->pw_gid || pw->pw_shell[0] != '/' || pw->pw_dir[0] != '/')
		abort();
}

static void lookups(const char *name, uid_t uid)
{
	static const size_t lens[] = { 4096, 40, 0 };
	struct passwd pw;
	struct group gr;
	struct spwd sp;
	int err;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		char *buf = lens[i] ? malloc(lens[i]) : NULL;

		if (_nss_agent_getpwnam_r(name, &pw, buf, lens[i], &err) == NSS_STATUS_SUCCESS) {
			check_pw(&pw);
			if (strcmp(pw.pw_name, name) != 0)
				abort();
		}
		if (_nss_agent_getpwuid_r(uid, &pw, buf, lens[i], &err) == NSS_STATUS_SUCCESS) {
			check_pw(&pw);
			if (pw.pw_uid != uid)
				abort();
		}
		_nss_agent_getgrnam_r(name, &gr, buf, lens[i], &err);
		_nss_agent_getgrgid_r(uid, &gr, buf, lens[i], &err);
		_nss_agent_getspnam_r(name, &sp, buf, lens[i], &err);
		free(buf);
	}
	long start = 1, gsize = 1;
	gid_t *groups = malloc(sizeof(gid_t));

	groups[0] = 5;
	_nss_agent_initgroups_dyn(name, 5, &start, &gsize, &groups, 4, &err);
	if (start > gsize || (start > 4))
		abort();
	free(groups);
}

static void enumerate(void)
{
	char buf[4096];
	struct passwd pw;
	struct group gr;
	struct spwd sp;
	int err, n = 0;

	_nss_agent_setpwent(0);
	while (n++ < MAX_STEPS &&
	       _nss_agent_getpwent_r(&pw, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS) {
		char name[64];

		check_pw(&pw);
		snprintf(name, sizeof(name), "%s", pw.pw_name);
		lookups(name, pw.pw_uid);
	}
	_nss_agent_endpwent();
	n = 0;
	_nss_agent_setgrent(0);
	while (n++ < MAX_STEPS &&
	       _nss_agent_getgrent_r(&gr, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS)
		for (char **m = gr.gr_mem; *m; m++)
			if (!agent_valid_username(*m))
				abort();
	_nss_agent_endgrent();
	n = 0;
	_nss_agent_setspent(0);
	while (n++ < MAX_STEPS && _nss_agent_getspent_r(&sp, buf, 16, &err) == NSS_STATUS_SUCCESS)
		;
	_nss_agent_endspent();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_header h;
	uint8_t *copy;
	int shmid, r;

	if (!nss_agent_fuzz_path[0])
		snprintf(nss_agent_fuzz_path, sizeof(nss_agent_fuzz_path),
			 "/tmp/agentd-fuzz-nss.%d.snap", (int)getpid());
	nss_agent_test_reset();
	/* Seeds are written in some boot: give them this one (the boot check
	 * has its unit tests), so the fuzzer gets past it. */
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	if (size >= sizeof(h) && agent_snap_boot_id(h.boot_id) == 0)
		memcpy(copy + offsetof(struct snap_header, boot_id), h.boot_id, sizeof(h.boot_id));
	r = agent_snap_publish_raw(nss_agent_fuzz_path, copy, size, NULL, &shmid);
	free(copy);
	if (r < 0)
		return 0;
	enumerate();
	lookups("agent-aaaaaa", UMIN);
	lookups("agents", UMIN + 65536);
	lookups("root", 0);
	nss_agent_test_reset(); /* detach before the segment goes */
	shmctl(shmid, IPC_RMID, NULL);
	unlink(nss_agent_fuzz_path);
	return 0;
}
