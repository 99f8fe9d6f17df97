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

/* Written on the server thread, read by the test thread after fixture_run returns. */
struct own_signals {
	struct fixture *f;
	struct wl_listener buffer_create, buffer_destroy, token_share, token_revoke,
		attachment_add, quota_hit;
	int created, destroyed, shared, revoked, attachments, quota_hits;
	struct dmab_server_buffer_event last_created, last_destroyed;
	struct dmab_server_token_event last_shared, last_revoked;
	uint32_t destroyed_width; /* read from the own buffer during buffer_destroy */
};

static void on_own_buffer_create(struct wl_listener *listener, void *data)
{
	struct own_signals *s = wl_container_of(listener, s, buffer_create);
	s->created++;
	s->last_created = *(struct dmab_server_buffer_event *)data;
}

static void on_own_buffer_destroy(struct wl_listener *listener, void *data)
{
	struct own_signals *s = wl_container_of(listener, s, buffer_destroy);
	struct dmab_server_buffer_event *event = data;
	s->destroyed++;
	s->last_destroyed = *event;
	s->destroyed_width = 0;
	if (event->own_buffer != NULL) {
		struct dmab_pixels layout;
		dmab_server_own_buffer_get_layout(event->own_buffer, &layout);
		s->destroyed_width = layout.width;
	}
}

static void on_own_token_share(struct wl_listener *listener, void *data)
{
	struct own_signals *s = wl_container_of(listener, s, token_share);
	struct dmab_server_token_event *event = data;
	s->shared++;
	s->last_shared = *event;
	/* The token is complete when the signal fires. */
	if (event->own_token != NULL)
		CHECK(dmab_server_token_get_string(event->own_token)[0] != '\0');
}

static void on_own_token_revoke(struct wl_listener *listener, void *data)
{
	struct own_signals *s = wl_container_of(listener, s, token_revoke);
	s->revoked++;
	s->last_revoked = *(struct dmab_server_token_event *)data;
}

static void on_own_attachment_add(struct wl_listener *listener, void *data)
{
	struct own_signals *s = wl_container_of(listener, s, attachment_add);
	s->attachments++;
}

static void on_own_quota_hit(struct wl_listener *listener, void *data)
{
	struct own_signals *s = wl_container_of(listener, s, quota_hit);
	s->quota_hits++;
}

static void listen_signals_task(void *data)
{
	struct own_signals *s = data;
	struct dmab_server_events *events = dmab_server_get_events(fixture_server(s->f));
	s->buffer_create.notify = on_own_buffer_create;
	wl_signal_add(&events->buffer_create, &s->buffer_create);
	s->buffer_destroy.notify = on_own_buffer_destroy;
	wl_signal_add(&events->buffer_destroy, &s->buffer_destroy);
	s->token_share.notify = on_own_token_share;
	wl_signal_add(&events->token_share, &s->token_share);
	s->token_revoke.notify = on_own_token_revoke;
	wl_signal_add(&events->token_revoke, &s->token_revoke);
	s->attachment_add.notify = on_own_attachment_add;
	wl_signal_add(&events->attachment_add, &s->attachment_add);
	s->quota_hit.notify = on_own_quota_hit;
	wl_signal_add(&events->quota_hit, &s->quota_hit);
}

static void unlisten_signals_task(void *data)
{
	struct own_signals *s = data;
	wl_list_remove(&s->buffer_create.link);
	wl_list_remove(&s->buffer_destroy.link);
	wl_list_remove(&s->token_share.link);
	wl_list_remove(&s->token_revoke.link);
	wl_list_remove(&s->attachment_add.link);
	wl_list_remove(&s->quota_hit.link);
}

/* The events of a compositor's buffer: no client, no resource, the buffer itself. */
static void check_own_buffer_event(const struct dmab_server_buffer_event *event,
	const struct dmab_server_own_buffer *buffer)
{
	CHECK(event->client == NULL);
	CHECK(event->resource == NULL);
	CHECK(event->own_buffer == buffer);
	CHECK_EQ(event->width, WIDTH);
	CHECK_EQ(event->height, HEIGHT);
	CHECK_EQ(event->format, ARGB);
}

static void check_own_token_event(const struct dmab_server_token_event *event,
	const struct dmab_server_own_buffer *buffer, const struct dmab_server_token *token)
{
	CHECK(event->client == NULL);
	CHECK(event->resource == NULL);
	CHECK(event->own_buffer == buffer);
	CHECK(event->own_token == token);
}

/*
 * The compositor's own buffers and tokens emit the same lifecycle signals as a
 * client's, marked as the compositor's; brackets and quota refusals emit none.
 */
