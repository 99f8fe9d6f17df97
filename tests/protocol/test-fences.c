/* SPDX-License-Identifier: MIT */
/* Fences as pollable fds: the write fence, the read fences, and the signaled event. */
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

static bool readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int ret = poll(&pfd, 1, timeout_ms);
	CHECK(ret >= 0);
	return ret == 1 && (pfd.revents & POLLIN);
}

static bool fence_signaled(const void *data)
{
	const struct raw_fence *fence = data;
	return fence->signaled_count > 0;
}

static void check_fd_type(const struct raw_fence *fence)
{
	CHECK(fence->type == DMABROKER_FENCE_V1_FD_TYPE_SOCKET ||
		fence->type == DMABROKER_FENCE_V1_FD_TYPE_SYNC_FILE);
}

DMAB_TEST(fence_write_signals_at_end_access)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *produced = dmab_client_buffer_create(a->client, 64, 64, ARGB,
		0, "write fence");
	CHECK(produced != NULL);
	struct dmab_client_buffer *consumed = import_via_token(b, produced, RO);

	/* Nothing written: the write fence has signaled already. */
	int idle = dmab_client_buffer_get_fence_fd(consumed, true);
	CHECK(idle >= 0);
	CHECK(readable(idle, 0));
	close(idle);

	struct dmab_client_attachment *writer = attach_mapped(produced, RW, WRITE);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	int fd = dmab_client_buffer_get_fence_fd(consumed, true);
	CHECK(fd >= 0);
	struct raw_fence fence;
	raw_fence_listen(&fence, dmabroker_buffer_v1_get_fence(dmab_client_buffer_get_proxy(
		consumed), DMABROKER_BUFFER_V1_FENCE_KIND_WRITE));
	ROUNDTRIP(b->display);
	CHECK(fence.fd >= 0);
	check_fd_type(&fence);
	CHECK(!readable(fd, 0));
	CHECK(!readable(fence.fd, 0));
	CHECK_EQ(fence.signaled_count, 0);
	/* A reader's bracket does not touch the write fence. */
	struct dmab_client_attachment *reader = attach_mapped(consumed, RO, READ);
	CHECK_EQ(dmab_client_attachment_begin_async(reader, READ), 0);
	CHECK_EQ(dmab_client_roundtrip(b->client), 0);
	CHECK(!readable(fd, 0));

	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	CHECK(readable(fd, 1000));
	CHECK(readable(fence.fd, 1000));
	CHECK(dispatch_until(b->display, fence_signaled, &fence, 1000));
	CHECK_EQ(fence.signaled_count, 1);
	close(fd);
	raw_fence_destroy(&fence);
	fixture_destroy(f);
}

DMAB_TEST(fence_read_waits_for_every_reader)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *produced = dmab_client_buffer_create(a->client, 64, 64, ARGB,
		0, "read fences");
	CHECK(produced != NULL);
	struct dmab_client_attachment *first = attach_mapped(produced, RW, READ);
	struct dmab_client_attachment *second = attach_mapped(import_via_token(b, produced, RO),
		RO, READ);
	struct dmab_client_buffer *watched = import_via_token(c, produced, RO);

	int idle = dmab_client_buffer_get_fence_fd(watched, false);
	CHECK(idle >= 0);
	CHECK(readable(idle, 0));
	close(idle);

	CHECK_EQ(dmab_client_attachment_begin(first, READ), 0);
	CHECK_EQ(dmab_client_attachment_begin(second, READ), 0);
	int both = dmab_client_buffer_get_fence_fd(watched, false);
	CHECK(both >= 0);
	struct raw_fence fence;
	raw_fence_listen(&fence, dmabroker_buffer_v1_get_fence(dmab_client_buffer_get_proxy(
		watched), DMABROKER_BUFFER_V1_FENCE_KIND_READ));
	ROUNDTRIP(c->display);
	check_fd_type(&fence);
	CHECK(!readable(both, 0));

	CHECK_EQ(dmab_client_attachment_end(first), 0);
	CHECK_EQ(dmab_client_roundtrip(a->client), 0);
	CHECK(!readable(both, 0));
	ROUNDTRIP(c->display);
	CHECK_EQ(fence.signaled_count, 0);
	/* A snapshot: a reader that begins now is not part of the fence. */
	int only_second = dmab_client_buffer_get_fence_fd(watched, false);
	CHECK(only_second >= 0);
	CHECK_EQ(dmab_client_attachment_begin(first, READ), 0);

	CHECK_EQ(dmab_client_attachment_end(second), 0);
	CHECK(readable(both, 1000));
	CHECK(readable(only_second, 1000));
	CHECK(dispatch_until(c->display, fence_signaled, &fence, 1000));
	int later = dmab_client_buffer_get_fence_fd(watched, false);
	CHECK(later >= 0);
	CHECK(!readable(later, 0));
	CHECK_EQ(dmab_client_attachment_end(first), 0);
	CHECK(readable(later, 1000));
	close(later);
	close(only_second);
	close(both);
	raw_fence_destroy(&fence);
	fixture_destroy(f);
}

