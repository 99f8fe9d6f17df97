/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "dmabroker-v1-server-protocol.h"
#include "server-private.h"

struct attachment {
	struct server_object base;
	struct dmab_attachment *core; /* holds its own buffer reference */
	uint32_t access;
	bool added; /* attachment_add was emitted: attachment_remove will be */
};

static const struct dmabroker_attachment_v1_interface attachment_impl;

static struct attachment *attachment_from_resource(struct wl_resource *resource)
{
	assert(wl_resource_instance_of(resource, &dmabroker_attachment_v1_interface,
		&attachment_impl));
	return wl_resource_get_user_data(resource);
}

/* NULL if inert or defunct: such an attachment ignores every request but destroy. */
static struct dmab_attachment *usable_from_resource(struct wl_resource *resource)
{
	struct attachment *att = attachment_from_resource(resource);

	if (!att || !att->core || dmab_attachment_is_defunct(att->core))
		return NULL;
	return att->core;
}

static void attachment_handle_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static void attachment_handle_map(struct wl_client *client, struct wl_resource *resource,
	uint32_t direction)
{
	struct dmab_attachment *att = usable_from_resource(resource);
	struct dmab_misuse_report report = {0};

	if (att && !dmab_attachment_map(att, direction, &report))
		server_post_misuse(resource, SERVER_IFACE_ATTACHMENT, &report);
}

static void attachment_handle_unmap(struct wl_client *client, struct wl_resource *resource)
{
	struct dmab_attachment *att = usable_from_resource(resource);
	struct dmab_misuse_report report = {0};

	if (att && !dmab_attachment_unmap(att, &report))
		server_post_misuse(resource, SERVER_IFACE_ATTACHMENT, &report);
}

static void attachment_handle_begin_access(struct wl_client *client,
	struct wl_resource *resource, uint32_t direction)
{
	struct dmab_attachment *att = usable_from_resource(resource);
	struct dmab_misuse_report report = {0};

	if (att && !dmab_attachment_begin_access(att, direction, &report))
		server_post_misuse(resource, SERVER_IFACE_ATTACHMENT, &report);
}

static void attachment_handle_end_access(struct wl_client *client,
	struct wl_resource *resource, uint32_t direction)
{
	struct dmab_attachment *att = usable_from_resource(resource);
	struct dmab_misuse_report report = {0};

	if (att && !dmab_attachment_end_access(att, direction, &report))
		server_post_misuse(resource, SERVER_IFACE_ATTACHMENT, &report);
}

/*
 * Implicit synchronization sees the frame's device work too: a sync_file
 * becomes a write fence of the dma-buf. Kernels before 6.0 lack the ioctl, and
 * then only the broker's own fences order the frame.
 */
static void import_implicit(struct dmab_buffer *buffer, int fd)
{
	static bool logged;
	int ret = dmab_buffer_import_sync_file(buffer, fd);

	if (ret == -ENOTTY || ret == -EINVAL)
		server_log_once(&logged, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE: %s: acquire fences "
			"do not reach implicitly synchronized importers", strerror(-ret));
}

static void attachment_handle_set_acquire_fence(struct wl_client *client,
	struct wl_resource *resource, int32_t fd)
{
	struct attachment *att = attachment_from_resource(resource);
	struct dmab_attachment *core = usable_from_resource(resource);
	struct dmab_misuse_report report = {0};
	enum server_fence_fd_kind kind;
	struct dmab_fence *fence;

	if (!core)
		goto out;
	kind = server_fence_fd_kind(fd);
	if (kind == SERVER_FENCE_FD_INVALID) {
		wl_resource_post_error(resource, DMABROKER_ATTACHMENT_V1_ERROR_INVALID_FENCE,
			"acquire fence fd %d is neither a sync_file nor an eventfd", fd);
		goto out;
	}
	fence = dmab_fence_create();
	if (!fence) {
		wl_client_post_no_memory(client);
		goto out;
	}
	if (!dmab_attachment_set_acquire_fence(core, fence, &report)) {
		server_post_misuse(resource, SERVER_IFACE_ATTACHMENT, &report);
	} else {
		if (kind == SERVER_FENCE_FD_SYNC_FILE)
			import_implicit(dmab_attachment_get_buffer(core), fd);
		/* A sync_file always signals; an eventfd only while its client lives. */
		if (!server_fd_fence_watch(att->base.server, fd, WL_EVENT_READABLE,
				kind == SERVER_FENCE_FD_EVENTFD ? client : NULL, fence)) {
			dmab_fence_signal(fence);
			wl_client_post_no_memory(client);
		}
	}
	dmab_fence_unref(fence);
out:
	close(fd);
}

