/* SPDX-License-Identifier: MIT */
/* libdmabroker-client against a real server: binding, errors, lost connections. */
#include <dlfcn.h>
#include <drm_fourcc.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wayland-client.h>
#include <wayland-server.h>

#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

DMAB_TEST(client_binds_formats_and_limits)
{
	struct fixture_options options = {
		.quota = { .max_bytes = 5ull << 32, .max_buffers = 7, .max_attachments = 9,
			.max_tokens = 11 },
		.max_width = 4000,
		.max_height = 3000,
	};
	struct fixture *f = fixture_create(&options);
	struct fixture_client *c = fixture_client(f);
	CHECK(dmab_client_get_display(c->client) == c->display);
	CHECK(dmab_client_get_manager(c->client) != NULL);
	size_t len;
	const uint32_t *formats = dmab_client_get_formats(c->client, &len);
	const uint32_t expected[] = { DRM_FORMAT_ARGB8888, DRM_FORMAT_XRGB8888,
		DRM_FORMAT_ABGR8888, DRM_FORMAT_XBGR8888, DRM_FORMAT_RGB565, DRM_FORMAT_NV12,
		DRM_FORMAT_NV21, DRM_FORMAT_YUV420, DRM_FORMAT_YUYV, DRM_FORMAT_P010 };
	CHECK_EQ(len, sizeof(expected) / sizeof(expected[0]));
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		bool found = false;
		for (size_t j = 0; j < len; j++)
			found = found || formats[j] == expected[i];
		CHECK(found);
	}
	struct dmab_client_limits limits;
	dmab_client_get_limits(c->client, &limits);
	CHECK_EQ(limits.max_width, 4000);
	CHECK_EQ(limits.max_height, 3000);
	CHECK_EQ(limits.max_bytes, 5ull << 32);
	CHECK_EQ(limits.max_buffers, 7);
	CHECK_EQ(limits.max_attachments, 9);
	CHECK_EQ(limits.max_tokens, 11);
	fixture_destroy(f);

	f = fixture_create(NULL);
	c = fixture_client(f);
	dmab_client_get_limits(c->client, &limits);
	CHECK_EQ(limits.max_width, DMAB_DEFAULT_MAX_DIMENSION);
	CHECK_EQ(limits.max_height, DMAB_DEFAULT_MAX_DIMENSION);
	CHECK_EQ(limits.max_bytes, DMAB_QUOTA_DEFAULT_BYTES);
	CHECK_EQ(limits.max_buffers, DMAB_QUOTA_DEFAULT_BUFFERS);
	CHECK_EQ(limits.max_attachments, DMAB_QUOTA_DEFAULT_ATTACHMENTS);
	CHECK_EQ(limits.max_tokens, DMAB_QUOTA_DEFAULT_TOKENS);
	fixture_destroy(f);
}

DMAB_TEST(client_create_without_broker_fails)
{
	struct fixture *f = fixture_create(NULL);
	fixture_destroy_server(f);
	struct fixture_client *c = fixture_connect(f);
	errno = 0;
	CHECK(dmab_client_create(c->display) == NULL);
	CHECK_EQ(errno, ENODEV);
	CHECK(wl_display_roundtrip(c->display) >= 0); /* the caller's display is untouched */
	fixture_destroy(f);
}

DMAB_TEST(client_reports_protocol_errors)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 16, 16, ARGB, 0,
		"doomed");
	CHECK(buffer != NULL);
	struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, RW, NULL);
	/* A bad request sent behind the library's back. */
	struct dmabroker_buffer_v1 *bad = dmabroker_manager_v1_create_buffer(
		dmab_client_get_manager(c->client), 0, 16, ARGB, 0, "zero");
	errno = 0;
	CHECK(dmab_client_buffer_create(c->client, 16, 16, ARGB, 0, "after") == NULL);
	CHECK_EQ(errno, EPROTO);
	CHECK_EQ(dmab_client_attachment_map(att, READ), -EPROTO);
	CHECK_EQ(dmab_client_roundtrip(c->client), -EPROTO);
	CHECK_EQ(dmab_client_dispatch(c->client), -EPROTO);
	CHECK(dmab_client_token_create(buffer, RW) == NULL);
	CHECK_EQ(errno, EPROTO);
	CHECK_EQ(dmab_client_buffer_get_fence_fd(buffer, true), -EPROTO);
	dmabroker_buffer_v1_destroy(bad);
	fixture_destroy(f);
}

static void destroy_client_task(void *data)
{
	wl_client_destroy(data);
}

