/* SPDX-License-Identifier: MIT */
/*
 * The fds the broker hands out keep the dma-buf contract: read-only where the
 * map is, sealed against resizing, close-on-exec, sized by lseek; imported
 * fds are validated; no fd leaks however the client goes.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

DMAB_TEST(fd_read_only_refuses_writable_mapping)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 64, 64, ARGB,
		0, "read-only");
	CHECK(buffer != NULL);
	struct dmab_client_attachment *writer = attach_mapped(buffer, RW, WRITE);
	CHECK(!(dmab_client_attachment_get_map_flags(writer) &
		DMABROKER_ATTACHMENT_V1_MAP_FLAGS_READ_ONLY));
	/* Even a read_write attachment gets a read-only fd for a READ map. */
	struct dmab_client_attachment *reader = attach_mapped(buffer, RW, READ);
	uint32_t flags = dmab_client_attachment_get_map_flags(reader);
	if (!(flags & DMABROKER_ATTACHMENT_V1_MAP_FLAGS_READ_ONLY))
		dmab_test_skip("allocator %s cannot make read-only fds (map flags %#x)",
			fixture_allocator_name(f), flags);

	int fd = dmab_client_attachment_get_fd(reader);
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(buffer, &layout);
	errno = 0;
	CHECK(mmap(NULL, layout.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
	CHECK_EQ(errno, EACCES);
	void *data = mmap(NULL, layout.size, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(data != MAP_FAILED);
	errno = 0;
	CHECK_EQ(mprotect(data, layout.size, PROT_READ | PROT_WRITE), -1);
	CHECK_EQ(errno, EACCES);
	munmap(data, layout.size);
	CHECK_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	fixture_destroy(f);
}

DMAB_TEST(fd_mapped_cannot_be_resized)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 64, 64, ARGB,
		0, "sealed");
	CHECK(buffer != NULL);
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(buffer, &layout);
	struct dmab_client_attachment *writer = attach_mapped(buffer, RW, WRITE);
	int fd = dmab_client_attachment_get_fd(writer);
	/* A writable fd, yet the size is fixed: memfd seals say EPERM, dma-bufs EINVAL. */
	CHECK_EQ(ftruncate(fd, 0), -1);
	printf("# shrinking: %s\n", strerror(errno));
	CHECK_EQ(ftruncate(fd, (off_t)layout.size / 2), -1);
	CHECK_EQ(ftruncate(fd, (off_t)layout.size * 2), -1);
	printf("# growing: %s\n", strerror(errno));
	CHECK_EQ(lseek(fd, 0, SEEK_END), (off_t)layout.size);
	/* The mapping is intact: no SIGBUS on its last byte. */
	uint8_t *data = dmab_client_attachment_get_data(writer);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	data[(size_t)layout.stride * 64 - 1] = 0x5a;
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	fixture_destroy(f);
}

static bool fence_has_fd(const void *data)
{
	const struct raw_fence *fence = data;
	return fence->fd >= 0;
}

enum { SNAPSHOT_MAX = 1024 };

struct fd_snapshot {
	int fds[SNAPSHOT_MAX];
	bool cloexec[SNAPSHOT_MAX];
	char targets[SNAPSHOT_MAX][64];
	size_t len;
};

static void take_fd_snapshot(void *data)
{
	struct fd_snapshot *snapshot = data;
	snapshot->len = list_fds(snapshot->fds, SNAPSHOT_MAX);
	for (size_t i = 0; i < snapshot->len; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", snapshot->fds[i]);
		ssize_t len = readlink(path, snapshot->targets[i], sizeof(snapshot->targets[i]) - 1);
		snapshot->targets[i][len > 0 ? len : 0] = '\0';
		snapshot->cloexec[i] = fd_is_cloexec(snapshot->fds[i]);
	}
}

