/* SPDX-License-Identifier: MIT */
/*
 * The wl_buffers that get_wl_buffer and linux-dmabuf make, and the
 * compositor's reads of them.
 *
 * A read is an attachment of the broker's own (no account, READ access) that
 * maps the buffer and holds a READ bracket, like any other importer: map, then
 * begin_access once the mapping arrived, then, on a dma-buf, a wait for the
 * kernel's implicit write fences, then the user's ready callback. Each step
 * may be answered inside the call that asked for it, or later from inside
 * another client's request or from the event loop.
 */
#include <assert.h>
#include <drm_fourcc.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <wayland-server-core.h>
#include <wayland-server-protocol.h>

#include "server-private.h"

struct dmab_server_buffer {
	struct server_object base;
	/*
	 * Its own: a linux-dmabuf wl_buffer's charges the client's quota, one of
	 * get_wl_buffer is a clone of the dmabroker_buffer_v1's, revoked with it.
	 */
	struct dmab_handle *handle;
};

struct dmab_server_read {
	struct wl_list link; /* struct dmab_server.reads; empty once the server is gone */
	struct dmab_server *server;
	struct dmab_buffer *buffer; /* a reference of its own; NULL once the server is gone */
	struct dmab_attachment *att;
	struct dmab_server_read_listener listener;
	void *listener_data;
	bool write; /* a write bracket on a compositor buffer (dmab_server_own_buffer_begin) */
	const void *data; /* the first row of plane 0; writable for a write bracket */
	uint32_t stride;
	uint32_t n_planes;
	const void *planes[DMAB_MAX_PLANES]; /* the first row of each plane */
	uint32_t strides[DMAB_MAX_PLANES];
	struct dmab_fence *implicit; /* the dma-buf's write fences, while waited for */
	struct dmab_fence_cb implicit_cb;
	struct wl_event_source *idle; /* the ready callback of a read ready at its begin */
	bool starting; /* inside dmab_server_read_begin */
	bool granted; /* the READ bracket is held and the implicit fences signaled */
	int error; /* an errno once the read failed, else 0 */
};

/* The errno of each failed reason, as libdmabroker-client reports them. */
static const int reason_errnos[] = {
	[DMAB_REASON_QUOTA_EXCEEDED] = EDQUOT,
	[DMAB_REASON_UNKNOWN_TOKEN] = ENOENT,
	[DMAB_REASON_REVOKED_TOKEN] = EACCES,
	[DMAB_REASON_ALLOC_FAILED] = ENOMEM,
	[DMAB_REASON_UNSATISFIABLE] = EINVAL,
	[DMAB_REASON_DEFUNCT] = ENODEV,
	[DMAB_REASON_PERMISSION_DENIED] = EACCES,
	[DMAB_REASON_PREEMPTED] = ETIMEDOUT,
};

int server_reason_errno(uint32_t reason)
{
	if (reason < sizeof(reason_errnos) / sizeof(reason_errnos[0]) && reason_errnos[reason])
		return reason_errnos[reason];
	return EIO;
}

static const struct wl_buffer_interface wl_buffer_impl;

bool dmab_server_is_wl_buffer(struct wl_resource *resource)
{
	return resource && wl_resource_instance_of(resource, &wl_buffer_interface,
		&wl_buffer_impl);
}

static struct dmab_server_buffer *wl_buffer_from_resource(struct wl_resource *resource)
{
	assert(wl_resource_instance_of(resource, &wl_buffer_interface, &wl_buffer_impl));
	return wl_resource_get_user_data(resource);
}

struct dmab_server_buffer *dmab_server_buffer_from_wl_buffer(struct wl_resource *resource)
{
	if (!dmab_server_is_wl_buffer(resource))
		return NULL;
	return wl_buffer_from_resource(resource);
}

void server_layout_to_pixels(const struct dmab_layout *layout, struct dmab_pixels *pixels)
{
	*pixels = (struct dmab_pixels){
		.width = layout->width,
		.height = layout->height,
		.format = layout->format,
		.stride = layout->planes[0].stride,
		.n_planes = layout->n_planes,
	};
	for (uint32_t i = 0; i < layout->n_planes; i++) {
		pixels->planes[i].stride = layout->planes[i].stride;
	}
}

