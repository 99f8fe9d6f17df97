/* SPDX-License-Identifier: MIT */
/*
 * A broker wl_buffer as a wlr_buffer (every supported wlroots generation).
 *
 * wlroots turns the wl_buffer into a wlr_buffer through the registered resource
 * interface (0.15 at wl_surface.attach, 0.18 at wl_surface.commit), and at
 * commit the renderer makes a texture of the buffer. The pixman renderer's texture
 * wraps our data pointer, locks the wlr_buffer and reads the pointer again at
 * every draw, so the broker mapping is composited in place. The buffer is
 * released (n_locks drops to 0) once the texture is replaced or the surface is
 * gone: that ends the compositor's READ bracket and sends wl_buffer.release.
 *
 * Nothing in wlroots 0.15 or 0.18 can write into the mapping: the data pointer
 * is only handed out for reading, the buffer offers no get_shm or get_dmabuf,
 * and wlr_client_buffer_apply_damage() only updates textures made from wl_shm
 * buffers (0.15) or through the renderer's update_from_buffer, which pixman
 * lacks (0.18), never ours.
 */
#include <assert.h>
#include <drm_fourcc.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wayland-server-core.h>
#include <wayland-server-protocol.h>
#include <wlr/util/log.h>

#include "dmabroker/server.h"
#include "dmabroker/wlr.h"
#include "adapter.h"
#include "gen.h"

static const struct wlr_buffer_impl buffer_impl;
static void adapter_handle_display_destroy(struct wl_listener *listener, void *data);

/*
 * wlroots keeps buffer resource interfaces in one process-wide registry, so
 * the interface is shared; the adapter is the one of the resource's display.
 */
static struct dmab_wlr_adapter *adapter_from_display(struct wl_display *display)
{
	struct wl_listener *listener =
		wl_display_get_destroy_listener(display, adapter_handle_display_destroy);
	if (listener == NULL) {
		return NULL;
	}
	struct dmab_wlr_adapter *adapter = wl_container_of(listener, adapter, display_destroy);
	return adapter;
}

static struct dmab_wlr_adapter *adapter_from_resource(struct wl_resource *resource)
{
	return adapter_from_display(wl_client_get_display(wl_resource_get_client(resource)));
}

struct dmab_wlr_buffer *adapter_buffer_from_wlr(struct wlr_buffer *wlr_buffer)
{
	if (wlr_buffer->impl != &buffer_impl) {
		return NULL;
	}
	struct dmab_wlr_buffer *buffer = wl_container_of(wlr_buffer, buffer, base);
	return buffer;
}

bool dmab_wlr_buffer_is_broker(const struct wlr_buffer *buffer)
{
	return buffer->impl == &buffer_impl;
}

static void buffer_end_read(struct dmab_wlr_buffer *buffer)
{
	dmab_server_read_end(buffer->read);
	buffer->read = NULL;
	/* The next commit is a new frame: convert it again. */
	buffer->yuv.valid = false;
}

static void buffer_destroy(struct wlr_buffer *wlr_buffer)
{
	struct dmab_wlr_buffer *buffer = adapter_buffer_from_wlr(wlr_buffer);
	/* A held commit locks the buffer, so none can be left at n_locks == 0. */
	assert(wl_list_empty(&buffer->holds));
	buffer_end_read(buffer);
	wl_list_remove(&buffer->release.link);
	wl_list_remove(&buffer->resource_destroy.link);
	wl_list_remove(&buffer->link);
	dmab_yuv_frame_finish(&buffer->yuv);
	free(buffer);
}

/*
 * pixman samples no YUV: the frame is converted once per commit, inside the
 * READ bracket (the read is ready), and the renderer draws the copy.
 */
static bool buffer_convert_yuv(struct dmab_wlr_buffer *buffer, const struct dmab_pixels *pixels,
	void **data, uint32_t *format, size_t *stride)
{
	struct dmab_yuv_src src = {
		.format = pixels->format,
		.matrix = dmab_yuv_default_matrix(pixels->height),
		.width = pixels->width,
		.height = pixels->height,
	};
	for (uint32_t i = 0; i < pixels->n_planes && i < 3; i++) {
		src.planes[i] = pixels->planes[i].data;
		src.strides[i] = pixels->planes[i].stride;
	}
	if (!dmab_yuv_frame_update(&buffer->yuv, &src)) {
		wlr_log(WLR_ERROR, "cannot convert broker buffer %p to XRGB8888", (void *)buffer);
		return false;
	}
	*data = buffer->yuv.data;
	*format = DRM_FORMAT_XRGB8888;
	*stride = (size_t)buffer->yuv.width * sizeof(uint32_t);
	return true;
}