DMAB_TEST(fd_every_fd_is_cloexec)
{
	int before[1024];
	size_t before_len = list_fds(before, 1024);
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 64, 64, ARGB,
		0, "cloexec");
	CHECK(buffer != NULL);
	struct dmab_client_attachment *writer = attach_mapped(buffer, RW, WRITE);
	struct dmab_client_attachment *reader = attach_mapped(buffer, RO, READ);
	CHECK(fd_is_cloexec(dmab_client_attachment_get_fd(writer)));
	CHECK(fd_is_cloexec(dmab_client_attachment_get_fd(reader)));
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	int fence_fd = dmab_client_buffer_get_fence_fd(buffer, true);
	CHECK(fence_fd >= 0);
	CHECK(fd_is_cloexec(fence_fd));

	/* As received, before the library could have fixed anything. */
	struct raw_attachment raw;
	raw_attachment_listen(&raw, dmabroker_buffer_v1_attach(dmab_client_buffer_get_proxy(
		buffer), RW, 0, 0, 1));
	dmabroker_attachment_v1_map(raw.proxy, READ);
	struct raw_fence fence;
	raw_fence_listen(&fence, dmabroker_buffer_v1_get_fence(dmab_client_buffer_get_proxy(
		buffer), DMABROKER_BUFFER_V1_FENCE_KIND_WRITE));
	CHECK(dispatch_until(c->display, fence_has_fd, &fence, 1000));
	CHECK_EQ(raw.mapped_count, 1);
	CHECK(raw.fd_cloexec);
	CHECK(fence.fd_cloexec);

	/*
	 * The broker's own fds in this process: storage, reopened fds, fence sockets. The
	 * snapshot is taken on the server thread, which opens and closes short-lived fds
	 * (exported sync_files) while it runs.
	 */
	struct fd_snapshot snapshot = { 0 };
	fixture_run(f, take_fd_snapshot, &snapshot);
	size_t checked = 0;
	for (size_t i = 0; i < snapshot.len; i++) {
		bool old = false;
		for (size_t j = 0; j < before_len && !old; j++)
			old = before[j] == snapshot.fds[i];
		if (old)
			continue;
		if (!snapshot.cloexec[i])
			dmab_test_fail(__FILE__, __LINE__, "fd %d (%s) is not close-on-exec",
				snapshot.fds[i], snapshot.targets[i]);
		checked++;
	}
	printf("# %zu new fds, all close-on-exec\n", checked);

	close(fence_fd);
	raw_fence_destroy(&fence);
	raw_attachment_destroy(&raw);
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	fixture_destroy(f);
}

static void check_lseek(int fd, uint64_t size)
{
	CHECK_EQ(lseek(fd, 0, SEEK_END), (off_t)size);
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
}

DMAB_TEST(fd_lseek_discovers_the_size)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 100, 30, ARGB,
		0, "lseek");
	CHECK(buffer != NULL);
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(buffer, &layout);
	struct dmab_client_attachment *writer = attach_mapped(buffer, RW, WRITE);
	struct dmab_client_attachment *reader = attach_mapped(buffer, RO, READ);
	check_lseek(dmab_client_attachment_get_fd(writer), layout.size);
	check_lseek(dmab_client_attachment_get_fd(reader), layout.size);

	struct raw_attachment raw;
	raw_attachment_listen(&raw, dmabroker_buffer_v1_attach(dmab_client_buffer_get_proxy(
		buffer), RO, 0, 0, 1));
	dmabroker_attachment_v1_map(raw.proxy, READ);
	ROUNDTRIP(c->display);
	CHECK_EQ(raw.mapped_count, 1);
	CHECK((uint64_t)raw.offset + raw.size <= layout.size);
	CHECK(raw.size >= (uint64_t)raw.stride * (30 - 1) + 100 * 4);
	check_lseek(raw.fd, layout.size);
	raw_attachment_destroy(&raw);
	fixture_destroy(f);
}

enum { IMP_WIDTH = 60, IMP_HEIGHT = 32, IMP_STRIDE = 256, IMP_ROW = IMP_WIDTH * 4 };

static void import_sealed_memfd(uint32_t offset)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	size_t size = offset + (size_t)IMP_STRIDE * IMP_HEIGHT;
	int fd = make_memfd(size, 0);
	uint8_t *data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(data != MAP_FAILED);
	pattern_fill(data + offset, IMP_STRIDE, IMP_ROW, IMP_HEIGHT, 21);
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);

	struct dmab_client_buffer *buffer = dmab_client_buffer_import_fd(c->client, fd, ARGB,
		IMP_WIDTH, IMP_HEIGHT, offset, IMP_STRIDE, 0);
	CHECK(buffer != NULL);
	CHECK(fcntl(fd, F_GETFD) >= 0); /* the caller keeps its fd */
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(buffer, &layout);
	CHECK_EQ(layout.width, IMP_WIDTH);
	CHECK_EQ(layout.height, IMP_HEIGHT);
	CHECK_EQ(layout.stride, IMP_STRIDE);
	CHECK_EQ(layout.access, RW);
	CHECK_EQ(layout.size, size);

	struct dmab_client_attachment *reader = attach_mapped(buffer, RW, READ);
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
	CHECK(pattern_check(dmab_client_attachment_get_data(reader), IMP_STRIDE, IMP_ROW,
		IMP_HEIGHT, 21));
	CHECK_EQ(dmab_client_attachment_end(reader), 0);

	/* The broker co-owns the client's storage: writes through it land in the memfd. */
	struct dmab_client_attachment *writer = attach_mapped(buffer, RW, WRITE);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	pattern_fill(dmab_client_attachment_get_data(writer), IMP_STRIDE, IMP_ROW, IMP_HEIGHT,
		22);
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	CHECK(pattern_check(data + offset, IMP_STRIDE, IMP_ROW, IMP_HEIGHT, 22));
	munmap(data, size);
	close(fd);
	fixture_destroy(f);
}

