/* SPDX-License-Identifier: MIT */
/*
 * libdmabroker-wlr: composite dmabroker wl_buffers in a wlroots compositor
 * (wlroots 0.15 or 0.18: the library is built against one of them, and its
 * pkg-config file requires that one).
 *
 * The adapter turns every wl_buffer made by dmabroker_manager_v1.get_wl_buffer
 * into a wlr_buffer whose data pointer is the broker's read-only mapping, so
 * the pixman renderer composites it with no copy. The compositor reads like any
 * other importer: a READ bracket is held from the commit that shows a buffer
 * until wlroots drops its last lock on it, and then wl_buffer.release is sent.
 *
 * When the buffer's storage is a dma-buf (the udmabuf, dma-heap and drm-dumb
 * allocators, or a client's own through linux-dmabuf), the wlr_buffer also
 * answers wlr_buffer_get_dmabuf: its format, DRM_FORMAT_MOD_LINEAR, and every
 * plane's offset and stride in one dma-buf, whose fd stays the broker's. The
 * GLES2 and Vulkan renderers import it as a texture instead of copying the
 * pixels; pixman keeps using the data pointer. On memfd storage it is false.
 * Both answer only while the READ bracket is held and ready, and the renderer's
 * texture keeps the bracket held while the frame is shown. No fence comes with
 * the dma-buf and none is needed: the bracket is ready only once the writer's
 * fences and the dma-buf's implicit write fences have signaled, no writer
 * begins while it is held, and the GPU's sampling leaves implicit read fences
 * that the next writer waits for (see dmab_server_read_get_dmabuf). A wl_buffer
 * that a request other than wl_surface.attach names (wlr-screencopy's copy,
 * which would render into it) never gives its dma-buf, and one whose storage
 * the broker moved gives it through a new wlr_buffer, made at its next
 * attach (0.15) or commit (0.18) once wlroots let go of the old one.
 * A commit whose buffer is still inside a client's WRITE bracket is held back
 * (wlr_surface_lock_pending) until the writer ends its access; the previous
 * frame stays on screen and nothing blocks.
 *
 * Lifetime: create the adapter after dmab_server_create() and before clients
 * connect; destroy it after wl_display_destroy_clients() and before
 * dmab_server_destroy(). Each wl_display has at most one adapter; adapters of
 * different displays are independent.
 *
 * Compile with -DWLR_USE_UNSTABLE, like wlroots itself requires.
 */
#ifndef DMABROKER_WLR_H
#define DMABROKER_WLR_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wl_display;
struct wlr_buffer;
struct wlr_compositor;

struct dmab_wlr_adapter;

/*
 * Registers the broker's wl_buffers with wlroots and watches wl_surface.commit
 * on the display: through compositor's surfaces (wlroots 0.18: their
 * client_commit signal), or through a protocol logger on the display (wlroots
 * 0.15, where compositor may be NULL). Returns NULL with errno set: EBUSY if
 * the display already has an adapter, EINVAL if display is NULL or (0.18)
 * compositor is NULL, ENOMEM on allocation failure.
 */
struct dmab_wlr_adapter *dmab_wlr_adapter_create(struct wl_display *display,
	struct wlr_compositor *compositor);
/*
 * Ends every read the adapter holds and releases held commits. wlr_buffers that
 * wlroots still locks stay valid but report no data. NULL is a no-op.
 */
void dmab_wlr_adapter_destroy(struct dmab_wlr_adapter *adapter);

/* True if the wlr_buffer wraps a broker wl_buffer. */
bool dmab_wlr_buffer_is_broker(const struct wlr_buffer *buffer);

#ifdef __cplusplus
}
#endif

#endif
