/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/dma-buf.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client-private.h"

static void handle_mapped(void *data, struct dmabroker_attachment_v1 *proxy, uint32_t serial,
	int32_t fd, uint32_t offset, uint32_t size, uint32_t stride, uint32_t flags)
{
	struct dmab_client_attachment *att = data;
	client_fd_ensure_cloexec(fd);
	if (serial != att->map_serial || att->map_state != MAP_PENDING || att->fd >= 0) {
		close(fd);
		return;
	}
	att->fd = fd;
	/* Plane 0 as mapped describes it, for a broker that sent no plane events. */
	att->planes[0] = (struct dmab_client_plane){ offset, stride, size };
	if (att->n_planes == 0) {
		att->n_planes = 1;
	}
	att->map_flags = flags;
}

static void handle_plane(void *data, struct dmabroker_attachment_v1 *proxy, uint32_t serial,
	uint32_t index, uint32_t offset, uint32_t stride, uint32_t size)
{
	struct dmab_client_attachment *att = data;
	if (serial != att->map_serial || att->map_state != MAP_PENDING || att->fd >= 0 ||
			index >= DMAB_CLIENT_MAX_PLANES) {
		return;
	}
	att->planes[index] = (struct dmab_client_plane){ offset, stride, size };
	if (index >= att->n_planes) {
		att->n_planes = index + 1;
	}
}

static void handle_ready(void *data, struct dmabroker_attachment_v1 *proxy, uint32_t serial)
{
	struct dmab_client_attachment *att = data;
	if (serial != att->access_serial || att->access_state != ACCESS_WAITING)
		return;
	att->access_state = ACCESS_READY;
	if (att->map_flags & DMABROKER_ATTACHMENT_V1_MAP_FLAGS_DMABUF)
		att->sync_error = dmab_client_dmabuf_sync(att->fd, true, att->access_direction);
}

static void handle_moved(void *data, struct dmabroker_attachment_v1 *proxy, uint32_t serial)
{
	struct dmab_client_attachment *att = data;
	if (serial == att->map_serial && att->map_state != MAP_NONE)
		att->moved = true;
}

static void handle_attachment_failed(void *data, struct dmabroker_attachment_v1 *proxy,
	uint32_t reason, const char *message)
{
	struct dmab_client_attachment *att = data;
	client_failure_init(&att->failure, reason, message);
	att->failed = true;
}

static const struct dmabroker_attachment_v1_listener attachment_listener = {
	.mapped = handle_mapped,
	.ready = handle_ready,
	.moved = handle_moved,
	.failed = handle_attachment_failed,
	.plane = handle_plane,
};

struct dmab_client_attachment *dmab_client_attachment_create(
	struct dmab_client_buffer *buffer, uint32_t access,
	const struct dmab_client_constraints *constraints)
{
	struct dmab_client_constraints none = { 0 };
	if (constraints == NULL)
		constraints = &none;
	struct dmab_client_attachment *att = calloc(1, sizeof(*att));
	if (att == NULL)
		return NULL;
	att->proxy = dmabroker_buffer_v1_attach(buffer->proxy, access, constraints->flags,
		constraints->row_alignment, constraints->max_planes ? constraints->max_planes : 1);
	if (att->proxy == NULL) {
		free(att);
		errno = ENOMEM;
		return NULL;
	}
	att->buffer = buffer;
	att->fd = -1;
	dmabroker_attachment_v1_add_listener(att->proxy, &attachment_listener, att);
	wl_list_insert(buffer->attachments.prev, &att->link);
	return att;
}

void dmab_client_attachment_destroy(struct dmab_client_attachment *att)
{
	if (att == NULL)
		return;
	if (att->access_state != ACCESS_NONE)
		dmab_client_attachment_end(att);
	if (att->map_state == MAP_DONE)
		dmab_client_attachment_unmap(att);
	/* A mapped event still in flight is dropped, fd and all, by libwayland. */
	if (att->fd >= 0)
		close(att->fd);
	dmabroker_attachment_v1_destroy(att->proxy);
	wl_display_flush(att->buffer->client->display);
	wl_list_remove(&att->link);
	free(att);
}

