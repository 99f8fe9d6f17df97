/* SPDX-License-Identifier: MIT */
/*
 * zwp_linux_dmabuf_v1 version 3: a stock client's dma-buf becomes a broker
 * buffer, validated and charged like import_dmabuf, behind a wl_buffer of the
 * same kind as get_wl_buffer's. The compositor reads it through the broker,
 * which maps it and brackets each read, so no GPU is needed to show it.
 *
 * The broker takes buffers in its own formats, with the linear layout or the
 * implicit modifier (DRM_FORMAT_MOD_INVALID: the layout is the exporter's,
 * which for a CPU mapping is linear). The planes of a multi-planar buffer must
 * all be in one dma-buf (the fds of each plane refer to the same file), since
 * a broker buffer has one storage.
 */
#include <assert.h>
#include <drm_fourcc.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wayland-server-core.h>
#include <wayland-server-protocol.h>

#include "linux-dmabuf-unstable-v1-protocol.h"
#include "server-private.h"

#define LINUX_DMABUF_VERSION 3

struct params {
	struct server_object base;
	struct dmab_account *account; /* the client's: valid whenever a request arrives */
	struct {
		int fd; /* -1 until added */
		uint32_t offset, stride;
		uint64_t modifier;
	} planes[DMAB_MAX_PLANES];
	bool used;
};

static const struct zwp_linux_buffer_params_v1_interface params_impl;

static struct params *params_from_resource(struct wl_resource *resource)
{
	assert(wl_resource_instance_of(resource, &zwp_linux_buffer_params_v1_interface,
		&params_impl));
	return wl_resource_get_user_data(resource);
}

static void params_handle_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

/* Every request but destroy is refused after create. */
static bool params_check_unused(struct wl_resource *resource, struct params *params)
{
	if (params->used) {
		wl_resource_post_error(resource, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_ALREADY_USED,
			"the params object was already used to create a wl_buffer");
		return false;
	}
	return true;
}

static void params_handle_add(struct wl_client *client, struct wl_resource *resource,
	int32_t fd, uint32_t plane_idx, uint32_t offset, uint32_t stride, uint32_t modifier_hi,
	uint32_t modifier_lo)
{
	struct params *params = params_from_resource(resource);

	if (!params || !params_check_unused(resource, params)) {
		close(fd);
		return;
	}
	if (plane_idx >= DMAB_MAX_PLANES) {
		close(fd);
		wl_resource_post_error(resource, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_PLANE_IDX,
			"plane_idx %u is out of bounds: the broker's formats have up to %d planes",
			plane_idx, DMAB_MAX_PLANES);
		return;
	}
	if (params->planes[plane_idx].fd >= 0) {
		close(fd);
		wl_resource_post_error(resource, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_PLANE_SET,
			"plane %u was already set", plane_idx);
		return;
	}
	params->planes[plane_idx].fd = fd;
	params->planes[plane_idx].offset = offset;
	params->planes[plane_idx].stride = stride;
	params->planes[plane_idx].modifier = (uint64_t)modifier_hi << 32 | modifier_lo;
}

/* The planes added, from 0 up to the first one missing. */
static uint32_t params_count_planes(const struct params *params)
{
	uint32_t n = 0;

	while (n < DMAB_MAX_PLANES && params->planes[n].fd >= 0) {
		n++;
	}
	return n;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
		sa.st_ino == sb.st_ino;
}

/* The params error of an import check that found a client bug; 0 for the others. */
static uint32_t misuse_error(enum dmab_misuse misuse)
{
	switch (misuse) {
	case DMAB_MISUSE_INVALID_FORMAT:
		return ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INVALID_FORMAT + 1;
	case DMAB_MISUSE_INVALID_SIZE:
		return ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INVALID_DIMENSIONS + 1;
	case DMAB_MISUSE_INVALID_STRIDE:
	case DMAB_MISUSE_OUT_OF_BOUNDS:
		return ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_OUT_OF_BOUNDS + 1;
	default:
		return 0;
	}
}

