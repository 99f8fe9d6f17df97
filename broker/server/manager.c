/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "dmabroker-v1-server-protocol.h"
#include "server-private.h"

struct manager {
	struct server_object base;
	struct dmab_account *account; /* the client's: valid whenever a request arrives */
	bool may_introspect, may_import_tokens; /* the client's policy */
};

static const struct dmabroker_manager_v1_interface manager_impl;

static struct manager *manager_from_resource(struct wl_resource *resource)
{
	assert(wl_resource_instance_of(resource, &dmabroker_manager_v1_interface, &manager_impl));
	return wl_resource_get_user_data(resource);
}

static void manager_handle_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static void manager_handle_create_buffer(struct wl_client *client,
	struct wl_resource *resource, uint32_t id, uint32_t width, uint32_t height,
	uint32_t format, uint32_t usage, const char *name)
{
	struct manager *manager = manager_from_resource(resource);
	struct dmab_buffer_desc desc = {
		.width = width, .height = height, .format = format, .usage = usage, .name = name,
	};
	struct dmab_misuse_report report = {0};
	struct dmab_failure fail = server_nomem_failure;
	struct dmab_handle *handle;

	if (!manager) {
		server_buffer_create(resource, id, NULL, NULL, NULL, &server_defunct_failure);
		return;
	}
	if (!dmab_buffer_desc_check(manager->base.server->core, &desc, &report)) {
		server_post_misuse(resource, SERVER_IFACE_MANAGER, &report);
		return;
	}
	handle = dmab_handle_create(manager->account, &desc, &fail);
	server_buffer_create(resource, id, manager->base.server, manager->account, handle, &fail);
}

static const struct dmab_failure import_denied = {
	.reason = DMAB_REASON_PERMISSION_DENIED,
	.message = "the compositor's policy lets this client import no token",
};

static void manager_handle_import_buffer(struct wl_client *client,
	struct wl_resource *resource, uint32_t id, const char *token)
{
	struct manager *manager = manager_from_resource(resource);
	struct dmab_failure fail = server_nomem_failure;
	struct dmab_handle *handle;

	if (!manager) {
		server_buffer_create(resource, id, NULL, NULL, NULL, &server_defunct_failure);
		return;
	}
	if (!manager->may_import_tokens) {
		server_buffer_create(resource, id, manager->base.server, NULL, NULL, &import_denied);
		return;
	}
	handle = dmab_handle_import_token(manager->account, token, &fail);
	server_buffer_create(resource, id, manager->base.server, manager->account, handle, &fail);
}

/* Both import requests: the core checks that desc has the format's planes. */
static void manager_import(struct wl_resource *resource, uint32_t id, int32_t fd,
	const struct dmab_import_desc *desc)
{
	struct manager *manager = manager_from_resource(resource);
	struct dmab_misuse_report report = {0};
	struct dmab_failure fail = server_nomem_failure;
	struct dmab_handle *handle;

	if (!manager) {
		close(fd);
		server_buffer_create(resource, id, NULL, NULL, NULL, &server_defunct_failure);
		return;
	}
	if (!dmab_import_desc_check(manager->base.server->core, fd, desc, &report)) {
		close(fd);
		server_post_misuse(resource, SERVER_IFACE_MANAGER, &report);
		return;
	}
	handle = dmab_handle_import_fd(manager->account, fd, desc, &fail);
	server_buffer_create(resource, id, manager->base.server, manager->account, handle, &fail);
}

static void manager_handle_import_dmabuf(struct wl_client *client,
	struct wl_resource *resource, uint32_t id, int32_t fd, uint32_t format, uint32_t width,
	uint32_t height, uint32_t offset, uint32_t stride, uint32_t flags)
{
	struct dmab_import_desc desc = {
		.width = width, .height = height, .format = format, .flags = flags,
		.n_planes = 1, .planes = { { offset, stride } },
	};

	manager_import(resource, id, fd, &desc);
}

static void manager_handle_import_planar_dmabuf(struct wl_client *client,
	struct wl_resource *resource, uint32_t id, int32_t fd, uint32_t format, uint32_t width,
	uint32_t height, struct wl_array *planes, uint32_t flags)
{
	struct dmab_import_desc desc = {
		.width = width, .height = height, .format = format, .flags = flags,
	};
	const uint32_t *pairs = planes->data;
	size_t n = planes->size / (2 * sizeof(uint32_t));

	if (planes->size % (2 * sizeof(uint32_t)) != 0) {
		close(fd);
		wl_resource_post_error(resource, DMABROKER_MANAGER_V1_ERROR_INVALID_PLANES,
			"planes array of %zu bytes is not pairs of 32-bit offset and stride",
			planes->size);
		return;
	}
	/* Too many planes match no format: the core says so. */
	desc.n_planes = (uint32_t)n;
	for (uint32_t i = 0; i < n && i < DMAB_MAX_PLANES; i++) {
		desc.planes[i].offset = pairs[2 * i];
		desc.planes[i].stride = pairs[2 * i + 1];
	}
	manager_import(resource, id, fd, &desc);
}