DMAB_TEST(client_reports_lost_connections)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 16, 16, ARGB, 0,
		"orphaned");
	CHECK(buffer != NULL);
	struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK_EQ(dmab_client_attachment_map(att, WRITE), 0);
	CHECK_EQ(dmab_client_attachment_begin(att, WRITE), 0);
	fixture_run(f, destroy_client_task, c->server_client);
	errno = 0;
	CHECK(dmab_client_buffer_import(c->client, UTIL_BOGUS_TOKEN) == NULL);
	CHECK_EQ(errno, EPIPE);
	CHECK_EQ(dmab_client_roundtrip(c->client), -EPIPE);
	/* Local state is still consistent: end, unmap and destroy free everything. */
	CHECK_EQ(dmab_client_attachment_end(att), 0);
	CHECK_EQ(dmab_client_attachment_unmap(att), 0);
	CHECK(dmab_client_attachment_get_data(att) == NULL);
	fixture_destroy(f);
}

DMAB_TEST(client_guards_against_misuse)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 16, 16, ARGB, 0,
		"guarded");
	CHECK(buffer != NULL);
	struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK(dmab_client_attachment_get_data(att) == NULL);
	CHECK_EQ(dmab_client_attachment_get_fd(att), -1);
	CHECK_EQ(dmab_client_attachment_unmap(att), -EINVAL);
	CHECK_EQ(dmab_client_attachment_begin(att, READ), -EINVAL);
	CHECK_EQ(dmab_client_attachment_end(att), -EINVAL);
	CHECK_EQ(dmab_client_attachment_map(att, READ), 0);
	CHECK_EQ(dmab_client_attachment_map(att, READ), -EBUSY);
	CHECK_EQ(dmab_client_attachment_begin(att, WRITE), -EINVAL); /* beyond the map */
	CHECK_EQ(dmab_client_attachment_begin(att, READ), 0);
	CHECK_EQ(dmab_client_attachment_begin(att, READ), -EBUSY);
	CHECK_EQ(dmab_client_attachment_unmap(att), -EBUSY);
	CHECK_EQ(dmab_client_attachment_remap(att), -EBUSY);
	CHECK_EQ(dmab_client_attachment_end(att), 0);
	CHECK_EQ(dmab_client_attachment_remap(att), 0);
	CHECK(dmab_client_attachment_get_data(att) != NULL);
	CHECK(dmab_client_buffer_import_fd(c->client, -1, ARGB, 16, 16, 0, 64, 0) == NULL);
	CHECK_EQ(errno, EBADF);
	/* None of it reached the broker as a protocol error. */
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	fixture_destroy(f);
}

/*
 * Counts libwayland's sendmsg calls on one fd: the executable's definition comes
 * first in symbol lookup, so the client library's connection calls it.
 */
static atomic_int counted_fd = -1;
static atomic_int sendmsg_calls;

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
	if (real_sendmsg == NULL) {
		/* POSIX's way round ISO C's ban on casting an object pointer to a function's. */
		void *symbol = dlsym(RTLD_NEXT, "sendmsg");
		memcpy(&real_sendmsg, &symbol, sizeof(symbol));
	}
	if (fd == atomic_load(&counted_fd)) {
		atomic_fetch_add(&sendmsg_calls, 1);
	}
	return real_sendmsg(fd, msg, flags);
}

DMAB_TEST(client_batch_flushes_once)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_attachment *att[2];
	for (int i = 0; i < 2; i++) {
		struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 16, 16,
			ARGB, 0, "batched");
		CHECK(buffer != NULL);
		att[i] = dmab_client_attachment_create(buffer, RW, NULL);
		CHECK_EQ(dmab_client_attachment_map(att[i], WRITE), 0);
	}
	atomic_store(&counted_fd, wl_display_get_fd(c->display));
	/* Outside a batch, begin and end flush on their own. */
	CHECK_EQ(dmab_client_attachment_begin(att[0], WRITE), 0);
	CHECK_EQ(atomic_load(&sendmsg_calls), 1);
	CHECK_EQ(dmab_client_attachment_end(att[0]), 0);
	CHECK_EQ(atomic_load(&sendmsg_calls), 2);
	/* A frame: end one buffer, begin the next; only the outermost batch_end sends. */
	CHECK_EQ(dmab_client_attachment_begin(att[0], WRITE), 0);
	CHECK_EQ(atomic_load(&sendmsg_calls), 3);
	dmab_client_batch_begin(c->client);
	dmab_client_batch_begin(c->client);
	CHECK_EQ(dmab_client_attachment_end(att[0]), 0);
	CHECK_EQ(dmab_client_attachment_begin_async(att[1], WRITE), 0);
	CHECK_EQ(dmab_client_batch_end(c->client), 0);
	CHECK_EQ(atomic_load(&sendmsg_calls), 3);
	CHECK_EQ(dmab_client_batch_end(c->client), 0);
	CHECK_EQ(atomic_load(&sendmsg_calls), 4);
	CHECK_EQ(dmab_client_batch_end(c->client), -EINVAL);
	CHECK_EQ(dmab_client_attachment_wait_ready(att[1]), 0);
	CHECK(dmab_client_attachment_is_ready(att[1]));
	CHECK_EQ(atomic_load(&sendmsg_calls), 4);
	CHECK_EQ(dmab_client_attachment_end(att[1]), 0);
	CHECK_EQ(dmab_client_attachment_wait_ready(att[1]), -EINVAL);
	atomic_store(&counted_fd, -1);
	/* Both end_access requests reached the broker: no bracket is left open. */
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	CHECK_EQ(dmab_client_attachment_begin(att[0], WRITE), 0);
	CHECK_EQ(dmab_client_attachment_end(att[0]), 0);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	fixture_destroy(f);
}

