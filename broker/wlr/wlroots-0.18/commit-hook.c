/* SPDX-License-Identifier: MIT */
/*
 * Seeing a client's wl_surface.commit before wlroots 0.17+ applies it.
 *
 * wlr_surface.events.client_commit is emitted from the wl_surface.commit
 * handler after the pending state is finalized (pending.buffer is the
 * committed wlr_buffer) and before wlroots commits or caches it
 * (surface_handle_commit() in types/wlr_compositor.c, 0.18.2): a
 * wlr_surface_lock_pending() there makes wlroots cache the state. The adapter
 * listens on every surface of its wlr_compositor, from new_surface on, so the
 * adapter must exist before clients create surfaces.
 *
 * It also keeps renderers from writing into a broker dma-buf. When a surface
 * commits a buffer, wlr_client_buffer_apply_damage() (types/buffer/client.c)
 * uploads its pixels into the texture the surface already has, instead of
 * making a new one, unless someone else holds that texture's client buffer;
 * the Vulkan renderer's update_from_buffer does so even into a texture it
 * imported from a dma-buf (GLES2 and pixman refuse). So while a surface's
 * client buffer comes from a broker buffer that gave its dma-buf, the adapter
 * holds a lock on it: apply_damage refuses, and the next commit gets a texture
 * of its own. wlroots 0.15 only ever updates textures made from wl_shm buffers.
 */
#include <errno.h>
#include <stdlib.h>
#include <wayland-server-core.h>

#include "adapter.h"
#include "gen.h"

struct adapter_commit_hook {
	struct wlr_compositor *compositor;
	struct wl_list surfaces; /* hooked_surface.link */
	struct wl_listener new_surface;
	struct wl_listener compositor_destroy;
};

struct hooked_surface {
	struct wlr_surface *surface;
	/* The surface's client buffer that the adapter locks, or NULL. */
	struct wlr_client_buffer *guarded;
	struct wl_listener client_commit;
	struct wl_listener commit;
	struct wl_listener destroy;
	struct wl_list link; /* adapter_commit_hook.surfaces */
};

static void hooked_surface_destroy(struct hooked_surface *hooked)
{
	if (hooked->guarded != NULL) {
		wlr_buffer_unlock(&hooked->guarded->base);
	}
	wl_list_remove(&hooked->client_commit.link);
	wl_list_remove(&hooked->commit.link);
	wl_list_remove(&hooked->destroy.link);
	wl_list_remove(&hooked->link);
	free(hooked);
}

static void handle_client_commit(struct wl_listener *listener, void *data)
{
	struct hooked_surface *hooked = wl_container_of(listener, hooked, client_commit);
	adapter_handle_client_commit(hooked->surface);
}

/* After wlroots applied a commit: the surface's texture is made or kept by now. */
static void handle_commit(struct wl_listener *listener, void *data)
{
	struct hooked_surface *hooked = wl_container_of(listener, hooked, commit);
	struct wlr_client_buffer *current = hooked->surface->buffer;
	if (current == hooked->guarded) {
		return;
	}
	/* May release the old frame's broker buffer: its read ends, as it would have. */
	if (hooked->guarded != NULL) {
		wlr_buffer_unlock(&hooked->guarded->base);
		hooked->guarded = NULL;
	}
	if (current != NULL && current->source != NULL &&
			adapter_buffer_gave_dmabuf(current->source)) {
		hooked->guarded = current;
		wlr_buffer_lock(&current->base);
	}
}

static void handle_surface_destroy(struct wl_listener *listener, void *data)
{
	struct hooked_surface *hooked = wl_container_of(listener, hooked, destroy);
	hooked_surface_destroy(hooked);
}

static void handle_new_surface(struct wl_listener *listener, void *data)
{
	struct adapter_commit_hook *hook = wl_container_of(listener, hook, new_surface);
	struct wlr_surface *surface = data;
	struct hooked_surface *hooked = calloc(1, sizeof(*hooked));
	if (hooked == NULL) {
		/* Without the hook, a half-written frame could be shown. */
		wl_resource_post_no_memory(surface->resource);
		return;
	}
	hooked->surface = surface;
	hooked->client_commit.notify = handle_client_commit;
	wl_signal_add(&surface->events.client_commit, &hooked->client_commit);
	hooked->commit.notify = handle_commit;
	wl_signal_add(&surface->events.commit, &hooked->commit);
	hooked->destroy.notify = handle_surface_destroy;
	wl_signal_add(&surface->events.destroy, &hooked->destroy);
	wl_list_insert(&hook->surfaces, &hooked->link);
}

static void hook_unlisten(struct adapter_commit_hook *hook)
{
	while (!wl_list_empty(&hook->surfaces)) {
		struct hooked_surface *hooked =
			wl_container_of(hook->surfaces.next, hooked, link);
		hooked_surface_destroy(hooked);
	}
	wl_list_remove(&hook->new_surface.link);
	wl_list_init(&hook->new_surface.link);
	wl_list_remove(&hook->compositor_destroy.link);
	wl_list_init(&hook->compositor_destroy.link);
	hook->compositor = NULL;
}

static void handle_compositor_destroy(struct wl_listener *listener, void *data)
{
	struct adapter_commit_hook *hook = wl_container_of(listener, hook, compositor_destroy);
	hook_unlisten(hook);
}

bool adapter_commit_hook_init(struct dmab_wlr_adapter *adapter,
	struct wlr_compositor *compositor)
{
	if (compositor == NULL) {
		errno = EINVAL;
		return false;
	}
	struct adapter_commit_hook *hook = calloc(1, sizeof(*hook));
	if (hook == NULL) {
		return false;
	}
	hook->compositor = compositor;
	wl_list_init(&hook->surfaces);
	hook->new_surface.notify = handle_new_surface;
	wl_signal_add(&compositor->events.new_surface, &hook->new_surface);
	hook->compositor_destroy.notify = handle_compositor_destroy;
	wl_signal_add(&compositor->events.destroy, &hook->compositor_destroy);
	adapter->commit_hook = hook;
	return true;
}

void adapter_commit_hook_finish(struct dmab_wlr_adapter *adapter)
{
	hook_unlisten(adapter->commit_hook);
	free(adapter->commit_hook);
	adapter->commit_hook = NULL;
}
