/* SPDX-License-Identifier: MIT */
/*
 * Real dma-bufs and the kernel's fences: sync_files from a dma-buf's implicit
 * fences, sync_file acquire fences, and vgem's fences (tests/kernel/vgem.h)
 * holding the compositor's reads. Each test skips, saying why, where the
 * allocator gives no dma-buf or /dev/dri/card0 is not vgem: the kernel tier
 * runs them on udmabuf, dma-heap and drm-dumb.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/sync_file.h>

#include "compositor.h"
#include "fixture.h"
#include "harness.h"
#include "util.h"
#include "vgem.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

enum { WIDTH = 32, HEIGHT = 16, ROW = WIDTH * 4, SEED = 13 };

static bool readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

static bool is_sync_file(int fd)
{
	struct sync_file_info info = { 0 };
	return ioctl(fd, SYNC_IOC_FILE_INFO, &info) == 0;
}

static bool att_ready(const void *data)
{
	return dmab_client_attachment_is_ready((struct dmab_client_attachment *)data);
}

/* A client's buffer with a writer mapped; skips the test unless the storage is a dma-buf. */
struct scene {
	struct fixture *f;
	struct fixture_client *a;
	struct dmab_client_buffer *buffer;
	struct dmab_client_attachment *writer;
	int dmabuf; /* the writer's mapping, owned by the library */
};

static void scene_init(struct scene *s)
{
	s->f = fixture_create(NULL);
	s->a = fixture_client(s->f);
	s->buffer = dmab_client_buffer_create(s->a->client, WIDTH, HEIGHT, ARGB,
		DMABROKER_MANAGER_V1_USAGE_COMPOSITE, "sync_file");
	CHECK(s->buffer != NULL);
	s->writer = dmab_client_attachment_create(s->buffer, RW, NULL);
	CHECK_EQ(dmab_client_attachment_map(s->writer, READ | WRITE), 0);
	s->dmabuf = dmab_client_attachment_get_fd(s->writer);
	if (!(dmab_client_attachment_get_map_flags(s->writer) &
			DMABROKER_ATTACHMENT_V1_MAP_FLAGS_DMABUF)) {
		fixture_destroy(s->f);
		dmab_test_skip("allocator %s gives no dma-buf", dmab_test_allocator());
	}
}

static void scene_write(struct scene *s)
{
	CHECK_EQ(dmab_client_attachment_begin(s->writer, WRITE), 0);
	pattern_fill(dmab_client_attachment_get_data(s->writer),
		dmab_client_attachment_get_stride(s->writer), ROW, HEIGHT, SEED);
}

/* DMA_BUF_IOCTL_EXPORT_SYNC_FILE; skips on kernels before 6.0. */
static int export_sync_file(struct scene *s, int dmabuf, uint32_t flags)
{
	struct dma_buf_export_sync_file export = { .flags = flags, .fd = -1 };
	if (ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &export) < 0) {
		int error = errno;
		fixture_destroy(s->f);
		if (error == ENOTTY)
			dmab_test_skip("the kernel has no DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
		dmab_test_fail(__FILE__, __LINE__, "EXPORT_SYNC_FILE: %s", strerror(error));
	}
	return export.fd;
}

static bool fence_answered(const void *data)
{
	const struct raw_fence *fence = data;
	return fence->fd >= 0;
}

static bool fence_signaled(const void *data)
{
	const struct raw_fence *fence = data;
	return fence->signaled_count > 0;
}

static void get_fence(struct scene *s, struct raw_fence *fence, uint32_t kind)
{
	raw_fence_listen(fence, dmabroker_buffer_v1_get_fence(
		dmab_client_buffer_get_proxy(s->buffer), kind));
	CHECK(dispatch_until(s->a->display, fence_answered, fence, 2000));
	CHECK(fence->fd_cloexec);
}

