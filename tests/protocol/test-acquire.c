/* SPDX-License-Identifier: MIT */
/*
 * Acquire fences with eventfds, which every kernel has: a writer that ends its
 * bracket while its device work is pending holds back readers and the
 * compositor until the fence signals. And the fence of a defunct buffer.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "compositor.h"
#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

enum { WIDTH = 40, HEIGHT = 30, ROW = WIDTH * 4, SEED = 5 };

static bool readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

static bool att_ready(const void *data)
{
	return dmab_client_attachment_is_ready((struct dmab_client_attachment *)data);
}

static void signal_eventfd(int fd)
{
	uint64_t one = 1;
	CHECK_EQ(write(fd, &one, sizeof(one)), sizeof(one));
}

/* A's buffer, written inside a bracket that ends with a pending eventfd acquire fence. */
struct scene {
	struct fixture *f;
	struct fixture_client *a, *b;
	struct dmab_client_buffer *produced;
	struct dmab_client_attachment *writer, *reader;
	int acquire; /* the eventfd */
};

static void scene_init(struct scene *s, struct fixture *f)
{
	s->f = f;
	s->a = fixture_client(f);
	s->b = fixture_client(f);
	s->produced = dmab_client_buffer_create(s->a->client, WIDTH, HEIGHT, ARGB,
		DMABROKER_MANAGER_V1_USAGE_COMPOSITE, "acquire");
	CHECK(s->produced != NULL);
	s->writer = dmab_client_attachment_create(s->produced, RW, NULL);
	CHECK_EQ(dmab_client_attachment_map(s->writer, WRITE), 0);
	struct dmab_client_token *token = dmab_client_token_create(s->produced, RO);
	CHECK(token != NULL);
	struct dmab_client_buffer *consumed = dmab_client_buffer_import(s->b->client,
		dmab_client_token_get_string(token));
	CHECK(consumed != NULL);
	s->reader = dmab_client_attachment_create(consumed, RO, NULL);
	CHECK_EQ(dmab_client_attachment_map(s->reader, READ), 0);

	CHECK_EQ(dmab_client_attachment_begin(s->writer, WRITE), 0);
	pattern_fill(dmab_client_attachment_get_data(s->writer),
		dmab_client_attachment_get_stride(s->writer), ROW, HEIGHT, SEED);
	s->acquire = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(s->acquire >= 0);
	CHECK_EQ(dmab_client_attachment_set_acquire_fence(s->writer, s->acquire), 0);
	CHECK_EQ(dmab_client_attachment_end(s->writer), 0);
	CHECK_EQ(dmab_client_roundtrip(s->a->client), 0);
}

/* The reader waits for the acquire fence; so does a write fence taken now. */
static int scene_expect_held(struct scene *s)
{
	CHECK_EQ(dmab_client_attachment_begin_async(s->reader, READ), 0);
	CHECK_EQ(dmab_client_roundtrip(s->b->client), 0);
	CHECK(!dmab_client_attachment_is_ready(s->reader));
	int write_fence = dmab_client_buffer_get_fence_fd(s->produced, true);
	CHECK(write_fence >= 0);
	CHECK(!readable(write_fence, 0));
	return write_fence;
}

static void scene_finish(struct scene *s)
{
	close(s->acquire);
	fixture_destroy(s->f);
}

DMAB_TEST(acquire_eventfd_holds_readers_and_the_compositor)
{
	struct scene s;
	scene_init(&s, fixture_create(NULL));
	int write_fence = scene_expect_held(&s);
	struct comp_read read;
	comp_read_begin(&read, s.f, s.a, dmab_client_buffer_get_wl_buffer(s.produced));
	CHECK(read.is_wl_buffer);
	CHECK(read.read != NULL);
	CHECK(!comp_read_ready(&read));
	/* Nothing changes until the device work is done. */
	dispatch_for(s.b->display, 50);
	CHECK(!dmab_client_attachment_is_ready(s.reader));
	CHECK(!comp_read_ready(&read));

	signal_eventfd(s.acquire);
	CHECK(dispatch_until(s.b->display, att_ready, s.reader, 2000));
	CHECK(readable(write_fence, 2000));
	CHECK(comp_read_wait(&read, 2000));
	CHECK_EQ(read.ready_calls, 1);
	CHECK(pattern_check(read.pixels.data, read.pixels.stride, ROW, HEIGHT, SEED));
	CHECK(pattern_check(dmab_client_attachment_get_data(s.reader),
		dmab_client_attachment_get_stride(s.reader), ROW, HEIGHT, SEED));
	CHECK_EQ(dmab_client_attachment_end(s.reader), 0);
	comp_read_end(&read);
	close(write_fence);
	scene_finish(&s);
}

/*
 * Only the client that sent an eventfd can write it: once it is gone, nothing
 * is left to wait for.
 */
DMAB_TEST(acquire_eventfd_of_a_dead_client_is_released)
{
	struct scene s;
	scene_init(&s, fixture_create(NULL));
	int write_fence = scene_expect_held(&s);
	fixture_client_close(s.a);
	CHECK(dispatch_until(s.b->display, att_ready, s.reader, 2000));
	CHECK(readable(write_fence, 2000));
	CHECK_EQ(dmab_client_attachment_end(s.reader), 0);
	close(write_fence);
	scene_finish(&s);
}