DMAB_TEST(own_buffer_signals_say_they_are_the_compositors)
{
	struct fixture_options options = { .quota = { .max_buffers = 1 } };
	struct fixture *f = fixture_create(&options);
	struct fixture_client *c = fixture_client(f);
	struct own_signals s = { .f = f };
	struct own own = { .f = f }, refused = { .f = f };
	fixture_run(f, listen_signals_task, &s);
	int baseline = fixture_count_fds(f);

	fixture_run(f, create_task, &own);
	CHECK(own.buffer != NULL);
	CHECK_EQ(s.created, 1);
	check_own_buffer_event(&s.last_created, own.buffer);

	/* Over the compositor's quota: EDQUOT for the caller, no signal. */
	fixture_run(f, create_task, &refused);
	CHECK(refused.buffer == NULL);
	CHECK_EQ(refused.error, EDQUOT);
	CHECK_EQ(s.created, 1);
	CHECK_EQ(s.quota_hits, 0);

	/* Its brackets are the compositor's reads and writes, not attachments. */
	fixture_run(f, begin_write_task, &own);
	fixture_run(f, write_task, &own);
	CHECK(own.wrote);
	CHECK_EQ(s.attachments, 0);

	fixture_run(f, share_task, &own);
	struct dmab_server_token *revoked = own.token;
	CHECK_EQ(s.shared, 1);
	check_own_token_event(&s.last_shared, own.buffer, revoked);
	fixture_run(f, share_task, &own);
	struct dmab_server_token *kept = own.token;
	CHECK_EQ(s.shared, 2);
	check_own_token_event(&s.last_shared, own.buffer, kept);

	/* The client's import is the client's buffer object. */
	struct dmab_client_buffer *imported = dmab_client_buffer_import(c->client,
		own.token_string);
	CHECK(imported != NULL);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(s.created, 2);
	CHECK(s.last_created.client == c->server_client);
	CHECK(s.last_created.resource != NULL);
	CHECK(s.last_created.own_buffer == NULL);

	own.token = revoked;
	fixture_run(f, revoke_task, &own);
	CHECK_EQ(s.revoked, 1);
	check_own_token_event(&s.last_revoked, own.buffer, revoked);

	/* Destroying the buffer withdraws the kept token: buffer_destroy, no revoke. */
	struct dmab_server_own_buffer *destroyed = own.buffer;
	fixture_run(f, destroy_task, &own);
	CHECK_EQ(s.destroyed, 1);
	check_own_buffer_event(&s.last_destroyed, destroyed);
	CHECK_EQ(s.destroyed_width, WIDTH);
	CHECK_EQ(s.revoked, 1);

	dmab_client_buffer_destroy(imported);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(s.destroyed, 2);
	CHECK(s.last_destroyed.client == c->server_client);
	CHECK(s.last_destroyed.own_buffer == NULL);
	CHECK_EQ(fixture_count_fds(f), baseline);

	fixture_run(f, unlisten_signals_task, &s);
	fixture_destroy(f);
}

struct destroy_order {
	struct own own;
	struct own_signals s;
	struct wl_listener unlisten;
};

static void on_destroy_unlisten(struct wl_listener *listener, void *data)
{
	struct destroy_order *d = wl_container_of(listener, d, unlisten);
	unlisten_signals_task(&d->s);
	wl_list_remove(&d->unlisten.link);
}

static void listen_destroy_order_task(void *data)
{
	struct destroy_order *d = data;
	struct dmab_server_events *events = dmab_server_get_events(fixture_server(d->own.f));
	/* The compositor's buffer goes first, then the listeners: in the order added. */
	listen_destroy_task(&d->own);
	d->unlisten.notify = on_destroy_unlisten;
	wl_signal_add(&events->destroy, &d->unlisten);
}

/* An own buffer destroyed from the server's destroy handler still says so. */
DMAB_TEST(own_buffer_destroyed_in_the_destroy_handler_is_signalled)
{
	struct fixture *f = fixture_create(NULL);
	struct destroy_order d = { .own = { .f = f }, .s = { .f = f } };
	fixture_run(f, listen_signals_task, &d.s);
	fixture_run(f, create_task, &d.own);
	CHECK(d.own.buffer != NULL);
	struct dmab_server_own_buffer *buffer = d.own.buffer;
	fixture_run(f, share_task, &d.own);
	fixture_run(f, listen_destroy_order_task, &d);
	fixture_destroy_server(f);
	CHECK(d.own.buffer == NULL);
	CHECK_EQ(d.s.destroyed, 1);
	check_own_buffer_event(&d.s.last_destroyed, buffer);
	/* Its token was withdrawn with it, not revoked. */
	CHECK_EQ(d.s.revoked, 0);
	fixture_destroy(f);
}
