/* SPDX-License-Identifier: MIT */
/*
 * The ring of broker buffers dmab-share writes frames into and dmab-view reads
 * them from, one attachment on each. Each side passes the ring hand over hand:
 * it queues its bracket on the next buffer before it ends the one it holds.
 *
 * A migration completes once every mapping of the buffer is gone, and the
 * other side may be blocked in its map of a moved buffer meanwhile. So a moved
 * buffer is unmapped as soon as the chain has no bracket on it, which never
 * waits, and mapped again only when the chain comes back to it.
 */
#ifndef DMAB_CLIENTS_RING_H
#define DMAB_CLIENTS_RING_H

#include <stdint.h>

struct dmab_client_buffer;
struct dmab_client_attachment;
struct wl_display;

#define DMAB_RING_MAX 8
/* The length of a token dmab-share prints: 32 lowercase hex digits. */
#define DMAB_TOKEN_LEN 32

struct dmab_ring_slot {
	struct dmab_client_buffer *buffer;
	struct dmab_client_attachment *attachment;
};

struct dmab_ring {
	struct dmab_ring_slot slots[DMAB_RING_MAX];
	uint32_t len;
	uint32_t direction; /* of every map and bracket: DMABROKER_ATTACHMENT_V1_DIRECTION_* */
};

/* Destroys the slots' buffers, with their attachments. */
void dmab_ring_finish(struct dmab_ring *ring);

/* Unmaps every moved slot but busy, the one the chain holds. 0 or a negative errno. */
int dmab_ring_release_moved(struct dmab_ring *ring, uint32_t busy);
/*
 * Waits for events like dmab_wait, then releases the moved slots but busy. 0
 * or a negative errno.
 */
int dmab_ring_wait(struct dmab_ring *ring, uint32_t busy, struct wl_display *display,
	int timeout_ms);
/*
 * Before the bracket on slot index is queued: releases the moved slots but
 * busy, and maps slot index if it is unmapped or its storage moved. 1 if it
 * mapped the slot, 0 if the mapping stood, or a negative errno.
 */
int dmab_ring_prepare(struct dmab_ring *ring, uint32_t index, uint32_t busy);

#endif
