/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "alloc/alloc.h"
#include "dmabroker-v1-server-protocol.h"
#include "server-private.h"

#define MANAGER_VERSION 3

/* The public defaults are the core's, spelled where an integrator reads them. */
_Static_assert(DMAB_QUOTA_DEFAULT_BYTES == DMAB_CORE_DEFAULT_MAX_BYTES, "byte quota");
_Static_assert(DMAB_QUOTA_DEFAULT_BUFFERS == DMAB_CORE_DEFAULT_MAX_BUFFERS, "buffer quota");
_Static_assert(DMAB_QUOTA_DEFAULT_ATTACHMENTS == DMAB_CORE_DEFAULT_MAX_ATTACHMENTS,
	"attachment quota");
_Static_assert(DMAB_QUOTA_DEFAULT_TOKENS == DMAB_CORE_DEFAULT_MAX_TOKENS, "token quota");
_Static_assert(DMAB_UID_QUOTA_DEFAULT_BYTES == DMAB_CORE_DEFAULT_MAX_UID_BYTES, "uid bytes");
_Static_assert(DMAB_UID_QUOTA_DEFAULT_BUFFERS == DMAB_CORE_DEFAULT_MAX_UID_BUFFERS,
	"uid buffers");
_Static_assert(DMAB_UID_QUOTA_DEFAULT_CONNECTIONS == DMAB_CORE_DEFAULT_MAX_UID_CONNECTIONS,
	"uid connections");
_Static_assert(DMAB_UID_QUOTA_DEFAULT_FDS == DMAB_CORE_DEFAULT_MAX_UID_FDS, "uid fds");
_Static_assert(DMAB_DEFAULT_MAX_HOLD_MS == DMAB_CORE_DEFAULT_MAX_HOLD_MS, "hold bound");

static _Thread_local char last_error[256];

const struct dmab_failure server_defunct_failure = {
	.reason = DMAB_REASON_DEFUNCT,
	.message = "the parent object is defunct",
};

const struct dmab_failure server_nomem_failure = {
	.reason = DMAB_REASON_ALLOC_FAILED,
	.message = "the broker is out of memory",
};

/*
 * The protocol error each misuse stands for, per interface, plus one: a zero
 * entry means the interface has no such error, which would be a broker bug.
 */
#define MANAGER(name) [SERVER_IFACE_MANAGER] = DMABROKER_MANAGER_V1_ERROR_##name + 1
#define BUFFER(name) [SERVER_IFACE_BUFFER] = DMABROKER_BUFFER_V1_ERROR_##name + 1
#define ATTACHMENT(name) [SERVER_IFACE_ATTACHMENT] = DMABROKER_ATTACHMENT_V1_ERROR_##name + 1

static const uint32_t misuse_errors[][SERVER_IFACE_COUNT] = {
	[DMAB_MISUSE_INVALID_FORMAT] = { MANAGER(INVALID_FORMAT) },
	[DMAB_MISUSE_INVALID_SIZE] = { MANAGER(INVALID_SIZE) },
	[DMAB_MISUSE_INVALID_USAGE] = { MANAGER(INVALID_USAGE) },
	[DMAB_MISUSE_INVALID_NAME] = { MANAGER(INVALID_NAME) },
	[DMAB_MISUSE_INVALID_FD] = { MANAGER(INVALID_FD) },
	[DMAB_MISUSE_INVALID_STRIDE] = { MANAGER(INVALID_STRIDE) },
	[DMAB_MISUSE_OUT_OF_BOUNDS] = { MANAGER(OUT_OF_BOUNDS) },
	[DMAB_MISUSE_INVALID_FLAGS] = { MANAGER(INVALID_FLAGS) },
	[DMAB_MISUSE_INVALID_PLANES] = { MANAGER(INVALID_PLANES) },
	[DMAB_MISUSE_INVALID_ACCESS] = { BUFFER(INVALID_ACCESS) },
	[DMAB_MISUSE_INVALID_CONSTRAINTS] = { BUFFER(INVALID_CONSTRAINTS) },
	[DMAB_MISUSE_READ_ONLY] = { BUFFER(READ_ONLY), ATTACHMENT(READ_ONLY) },
	[DMAB_MISUSE_INVALID_DIRECTION] = { ATTACHMENT(INVALID_DIRECTION) },
	[DMAB_MISUSE_ALREADY_MAPPED] = { ATTACHMENT(ALREADY_MAPPED) },
	[DMAB_MISUSE_NOT_MAPPED] = { ATTACHMENT(NOT_MAPPED) },
	[DMAB_MISUSE_NESTED_ACCESS] = { ATTACHMENT(NESTED_ACCESS) },
	[DMAB_MISUSE_NOT_IN_ACCESS] = { ATTACHMENT(NOT_IN_ACCESS) },
	[DMAB_MISUSE_DIRECTION_MISMATCH] = { ATTACHMENT(DIRECTION_MISMATCH) },
	[DMAB_MISUSE_ACCESS_PENDING] = { ATTACHMENT(ACCESS_PENDING) },
	[DMAB_MISUSE_CONFLICTING_ACCESS] = { ATTACHMENT(CONFLICTING_ACCESS) },
	[DMAB_MISUSE_DUPLICATE_FENCE] = { ATTACHMENT(DUPLICATE_FENCE) },
};

