/* SPDX-License-Identifier: MIT */
/*
 * libdmabroker-server: embed the dmabroker-v1 broker in a Wayland compositor.
 *
 * An integrator creates one dmab_server per wl_display. The server exposes the
 * dmabroker_manager_v1 global and owns every buffer, attachment, token and
 * fence. The compositor reads the wl_buffers made by get_wl_buffer through the
 * read API below, which brackets every read like any other importer.
 */
#ifndef DMABROKER_SERVER_H
#define DMABROKER_SERVER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-server-core.h>

#ifdef __cplusplus
extern "C" {
#endif


/* Zero fields take the defaults, DMAB_QUOTA_DEFAULT_*. */
struct dmab_quota {
	uint64_t max_bytes;
	uint32_t max_buffers;
	uint32_t max_attachments;
	uint32_t max_tokens;
};

#define DMAB_QUOTA_DEFAULT_BYTES (512ull << 20)
#define DMAB_QUOTA_DEFAULT_BUFFERS 128u
#define DMAB_QUOTA_DEFAULT_ATTACHMENTS 512u
#define DMAB_QUOTA_DEFAULT_TOKENS 128u

#define DMAB_DEFAULT_MAX_DIMENSION 16384u
/* How long another client's bracket may keep a buffer's creator waiting to write. */
#define DMAB_DEFAULT_MAX_HOLD_MS 500u

/*
 * Limits per peer uid (SO_PEERCRED), summed over all the connections of that
 * uid that bound the broker's globals, on top of each connection's quota.
 * Zero fields take the defaults: for bytes and buffers, 4 and 8 times the
 * per-connection quota (DMAB_UID_QUOTA_DEFAULT_BYTES and _BUFFERS with the
 * default quota), else DMAB_UID_QUOTA_DEFAULT_*.
 *
 * A client that binds dmabroker_manager_v1 (or the broker's
 * zwp_linux_dmabuf_v1) while its uid has max_connections connections gets an
 * implementation error that names the limit, and is disconnected. Over the
 * byte, buffer or fd limit, a request fails like one over the connection's
 * quota: a failed event with the quota_exceeded reason. fds count what the
 * broker holds on the uid's behalf: one per buffer it owns (the storage), and
 * two per exported fence that has not signaled (its eventfd's duplicate and
 * a poll watch); get_fence over the fd limit is an implementation error, as
 * dmabroker_fence_v1 has no failed event.
 *
 * Separately from these, the broker keeps an fd headroom below RLIMIT_NOFILE
 * (an eighth of the soft limit, 32 to 4096 fds): storage, imports and maps
 * that would need an fd in it fail with alloc_failed ("Too many open files"),
 * so that a new client can still connect. A compositor should raise its soft
 * RLIMIT_NOFILE to the hard limit, as dmabrokerd does.
 */
struct dmab_uid_quota {
	uint64_t max_bytes;
	uint32_t max_buffers;
	uint32_t max_connections;
	uint32_t max_fds;
};

#define DMAB_UID_QUOTA_DEFAULT_BYTES (2048ull << 20)
#define DMAB_UID_QUOTA_DEFAULT_BUFFERS 1024u
#define DMAB_UID_QUOTA_DEFAULT_CONNECTIONS 256u
#define DMAB_UID_QUOTA_DEFAULT_FDS 2048u

struct dmab_server_options {
	/* "auto" (or NULL), "memfd", "udmabuf", "dma-heap[:NAME]", "drm-dumb[:/dev/dri/cardN]" */
	const char *allocator;
	struct dmab_quota quota; /* per connection */
	struct dmab_uid_quota uid_quota; /* per peer uid, over its connections */
	uint32_t max_width, max_height; /* 0: DMAB_DEFAULT_MAX_DIMENSION */
	/*
	 * When a buffer's creator has waited this long to write, the brackets of
	 * other clients that hold it back are preempted: their attachments fail
	 * with the preempted reason. 0: DMAB_DEFAULT_MAX_HOLD_MS.
	 */
	uint32_t max_hold_ms;
	/* Also serve zwp_linux_dmabuf_v1: see dmab_server_enable_linux_dmabuf. */
	bool linux_dmabuf;
};

struct dmab_server;

/*
 * Creates the server and its global on the display. Returns NULL with errno
 * set if the chosen allocator is unavailable (ENODEV), if the display has a
 * server already (EBUSY), or on allocation failure; dmab_server_last_error()
 * then names the reason. The server is destroyed with the display if it is
 * still alive then (wl_display_destroy).
 */
struct dmab_server *dmab_server_create(struct wl_display *display,
	const struct dmab_server_options *options);
/*
 * Emits destroy, then removes the globals: a client that binds one it was
 * told of gets inert objects (whose requests fail with the defunct reason),
 * not a protocol error; the globals are destroyed 5 s later or with the
 * display. Every client's objects become inert. NULL is a no-op.
 */
void dmab_server_destroy(struct dmab_server *server);
const char *dmab_server_last_error(void);
/* The allocator in use, e.g. "memfd". */
const char *dmab_server_allocator_name(const struct dmab_server *server);
/*
 * Serves zwp_linux_dmabuf_v1 version 3: single-plane dma-bufs (and sealed
 * memfds) in the broker's formats, with the linear or the implicit modifier,
 * become wl_buffers like those of get_wl_buffer, charged to the client's
 * quota and read through the API below. For a compositor whose renderer
 * cannot import dma-bufs itself (wlroots' pixman renderer); one that can has a
 * linux-dmabuf global of its own. Idempotent. False with errno set on failure,
 * dmab_server_last_error() names the reason.
 */
bool dmab_server_enable_linux_dmabuf(struct dmab_server *server);

/* The values of wlroots' enum wlr_log_importance, so that a handler can pass them on. */
enum dmab_server_log_importance {
	DMAB_SERVER_LOG_ERROR = 1,
	DMAB_SERVER_LOG_INFO = 2,
	DMAB_SERVER_LOG_DEBUG = 3,
};

typedef void (*dmab_server_log_func)(enum dmab_server_log_importance importance,
	const char *fmt, va_list args);

/*
 * Where the library's messages go, for every server of the process, like
 * wlr_log_init: a client refused over the per-uid connection limit (INFO), a
 * kernel feature that is missing (INFO, once per process). Messages have no
 * trailing newline. NULL restores the default, which writes ERROR and INFO
 * messages to stderr after "libdmabroker-server: ". Set it before creating a
 * server, from one thread.
 */
void dmab_server_set_log_handler(dmab_server_log_func func);

/*
 * Per-client policy. The policy function runs once per client, when it binds
 * a broker global for the first time (before new_client), with policy filled
 * with the defaults, which it may change:
 *  - quota: the server's per-connection quota (dmab_server_options.quota,
 *    defaults applied). The client's limits event carries it. Zero fields
 *    take the server's. A single buffer stays bounded by the server's
 *    max_bytes whatever the client's quota; the per-uid limits apply on top.
 *  - may_introspect: whether get_info gives a dmabroker_info_v1 rather than
 *    one that fails with permission_denied; by default, if the client's uid
 *    is the compositor's effective uid.
 *  - may_import_tokens: whether import_buffer may import a token; if not, the
 *    buffer fails with permission_denied. True by default.
 * wl_client_get_credentials gives the client's pid, uid and gid.
 */
struct dmab_server_client_policy {
	struct dmab_quota quota;
	bool may_introspect;
	bool may_import_tokens;
};

typedef void (*dmab_server_policy_func)(struct wl_client *client,
	struct dmab_server_client_policy *policy, void *data);

/* Sets (or, with NULL, clears) the policy function, for the clients that bind from now on. */
void dmab_server_set_policy(struct dmab_server *server, dmab_server_policy_func func,
	void *data);

/*
 * Lifecycle signals, the wlroots way: wl_signal_add a listener, and remove it
 * (wl_list_remove(&listener.link)) at the latest from the destroy signal's
 * handler. dmab_server_destroy aborts (assert) if a listener is left.
 *
 * The resources in the events are the client's protocol objects, valid during
 * the emission only. The *_remove/_destroy/_revoke signals also fire when the
 * client disconnects; none fires for the objects that dmab_server_destroy makes
 * inert.
 *
 * The compositor's own buffers and their tokens (dmab_server_own_buffer_*,
 * below) emit buffer_create, buffer_destroy, token_share and token_revoke as
 * well, from within the call that makes, destroys, shares or revokes them
 * (also from a destroy handler). Their events say they are the compositor's:
 * client and resource are NULL, and own_buffer (and for a token, own_token)
 * is set; for a client's objects those two are NULL. A client that imports
 * the compositor's token gets a dmabroker_buffer_v1 of its own, whose
 * buffer_create names that client. Brackets on own buffers emit no
 * attachment signal, and an own buffer refused over a quota no quota_hit:
 * the call fails with EDQUOT instead.
 */
struct dmab_server_own_buffer;
struct dmab_server_token;

struct dmab_server_buffer_event {
	struct wl_client *client; /**< NULL for the compositor's own buffer */
	struct wl_resource *resource; /**< the dmabroker_buffer_v1; NULL for an own buffer */
	uint32_t width, height, format; /**< format: DRM fourcc */
	struct dmab_server_own_buffer *own_buffer; /**< the compositor's own buffer, or NULL */
};

struct dmab_server_attachment_event {
	struct wl_client *client;
	struct wl_resource *resource; /**< the dmabroker_attachment_v1 */
	uint32_t access; /**< dmabroker_buffer_v1.access */
};

struct dmab_server_token_event {
	struct wl_client *client; /**< NULL for a token of the compositor's own buffer */
	struct wl_resource *resource; /**< the dmabroker_token_v1; NULL for an own token */
	struct dmab_server_own_buffer *own_buffer; /**< the own buffer it shares, or NULL */
	struct dmab_server_token *own_token; /**< dmab_server_own_buffer_share's, or NULL */
};

struct dmab_server_quota_event {
	struct wl_client *client;
	const char *message; /**< the failed event's, e.g. "128 buffers ... quota" */
};

struct dmab_server_events {
	/** The server is being destroyed: data is the struct dmab_server. */
	struct wl_signal destroy;
	/** A client bound a broker global for the first time: data is its wl_client. */
	struct wl_signal new_client;
	/**
	 * A dmabroker_buffer_v1 got a buffer (created, or imported by token or fd),
	 * or the compositor made an own buffer.
	 */
	struct wl_signal buffer_create; /**< struct dmab_server_buffer_event */
	/** Such a dmabroker_buffer_v1, or an own buffer, is destroyed. */
	struct wl_signal buffer_destroy; /**< struct dmab_server_buffer_event */
	/** An attachment was added to a buffer; not for one that failed at once. */
	struct wl_signal attachment_add; /**< struct dmab_server_attachment_event */
	struct wl_signal attachment_remove; /**< struct dmab_server_attachment_event */
	/** A token was handed out, by a client or by dmab_server_own_buffer_share. */
	struct wl_signal token_share; /**< struct dmab_server_token_event */
	/**
	 * A client, or the compositor (dmab_server_token_revoke), revoked a token
	 * (not: destroyed it, which only withdraws it).
	 */
	struct wl_signal token_revoke; /**< struct dmab_server_token_event */
	/** A request failed with the quota_exceeded reason (per connection or per uid). */
	struct wl_signal quota_hit; /**< struct dmab_server_quota_event */
};

/** The server's signals, valid until its destroy signal has been emitted. */
struct dmab_server_events *dmab_server_get_events(struct dmab_server *server);

/*
 * Compositor-side reads of the wl_buffers that get_wl_buffer makes.
 *
 * A read is a READ bracket held by the compositor: begin it when a frame is
 * committed, and end it when the frame is replaced on screen (then send
 * wl_buffer.release). While it is held, writers of the buffer wait; while a
 * writer is inside its bracket, the read is not ready and the previous frame
 * must stay on screen.
 */
struct dmab_server_buffer;
struct dmab_server_read;

struct dmab_pixels {
	const void *data; /* the first row of plane 0; NULL until the read is ready */
	uint32_t width, height;
	uint32_t format; /* DRM fourcc */
	uint32_t stride; /* of plane 0 */
	/* Every plane of a multi-planar format (NV12, YUV420, ...); plane 0 is data. */
	uint32_t n_planes;
	struct {
		const void *data; /* NULL until the read is ready */
		uint32_t stride;
	} planes[3];
};

/* True if the resource is a wl_buffer made by get_wl_buffer (inert or not). */
bool dmab_server_is_wl_buffer(struct wl_resource *resource);
/* NULL if the resource is not ours or is inert. */
struct dmab_server_buffer *dmab_server_buffer_from_wl_buffer(struct wl_resource *resource);
void dmab_server_buffer_get_layout(struct dmab_server_buffer *buffer,
	struct dmab_pixels *layout);

struct dmab_server_read_listener {
	/*
	 * The buffer's write fence has signaled (after the writer's acquire fence,
	 * if it set one) and, on a dma-buf, the kernel's implicit write fences have
	 * too (poll POLLIN): the pixels can be read. Runs once, from the event
	 * loop, never inside dmab_server_read_begin: a read that is ready when
	 * begin returns (dmab_server_read_is_ready) hears of it from an idle
	 * source, and the compositor may use it at once. The event loop never
	 * blocks for it.
	 */
	void (*ready)(struct dmab_server_read *read, void *data);
	/*
	 * The read failed after it began, ready or not: the token the client
	 * imported the buffer with was revoked (EACCES), the buffer's creator
	 * preempted it (ETIMEDOUT), or the storage could not be mapped (ENOMEM).
	 * The pixels are no longer valid and must not be shown; the read stays
	 * until dmab_server_read_end, which the callback may call. Optional.
	 */
	void (*failed)(struct dmab_server_read *read, int error, const char *message, void *data);
};

/*
 * Begins a compositor read. The read keeps the buffer's storage alive even if
 * the client destroys the wl_buffer. Returns NULL with errno set on failure.
 */
struct dmab_server_read *dmab_server_read_begin(struct dmab_server_buffer *buffer,
	const struct dmab_server_read_listener *listener, void *data);
/* True once the pixels can be read (possibly before ready ran); false after a failure. */
bool dmab_server_read_is_ready(const struct dmab_server_read *read);
/* The errno of the failure that ended the read, or 0. */
int dmab_server_read_get_error(const struct dmab_server_read *read);
/* Valid between ready and end; data is mapped read-only. */
void dmab_server_read_get_pixels(const struct dmab_server_read *read, struct dmab_pixels *pixels);
/*
 * The dma-buf behind a read, for a GPU renderer that imports it as a texture
 * without a CPU copy (EGL_EXT_image_dma_buf_import, VK_EXT_external_memory_dma_buf):
 * every plane of the format in one fd, the LINEAR modifier (DRM_FORMAT_MOD_LINEAR, 0).
 */
struct dmab_dmabuf_attributes {
	int fd; /**< the broker's, valid until the read ends: dup it to keep it, never close it */
	uint32_t width, height;
	uint32_t format; /**< DRM fourcc */
	uint64_t modifier; /**< DRM_FORMAT_MOD_LINEAR */
	uint32_t n_planes; /**< 1, 2 (NV12, NV21, P010) or 3 (YUV420); one fd for all */
	uint32_t offset[4], stride[4];
};

/*
 * Fills attribs and returns true between ready and end if the buffer's
 * storage is a dma-buf (udmabuf, dma-heap, drm-dumb, or an imported one);
 * false for memfd storage (use the pixels then), before ready and after a
 * failure. The storage does not change while the read is held.
 *
 * Fences: at ready, the broker's write fence and the dma-buf's implicit write
 * fences have signaled, and no writer can begin until the read ends. A GPU
 * import needs no further fence: the renderer's own sampling adds implicit
 * read fences to the dma-buf, which the next writer waits for (a
 * libdmabroker-client writer's begin issues DMA_BUF_IOCTL_SYNC, which waits
 * for them; a writer with device work waits through implicit sync). End the
 * read only once the frame is no longer sampled.
 */
bool dmab_server_read_get_dmabuf(const struct dmab_server_read *read,
	struct dmab_dmabuf_attributes *attribs);
/* Ends the bracket (or cancels the wait) and signals the read fence. NULL is a no-op. */
void dmab_server_read_end(struct dmab_server_read *read);

/*
 * The compositor's own broker buffers (screencopy targets, buffers to hand to
 * clients). They go through the same core as the clients': charged to an
 * account of the compositor's process (its pid and effective uid: the
 * per-connection quota, and the per-uid limits of that uid), listed by
 * introspection with the compositor's pid, shared with clients by token.
 * Destroy them, and their tokens, before the server: at the latest in the
 * handler of its destroy signal (dmab_server_destroy asserts it). They emit
 * the server's buffer and token signals, marked as the compositor's (above).
 */

/*
 * NULL with errno set: EINVAL for a format or size the broker refuses, EDQUOT
 * over the quota, ENOMEM; dmab_server_last_error() names the reason. name is
 * shown by introspection; NULL is "".
 */
struct dmab_server_own_buffer *dmab_server_own_buffer_create(struct dmab_server *server,
	uint32_t width, uint32_t height, uint32_t format, const char *name);
/* Destroys (withdraws) its tokens too. NULL is a no-op. */
void dmab_server_own_buffer_destroy(struct dmab_server_own_buffer *buffer);
void dmab_server_own_buffer_get_layout(struct dmab_server_own_buffer *buffer,
	struct dmab_pixels *layout);
/*
 * A token a client imports with dmabroker_manager_v1.import_buffer, with read
 * or read-write access. NULL with errno set (EDQUOT over the token quota).
 */
struct dmab_server_token *dmab_server_own_buffer_share(struct dmab_server_own_buffer *buffer,
	bool read_write);
const char *dmab_server_token_get_string(const struct dmab_server_token *token);
/* Revokes the token, ending the access of the clients that imported it, and frees it. */
void dmab_server_token_revoke(struct dmab_server_token *token);
/* Withdraws the token (no more imports; imports made stay) and frees it. */
void dmab_server_token_destroy(struct dmab_server_token *token);
/*
 * A bracket on the compositor's own buffer, like dmab_server_read_begin: a
 * read, or with write a write, which waits for the other brackets and the
 * kernel's implicit fences (readers' and writers') and holds writers and
 * readers back until it ends. End it with dmab_server_read_end, which
 * signals the write fence: the clients' readers see the frame then.
 */
struct dmab_server_read *dmab_server_own_buffer_begin(struct dmab_server_own_buffer *buffer,
	bool write, const struct dmab_server_read_listener *listener, void *data);
/* The first row, writable, of a write bracket between ready and end; else NULL. */
void *dmab_server_read_get_writable_data(const struct dmab_server_read *read);

#ifdef __cplusplus
}
#endif

#endif