/* A writer's begin waits for every read fence. */
DMAB_TEST(fence_writer_waits_for_read_fences)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *produced = dmab_client_buffer_create(a->client, 64, 64, ARGB,
		0, "writer waits");
	CHECK(produced != NULL);
	struct dmab_client_attachment *writer = attach_mapped(produced, RW, WRITE);
	struct dmab_client_attachment *reader = attach_mapped(import_via_token(b, produced, RO),
		RO, READ);
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
	int read_fence = dmab_client_buffer_get_fence_fd(produced, false);
	CHECK(read_fence >= 0);
	CHECK_EQ(dmab_client_attachment_begin_async(writer, WRITE), 0);
	CHECK_EQ(dmab_client_roundtrip(a->client), 0);
	CHECK(!dmab_client_attachment_is_ready(writer));
	CHECK(!readable(read_fence, 0));
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	CHECK(readable(read_fence, 1000));
	CHECK_EQ(dmab_client_roundtrip(b->client), 0);
	CHECK_EQ(dmab_client_roundtrip(a->client), 0);
	CHECK(dmab_client_attachment_is_ready(writer));
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	close(read_fence);
	fixture_destroy(f);
}

/*
 * A client may fool only itself: whatever it does to its fence fd, another
 * client's fd and the broker's fence stay unsignaled, readers keep waiting,
 * and the broker signals them all when the writer ends. With an eventfd, the
 * write made B's fd readable, and with O_NONBLOCK cleared and the counter full
 * the broker blocked forever in its own write at signal.
 */
DMAB_TEST(fence_fd_written_by_a_client_fools_only_itself)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *produced = dmab_client_buffer_create(a->client, 64, 64, ARGB,
		0, "forged fence");
	CHECK(produced != NULL);
	struct dmab_client_buffer *forger = import_via_token(b, produced, RO);
	struct dmab_client_buffer *watched = import_via_token(c, produced, RO);
	struct dmab_client_attachment *writer = attach_mapped(produced, RW, WRITE);
	struct dmab_client_attachment *reader = attach_mapped(watched, RO, READ);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);

	int forged = dmab_client_buffer_get_fence_fd(forger, true);
	int honest = dmab_client_buffer_get_fence_fd(watched, true);
	CHECK(forged >= 0 && honest >= 0);
	struct raw_fence fence;
	raw_fence_listen(&fence, dmabroker_buffer_v1_get_fence(dmab_client_buffer_get_proxy(
		watched), DMABROKER_BUFFER_V1_FENCE_KIND_WRITE));
	ROUNDTRIP(c->display);
	CHECK(fence.fd >= 0);

	signal(SIGPIPE, SIG_IGN);
	CHECK_EQ(fcntl(forged, F_SETFL, 0), 0);
	uint64_t full = UINT64_MAX - 1;
	errno = 0;
	ssize_t written = write(forged, &full, sizeof(full));
	int write_errno = errno;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", forged);
	int reopened = open(path, O_WRONLY | O_CLOEXEC);
	int reopen_errno = errno;
	if (reopened >= 0) {
		written = write(reopened, &full, sizeof(full));
		close(reopened);
	}
	printf("# write on the fence fd: %s; reopen O_WRONLY: %s\n",
		written < 0 ? strerror(write_errno) : "succeeds",
		reopened < 0 ? strerror(reopen_errno) : "succeeds");

	CHECK_EQ(dmab_client_attachment_begin_async(reader, READ), 0);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	CHECK(!dmab_client_attachment_is_ready(reader));
	CHECK(!readable(honest, 0));
	CHECK(!readable(fence.fd, 0));
	CHECK_EQ(fence.signaled_count, 0);

	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	CHECK(readable(honest, 1000));
	CHECK(readable(fence.fd, 1000));
	CHECK(dispatch_until(c->display, fence_signaled, &fence, 1000));
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	CHECK(dmab_client_attachment_is_ready(reader));
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	CHECK(readable(forged, 1000));
	/* The forger could not write its own fd either. */
	CHECK_EQ(written, -1);
	CHECK(reopened < 0);
	close(forged);
	close(honest);
	raw_fence_destroy(&fence);
	fixture_destroy(f);
}