#undef MANAGER
#undef BUFFER
#undef ATTACHMENT

static const char *const iface_names[] = {
	[SERVER_IFACE_MANAGER] = "dmabroker_manager_v1",
	[SERVER_IFACE_BUFFER] = "dmabroker_buffer_v1",
	[SERVER_IFACE_ATTACHMENT] = "dmabroker_attachment_v1",
};

void server_post_misuse(struct wl_resource *resource, enum server_iface iface,
	const struct dmab_misuse_report *report)
{
	size_t misuse = (size_t)report->misuse;
	uint32_t code = 0;

	if (misuse < sizeof(misuse_errors) / sizeof(misuse_errors[0]))
		code = misuse_errors[misuse][iface];
	if (code == 0) {
		wl_client_post_implementation_error(wl_resource_get_client(resource),
			"broker bug: misuse %zu (%s) has no %s error", misuse, report->message,
			iface_names[iface]);
		return;
	}
	wl_resource_post_error(resource, code - 1, "%s", report->message);
}

void server_object_init(struct server_object *object, struct dmab_server *server,
	struct wl_resource *resource, server_object_release_func release)
{
	object->server = server;
	object->resource = resource;
	object->release = release;
	wl_list_insert(&server->objects, &object->link);
}

void server_object_finish(struct server_object *object)
{
	wl_list_remove(&object->link);
	if (object->resource)
		wl_resource_set_user_data(object->resource, NULL);
	object->resource = NULL;
}

struct wl_resource *server_resource_create(struct wl_resource *parent,
	const struct wl_interface *interface, const void *implementation,
	wl_resource_destroy_func_t destroy, uint32_t id)
{
	struct wl_client *client = wl_resource_get_client(parent);
	struct wl_resource *resource = wl_resource_create(client, interface,
		wl_resource_get_version(parent), id);

	if (!resource) {
		wl_client_post_no_memory(client);
		return NULL;
	}
	wl_resource_set_implementation(resource, implementation, NULL, destroy);
	return resource;
}

void server_bind_inert(struct wl_client *wl_client, const struct wl_interface *interface,
	const void *implementation, wl_resource_destroy_func_t destroy, uint32_t version,
	uint32_t id)
{
	struct wl_resource *resource = wl_resource_create(wl_client, interface, version, id);

	if (!resource) {
		wl_client_post_no_memory(wl_client);
		return;
	}
	wl_resource_set_implementation(resource, implementation, NULL, destroy);
}

static void client_free(struct server_client *client)
{
	wl_list_remove(&client->destroy.link);
	wl_list_remove(&client->link);
	dmab_account_destroy(client->account);
	free(client);
}

/*
 * libwayland emits this before it destroys the client's resources: the core
 * keeps the account alive until their destroy handlers have dropped its objects.
 */
static void client_handle_destroy(struct wl_listener *listener, void *data)
{
	struct server_client *client = wl_container_of(listener, client, destroy);

	server_fd_fences_release_client(client->server, client->wl_client);
	client_free(client);
}

struct server_client *server_client_find(struct dmab_server *server,
	struct wl_client *wl_client)
{
	struct server_client *client;

	wl_list_for_each(client, &server->clients, link) {
		if (client->wl_client == wl_client)
			return client;
	}
	return NULL;
}

