/*
 * libdmabroker-wlr: composite dmabroker wl_buffers in a wlroots 0.15 compositor.
 *
 * The adapter turns every wl_buffer made by dmabroker_manager_v1.get_wl_buffer
 * into one wlr_buffer whose data pointer is the broker's read-only mapping, so
 * the pixman renderer composites it with no copy. The compositor reads like any
 * other importer: a READ bracket is held from the commit that shows a buffer
 * until wlroots drops its last lock on it, and then wl_buffer.release is sent.
 * A commit whose buffer is still inside a client's WRITE bracket is held back
 * (wlr_surface_lock_pending) until the writer ends its access; the previous
 * frame stays on screen and nothing blocks.
 *
 * Lifetime: create the adapter after dmab_server_create() and before clients
 * connect; destroy it after wl_display_destroy_clients() and before
 * dmab_server_destroy(). wlroots 0.15 keeps buffer resource interfaces in a
 * process-wide registry that cannot be unregistered, so one adapter exists per
 * process at a time.
 *
 * Compile with -DWLR_USE_UNSTABLE, like wlroots 0.15 itself requires.
 */
#ifndef DMABROKER_WLR_H
#define DMABROKER_WLR_H

#include <stdbool.h>

struct wl_display;
struct wlr_buffer;

struct dmab_wlr_adapter;

/*
 * Registers the broker's wl_buffers with wlroots and watches wl_surface.commit
 * on the display. Returns NULL with errno set: EBUSY if an adapter already
 * exists, ENOMEM on allocation failure.
 */
struct dmab_wlr_adapter *dmab_wlr_adapter_create(struct wl_display *display);
/*
 * Ends every read the adapter holds and releases held commits. wlr_buffers that
 * wlroots still locks stay valid but report no data. NULL is a no-op.
 */
void dmab_wlr_adapter_destroy(struct dmab_wlr_adapter *adapter);

/* True if the wlr_buffer wraps a broker wl_buffer. */
bool dmab_wlr_buffer_is_broker(const struct wlr_buffer *buffer);

#endif