DMAB_TEST(client_dmabuf_sync_needs_a_dmabuf)
{
	int fd = make_memfd(4096, 0);
	CHECK_EQ(dmab_client_dmabuf_sync(fd, true, READ), -ENOTTY);
	CHECK_EQ(dmab_client_dmabuf_sync(fd, true, 0), -EINVAL);
	close(fd);
	CHECK_EQ(dmab_client_dmabuf_sync(fd, false, READ | WRITE), -EBADF);
}

/* Destroying the server leaves clients with inert objects, and nothing crashes or leaks. */
DMAB_TEST(server_destroyed_under_live_clients)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 16, 16, ARGB, 0,
		"survivor");
	CHECK(buffer != NULL);
	struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK_EQ(dmab_client_attachment_map(att, WRITE), 0);
	CHECK_EQ(dmab_client_attachment_begin(att, WRITE), 0);
	CHECK(dmab_client_token_create(buffer, RW) != NULL);
	fixture_destroy_server(f);

	/* Requests to inert objects are ignored, not errors. */
	CHECK_EQ(dmab_client_attachment_end(att), 0);
	CHECK_EQ(dmab_client_attachment_unmap(att), 0);
	struct raw_attachment raw;
	raw_attachment_listen(&raw, dmabroker_buffer_v1_attach(dmab_client_buffer_get_proxy(
		buffer), RW, 0, 0, 1));
	dmabroker_attachment_v1_map(raw.proxy, READ);
	ROUNDTRIP(c->display);
	CHECK_EQ(raw.mapped_count, 0);
	raw_attachment_destroy(&raw);
	dmab_client_buffer_destroy(buffer);
	ROUNDTRIP(c->display);
	fixture_destroy(f);
}

static void count_done(void *data, struct wl_callback *callback, uint32_t serial)
{
	(*(int *)data)++;
	wl_callback_destroy(callback);
}

static const struct wl_callback_listener count_done_listener = { .done = count_done };

/*
 * An application whose default queue is dispatched elsewhere (its toolkit's
 * loop): the library's blocking calls leave the events of that queue alone.
 */
DMAB_TEST(client_blocking_calls_never_dispatch_the_default_queue)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_connect(f);
	int done = 0;
	/* Answered while the library binds, and after each of its requests below. */
	wl_callback_add_listener(wl_display_sync(c->display), &count_done_listener, &done);
	struct dmab_client *client = dmab_client_create(c->display);
	CHECK(client != NULL);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(client, 16, 16, ARGB, 0,
		"queues");
	CHECK(buffer != NULL);
	struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK(att != NULL);
	wl_callback_add_listener(wl_display_sync(c->display), &count_done_listener, &done);
	CHECK_EQ(dmab_client_attachment_map(att, WRITE), 0);
	CHECK_EQ(dmab_client_attachment_begin(att, WRITE), 0);
	CHECK_EQ(dmab_client_attachment_end(att), 0);
	struct dmab_client_token *token = dmab_client_token_create(buffer, RW);
	CHECK(token != NULL);
	CHECK_EQ(done, 0);

	/* The application's own dispatch runs them. */
	CHECK(wl_display_dispatch_pending(c->display) >= 0);
	CHECK_EQ(done, 2);

	/* A bracket begun without waiting: the application's loop reads its ready. */
	CHECK_EQ(dmab_client_attachment_begin_async(att, WRITE), 0);
	ROUNDTRIP(c->display);
	CHECK(dmab_client_attachment_is_ready(att));
	CHECK_EQ(dmab_client_attachment_end(att), 0);
	CHECK_EQ(dmab_client_dispatch_pending(client), 0);

	/* Objects made through the library's proxies are the application's. */
	struct raw_token raw = {0};
	raw_token_listen(&raw, dmabroker_buffer_v1_share(dmab_client_buffer_get_proxy(buffer),
		RW));
	ROUNDTRIP(c->display);
	CHECK(raw.have_token);
	dmabroker_token_v1_destroy(raw.proxy);

	dmab_client_destroy(client);
	fixture_destroy(f);
}
