/* SPDX-License-Identifier: MIT */
/* Access brackets: the FIFO of waiters, and every misuse of map and access. */
#include <string.h>

#include "unit.h"

struct fixture {
	struct dmab_core *core;
	struct dmab_account *account;
	struct dmab_handle *handle;
	struct dmab_buffer *buffer;
	struct recorder rec[4];
	/* One client each: a client's own brackets on one buffer may not conflict. */
	struct dmab_account *peers[4];
};

/* Attachments A..D, mapped read+write (or read for a read-only one). */
static void setup(struct fixture *f, int count)
{
	f->core = test_core_create(NULL);
	f->account = dmab_account_create(f->core, 1, 1);
	f->handle = test_buffer(f->account, 32, 32);
	f->buffer = dmab_handle_get_buffer(f->handle);
	for (int i = 0; i < count; i++) {
		test_recorder_init(&f->rec[i], (char)('A' + i));
		f->peers[i] = dmab_account_create(f->core, 10 + i, 1);
		test_attach(f->handle, f->peers[i], DMAB_ACCESS_READ_WRITE, 0, 0, &f->rec[i]);
		test_map(&f->rec[i], DMAB_DIR_ALL);
	}
	test_log[0] = '\0';
}

static void teardown(struct fixture *f)
{
	for (int i = 0; i < 4; i++) {
		if (f->rec[i].att != NULL)
			test_detach(&f->rec[i]);
	}
	dmab_handle_destroy(f->handle);
	for (size_t i = 0; i < sizeof(f->peers) / sizeof(f->peers[0]); i++) {
		dmab_account_destroy(f->peers[i]);
	}
	dmab_account_destroy(f->account);
	dmab_core_destroy(f->core);
}

DMAB_TEST(reader_waits_for_writer)
{
	struct fixture f = { 0 };
	setup(&f, 2);
	test_begin(&f.rec[0], DMAB_DIR_WRITE);
	test_begin(&f.rec[1], DMAB_DIR_READ);
	CHECK_STR_EQ(test_log, "Aready ");
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	CHECK_STR_EQ(test_log, "Aready Bready ");
	test_end(&f.rec[1], DMAB_DIR_READ);
	teardown(&f);
}

DMAB_TEST(readers_share_and_writer_waits_for_all)
{
	struct fixture f = { 0 };
	setup(&f, 3);
	test_begin(&f.rec[0], DMAB_DIR_READ);
	test_begin(&f.rec[1], DMAB_DIR_READ);
	test_begin(&f.rec[2], DMAB_DIR_WRITE);
	CHECK_STR_EQ(test_log, "Aready Bready ");
	test_end(&f.rec[0], DMAB_DIR_READ);
	CHECK_EQ(f.rec[2].ready, 0);
	test_end(&f.rec[1], DMAB_DIR_READ);
	CHECK_STR_EQ(test_log, "Aready Bready Cready ");
	test_end(&f.rec[2], DMAB_DIR_WRITE);
	teardown(&f);
}

DMAB_TEST(read_write_bracket_is_a_writer)
{
	struct fixture f = { 0 };
	setup(&f, 2);
	test_begin(&f.rec[0], DMAB_DIR_ALL);
	test_begin(&f.rec[1], DMAB_DIR_READ);
	CHECK_STR_EQ(test_log, "Aready ");
	struct dmab_buffer_stats stats;
	CHECK(test_buffer_stats(f.core, 1, &stats));
	CHECK(stats.write_fence_pending);
	CHECK_EQ(stats.read_fences_pending, 0);
	test_end(&f.rec[0], DMAB_DIR_ALL);
	CHECK_STR_EQ(test_log, "Aready Bready ");
	test_end(&f.rec[1], DMAB_DIR_READ);
	teardown(&f);
}

DMAB_TEST(waiters_never_overtake)
{
	struct fixture f = { 0 };
	setup(&f, 4);
	test_begin(&f.rec[0], DMAB_DIR_READ);
	test_begin(&f.rec[1], DMAB_DIR_WRITE);
	/* C could share A's read, but B came first. */
	test_begin(&f.rec[2], DMAB_DIR_READ);
	test_begin(&f.rec[3], DMAB_DIR_READ);
	CHECK_STR_EQ(test_log, "Aready ");
	test_end(&f.rec[0], DMAB_DIR_READ);
	CHECK_STR_EQ(test_log, "Aready Bready ");
	test_end(&f.rec[1], DMAB_DIR_WRITE);
	CHECK_STR_EQ(test_log, "Aready Bready Cready Dready ");
	test_end(&f.rec[2], DMAB_DIR_READ);
	test_end(&f.rec[3], DMAB_DIR_READ);
	teardown(&f);
}