static void apply_policy(struct server_client *client, uid_t uid)
{
	struct dmab_server *server = client->server;
	struct dmab_limits limits;
	struct dmab_server_client_policy policy = {
		/* A broker in a compositor that runs as root shows no more than to root. */
		.may_introspect = uid == geteuid(),
		.may_import_tokens = true,
	};

	if (server->policy) {
		dmab_core_get_limits(server->core, &limits);
		policy.quota = (struct dmab_quota){
			.max_bytes = limits.max_bytes,
			.max_buffers = limits.max_buffers,
			.max_attachments = limits.max_attachments,
			.max_tokens = limits.max_tokens,
		};
		server->policy(client->wl_client, &policy, server->policy_data);
		limits.max_bytes = policy.quota.max_bytes;
		limits.max_buffers = policy.quota.max_buffers;
		limits.max_attachments = policy.quota.max_attachments;
		limits.max_tokens = policy.quota.max_tokens;
		dmab_account_set_quota(client->account, &limits);
	}
	client->may_introspect = policy.may_introspect;
	client->may_import_tokens = policy.may_import_tokens;
}

struct server_client *server_client_get(struct dmab_server *server,
	struct wl_client *wl_client)
{
	struct server_client *client;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	struct dmab_failure fail;

	client = server_client_find(server, wl_client);
	if (client)
		return client;
	wl_client_get_credentials(wl_client, &pid, &uid, &gid);
	if (!dmab_core_admit(server->core, uid, &fail)) {
		server_log(DMAB_SERVER_LOG_INFO, "refused client pid %d: %s", (int)pid,
			fail.message);
		wl_client_post_implementation_error(wl_client, "dmabroker: %s", fail.message);
		return NULL;
	}
	client = calloc(1, sizeof(*client));
	if (!client) {
		wl_client_post_no_memory(wl_client);
		return NULL;
	}
	client->account = dmab_account_create(server->core, pid, uid);
	if (!client->account) {
		free(client);
		wl_client_post_no_memory(wl_client);
		return NULL;
	}
	client->server = server;
	client->wl_client = wl_client;
	apply_policy(client, uid);
	client->destroy.notify = client_handle_destroy;
	wl_client_add_destroy_listener(wl_client, &client->destroy);
	wl_list_insert(&server->clients, &client->link);
	wl_signal_emit(&server->events.new_client, wl_client);
	return client;
}

void server_note_failure(struct dmab_server *server, struct wl_client *client,
	const struct dmab_failure *fail)
{
	struct dmab_server_quota_event event = { .client = client, .message = fail->message };

	if (server && fail->reason == DMAB_REASON_QUOTA_EXCEEDED) {
		wl_signal_emit(&server->events.quota_hit, &event);
	}
}

void server_set_last_error(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, args);
	va_end(args);
}

const char *dmab_server_last_error(void)
{
	return last_error;
}

static void log_stderr(enum dmab_server_log_importance importance, const char *fmt,
	va_list args) __attribute__((format(printf, 2, 0)));

static void log_stderr(enum dmab_server_log_importance importance, const char *fmt,
	va_list args)
{
	if (importance > DMAB_SERVER_LOG_INFO) {
		return;
	}
	fputs("libdmabroker-server: ", stderr);
	vfprintf(stderr, fmt, args);
	fputc('\n', stderr);
}

static dmab_server_log_func log_handler = log_stderr;

void dmab_server_set_log_handler(dmab_server_log_func func)
{
	log_handler = func ? func : log_stderr;
}

void server_log(enum dmab_server_log_importance importance, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_handler(importance, fmt, args);
	va_end(args);
}

void server_log_once(bool *logged, const char *fmt, ...)
{
	va_list args;

	if (*logged) {
		return;
	}
	*logged = true;
	va_start(args, fmt);
	log_handler(DMAB_SERVER_LOG_INFO, fmt, args);
	va_end(args);
}

static int handle_timer(void *data)
{
	struct dmab_server *server = data;

	dmab_core_handle_timer(server->core);
	return 0;
}

static void arm_timer(void *data, uint64_t deadline_ms)
{
	struct dmab_server *server = data;
	uint64_t now;
	int delay = 0;

	if (deadline_ms != 0) {
		now = dmab_core_now_ms(server->core);
		/* 0 disarms a libwayland timer: a deadline that has passed fires in 1 ms. */
		delay = deadline_ms > now ? (int)(deadline_ms - now) : 1;
	}
	wl_event_source_timer_update(server->timer, delay);
}

/*
 * The kernel's fences of every access to dma-buf storage: a migration copies
 * only once they signaled, so the broker never sleeps in DMA_BUF_IOCTL_SYNC.
 */
