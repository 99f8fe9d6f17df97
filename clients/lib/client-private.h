/* SPDX-License-Identifier: MIT */
/* libdmabroker-client internals shared by client.c, buffer.c and attachment.c. */
#ifndef DMAB_CLIENT_PRIVATE_H
#define DMAB_CLIENT_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-client.h>

#include "dmabroker/client.h"

#define DMAB_CLIENT_HIDDEN __attribute__((visibility("hidden")))

struct dmab_client {
	struct wl_display *display;
	bool owns_display;
	/*
	 * The library's own: every object it makes is on it, and its blocking
	 * calls dispatch it alone, never the application's default queue.
	 */
	struct wl_event_queue *queue;
	struct wl_display *display_wrapper; /* the display's proxy, on queue */
	struct dmabroker_manager_v1 *manager; /* on queue */
	struct dmabroker_manager_v1 *app_manager; /* a wrapper on the default queue, or NULL */
	uint32_t *formats;
	size_t formats_len, formats_cap;
	bool formats_oom;
	struct dmab_client_limits limits;
	bool have_limits;
	struct wl_list buffers; /* dmab_client_buffer.link */
	unsigned batch_depth;   /* open dmab_client_batch_begin calls */
};

struct dmab_client_buffer {
	struct dmab_client *client;
	struct wl_list link;
	struct dmabroker_buffer_v1 *proxy;
	struct dmabroker_buffer_v1 *app_proxy; /* a wrapper on the default queue, or NULL */
	struct dmab_client_layout layout;
	/* The plane events before the next info event. */
	struct dmab_client_plane pending_planes[DMAB_CLIENT_MAX_PLANES];
	uint32_t pending_n_planes;
	bool have_info;
	bool failed;
	struct dmab_client_failure failure;
	struct wl_buffer *wl_buffer;
	struct wl_list attachments; /* dmab_client_attachment.link */
	struct wl_list tokens; /* dmab_client_token.link */
};

enum map_state {
	MAP_NONE,
	MAP_PENDING, /* map sent, mapped not yet received */
	MAP_DONE,
};

enum access_state {
	ACCESS_NONE,
	ACCESS_WAITING, /* begin_access sent, ready not yet received */
	ACCESS_READY,
};

struct dmab_client_attachment {
	struct dmab_client_buffer *buffer;
	struct wl_list link;
	struct dmabroker_attachment_v1 *proxy;
	bool failed;
	struct dmab_client_failure failure;

	/* The numbers of the last map and begin_access sent: answers to older ones are stale. */
	uint32_t map_serial, access_serial;
	enum map_state map_state;
	uint32_t map_direction;
	int fd; /* -1 unless a mapped event was received */
	uint32_t map_flags;
	uint32_t n_planes; /* from the plane events of the map */
	struct dmab_client_plane planes[DMAB_CLIENT_MAX_PLANES];
	void *base; /* the memory mapping of the fd from offset 0, every plane in it */
	size_t base_len;
	bool moved;

	enum access_state access_state;
	uint32_t access_direction;
	int sync_error; /* of DMA_BUF_IOCTL_SYNC START, reported by begin or end */
	bool acquire_set; /* the open bracket has an acquire fence */
};

struct dmab_client_token {
	struct dmab_client_buffer *buffer;
	struct wl_list link;
	struct dmabroker_token_v1 *proxy;
	bool have_token;
	bool failed;
	struct dmab_client_failure failure;
	char string[64];
};

typedef bool (*dmab_client_done_func)(const void *data);

/*
 * Dispatches the library's queue until done(data) holds. Returns 0, or -EPROTO
 * after a protocol error and -EPIPE after the connection was lost.
 */
DMAB_CLIENT_HIDDEN int client_wait(struct dmab_client *client, dmab_client_done_func done,
	const void *data);
/* Dispatches what the library's queue has read already, for the non-blocking queries. */
DMAB_CLIENT_HIDDEN void client_dispatch_queued(struct dmab_client *client);
/* A wrapper of proxy whose new objects go to the application's default queue. */
DMAB_CLIENT_HIDDEN void *client_app_wrapper(void *proxy);
/* Flushes unless a batch is open: 0, or a negative errno if the connection failed. */
DMAB_CLIENT_HIDDEN int client_flush(struct dmab_client *client);
/* The errno of a display that can no longer dispatch. */
DMAB_CLIENT_HIDDEN int client_display_errno(struct wl_display *display);
/* Records a failed event's reason and message, called from event handlers. */
DMAB_CLIENT_HIDDEN void client_failure_init(struct dmab_client_failure *failure,
	uint32_t reason, const char *message);
/* Makes failure this thread's last failure and returns its negative errno. */
DMAB_CLIENT_HIDDEN int client_report_failure(const struct dmab_client_failure *failure);
/* Received fds must never leak into a child: sets FD_CLOEXEC if it is missing. */
DMAB_CLIENT_HIDDEN void client_fd_ensure_cloexec(int fd);

#endif
