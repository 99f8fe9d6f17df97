/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "dmabroker-v1-server-protocol.h"
#include "server-private.h"

struct buffer {
	struct server_object base;
	struct dmab_account *account; /* the client's: the handle keeps it alive */
	struct dmab_handle *handle;
};

static const struct dmabroker_buffer_v1_interface buffer_impl;

static struct buffer *buffer_from_resource(struct wl_resource *resource)
{
	assert(wl_resource_instance_of(resource, &dmabroker_buffer_v1_interface, &buffer_impl));
	return wl_resource_get_user_data(resource);
}

struct dmab_handle *server_handle_from_resource(struct wl_resource *resource)
{
	struct buffer *buffer = buffer_from_resource(resource);

	return buffer ? buffer->handle : NULL;
}

static void buffer_send_info(struct buffer *buffer)
{
	struct dmab_layout layout;

	if (!buffer->base.resource)
		return;
	dmab_buffer_get_layout(dmab_handle_get_buffer(buffer->handle), &layout);
	for (uint32_t i = 0; i < layout.n_planes; i++) {
		dmabroker_buffer_v1_send_plane(buffer->base.resource, i, layout.planes[i].offset,
			layout.planes[i].stride, layout.planes[i].size);
	}
	dmabroker_buffer_v1_send_info(buffer->base.resource, layout.width, layout.height,
		layout.format, layout.planes[0].stride, (uint32_t)(layout.size >> 32),
		(uint32_t)layout.size,
		dmab_handle_get_access(buffer->handle));
}

static void buffer_emit(struct buffer *buffer, struct wl_signal *signal)
{
	struct dmab_layout layout;
	struct dmab_server_buffer_event event = {
		.client = wl_resource_get_client(buffer->base.resource),
		.resource = buffer->base.resource,
	};

	dmab_buffer_get_layout(dmab_handle_get_buffer(buffer->handle), &layout);
	event.width = layout.width;
	event.height = layout.height;
	event.format = layout.format;
	wl_signal_emit(signal, &event);
}

static void buffer_handle_layout(struct dmab_handle *handle, void *data)
{
	buffer_send_info(data);
}

/* The checks the core leaves to the glue: it knows nothing of the requests' enums. */
static bool check_access(struct wl_resource *resource, struct buffer *buffer, uint32_t access)
{
	struct dmab_misuse_report report = {0};

	if (access != DMAB_ACCESS_READ && access != DMAB_ACCESS_READ_WRITE) {
		report.misuse = DMAB_MISUSE_INVALID_ACCESS;
		snprintf(report.message, sizeof(report.message),
			"access %u is neither read (1) nor read_write (3)", access);
	} else if (access == DMAB_ACCESS_READ_WRITE &&
			dmab_handle_get_access(buffer->handle) != DMAB_ACCESS_READ_WRITE) {
		report.misuse = DMAB_MISUSE_READ_ONLY;
		snprintf(report.message, sizeof(report.message),
			"read_write access through a read-only reference");
	} else {
		return true;
	}
	server_post_misuse(resource, SERVER_IFACE_BUFFER, &report);
	return false;
}

static void buffer_handle_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static void buffer_handle_attach(struct wl_client *client, struct wl_resource *resource,
	uint32_t id, uint32_t access, uint32_t flags, uint32_t row_alignment, uint32_t max_planes)
{
	struct buffer *buffer = buffer_from_resource(resource);
	struct dmab_constraints constraints = {
		.flags = flags, .row_alignment = row_alignment, .max_planes = max_planes,
	};
	struct dmab_misuse_report report = {0};

	if (!buffer) {
		server_attachment_create(resource, id, NULL, NULL, NULL, access, &constraints);
		return;
	}
	if (!check_access(resource, buffer, access))
		return;
	if (!dmab_constraints_check(access, &constraints, &report)) {
		server_post_misuse(resource, SERVER_IFACE_BUFFER, &report);
		return;
	}
	server_attachment_create(resource, id, buffer->base.server, buffer->handle,
		buffer->account, access, &constraints);
}

static void buffer_handle_share(struct wl_client *client, struct wl_resource *resource,
	uint32_t id, uint32_t access)
{
	struct buffer *buffer = buffer_from_resource(resource);
	struct dmab_failure fail = server_nomem_failure;
	struct dmab_token *token;

	if (!buffer) {
		server_token_create(resource, id, NULL, NULL, &server_defunct_failure);
		return;
	}
	if (!check_access(resource, buffer, access))
		return;
	token = dmab_token_create(buffer->handle, access, &fail);
	server_token_create(resource, id, buffer->base.server, token, &fail);
}

/*
 * A sync_file of the dma-buf's implicit fences, with a fence that signals
 * with it (for the signaled event); NULL if the kernel has no
 * DMA_BUF_IOCTL_EXPORT_SYNC_FILE (before 6.0) or on allocation failure.
 */
static struct dmab_fence *export_sync_file(struct dmab_server *server,
	struct dmab_buffer *buffer, bool write, int *fd)
{
	struct dmab_fence *fence = dmab_fence_create();