DMAB_TEST(end_while_waiting_cancels_the_wait)
{
	struct fixture f = { 0 };
	setup(&f, 3);
	test_begin(&f.rec[0], DMAB_DIR_READ);
	test_begin(&f.rec[1], DMAB_DIR_WRITE);
	test_begin(&f.rec[2], DMAB_DIR_READ);
	CHECK_STR_EQ(test_log, "Aready ");
	/* Withdrawing B lets C join A's read at once. */
	test_end(&f.rec[1], DMAB_DIR_WRITE);
	CHECK_STR_EQ(test_log, "Aready Cready ");
	test_end(&f.rec[0], DMAB_DIR_READ);
	test_end(&f.rec[2], DMAB_DIR_READ);
	CHECK_EQ(f.rec[1].ready, 0);

	/* The bracket is over: B may begin again. */
	test_begin(&f.rec[1], DMAB_DIR_WRITE);
	CHECK_EQ(f.rec[1].ready, 1);
	test_end(&f.rec[1], DMAB_DIR_WRITE);
	teardown(&f);
}

DMAB_TEST(destroy_ends_bracket_and_wakes_waiters)
{
	struct fixture f = { 0 };
	setup(&f, 3);
	test_begin(&f.rec[0], DMAB_DIR_WRITE);
	test_begin(&f.rec[1], DMAB_DIR_WRITE);
	test_begin(&f.rec[2], DMAB_DIR_READ);
	struct dmab_fence *fence = dmab_buffer_get_fence(f.buffer, true);
	CHECK(!dmab_fence_is_signaled(fence));
	test_detach(&f.rec[0]);
	CHECK(dmab_fence_is_signaled(fence));
	dmab_fence_unref(fence);
	CHECK_STR_EQ(test_log, "Aready Bready ");
	/* Destroying a holder with waiters behind it, mapped and all. */
	test_detach(&f.rec[1]);
	CHECK_STR_EQ(test_log, "Aready Bready Cready ");
	struct dmab_buffer_stats stats;
	CHECK(test_buffer_stats(f.core, 1, &stats));
	CHECK(!stats.write_fence_pending);
	CHECK_EQ(stats.read_fences_pending, 1);
	teardown(&f);
}

DMAB_TEST(destroying_a_waiter_unblocks_those_behind)
{
	struct fixture f = { 0 };
	setup(&f, 3);
	test_begin(&f.rec[0], DMAB_DIR_READ);
	test_begin(&f.rec[1], DMAB_DIR_WRITE);
	test_begin(&f.rec[2], DMAB_DIR_READ);
	test_detach(&f.rec[1]);
	CHECK_STR_EQ(test_log, "Aready Cready ");
	teardown(&f);
}

static void check_misuse(bool ok, const struct dmab_misuse_report *report,
	enum dmab_misuse misuse, const char *needle)
{
	CHECK(!ok);
	CHECK_EQ(report->misuse, misuse);
	if (strstr(report->message, needle) == NULL)
		dmab_test_fail(__FILE__, __LINE__, "\"%s\" lacks \"%s\"", report->message, needle);
}

DMAB_TEST(map_misuse)
{
	struct fixture f = { 0 };
	setup(&f, 1);
	struct recorder ro, fresh;
	test_recorder_init(&ro, 'R');
	test_recorder_init(&fresh, 'F');
	test_attach(f.handle, f.account, DMAB_ACCESS_READ, 0, 0, &ro);
	test_attach(f.handle, f.account, DMAB_ACCESS_READ_WRITE, 0, 0, &fresh);
	struct dmab_misuse_report r;
	struct dmab_attachment *att = fresh.att;

	check_misuse(dmab_attachment_map(att, 0, &r), &r, DMAB_MISUSE_INVALID_DIRECTION, "0");
	check_misuse(dmab_attachment_map(att, 4, &r), &r, DMAB_MISUSE_INVALID_DIRECTION, "4");
	check_misuse(dmab_attachment_map(att, 7, &r), &r, DMAB_MISUSE_INVALID_DIRECTION, "7");
	check_misuse(dmab_attachment_map(ro.att, DMAB_DIR_WRITE, &r), &r, DMAB_MISUSE_READ_ONLY,
		"read-only");
	check_misuse(dmab_attachment_map(ro.att, DMAB_DIR_ALL, &r), &r, DMAB_MISUSE_READ_ONLY,
		"read-only");
	check_misuse(dmab_attachment_unmap(att, &r), &r, DMAB_MISUSE_NOT_MAPPED, "not mapped");
	check_misuse(dmab_attachment_begin_access(att, DMAB_DIR_READ, &r), &r,
		DMAB_MISUSE_NOT_MAPPED, "without a map");

	test_map(&fresh, DMAB_DIR_READ);
	check_misuse(dmab_attachment_map(att, DMAB_DIR_READ, &r), &r, DMAB_MISUSE_ALREADY_MAPPED,
		"already mapped");
	test_unmap(&fresh);
	test_map(&fresh, DMAB_DIR_READ);
	test_detach(&fresh);
	test_detach(&ro);
	teardown(&f);
}

