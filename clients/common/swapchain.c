/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wayland-client.h>

#include <dmabroker/client.h>

#include "format.h"
#include "swapchain.h"
#include "window.h"

static void handle_release(void *data, struct wl_buffer *wl_buffer)
{
	struct dmab_swapchain_slot *slot = data;
	slot->busy = false;
}

static const struct wl_buffer_listener buffer_listener = {
	.release = handle_release,
};

static int slot_init(struct dmab_swapchain_slot *slot, struct dmab_client *client,
	const struct dmab_swapchain *chain, const char *name, const char **what)
{
	uint32_t usage = DMABROKER_MANAGER_V1_USAGE_CPU_WRITE |
		DMABROKER_MANAGER_V1_USAGE_COMPOSITE;
	*what = "cannot create a buffer";
	slot->buffer = dmab_client_buffer_create(client, chain->width, chain->height,
		chain->format, usage, name);
	if (slot->buffer == NULL)
		return -errno;
	*what = "cannot attach to a buffer";
	/* A multi-planar chain (dmab-bench's NV12) writes each plane through get_plane. */
	struct dmab_client_constraints constraints = { .max_planes = DMAB_CLIENT_MAX_PLANES };
	slot->attachment = dmab_client_attachment_create(slot->buffer,
		DMABROKER_BUFFER_V1_ACCESS_READ_WRITE, &constraints);
	if (slot->attachment == NULL)
		return -errno;
	*what = "cannot map a buffer";
	int ret = dmab_client_attachment_map(slot->attachment,
		DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE);
	if (ret < 0)
		return ret;
	*what = "cannot make a wl_buffer";
	slot->wl_buffer = dmab_client_buffer_get_wl_buffer(slot->buffer);
	if (slot->wl_buffer == NULL)
		return -errno;
	/* The library leaves wl_buffer events to its user; a second listener would fail. */
	if (wl_buffer_add_listener(slot->wl_buffer, &buffer_listener, slot) < 0)
		return -EBUSY;
	return 0;
}

struct dmab_swapchain *dmab_swapchain_create(struct dmab_client *client, size_t len,
	uint32_t width, uint32_t height, uint32_t format, const char *name, const char **what)
{
	if (len == 0 || len > DMAB_SWAPCHAIN_MAX) {
		*what = "invalid number of buffers";
		errno = EINVAL;
		return NULL;
	}
	struct dmab_swapchain *chain = calloc(1, sizeof(*chain));
	if (chain == NULL) {
		*what = "out of memory";
		return NULL;
	}
	chain->width = width;
	chain->height = height;
	chain->format = format;
	chain->client = client;
	for (size_t i = 0; i < len; i++) {
		char slot_name[64];
		snprintf(slot_name, sizeof(slot_name), "%s/%zu", name, i);
		chain->len++;
		int ret = slot_init(&chain->slots[i], client, chain, slot_name, what);
		if (ret < 0) {
			dmab_swapchain_destroy(chain);
			errno = -ret;
			return NULL;
		}
	}
	return chain;
}

void dmab_swapchain_destroy(struct dmab_swapchain *chain)
{
	if (chain == NULL)
		return;
	for (size_t i = 0; i < chain->len; i++)
		dmab_client_buffer_destroy(chain->slots[i].buffer);
	free(chain);
}

struct dmab_swapchain_slot *dmab_swapchain_acquire(struct dmab_swapchain *chain)
{
	struct dmab_swapchain_slot *found = NULL;
	for (size_t i = 0; i < chain->len; i++) {
		struct dmab_swapchain_slot *slot = &chain->slots[i];
		if (slot->busy) {
			continue;
		}
		if (slot->begun) {
			return slot;
		}
		if (found == NULL) {
			found = slot;
		}
	}
	return found;
}

int dmab_attachment_settle(struct dmab_client_attachment *attachment)
{
	if (!dmab_client_attachment_moved(attachment))
		return 0;
	return dmab_client_attachment_remap(attachment);
}

static int begin_now(struct dmab_swapchain_slot *slot)
{
	int ret = dmab_attachment_settle(slot->attachment);
	if (ret == 0) {
		ret = dmab_client_attachment_begin(slot->attachment,
			DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE);
	}
	return ret;
}

/* The bracket submit opened ahead: a move meanwhile means remapping outside it. */
static int begin_ahead(struct dmab_swapchain_slot *slot)
{
	slot->begun = false;
	int ret = dmab_client_attachment_wait_ready(slot->attachment);
	if (ret < 0 || !dmab_client_attachment_moved(slot->attachment)) {
		return ret;
	}
	ret = dmab_client_attachment_end(slot->attachment);
	return ret < 0 ? ret : begin_now(slot);
}

void *dmab_swapchain_begin(struct dmab_swapchain_slot *slot, uint32_t *stride)
{
	int ret = slot->begun ? begin_ahead(slot) : begin_now(slot);
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	*stride = dmab_client_attachment_get_stride(slot->attachment);
	return dmab_client_attachment_get_data(slot->attachment);
}

int dmab_swapchain_end(struct dmab_swapchain_slot *slot)
{
	return dmab_client_attachment_end(slot->attachment);
}

void dmab_swapchain_present(struct dmab_swapchain_slot *slot, struct dmab_window *window)
{
	dmab_window_present(window, slot->wl_buffer);
	slot->busy = true;
}

/* The next frame's begin_access rides on this frame's flush; its ready arrives meanwhile. */
static int begin_next(struct dmab_swapchain *chain)
{
	struct dmab_swapchain_slot *next = dmab_swapchain_acquire(chain);
	if (next == NULL || next->begun || dmab_client_attachment_moved(next->attachment)) {
		return 0;
	}
	int ret = dmab_client_attachment_begin_async(next->attachment,
		DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE);
	next->begun = ret == 0;
	return ret;
}

int dmab_swapchain_submit(struct dmab_swapchain *chain, struct dmab_swapchain_slot *slot,
	struct dmab_window *window)
{
	dmab_client_batch_begin(chain->client);
	int ret = dmab_client_attachment_end(slot->attachment);
	if (ret == 0) {
		dmab_swapchain_present(slot, window);
		ret = begin_next(chain);
	}
	int flushed = dmab_client_batch_end(chain->client);
	return ret < 0 ? ret : flushed;
}

int dmab_swapchain_show_copy(struct dmab_swapchain *chain, struct dmab_window *window,
	const void *data, uint32_t stride)
{
	if (!dmab_window_can_present(window))
		return 0;
	struct dmab_swapchain_slot *slot = dmab_swapchain_acquire(chain);
	if (slot == NULL)
		return 0;
	uint32_t dst_stride;
	uint8_t *dst = dmab_swapchain_begin(slot, &dst_stride);
	if (dst == NULL)
		return -errno;
	size_t row_bytes = (size_t)chain->width * dmab_format_lookup(chain->format)->bpp;
	for (uint32_t y = 0; y < chain->height; y++)
		memcpy(dst + (size_t)y * dst_stride, (const uint8_t *)data + (size_t)y * stride,
			row_bytes);
	return dmab_swapchain_submit(chain, slot, window);
}
