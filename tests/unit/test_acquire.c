/* SPDX-License-Identifier: MIT */
/*
 * Acquire fences: a WRITE bracket whose device work is still running keeps
 * the write fence held after end_access, until the acquire fence signals.
 * Also the broker's own attachments' CPU access, and the dma-buf implicit
 * fence helpers.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

struct fixture {
	struct dmab_core *core;
	struct dmab_account *account;
	struct dmab_handle *handle;
	struct dmab_buffer *buffer;
	uint32_t id;
	struct recorder rec[3];
	/* One client each: a client's own brackets on one buffer may not conflict. */
	struct dmab_account *peers[3];
	struct dmab_fence *acquire;
};

/* A writer A and readers B, C, all mapped; A holds a WRITE bracket with an acquire fence. */
static void setup(struct fixture *f)
{
	f->core = test_core_create(NULL);
	f->account = dmab_account_create(f->core, 1, 1);
	f->handle = test_buffer(f->account, 16, 16);
	f->buffer = dmab_handle_get_buffer(f->handle);
	struct dmab_buffer_stats stats;
	CHECK(test_buffer_stats(f->core, 1, &stats));
	f->id = stats.id;
	for (int i = 0; i < 3; i++) {
		test_recorder_init(&f->rec[i], (char)('A' + i));
		f->peers[i] = dmab_account_create(f->core, 10 + i, 1);
		test_attach(f->handle, f->peers[i], DMAB_ACCESS_READ_WRITE, 0, 0, &f->rec[i]);
		test_map(&f->rec[i], i == 0 ? DMAB_DIR_WRITE : DMAB_DIR_READ);
	}
	test_begin(&f->rec[0], DMAB_DIR_WRITE);
	f->acquire = dmab_fence_create();
	CHECK(f->acquire != NULL);
	struct dmab_misuse_report report = { 0 };
	CHECK(dmab_attachment_set_acquire_fence(f->rec[0].att, f->acquire, &report));
	test_log[0] = '\0';
}

static void teardown(struct fixture *f)
{
	for (int i = 0; i < 3; i++) {
		if (f->rec[i].att != NULL)
			test_detach(&f->rec[i]);
	}
	dmab_fence_unref(f->acquire);
	dmab_handle_destroy(f->handle);
	for (size_t i = 0; i < sizeof(f->peers) / sizeof(f->peers[0]); i++) {
		dmab_account_destroy(f->peers[i]);
	}
	dmab_account_destroy(f->account);
	dmab_core_destroy(f->core);
}

static bool write_fence_pending(struct fixture *f)
{
	struct dmab_buffer_stats stats;
	CHECK(test_buffer_stats(f->core, f->id, &stats));
	return stats.write_fence_pending;
}

static bool readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

DMAB_TEST(acquire_holds_the_write_fence_after_end)
{
	struct fixture f;
	setup(&f);
	struct dmab_fence *write = dmab_buffer_get_fence(f.buffer, true);
	int fd = dmab_fence_export_fd(write);
	CHECK(fd >= 0);
	test_begin(&f.rec[1], DMAB_DIR_READ);
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	CHECK_STR_EQ(test_log, "");
	CHECK(write_fence_pending(&f));
	CHECK(!dmab_fence_is_signaled(write));
	CHECK(!readable(fd));
	/* The bracket is over for its attachment, which may begin again: behind the reader. */
	struct dmab_attachment_stats att;
	CHECK(test_attachment_stats(f.core, f.id, 0, &att));
	CHECK_EQ(att.in_access, 0);
	test_begin(&f.rec[0], DMAB_DIR_WRITE);
	test_begin(&f.rec[2], DMAB_DIR_READ);
	CHECK_STR_EQ(test_log, "");

	dmab_fence_signal(f.acquire);
	CHECK(dmab_fence_is_signaled(write));
	CHECK(readable(fd));
	CHECK_STR_EQ(test_log, "Bready ");
	test_end(&f.rec[1], DMAB_DIR_READ);
	CHECK_STR_EQ(test_log, "Bready Aready ");
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	CHECK_STR_EQ(test_log, "Bready Aready Cready ");
	test_end(&f.rec[2], DMAB_DIR_READ);
	close(fd);
	dmab_fence_unref(write);
	teardown(&f);
}