enum check_result {
	CHECK_OK,
	CHECK_POSTED, /* an obvious client bug: the protocol error is posted */
	CHECK_FAILED, /* the broker cannot import it: fail says why */
};

static enum check_result params_check(struct wl_resource *resource, struct params *params,
	int32_t width, int32_t height, uint32_t format, uint32_t flags,
	struct dmab_import_desc *desc, struct dmab_failure *fail)
{
	struct dmab_misuse_report report = {0};
	uint32_t n = params_count_planes(params), expected = dmab_format_planes(format);
	bool gap = n == 0;
	uint32_t code;

	/* A plane added beyond one missing leaves a gap. */
	for (uint32_t i = n; i < DMAB_MAX_PLANES; i++) {
		gap |= params->planes[i].fd >= 0;
	}
	if (gap) {
		wl_resource_post_error(resource, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INCOMPLETE,
			"plane %" PRIu32 " was not added", n);
		return CHECK_POSTED;
	}
	if (expected != 0 && n != expected) {
		wl_resource_post_error(resource, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INCOMPLETE,
			"%" PRIu32 " planes were added; format 0x%08" PRIx32 " has %" PRIu32,
			n, format, expected);
		return CHECK_POSTED;
	}
	if (width <= 0 || height <= 0) {
		wl_resource_post_error(resource,
			ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INVALID_DIMENSIONS,
			"size %" PRId32 "x%" PRId32 " is not positive", width, height);
		return CHECK_POSTED;
	}
	*desc = (struct dmab_import_desc){
		.width = (uint32_t)width,
		.height = (uint32_t)height,
		.format = format,
		.flags = flags & ZWP_LINUX_BUFFER_PARAMS_V1_FLAGS_Y_INVERT,
		.n_planes = n,
	};
	for (uint32_t i = 0; i < n; i++) {
		uint64_t modifier = params->planes[i].modifier;

		if (modifier != params->planes[0].modifier ||
				(modifier != DRM_FORMAT_MOD_LINEAR &&
				modifier != DRM_FORMAT_MOD_INVALID)) {
			wl_resource_post_error(resource,
				ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INVALID_FORMAT,
				"modifier 0x%016" PRIx64 " of plane %" PRIu32 " of format 0x%08"
				PRIx32 " was not advertised: the broker takes linear buffers, one "
				"modifier for every plane", modifier, i, format);
			return CHECK_POSTED;
		}
		desc->planes[i].offset = params->planes[i].offset;
		desc->planes[i].stride = params->planes[i].stride;
	}
	for (uint32_t i = 1; i < n; i++) {
		if (!same_file(params->planes[0].fd, params->planes[i].fd)) {
			fail->reason = DMAB_REASON_UNSATISFIABLE;
			snprintf(fail->message, sizeof(fail->message),
				"plane %" PRIu32 " is in another dma-buf than plane 0: the broker "
				"keeps every plane of a buffer in one storage", i);
			return CHECK_FAILED;
		}
	}
	if (!dmab_import_desc_check(params->base.server->core, params->planes[0].fd, desc,
			&report)) {
		code = misuse_error(report.misuse);
		if (code != 0) {
			wl_resource_post_error(resource, code - 1, "%s", report.message);
			return CHECK_POSTED;
		}
		fail->reason = DMAB_REASON_UNSATISFIABLE;
		snprintf(fail->message, sizeof(fail->message), "%s", report.message);
		return CHECK_FAILED;
	}
	if (flags & ~(uint32_t)ZWP_LINUX_BUFFER_PARAMS_V1_FLAGS_Y_INVERT) {
		fail->reason = DMAB_REASON_UNSATISFIABLE;
		snprintf(fail->message, sizeof(fail->message),
			"flags 0x%" PRIx32 ": the broker shows progressive frames only", flags);
		return CHECK_FAILED;
	}
	return CHECK_OK;
}

/*
 * The buffer of the params' plane, charged to the client like import_dmabuf;
 * NULL with fail filled if it cannot be imported, or after a protocol error
 * (*posted). The params are used up either way.
 */
