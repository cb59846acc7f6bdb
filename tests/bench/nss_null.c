/* libnss_benchnull.so.2: the benchmark's floor for "any NSS module after
 * files". It answers NOTFOUND to every passwd lookup, links libc only and
 * is linked like libnss_agent (full RELRO, BIND_NOW): what glibc spends
 * loading a module is the same for every module; the difference between
 * this module and libnss_agent is what agent's own code costs a process.
 * Built and used by nss_bench.sh only. */
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/types.h>

enum nss_status _nss_benchnull_getpwnam_r(const char *name, struct passwd *pw, char *buf,
					  size_t len, int *errnop);
enum nss_status _nss_benchnull_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len,
					  int *errnop);

enum nss_status _nss_benchnull_getpwnam_r(const char *name, struct passwd *pw, char *buf,
					  size_t len, int *errnop)
{
	(void)name, (void)pw, (void)buf, (void)len;
	*errnop = ENOENT;
	return NSS_STATUS_NOTFOUND;
}

enum nss_status _nss_benchnull_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len,
					  int *errnop)
{
	(void)uid, (void)pw, (void)buf, (void)len;
	*errnop = ENOENT;
	return NSS_STATUS_NOTFOUND;
}
