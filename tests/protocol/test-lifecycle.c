/* SPDX-License-Identifier: MIT */
/*
 * The server's lifecycle: its signals, its death with the display, one server
 * per display, and binds that race the global's removal.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <wayland-server.h>

#include "dmabroker-v1-client-protocol.h"
#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE

/* Written on the server thread, read by the test thread after fixture_run returns. */
struct recorder {
	struct fixture *f;
	struct wl_listener new_client, buffer_create, buffer_destroy, attachment_add,
		attachment_remove, token_share, token_revoke, quota_hit;
	int new_clients, buffers_created, buffers_destroyed, attachments_added,
		attachments_removed, tokens_shared, tokens_revoked, quota_hits;
	struct wl_client *last_client;
	uint32_t width, height, format, access;
	char quota_message[160];
};

static void on_new_client(struct wl_listener *listener, void *data)
{
	struct recorder *r = wl_container_of(listener, r, new_client);
	r->new_clients++;
	r->last_client = data;
}

static void on_buffer_create(struct wl_listener *listener, void *data)
{
	struct recorder *r = wl_container_of(listener, r, buffer_create);
	struct dmab_server_buffer_event *event = data;
	r->buffers_created++;
	r->last_client = event->client;
	r->width = event->width;
	r->height = event->height;
	r->format = event->format;
	CHECK_STR_EQ(wl_resource_get_class(event->resource), "dmabroker_buffer_v1");
	/* A client's buffer object, not the compositor's own (test-own-buffer.c). */
	CHECK(event->client != NULL && event->own_buffer == NULL);
}

static void on_buffer_destroy(struct wl_listener *listener, void *data)
{
	struct recorder *r = wl_container_of(listener, r, buffer_destroy);
	struct dmab_server_buffer_event *event = data;
	r->buffers_destroyed++;
	r->last_client = event->client;
	CHECK(event->client != NULL && event->own_buffer == NULL);
}

static void on_attachment_add(struct wl_listener *listener, void *data)
{
	struct recorder *r = wl_container_of(listener, r, attachment_add);
	struct dmab_server_attachment_event *event = data;
	r->attachments_added++;
	r->access = event->access;
	CHECK_STR_EQ(wl_resource_get_class(event->resource), "dmabroker_attachment_v1");
}

static void on_attachment_remove(struct wl_listener *listener, void *data)
{
	struct recorder *r = wl_container_of(listener, r, attachment_remove);
	r->attachments_removed++;
}

static void on_token_share(struct wl_listener *listener, void *data)
{
	struct recorder *r = wl_container_of(listener, r, token_share);
	struct dmab_server_token_event *event = data;
	r->tokens_shared++;
	CHECK_STR_EQ(wl_resource_get_class(event->resource), "dmabroker_token_v1");
	CHECK(event->client != NULL && event->own_buffer == NULL && event->own_token == NULL);
}

static void on_token_revoke(struct wl_listener *listener, void *data)
{
	struct recorder *r = wl_container_of(listener, r, token_revoke);
	struct dmab_server_token_event *event = data;
	r->tokens_revoked++;
	CHECK(event->client != NULL && event->own_buffer == NULL && event->own_token == NULL);
}

static void on_quota_hit(struct wl_listener *listener, void *data)
{
	struct recorder *r = wl_container_of(listener, r, quota_hit);
	struct dmab_server_quota_event *event = data;
	r->quota_hits++;
	r->last_client = event->client;
	snprintf(r->quota_message, sizeof(r->quota_message), "%s", event->message);
}

static void listen_task(void *data)
{
	struct recorder *r = data;
	struct dmab_server_events *events = dmab_server_get_events(fixture_server(r->f));
	r->new_client.notify = on_new_client;
	wl_signal_add(&events->new_client, &r->new_client);
	r->buffer_create.notify = on_buffer_create;
	wl_signal_add(&events->buffer_create, &r->buffer_create);
	r->buffer_destroy.notify = on_buffer_destroy;
	wl_signal_add(&events->buffer_destroy, &r->buffer_destroy);
	r->attachment_add.notify = on_attachment_add;
	wl_signal_add(&events->attachment_add, &r->attachment_add);
	r->attachment_remove.notify = on_attachment_remove;
	wl_signal_add(&events->attachment_remove, &r->attachment_remove);
	r->token_share.notify = on_token_share;
	wl_signal_add(&events->token_share, &r->token_share);
	r->token_revoke.notify = on_token_revoke;
	wl_signal_add(&events->token_revoke, &r->token_revoke);
	r->quota_hit.notify = on_quota_hit;
	wl_signal_add(&events->quota_hit, &r->quota_hit);
}

