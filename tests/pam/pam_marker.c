/* pam_marker.so (tests only): returns PAM_NO_MODULE_DATA in every stage, a
 * code pam_agent never returns. Stacked after pam_agent with ignore=ignore,
 * it is reached only when pam_agent said PAM_IGNORE, so the driver can tell
 * PAM_IGNORE from every other answer. */
#include <security/pam_modules.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int pam_sm_authenticate(pam_handle_t *h, int f, int c, const char **v)
{
	(void)h, (void)f, (void)c, (void)v;
	return PAM_NO_MODULE_DATA;
}
EXPORT int pam_sm_setcred(pam_handle_t *h, int f, int c, const char **v)
{
	(void)h, (void)f, (void)c, (void)v;
	return PAM_NO_MODULE_DATA;
}
EXPORT int pam_sm_acct_mgmt(pam_handle_t *h, int f, int c, const char **v)
{
	(void)h, (void)f, (void)c, (void)v;
	return PAM_NO_MODULE_DATA;
}
EXPORT int pam_sm_open_session(pam_handle_t *h, int f, int c, const char **v)
{
	(void)h, (void)f, (void)c, (void)v;
	return PAM_NO_MODULE_DATA;
}
EXPORT int pam_sm_close_session(pam_handle_t *h, int f, int c, const char **v)
{
	(void)h, (void)f, (void)c, (void)v;
	return PAM_NO_MODULE_DATA;
}
