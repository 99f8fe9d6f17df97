/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-private.h"

static _Thread_local struct dmab_client_failure last_failure;

const struct dmab_client_failure *dmab_client_last_failure(void)
{
	return &last_failure;
}

void client_failure_init(struct dmab_client_failure *failure, uint32_t reason,
	const char *message)
{
	failure->reason = reason;
	snprintf(failure->message, sizeof(failure->message), "%s", message ? message : "");
}

static int reason_errno(uint32_t reason)
{
	switch (reason) {
	case DMABROKER_MANAGER_V1_REASON_QUOTA_EXCEEDED:
		return -EDQUOT;
	case DMABROKER_MANAGER_V1_REASON_UNKNOWN_TOKEN:
		return -ENOENT;
	case DMABROKER_MANAGER_V1_REASON_REVOKED_TOKEN:
	case DMABROKER_MANAGER_V1_REASON_PERMISSION_DENIED:
		return -EACCES;
	case DMABROKER_MANAGER_V1_REASON_ALLOC_FAILED:
		return -ENOMEM;
	case DMABROKER_MANAGER_V1_REASON_UNSATISFIABLE:
		return -EINVAL;
	case DMABROKER_MANAGER_V1_REASON_DEFUNCT:
		return -ENODEV;
	case DMABROKER_MANAGER_V1_REASON_PREEMPTED:
		return -ETIMEDOUT;
	}
	return -EIO;
}

int client_report_failure(const struct dmab_client_failure *failure)
{
	last_failure = *failure;
	return reason_errno(failure->reason);
}

void client_fd_ensure_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);
	if (flags >= 0 && !(flags & FD_CLOEXEC))
		fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

int client_display_errno(struct wl_display *display)
{
	const struct wl_interface *interface = NULL;
	wl_display_get_protocol_error(display, &interface, NULL);
	if (interface != NULL || wl_display_get_error(display) == EPROTO)
		return -EPROTO;
	return -EPIPE;
}

int client_wait(struct dmab_client *client, dmab_client_done_func done, const void *data)
{
	while (!done(data)) {
		if (wl_display_dispatch_queue(client->display, client->queue) < 0)
			return client_display_errno(client->display);
	}
	return 0;
}

void client_dispatch_queued(struct dmab_client *client)
{
	/* An error shows at the next blocking call, which reports it. */
	wl_display_dispatch_queue_pending(client->display, client->queue);
}

void *client_app_wrapper(void *proxy)
{
	struct wl_proxy *wrapper = wl_proxy_create_wrapper(proxy);
	if (wrapper != NULL)
		wl_proxy_set_queue(wrapper, NULL);
	return wrapper;
}

int client_flush(struct dmab_client *client)
{
	/* The batch's end sends everything queued meanwhile in one sendmsg. */
	if (client->batch_depth > 0) {
		return 0;
	}
	if (wl_display_flush(client->display) < 0 && errno != EAGAIN) {
		return client_display_errno(client->display);
	}
	return 0;
}

void dmab_client_batch_begin(struct dmab_client *client)
{
	client->batch_depth++;
}

int dmab_client_batch_end(struct dmab_client *client)
{
	if (client->batch_depth == 0) {
		return -EINVAL;
	}
	client->batch_depth--;
	return client_flush(client);
}

static void handle_format(void *data, struct dmabroker_manager_v1 *manager, uint32_t format)
{
	struct dmab_client *client = data;
	if (client->formats_len == client->formats_cap) {
		size_t cap = client->formats_cap ? 2 * client->formats_cap : 8;
		uint32_t *formats = realloc(client->formats, cap * sizeof(*formats));
		if (formats == NULL) {
			client->formats_oom = true;
			return;
		}
		client->formats = formats;
		client->formats_cap = cap;
	}
	client->formats[client->formats_len++] = format;
}

static void handle_limits(void *data, struct dmabroker_manager_v1 *manager,
	uint32_t max_width, uint32_t max_height, uint32_t max_bytes_hi, uint32_t max_bytes_lo,
	uint32_t max_buffers, uint32_t max_attachments, uint32_t max_tokens)
{
	struct dmab_client *client = data;
	client->limits = (struct dmab_client_limits){
		.max_width = max_width,
		.max_height = max_height,
		.max_bytes = (uint64_t)max_bytes_hi << 32 | max_bytes_lo,
		.max_buffers = max_buffers,
		.max_attachments = max_attachments,
		.max_tokens = max_tokens,
	};
	client->have_limits = true;
}

static const struct dmabroker_manager_v1_listener manager_listener = {
	.format = handle_format,
	.limits = handle_limits,
};

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
	const char *interface, uint32_t version)
{
	struct dmab_client *client = data;
	if (client->manager != NULL || strcmp(interface, dmabroker_manager_v1_interface.name) != 0)
		return;
	/* Versions 2 and 3 add what the library knows: introspection events, next_write. */
	client->manager = wl_registry_bind(registry, name, &dmabroker_manager_v1_interface,
		version < 3 ? version : 3);
	if (client->manager != NULL)
		dmabroker_manager_v1_add_listener(client->manager, &manager_listener, client);
}

static void handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