DMAB_TEST(sync_file_fence_of_an_idle_dmabuf)
{
	struct scene s;
	scene_init(&s);
	for (uint32_t kind = DMABROKER_BUFFER_V1_FENCE_KIND_WRITE;
			kind <= DMABROKER_BUFFER_V1_FENCE_KIND_READ; kind++) {
		struct raw_fence fence;
		get_fence(&s, &fence, kind);
		if (fence.type == DMABROKER_FENCE_V1_FD_TYPE_SOCKET) {
			raw_fence_destroy(&fence);
			fixture_destroy(s.f);
			dmab_test_skip("the kernel has no DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
		}
		/* Only the kernel's fences can be pending, and none is. */
		CHECK_EQ(fence.type, DMABROKER_FENCE_V1_FD_TYPE_SYNC_FILE);
		CHECK(is_sync_file(fence.fd));
		CHECK(readable(fence.fd, 0));
		CHECK(dispatch_until(s.a->display, fence_signaled, &fence, 2000));
		raw_fence_destroy(&fence);
	}
	/* The broker's own write fence is pending: a socket that waits for both. */
	scene_write(&s);
	struct raw_fence fence;
	get_fence(&s, &fence, DMABROKER_BUFFER_V1_FENCE_KIND_WRITE);
	CHECK_EQ(fence.type, DMABROKER_FENCE_V1_FD_TYPE_SOCKET);
	CHECK(!readable(fence.fd, 0));
	CHECK_EQ(dmab_client_attachment_end(s.writer), 0);
	CHECK(readable(fence.fd, 2000));
	CHECK(dispatch_until(s.a->display, fence_signaled, &fence, 2000));
	raw_fence_destroy(&fence);
	fixture_destroy(s.f);
}

/* A sync_file of the kernel's (here of an idle dma-buf, so signaled) is an acquire fence. */
DMAB_TEST(sync_file_acquire_fence_is_accepted)
{
	struct scene s;
	scene_init(&s);
	scene_write(&s);
	int acquire = export_sync_file(&s, s.dmabuf, DMA_BUF_SYNC_READ);
	CHECK(is_sync_file(acquire));
	CHECK_EQ(dmab_client_attachment_set_acquire_fence(s.writer, acquire), 0);
	close(acquire);
	CHECK_EQ(dmab_client_attachment_end(s.writer), 0);
	CHECK_EQ(dmab_client_roundtrip(s.a->client), 0);
	struct comp_read read;
	comp_read_begin(&read, s.f, s.a, dmab_client_buffer_get_wl_buffer(s.buffer));
	CHECK(comp_read_wait(&read, 2000));
	CHECK(pattern_check(read.pixels.data, read.pixels.stride, ROW, HEIGHT, SEED));
	comp_read_end(&read);
	fixture_destroy(s.f);
}

/* --- vgem: real dma_fences that a test signals --- */

struct vgem {
	int fd;
	uint32_t handle;
	uint32_t fence;
};

static bool vgem_is(int fd)
{
	char name[16] = "";
	struct drm_version version = { .name = name, .name_len = sizeof(name) - 1 };
	return ioctl(fd, DRM_IOCTL_VERSION, &version) == 0 && strcmp(name, "vgem") == 0;
}

static void vgem_open(struct vgem *v, struct scene *s)
{
	*v = (struct vgem){ .fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC) };
	if (v->fd >= 0 && vgem_is(v->fd))
		return;
	if (v->fd >= 0)
		close(v->fd);
	fixture_destroy(s->f);
	dmab_test_skip("/dev/dri/card0 is not vgem");
}

static void vgem_skip(struct vgem *v, struct scene *s, const char *what)
{
	int error = errno;
	close(v->fd);
	fixture_destroy(s->f);
	dmab_test_skip("vgem: %s: %s", what, strerror(error));
}

/* The broker's dma-buf as a vgem object, to fence. */
static void vgem_import(struct vgem *v, struct scene *s, int dmabuf)
{
	struct drm_prime_handle prime = { .fd = dmabuf };
	if (ioctl(v->fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &prime) < 0)
		vgem_skip(v, s, "PRIME import of the broker's dma-buf");
	v->handle = prime.handle;
}

/* A scratch object of vgem's own, as a GPU job's buffer; returns its dma-buf. */
static int vgem_scratch(struct vgem *v, struct scene *s)
{
	struct drm_mode_create_dumb dumb = { .width = 64, .height = 64, .bpp = 32 };
	if (ioctl(v->fd, DRM_IOCTL_MODE_CREATE_DUMB, &dumb) < 0)
		vgem_skip(v, s, "a dumb buffer");
	v->handle = dumb.handle;
	struct drm_prime_handle prime = { .handle = dumb.handle, .flags = DRM_CLOEXEC };
	CHECK_EQ(ioctl(v->fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime), 0);
	return prime.fd;
}

static void vgem_fence_attach(struct vgem *v)
{
	struct drm_vgem_fence_attach attach = { .handle = v->handle, .flags = VGEM_FENCE_WRITE };
	CHECK_EQ(ioctl(v->fd, DRM_IOCTL_VGEM_FENCE_ATTACH, &attach), 0);
	v->fence = attach.out_fence;
}

static void vgem_fence_signal(struct vgem *v)
{
	struct drm_vgem_fence_signal signal = { .fence = v->fence };
	CHECK_EQ(ioctl(v->fd, DRM_IOCTL_VGEM_FENCE_SIGNAL, &signal), 0);
}