static void unlisten_task(void *data)
{
	struct recorder *r = data;
	wl_list_remove(&r->new_client.link);
	wl_list_remove(&r->buffer_create.link);
	wl_list_remove(&r->buffer_destroy.link);
	wl_list_remove(&r->attachment_add.link);
	wl_list_remove(&r->attachment_remove.link);
	wl_list_remove(&r->token_share.link);
	wl_list_remove(&r->token_revoke.link);
	wl_list_remove(&r->quota_hit.link);
}

static void noop_task(void *data)
{
}

DMAB_TEST(signals_follow_buffers_attachments_tokens_and_quota)
{
	struct fixture_options options = { .quota = { .max_buffers = 2 } };
	struct fixture *f = fixture_create(&options);
	struct recorder r = { .f = f };
	fixture_run(f, listen_task, &r);

	struct fixture_client *a = fixture_client(f);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(r.new_clients, 1);
	CHECK(r.last_client == a->server_client);

	struct dmab_client_buffer *buffer = dmab_client_buffer_create(a->client, 24, 8, ARGB, 0,
		"signals");
	CHECK(buffer != NULL);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(r.buffers_created, 1);
	CHECK_EQ(r.width, 24);
	CHECK_EQ(r.height, 8);
	CHECK_EQ(r.format, ARGB);

	struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, RO, NULL);
	CHECK(att != NULL);
	CHECK_EQ(dmab_client_roundtrip(a->client), 0);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(r.attachments_added, 1);
	CHECK_EQ(r.access, RO);

	struct dmab_client_token *kept = dmab_client_token_create(buffer, RO);
	struct dmab_client_token *revoked = dmab_client_token_create(buffer, RO);
	CHECK(kept != NULL && revoked != NULL);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(r.tokens_shared, 2);

	/* A second connection imports: its own first object, its own buffer object. */
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *imported = dmab_client_buffer_import(b->client,
		dmab_client_token_get_string(kept));
	CHECK(imported != NULL);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(r.new_clients, 2);
	CHECK_EQ(r.buffers_created, 2);
	CHECK(r.last_client == b->server_client);

	/* Over the quota of 2 buffers: failed for the client, quota_hit for the compositor. */
	struct dmab_client_buffer *second = dmab_client_buffer_create(a->client, 8, 8, ARGB, 0,
		"second");
	CHECK(second != NULL);
	CHECK(dmab_client_buffer_create(a->client, 8, 8, ARGB, 0, "third") == NULL);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(r.quota_hits, 1);
	CHECK(r.last_client == a->server_client);
	CHECK(strstr(r.quota_message, "2") != NULL);
	CHECK_EQ(r.buffers_created, 3);

	dmab_client_token_revoke(revoked);
	dmab_client_token_destroy(kept); /* withdrawn, not revoked */
	dmab_client_attachment_destroy(att);
	dmab_client_buffer_destroy(second);
	CHECK_EQ(dmab_client_roundtrip(a->client), 0);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(r.tokens_revoked, 1);
	CHECK_EQ(r.attachments_removed, 1);
	CHECK_EQ(r.buffers_destroyed, 1);

	/* A disconnection destroys its objects: the signals say so too. */
	fixture_client_close(b);
	CHECK_EQ(r.buffers_destroyed, 2);

	fixture_run(f, unlisten_task, &r);
	dmab_client_buffer_destroy(buffer);
	fixture_destroy(f);
}

struct destroy_watch {
	struct wl_listener destroy;
	struct dmab_server *server;
	int calls;
};

static void on_server_destroy(struct wl_listener *listener, void *data)
{
	struct destroy_watch *w = wl_container_of(listener, w, destroy);
	w->calls++;
	CHECK(data == w->server);
	wl_list_remove(&w->destroy.link);
}

static struct dmab_server *server_create_or_skip(struct wl_display *display)
{
	struct dmab_server_options options = { .allocator = dmab_test_allocator() };
	struct dmab_server *server = dmab_server_create(display, &options);
	if (server == NULL && errno == ENODEV) {
		wl_display_destroy(display);
		dmab_test_skip("allocator %s unavailable: %s", dmab_test_allocator(),
			dmab_server_last_error());
	}
	CHECK(server != NULL);
	return server;
}

DMAB_TEST(server_dies_with_the_display)
{
	struct wl_display *display = wl_display_create();
	CHECK(display != NULL);
	struct destroy_watch w = { .server = server_create_or_skip(display) };
	w.destroy.notify = on_server_destroy;
	wl_signal_add(&dmab_server_get_events(w.server)->destroy, &w.destroy);
	wl_display_destroy(display);
	CHECK_EQ(w.calls, 1);
}

