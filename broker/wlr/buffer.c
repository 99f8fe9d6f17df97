/* SPDX-License-Identifier: MIT */
/*
 * A broker wl_buffer as a wlr_buffer (every supported wlroots generation).
 *
 * wlroots turns the wl_buffer into a wlr_buffer through the registered resource
 * interface (0.15 at wl_surface.attach, 0.18 at wl_surface.commit), and at
 * commit the renderer makes a texture of the buffer. The buffer is released
 * (n_locks drops to 0) once the texture is replaced or the surface is gone:
 * that ends the compositor's READ bracket and sends wl_buffer.release.
 *
 * Two ways in, both only while that bracket is held and ready:
 *  - begin_data_ptr_access: the broker's read-only mapping. The pixman
 *    renderer's texture wraps it, locks the wlr_buffer and reads the pointer
 *    again at every draw, so the mapping is composited in place; pixman never
 *    asks for get_dmabuf (0.15.1 and 0.18.2: its texture_from_buffer and its
 *    draws only take the data pointer).
 *  - get_dmabuf, when the storage is a dma-buf (udmabuf, dma-heap, drm-dumb,
 *    an imported one): the GLES2 and Vulkan renderers ask for it first and
 *    import the dma-buf as a texture, with no copy. Their texture locks the
 *    wlr_buffer too, so the bracket lasts as long as the frame is shown. No
 *    fence is handed over: the read is ready only once the broker's write
 *    fence and the dma-buf's implicit write fences have signaled, no writer
 *    begins until it ends, and the GPU's sampling adds implicit read fences
 *    that the next writer's DMA_BUF_IOCTL_SYNC waits for (see
 *    dmab_server_read_get_dmabuf). For memfd storage get_dmabuf is false.
 *
 * The renderers cache their import on the wlr_buffer (a wlr_addon) and reuse
 * it at the next commit. The broker may move a buffer to new storage between
 * two reads; get_dmabuf then refuses the wlr_buffer (the renderer copies
 * through the data pointer), and the next wl_surface.attach (0.15) or commit
 * (0.18) of the wl_buffer gets a fresh wlr_buffer once the old one is unlocked.
 *
 * Nothing in wlroots may write into the buffer. The data pointer is only
 * handed out for reading and there is no get_shm; the pixman texture has no
 * write path, and wlr_client_buffer_apply_damage() only updates textures made
 * from wl_shm buffers (0.15) or through the renderer's update_from_buffer
 * (0.18), which pixman lacks and GLES2 refuses for a dma-buf import; Vulkan's
 * does not refuse, so the 0.18 commit hook keeps apply_damage away from a
 * texture that may be an import of ours (wlroots-0.18/commit-hook.c). A
 * dma-buf can also be rendered into: wlroots 0.18's wlr-screencopy renders
 * into a client's wl_buffer through get_dmabuf, and a client that may only
 * read a shared buffer could ask for that. So a wl_buffer that any request
 * other than wl_surface.attach names (a protocol logger sees them before
 * wlroots does) never gives its dma-buf again.
 */
#include <assert.h>
#include <drm_fourcc.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