static const struct dmabroker_attachment_v1_interface attachment_impl = {
	.destroy = attachment_handle_destroy,
	.map = attachment_handle_map,
	.unmap = attachment_handle_unmap,
	.begin_access = attachment_handle_begin_access,
	.end_access = attachment_handle_end_access,
	.set_acquire_fence = attachment_handle_set_acquire_fence,
};

static void attachment_handle_mapped(struct dmab_attachment *core, uint32_t serial,
	const struct dmab_mapping *mapping, void *data)
{
	struct attachment *att = data;

	const struct dmab_plane *planes = mapping->planes;

	/* libwayland sends a dup of the fd; the mapping's own is ours to close. */
	if (att->base.resource) {
		for (uint32_t i = 0; i < mapping->n_planes; i++) {
			dmabroker_attachment_v1_send_plane(att->base.resource, serial, i,
				planes[i].offset, planes[i].stride, planes[i].size);
		}
		dmabroker_attachment_v1_send_mapped(att->base.resource, serial, mapping->fd,
			planes[0].offset, planes[0].size, planes[0].stride, mapping->flags);
	}
	if (mapping->fd >= 0)
		close(mapping->fd);
}

static void attachment_handle_ready(struct dmab_attachment *core, uint32_t serial, void *data)
{
	struct attachment *att = data;

	if (att->base.resource)
		dmabroker_attachment_v1_send_ready(att->base.resource, serial);
}

static void attachment_handle_moved(struct dmab_attachment *core, uint32_t serial, void *data)
{
	struct attachment *att = data;

	if (att->base.resource)
		dmabroker_attachment_v1_send_moved(att->base.resource, serial);
}

static void attachment_handle_failed(struct dmab_attachment *core,
	const struct dmab_failure *fail, void *data)
{
	struct attachment *att = data;

	if (!att->base.resource) {
		return;
	}
	dmabroker_attachment_v1_send_failed(att->base.resource, fail->reason, fail->message);
	server_note_failure(att->base.server, wl_resource_get_client(att->base.resource), fail);
}

static void attachment_emit(struct attachment *att, struct wl_signal *signal)
{
	struct dmab_server_attachment_event event = {
		.client = wl_resource_get_client(att->base.resource),
		.resource = att->base.resource,
		.access = att->access,
	};

	wl_signal_emit(signal, &event);
}

static const struct dmab_attachment_listener attachment_listener = {
	.mapped = attachment_handle_mapped,
	.ready = attachment_handle_ready,
	.moved = attachment_handle_moved,
	.failed = attachment_handle_failed,
};

static void attachment_release(struct server_object *object)
{
	struct attachment *att = wl_container_of(object, att, base);

	if (att->added && att->base.resource) {
		attachment_emit(att, &att->base.server->events.attachment_remove);
	}
	dmab_attachment_destroy(att->core);
	server_object_finish(&att->base);
	free(att);
}

static void attachment_handle_resource_destroy(struct wl_resource *resource)
{
	struct attachment *att = attachment_from_resource(resource);

	if (att)
		attachment_release(&att->base);
}

void server_attachment_create(struct wl_resource *parent, uint32_t id,
	struct dmab_server *server, struct dmab_handle *handle, struct dmab_account *account,
	enum dmab_access access, const struct dmab_constraints *constraints)
{
	struct wl_resource *resource = server_resource_create(parent,
		&dmabroker_attachment_v1_interface, &attachment_impl,
		attachment_handle_resource_destroy, id);
	struct attachment *att;

	if (!resource)
		return;
	if (!handle) {
		dmabroker_attachment_v1_send_failed(resource, server_defunct_failure.reason,
			server_defunct_failure.message);
		return;
	}
	att = calloc(1, sizeof(*att));
	if (!att) {
		wl_resource_post_no_memory(resource);
		return;
	}
	server_object_init(&att->base, server, resource, attachment_release);
	wl_resource_set_user_data(resource, att);
	/* A failure a correct client can meet runs the failed callback in here. */
	att->core = dmab_attachment_create(handle, account, access, constraints,
		&attachment_listener, att);
	if (!att->core) {
		attachment_release(&att->base);
		wl_resource_post_no_memory(resource);
		return;
	}
	att->access = access;
	if (!dmab_attachment_is_defunct(att->core)) {
		att->added = true;
		attachment_emit(att, &server->events.attachment_add);
	}
}