static bool map_answered(const void *data)
{
	const struct dmab_client_attachment *att = data;
	return att->fd >= 0 || att->failed;
}

static void map_release(struct dmab_client_attachment *att)
{
	if (att->base != NULL)
		munmap(att->base, att->base_len);
	if (att->fd >= 0)
		close(att->fd);
	att->base = NULL;
	att->base_len = 0;
	att->n_planes = 0;
	att->fd = -1;
	att->map_state = MAP_NONE;
}

/* One mapping from file offset 0 to the end of the last plane holds every plane. */
static int map_memory(struct dmab_client_attachment *att)
{
	int prot = PROT_READ;
	if (att->map_direction & DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE)
		prot |= PROT_WRITE;
	uint64_t len = 0;
	for (uint32_t i = 0; i < att->n_planes; i++) {
		uint64_t end = (uint64_t)att->planes[i].offset + att->planes[i].size;
		len = end > len ? end : len;
	}
	if (len == 0 || len > SIZE_MAX) {
		return -EINVAL;
	}
	void *base = mmap(NULL, (size_t)len, prot, MAP_SHARED, att->fd, 0);
	if (base == MAP_FAILED) {
		return -errno;
	}
	att->base = base;
	att->base_len = (size_t)len;
	return 0;
}

int dmab_client_attachment_map(struct dmab_client_attachment *att, uint32_t direction)
{
	if (att->failed)
		return client_report_failure(&att->failure);
	if (att->map_state != MAP_NONE)
		return -EBUSY;
	dmabroker_attachment_v1_map(att->proxy, direction);
	att->map_serial++;
	att->map_state = MAP_PENDING;
	att->map_direction = direction;
	att->moved = false;
	int ret = client_wait(att->buffer->client, map_answered, att);
	if (ret < 0)
		return ret;
	if (att->failed) {
		map_release(att);
		return client_report_failure(&att->failure);
	}
	ret = map_memory(att);
	if (ret < 0) {
		map_release(att);
		dmabroker_attachment_v1_unmap(att->proxy);
		return ret;
	}
	att->map_state = MAP_DONE;
	return 0;
}

int dmab_client_attachment_unmap(struct dmab_client_attachment *att)
{
	if (att->map_state != MAP_DONE)
		return -EINVAL;
	if (att->access_state != ACCESS_NONE)
		return -EBUSY;
	map_release(att);
	att->moved = false;
	dmabroker_attachment_v1_unmap(att->proxy);
	wl_display_flush(att->buffer->client->display);
	return 0;
}

void *dmab_client_attachment_get_data(struct dmab_client_attachment *att)
{
	return dmab_client_attachment_get_plane(att, 0, NULL);
}

uint32_t dmab_client_attachment_get_stride(struct dmab_client_attachment *att)
{
	return att->map_state == MAP_DONE ? att->planes[0].stride : att->buffer->layout.stride;
}

uint32_t dmab_client_attachment_get_n_planes(struct dmab_client_attachment *att)
{
	return att->map_state == MAP_DONE ? att->n_planes : 0;
}

void *dmab_client_attachment_get_plane(struct dmab_client_attachment *att, uint32_t index,
	struct dmab_client_plane *plane)
{
	if (att->map_state != MAP_DONE || index >= att->n_planes) {
		return NULL;
	}
	if (plane != NULL) {
		*plane = att->planes[index];
	}
	return (char *)att->base + att->planes[index].offset;
}

uint32_t dmab_client_attachment_get_map_flags(struct dmab_client_attachment *att)
{
	return att->map_state == MAP_DONE ? att->map_flags : 0;
}

int dmab_client_attachment_get_fd(struct dmab_client_attachment *att)
{
	return att->map_state == MAP_DONE ? att->fd : -1;
}

bool dmab_client_attachment_moved(struct dmab_client_attachment *att)
{
	client_dispatch_queued(att->buffer->client);
	return att->moved;
}

/*
 * The caller ends an open bracket first: remap refuses to unmap inside one,
 * as the protocol does.
 */
