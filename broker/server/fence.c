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

static bool fence_send_fd(struct wl_resource *resource, struct dmab_fence *core)
{
	int fd = dmab_fence_export_eventfd(core);

	if (fd < 0)
		return false;
	/* libwayland sends a dup of the fd. */
	dmabroker_fence_v1_send_fd(resource, fd, DMABROKER_FENCE_V1_FD_TYPE_EVENTFD);
	close(fd);
	return true;
}

void server_fence_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	struct dmab_fence *core)
{
	struct wl_resource *resource = server_resource_create(parent,
		&dmabroker_fence_v1_interface, &fence_impl, fence_handle_resource_destroy, id);
	struct fence *fence;

	if (!resource || !core) {
		dmab_fence_unref(core);
		return;
	}
	fence = calloc(1, sizeof(*fence));
	if (!fence || !fence_send_fd(resource, core)) {
		free(fence);
		dmab_fence_unref(core);
		wl_resource_post_no_memory(resource);
		return;
	}
	fence->core = core;
	server_object_init(&fence->base, server, resource, fence_release);
	wl_resource_set_user_data(resource, fence);
	fence->waiting = dmab_fence_add_callback(core, &fence->signaled, fence_handle_signaled);
	if (!fence->waiting)
		dmabroker_fence_v1_send_signaled(resource);
}
