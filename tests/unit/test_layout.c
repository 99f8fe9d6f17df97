/* SPDX-License-Identifier: MIT */
/* Constraint collation, the layout it plans, and migration to stricter storage. */
#include <drm_fourcc.h>
#include <string.h>

#include "unit.h"

static void count_layout(struct dmab_handle *handle, void *data)
{
	int *calls = data;
	(*calls)++;
}

static uint32_t stride_of(struct dmab_buffer *buffer)
{
	struct dmab_layout layout;
	dmab_buffer_get_layout(buffer, &layout);
	return layout.planes[0].stride;
}

DMAB_TEST(collation_plans_stride_from_max_alignment)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = test_buffer(account, 100, 10);
	struct dmab_buffer *buffer = dmab_handle_get_buffer(handle);
	int calls = 0;
	dmab_handle_set_layout_listener(handle, count_layout, &calls);
	CHECK_EQ(stride_of(buffer), 448);

	struct recorder a, b, c;
	test_recorder_init(&a, 'A');
	test_recorder_init(&b, 'B');
	test_recorder_init(&c, 'C');
	test_attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 256, &a);
	CHECK_EQ(stride_of(buffer), 512);
	CHECK_EQ(calls, 1);
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 1024, &b);
	CHECK_EQ(stride_of(buffer), 1024);
	CHECK_EQ(calls, 2);
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 128, &c);
	CHECK_EQ(stride_of(buffer), 1024);
	CHECK_EQ(calls, 2);

	/* Until the first map, a detach re-plans too. */
	test_detach(&b);
	CHECK_EQ(stride_of(buffer), 512);
	CHECK_EQ(calls, 3);

	test_map(&a, DMAB_DIR_WRITE);
	CHECK_EQ(a.mapping.planes[0].stride, 512);
	CHECK_EQ(a.mapping.planes[0].size, 512 * 10);
	struct dmab_layout layout;
	dmab_buffer_get_layout(buffer, &layout);
	CHECK_EQ(layout.planes[0].offset, 0);
	CHECK(layout.size >= 512 * 10);

	/* Backed storage that already fits moves nothing. */
	struct recorder d;
	test_recorder_init(&d, 'D');
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 128, &d);
	CHECK(!dmab_attachment_is_defunct(d.att));
	CHECK_EQ(a.moved, 0);
	test_detach(&c);
	CHECK_EQ(stride_of(buffer), 512);
	CHECK_EQ(calls, 3);

	test_detach(&a);
	test_detach(&d);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(rgb565_rows_are_two_bytes_per_pixel)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_buffer_desc desc = {
		.width = 33, .height = 3, .format = DRM_FORMAT_RGB565,
	};
	struct dmab_failure fail;
	struct dmab_handle *handle = dmab_handle_create(account, &desc, &fail);
	CHECK(handle != NULL);
	CHECK_EQ(stride_of(dmab_handle_get_buffer(handle)), 128);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(contiguous_attach_is_unsatisfiable)
{
	struct dmab_core *core = test_core_create(NULL);
	if (test_has_contiguous(core))
		dmab_test_skip("allocator %s provides contiguous storage", dmab_test_allocator());
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = test_buffer(account, 64, 64);
	struct recorder a;
	test_recorder_init(&a, 'A');
	test_attach(handle, account, DMAB_ACCESS_READ, DMAB_CONSTRAINT_CONTIGUOUS, 0, &a);
	CHECK_EQ(a.failed, 1);
	CHECK_EQ(a.failure.reason, DMAB_REASON_UNSATISFIABLE);
	CHECK(strstr(a.failure.message, "contiguous") != NULL);
	CHECK(dmab_attachment_is_defunct(a.att));

	/* Defunct: requests are ignored, and it constrains nothing. */
	struct dmab_misuse_report report;
	CHECK(dmab_attachment_map(a.att, DMAB_DIR_READ, &report));
	CHECK_EQ(a.mapped, 0);
	struct recorder b;
	test_recorder_init(&b, 'B');
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 0, &b);
	test_map(&b, DMAB_DIR_READ);
	CHECK_EQ(b.mapped, 1);

	/* The same on storage that exists already. */
	struct recorder c;
	test_recorder_init(&c, 'C');
	test_attach(handle, account, DMAB_ACCESS_READ, DMAB_CONSTRAINT_CONTIGUOUS, 0, &c);
	CHECK_EQ(c.failure.reason, DMAB_REASON_UNSATISFIABLE);
	CHECK_EQ(b.moved, 0);

	test_detach(&a);
	test_detach(&b);
	test_detach(&c);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

enum { W = 100, H = 16, ROW = W * 4 };

static void fill_rows(struct recorder *rec)
{
	unsigned char *data = test_mmap(&rec->mapping, true);
	CHECK(data != NULL);
	for (uint32_t y = 0; y < H; y++)
		memset(data + rec->mapping.planes[0].offset + y * rec->mapping.planes[0].stride,
			(int)y + 1, ROW);
	test_munmap(&rec->mapping, data);
}

static void check_rows(struct recorder *rec)
{
	const unsigned char *data = test_mmap(&rec->mapping, false);
	CHECK(data != NULL);
	for (uint32_t y = 0; y < H; y++) {
		const struct dmab_plane *plane = &rec->mapping.planes[0];
		const unsigned char *row = data + plane->offset + y * plane->stride;
		CHECK_EQ(row[0], y + 1);
		CHECK_EQ(row[ROW - 1], y + 1);
	}
	test_munmap(&rec->mapping, (void *)data);
}