static void manager_handle_get_wl_buffer(struct wl_client *client,
	struct wl_resource *resource, uint32_t id, struct wl_resource *buffer_resource)
{
	struct manager *manager = manager_from_resource(resource);
	struct dmab_handle *buffer = server_handle_from_resource(buffer_resource);

	if (!manager) {
		server_wl_buffer_create(resource, id, NULL, NULL);
		return;
	}
	if (!buffer) {
		wl_resource_post_error(resource, DMABROKER_MANAGER_V1_ERROR_INVALID_BUFFER,
			"dmabroker_buffer_v1@%u is defunct", wl_resource_get_id(buffer_resource));
		return;
	}
	server_wl_buffer_create(resource, id, manager->base.server, buffer);
}

static void manager_handle_get_info(struct wl_client *client, struct wl_resource *resource,
	uint32_t id)
{
	struct manager *manager = manager_from_resource(resource);
	struct dmab_failure denied = { .reason = DMAB_REASON_PERMISSION_DENIED };
	uid_t uid;

	if (!manager) {
		server_info_create(resource, id, NULL, &server_defunct_failure);
		return;
	}
	uid = dmab_account_get_uid(manager->account);
	if (!manager->may_introspect) {
		snprintf(denied.message, sizeof(denied.message),
			"uid %u (pid %d) may not introspect the broker, which runs as uid %u: "
			"the compositor's policy", (unsigned)uid,
			(int)dmab_account_get_pid(manager->account), (unsigned)geteuid());
		server_info_create(resource, id, NULL, &denied);
		return;
	}
	server_info_create(resource, id, manager->base.server, NULL);
}

static const struct dmabroker_manager_v1_interface manager_impl = {
	.destroy = manager_handle_destroy,
	.create_buffer = manager_handle_create_buffer,
	.import_buffer = manager_handle_import_buffer,
	.import_dmabuf = manager_handle_import_dmabuf,
	.get_wl_buffer = manager_handle_get_wl_buffer,
	.get_info = manager_handle_get_info,
	.import_planar_dmabuf = manager_handle_import_planar_dmabuf,
};

static void manager_release(struct server_object *object)
{
	struct manager *manager = wl_container_of(object, manager, base);

	server_object_finish(&manager->base);
	free(manager);
}

static void manager_handle_resource_destroy(struct wl_resource *resource)
{
	struct manager *manager = manager_from_resource(resource);

	if (manager)
		manager_release(&manager->base);
}

/* The limits are the client's own: its quota is the policy's. */
static void send_formats_and_limits(struct wl_resource *resource, struct dmab_core *core,
	const struct dmab_account *account)
{
	struct dmab_limits limits;
	size_t len;
	const uint32_t *formats = dmab_core_get_formats(&len);

	for (size_t i = 0; i < len; i++)
		dmabroker_manager_v1_send_format(resource, formats[i]);
	dmab_core_get_limits(core, &limits);
	dmab_account_get_quota(account, &limits);
	dmabroker_manager_v1_send_limits(resource, limits.max_width, limits.max_height,
		(uint32_t)(limits.max_bytes >> 32), (uint32_t)limits.max_bytes,
		limits.max_buffers, limits.max_attachments, limits.max_tokens);
}

void server_manager_bind(struct wl_client *wl_client, void *data, uint32_t version,
	uint32_t id)
{
	struct dmab_server *server = data;
	struct server_client *client;
	struct manager *manager;
	struct wl_resource *resource;

	if (!server) {
		server_bind_inert(wl_client, &dmabroker_manager_v1_interface, &manager_impl,
			manager_handle_resource_destroy, version, id);
		return;
	}
	client = server_client_get(server, wl_client);
	manager = calloc(1, sizeof(*manager));
	if (!client) {
		free(manager);
		return;
	}
	if (!manager)
		goto err_no_memory;
	resource = wl_resource_create(wl_client, &dmabroker_manager_v1_interface, version, id);
	if (!resource)
		goto err_no_memory;
	wl_resource_set_implementation(resource, &manager_impl, NULL,
		manager_handle_resource_destroy);
	manager->account = client->account;
	manager->may_introspect = client->may_introspect;
	manager->may_import_tokens = client->may_import_tokens;
	server_object_init(&manager->base, server, resource, manager_release);
	wl_resource_set_user_data(resource, manager);
	send_formats_and_limits(resource, server->core, client->account);
	return;

err_no_memory:
	free(manager);
	wl_client_post_no_memory(wl_client);
}