/* A live client may still signal its eventfd: its attachment going away does not end the wait. */
DMAB_TEST(acquire_eventfd_outlives_the_attachment)
{
	struct scene s;
	scene_init(&s, fixture_create(NULL));
	int write_fence = scene_expect_held(&s);
	dmab_client_attachment_destroy(s.writer);
	CHECK_EQ(dmab_client_roundtrip(s.a->client), 0);
	CHECK_EQ(dmab_client_roundtrip(s.b->client), 0);
	CHECK(!dmab_client_attachment_is_ready(s.reader));
	CHECK(!readable(write_fence, 0));
	signal_eventfd(s.acquire);
	CHECK(dispatch_until(s.b->display, att_ready, s.reader, 2000));
	CHECK(readable(write_fence, 2000));
	CHECK_EQ(dmab_client_attachment_end(s.reader), 0);
	close(write_fence);
	scene_finish(&s);
}

/* An eventfd that is readable already: the end of the bracket releases at once. */
DMAB_TEST(acquire_eventfd_signaled_already)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, WIDTH, HEIGHT,
		ARGB, 0, "done");
	CHECK(buffer != NULL);
	struct dmab_client_attachment *writer = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK_EQ(dmab_client_attachment_map(writer, READ | WRITE), 0);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	int acquire = eventfd(1, EFD_CLOEXEC);
	CHECK(acquire >= 0);
	CHECK_EQ(dmab_client_attachment_set_acquire_fence(writer, acquire), 0);
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	CHECK_EQ(dmab_client_attachment_begin(writer, READ), 0);
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	/* The broker only polls the eventfd: its count is the client's. */
	uint64_t count = 0;
	CHECK_EQ(read(acquire, &count, sizeof(count)), sizeof(count));
	CHECK_EQ(count, 1);
	close(acquire);
	fixture_destroy(f);
}

DMAB_TEST(acquire_client_library_checks)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, WIDTH, HEIGHT,
		ARGB, 0, "checks");
	CHECK(buffer != NULL);
	struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK_EQ(dmab_client_attachment_map(att, READ | WRITE), 0);
	int acquire = eventfd(0, EFD_CLOEXEC);
	CHECK(acquire >= 0);
	CHECK_EQ(dmab_client_attachment_set_acquire_fence(att, acquire), -EINVAL);
	CHECK_EQ(dmab_client_attachment_begin(att, READ), 0);
	CHECK_EQ(dmab_client_attachment_set_acquire_fence(att, acquire), -EINVAL);
	CHECK_EQ(dmab_client_attachment_end(att), 0);
	CHECK_EQ(dmab_client_attachment_begin(att, WRITE), 0);
	CHECK_EQ(dmab_client_attachment_set_acquire_fence(att, -1), -EBADF);
	CHECK_EQ(dmab_client_attachment_set_acquire_fence(att, acquire), 0);
	CHECK_EQ(dmab_client_attachment_set_acquire_fence(att, acquire), -EBUSY);
	signal_eventfd(acquire);
	CHECK_EQ(dmab_client_attachment_end(att), 0);
	/* A new bracket takes a new fence. */
	CHECK_EQ(dmab_client_attachment_begin(att, WRITE), 0);
	CHECK_EQ(dmab_client_attachment_set_acquire_fence(att, acquire), 0);
	CHECK_EQ(dmab_client_attachment_end(att), 0);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	close(acquire);
	fixture_destroy(f);
}

static bool fence_has_fd_and_signaled(const void *data)
{
	const struct raw_fence *fence = data;
	return fence->fd >= 0 && fence->signaled_count > 0;
}

/* Nothing can ever write or read a defunct buffer, so its fences have signaled. */
DMAB_TEST(fence_of_a_defunct_buffer_is_born_signaled)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct raw_buffer defunct;
	raw_buffer_listen(&defunct, dmabroker_manager_v1_import_buffer(
		dmab_client_get_manager(c->client), UTIL_BOGUS_TOKEN));
	ROUNDTRIP(c->display);
	CHECK(defunct.failed);
	for (uint32_t kind = DMABROKER_BUFFER_V1_FENCE_KIND_WRITE;
			kind <= DMABROKER_BUFFER_V1_FENCE_KIND_READ; kind++) {
		struct raw_fence fence;
		raw_fence_listen(&fence, dmabroker_buffer_v1_get_fence(defunct.proxy, kind));
		CHECK(dispatch_until(c->display, fence_has_fd_and_signaled, &fence, 1000));
		CHECK_EQ(fence.type, DMABROKER_FENCE_V1_FD_TYPE_SOCKET);
		CHECK(fence.fd_cloexec);
		CHECK(readable(fence.fd, 0));
		CHECK_EQ(fence.signaled_count, 1);
		raw_fence_destroy(&fence);
	}
	raw_buffer_destroy(&defunct);
	ROUNDTRIP(c->display);
	fixture_destroy(f);
}