static bool buffer_begin_data_ptr_access(struct wlr_buffer *wlr_buffer, uint32_t flags,
	void **data, uint32_t *format, size_t *stride)
{
	struct dmab_wlr_buffer *buffer = adapter_buffer_from_wlr(wlr_buffer);
	/* The compositor is a reader: the mapping is read-only and exists once the read is ready. */
	if ((flags & WLR_BUFFER_DATA_PTR_ACCESS_WRITE) || buffer->read == NULL ||
			!dmab_server_read_is_ready(buffer->read)) {
		return false;
	}
	struct dmab_pixels pixels;
	dmab_server_read_get_pixels(buffer->read, &pixels);
	if (pixels.data == NULL) {
		return false;
	}
	if (dmab_yuv_is_supported(pixels.format)) {
		return buffer_convert_yuv(buffer, &pixels, data, format, stride);
	}
	/* pixman only samples the texture image; the cast does not make it writable. */
	*data = (void *)pixels.data;
	*format = pixels.format;
	*stride = pixels.stride;
	return true;
}

static void buffer_end_data_ptr_access(struct wlr_buffer *wlr_buffer)
{
	/* The READ bracket spans the whole time the frame is shown, not one draw. */
}

static const struct wlr_buffer_impl buffer_impl = {
	.destroy = buffer_destroy,
	.begin_data_ptr_access = buffer_begin_data_ptr_access,
	.end_data_ptr_access = buffer_end_data_ptr_access,
};

static void buffer_handle_release(struct wl_listener *listener, void *data)
{
	struct dmab_wlr_buffer *buffer = wl_container_of(listener, buffer, release);
	buffer_end_read(buffer);
	if (buffer->resource != NULL) {
		wl_buffer_send_release(buffer->resource);
	}
}

static void buffer_handle_resource_destroy(struct wl_listener *listener, void *data)
{
	struct dmab_wlr_buffer *buffer = wl_container_of(listener, buffer, resource_destroy);
	/* A read already begun keeps the storage; a later one cannot begin. */
	buffer->resource = NULL;
	buffer->server_buffer = NULL;
	wl_list_remove(&buffer->resource_destroy.link);
	wl_list_init(&buffer->resource_destroy.link);
	wlr_buffer_drop(&buffer->base);
}

static void buffer_handle_read_ready(struct dmab_server_read *read, void *data)
{
	struct dmab_wlr_buffer *buffer = data;
	adapter_release_holds(buffer);
}

/*
 * The frame must not be shown: the commits held for it go ahead, and wlroots
 * finds no pixels to make a texture of, so the surface shows nothing until
 * the client commits another buffer.
 */
static void buffer_handle_read_failed(struct dmab_server_read *read, int error,
	const char *message, void *data)
{
	struct dmab_wlr_buffer *buffer = data;
	wlr_log(WLR_INFO, "the compositor's read of broker buffer %p failed: %s (%s)",
		(void *)buffer, message, strerror(error));
	adapter_release_holds(buffer);
}

static const struct dmab_server_read_listener read_listener = {
	.ready = buffer_handle_read_ready,
	.failed = buffer_handle_read_failed,
};

bool adapter_buffer_begin_read(struct dmab_wlr_buffer *buffer)
{
	/* A read that failed is over; a new commit of the buffer asks again. */
	if (buffer->read != NULL && dmab_server_read_get_error(buffer->read) != 0) {
		buffer_end_read(buffer);
	}
	if (buffer->read != NULL) {
		return true;
	}
	if (buffer->server_buffer == NULL) {
		wlr_log(WLR_ERROR, "broker buffer %p committed after its wl_buffer was destroyed",
			(void *)buffer);
		return false;
	}
	/* ready runs later from the event loop; if the read is ready at once, it finds no hold. */
	buffer->read = dmab_server_read_begin(buffer->server_buffer, &read_listener, buffer);
	if (buffer->read == NULL) {
		wlr_log_errno(WLR_ERROR, "cannot begin the compositor's read of broker buffer %p",
			(void *)buffer);
		return false;
	}
	return true;
}