static struct dmab_fence *storage_idle(void *data, struct dmab_buffer *buffer)
{
	return server_implicit_fence(data, buffer, false);
}

static void core_options_init(struct dmab_core_options *core_options,
	const struct dmab_server_options *options, struct dmab_server *server)
{
	*core_options = (struct dmab_core_options){
		.hooks = {
			.arm_timer = arm_timer,
			.storage_idle = storage_idle,
			.data = server,
		},
	};
	if (!options)
		return;
	core_options->allocator = options->allocator;
	core_options->max_hold_ms = options->max_hold_ms;
	core_options->limits = (struct dmab_limits){
		.max_width = options->max_width,
		.max_height = options->max_height,
		.max_bytes = options->quota.max_bytes,
		.max_buffers = options->quota.max_buffers,
		.max_attachments = options->quota.max_attachments,
		.max_tokens = options->quota.max_tokens,
		.max_uid_bytes = options->uid_quota.max_bytes,
		.max_uid_buffers = options->uid_quota.max_buffers,
		.max_uid_connections = options->uid_quota.max_connections,
		.max_uid_fds = options->uid_quota.max_fds,
	};
}

static void handle_display_destroy(struct wl_listener *listener, void *data)
{
	struct dmab_server *server = wl_container_of(listener, server, display_destroy);

	server->display_dying = true;
	dmab_server_destroy(server);
}

/*
 * A global removed but not destroyed yet. A client may have sent a bind for a
 * global just before it learnt of its removal: libwayland answers a bind of a
 * destroyed global with a protocol error, but binds a removed one, with the
 * NULL user data that makes the bind handlers create inert objects. As
 * wlroots' wlr_global_destroy_safe, destroy it once such binds have surely
 * arrived.
 */
struct removed_global {
	struct wl_global *global;
	struct wl_event_source *timer;
	struct wl_listener display_destroy;
};

enum { REMOVED_GLOBAL_LINGER_MS = 5000 };

static void removed_global_destroy(struct removed_global *removed)
{
	wl_list_remove(&removed->display_destroy.link);
	wl_event_source_remove(removed->timer);
	wl_global_destroy(removed->global);
	free(removed);
}

static int removed_global_handle_timer(void *data)
{
	removed_global_destroy(data);
	return 0;
}

static void removed_global_handle_display_destroy(struct wl_listener *listener, void *data)
{
	struct removed_global *removed = wl_container_of(listener, removed, display_destroy);

	removed_global_destroy(removed);
}

static void global_destroy_safe(struct wl_display *display, struct wl_global *global,
	bool display_dying)
{
	struct removed_global *removed;

	wl_global_set_user_data(global, NULL);
	if (display_dying) {
		wl_global_destroy(global);
		return;
	}
	wl_global_remove(global);
	removed = calloc(1, sizeof(*removed));
	if (!removed) {
		/* Better a protocol error for a racing bind than a leak. */
		wl_global_destroy(global);
		return;
	}
	removed->global = global;
	removed->timer = wl_event_loop_add_timer(wl_display_get_event_loop(display),
		removed_global_handle_timer, removed);
	if (!removed->timer) {
		free(removed);
		wl_global_destroy(global);
		return;
	}
	wl_event_source_timer_update(removed->timer, REMOVED_GLOBAL_LINGER_MS);
	removed->display_destroy.notify = removed_global_handle_display_destroy;
	wl_display_add_destroy_listener(display, &removed->display_destroy);
}

/* As wlroots does: a listener left behind would be called with freed memory. */
static void assert_no_listeners(struct dmab_server *server)
{
	assert(wl_list_empty(&server->events.destroy.listener_list));
	assert(wl_list_empty(&server->events.new_client.listener_list));
	assert(wl_list_empty(&server->events.buffer_create.listener_list));
	assert(wl_list_empty(&server->events.buffer_destroy.listener_list));
	assert(wl_list_empty(&server->events.attachment_add.listener_list));
	assert(wl_list_empty(&server->events.attachment_remove.listener_list));
	assert(wl_list_empty(&server->events.token_share.listener_list));
	assert(wl_list_empty(&server->events.token_revoke.listener_list));
	assert(wl_list_empty(&server->events.quota_hit.listener_list));
}

