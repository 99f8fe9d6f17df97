/* SPDX-License-Identifier: MIT */
/* Buffer lifetime: references, release at the last one, lazy allocation, introspection. */
#include <fcntl.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "unit.h"

DMAB_TEST(refs_count_every_holder)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 42, 1000);
	struct dmab_handle *handle = test_buffer(account, 64, 64);
	struct dmab_buffer *buffer = dmab_handle_get_buffer(handle);
	struct dmab_buffer_stats stats;

	CHECK(test_buffer_stats(core, 1, &stats));
	CHECK_EQ(stats.refs, 1);
	CHECK_EQ(stats.owner_pid, 42);
	CHECK_STR_EQ(stats.name, "test");

	struct recorder rec;
	test_recorder_init(&rec, 'A');
	test_attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 0, &rec);
	struct dmab_failure fail;
	struct dmab_token *token = dmab_token_create(handle, DMAB_ACCESS_READ, &fail);
	CHECK(token != NULL);
	dmab_buffer_ref(buffer);
	CHECK(test_buffer_stats(core, 1, &stats));
	CHECK_EQ(stats.refs, 4);

	dmab_handle_destroy(handle);
	dmab_token_revoke(token);
	CHECK(test_buffer_stats(core, 1, &stats));
	CHECK_EQ(stats.refs, 2);
	test_detach(&rec);
	CHECK(test_buffer_stats(core, 1, &stats));
	CHECK_EQ(stats.refs, 1);
	dmab_buffer_unref(buffer);
	CHECK_EQ(test_count_buffers(core), 0);

	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(last_ref_closes_storage)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	int before = dmab_test_count_fds();
	struct dmab_handle *handle = test_buffer(account, 128, 32);
	struct recorder rec;
	test_recorder_init(&rec, 'A');
	test_attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 0, &rec);
	test_map(&rec, DMAB_DIR_WRITE);
	CHECK_EQ(rec.mapped, 1);
	test_recorder_finish(&rec);
	CHECK(dmab_test_count_fds() > before);

	/* The attachment's reference keeps the storage after the handle is gone. */
	dmab_handle_destroy(handle);
	CHECK(dmab_test_count_fds() > before);
	test_unmap(&rec);
	CHECK(dmab_test_count_fds() > before);
	test_detach(&rec);
	CHECK_EQ(dmab_test_count_fds(), before);
	CHECK_EQ(test_count_buffers(core), 0);

	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(storage_is_allocated_at_first_map)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	int before = dmab_test_count_fds();
	struct dmab_handle *handle = test_buffer(account, 100, 10);
	struct recorder a, b;
	test_recorder_init(&a, 'A');
	test_recorder_init(&b, 'B');
	test_attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 0, &a);
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 0, &b);

	struct dmab_buffer_stats stats;
	CHECK(test_buffer_stats(core, 1, &stats));
	CHECK_STR_EQ(stats.allocator, "");
	CHECK_EQ(dmab_test_count_fds(), before);

	test_map(&b, DMAB_DIR_READ);
	CHECK_EQ(b.mapped, 1);
	CHECK(test_buffer_stats(core, 1, &stats));
	CHECK(stats.allocator[0] != '\0');
	CHECK_EQ(b.mapping.planes[0].offset, 0);
	CHECK_EQ(b.mapping.planes[0].stride, 448);
	CHECK_EQ(b.mapping.planes[0].size, 448 * 10);
	CHECK_EQ(lseek(b.mapping.fd, 0, SEEK_END), (off_t)stats.layout.size);
	CHECK(stats.layout.size >= 448 * 10);
	CHECK_EQ(stats.layout.size % (uint64_t)sysconf(_SC_PAGESIZE), 0);

	/* A second map reuses the storage. */
	test_map(&a, DMAB_DIR_READ | DMAB_DIR_WRITE);
	CHECK_EQ(a.mapped, 1);
	CHECK_EQ(a.mapping.planes[0].stride, 448);

	test_detach(&a);
	test_detach(&b);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(read_map_gets_read_only_fd)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = test_buffer(account, 64, 64);
	struct recorder w, r;
	test_recorder_init(&w, 'W');
	test_recorder_init(&r, 'R');
	test_attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 0, &w);
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 0, &r);
	test_map(&w, DMAB_DIR_WRITE);
	test_map(&r, DMAB_DIR_READ);

	CHECK_EQ(w.mapping.flags & DMAB_MAP_READ_ONLY, 0);
	CHECK_EQ(!!(w.mapping.flags & DMAB_MAP_DMABUF), dmab_fd_is_dmabuf(w.mapping.fd));
	CHECK_EQ(!!(r.mapping.flags & DMAB_MAP_DMABUF), dmab_fd_is_dmabuf(r.mapping.fd));
	void *data = test_mmap(&w.mapping, true);
	CHECK(data != NULL);
	memset(data, 0x5a, w.mapping.planes[0].size);
	test_munmap(&w.mapping, data);

	const unsigned char *pixels = test_mmap(&r.mapping, false);
	CHECK(pixels != NULL);
	CHECK_EQ(pixels[r.mapping.planes[0].size - 1], 0x5a);
	test_munmap(&r.mapping, (void *)pixels);
	CHECK_EQ(fcntl(r.mapping.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

	if (!(r.mapping.flags & DMAB_MAP_READ_ONLY)) {
		dmab_test_skip("allocator %s cannot make read-only fds",
			dmab_test_allocator());
	}
	CHECK(test_mmap(&r.mapping, true) == NULL);

	test_detach(&w);
	test_detach(&r);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

static void collect_ids(const struct dmab_buffer_stats *stats, void *data)
{
	uint32_t *ids = data;
	ids[ids[0]++ + 1] = stats->id;
}

DMAB_TEST(introspection_lists_in_creation_order)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 7, 1);
	struct dmab_handle *handles[3];
	for (int i = 0; i < 3; i++)
		handles[i] = test_buffer(account, 16, 16);
	dmab_handle_destroy(handles[1]);
	handles[1] = test_buffer(account, 16, 16);

	uint32_t ids[8] = { 0 };
	dmab_core_for_each_buffer(core, collect_ids, NULL, ids);
	CHECK_EQ(ids[0], 3);
	CHECK_EQ(ids[1], 1);
	CHECK_EQ(ids[2], 3);
	CHECK_EQ(ids[3], 4);

	struct recorder rec;
	test_recorder_init(&rec, 'A');
	test_attach(handles[0], account, DMAB_ACCESS_READ, 0, 0, &rec);
	test_map(&rec, DMAB_DIR_READ);
	test_begin(&rec, DMAB_DIR_READ);
	struct dmab_attachment_stats att;
	CHECK(test_attachment_stats(core, 1, 0, &att));
	CHECK_EQ(att.pid, 7);
	CHECK_EQ(att.access, DMAB_ACCESS_READ);
	CHECK_EQ(att.state, DMAB_ATTACHMENT_MAPPED);
	CHECK_EQ(att.in_access, DMAB_DIR_READ);
	struct dmab_buffer_stats stats;
	CHECK(test_buffer_stats(core, 1, &stats));
	CHECK_EQ(stats.read_fences_pending, 1);
	CHECK(!stats.write_fence_pending);
	test_end(&rec, DMAB_DIR_READ);
	CHECK(test_attachment_stats(core, 1, 0, &att));
	CHECK_EQ(att.in_access, 0);

	test_detach(&rec);
	for (int i = 0; i < 3; i++)
		dmab_handle_destroy(handles[i]);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(broker_attachment_maps_without_fd)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = test_buffer(account, 32, 8);
	struct recorder client, broker;
	test_recorder_init(&client, 'C');
	test_recorder_init(&broker, 'B');
	test_attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 0, &client);
	test_attach(handle, NULL, DMAB_ACCESS_READ, 0, 0, &broker);
	test_map(&client, DMAB_DIR_WRITE);
	unsigned char *data = test_mmap(&client.mapping, true);
	CHECK(data != NULL);
	data[client.mapping.planes[0].stride * 7 + 5] = 0xab;
	test_munmap(&client.mapping, data);

	struct dmab_misuse_report report;
	CHECK(!dmab_attachment_map(broker.att, DMAB_DIR_WRITE, &report));
	CHECK_EQ(report.misuse, DMAB_MISUSE_READ_ONLY);
	test_map(&broker, DMAB_DIR_READ);
	CHECK_EQ(broker.mapping.fd, -1);
	CHECK(broker.mapping.data != NULL);
	CHECK(broker.mapping.flags & DMAB_MAP_READ_ONLY);
	test_begin(&broker, DMAB_DIR_READ);
	CHECK_EQ(broker.ready, 1);
	const unsigned char *pixels = broker.mapping.data;
	CHECK_EQ(pixels[broker.mapping.planes[0].stride * 7 + 5], 0xab);
	struct dmab_attachment_stats stats;
	CHECK(test_attachment_stats(core, 1, 1, &stats));
	CHECK_EQ(stats.pid, 0);
	test_end(&broker, DMAB_DIR_READ);

	test_detach(&client);
	test_detach(&broker);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(core_destroy_frees_live_objects)
{
	int before = dmab_test_count_fds();
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = test_buffer(account, 64, 64);
	struct dmab_buffer *buffer = dmab_handle_get_buffer(handle);
	struct recorder w, r, broker;
	test_recorder_init(&w, 'W');
	test_recorder_init(&r, 'R');
	test_recorder_init(&broker, 'B');
	struct dmab_account *reader = dmab_account_create(core, 2, 1);
	test_attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 0, &w);
	test_attach(handle, reader, DMAB_ACCESS_READ, 0, 0, &r);
	test_attach(handle, NULL, DMAB_ACCESS_READ, 0, 0, &broker);
	test_map(&w, DMAB_DIR_WRITE);
	test_map(&r, DMAB_DIR_READ);
	test_map(&broker, DMAB_DIR_READ);
	test_begin(&w, DMAB_DIR_WRITE);
	test_begin(&r, DMAB_DIR_READ);
	struct dmab_fence *fence = dmab_buffer_get_fence(buffer, true);
	struct dmab_failure fail;
	CHECK(dmab_token_create(handle, DMAB_ACCESS_READ, &fail) != NULL);
	test_recorder_finish(&w);
	test_recorder_finish(&r);

	dmab_core_destroy(core);
	CHECK(dmab_fence_is_signaled(fence));
	dmab_fence_unref(fence);
	CHECK_EQ(dmab_test_count_fds(), before);
}
