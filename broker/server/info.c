/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <dirent.h>
#include <stdlib.h>
#include <wayland-server-core.h>

#include "alloc/alloc.h"
#include "dmabroker-v1-server-protocol.h"
#include "server-private.h"

struct info {
	struct server_object base;
};

static const struct dmabroker_info_v1_interface info_impl;

static struct info *info_from_resource(struct wl_resource *resource)
{
	assert(wl_resource_instance_of(resource, &dmabroker_info_v1_interface, &info_impl));
	return wl_resource_get_user_data(resource);
}

static uint32_t allocator_state(const struct dmab_allocator *alloc,
	const struct dmab_allocator *in_use)
{
	if (!alloc->live)
		return DMABROKER_INFO_V1_ALLOCATOR_STATE_ABSENT;
	if (alloc == in_use)
		return DMABROKER_INFO_V1_ALLOCATOR_STATE_IN_USE;
	return DMABROKER_INFO_V1_ALLOCATOR_STATE_LIVE;
}

static void send_allocators(struct wl_resource *resource, struct dmab_allocator_set *set)
{
	/* With "auto", the one in use is the one ordinary buffers get. */
	const struct dmab_allocator *in_use =
		set->selected ? set->selected : dmab_alloc_set_choose(set, false);

	for (size_t i = 0; i < set->len; i++) {
		const struct dmab_allocator *alloc = &set->allocators[i];

		dmabroker_info_v1_send_allocator(resource, alloc->impl->name,
			allocator_state(alloc, in_use), alloc->detail);
	}
}

static void send_buffer(const struct dmab_buffer_stats *stats, void *data)
{
	struct wl_resource *resource = data;
	const struct dmab_layout *layout = &stats->layout;

	dmabroker_info_v1_send_buffer(resource, stats->id, stats->name ? stats->name : "",
		stats->owner_pid, layout->width, layout->height, layout->format,
		layout->planes[0].stride,
		(uint32_t)(layout->size >> 32), (uint32_t)layout->size,
		stats->allocator ? stats->allocator : "", stats->refs,
		stats->write_fence_pending, stats->read_fences_pending, stats->usage,
		stats->payer_pid);
	if (wl_resource_get_version(resource) < DMABROKER_INFO_V1_BUFFER_PLANE_SINCE_VERSION)
		return;
	for (uint32_t i = 0; i < layout->n_planes; i++) {
		dmabroker_info_v1_send_buffer_plane(resource, stats->id, i,
			layout->planes[i].offset, layout->planes[i].stride,
			layout->planes[i].size);
	}
}

static void send_attachment(const struct dmab_attachment_stats *stats, void *data)
{
	struct wl_resource *resource = data;

	dmabroker_info_v1_send_attachment(resource, stats->buffer_id, stats->pid, stats->access,
		stats->state, stats->in_access, stats->waiting);
}

static uint32_t clamp_u32(uint64_t value)
{
	return value > UINT32_MAX ? UINT32_MAX : (uint32_t)value;
}

/* The entries of /proc/self/fd but the directory's own; 0 without /proc. */
static uint32_t count_open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;
	uint32_t count = 0;

	if (!dir)
		return 0;
	while ((entry = readdir(dir)))
		count += entry->d_name[0] != '.';
	closedir(dir);
	return count > 0 ? count - 1 : 0;
}

static void send_uid_usage(const struct dmab_uid_usage *usage, void *data)
{
	dmabroker_info_v1_send_uid_usage(data, (uint32_t)usage->uid, usage->connections,
		usage->buffers, (uint32_t)(usage->bytes >> 32), (uint32_t)usage->bytes, usage->fds);
}

static void send_fds_and_uids(struct wl_resource *resource, struct dmab_core *core)
{
	struct dmab_fd_limit fd_limit;
	struct dmab_limits limits;

	dmab_fd_limit_get(&fd_limit);
	dmabroker_info_v1_send_fd_limit(resource,
		fd_limit.limit == UINT64_MAX ? 0 : clamp_u32(fd_limit.limit),
		clamp_u32(fd_limit.headroom), count_open_fds());
	dmab_core_get_limits(core, &limits);
	dmabroker_info_v1_send_uid_limits(resource, (uint32_t)(limits.max_uid_bytes >> 32),
		(uint32_t)limits.max_uid_bytes, limits.max_uid_buffers, limits.max_uid_connections,
		limits.max_uid_fds);
	dmab_core_for_each_uid(core, send_uid_usage, resource);
}

static void info_send_snapshot(struct info *info)
{
	struct wl_resource *resource = info->base.resource;
	struct dmab_core *core = info->base.server->core;

	if (wl_resource_get_version(resource) >= DMABROKER_INFO_V1_FD_LIMIT_SINCE_VERSION)
		send_fds_and_uids(resource, core);
	send_allocators(resource, dmab_core_get_allocators(core));
	dmab_core_for_each_buffer(core, send_buffer, send_attachment, resource);
	dmabroker_info_v1_send_done(resource);
}

static void info_handle_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static void info_handle_refresh(struct wl_client *client, struct wl_resource *resource)
{
	struct info *info = info_from_resource(resource);

	if (info)
		info_send_snapshot(info);
}

static const struct dmabroker_info_v1_interface info_impl = {
	.destroy = info_handle_destroy,
	.refresh = info_handle_refresh,
};

static void info_release(struct server_object *object)
{
	struct info *info = wl_container_of(object, info, base);

	server_object_finish(&info->base);
	free(info);
}

static void info_handle_resource_destroy(struct wl_resource *resource)
{
	struct info *info = info_from_resource(resource);

	if (info)
		info_release(&info->base);
}

void server_info_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	const struct dmab_failure *fail)
{
	struct wl_resource *resource = server_resource_create(parent,
		&dmabroker_info_v1_interface, &info_impl, info_handle_resource_destroy, id);
	struct info *info;

	if (!resource)
		return;
	if (!server) {
		dmabroker_info_v1_send_failed(resource, fail->reason, fail->message);
		return;
	}
	info = calloc(1, sizeof(*info));
	if (!info) {
		wl_resource_post_no_memory(resource);
		return;
	}
	server_object_init(&info->base, server, resource, info_release);
	wl_resource_set_user_data(resource, info);
	info_send_snapshot(info);
}