static struct dmab_handle *params_import(struct wl_resource *resource, struct params *params,
	int32_t width, int32_t height, uint32_t format, uint32_t flags, bool *posted,
	struct dmab_failure *fail)
{
	struct dmab_import_desc desc;
	enum check_result result;
	int fd;

	result = params_check(resource, params, width, height, format, flags, &desc, fail);
	*posted = result == CHECK_POSTED;
	params->used = true;
	if (result != CHECK_OK)
		return NULL;
	fd = params->planes[0].fd;
	params->planes[0].fd = -1;
	*fail = server_nomem_failure;
	return dmab_handle_import_fd(params->account, fd, &desc, fail);
}

static void params_handle_create(struct wl_client *client, struct wl_resource *resource,
	int32_t width, int32_t height, uint32_t format, uint32_t flags)
{
	struct params *params = params_from_resource(resource);
	struct wl_resource *wl_buffer;
	struct dmab_failure fail = server_nomem_failure;
	struct dmab_handle *handle;
	bool posted;

	if (!params) {
		zwp_linux_buffer_params_v1_send_failed(resource);
		return;
	}
	if (!params_check_unused(resource, params))
		return;
	handle = params_import(resource, params, width, height, format, flags, &posted, &fail);
	if (posted)
		return;
	if (!handle) {
		zwp_linux_buffer_params_v1_send_failed(resource);
		server_note_failure(params->base.server, client, &fail);
		return;
	}
	wl_buffer = server_wl_buffer_create_from_handle(client, 0, params->base.server, handle);
	if (wl_buffer)
		zwp_linux_buffer_params_v1_send_created(resource, wl_buffer);
}

static void params_handle_create_immed(struct wl_client *client, struct wl_resource *resource,
	uint32_t buffer_id, int32_t width, int32_t height, uint32_t format, uint32_t flags)
{
	struct params *params = params_from_resource(resource);
	struct dmab_failure fail = { .message = "the broker is gone" };
	struct dmab_handle *handle = NULL;
	bool posted = false;

	if (params && !params_check_unused(resource, params))
		return;
	if (params)
		handle = params_import(resource, params, width, height, format, flags, &posted,
			&fail);
	if (posted)
		return;
	if (!handle) {
		if (params) {
			server_note_failure(params->base.server, client, &fail);
		}
		wl_resource_post_error(resource, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INVALID_WL_BUFFER,
			"the dma-buf cannot be imported: %s", fail.message);
		return;
	}
	server_wl_buffer_create_from_handle(client, buffer_id, params->base.server, handle);
}

static const struct zwp_linux_buffer_params_v1_interface params_impl = {
	.destroy = params_handle_destroy,
	.add = params_handle_add,
	.create = params_handle_create,
	.create_immed = params_handle_create_immed,
};

static void params_release(struct server_object *object)
{
	struct params *params = wl_container_of(object, params, base);

	for (uint32_t i = 0; i < DMAB_MAX_PLANES; i++) {
		if (params->planes[i].fd >= 0) {
			close(params->planes[i].fd);
		}
	}
	server_object_finish(&params->base);
	free(params);
}

static void params_handle_resource_destroy(struct wl_resource *resource)
{
	struct params *params = params_from_resource(resource);

	if (params)
		params_release(&params->base);
}

/* --- zwp_linux_dmabuf_v1 --- */

struct linux_dmabuf {
	struct server_object base;
	struct dmab_account *account;
};

static const struct zwp_linux_dmabuf_v1_interface linux_dmabuf_impl;

static struct linux_dmabuf *linux_dmabuf_from_resource(struct wl_resource *resource)
{
	assert(wl_resource_instance_of(resource, &zwp_linux_dmabuf_v1_interface,
		&linux_dmabuf_impl));
	return wl_resource_get_user_data(resource);
}

static void linux_dmabuf_handle_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

/* After the server is gone the params object stays inert: every request is already_used. */
static void linux_dmabuf_handle_create_params(struct wl_client *client,
	struct wl_resource *resource, uint32_t id)
{
	struct linux_dmabuf *linux_dmabuf = linux_dmabuf_from_resource(resource);
	struct wl_resource *params_resource = server_resource_create(resource,
		&zwp_linux_buffer_params_v1_interface, &params_impl,
		params_handle_resource_destroy, id);
	struct params *params;