/* Binds the manager and collects its format and limits events. */
static int client_bind(struct dmab_client *client)
{
	client->queue = wl_display_create_queue(client->display);
	if (client->queue == NULL)
		return -ENOMEM;
	client->display_wrapper = wl_proxy_create_wrapper(client->display);
	if (client->display_wrapper == NULL)
		return -ENOMEM;
	wl_proxy_set_queue((struct wl_proxy *)client->display_wrapper, client->queue);
	struct wl_registry *registry = wl_display_get_registry(client->display_wrapper);
	if (registry == NULL)
		return -ENOMEM;
	wl_registry_add_listener(registry, &registry_listener, client);
	int ret = 0;
	if (wl_display_roundtrip_queue(client->display, client->queue) < 0) {
		ret = client_display_errno(client->display);
		goto out;
	}
	if (client->manager == NULL) {
		ret = -ENODEV;
		goto out;
	}
	if (wl_display_roundtrip_queue(client->display, client->queue) < 0) {
		ret = client_display_errno(client->display);
		goto out;
	}
	if (client->formats_oom)
		ret = -ENOMEM;
	else if (!client->have_limits)
		ret = -EPROTO;
out:
	wl_registry_destroy(registry);
	return ret;
}

struct dmab_client *dmab_client_create(struct wl_display *display)
{
	struct dmab_client *client = calloc(1, sizeof(*client));
	if (client == NULL)
		return NULL;
	client->display = display;
	wl_list_init(&client->buffers);
	int ret = client_bind(client);
	if (ret < 0) {
		dmab_client_destroy(client);
		errno = -ret;
		return NULL;
	}
	return client;
}

struct dmab_client *dmab_client_connect(const char *socket_name)
{
	struct wl_display *display = wl_display_connect(socket_name);
	if (display == NULL)
		return NULL;
	struct dmab_client *client = dmab_client_create(display);
	if (client == NULL) {
		int err = errno;
		wl_display_disconnect(display);
		errno = err;
		return NULL;
	}
	client->owns_display = true;
	return client;
}

void dmab_client_destroy(struct dmab_client *client)
{
	if (client == NULL)
		return;
	struct dmab_client_buffer *buffer, *tmp;
	wl_list_for_each_safe(buffer, tmp, &client->buffers, link)
		dmab_client_buffer_destroy(buffer);
	if (client->app_manager != NULL)
		wl_proxy_wrapper_destroy(client->app_manager);
	if (client->manager != NULL)
		dmabroker_manager_v1_destroy(client->manager);
	free(client->formats);
	if (client->display_wrapper != NULL)
		wl_proxy_wrapper_destroy(client->display_wrapper);
	if (client->owns_display) {
		if (client->queue != NULL)
			wl_event_queue_destroy(client->queue);
		wl_display_disconnect(client->display);
	} else {
		wl_display_flush(client->display);
		if (client->queue != NULL)
			wl_event_queue_destroy(client->queue);
	}
	free(client);
}

struct wl_display *dmab_client_get_display(struct dmab_client *client)
{
	return client->display;
}

struct dmabroker_manager_v1 *dmab_client_get_manager(struct dmab_client *client)
{
	if (client->app_manager == NULL)
		client->app_manager = client_app_wrapper(client->manager);
	return client->app_manager;
}

const uint32_t *dmab_client_get_formats(struct dmab_client *client, size_t *len)
{
	*len = client->formats_len;
	return client->formats;
}

void dmab_client_get_limits(struct dmab_client *client, struct dmab_client_limits *limits)
{
	*limits = client->limits;
}

/*
 * What the library's queue has already, first: blocking in poll for events
 * that were read already would wait for nothing.
 */
int dmab_client_dispatch(struct dmab_client *client)
{
	struct wl_display *display = client->display;
	int ret = wl_display_dispatch_queue_pending(display, client->queue);
	if (ret != 0)
		return ret < 0 ? client_display_errno(display) : 0;
	if (wl_display_prepare_read(display) != 0)
		goto dispatch;
	if (wl_display_flush(display) < 0 && errno != EAGAIN) {
		wl_display_cancel_read(display);
		return client_display_errno(display);
	}
	struct pollfd pfd = { .fd = wl_display_get_fd(display), .events = POLLIN };
	while (poll(&pfd, 1, -1) < 0) {
		if (errno != EINTR) {
			wl_display_cancel_read(display);
			return -errno;
		}
	}
	if (wl_display_read_events(display) < 0)
		return client_display_errno(display);
dispatch:
	if (wl_display_dispatch_pending(display) < 0 ||
			wl_display_dispatch_queue_pending(display, client->queue) < 0)
		return client_display_errno(display);
	return 0;
}

/* The sync's done follows every earlier event, which are then in one of the queues. */
int dmab_client_roundtrip(struct dmab_client *client)
{
	if (wl_display_roundtrip(client->display) < 0 ||
			wl_display_dispatch_queue_pending(client->display, client->queue) < 0)
		return client_display_errno(client->display);
	return 0;
}

int dmab_client_dispatch_pending(struct dmab_client *client)
{
	if (wl_display_dispatch_queue_pending(client->display, client->queue) < 0)
		return client_display_errno(client->display);
	return 0;
}
