/* SPDX-License-Identifier: MIT */
/*
 * Seeing a client's wl_surface.commit before wlroots 0.15 applies it.
 *
 * wlroots 0.15 has no signal that runs between a client's wl_surface.commit and
 * its application (wlr_surface.events.commit fires after it, and the role
 * precommit hook belongs to the role's owner). libwayland 1.21 calls protocol
 * loggers synchronously for every request, after demarshalling and right before
 * dispatching it to the handler (log_closure() in wl_client_connection_data()),
 * so a logger that reacts to wl_surface.commit runs at exactly the right time,
 * through public API only, whatever the surface's role. The logger belongs to
 * the adapter's display, so each display has its own hook.
 *
 * wlroots 0.17 added wlr_surface.events.client_commit for this, and
 * wlroots-0.18/commit-hook.c uses it instead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wayland-server-core.h>
#include <wayland-server-protocol.h>

#include "adapter.h"
#include "gen.h"

struct adapter_commit_hook {
	struct wl_protocol_logger *logger;
	const struct wl_message *surface_commit; /* in wl_surface_interface.methods */
};

static void handle_protocol_message(void *data, enum wl_protocol_logger_type type,
	const struct wl_protocol_logger_message *message)
{
	struct adapter_commit_hook *hook = data;
	/* Only a request of a wl_surface_interface object has this address. */
	if (type != WL_PROTOCOL_LOGGER_REQUEST || message->message != hook->surface_commit) {
		return;
	}
	adapter_handle_client_commit(wlr_surface_from_resource(message->resource));
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

bool adapter_commit_hook_init(struct dmab_wlr_adapter *adapter,
	struct wlr_compositor *compositor)
{
	/* The logger sees every wl_surface of the display: no compositor needed. */
	struct adapter_commit_hook *hook = calloc(1, sizeof(*hook));
	if (hook == NULL) {
		return false;
	}
	hook->surface_commit = find_surface_commit();
	if (hook->surface_commit == NULL) {
		free(hook);
		errno = ENOTSUP;
		return false;
	}
	hook->logger = wl_display_add_protocol_logger(adapter->display,
		handle_protocol_message, hook);
	if (hook->logger == NULL) {
		free(hook);
		errno = ENOMEM;
		return false;
	}
	adapter->commit_hook = hook;
	return true;
}

void adapter_commit_hook_finish(struct dmab_wlr_adapter *adapter)
{
	/* The display does not free protocol loggers: ours goes before it. */
	wl_protocol_logger_destroy(adapter->commit_hook->logger);
	free(adapter->commit_hook);
	adapter->commit_hook = NULL;
}