static void vgem_close(struct vgem *v)
{
	struct drm_gem_close gem_close = { .handle = v->handle };
	CHECK_EQ(ioctl(v->fd, DRM_IOCTL_GEM_CLOSE, &gem_close), 0);
	close(v->fd);
}

/*
 * A frame that the CPU wrote and a device still writes: the broker grants the
 * compositor's READ bracket, and the read waits for the kernel's fence.
 */
DMAB_TEST(vgem_implicit_fence_holds_the_compositor)
{
	struct scene s;
	scene_init(&s);
	struct vgem v;
	vgem_open(&v, &s);
	vgem_import(&v, &s, s.dmabuf);
	scene_write(&s);
	CHECK_EQ(dmab_client_attachment_end(s.writer), 0);
	vgem_fence_attach(&v);

	/* Only the kernel's fences are pending: sync_files of them (kernels >= 6.0). */
	struct raw_fence write_fence, read_fence;
	get_fence(&s, &write_fence, DMABROKER_BUFFER_V1_FENCE_KIND_WRITE);
	get_fence(&s, &read_fence, DMABROKER_BUFFER_V1_FENCE_KIND_READ);
	CHECK_EQ(read_fence.type, write_fence.type);
	if (write_fence.type == DMABROKER_FENCE_V1_FD_TYPE_SYNC_FILE) {
		CHECK(is_sync_file(write_fence.fd));
		CHECK(is_sync_file(read_fence.fd));
	}
	CHECK(!readable(write_fence.fd, 0));
	CHECK(!readable(read_fence.fd, 0));

	struct comp_read read;
	comp_read_begin(&read, s.f, s.a, dmab_client_buffer_get_wl_buffer(s.buffer));
	CHECK(read.read != NULL);
	CHECK(!comp_read_ready(&read));
	/* The compositor's READ bracket is a read fence of the broker's: an eventfd. */
	struct raw_fence composite;
	get_fence(&s, &composite, DMABROKER_BUFFER_V1_FENCE_KIND_READ);
	CHECK_EQ(composite.type, DMABROKER_FENCE_V1_FD_TYPE_SOCKET);
	dispatch_for(s.a->display, 100);
	CHECK_EQ(write_fence.signaled_count, 0);
	CHECK(!comp_read_ready(&read));

	vgem_fence_signal(&v);
	CHECK(comp_read_wait(&read, 5000));
	CHECK_EQ(read.ready_calls, 1);
	CHECK(pattern_check(read.pixels.data, read.pixels.stride, ROW, HEIGHT, SEED));
	CHECK(readable(write_fence.fd, 2000));
	CHECK(dispatch_until(s.a->display, fence_signaled, &write_fence, 2000));
	CHECK(readable(read_fence.fd, 2000));
	CHECK(!readable(composite.fd, 0));
	comp_read_end(&read);
	CHECK(readable(composite.fd, 2000));
	raw_fence_destroy(&write_fence);
	raw_fence_destroy(&read_fence);
	raw_fence_destroy(&composite);
	vgem_close(&v);
	fixture_destroy(s.f);
}

/*
 * A GPU job (a vgem fence on a scratch object) finishes the frame: its
 * sync_file is the acquire fence. Readers and the compositor wait for it, and
 * the broker adds it to the dma-buf's implicit fences.
 */