bool adapter_buffer_gave_dmabuf(struct wlr_buffer *wlr_buffer)
{
	struct dmab_wlr_buffer *buffer = adapter_buffer_from_wlr(wlr_buffer);
	return buffer != NULL && buffer->dmabuf_given;
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

static bool buffer_get_dmabuf(struct wlr_buffer *wlr_buffer,
	struct wlr_dmabuf_attributes *attribs)
{
	struct dmab_wlr_buffer *buffer = adapter_buffer_from_wlr(wlr_buffer);
	struct dmab_dmabuf_attributes dmabuf;
	/* Also false for memfd storage, before the read is ready, and after it failed. */
	if (buffer->dmabuf_refused || buffer->dmabuf_stale || buffer->read == NULL ||
			!dmab_server_read_get_dmabuf(buffer->read, &dmabuf)) {
		return false;
	}
	/* The fd number may be reused after a move: the inode names the dma-buf. */
	struct stat st;
	if (fstat(dmabuf.fd, &st) != 0) {
		return false;
	}
	if (!buffer->dmabuf_given) {
		buffer->dmabuf_given = true;
		buffer->dmabuf_dev = st.st_dev;
		buffer->dmabuf_ino = st.st_ino;
	} else if (st.st_dev != buffer->dmabuf_dev || st.st_ino != buffer->dmabuf_ino) {
		buffer->dmabuf_stale = true;
		return false;
	}
	*attribs = (struct wlr_dmabuf_attributes){
		.width = (int32_t)dmabuf.width,
		.height = (int32_t)dmabuf.height,
		.format = dmabuf.format,
		.modifier = dmabuf.modifier,
		.n_planes = (int)dmabuf.n_planes,
	};
	/* One dma-buf holds every plane; wlroots closes none of these fds. */
	for (uint32_t i = 0; i < dmabuf.n_planes; i++) {
		attribs->offset[i] = dmabuf.offset[i];
		attribs->stride[i] = dmabuf.stride[i];
		attribs->fd[i] = dmabuf.fd;
	}
	return true;
}

static const struct wlr_buffer_impl buffer_impl = {
	.destroy = buffer_destroy,
	.get_dmabuf = buffer_get_dmabuf,
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
	bool refused = false;
	struct wl_listener *listener = wl_resource_get_destroy_listener(resource,
		buffer_handle_resource_destroy);
	if (listener != NULL) {
		struct dmab_wlr_buffer *buffer =
			wl_container_of(listener, buffer, resource_destroy);
		/* A locked one may still be shown: it keeps copying until it is let go. */
		if (!buffer->dmabuf_stale || buffer->base.n_locks > 0) {
			return &buffer->base;
		}
		/* Dropping it drops the renderers' imports of the old storage with it. */
		refused = buffer->dmabuf_refused;
		buffer_handle_resource_destroy(&buffer->resource_destroy, NULL);
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
	buffer->dmabuf_refused = refused;
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

static void refuse_dmabuf(struct wl_resource *resource)
{
	/* An inert wl_buffer has no wlr_buffer to make, and gives nothing anyway. */
	if (dmab_server_buffer_from_wl_buffer(resource) == NULL) {
		return;
	}
	struct wlr_buffer *wlr_buffer = buffer_from_resource(resource);
	if (wlr_buffer != NULL) {
		adapter_buffer_from_wlr(wlr_buffer)->dmabuf_refused = true;
	}
}

/*
 * libwayland calls protocol loggers right before it dispatches a request to
 * its handler (see wlroots-0.15/commit-hook.c), so a wl_buffer is refused
 * before wlroots can ask it for its dma-buf on behalf of the request.
 */
static void adapter_handle_request(void *data, enum wl_protocol_logger_type type,
	const struct wl_protocol_logger_message *message)
{
	struct dmab_wlr_adapter *adapter = data;
	if (type != WL_PROTOCOL_LOGGER_REQUEST || message->message == adapter->surface_attach) {
		return;
	}
	int arg = 0;
	for (const char *c = message->message->signature; *c != '\0' &&
			arg < message->arguments_count; c++) {
		if (*c == '?' || (*c >= '0' && *c <= '9')) {
			continue; /* nullable, or the request's version */
		}
		/* Requests name objects as the wl_object that starts their wl_resource. */
		struct wl_object *object = *c == 'o' ? message->arguments[arg].o : NULL;
		if (object != NULL && dmab_server_is_wl_buffer((struct wl_resource *)object)) {
			refuse_dmabuf((struct wl_resource *)object);
		}
		arg++;
	}
}

/* The server header defines no request opcodes: look the method up by name. */
static const struct wl_message *find_surface_attach(void)
{
	for (int i = 0; i < wl_surface_interface.method_count; i++) {
		if (strcmp(wl_surface_interface.methods[i].name, "attach") == 0) {
			return &wl_surface_interface.methods[i];
		}
	}
	return NULL;
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
	adapter->surface_attach = find_surface_attach();
	if (adapter->surface_attach == NULL) {
		free(adapter);
		errno = ENOTSUP;
		return NULL;
	}
	adapter->logger = wl_display_add_protocol_logger(display, adapter_handle_request,
		adapter);
	if (adapter->logger == NULL) {
		free(adapter);
		errno = ENOMEM;
		return NULL;
	}
	/* Sets errno: EINVAL where the generation needs the compositor and has none. */
	if (!adapter_commit_hook_init(adapter, compositor)) {
		int error = errno;
		wl_protocol_logger_destroy(adapter->logger);
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
	/* The display does not free protocol loggers: ours goes before it. */
	wl_protocol_logger_destroy(adapter->logger);
	wl_list_remove(&adapter->display_destroy.link);
	free(adapter);
}
