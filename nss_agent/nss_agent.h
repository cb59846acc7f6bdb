/* The ABI of libnss_agent.so.2: exactly these symbols are exported (see
 * nss_agent.map); glibc finds them by name. */
#pragma once
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>
#include <sys/types.h>

#define NSS_AGENT_EXPORT __attribute__((visibility("default")))

NSS_AGENT_EXPORT enum nss_status _nss_agent_getpwnam_r(const char *name, struct passwd *pw,
						       char *buffer, size_t buflen, int *errnop);
NSS_AGENT_EXPORT enum nss_status _nss_agent_getpwuid_r(uid_t uid, struct passwd *pw, char *buffer,
						       size_t buflen, int *errnop);
NSS_AGENT_EXPORT enum nss_status _nss_agent_setpwent(int stayopen);
NSS_AGENT_EXPORT enum nss_status _nss_agent_getpwent_r(struct passwd *pw, char *buffer,
						       size_t buflen, int *errnop);
NSS_AGENT_EXPORT enum nss_status _nss_agent_endpwent(void);

NSS_AGENT_EXPORT enum nss_status _nss_agent_getgrnam_r(const char *name, struct group *gr,
						       char *buffer, size_t buflen, int *errnop);
NSS_AGENT_EXPORT enum nss_status _nss_agent_getgrgid_r(gid_t gid, struct group *gr, char *buffer,
						       size_t buflen, int *errnop);
NSS_AGENT_EXPORT enum nss_status _nss_agent_setgrent(int stayopen);
NSS_AGENT_EXPORT enum nss_status _nss_agent_getgrent_r(struct group *gr, char *buffer,
						       size_t buflen, int *errnop);
NSS_AGENT_EXPORT enum nss_status _nss_agent_endgrent(void);

NSS_AGENT_EXPORT enum nss_status _nss_agent_getspnam_r(const char *name, struct spwd *sp,
						       char *buffer, size_t buflen, int *errnop);
NSS_AGENT_EXPORT enum nss_status _nss_agent_setspent(int stayopen);
NSS_AGENT_EXPORT enum nss_status _nss_agent_getspent_r(struct spwd *sp, char *buffer, size_t buflen,
						       int *errnop);
NSS_AGENT_EXPORT enum nss_status _nss_agent_endspent(void);

NSS_AGENT_EXPORT enum nss_status _nss_agent_initgroups_dyn(const char *user, gid_t group,
							   long int *start, long int *size,
							   gid_t **groupsp, long int limit,
							   int *errnop);
