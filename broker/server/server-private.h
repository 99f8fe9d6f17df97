/* SPDX-License-Identifier: MIT */
/*
 * libdmabroker-server internals: the glue between dmabroker-v1 resources and
 * the core. Each interface lives in its own file; this header is what they
 * share.
 */
#ifndef DMAB_SERVER_PRIVATE_H
#define DMAB_SERVER_PRIVATE_H

#include <stdint.h>
#include <wayland-server-core.h>

#include "core/core.h"
#include "dmabroker/server.h"

struct dmab_server {
	struct dmab_server_events events;
	struct wl_display *display;
	struct wl_listener display_destroy;
	bool display_dying; /* destroy the globals now: no client can bind any more */
	struct wl_event_loop *loop;
	struct wl_global *global;
	struct wl_global *linux_dmabuf; /* NULL unless enabled */
	struct dmab_core *core;
	struct wl_list clients; /* struct server_client.link */
	struct wl_list objects; /* struct server_object.link */
	struct wl_list reads; /* struct dmab_server_read.link */
	struct wl_list fd_watches; /* fd_fence.c */
	struct wl_event_source *timer; /* the core's: preempts brackets held too long */
	struct wl_list fence_charges; /* fence.c */
	struct dmab_account *own_account; /* the compositor's own buffers', made on demand */
	struct wl_list own_buffers; /* struct dmab_server_own_buffer.link */
	dmab_server_policy_func policy;
	void *policy_data;
};

/* One per wl_client that bound the manager or linux-dmabuf. */
struct server_client {
	struct dmab_server *server;
	struct wl_client *wl_client;
	struct dmab_account *account;
	bool may_introspect, may_import_tokens; /* the policy's */
	struct wl_listener destroy;
	struct wl_list link;
};

struct server_object;
typedef void (*server_object_release_func)(struct server_object *object);

/*
 * The state behind one resource, embedded in each interface's own struct. The
 * server links every one so that dmab_server_destroy can make the resources
 * inert and free their core objects while the clients live on.
 */
struct server_object {
	struct dmab_server *server;
	struct wl_resource *resource; /* NULL once inert: send nothing */
	struct wl_list link; /* struct dmab_server.objects */
	/* Frees the core objects and the state; the resource destroy handler calls it too. */
	server_object_release_func release;
};

void server_object_init(struct server_object *object, struct dmab_server *server,
	struct wl_resource *resource, server_object_release_func release);
/* Unlinks the object and leaves its resource (if any) inert. */
void server_object_finish(struct server_object *object);

/*
 * Creates the new_id resource of a request on parent, for the same client and
 * version, inert (NULL user_data) until the caller sets its state. Posts
 * no_memory and returns NULL on failure.
 */
struct wl_resource *server_resource_create(struct wl_resource *parent,
	const struct wl_interface *interface, const void *implementation,
	wl_resource_destroy_func_t destroy, uint32_t id);

/* The interfaces whose errors a dmab_misuse maps to. */
enum server_iface {
	SERVER_IFACE_MANAGER,
	SERVER_IFACE_BUFFER,
	SERVER_IFACE_ATTACHMENT,
	SERVER_IFACE_COUNT,
};

/* Posts the protocol error of iface that report->misuse stands for, with the core's message. */
void server_post_misuse(struct wl_resource *resource, enum server_iface iface,
	const struct dmab_misuse_report *report);

/* The failure a new_id child of an inert object reports. */
extern const struct dmab_failure server_defunct_failure;
/* What a failure the core did not describe defaults to. */
extern const struct dmab_failure server_nomem_failure;

/*
 * Emits quota_hit if fail has the quota_exceeded reason; server may be NULL
 * (a defunct parent's failure).
 */
void server_note_failure(struct dmab_server *server, struct wl_client *client,
	const struct dmab_failure *fail);

/*
 * The bind of a global whose server is gone (dmab_server_destroy removed it):
 * a resource with NULL user data, which every handler takes as defunct.
 */
void server_bind_inert(struct wl_client *wl_client, const struct wl_interface *interface,
	const void *implementation, wl_resource_destroy_func_t destroy, uint32_t version,
	uint32_t id);

/* server.c: what dmab_server_last_error() gives. */
void server_set_last_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* wl_buffer.c: the errno of a failed reason, as libdmabroker-client gives them. */
int server_reason_errno(uint32_t reason);

/* manager.c */
void server_manager_bind(struct wl_client *wl_client, void *data, uint32_t version,
	uint32_t id);

/*
 * server.c: the per-client state, made on the client's first bind. NULL after
 * posting an error to the client: no_memory, or an implementation error that
 * names the per-uid connection limit (dmab_core_admit).
 */