struct dmab_server *dmab_server_create(struct wl_display *display,
	const struct dmab_server_options *options)
{
	struct dmab_core_options core_options;
	char err[sizeof(last_error)] = "";
	struct dmab_server *server;

	if (wl_display_get_destroy_listener(display, handle_display_destroy)) {
		server_set_last_error("the display has a dmabroker server already");
		errno = EBUSY;
		return NULL;
	}
	server = calloc(1, sizeof(*server));
	if (!server) {
		server_set_last_error("out of memory");
		return NULL;
	}
	server->display = display;
	server->loop = wl_display_get_event_loop(display);
	wl_list_init(&server->clients);
	wl_list_init(&server->objects);
	wl_list_init(&server->reads);
	wl_list_init(&server->fd_watches);
	wl_list_init(&server->fence_charges);
	wl_list_init(&server->own_buffers);
	wl_signal_init(&server->events.destroy);
	wl_signal_init(&server->events.new_client);
	wl_signal_init(&server->events.buffer_create);
	wl_signal_init(&server->events.buffer_destroy);
	wl_signal_init(&server->events.attachment_add);
	wl_signal_init(&server->events.attachment_remove);
	wl_signal_init(&server->events.token_share);
	wl_signal_init(&server->events.token_revoke);
	wl_signal_init(&server->events.quota_hit);

	server->timer = wl_event_loop_add_timer(server->loop, handle_timer, server);
	if (!server->timer) {
		server_set_last_error("cannot create the broker's timer");
		errno = ENOMEM;
		goto err_free;
	}
	core_options_init(&core_options, options, server);
	server->core = dmab_core_create(&core_options, err, sizeof(err));
	if (!server->core) {
		server_set_last_error("%s", err[0] ? err : "cannot create the broker core");
		errno = ENODEV;
		goto err_timer;
	}
	server->global = wl_global_create(display, &dmabroker_manager_v1_interface,
		MANAGER_VERSION, server, server_manager_bind);
	if (!server->global) {
		server_set_last_error("cannot create the dmabroker_manager_v1 global");
		errno = ENOMEM;
		goto err_core;
	}
	if (options && options->linux_dmabuf && !dmab_server_enable_linux_dmabuf(server))
		goto err_global;
	server->display_destroy.notify = handle_display_destroy;
	wl_display_add_destroy_listener(display, &server->display_destroy);
	last_error[0] = '\0';
	return server;

err_global:
	wl_global_destroy(server->global);
err_core:
	dmab_core_destroy(server->core);
err_timer:
	wl_event_source_remove(server->timer);
err_free:
	free(server);
	return NULL;
}

void dmab_server_destroy(struct dmab_server *server)
{
	struct server_object *object, *tmp_object;
	struct server_client *client, *tmp_client;

	if (!server) {
		return;
	}
	wl_signal_emit(&server->events.destroy, server);
	assert_no_listeners(server);
	wl_list_remove(&server->display_destroy.link);
	global_destroy_safe(server->display, server->global, server->display_dying);
	if (server->linux_dmabuf) {
		global_destroy_safe(server->display, server->linux_dmabuf, server->display_dying);
	}

	/*
	 * Everything goes inert first and the compositor's reads end before any
	 * core object is freed: freeing one wakes others, which must neither send
	 * events nor call back into the compositor.
	 */
	wl_list_for_each(object, &server->objects, link) {
		wl_resource_set_user_data(object->resource, NULL);
		object->resource = NULL;
	}
	server_reads_finish(server);
	wl_list_for_each_safe(object, tmp_object, &server->objects, link)
		object->release(object);
	server_own_buffers_finish(server);
	server_fd_fences_finish(server);
	server_fence_charges_finish(server);
	wl_list_for_each_safe(client, tmp_client, &server->clients, link)
		client_free(client);

	dmab_core_destroy(server->core);
	wl_event_source_remove(server->timer);
	free(server);
}

void dmab_server_set_policy(struct dmab_server *server, dmab_server_policy_func func,
	void *data)
{
	server->policy = func;
	server->policy_data = func ? data : NULL;
}

struct dmab_server_events *dmab_server_get_events(struct dmab_server *server)
{
	return &server->events;
}

const char *dmab_server_allocator_name(const struct dmab_server *server)
{
	return dmab_alloc_set_name(dmab_core_get_allocators(server->core));
}

bool dmab_server_enable_linux_dmabuf(struct dmab_server *server)
{
	if (server->linux_dmabuf)
		return true;
	if (!server_linux_dmabuf_init(server)) {
		server_set_last_error("cannot create the zwp_linux_dmabuf_v1 global");
		errno = ENOMEM;
		return false;
	}
	return true;
}