	if (!params_resource || !linux_dmabuf)
		return;
	params = calloc(1, sizeof(*params));
	if (!params) {
		wl_resource_post_no_memory(params_resource);
		return;
	}
	params->account = linux_dmabuf->account;
	for (uint32_t i = 0; i < DMAB_MAX_PLANES; i++) {
		params->planes[i].fd = -1;
	}
	server_object_init(&params->base, linux_dmabuf->base.server, params_resource,
		params_release);
	wl_resource_set_user_data(params_resource, params);
}

static const struct zwp_linux_dmabuf_v1_interface linux_dmabuf_impl = {
	.destroy = linux_dmabuf_handle_destroy,
	.create_params = linux_dmabuf_handle_create_params,
};

static void linux_dmabuf_release(struct server_object *object)
{
	struct linux_dmabuf *linux_dmabuf = wl_container_of(object, linux_dmabuf, base);

	server_object_finish(&linux_dmabuf->base);
	free(linux_dmabuf);
}

static void linux_dmabuf_handle_resource_destroy(struct wl_resource *resource)
{
	struct linux_dmabuf *linux_dmabuf = linux_dmabuf_from_resource(resource);

	if (linux_dmabuf)
		linux_dmabuf_release(&linux_dmabuf->base);
}

static void send_formats(struct wl_resource *resource)
{
	static const uint64_t modifiers[] = { DRM_FORMAT_MOD_LINEAR, DRM_FORMAT_MOD_INVALID };
	size_t len;
	const uint32_t *formats = dmab_core_get_formats(&len);

	for (size_t i = 0; i < len; i++) {
		zwp_linux_dmabuf_v1_send_format(resource, formats[i]);
		if (wl_resource_get_version(resource) < ZWP_LINUX_DMABUF_V1_MODIFIER_SINCE_VERSION)
			continue;
		for (size_t j = 0; j < sizeof(modifiers) / sizeof(modifiers[0]); j++)
			zwp_linux_dmabuf_v1_send_modifier(resource, formats[i],
				(uint32_t)(modifiers[j] >> 32), (uint32_t)modifiers[j]);
	}
}

static void linux_dmabuf_bind(struct wl_client *wl_client, void *data, uint32_t version,
	uint32_t id)
{
	struct dmab_server *server = data;
	struct server_client *client;
	struct linux_dmabuf *linux_dmabuf;
	struct wl_resource *resource;

	if (!server) {
		server_bind_inert(wl_client, &zwp_linux_dmabuf_v1_interface, &linux_dmabuf_impl,
			linux_dmabuf_handle_resource_destroy, version, id);
		return;
	}
	client = server_client_get(server, wl_client);
	linux_dmabuf = calloc(1, sizeof(*linux_dmabuf));
	if (!client) {
		free(linux_dmabuf);
		return;
	}
	if (!linux_dmabuf)
		goto err_no_memory;
	resource = wl_resource_create(wl_client, &zwp_linux_dmabuf_v1_interface, version, id);
	if (!resource)
		goto err_no_memory;
	wl_resource_set_implementation(resource, &linux_dmabuf_impl, NULL,
		linux_dmabuf_handle_resource_destroy);
	linux_dmabuf->account = client->account;
	server_object_init(&linux_dmabuf->base, server, resource, linux_dmabuf_release);
	wl_resource_set_user_data(resource, linux_dmabuf);
	send_formats(resource);
	return;

err_no_memory:
	free(linux_dmabuf);
	wl_client_post_no_memory(wl_client);
}

bool server_linux_dmabuf_init(struct dmab_server *server)
{
	server->linux_dmabuf = wl_global_create(server->display, &zwp_linux_dmabuf_v1_interface,
		LINUX_DMABUF_VERSION, server, linux_dmabuf_bind);
	return server->linux_dmabuf != NULL;
}
