/* SPDX-License-Identifier: MIT */
/*
 * libdmabroker-client: the client side of dmabroker-v1.
 *
 * The library's objects live on an event queue of its own (wl_event_queue,
 * with proxy wrappers, as Mesa's WSI does). Blocking calls (create, import,
 * share, map, begin) dispatch that queue alone until their answer arrives:
 * they never dispatch the application's default queue, whose events wait for
 * the application's own dispatch. The non-blocking queries (is_ready, moved)
 * dispatch what the library's queue has read already, so an application that
 * reads the display in its own loop sees them change. Every fd the library
 * receives is close-on-exec. On a real
 * dma-buf, begin and end also issue DMA_BUF_IOCTL_SYNC, restarting on EINTR
 * and EAGAIN.
 *
 * Functions returning int return 0 or a negative errno. A failed event from
 * the broker gives -EDQUOT (quota), -ENOENT (unknown token), -EACCES (revoked
 * token, permission denied), -ENOMEM (allocation), -EINVAL (unsatisfiable),
 * -ENODEV (defunct), -ETIMEDOUT (preempted: a bracket kept the buffer's
 * creator waiting too long), and dmab_client_last_failure() gives its reason and
 * message. A protocol error or a lost connection gives -EPROTO or -EPIPE.
 */
#ifndef DMABROKER_CLIENT_H
#define DMABROKER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dmabroker-v1-client-protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

struct wl_display;
struct wl_buffer;

struct dmab_client;
struct dmab_client_buffer;
struct dmab_client_attachment;
struct dmab_client_token;

struct dmab_client_limits {
	uint32_t max_width, max_height;
	uint64_t max_bytes;
	uint32_t max_buffers, max_attachments, max_tokens;
};

struct dmab_client_failure {
	uint32_t reason; /* enum dmabroker_manager_v1_reason */
	char message[160];
};

/* The last failed event seen by this thread's calls. */
const struct dmab_client_failure *dmab_client_last_failure(void);

/* Connects to socket_name (NULL: $WAYLAND_DISPLAY) and binds the broker. */
struct dmab_client *dmab_client_connect(const char *socket_name);
/* Binds the broker on a display the caller owns. */
struct dmab_client *dmab_client_create(struct wl_display *display);
/* Destroys every object the library made; disconnects if it connected. NULL is a no-op. */
void dmab_client_destroy(struct dmab_client *client);
struct wl_display *dmab_client_get_display(struct dmab_client *client);
/*
 * A wrapper of the library's manager on the default queue: objects made
 * through it are the application's, on its queue. No listener can be added.
 */
struct dmabroker_manager_v1 *dmab_client_get_manager(struct dmab_client *client);
const uint32_t *dmab_client_get_formats(struct dmab_client *client, size_t *len);
void dmab_client_get_limits(struct dmab_client *client, struct dmab_client_limits *limits);
/*
 * For programs without an event loop of their own: both dispatch the library's
 * queue and the default queue, once (blocking until events arrive, unless the
 * library's queue has some) / until the server answered what was sent.
 */
int dmab_client_dispatch(struct dmab_client *client);
int dmab_client_roundtrip(struct dmab_client *client);
/* Dispatches the events the library's queue has read already, without blocking. */
int dmab_client_dispatch_pending(struct dmab_client *client);
/*
 * Batching. begin_async, end and set_acquire_fence each flush the connection
 * (one sendmsg) on their own. Between batch_begin and batch_end they only
 * queue their requests, and batch_end flushes once, so a frame's end_access,
 * the surface commit and the next buffer's begin_access can go out in a
 * single sendmsg. Batches nest; the outermost end flushes. A blocking call
 * inside a batch (begin, map) still sends what is queued, as it must to get
 * its answer. batch_end returns 0, -EINVAL without a batch_begin, or a
 * negative errno if the connection failed.
 */
void dmab_client_batch_begin(struct dmab_client *client);
int dmab_client_batch_end(struct dmab_client *client);

/* The formats of the broker have up to three planes (I420). */
#define DMAB_CLIENT_MAX_PLANES 3

/* One plane in the storage; every plane of a buffer lies in the same fd. */
struct dmab_client_plane {
	uint32_t offset; /**< of the plane's first row, from the start of the fd */
	uint32_t stride; /**< bytes from one row of the plane to the next */
	uint32_t size; /**< stride times the plane's rows */
};

struct dmab_client_layout {
	uint32_t width, height, format;
	uint32_t stride; /**< of plane 0 */
	uint64_t size;
	uint32_t access; /* enum dmabroker_buffer_v1_access */
	uint32_t n_planes;
	struct dmab_client_plane planes[DMAB_CLIENT_MAX_PLANES];
};

/* Each waits for the info or failed event. NULL with errno set on failure. */
struct dmab_client_buffer *dmab_client_buffer_create(struct dmab_client *client,
	uint32_t width, uint32_t height, uint32_t format, uint32_t usage, const char *name);
struct dmab_client_buffer *dmab_client_buffer_import(struct dmab_client *client,
	const char *token);
/* The library duplicates fd; the caller keeps its own. A single-plane format. */
struct dmab_client_buffer *dmab_client_buffer_import_fd(struct dmab_client *client, int fd,
	uint32_t format, uint32_t width, uint32_t height, uint32_t offset, uint32_t stride,
	uint32_t flags);
/*
 * Any format: n_planes offsets and strides, every plane in fd
 * (import_planar_dmabuf). n_planes may differ from the format's: the broker
 * raises the invalid_planes error then.
 */