DMAB_TEST(access_misuse)
{
	struct fixture f = { 0 };
	setup(&f, 2);
	struct dmab_misuse_report r;
	struct dmab_attachment *a = f.rec[0].att, *b = f.rec[1].att;

	check_misuse(dmab_attachment_begin_access(a, 0, &r), &r, DMAB_MISUSE_INVALID_DIRECTION,
		"direction 0");
	check_misuse(dmab_attachment_end_access(a, 8, &r), &r, DMAB_MISUSE_INVALID_DIRECTION,
		"direction 8");
	check_misuse(dmab_attachment_end_access(a, DMAB_DIR_READ, &r), &r,
		DMAB_MISUSE_NOT_IN_ACCESS, "without begin_access");

	test_begin(&f.rec[0], DMAB_DIR_READ);
	check_misuse(dmab_attachment_begin_access(a, DMAB_DIR_READ, &r), &r,
		DMAB_MISUSE_NESTED_ACCESS, "already open");
	check_misuse(dmab_attachment_end_access(a, DMAB_DIR_WRITE, &r), &r,
		DMAB_MISUSE_DIRECTION_MISMATCH, "differs");
	check_misuse(dmab_attachment_unmap(a, &r), &r, DMAB_MISUSE_ACCESS_PENDING, "open");

	test_begin(&f.rec[1], DMAB_DIR_WRITE);
	CHECK_EQ(f.rec[1].ready, 0);
	check_misuse(dmab_attachment_begin_access(b, DMAB_DIR_WRITE, &r), &r,
		DMAB_MISUSE_NESTED_ACCESS, "waiting");
	check_misuse(dmab_attachment_unmap(b, &r), &r, DMAB_MISUSE_ACCESS_PENDING, "waiting");
	check_misuse(dmab_attachment_end_access(b, DMAB_DIR_ALL, &r), &r,
		DMAB_MISUSE_DIRECTION_MISMATCH, "differs");
	test_end(&f.rec[1], DMAB_DIR_WRITE);
	test_end(&f.rec[0], DMAB_DIR_READ);

	/* A read map allows read brackets only. */
	test_unmap(&f.rec[1]);
	test_map(&f.rec[1], DMAB_DIR_READ);
	check_misuse(dmab_attachment_begin_access(b, DMAB_DIR_WRITE, &r), &r,
		DMAB_MISUSE_DIRECTION_MISMATCH, "exceeds");
	check_misuse(dmab_attachment_begin_access(b, DMAB_DIR_ALL, &r), &r,
		DMAB_MISUSE_DIRECTION_MISMATCH, "exceeds");
	test_begin(&f.rec[1], DMAB_DIR_READ);
	test_end(&f.rec[1], DMAB_DIR_READ);
	teardown(&f);
}

DMAB_TEST(begin_access_on_pending_map_is_not_mapped)
{
	struct fixture f = { 0 };
	setup(&f, 1);
	struct recorder s;
	test_recorder_init(&s, 'S');
	test_attach(f.handle, f.account, DMAB_ACCESS_READ, 0, 4096, &s);
	CHECK_EQ(f.rec[0].moved, 1);
	test_map(&s, DMAB_DIR_READ);
	CHECK_EQ(s.mapped, 0);
	struct dmab_misuse_report r;
	check_misuse(dmab_attachment_begin_access(s.att, DMAB_DIR_READ, &r), &r,
		DMAB_MISUSE_NOT_MAPPED, "pending");
	check_misuse(dmab_attachment_map(s.att, DMAB_DIR_READ, &r), &r,
		DMAB_MISUSE_ALREADY_MAPPED, "pending");
	/* Unmapping withdraws the pending map: the last unmap then moves nothing. */
	test_unmap(&s);
	test_unmap(&f.rec[0]);
	CHECK_EQ(s.mapped, 0);
	struct dmab_layout layout;
	dmab_buffer_get_layout(f.buffer, &layout);
	CHECK_EQ(layout.planes[0].stride, 128);
	test_detach(&s);
	teardown(&f);
}