	*fd = dmab_buffer_export_sync_file(buffer, write);
	if (!fence || *fd < 0)
		goto err;
	if (!server_fd_fence_watch(server, *fd, WL_EVENT_READABLE, NULL, fence))
		goto err;
	return fence;

err:
	dmab_fence_unref(fence);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return NULL;
}

/*
 * On a dma-buf the broker's fence and the kernel's implicit fences of the same
 * direction both count: a sync_file when only the kernel's can be pending,
 * else an eventfd once both have signaled.
 */
static struct dmab_fence *buffer_fence(struct dmab_server *server, struct dmab_buffer *buffer,
	bool write, int *fd)
{
	struct dmab_fence *fences[2], *all;

	*fd = -1;
	fences[0] = dmab_buffer_get_fence(buffer, write);
	if (!fences[0] || dmab_buffer_get_dmabuf_fd(buffer) < 0)
		return fences[0];
	if (dmab_fence_is_signaled(fences[0])) {
		all = export_sync_file(server, buffer, write, fd);
		if (all) {
			dmab_fence_unref(fences[0]);
			return all;
		}
	}
	fences[1] = server_implicit_fence(server, buffer, write);
	all = fences[1] ? dmab_fence_create_all(fences, 2) : NULL;
	dmab_fence_unref(fences[1]);
	dmab_fence_unref(fences[0]);
	return all;
}

static void buffer_handle_get_fence(struct wl_client *client, struct wl_resource *resource,
	uint32_t id, uint32_t kind)
{
	struct buffer *buffer = buffer_from_resource(resource);
	struct dmab_fence *fence;
	int fd;

	if (!buffer) {
		/* Nothing can ever write or read a defunct buffer. */
		server_fence_create(resource, id, NULL, dmab_fence_create_signaled(), -1);
		return;
	}
	if (kind == DMABROKER_BUFFER_V1_FENCE_KIND_NEXT_WRITE &&
			wl_resource_get_version(resource) >=
			DMABROKER_BUFFER_V1_FENCE_KIND_NEXT_WRITE_SINCE_VERSION) {
		/* The broker's brackets only: it waits for a frame, not for the kernel. */
		fence = dmab_buffer_get_next_write_fence(dmab_handle_get_buffer(buffer->handle));
		fd = -1;
	} else if (kind != DMABROKER_BUFFER_V1_FENCE_KIND_WRITE &&
			kind != DMABROKER_BUFFER_V1_FENCE_KIND_READ) {
		wl_resource_post_error(resource, DMABROKER_BUFFER_V1_ERROR_INVALID_FENCE,
			"fence kind %u is not write (0), read (1) or, from version 3, "
			"next_write (2)", kind);
		return;
	} else {
		fence = buffer_fence(buffer->base.server,
			dmab_handle_get_buffer(buffer->handle),
			kind == DMABROKER_BUFFER_V1_FENCE_KIND_WRITE, &fd);
	}
	if (!fence) {
		wl_client_post_no_memory(client);
		return;
	}
	server_fence_create(resource, id, buffer->base.server, fence, fd);
}

static const struct dmabroker_buffer_v1_interface buffer_impl = {
	.destroy = buffer_handle_destroy,
	.attach = buffer_handle_attach,
	.share = buffer_handle_share,
	.get_fence = buffer_handle_get_fence,
};

static void buffer_release(struct server_object *object)
{
	struct buffer *buffer = wl_container_of(object, buffer, base);

	if (buffer->base.resource) {
		buffer_emit(buffer, &buffer->base.server->events.buffer_destroy);
	}
	dmab_handle_destroy(buffer->handle);
	server_object_finish(&buffer->base);
	free(buffer);
}

static void buffer_handle_resource_destroy(struct wl_resource *resource)
{
	struct buffer *buffer = buffer_from_resource(resource);

	if (buffer)
		buffer_release(&buffer->base);
}

void server_buffer_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	struct dmab_account *account, struct dmab_handle *handle, const struct dmab_failure *fail)
{
	struct wl_resource *resource = server_resource_create(parent,
		&dmabroker_buffer_v1_interface, &buffer_impl, buffer_handle_resource_destroy, id);
	struct buffer *buffer;

	if (!resource) {
		dmab_handle_destroy(handle);
		return;
	}
	if (!handle) {
		dmabroker_buffer_v1_send_failed(resource, fail->reason, fail->message);
		server_note_failure(server, wl_resource_get_client(resource), fail);
		return;
	}
	buffer = calloc(1, sizeof(*buffer));
	if (!buffer) {
		dmab_handle_destroy(handle);
		wl_resource_post_no_memory(resource);
		return;
	}
	buffer->account = account;
	buffer->handle = handle;
	server_object_init(&buffer->base, server, resource, buffer_release);
	wl_resource_set_user_data(resource, buffer);
	dmab_handle_set_layout_listener(handle, buffer_handle_layout, buffer);
	buffer_send_info(buffer);
	buffer_emit(buffer, &server->events.buffer_create);
}
