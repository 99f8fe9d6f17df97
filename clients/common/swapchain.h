/* SPDX-License-Identifier: MIT */
/*
 * A few broker buffers a client renders into through mmap and shows in its
 * window. Each slot has its own attachment (read_write, mapped for writing)
 * and wl_buffer. A slot is busy from the commit that shows it until the
 * compositor's wl_buffer.release: the compositor holds a READ bracket on it
 * meanwhile, so a WRITE begin on a busy slot would wait for the release.
 * Rendering into a released slot never waits.
 */
#ifndef DMAB_CLIENTS_SWAPCHAIN_H
#define DMAB_CLIENTS_SWAPCHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dmab_client;
struct dmab_client_buffer;
struct dmab_client_attachment;
struct wl_buffer;
struct dmab_window;

#define DMAB_SWAPCHAIN_MAX 8

struct dmab_swapchain_slot {
	struct dmab_client_buffer *buffer;
	struct dmab_client_attachment *attachment;
	struct wl_buffer *wl_buffer;
	bool busy;
	bool begun; /* submit sent begin_access(WRITE) ahead; begin waits for its ready */
};

struct dmab_swapchain {
	struct dmab_swapchain_slot slots[DMAB_SWAPCHAIN_MAX];
	size_t len;
	uint32_t width, height, format;
	struct dmab_client *client;
};

/*
 * Creates len (1..DMAB_SWAPCHAIN_MAX) buffers named "name/0", "name/1", ...
 * and maps them. NULL on failure, with errno set; *what names the step that
 * failed.
 */
struct dmab_swapchain *dmab_swapchain_create(struct dmab_client *client, size_t len,
	uint32_t width, uint32_t height, uint32_t format, const char *name, const char **what);
/* Destroys the buffers (their attachments and wl_buffers too). NULL is a no-op. */
void dmab_swapchain_destroy(struct dmab_swapchain *chain);

/* A slot the compositor has released, one begun ahead first, or NULL if every slot is busy. */
struct dmab_swapchain_slot *dmab_swapchain_acquire(struct dmab_swapchain *chain);

/*
 * Remaps the slot if its storage moved, then begins a WRITE bracket. Returns
 * the first row, or NULL with errno set; *stride receives the row pitch.
 */
void *dmab_swapchain_begin(struct dmab_swapchain_slot *slot, uint32_t *stride);
/* Ends the WRITE bracket: 0 or a negative errno. */
int dmab_swapchain_end(struct dmab_swapchain_slot *slot);

/* Commits the slot to the window; the slot is busy until the compositor releases it. */
void dmab_swapchain_present(struct dmab_swapchain_slot *slot, struct dmab_window *window);

/*
 * Ends the slot's WRITE bracket, presents it, and begins WRITE on the next
 * released slot ahead of time, in one batch: a frame costs one sendmsg
 * instead of three (begin, end, commit). 0 or a negative errno.
 */
int dmab_swapchain_submit(struct dmab_swapchain *chain, struct dmab_swapchain_slot *slot,
	struct dmab_window *window);

/*
 * Copies a frame of the chain's size and format (first row at data, rows
 * stride bytes apart) into a released slot, inside a WRITE bracket, and
 * presents it. Does nothing when the window is not ready for a frame or
 * every slot is busy. 0 or a negative errno.
 */
int dmab_swapchain_show_copy(struct dmab_swapchain *chain, struct dmab_window *window,
	const void *data, uint32_t stride);

/*
 * (Re)maps an attachment whose storage moved. Call outside a bracket. 0 or a
 * negative errno.
 */
int dmab_attachment_settle(struct dmab_client_attachment *attachment);

#endif