int dmab_client_attachment_remap(struct dmab_client_attachment *att)
{
	uint32_t direction = att->map_direction;
	int ret = dmab_client_attachment_unmap(att);
	if (ret < 0)
		return ret;
	return dmab_client_attachment_map(att, direction);
}

int dmab_client_attachment_begin_async(struct dmab_client_attachment *att, uint32_t direction)
{
	if (att->failed)
		return client_report_failure(&att->failure);
	if (att->map_state != MAP_DONE)
		return -EINVAL;
	if (att->access_state != ACCESS_NONE)
		return -EBUSY;
	if (direction == 0 || (direction & ~att->map_direction) != 0)
		return -EINVAL;
	dmabroker_attachment_v1_begin_access(att->proxy, direction);
	att->access_serial++;
	att->access_state = ACCESS_WAITING;
	att->access_direction = direction;
	att->sync_error = 0;
	att->acquire_set = false;
	/* A failed connection shows at the next dispatch, where the caller waits for ready. */
	client_flush(att->buffer->client);
	return 0;
}

static bool access_answered(const void *data)
{
	const struct dmab_client_attachment *att = data;
	return att->access_state == ACCESS_READY || att->failed;
}

int dmab_client_attachment_wait_ready(struct dmab_client_attachment *att)
{
	if (att->access_state == ACCESS_NONE) {
		return -EINVAL;
	}
	int ret = client_wait(att->buffer->client, access_answered, att);
	if (ret < 0)
		return ret;
	if (att->failed) {
		att->access_state = ACCESS_NONE;
		return client_report_failure(&att->failure);
	}
	if (att->sync_error < 0)
		return dmab_client_attachment_end(att);
	return 0;
}

int dmab_client_attachment_begin(struct dmab_client_attachment *att, uint32_t direction)
{
	int ret = dmab_client_attachment_begin_async(att, direction);
	if (ret < 0)
		return ret;
	return dmab_client_attachment_wait_ready(att);
}

bool dmab_client_attachment_is_ready(struct dmab_client_attachment *att)
{
	client_dispatch_queued(att->buffer->client);
	return att->access_state == ACCESS_READY;
}

/* Returns an error of the START sync too, which begin_async could not report. */
int dmab_client_attachment_end(struct dmab_client_attachment *att)
{
	if (att->access_state == ACCESS_NONE)
		return -EINVAL;
	int ret = att->sync_error;
	if (att->access_state == ACCESS_READY && ret == 0 &&
			(att->map_flags & DMABROKER_ATTACHMENT_V1_MAP_FLAGS_DMABUF))
		ret = dmab_client_dmabuf_sync(att->fd, false, att->access_direction);
	dmabroker_attachment_v1_end_access(att->proxy, att->access_direction);
	att->access_state = ACCESS_NONE;
	att->sync_error = 0;
	client_flush(att->buffer->client);
	return ret;
}

/* libwayland sends a duplicate of fd: the caller keeps its own. */
int dmab_client_attachment_set_acquire_fence(struct dmab_client_attachment *att, int fd)
{
	if (fd < 0)
		return -EBADF;
	if (att->failed)
		return client_report_failure(&att->failure);
	if (att->access_state != ACCESS_READY ||
			!(att->access_direction & DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE))
		return -EINVAL;
	if (att->acquire_set)
		return -EBUSY;
	dmabroker_attachment_v1_set_acquire_fence(att->proxy, fd);
	att->acquire_set = true;
	return client_flush(att->buffer->client);
}

int dmab_client_dmabuf_sync(int fd, bool start, uint32_t direction)
{
	struct dma_buf_sync sync = { .flags = start ? DMA_BUF_SYNC_START : DMA_BUF_SYNC_END };
	if (direction & DMABROKER_ATTACHMENT_V1_DIRECTION_READ)
		sync.flags |= DMA_BUF_SYNC_READ;
	if (direction & DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE)
		sync.flags |= DMA_BUF_SYNC_WRITE;
	if (!(sync.flags & DMA_BUF_SYNC_RW))
		return -EINVAL;
	while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0) {
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	return 0;
}
