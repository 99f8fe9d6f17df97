/* SPDX-License-Identifier: MIT */
/*
 * The compositor's own buffers: made through the core, written inside a
 * bracket, shared with clients by token, counted by the quota and shown by
 * introspection. Server-side calls run on the server thread through fixture_run.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <wayland-server.h>

#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ

enum { WIDTH = 32, HEIGHT = 8, ROW = WIDTH * 4, SEED = 41 };

/* Written on the server thread, read by the test thread after fixture_run returns. */
struct own {
	struct fixture *f;
	struct dmab_server_own_buffer *buffer;
	struct dmab_server_token *token;
	struct dmab_server_read *write;
	struct dmab_pixels layout;
	char token_string[64];
	bool ready, wrote;
	int ready_calls, failed_calls, error;
	struct wl_listener server_destroy;
};

static void on_ready(struct dmab_server_read *read, void *data)
{
	struct own *own = data;
	own->ready_calls++;
}

static void on_failed(struct dmab_server_read *read, int error, const char *message,
	void *data)
{
	struct own *own = data;
	own->failed_calls++;
}

static const struct dmab_server_read_listener own_listener = {
	.ready = on_ready,
	.failed = on_failed,
};

static void create_task(void *data)
{
	struct own *own = data;
	own->buffer = dmab_server_own_buffer_create(fixture_server(own->f), WIDTH, HEIGHT, ARGB,
		"screencopy");
	own->error = own->buffer == NULL ? errno : 0;
	if (own->buffer != NULL)
		dmab_server_own_buffer_get_layout(own->buffer, &own->layout);
}

static void share_task(void *data)
{
	struct own *own = data;
	own->token = dmab_server_own_buffer_share(own->buffer, false);
	CHECK(own->token != NULL);
	snprintf(own->token_string, sizeof(own->token_string), "%s",
		dmab_server_token_get_string(own->token));
}

static void begin_write_task(void *data)
{
	struct own *own = data;
	own->write = dmab_server_own_buffer_begin(own->buffer, true, &own_listener, own);
	if (own->write == NULL)
		dmab_test_fail(__FILE__, __LINE__, "write bracket: %s", strerror(errno));
	own->ready = dmab_server_read_is_ready(own->write);
}

/* Fills the buffer if the write is ready, and ends it then. */
static void write_task(void *data)
{
	struct own *own = data;
	own->ready = dmab_server_read_is_ready(own->write);
	void *pixels = dmab_server_read_get_writable_data(own->write);
	own->wrote = false;
	if (!own->ready || pixels == NULL)
		return;
	struct dmab_pixels layout;
	dmab_server_read_get_pixels(own->write, &layout);
	pattern_fill(pixels, layout.stride, ROW, HEIGHT, SEED);
	dmab_server_read_end(own->write);
	own->write = NULL;
	own->wrote = true;
}

static void revoke_task(void *data)
{
	struct own *own = data;
	dmab_server_token_revoke(own->token);
	own->token = NULL;
}

static void destroy_task(void *data)
{
	struct own *own = data;
	dmab_server_read_end(own->write);
	own->write = NULL;
	dmab_server_own_buffer_destroy(own->buffer);
	own->buffer = NULL;
}

static void noop_task(void *data)
{
}

DMAB_TEST(own_buffer_written_by_the_compositor_read_by_a_client)
{
	struct fixture *f = fixture_create(NULL);
	struct own own = { .f = f };
	fixture_run(f, create_task, &own);
	CHECK(own.buffer != NULL);
	CHECK_EQ(own.layout.width, WIDTH);
	CHECK(own.layout.stride >= ROW);

	/* Nobody holds it: the write bracket is granted at once. */
	fixture_run(f, begin_write_task, &own);
	CHECK(own.ready);
	fixture_run(f, write_task, &own);
	CHECK(own.wrote);
	fixture_run(f, share_task, &own);

	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *imported = dmab_client_buffer_import(c->client,
		own.token_string);
	CHECK(imported != NULL);
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(imported, &layout);
	CHECK_EQ(layout.access, RO);
	struct dmab_client_attachment *reader = attach_mapped(imported, RO, READ);
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
	CHECK(pattern_check(dmab_client_attachment_get_data(reader),
		dmab_client_attachment_get_stride(reader), ROW, HEIGHT, SEED));

	/* Introspection lists it as the compositor's. */
	struct info_snapshot snap;
	CHECK(info_snapshot_take(c->display, dmab_client_get_manager(c->client), &snap));
	int i = info_find_buffer(&snap, "screencopy");
	CHECK(i >= 0);
	CHECK_EQ(snap.buffers[i].owner_pid, getpid());

	/* The compositor's next frame waits for the client's read bracket. */
	int ready_calls = own.ready_calls;
	fixture_run(f, begin_write_task, &own);
	CHECK(!own.ready);
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(own.ready_calls, ready_calls + 1);
	fixture_run(f, write_task, &own);
	CHECK(own.wrote);

	/* Revoking the token ends the client's access. */
	fixture_run(f, revoke_task, &own);
	CHECK(dmab_client_attachment_begin(reader, READ) < 0);
	CHECK_EQ(dmab_client_last_failure()->reason, DMABROKER_MANAGER_V1_REASON_REVOKED_TOKEN);

	dmab_client_buffer_destroy(imported);
	fixture_run(f, destroy_task, &own);
	fixture_destroy(f);
}

DMAB_TEST(own_buffers_count_against_the_quota)
{
	struct fixture_options options = { .quota = { .max_buffers = 1 } };
	struct fixture *f = fixture_create(&options);
	struct own first = { .f = f }, second = { .f = f };
	fixture_run(f, create_task, &first);
	CHECK(first.buffer != NULL);
	fixture_run(f, create_task, &second);
	CHECK(second.buffer == NULL);
	CHECK_EQ(second.error, EDQUOT);
	fixture_run(f, destroy_task, &first);
	fixture_run(f, create_task, &second);
	CHECK(second.buffer != NULL);
	fixture_run(f, destroy_task, &second);
	fixture_destroy(f);
}

static void on_server_destroy(struct wl_listener *listener, void *data)
{
	struct own *own = wl_container_of(listener, own, server_destroy);
	destroy_task(own);
	wl_list_remove(&own->server_destroy.link);
}

static void listen_destroy_task(void *data)
{
	struct own *own = data;
	own->server_destroy.notify = on_server_destroy;
	wl_signal_add(&dmab_server_get_events(fixture_server(own->f))->destroy,
		&own->server_destroy);
}

/* The wlroots pattern: the compositor lets go of its objects in the destroy handler. */
DMAB_TEST(own_buffer_released_from_the_server_destroy_signal)
{
	struct fixture *f = fixture_create(NULL);
	struct own own = { .f = f };
	fixture_run(f, create_task, &own);
	CHECK(own.buffer != NULL);
	fixture_run(f, share_task, &own);
	fixture_run(f, begin_write_task, &own);
	fixture_run(f, listen_destroy_task, &own);
	fixture_destroy_server(f);
	CHECK(own.buffer == NULL);
	fixture_destroy(f);
}
