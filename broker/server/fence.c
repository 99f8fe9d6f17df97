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

/*
 * What an exported fence holds until it signals, whatever becomes of its
 * object: the eventfd's duplicate (in the core) and a poll watch of a
 * sync_file or a dma-buf. Charged to the client's uid until then.
 */
enum { FENCE_FDS = 2 };

struct fence_charge {
	struct dmab_fence_cb cb;
	struct dmab_fence *fence; /* a reference, so that it signals before it goes */
	struct dmab_account *account;
	struct wl_list link; /* struct dmab_server.fence_charges */
};

static void charge_free(struct fence_charge *charge)
{
	wl_list_remove(&charge->link);
	dmab_account_uncharge_fds(charge->account, FENCE_FDS);
	dmab_fence_unref(charge->fence);
	free(charge);
}

static void charge_handle_signaled(struct dmab_fence *fence, struct dmab_fence_cb *cb)
{
	struct fence_charge *charge = wl_container_of(cb, charge, cb);

	charge_free(charge);
}

/* A client over its uid's fd limit cannot be told so by a fence: it has no failed event. */
static bool fence_charge(struct dmab_server *server, struct wl_client *client,
	struct dmab_fence *fence)
{
	struct server_client *owner = server_client_find(server, client);
	struct fence_charge *charge;
	struct dmab_failure fail;

	if (!owner || dmab_fence_is_signaled(fence))
		return true;
	charge = calloc(1, sizeof(*charge));
	if (!charge) {
		wl_client_post_no_memory(client);
		return false;
	}
	if (!dmab_account_charge_fds(owner->account, FENCE_FDS, &fail)) {
		free(charge);
		wl_client_post_implementation_error(client, "dmabroker: get_fence: %s",
			fail.message);
		return false;
	}
	charge->account = owner->account;
	charge->fence = dmab_fence_ref(fence);
	wl_list_insert(&server->fence_charges, &charge->link);
	dmab_fence_add_callback(fence, &charge->cb, charge_handle_signaled);
	return true;
}

void server_fence_charges_finish(struct dmab_server *server)
{
	struct fence_charge *charge, *tmp;

	wl_list_for_each_safe(charge, tmp, &server->fence_charges, link) {
		dmab_fence_remove_callback(charge->fence, &charge->cb);
		charge_free(charge);
	}
}

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

/* Sends fd, or a new export of core; libwayland sends a duplicate and we close ours. */
static bool fence_send_fd(struct wl_resource *resource, struct dmab_fence *core, int fd)
{
	uint32_t type = DMABROKER_FENCE_V1_FD_TYPE_SYNC_FILE;

	if (fd < 0) {
		fd = dmab_fence_export_fd(core);
		type = DMABROKER_FENCE_V1_FD_TYPE_SOCKET;
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
		if (!fence_charge(server, wl_resource_get_client(resource), core))
			goto err;
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