DMAB_TEST(import_dmabuf_sealed_memfd)
{
	import_sealed_memfd(0);
}

/* An offset that is not page aligned: the library maps from 0 and adds it. */
DMAB_TEST(import_dmabuf_sealed_memfd_at_offset)
{
	import_sealed_memfd(100);
}

/* --- no fd leaks whichever way an object goes --- */

static bool synced(const void *data)
{
	return *(const bool *)data;
}

static void sync_done(void *data, struct wl_callback *callback, uint32_t serial)
{
	*(bool *)data = true;
	wl_callback_destroy(callback);
}

static const struct wl_callback_listener sync_listener = { .done = sync_done };

DMAB_TEST(fd_mapped_event_to_destroyed_attachment_is_closed)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 64, 64, ARGB,
		0, "in flight");
	CHECK(buffer != NULL);
	struct dmabroker_buffer_v1 *proxy = dmab_client_buffer_get_proxy(buffer);
	/* The first map allocates the storage (an fd of the broker's): keep it out of the count. */
	attach_mapped(buffer, RW, READ);
	int baseline = fixture_count_fds(f);

	/* Destroyed before the mapped event arrives: it reaches a zombie. */
	struct raw_attachment early;
	raw_attachment_listen(&early, dmabroker_buffer_v1_attach(proxy, RW, 0, 0, 1));
	dmabroker_attachment_v1_map(early.proxy, WRITE);
	raw_attachment_destroy(&early);
	ROUNDTRIP(c->display);
	CHECK_EQ(early.mapped_count, 0);
	CHECK_EQ(fixture_count_fds(f), baseline);

	/* Destroyed with the event read in but not yet dispatched. */
	struct raw_attachment queued;
	raw_attachment_listen(&queued, dmabroker_buffer_v1_attach(proxy, RW, 0, 0, 1));
	dmabroker_attachment_v1_map(queued.proxy, READ);
	bool done = false;
	wl_callback_add_listener(wl_display_sync(c->display), &sync_listener, &done);
	while (wl_display_prepare_read(c->display) != 0)
		CHECK(wl_display_dispatch_pending(c->display) >= 0);
	CHECK(wl_display_flush(c->display) >= 0);
	struct pollfd pfd = { .fd = wl_display_get_fd(c->display), .events = POLLIN };
	CHECK_EQ(poll(&pfd, 1, 1000), 1);
	CHECK(wl_display_read_events(c->display) >= 0);
	raw_attachment_destroy(&queued);
	CHECK(dispatch_until(c->display, synced, &done, 1000));
	CHECK_EQ(queued.mapped_count, 0);
	CHECK_EQ(fixture_count_fds(f), baseline);
	fixture_destroy(f);
}

DMAB_TEST(client_destroy_frees_everything)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *observer = fixture_client(f);
	int baseline = fixture_count_fds(f);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 64, 64, ARGB,
		0, "everything");
	CHECK(buffer != NULL);
	CHECK(dmab_client_buffer_get_wl_buffer(buffer) != NULL);
	CHECK(dmab_client_token_create(buffer, RO) != NULL);
	struct dmab_client_attachment *writer = attach_mapped(buffer, RW, WRITE);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	attach_mapped(buffer, RO, READ);
	struct dmab_client_buffer *imported = dmab_client_buffer_import_fd(c->client,
		dmab_client_attachment_get_fd(writer), ARGB, 64, 64, 0, 256, 0);
	CHECK(imported != NULL);
	attach_mapped(imported, RO, READ);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);

	fixture_client_close(c);
	struct info_snapshot snap;
	CHECK(info_snapshot_take(observer->display, dmab_client_get_manager(observer->client),
		&snap));
	CHECK_EQ(snap.buffers_len, 0);
	CHECK_EQ(fixture_count_fds(f), baseline);
	fixture_destroy(f);
}