static void next_write_fence(struct raw_fence *fence, struct fixture_client *c,
	struct dmab_client_buffer *b)
{
	raw_fence_listen(fence, dmabroker_buffer_v1_get_fence(dmab_client_buffer_get_proxy(b),
		DMABROKER_BUFFER_V1_FENCE_KIND_NEXT_WRITE));
	ROUNDTRIP(c->display);
	CHECK(fence->fd >= 0);
	CHECK_EQ(fence->type, DMABROKER_FENCE_V1_FD_TYPE_SOCKET);
}

/* What dmabrokersrc waits on: the end of a write that has not begun yet. */
DMAB_TEST(fence_next_write_waits_for_a_write_to_come)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *produced = dmab_client_buffer_create(a->client, 64, 64, ARGB,
		0, "next write");
	CHECK(produced != NULL);
	struct dmab_client_buffer *watched = import_via_token(b, produced, RO);
	struct dmab_client_attachment *writer = attach_mapped(produced, RW, WRITE);
	struct dmab_client_attachment *reader = attach_mapped(watched, RO, READ);

	/* Unlike the write fence, it is not born signaled while nothing writes. */
	struct raw_fence idle;
	next_write_fence(&idle, b, watched);
	CHECK(!readable(idle.fd, 0));
	CHECK_EQ(idle.signaled_count, 0);
	/* Reads do not signal it. */
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	CHECK_EQ(dmab_client_roundtrip(b->client), 0);
	CHECK(!readable(idle.fd, 0));

	/* A write begun later is the one it waits for, to its end. */
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	CHECK_EQ(dmab_client_roundtrip(a->client), 0);
	ROUNDTRIP(b->display);
	CHECK(!readable(idle.fd, 0));
	CHECK_EQ(idle.signaled_count, 0);
	/* Asked for while a write is held: that write. */
	struct raw_fence held;
	next_write_fence(&held, b, watched);
	CHECK(!readable(held.fd, 0));
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	CHECK(readable(idle.fd, 1000));
	CHECK(readable(held.fd, 1000));
	CHECK(dispatch_until(b->display, fence_signaled, &idle, 1000));
	CHECK(dispatch_until(b->display, fence_signaled, &held, 1000));
	CHECK_EQ(idle.signaled_count, 1);

	/* A write that waits for a reader when it is asked for is the next one granted. */
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
	CHECK_EQ(dmab_client_attachment_begin_async(writer, WRITE), 0);
	CHECK_EQ(dmab_client_roundtrip(a->client), 0);
	CHECK(!dmab_client_attachment_is_ready(writer));
	struct raw_fence queued;
	next_write_fence(&queued, b, watched);
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	CHECK_EQ(dmab_client_attachment_wait_ready(writer), 0);
	ROUNDTRIP(b->display);
	CHECK(!readable(queued.fd, 0));
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	CHECK(readable(queued.fd, 1000));

	raw_fence_destroy(&idle);
	raw_fence_destroy(&held);
	raw_fence_destroy(&queued);
	fixture_destroy(f);
}

/* Nothing can write a buffer that is gone: a reader waiting for its next frame is woken. */
DMAB_TEST(fence_next_write_signals_when_the_buffer_goes)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *produced = dmab_client_buffer_create(a->client, 64, 64, ARGB,
		0, "next write, gone");
	CHECK(produced != NULL);
	struct dmab_client_buffer *watched = import_via_token(b, produced, RO);
	struct raw_fence fence;
	next_write_fence(&fence, b, watched);
	dmab_client_buffer_destroy(produced);
	CHECK_EQ(dmab_client_roundtrip(a->client), 0);
	CHECK(!readable(fence.fd, 0));
	dmab_client_buffer_destroy(watched);
	CHECK(readable(fence.fd, 1000));
	CHECK(dispatch_until(b->display, fence_signaled, &fence, 1000));
	raw_fence_destroy(&fence);
	fixture_destroy(f);
}