DMAB_TEST(acquire_signaled_before_end_releases_at_end)
{
	struct fixture f;
	setup(&f);
	test_begin(&f.rec[1], DMAB_DIR_READ);
	dmab_fence_signal(f.acquire);
	CHECK_STR_EQ(test_log, "");
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	CHECK_STR_EQ(test_log, "Bready ");
	CHECK(!write_fence_pending(&f));
	test_end(&f.rec[1], DMAB_DIR_READ);
	teardown(&f);
}

/* Destroying the writer ends its bracket, but not the device's work. */
DMAB_TEST(acquire_outlives_the_attachment_and_the_buffer_references)
{
	struct fixture f;
	setup(&f);
	test_begin(&f.rec[1], DMAB_DIR_READ);
	test_detach(&f.rec[0]);
	CHECK_STR_EQ(test_log, "");
	CHECK(write_fence_pending(&f));
	test_end(&f.rec[1], DMAB_DIR_READ);
	test_detach(&f.rec[1]);
	test_detach(&f.rec[2]);
	dmab_handle_destroy(f.handle);
	f.handle = NULL;
	/* The storage the device writes stays until it is done. */
	CHECK_EQ(test_count_buffers(f.core), 1);
	dmab_fence_signal(f.acquire);
	CHECK_EQ(test_count_buffers(f.core), 0);
	teardown(&f);
}

DMAB_TEST(acquire_allows_unmap_after_end)
{
	struct fixture f;
	setup(&f);
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	test_unmap(&f.rec[0]);
	test_begin(&f.rec[1], DMAB_DIR_READ);
	CHECK_STR_EQ(test_log, "");
	dmab_fence_signal(f.acquire);
	CHECK_STR_EQ(test_log, "Bready ");
	test_end(&f.rec[1], DMAB_DIR_READ);
	teardown(&f);
}

/* A migration copies the storage: not while a device may still write it. */
DMAB_TEST(acquire_holds_back_a_migration)
{
	struct fixture f;
	setup(&f);
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	for (int i = 0; i < 3; i++)
		test_unmap(&f.rec[i]);
	struct recorder strict;
	test_recorder_init(&strict, 'S');
	test_attach(f.handle, f.account, DMAB_ACCESS_READ, 0, 4096, &strict);
	test_map(&strict, DMAB_DIR_READ);
	CHECK_STR_EQ(test_log, "");
	dmab_fence_signal(f.acquire);
	CHECK_STR_EQ(test_log, "Smapped ");
	CHECK_EQ(strict.mapping.planes[0].stride % 4096, 0);
	test_detach(&strict);
	teardown(&f);
}

DMAB_TEST(acquire_pending_at_core_destroy_is_released)
{
	struct fixture f;
	setup(&f);
	struct dmab_fence *write = dmab_buffer_get_fence(f.buffer, true);
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	for (int i = 0; i < 3; i++)
		test_detach(&f.rec[i]);
	dmab_handle_destroy(f.handle);
	dmab_account_destroy(f.account);
	dmab_core_destroy(f.core);
	CHECK(dmab_fence_is_signaled(write));
	dmab_fence_unref(write);
	/* The core let go of the acquire fence: signaling it reaches nobody. */
	dmab_fence_signal(f.acquire);
	dmab_fence_unref(f.acquire);
}

static void check_misuse(bool ok, const struct dmab_misuse_report *report,
	enum dmab_misuse misuse, const char *needle)
{
	CHECK(!ok);
	CHECK_EQ(report->misuse, misuse);
	if (strstr(report->message, needle) == NULL)
		dmab_test_fail(__FILE__, __LINE__, "\"%s\" lacks \"%s\"", report->message, needle);
}