DMAB_TEST(migration_waits_for_last_unmap_and_copies_rows)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = test_buffer(account, W, H);
	struct dmab_buffer *buffer = dmab_handle_get_buffer(handle);
	int calls = 0;
	dmab_handle_set_layout_listener(handle, count_layout, &calls);
	struct recorder a, b, s, n;
	test_recorder_init(&a, 'A');
	test_recorder_init(&b, 'B');
	test_recorder_init(&s, 'S');
	test_recorder_init(&n, 'N');
	test_attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 0, &a);
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 0, &b);
	test_map(&a, DMAB_DIR_WRITE);
	test_map(&b, DMAB_DIR_READ);
	CHECK_EQ(a.mapping.planes[0].stride, 448);
	fill_rows(&a);

	test_attach(handle, account, DMAB_ACCESS_READ, 0, 4096, &s);
	CHECK(!dmab_attachment_is_defunct(s.att));
	CHECK_STR_EQ(test_log, "Amapped Bmapped Amoved Bmoved ");
	CHECK_EQ(stride_of(buffer), 448);

	test_map(&s, DMAB_DIR_READ);
	CHECK_EQ(s.mapped, 0);
	test_unmap(&a);
	CHECK_EQ(s.mapped, 0);
	/* New maps are deferred too, and nobody else is told to move. */
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 0, &n);
	test_map(&n, DMAB_DIR_READ);
	test_map(&a, DMAB_DIR_READ);
	CHECK_EQ(n.mapped, 0);
	CHECK_EQ(a.mapped, 1);
	CHECK_EQ(calls, 0);

	test_log[0] = '\0';
	test_unmap(&b);
	CHECK_STR_EQ(test_log, "Amapped Smapped Nmapped ");
	CHECK_EQ(calls, 1);
	CHECK_EQ(stride_of(buffer), 4096);
	CHECK_EQ(s.mapping.planes[0].stride, 4096);
	CHECK_EQ(a.mapping.planes[0].stride, 4096);
	CHECK_EQ(s.moved + n.moved, 0);
	CHECK_EQ(a.moved + b.moved, 2);
	check_rows(&s);

	test_detach(&a);
	test_detach(&b);
	test_detach(&s);
	test_detach(&n);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(migration_without_mappers_runs_at_map)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = test_buffer(account, W, H);
	struct dmab_buffer *buffer = dmab_handle_get_buffer(handle);
	struct recorder a, s;
	test_recorder_init(&a, 'A');
	test_recorder_init(&s, 'S');
	test_attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 0, &a);
	test_map(&a, DMAB_DIR_WRITE);
	fill_rows(&a);
	test_unmap(&a);

	test_attach(handle, account, DMAB_ACCESS_READ, 0, 2048, &s);
	CHECK_EQ(stride_of(buffer), 448);
	test_map(&s, DMAB_DIR_READ);
	CHECK_EQ(s.mapped, 1);
	CHECK_EQ(s.mapping.planes[0].stride, 2048);
	check_rows(&s);
	CHECK_EQ(a.moved, 0);

	test_detach(&a);
	test_detach(&s);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(failed_migration_keeps_old_storage)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = test_buffer(account, W, H);
	struct recorder a, s;
	test_recorder_init(&a, 'A');
	test_recorder_init(&s, 'S');
	test_attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 0, &a);
	test_map(&a, DMAB_DIR_WRITE);
	fill_rows(&a);
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 4096, &s);
	CHECK_EQ(a.moved, 1);
	test_map(&s, DMAB_DIR_READ);
	test_recorder_finish(&a);

	test_fd_limit_exhaust();
	struct dmab_misuse_report report;
	bool unmapped = dmab_attachment_unmap(a.att, &report);
	test_fd_limit_restore();
	CHECK(unmapped);
	CHECK_EQ(s.mapped, 0);
	CHECK_EQ(s.failed, 1);
	CHECK_EQ(s.failure.reason, DMAB_REASON_ALLOC_FAILED);
	CHECK(strstr(s.failure.message, "Too many open files") != NULL);
	CHECK(dmab_attachment_is_defunct(s.att));

	test_map(&a, DMAB_DIR_READ);
	CHECK_EQ(a.mapped, 2);
	CHECK_EQ(a.mapping.planes[0].stride, 448);
	check_rows(&a);

	test_detach(&a);
	test_detach(&s);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(failed_first_allocation_fails_the_map)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = test_buffer(account, 64, 64);
	struct recorder a, b;
	test_recorder_init(&a, 'A');
	test_recorder_init(&b, 'B');
	test_attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 0, &a);
	test_attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 0, &b);

	test_fd_limit_exhaust();
	struct dmab_misuse_report report;
	bool mapped = dmab_attachment_map(a.att, DMAB_DIR_WRITE, &report);
	test_fd_limit_restore();
	CHECK(mapped);
	CHECK_EQ(a.mapped, 0);
	CHECK_EQ(a.failed, 1);
	CHECK_EQ(a.failure.reason, DMAB_REASON_ALLOC_FAILED);
	CHECK(strstr(a.failure.message, "Too many open files") != NULL);
	struct dmab_buffer_stats stats;
	CHECK(test_buffer_stats(core, 1, &stats));
	CHECK_STR_EQ(stats.allocator, "");

	test_map(&b, DMAB_DIR_WRITE);
	CHECK_EQ(b.mapped, 1);

	test_detach(&a);
	test_detach(&b);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}
