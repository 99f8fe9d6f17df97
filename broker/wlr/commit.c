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
 * wlroots 0.15 has no signal that runs between a client's wl_surface.commit and
 * its application (wlr_surface.events.commit fires after it, and the role
 * precommit hook belongs to the role's owner). libwayland 1.21 calls protocol
 * loggers synchronously for every request, after demarshalling and right before
 * dispatching it to the handler (log_closure() in wl_client_connection_data()),
 * so a logger that reacts to wl_surface.commit runs at exactly the right time,
 * through public API only, whatever the surface's role.
 */
#include <stdlib.h>
#include <string.h>
#include <wayland-server-core.h>
#include <wayland-server-protocol.h>
#include <wlr/types/wlr_surface.h>
#include <wlr/util/log.h>

#include "dmabroker/server.h"
#include "adapter.h"

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

static void surface_handle_client_commit(struct wlr_surface *surface)
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

static void handle_protocol_message(void *data, enum wl_protocol_logger_type type,
	const struct wl_protocol_logger_message *message)
{
	struct dmab_wlr_adapter *adapter = data;
	/* Only a request of a wl_surface_interface object has this address. */
	if (type != WL_PROTOCOL_LOGGER_REQUEST || message->message != adapter->surface_commit) {
		return;
	}
	surface_handle_client_commit(wlr_surface_from_resource(message->resource));
}

/* The server header defines no request opcodes: look the method up by name. */
static const struct wl_message *find_surface_commit(void)
{
	for (int i = 0; i < wl_surface_interface.method_count; i++) {
		if (strcmp(wl_surface_interface.methods[i].name, "commit") == 0) {
			return &wl_surface_interface.methods[i];
		}
	}
	return NULL;
}

bool adapter_commit_hook_init(struct dmab_wlr_adapter *adapter)
{
	adapter->surface_commit = find_surface_commit();
	if (adapter->surface_commit == NULL) {
		return false;
	}
	adapter->commit_logger = wl_display_add_protocol_logger(adapter->display,
		handle_protocol_message, adapter);
	return adapter->commit_logger != NULL;
}

void adapter_commit_hook_finish(struct dmab_wlr_adapter *adapter)
{
	wl_protocol_logger_destroy(adapter->commit_logger);
	adapter->commit_logger = NULL;
}