struct dmab_client_buffer *dmab_client_buffer_import_planar_fd(struct dmab_client *client,
	int fd, uint32_t format, uint32_t width, uint32_t height, uint32_t n_planes,
	const uint32_t *offsets, const uint32_t *strides, uint32_t flags);
/* Destroys the buffer's attachments, tokens and wl_buffer too. NULL is a no-op. */
void dmab_client_buffer_destroy(struct dmab_client_buffer *buffer);
void dmab_client_buffer_get_layout(struct dmab_client_buffer *buffer,
	struct dmab_client_layout *layout);
/* A wrapper on the default queue, like dmab_client_get_manager's. */
struct dmabroker_buffer_v1 *dmab_client_buffer_get_proxy(struct dmab_client_buffer *buffer);
/*
 * Made on first use, on the default queue (its release events are the
 * application's), destroyed with the buffer.
 */
struct wl_buffer *dmab_client_buffer_get_wl_buffer(struct dmab_client_buffer *buffer);
/*
 * Waits for the fence object's fd: a socket or a sync_file that is readable
 * once the fence signaled. The caller owns the fd. Returns it or a negative errno.
 */
int dmab_client_buffer_get_fence_fd(struct dmab_client_buffer *buffer, bool write);

/* Waits for the token. NULL with errno set on failure. */
struct dmab_client_token *dmab_client_token_create(struct dmab_client_buffer *buffer,
	uint32_t access);
const char *dmab_client_token_get_string(const struct dmab_client_token *token);
/*
 * Withdraws the token and ends every access it granted: the importers'
 * attachments fail with the revoked_token reason. Frees the token. NULL is a
 * no-op.
 */
void dmab_client_token_revoke(struct dmab_client_token *token);
/*
 * Withdraws the token but leaves the access it granted; what
 * dmab_client_buffer_destroy does to the buffer's tokens. NULL is a no-op.
 */
void dmab_client_token_destroy(struct dmab_client_token *token);

struct dmab_client_constraints {
	uint32_t flags; /* enum dmabroker_buffer_v1_constraint_flags */
	uint32_t row_alignment;
	uint32_t max_planes; /* 0 is taken as 1 */
};

/* constraints may be NULL. Sends attach; a failed event shows at map. */
struct dmab_client_attachment *dmab_client_attachment_create(
	struct dmab_client_buffer *buffer, uint32_t access,
	const struct dmab_client_constraints *constraints);
/* Unmaps and ends an open bracket first. NULL is a no-op. */
void dmab_client_attachment_destroy(struct dmab_client_attachment *att);

/* Sends map, waits for mapped (or failed) and mmaps the fd once, with every plane. */
int dmab_client_attachment_map(struct dmab_client_attachment *att, uint32_t direction);
/* munmaps and sends unmap. */
int dmab_client_attachment_unmap(struct dmab_client_attachment *att);
/* Valid while mapped; NULL otherwise. The first row of plane 0. */
void *dmab_client_attachment_get_data(struct dmab_client_attachment *att);
uint32_t dmab_client_attachment_get_stride(struct dmab_client_attachment *att);
/* The planes of the mapping; 0 while not mapped. */
uint32_t dmab_client_attachment_get_n_planes(struct dmab_client_attachment *att);
/*
 * The first row of plane index, valid while mapped, and its layout in *plane
 * (may be NULL); NULL while not mapped or beyond the planes.
 */
void *dmab_client_attachment_get_plane(struct dmab_client_attachment *att, uint32_t index,
	struct dmab_client_plane *plane);
uint32_t dmab_client_attachment_get_map_flags(struct dmab_client_attachment *att);
int dmab_client_attachment_get_fd(struct dmab_client_attachment *att); /* owned by the library */
/* A moved event arrived: end access, then remap (unmap + map). */
bool dmab_client_attachment_moved(struct dmab_client_attachment *att);
int dmab_client_attachment_remap(struct dmab_client_attachment *att);

/* Sends begin_access and waits for ready, then DMA_BUF_IOCTL_SYNC START on a dma-buf. */
int dmab_client_attachment_begin(struct dmab_client_attachment *att, uint32_t direction);
/* Sends begin_access without waiting; poll is_ready after dispatching. */
int dmab_client_attachment_begin_async(struct dmab_client_attachment *att, uint32_t direction);
bool dmab_client_attachment_is_ready(struct dmab_client_attachment *att);
/*
 * After begin_async: waits for ready (or failed), then DMA_BUF_IOCTL_SYNC START
 * on a dma-buf, as begin does. -EINVAL if no begin is open.
 */
int dmab_client_attachment_wait_ready(struct dmab_client_attachment *att);
/* DMA_BUF_IOCTL_SYNC END on a dma-buf, then end_access. */
int dmab_client_attachment_end(struct dmab_client_attachment *att);
/*
 * Hands the broker the fence of device work that finishes the open WRITE
 * bracket's writes (a sync_file, or an eventfd that becomes readable when the
 * work is done): after end, readers and the compositor wait for it too. Call
 * it once per bracket, between begin and end. The caller keeps fd. -EINVAL
 * without a ready WRITE bracket, -EBUSY if the bracket has one already,
 * -EBADF for a negative fd.
 */
int dmab_client_attachment_set_acquire_fence(struct dmab_client_attachment *att, int fd);

/* DMA_BUF_IOCTL_SYNC on fd, restarting on EINTR/EAGAIN. 0 or a negative errno. */
int dmab_client_dmabuf_sync(int fd, bool start, uint32_t direction);

#ifdef __cplusplus
}
#endif

#endif