void dmab_server_buffer_get_layout(struct dmab_server_buffer *buffer,
	struct dmab_pixels *layout)
{
	struct dmab_layout core_layout;

	dmab_buffer_get_layout(dmab_handle_get_buffer(buffer->handle), &core_layout);
	server_layout_to_pixels(&core_layout, layout);
}

static void wl_buffer_handle_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static const struct wl_buffer_interface wl_buffer_impl = {
	.destroy = wl_buffer_handle_destroy,
};

static void wl_buffer_release(struct server_object *object)
{
	struct dmab_server_buffer *buffer = wl_container_of(object, buffer, base);

	dmab_handle_destroy(buffer->handle);
	server_object_finish(&buffer->base);
	free(buffer);
}

static void wl_buffer_handle_resource_destroy(struct wl_resource *resource)
{
	struct dmab_server_buffer *buffer = wl_buffer_from_resource(resource);

	if (buffer)
		wl_buffer_release(&buffer->base);
}

void server_wl_buffer_create(struct wl_resource *parent, uint32_t id,
	struct dmab_server *server, struct dmab_handle *handle)
{
	struct wl_resource *resource = server_resource_create(parent, &wl_buffer_interface,
		&wl_buffer_impl, wl_buffer_handle_resource_destroy, id);
	struct dmab_server_buffer *buffer;

	if (!resource || !handle)
		return;
	buffer = calloc(1, sizeof(*buffer));
	if (buffer)
		buffer->handle = dmab_handle_clone(handle);
	if (!buffer || !buffer->handle) {
		free(buffer);
		wl_resource_post_no_memory(resource);
		return;
	}
	server_object_init(&buffer->base, server, resource, wl_buffer_release);
	wl_resource_set_user_data(resource, buffer);
}

struct wl_resource *server_wl_buffer_create_from_handle(struct wl_client *client, uint32_t id,
	struct dmab_server *server, struct dmab_handle *handle)
{
	struct wl_resource *resource = wl_resource_create(client, &wl_buffer_interface, 1, id);
	struct dmab_server_buffer *buffer = calloc(1, sizeof(*buffer));

	if (!resource || !buffer) {
		free(buffer);
		if (resource)
			wl_resource_destroy(resource);
		dmab_handle_destroy(handle);
		wl_client_post_no_memory(client);
		return NULL;
	}
	wl_resource_set_implementation(resource, &wl_buffer_impl, buffer,
		wl_buffer_handle_resource_destroy);
	buffer->handle = handle;
	server_object_init(&buffer->base, server, resource, wl_buffer_release);
	return resource;
}

/*
 * Inside dmab_server_read_begin a failure makes it return NULL; after, the
 * compositor hears of it, once.
 */
static void read_fail(struct dmab_server_read *read, int error, const char *message)
{
	if (read->error != 0)
		return;
	read->error = error;
	read->data = NULL;
	if (!read->starting && read->listener.failed)
		read->listener.failed(read, error, message, read->listener_data);
}

static void read_notify(struct dmab_server_read *read)
{
	read->listener.ready(read, read->listener_data);
}

static void read_handle_idle(void *data)
{
	struct dmab_server_read *read = data;

	read->idle = NULL;
	if (read->error == 0) {
		read_notify(read);
	}
}

static uint32_t read_dir(const struct dmab_server_read *read)
{
	return read->write ? DMAB_DIR_WRITE : DMAB_DIR_READ;
}

static void read_handle_mapped(struct dmab_attachment *att, uint32_t serial,
	const struct dmab_mapping *mapping, void *data)
{
	struct dmab_server_read *read = data;
	struct dmab_misuse_report report;

	if (mapping->fd >= 0)
		close(mapping->fd);
	read->data = (const char *)mapping->data + mapping->planes[0].offset;
	read->stride = mapping->planes[0].stride;
	read->n_planes = mapping->n_planes;
	for (uint32_t i = 0; i < mapping->n_planes; i++) {
		read->planes[i] = (const char *)mapping->data + mapping->planes[i].offset;
		read->strides[i] = mapping->planes[i].stride;
	}
	if (!dmab_attachment_begin_access(att, read_dir(read), &report))
		read_fail(read, EIO, report.message);
}