static struct wlr_buffer *buffer_from_resource(struct wl_resource *resource)
{
	struct wl_listener *listener = wl_resource_get_destroy_listener(resource,
		buffer_handle_resource_destroy);
	if (listener != NULL) {
		struct dmab_wlr_buffer *buffer =
			wl_container_of(listener, buffer, resource_destroy);
		return &buffer->base;
	}

	struct dmab_wlr_adapter *adapter = adapter_from_resource(resource);
	if (adapter == NULL) {
		wlr_log(WLR_ERROR, "wl_buffer %u: no dmabroker adapter on its display",
			wl_resource_get_id(resource));
		return NULL;
	}
	struct dmab_server_buffer *server_buffer = dmab_server_buffer_from_wl_buffer(resource);
	if (server_buffer == NULL) {
		wlr_log(WLR_ERROR, "wl_buffer %u: the broker buffer is gone",
			wl_resource_get_id(resource));
		return NULL;
	}
	struct dmab_pixels layout;
	dmab_server_buffer_get_layout(server_buffer, &layout);

	struct dmab_wlr_buffer *buffer = calloc(1, sizeof(*buffer));
	if (buffer == NULL) {
		wlr_log_errno(WLR_ERROR, "cannot allocate a broker wlr_buffer");
		return NULL;
	}
	wlr_buffer_init(&buffer->base, &buffer_impl, (int)layout.width, (int)layout.height);
	buffer->resource = resource;
	buffer->server_buffer = server_buffer;
	wl_list_init(&buffer->holds);
	buffer->resource_destroy.notify = buffer_handle_resource_destroy;
	wl_resource_add_destroy_listener(resource, &buffer->resource_destroy);
	buffer->release.notify = buffer_handle_release;
	wl_signal_add(&buffer->base.events.release, &buffer->release);
	wl_list_insert(&adapter->buffers, &buffer->link);
	return &buffer->base;
}

static const struct wlr_buffer_resource_interface resource_interface = {
	.name = "dmabroker_v1",
	.is_instance = dmab_server_is_wl_buffer,
	.from_resource = buffer_from_resource,
};

static void adapter_handle_display_destroy(struct wl_listener *listener, void *data)
{
	struct dmab_wlr_adapter *adapter = wl_container_of(listener, adapter, display_destroy);
	dmab_wlr_adapter_destroy(adapter);
}

struct dmab_wlr_adapter *dmab_wlr_adapter_create(struct wl_display *display,
	struct wlr_compositor *compositor)
{
	if (display == NULL || adapter_from_display(display) != NULL) {
		errno = display == NULL ? EINVAL : EBUSY;
		return NULL;
	}
	struct dmab_wlr_adapter *adapter = calloc(1, sizeof(*adapter));
	if (adapter == NULL) {
		return NULL;
	}
	adapter->display = display;
	wl_list_init(&adapter->buffers);
	/* Sets errno: EINVAL where the generation needs the compositor and has none. */
	if (!adapter_commit_hook_init(adapter, compositor)) {
		int error = errno;
		free(adapter);
		errno = error;
		return NULL;
	}
	/* Also how a resource finds its adapter; and the hook must go before the display. */
	adapter->display_destroy.notify = adapter_handle_display_destroy;
	wl_display_add_destroy_listener(display, &adapter->display_destroy);
	/* Registering the same interface again is a no-op in wlroots. */
	wlr_buffer_register_resource_interface(&resource_interface);
	return adapter;
}

void dmab_wlr_adapter_destroy(struct dmab_wlr_adapter *adapter)
{
	if (adapter == NULL) {
		return;
	}
	/*
	 * Releasing a hold applies a commit, which may release or destroy other
	 * buffers of the list: take one buffer at a time off its head.
	 */
	while (!wl_list_empty(&adapter->buffers)) {
		struct dmab_wlr_buffer *buffer =
			wl_container_of(adapter->buffers.next, buffer, link);
		wl_list_remove(&buffer->link);
		wl_list_init(&buffer->link);
		buffer->server_buffer = NULL;
		buffer_end_read(buffer);
		adapter_release_holds(buffer);
	}
	adapter_commit_hook_finish(adapter);
	wl_list_remove(&adapter->display_destroy.link);
	free(adapter);
}
