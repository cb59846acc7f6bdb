/* Benchmark client: N creates through agentd's socket on one connection,
 * one request in flight at a time. Prints p50/p99 latency and throughput.
 * With --revoke it then revokes every identity it made and times that.
 *
 *   bench_create -S SOCKET -n COUNT [-p PURPOSE] [-t TTL_SECONDS] [--revoke]
 *                [--names FILE]         also write the names created to FILE
 *   bench_create -S SOCKET --revoke-from FILE [--batch K]   only revoke the names
 *                                          in FILE, K names a request (1..64)
 *   bench_create -S SOCKET --status-until FILE   STATUS requests on one
 *                connection, one every 20 ms, until FILE exists: agentd's
 *                own answer time, without starting a process per request */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/client.h"
#include "common/limits.h"
#include "common/wire.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int roundtrip(int fd, struct agent_wbuf *w, uint8_t *buf, struct agent_msg *m)
{
	int r = agent_wire_finish(w);

	if (r == 0)
		r = agent_client_send(fd, w, 10000);
	if (r == 0)
		r = agent_client_recv(fd, buf, m, 10000);
	return r;
}

/* STATUS round trips until the file `until` exists (at most cap of them). */
static int status_loop(int fd, const char *until, double *lat, unsigned long cap)
{
	static uint8_t buf[AGENT_WIRE_MAX];
	static struct agent_wbuf w;
	const struct timespec gap = { 0, 20 * 1000000L };
	struct agent_msg m;
	unsigned long k = 0;

	while (k < cap && access(until, F_OK) != 0) {
		double s = now_ms();

		agent_wire_begin(&w, AGENT_MSG_STATUS);
		if (roundtrip(fd, &w, buf, &m) < 0 || m.type != AGENT_MSG_STATUS_REPLY) {
			fprintf(stderr, "bench_create: status %lu failed\n", k);
			return 1;
		}
		lat[k++] = now_ms() - s;
		nanosleep(&gap, NULL);
	}
	if (!k) {
		fprintf(stderr, "bench_create: no status was asked\n");
		return 1;
	}
	qsort(lat, k, sizeof(*lat), cmp_double);
	printf("statuses=%lu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", k, lat[k / 2],
	       lat[(k * 99) / 100], lat[k - 1]);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "revoke", no_argument, NULL, 'r' },
		{ "names", required_argument, NULL, 'N' },
		{ "revoke-from", required_argument, NULL, 'F' },
		{ "batch", required_argument, NULL, 'B' },
		{ "status-until", required_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *purpose = "bench", *names_out = NULL, *revoke_from = NULL,
		   *status_until = NULL;
	unsigned long n = 1000, ttl = 3600, batch = 1;
	bool revoke = false;
	static uint8_t buf[AGENT_WIRE_MAX];
	static struct agent_wbuf w;
	struct agent_msg m;
	char(*names)[AGENT_NAME_MAX + 1];
	double *lat, t0, total;
	unsigned long slow;
	int c, fd;

	while ((c = getopt_long(argc, argv, "S:n:p:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			sock = optarg;
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			purpose = optarg;
			break;
		case 't':
			ttl = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			revoke = true;
			break;
		case 'N':
			names_out = optarg;
			break;
		case 'F':
			revoke_from = optarg;
			break;
		case 'U':
			status_until = optarg;
			break;
		case 'B':
			batch = strtoul(optarg, NULL, 10);
			if (batch < 1 || batch > AGENT_REVOKE_NAMES_MAX)
				return 2;
			break;
		default:
			return 2;
		}
	}
	if (revoke_from && n < 1000000)
		n = 1000000; /* upper bound for the names read */
	if (status_until && n < 100000)
		n = 100000; /* upper bound for the answers timed */
	if (!sock || n == 0) {
		fprintf(stderr,
			"usage: bench_create -S SOCKET -n COUNT [-p PURPOSE] [-t TTL] [--revoke]\n");
		return 2;
	}
	lat = calloc(n, sizeof(*lat));
	names = calloc(n, sizeof(*names));
	fd = agent_client_connect(sock, 5000);
	if (!lat || !names || fd < 0) {
		fprintf(stderr, "bench_create: cannot connect to %s: %s\n", sock, strerror(-fd));
		return 1;
	}
	if (status_until)
		return status_loop(fd, status_until, lat, n);
	if (revoke_from) {
		FILE *f = fopen(revoke_from, "re");
		unsigned long k = 0;

		while (f && k < n && fscanf(f, "%32s", names[k]) == 1)
			k++;
		if (f)
			fclose(f);
		n = k;
		goto revoke;
	}
	t0 = now_ms();
	for (unsigned long i = 0; i < n; i++) {
		double s = now_ms();
		const char *name;

		agent_wire_begin(&w, AGENT_MSG_CREATE);
		agent_wire_str(&w, AGENT_A_PURPOSE, purpose);
		agent_wire_u64(&w, AGENT_A_TTL, ttl);
		if (roundtrip(fd, &w, buf, &m) < 0 || m.type != AGENT_MSG_IDENTITY ||
		    !(name = agent_msg_str(&m, AGENT_A_NAME))) {
			fprintf(stderr, "bench_create: create %lu failed: %s\n", i,
				m.type == AGENT_MSG_ERROR ? agent_msg_str(&m, AGENT_A_MESSAGE)
							  : "?");
			return 1;
		}
		snprintf(names[i], sizeof(names[i]), "%s", name);
		lat[i] = now_ms() - s;
	}
	total = now_ms() - t0;
	qsort(lat, n, sizeof(*lat), cmp_double);
	for (slow = 0; slow < n && lat[n - 1 - slow] > 10.0; slow++)
		;
	printf("creates=%lu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f over_10ms=%lu per_sec=%.0f\n", n,
	       lat[n / 2], lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], lat[n - 1], slow,
	       (double)n / (total / 1e3));
	if (names_out) {
		FILE *f = fopen(names_out, "we");

		for (unsigned long i = 0; f && i < n; i++)
			fprintf(f, "%s\n", names[i]);
		if (f)
			fclose(f);
	}
revoke:
	if (revoke || revoke_from) {
		t0 = now_ms();
		for (unsigned long i = 0; i < n; i += batch) {
			agent_wire_begin(&w, AGENT_MSG_REVOKE);
			for (unsigned long k = i; k < n && k < i + batch; k++)
				agent_wire_str(&w, AGENT_A_NAME, names[k]);
			if (roundtrip(fd, &w, buf, &m) < 0 || m.type != AGENT_MSG_OK) {
				fprintf(stderr, "bench_create: revoke %s failed\n", names[i]);
				return 1;
			}
		}
		printf("revokes=%lu total_ms=%.0f\n", n, now_ms() - t0);
	}
	close(fd);
	free(lat);
	free(names);
	return 0;
}
