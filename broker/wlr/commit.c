/* SPDX-License-Identifier: MIT */
/*
 * Holding back commits whose broker buffer is still being written: inside a
 * client's WRITE bracket, or behind a fence (the writer's acquire fence, or the
 * kernel's implicit write fences of a dma-buf) that has not signaled.
 *
 * The compositor's read of a committed buffer must begin before wlroots applies
 * the commit, because applying it makes the texture that pixman samples. A
 * read that is not ready yet (a writer holds the buffer) means the commit must
 * wait: wlr_surface_lock_pending() makes wlroots cache the state instead of
 * applying it, and wlr_surface_unlock_cached() applies it once the read is
 * ready. The previous frame stays on screen meanwhile and nothing blocks.
 *
 * How the adapter sees a commit between the request and its application
 * depends on the wlroots generation: see its commit-hook.c.
 */
#include <stdlib.h>
#include <wayland-server-core.h>
#include <wayland-server-protocol.h>
#include <wlr/util/log.h>

#include "dmabroker/server.h"
#include "adapter.h"
#include "gen.h"

struct dmab_wlr_hold {
	struct wlr_surface *surface;
	uint32_t seq; /* of the cached state wlroots keeps for us */
	struct wl_listener surface_destroy;
	struct wl_list link; /* dmab_wlr_buffer.holds */
};

static void hold_destroy(struct dmab_wlr_hold *hold)
{
	wl_list_remove(&hold->surface_destroy.link);
	wl_list_remove(&hold->link);
	free(hold);
}

static void hold_handle_surface_destroy(struct wl_listener *listener, void *data)
{
	/* wlroots frees the held state, and its buffer lock, with the surface. */
	struct dmab_wlr_hold *hold = wl_container_of(listener, hold, surface_destroy);
	hold_destroy(hold);
}

static void hold_commit(struct dmab_wlr_buffer *buffer, struct wlr_surface *surface)
{
	struct dmab_wlr_hold *hold = calloc(1, sizeof(*hold));
	if (hold == NULL) {
		/* Showing the frame would expose a half-written buffer. */
		wl_resource_post_no_memory(surface->resource);
		return;
	}
	hold->surface = surface;
	hold->seq = wlr_surface_lock_pending(surface);
	hold->surface_destroy.notify = hold_handle_surface_destroy;
	wl_signal_add(&surface->events.destroy, &hold->surface_destroy);
	wl_list_insert(buffer->holds.prev, &hold->link);
	wlr_log(WLR_DEBUG, "holding commit of surface %p: buffer inside a WRITE bracket "
		"or behind a pending fence", (void *)surface);
}

void adapter_release_holds(struct dmab_wlr_buffer *buffer)
{
	/* Applying a commit runs arbitrary listeners: never keep an iterator across it. */
	while (!wl_list_empty(&buffer->holds)) {
		struct dmab_wlr_hold *hold = wl_container_of(buffer->holds.next, hold, link);
		struct wlr_surface *surface = hold->surface;
		uint32_t seq = hold->seq;
		hold_destroy(hold);
		wlr_log(WLR_DEBUG, "releasing held commit of surface %p", (void *)surface);
		wlr_surface_unlock_cached(surface, seq);
	}
}

void adapter_handle_client_commit(struct wlr_surface *surface)
{
	if (!(surface->pending.committed & WLR_SURFACE_STATE_BUFFER) ||
			surface->pending.buffer == NULL) {
		return;
	}
	struct dmab_wlr_buffer *buffer = adapter_buffer_from_wlr(surface->pending.buffer);
	if (buffer == NULL || !adapter_buffer_begin_read(buffer)) {
		return;
	}
	if (!dmab_server_read_is_ready(buffer->read)) {
		hold_commit(buffer, surface);
	}
}

