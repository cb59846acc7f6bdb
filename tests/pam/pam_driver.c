/* pam_driver (tests only): runs PAM stages through pam_start_confdir and
 * prints one line per stage, "STAGE CODE_NAME", with PAM_NO_MODULE_DATA
 * shown as PAM_IGNORE (see pam_marker.c). Then "fds N" lines let the test
 * check no descriptor was left open, and "env K=V" lines show what the
 * session put in the PAM environment.
 *
 *   pam_driver CONFDIR SERVICE USER [--tty T] [--rhost H] STAGE...
 *   STAGE: auth account open close sleep:SECONDS user:NAME (sets PAM_USER)
 *
 * The conversation answers a hidden prompt with the first line of stdin
 * (the token never travels in argv or the environment) and copies
 * messages to stderr. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

static char answer[256];

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	(void)data;
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
			r[i].resp = strdup(answer);
			break;
		default:
			fprintf(stderr, "conv: %s\n", msg[i]->msg);
			break;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

static const char *code_name(int rc)
{
	static const struct {
		int rc;
		const char *name;
	} names[] = {
		{ PAM_SUCCESS, "PAM_SUCCESS" },
		{ PAM_NO_MODULE_DATA, "PAM_IGNORE" },
		{ PAM_AUTH_ERR, "PAM_AUTH_ERR" },
		{ PAM_AUTHINFO_UNAVAIL, "PAM_AUTHINFO_UNAVAIL" },
		{ PAM_USER_UNKNOWN, "PAM_USER_UNKNOWN" },
		{ PAM_PERM_DENIED, "PAM_PERM_DENIED" },
		{ PAM_ACCT_EXPIRED, "PAM_ACCT_EXPIRED" },
		{ PAM_SESSION_ERR, "PAM_SESSION_ERR" },
		{ PAM_SERVICE_ERR, "PAM_SERVICE_ERR" },
		{ PAM_SYSTEM_ERR, "PAM_SYSTEM_ERR" },
		{ PAM_BUF_ERR, "PAM_BUF_ERR" },
		{ PAM_IGNORE, "PAM_IGNORE(raw)" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rc == rc)
			return names[i].name;
	return "PAM_OTHER";
}

int main(int argc, char **argv)
{
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *h = NULL;
	int i = 4, rc;

	if (argc < 5) {
		fprintf(stderr,
			"usage: pam_driver CONFDIR SERVICE USER [--tty T] [--rhost H] STAGE...\n");
		return 2;
	}
	if (!fgets(answer, sizeof(answer), stdin))
		answer[0] = '\0';
	answer[strcspn(answer, "\n")] = '\0';
	rc = pam_start_confdir(argv[2], argv[3], &pc, argv[1], &h);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "pam_start_confdir: %s\n", pam_strerror(h, rc));
		return 1;
	}
	printf("fds %d\n", count_fds());
	for (; i < argc; i++) {
		const char *st = argv[i];

		if ((strcmp(st, "--tty") == 0 || strcmp(st, "--rhost") == 0) && i + 1 < argc) {
			pam_set_item(h, st[2] == 't' ? PAM_TTY : PAM_RHOST, argv[++i]);
			continue;
		}
		if (strncmp(st, "user:", 5) == 0) {
			pam_set_item(h, PAM_USER, st + 5);
			continue;
		}
		if (strncmp(st, "sleep:", 6) == 0) {
			sleep((unsigned)atoi(st + 6));
			continue;
		}
		if (strcmp(st, "auth") == 0)
			rc = pam_authenticate(h, 0);
		else if (strcmp(st, "account") == 0)
			rc = pam_acct_mgmt(h, 0);
		else if (strcmp(st, "open") == 0)
			rc = pam_open_session(h, 0);
		else if (strcmp(st, "close") == 0)
			rc = pam_close_session(h, 0);
		else {
			fprintf(stderr, "unknown stage %s\n", st);
			return 2;
		}
		printf("%s %s\n", st, code_name(rc));
		if (strcmp(st, "open") == 0) {
			char **env = pam_getenvlist(h);

			for (char **e = env; e && *e; e++) {
				printf("env %s\n", *e);
				free(*e);
			}
			free(env);
		}
	}
	printf("fds %d\n", count_fds());
	pam_end(h, PAM_SUCCESS);
	return 0;
}
