/* SPDX-License-Identifier: MIT */
#include <dmabroker/client.h>

#include "loop.h"
#include "ring.h"

void dmab_ring_finish(struct dmab_ring *ring)
{
	for (uint32_t i = 0; i < ring->len; i++)
		dmab_client_buffer_destroy(ring->slots[i].buffer);
}

int dmab_ring_release_moved(struct dmab_ring *ring, uint32_t busy)
{
	for (uint32_t i = 0; i < ring->len; i++) {
		struct dmab_client_attachment *att = ring->slots[i].attachment;
		if (i == busy || !dmab_client_attachment_moved(att))
			continue;
		int ret = dmab_client_attachment_unmap(att);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int dmab_ring_wait(struct dmab_ring *ring, uint32_t busy, struct wl_display *display,
	int timeout_ms)
{
	int ret = dmab_wait(display, timeout_ms);
	if (ret < 0)
		return ret;
	return dmab_ring_release_moved(ring, busy);
}

int dmab_ring_prepare(struct dmab_ring *ring, uint32_t index, uint32_t busy)
{
	struct dmab_client_attachment *att = ring->slots[index].attachment;
	int ret = dmab_ring_release_moved(ring, busy);
	if (ret == 0 && dmab_client_attachment_moved(att))
		ret = dmab_client_attachment_unmap(att);
	if (ret < 0 || dmab_client_attachment_get_data(att) != NULL)
		return ret;
	ret = dmab_client_attachment_map(att, ring->direction);
	return ret < 0 ? ret : 1;
}