struct server_client *server_client_get(struct dmab_server *server,
	struct wl_client *wl_client);
/* The per-client state if the client has bound a global of the server, else NULL. */
struct server_client *server_client_find(struct dmab_server *server,
	struct wl_client *wl_client);

/*
 * Each makes the new object answering a request on parent. With no core object
 * (NULL handle, token or server), the new object is sent fail if its interface
 * has a failed event, and stays defunct.
 */
void server_buffer_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	struct dmab_account *account, struct dmab_handle *handle, const struct dmab_failure *fail);
void server_attachment_create(struct wl_resource *parent, uint32_t id,
	struct dmab_server *server, struct dmab_handle *handle, struct dmab_account *account,
	enum dmab_access access, const struct dmab_constraints *constraints);
void server_token_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	struct dmab_token *token, const struct dmab_failure *fail);
/*
 * Takes the fence reference, and fd if not -1: the fd to send (a sync_file),
 * else an eventfd of the fence. A fence that has signaled already needs no
 * server: the object sends its fd and signaled at once and stays inert.
 */
void server_fence_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	struct dmab_fence *fence, int fd);
/* Drops the fd charges of exported fences that have not signaled. */
void server_fence_charges_finish(struct dmab_server *server);
void server_info_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	const struct dmab_failure *fail);
/* The wl_buffer takes a reference of handle's lineage: revoking cuts it off too. */
void server_wl_buffer_create(struct wl_resource *parent, uint32_t id,
	struct dmab_server *server, struct dmab_handle *handle);

/* The core reference behind a dmabroker_buffer_v1, or NULL if it is defunct. */
struct dmab_handle *server_handle_from_resource(struct wl_resource *resource);

/*
 * wl_buffer.c: a compositor bracket on the buffer of handle, read or write
 * (the compositor's own buffers only: the write mapping is the broker's).
 */
struct dmab_server_read *server_access_begin(struct dmab_server *server,
	struct dmab_handle *handle, bool write, const struct dmab_server_read_listener *listener,
	void *data);
/* own_buffer.c: the compositor's buffers and tokens must be gone before the server. */
void server_own_buffers_finish(struct dmab_server *server);

/* The layout of the dmab_pixels of a read, without its pixels. */
void server_layout_to_pixels(const struct dmab_layout *layout, struct dmab_pixels *pixels);

/* wl_buffer.c: ends the compositor's reads when the server goes away. */
void server_reads_finish(struct dmab_server *server);
/*
 * A wl_buffer like get_wl_buffer's, for linux-dmabuf: takes the handle, which
 * charges the buffer to its client's quota while the wl_buffer lives. With id
 * 0 the server allocates the id (for the created event). NULL after posting
 * no_memory.
 */
struct wl_resource *server_wl_buffer_create_from_handle(struct wl_client *client, uint32_t id,
	struct dmab_server *server, struct dmab_handle *handle);

/* linux_dmabuf.c */
bool server_linux_dmabuf_init(struct dmab_server *server);

/* fd_fence.c: broker fences that an fd signals. */
enum server_fence_fd_kind {
	SERVER_FENCE_FD_INVALID,
	SERVER_FENCE_FD_SYNC_FILE,
	SERVER_FENCE_FD_EVENTFD,
};

enum server_fence_fd_kind server_fence_fd_kind(int fd);
/*
 * Signals fence once fd polls ready for mask (WL_EVENT_READABLE or _WRITABLE),
 * at once if it is ready now. The caller keeps fd. owner is the client that
 * alone can make fd ready (an eventfd it sent): its disconnection signals the
 * fence. False on allocation failure, or if the watch's fd would fall in the
 * fd headroom (dmab_fd_check_headroom), with the fence untouched.
 */
bool server_fd_fence_watch(struct dmab_server *server, int fd, uint32_t mask,
	struct wl_client *owner, struct dmab_fence *fence);
void server_fd_fences_release_client(struct dmab_server *server, struct wl_client *client);
/* Signals every fence still watched: nothing polls after the server is gone. */
void server_fd_fences_finish(struct dmab_server *server);
/*
 * A new fence that signals once the dma-buf storage's implicit fences that a
 * reader (write true) or a writer (write false) waits for have signaled; one
 * that has signaled for other storage. NULL on allocation failure.
 */
struct dmab_fence *server_implicit_fence(struct dmab_server *server,
	struct dmab_buffer *buffer, bool write);
/* Logs through the handler of dmab_server_set_log_handler. */
void server_log(enum dmab_server_log_importance importance, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Logs at INFO once per message: for kernel features that are missing. */
void server_log_once(bool *logged, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
