/* PAM account-stage benchmark, in process through libpam.
 *   bench_pam CONFDIR SERVICE USER K
 * runs K whole transactions (pam_start_confdir, pam_acct_mgmt, pam_end:
 * libpam reads CONFDIR/SERVICE and loads the stack's modules each time, as
 * a login program does) after a short warm-up, and prints
 *   p50_ns=N p99_ns=N mean_ns=N failed=N
 * A transaction whose pam_acct_mgmt is not PAM_SUCCESS counts as failed
 * and makes the exit status 1, so a stack that denies is never timed as if
 * it allowed. No conversation: pam_permit and pam_agent's account stage
 * need none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_appl.h>

#define WARMUP 20

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	(void)n;
	(void)msg;
	(void)resp;
	(void)data;
	return PAM_CONV_ERR;
}

/* One transaction: PAM_SUCCESS or the first code that was not. */
static int transaction(const char *confdir, const char *service, const char *user)
{
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *h = NULL;
	int rc = pam_start_confdir(service, user, &pc, confdir, &h);

	if (rc != PAM_SUCCESS)
		return rc;
	rc = pam_set_item(h, PAM_RHOST, "192.0.2.7");
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(h, 0);
	pam_end(h, rc);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned k, failed = 0;
	long long *t, sum = 0;
	int last = PAM_SUCCESS;

	if (argc != 5 || (k = (unsigned)strtoul(argv[4], NULL, 10)) == 0) {
		fprintf(stderr, "usage: bench_pam CONFDIR SERVICE USER K\n");
		return 2;
	}
	t = calloc(k, sizeof(*t));
	if (!t)
		return 1;
	for (unsigned i = 0; i < WARMUP; i++)
		transaction(argv[1], argv[2], argv[3]);
	for (unsigned i = 0; i < k; i++) {
		long long s = now_ns();
		int rc = transaction(argv[1], argv[2], argv[3]);

		t[i] = now_ns() - s;
		sum += t[i];
		if (rc != PAM_SUCCESS) {
			failed++;
			last = rc;
		}
	}
	qsort(t, k, sizeof(*t), cmp);
	printf("p50_ns=%lld p99_ns=%lld mean_ns=%lld failed=%u\n", t[k / 2], t[(k * 99) / 100],
	       sum / k, failed);
	if (failed)
		fprintf(stderr, "bench_pam: %u of %u transactions failed, last: %s\n", failed, k,
			pam_strerror(NULL, last));
	free(t);
	return failed ? 1 : 0;
}