DMAB_TEST(vgem_acquire_sync_file_holds_readers_and_the_compositor)
{
	struct scene s;
	scene_init(&s);
	struct vgem v;
	vgem_open(&v, &s);
	int scratch = vgem_scratch(&v, &s);
	vgem_fence_attach(&v);
	int acquire = export_sync_file(&s, scratch, DMA_BUF_SYNC_READ);
	CHECK(!readable(acquire, 0));

	struct fixture_client *b = fixture_client(s.f);
	struct dmab_client_token *token = dmab_client_token_create(s.buffer, RO);
	CHECK(token != NULL);
	struct dmab_client_buffer *consumed = dmab_client_buffer_import(b->client,
		dmab_client_token_get_string(token));
	CHECK(consumed != NULL);
	struct dmab_client_attachment *reader = dmab_client_attachment_create(consumed, RO, NULL);
	CHECK_EQ(dmab_client_attachment_map(reader, READ), 0);

	scene_write(&s);
	CHECK_EQ(dmab_client_attachment_set_acquire_fence(s.writer, acquire), 0);
	close(acquire);
	CHECK_EQ(dmab_client_attachment_end(s.writer), 0);
	CHECK_EQ(dmab_client_roundtrip(s.a->client), 0);
	/* DMA_BUF_IOCTL_IMPORT_SYNC_FILE: implicitly synchronized importers wait too. */
	CHECK(!readable(s.dmabuf, 0));

	CHECK_EQ(dmab_client_attachment_begin_async(reader, READ), 0);
	struct comp_read read;
	comp_read_begin(&read, s.f, s.a, dmab_client_buffer_get_wl_buffer(s.buffer));
	struct raw_fence write_fence;
	get_fence(&s, &write_fence, DMABROKER_BUFFER_V1_FENCE_KIND_WRITE);
	CHECK_EQ(write_fence.type, DMABROKER_FENCE_V1_FD_TYPE_SOCKET);
	dispatch_for(b->display, 100);
	CHECK(!dmab_client_attachment_is_ready(reader));
	CHECK(!comp_read_ready(&read));
	CHECK(!readable(write_fence.fd, 0));

	vgem_fence_signal(&v);
	CHECK(dispatch_until(b->display, att_ready, reader, 5000));
	CHECK(pattern_check(dmab_client_attachment_get_data(reader),
		dmab_client_attachment_get_stride(reader), ROW, HEIGHT, SEED));
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	CHECK(comp_read_wait(&read, 5000));
	CHECK(pattern_check(read.pixels.data, read.pixels.stride, ROW, HEIGHT, SEED));
	CHECK(readable(write_fence.fd, 2000));
	CHECK(readable(s.dmabuf, 2000));
	comp_read_end(&read);
	raw_fence_destroy(&write_fence);
	close(scratch);
	vgem_close(&v);
	fixture_destroy(s.f);
}

static bool raw_mapped(const void *data)
{
	const struct raw_attachment *att = data;
	return att->mapped_count > 0;
}

static bool sync_done(const void *data)
{
	return *(const bool *)data;
}

static void handle_sync_done(void *data, struct wl_callback *callback, uint32_t time)
{
	*(bool *)data = true;
	wl_callback_destroy(callback);
}

static const struct wl_callback_listener sync_listener = { .done = handle_sync_done };

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/*
 * A migration of dma-buf storage that a device still uses: the broker waits
 * for the kernel's fences in its event loop, and an unrelated client's
 * roundtrip is answered meanwhile (the broker used to sleep in
 * DMA_BUF_IOCTL_SYNC, for up to vgem's 10 s).
 */
DMAB_TEST(vgem_fenced_migration_does_not_stall_the_broker)
{
	struct scene s;
	scene_init(&s);
	struct vgem v;
	vgem_open(&v, &s);
	vgem_import(&v, &s, s.dmabuf);
	scene_write(&s);
	CHECK_EQ(dmab_client_attachment_end(s.writer), 0);
	vgem_fence_attach(&v);

	/* The creator asks for stricter storage: the buffer must move. */
	struct raw_attachment strict;
	raw_attachment_listen(&strict, dmabroker_buffer_v1_attach(
		dmab_client_buffer_get_proxy(s.buffer), RO, 0, 4096, 1));
	ROUNDTRIP(s.a->display);
	CHECK(!strict.failed);
	CHECK(dmab_client_attachment_moved(s.writer));
	CHECK_EQ(dmab_client_attachment_unmap(s.writer), 0);
	dmabroker_attachment_v1_map(strict.proxy, READ);
	ROUNDTRIP(s.a->display);
	CHECK_EQ(strict.mapped_count, 0);

	struct fixture_client *other = fixture_connect(s.f);
	bool done = false;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	wl_callback_add_listener(wl_display_sync(other->display), &sync_listener, &done);
	CHECK(dispatch_until(other->display, sync_done, &done, 2000));
	printf("# an unrelated roundtrip took %ld ms while the old storage was fenced\n",
		elapsed_ms(&start));
	CHECK_EQ(strict.mapped_count, 0);

	vgem_fence_signal(&v);
	CHECK(dispatch_until(s.a->display, raw_mapped, &strict, 5000));
	CHECK_EQ(strict.stride % 4096, 0);
	dmabroker_attachment_v1_begin_access(strict.proxy, READ);
	ROUNDTRIP(s.a->display);
	CHECK_EQ(strict.ready_count, 1);
	void *data = mmap(NULL, strict.size, PROT_READ, MAP_SHARED, strict.fd, strict.offset);
	CHECK(data != MAP_FAILED);
	CHECK(pattern_check(data, strict.stride, ROW, HEIGHT, SEED));
	munmap(data, strict.size);
	dmabroker_attachment_v1_end_access(strict.proxy, READ);
	raw_attachment_destroy(&strict);
	vgem_close(&v);
	fixture_destroy(s.f);
}
