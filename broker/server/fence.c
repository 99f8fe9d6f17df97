/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdlib.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "dmabroker-v1-server-protocol.h"
#include "server-private.h"

struct fence {
	struct server_object base;
	struct dmab_fence *core;
	struct dmab_fence_cb signaled;
	bool waiting; /* signaled is on the fence's callback list */
};

static const struct dmabroker_fence_v1_interface fence_impl;

static struct fence *fence_from_resource(struct wl_resource *resource)
{
	assert(wl_resource_instance_of(resource, &dmabroker_fence_v1_interface, &fence_impl));
	return wl_resource_get_user_data(resource);
}

static void fence_handle_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static const struct dmabroker_fence_v1_interface fence_impl = {
	.destroy = fence_handle_destroy,
};

static void fence_handle_signaled(struct dmab_fence *core, struct dmab_fence_cb *cb)
{
	struct fence *fence = wl_container_of(cb, fence, signaled);

	fence->waiting = false;
	if (fence->base.resource)
		dmabroker_fence_v1_send_signaled(fence->base.resource);
}

static void fence_release(struct server_object *object)
{
	struct fence *fence = wl_container_of(object, fence, base);

	if (fence->waiting)
		dmab_fence_remove_callback(fence->core, &fence->signaled);
	dmab_fence_unref(fence->core);
	server_object_finish(&fence->base);
	free(fence);
}

static void fence_handle_resource_destroy(struct wl_resource *resource)
{
	struct fence *fence = fence_from_resource(resource);

	if (fence)
		fence_release(&fence->base);
}

/* Sends fd, or an eventfd of core; libwayland sends a duplicate and we close ours. */
static bool fence_send_fd(struct wl_resource *resource, struct dmab_fence *core, int fd)
{
	uint32_t type = DMABROKER_FENCE_V1_FD_TYPE_SYNC_FILE;

	if (fd < 0) {
		fd = dmab_fence_export_eventfd(core);
		type = DMABROKER_FENCE_V1_FD_TYPE_EVENTFD;
	}
	if (fd < 0)
		return false;
	dmabroker_fence_v1_send_fd(resource, fd, type);
	close(fd);
	return true;
}

void server_fence_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	struct dmab_fence *core, int fd)
{
	struct wl_resource *resource = server_resource_create(parent,
		&dmabroker_fence_v1_interface, &fence_impl, fence_handle_resource_destroy, id);
	struct fence *fence = NULL;

	if (!resource)
		goto err;
	if (!core)
		goto err_no_memory;
	if (!dmab_fence_is_signaled(core)) {
		fence = calloc(1, sizeof(*fence));
		if (!fence)
			goto err_no_memory;
	}
	if (!fence_send_fd(resource, core, fd)) {
		fd = -1;
		goto err_no_memory;
	}
	if (!fence) {
		dmabroker_fence_v1_send_signaled(resource);
		dmab_fence_unref(core);
		return;
	}
	fence->core = core;
	server_object_init(&fence->base, server, resource, fence_release);
	wl_resource_set_user_data(resource, fence);
	fence->waiting = dmab_fence_add_callback(core, &fence->signaled, fence_handle_signaled);
	if (!fence->waiting)
		dmabroker_fence_v1_send_signaled(resource);
	return;

err_no_memory:
	wl_resource_post_no_memory(resource);
err:
	free(fence);
	dmab_fence_unref(core);
	if (fd >= 0)
		close(fd);
}
