/* Unit tests: expiry in batches (agentd/expiry.c). One scan collects at
 * most the batch size of due identities, in table order, never one that is
 * still live, and says whether more are due; draining a table takes
 * ceil(due / batch) turns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agentd/expiry.h"
#include "agentd/livetable.h"
#include "common/liveness.h"

#define N 2500

static struct agentd_live table[N];
static char names[AGENTD_EXPIRE_BATCH][AGENT_NAME_MAX + 1];
static uint32_t uids[AGENTD_EXPIRE_BATCH];

/* Every third identity is still live (deadline in an hour); the others are
 * due on one clock or the other. */
static size_t fill(const struct agent_now *now)
{
	size_t due = 0;

	for (uint32_t i = 0; i < N; i++) {
		struct agentd_live *e = &table[i];

		e->uid = 1879048192u + i;
		snprintf(e->name, sizeof(e->name), "agent-%06u", i);
		if (i % 3 == 0) {
			e->expires = now->real + 3600;
			e->expires_boot_ns = now->boot_ns + 3600000000000LL;
		} else if (i % 3 == 1) {
			e->expires = now->real - 1; /* wall clock passed */
			e->expires_boot_ns = now->boot_ns + 3600000000000LL;
			due++;
		} else {
			e->expires = now->real + 3600;
			e->expires_boot_ns = now->boot_ns - 1; /* boot clock passed */
			due++;
		}
	}
	return due;
}

/* Removes one collected identity the way livetable.c does (swap with last). */
static void drop(size_t *n, uint32_t uid)
{
	for (size_t i = 0; i < *n; i++)
		if (table[i].uid == uid) {
			table[i] = table[--*n];
			return;
		}
	fail_msg("uid %u collected but not in the table", uid);
}

static void test_batches(void **state)
{
	struct agent_now now = { .real = 2000000000, .boot_ns = 5000000000000LL };
	size_t n = N, due = fill(&now), total = 0, turns = 0, k;
	bool more;

	(void)state;
	assert_int_equal(due, 1666);
	do {
		k = agentd_expiry_collect(table, n, &now, names, uids, AGENTD_EXPIRE_BATCH, &more);
		assert_true(k <= AGENTD_EXPIRE_BATCH);
		for (size_t i = 0; i < k; i++) {
			unsigned idx;

			assert_int_equal(sscanf(names[i], "agent-%06u", &idx), 1);
			assert_int_equal(uids[i], 1879048192u + idx);
			assert_int_not_equal(idx % 3, 0); /* never a live one */
			drop(&n, uids[i]);
		}
		total += k;
		turns++;
		assert_true(turns <= (due + AGENTD_EXPIRE_BATCH - 1) / AGENTD_EXPIRE_BATCH);
	} while (more);
	assert_int_equal(total, due);
	/* full batches, then the rest */
	assert_int_equal(turns, (due + AGENTD_EXPIRE_BATCH - 1) / AGENTD_EXPIRE_BATCH);
	assert_int_equal(n, N - due);
	/* nothing due is left */
	assert_int_equal(
		agentd_expiry_collect(table, n, &now, names, uids, AGENTD_EXPIRE_BATCH, &more), 0);
	assert_false(more);
}

/* Exactly a batch due: one turn, and no "more". */
static void test_exact_batch(void **state)
{
	struct agent_now now = { .real = 2000000000, .boot_ns = 5000000000000LL };
	size_t k;
	bool more = true;

	(void)state;
	for (uint32_t i = 0; i < AGENTD_EXPIRE_BATCH + 10; i++) {
		table[i].uid = 1879048192u + i;
		snprintf(table[i].name, sizeof(table[i].name), "agent-%06u", i);
		table[i].expires = i < AGENTD_EXPIRE_BATCH ? now.real - 5 : now.real + 60;
		table[i].expires_boot_ns = 0; /* wall clock only */
	}
	k = agentd_expiry_collect(table, AGENTD_EXPIRE_BATCH + 10, &now, names, uids,
				  AGENTD_EXPIRE_BATCH, &more);
	assert_int_equal(k, AGENTD_EXPIRE_BATCH);
	assert_false(more);
	/* A smaller limit reports more. */
	k = agentd_expiry_collect(table, AGENTD_EXPIRE_BATCH + 10, &now, names, uids, 10, &more);
	assert_int_equal(k, 10);
	assert_true(more);
	assert_string_equal(names[9], "agent-000009");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_exact_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