DMAB_TEST(acquire_misuse)
{
	struct fixture f;
	setup(&f);
	struct dmab_misuse_report r = { 0 };
	struct dmab_fence *second = dmab_fence_create();
	check_misuse(dmab_attachment_set_acquire_fence(f.rec[0].att, second, &r), &r,
		DMAB_MISUSE_DUPLICATE_FENCE, "already");
	check_misuse(dmab_attachment_set_acquire_fence(f.rec[1].att, second, &r), &r,
		DMAB_MISUSE_NOT_IN_ACCESS, "no bracket");
	dmab_fence_signal(f.acquire);
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	/* The bracket is over: its fence went with it. */
	check_misuse(dmab_attachment_set_acquire_fence(f.rec[0].att, second, &r), &r,
		DMAB_MISUSE_NOT_IN_ACCESS, "no bracket");
	test_begin(&f.rec[1], DMAB_DIR_READ);
	check_misuse(dmab_attachment_set_acquire_fence(f.rec[1].att, second, &r), &r,
		DMAB_MISUSE_NOT_IN_ACCESS, "only reads");
	test_end(&f.rec[1], DMAB_DIR_READ);

	/* A WRITE bracket that still waits for ready has done no work yet. */
	test_begin(&f.rec[1], DMAB_DIR_READ);
	test_begin(&f.rec[0], DMAB_DIR_WRITE);
	check_misuse(dmab_attachment_set_acquire_fence(f.rec[0].att, second, &r), &r,
		DMAB_MISUSE_NOT_IN_ACCESS, "waits for ready");
	test_end(&f.rec[1], DMAB_DIR_READ);
	/* A new bracket takes a new fence. */
	CHECK(dmab_attachment_set_acquire_fence(f.rec[0].att, second, &r));
	CHECK_EQ(second->refcount, 2);
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	CHECK(write_fence_pending(&f));
	dmab_fence_signal(second);
	CHECK(!write_fence_pending(&f));
	CHECK_EQ(second->refcount, 1);
	dmab_fence_unref(second);
	teardown(&f);
}

/* The broker's own attachments start their CPU access themselves, after the grant. */
DMAB_TEST(internal_attachment_starts_cpu_access_when_asked)
{
	struct fixture f;
	setup(&f);
	dmab_fence_signal(f.acquire);
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	struct recorder broker;
	test_recorder_init(&broker, 'K');
	test_attach(f.handle, NULL, DMAB_ACCESS_READ, 0, 0, &broker);
	CHECK_EQ(dmab_attachment_start_cpu_access(broker.att), -EINVAL);
	test_map(&broker, DMAB_DIR_READ);
	test_begin(&broker, DMAB_DIR_READ);
	CHECK_EQ(broker.ready, 1);
	CHECK_EQ(dmab_attachment_start_cpu_access(broker.att), 0);
	CHECK_EQ(dmab_attachment_start_cpu_access(broker.att), -EINVAL);
	test_end(&broker, DMAB_DIR_READ);
	CHECK_EQ(dmab_attachment_start_cpu_access(broker.att), -EINVAL);
	test_detach(&broker);
	teardown(&f);
}

/* DMA_BUF_IOCTL_EXPORT_SYNC_FILE and IMPORT_SYNC_FILE, where the storage is a dma-buf. */
DMAB_TEST(implicit_fences_of_dmabuf_storage)
{
	struct fixture f;
	setup(&f);
	dmab_fence_signal(f.acquire);
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	int dmabuf = dmab_buffer_get_dmabuf_fd(f.buffer);
	if (dmabuf < 0) {
		CHECK_EQ(dmab_buffer_export_sync_file(f.buffer, true), -ENODEV);
		CHECK_EQ(dmab_buffer_import_sync_file(f.buffer, 0), -ENODEV);
		teardown(&f);
		dmab_test_skip("allocator %s gives no dma-buf", dmab_test_allocator());
	}
	CHECK(f.rec[0].mapping.flags & DMAB_MAP_DMABUF);
	for (int write = 0; write < 2; write++) {
		int sync_file = dmab_buffer_export_sync_file(f.buffer, write);
		if (sync_file == -ENOTTY) {
			teardown(&f);
			dmab_test_skip("the kernel has no DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
		}
		CHECK(sync_file >= 0);
		/* Nothing is pending on an idle buffer. */
		CHECK(readable(sync_file));
		CHECK_EQ(dmab_buffer_import_sync_file(f.buffer, sync_file), 0);
		close(sync_file);
	}
	CHECK(dmab_buffer_import_sync_file(f.buffer, -1) < 0);
	teardown(&f);
}