DMAB_TEST(one_server_per_display)
{
	struct wl_display *display = wl_display_create();
	CHECK(display != NULL);
	struct dmab_server *first = server_create_or_skip(display);
	struct dmab_server_options options = { .allocator = dmab_test_allocator() };
	errno = 0;
	CHECK(dmab_server_create(display, &options) == NULL);
	CHECK_EQ(errno, EBUSY);
	CHECK(strstr(dmab_server_last_error(), "already") != NULL);

	/* Once the first is gone, the display may have another. */
	dmab_server_destroy(first);
	struct dmab_server *second = dmab_server_create(display, &options);
	CHECK(second != NULL);
	dmab_server_destroy(second);
	wl_display_destroy(display);
}

struct registry_names {
	uint32_t manager;
};

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
	const char *interface, uint32_t version)
{
	struct registry_names *names = data;
	if (strcmp(interface, dmabroker_manager_v1_interface.name) == 0)
		names->manager = name;
}

static void handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

DMAB_TEST(bind_racing_the_server_destruction_gets_inert_objects)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_connect(f);
	struct registry_names names = {0};
	struct wl_registry *registry = wl_display_get_registry(c->display);
	wl_registry_add_listener(registry, &registry_listener, &names);
	ROUNDTRIP(c->display);
	CHECK(names.manager != 0);

	/* The client binds what it was told of, after the server went away. */
	fixture_destroy_server(f);
	struct dmabroker_manager_v1 *manager = wl_registry_bind(registry, names.manager,
		&dmabroker_manager_v1_interface, 1);
	struct raw_buffer buffer = {0};
	raw_buffer_listen(&buffer, dmabroker_manager_v1_create_buffer(manager, 8, 8, ARGB, 0,
		"late"));
	ROUNDTRIP(c->display);
	CHECK_EQ(wl_display_get_error(c->display), 0);
	CHECK(buffer.failed);
	CHECK_EQ(buffer.reason, DMABROKER_MANAGER_V1_REASON_DEFUNCT);

	raw_buffer_destroy(&buffer);
	dmabroker_manager_v1_destroy(manager);
	wl_registry_destroy(registry);
	fixture_destroy(f);
}

/* Written by the server thread, read by the test thread after fixture_run returns. */
static struct {
	int calls;
	enum dmab_server_log_importance importance;
	char message[256];
} logged;

static void capture_log(enum dmab_server_log_importance importance, const char *fmt,
	va_list args) __attribute__((format(printf, 2, 0)));

static void capture_log(enum dmab_server_log_importance importance, const char *fmt,
	va_list args)
{
	logged.calls++;
	logged.importance = importance;
	vsnprintf(logged.message, sizeof(logged.message), fmt, args);
}

/* The second connection of the uid goes over its limit of one. */
static void refuse_a_connection(void)
{
	struct fixture_options options = { .uid_quota = { .max_connections = 1 } };
	struct fixture *f = fixture_create(&options);
	struct fixture_client *first = fixture_client(f);
	struct fixture_client *over = fixture_connect(f);
	util_capture_client_log();
	CHECK(dmab_client_create(over->display) == NULL);
	fixture_run(f, noop_task, NULL);
	fixture_client_close(over);
	fixture_client_close(first);
	fixture_destroy(f);
}

DMAB_TEST(log_handler_replaces_stderr)
{
	dmab_server_set_log_handler(capture_log);
	refuse_a_connection();
	CHECK_EQ(logged.calls, 1);
	CHECK_EQ(logged.importance, DMAB_SERVER_LOG_INFO);
	char expected[160];
	snprintf(expected, sizeof(expected), "refused client pid %d: uid %u connection limit "
		"exceeded: 1 of 1 connections in use", (int)getpid(), (unsigned)getuid());
	CHECK_STR_EQ(logged.message, expected);

	/* NULL restores the default: stderr. */
	dmab_server_set_log_handler(NULL);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	int capture = make_memfd(0, 0);
	CHECK(saved >= 0 && capture >= 0);
	CHECK(dup2(capture, STDERR_FILENO) == STDERR_FILENO);
	refuse_a_connection();
	fflush(stderr);
	CHECK(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
	close(saved);
	char text[512] = "";
	ssize_t len = pread(capture, text, sizeof(text) - 1, 0);
	close(capture);
	CHECK(len > 0);
	text[len] = '\0';
	CHECK(strstr(text, "libdmabroker-server: refused client pid") != NULL);
	CHECK_EQ(logged.calls, 1);
}