/*
 * Only now that the kernel's writers are done does DMA_BUF_IOCTL_SYNC START not
 * sleep: the event loop never waits in the kernel.
 */
static void read_start(struct dmab_server_read *read)
{
	if (read->error != 0)
		return;
	dmab_attachment_start_cpu_access(read->att);
	read->granted = true;
	if (!read->starting)
		read_notify(read);
}

static void read_stop_waiting(struct dmab_server_read *read)
{
	if (!read->implicit)
		return;
	dmab_fence_remove_callback(read->implicit, &read->implicit_cb);
	dmab_fence_unref(read->implicit);
	read->implicit = NULL;
}

static void read_handle_implicit(struct dmab_fence *fence, struct dmab_fence_cb *cb)
{
	struct dmab_server_read *read = wl_container_of(cb, read, implicit_cb);

	dmab_fence_unref(read->implicit);
	read->implicit = NULL;
	read_start(read);
}

/* The broker granted the bracket; a device may still be writing the dma-buf. */
static void read_handle_ready(struct dmab_attachment *att, uint32_t serial, void *data)
{
	struct dmab_server_read *read = data;
	/* A writer waits for the kernel's readers too. */
	struct dmab_fence *fence = server_implicit_fence(read->server, read->buffer, !read->write);

	if (!fence) {
		read_fail(read, ENOMEM, "out of memory");
		return;
	}
	if (dmab_fence_add_callback(fence, &read->implicit_cb, read_handle_implicit)) {
		read->implicit = fence;
		return;
	}
	dmab_fence_unref(fence);
	read_start(read);
}

/*
 * A read that is ready keeps its frame until the compositor ends it; one that
 * is still waiting lets go of the old storage and maps again, which the core
 * answers once the buffer has moved.
 */
static void read_handle_moved(struct dmab_attachment *att, uint32_t serial, void *data)
{
	struct dmab_server_read *read = data;
	struct dmab_misuse_report report;

	if (read->granted || read->error != 0)
		return;
	read_stop_waiting(read);
	read->granted = false;
	read->data = NULL;
	if (!dmab_attachment_end_access(att, read_dir(read), &report) ||
			!dmab_attachment_unmap(att, &report) ||
			!dmab_attachment_map(att, read_dir(read), &report))
		read_fail(read, EIO, report.message);
}

static void read_handle_failed(struct dmab_attachment *att, const struct dmab_failure *fail,
	void *data)
{
	struct dmab_server_read *read = data;
	read_stop_waiting(read);
	read_fail(read, server_reason_errno(fail->reason), fail->message);
}

static const struct dmab_attachment_listener read_listener = {
	.mapped = read_handle_mapped,
	.ready = read_handle_ready,
	.moved = read_handle_moved,
	.failed = read_handle_failed,
};

/* Releases the core state; the struct stays for dmab_server_read_end to free. */
static void read_finish(struct dmab_server_read *read)
{
	if (read->idle) {
		wl_event_source_remove(read->idle);
		read->idle = NULL;
	}
	read_stop_waiting(read);
	/* Ends the bracket or cancels its wait, and unmaps. */
	dmab_attachment_destroy(read->att);
	read->att = NULL;
	dmab_buffer_unref(read->buffer);
	read->buffer = NULL;
	wl_list_remove(&read->link);
	wl_list_init(&read->link);
}

void server_reads_finish(struct dmab_server *server)
{
	struct dmab_server_read *read, *tmp;

	wl_list_for_each_safe(read, tmp, &server->reads, link)
		read_finish(read);
}

struct dmab_server_read *dmab_server_read_begin(struct dmab_server_buffer *buffer,
	const struct dmab_server_read_listener *listener, void *data)
{
	if (!buffer) {
		errno = EINVAL;
		return NULL;
	}
	return server_access_begin(buffer->base.server, buffer->handle, false, listener, data);
}

struct dmab_server_read *server_access_begin(struct dmab_server *server,
	struct dmab_handle *handle, bool write, const struct dmab_server_read_listener *listener,
	void *data)
{
	/* The read hands over every plane (dmab_pixels.planes). */
	static const struct dmab_constraints constraints = { .max_planes = DMAB_MAX_PLANES };
	struct dmab_misuse_report report;
	struct dmab_server_read *read;
	int error;

	if (!listener || !listener->ready) {
		errno = EINVAL;
		return NULL;
	}
	read = calloc(1, sizeof(*read));
	if (!read)
		return NULL;
	wl_list_insert(&server->reads, &read->link);
	read->server = server;
	read->buffer = dmab_buffer_ref(dmab_handle_get_buffer(handle));
	read->listener = *listener;
	read->listener_data = data;
	read->write = write;

	/* The ready callback waits for the end: it may end the read, which we still use. */
	read->starting = true;
	read->att = dmab_attachment_create(handle, NULL,
		write ? DMAB_ACCESS_READ_WRITE : DMAB_ACCESS_READ, &constraints, &read_listener,
		read);
	if (!read->att)
		read_fail(read, ENOMEM, "out of memory");
	else if (read->error == 0 && !dmab_attachment_map(read->att, read_dir(read), &report))
		read_fail(read, EIO, report.message);
	/*
	 * A callback inside the call that asked for it re-enters the compositor
	 * before it stored the read: ready waits for the event loop.
	 */
	if (read->error == 0 && read->granted) {
		read->idle = wl_event_loop_add_idle(read->server->loop, read_handle_idle, read);
		if (!read->idle)
			read_fail(read, ENOMEM, "out of memory");
	}
	read->starting = false;

	if (read->error != 0) {
		error = read->error;
		dmab_server_read_end(read);
		errno = error;
		return NULL;
	}
	return read;
}

bool dmab_server_read_is_ready(const struct dmab_server_read *read)
{
	return read && read->att && read->granted && read->error == 0;
}

int dmab_server_read_get_error(const struct dmab_server_read *read)
{
	return read ? read->error : EINVAL;
}

void dmab_server_read_get_pixels(const struct dmab_server_read *read,
	struct dmab_pixels *pixels)
{
	struct dmab_layout layout = {0};

	if (read->buffer)
		dmab_buffer_get_layout(read->buffer, &layout);
	server_layout_to_pixels(&layout, pixels);
	if (dmab_server_read_is_ready(read)) {
		pixels->data = read->data;
		pixels->stride = read->stride;
		for (uint32_t i = 0; i < read->n_planes; i++) {
			pixels->planes[i].data = read->planes[i];
			pixels->planes[i].stride = read->strides[i];
		}
	}
}

bool dmab_server_read_get_dmabuf(const struct dmab_server_read *read,
	struct dmab_dmabuf_attributes *attribs)
{
	struct dmab_layout layout;
	int fd;

	if (!dmab_server_read_is_ready(read))
		return false;
	fd = dmab_buffer_get_dmabuf_fd(read->buffer);
	if (fd < 0)
		return false;
	dmab_buffer_get_layout(read->buffer, &layout);
	*attribs = (struct dmab_dmabuf_attributes){
		.fd = fd,
		.width = layout.width,
		.height = layout.height,
		.format = layout.format,
		/* The broker's storage is linear, and it maps imported dma-bufs as such. */
		.modifier = DRM_FORMAT_MOD_LINEAR,
		.n_planes = layout.n_planes,
	};
	for (uint32_t i = 0; i < layout.n_planes; i++) {
		attribs->offset[i] = layout.planes[i].offset;
		attribs->stride[i] = layout.planes[i].stride;
	}
	return true;
}

void *dmab_server_read_get_writable_data(const struct dmab_server_read *read)
{
	if (!read || !read->write || !dmab_server_read_is_ready(read))
		return NULL;
	/* The core mapped the storage writable for this bracket. */
	return (void *)(uintptr_t)read->data;
}

void dmab_server_read_end(struct dmab_server_read *read)
{
	if (!read)
		return;
	read_finish(read);
	free(read);
}
