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
	struct wl_global *global;
	struct dmab_core *core;
	struct wl_list clients; /* struct server_client.link */
	struct wl_list objects; /* struct server_object.link */
	struct wl_list reads; /* struct dmab_server_read.link */
};

/* One per wl_client that bound the manager. */
struct server_client {
	struct wl_client *wl_client;
	struct dmab_account *account;
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

/* manager.c */
void server_manager_bind(struct wl_client *wl_client, void *data, uint32_t version,
	uint32_t id);

/* server.c: the per-client state, made on the client's first bind. */
struct server_client *server_client_get(struct dmab_server *server,
	struct wl_client *wl_client);

/*
 * Each makes the new object answering a request on parent. With no core object
 * (NULL handle, token or server), the new object is sent fail if its interface
 * has a failed event, and stays defunct.
 */
void server_buffer_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	struct dmab_account *account, struct dmab_handle *handle, const struct dmab_failure *fail);
void server_attachment_create(struct wl_resource *parent, uint32_t id,
	struct dmab_server *server, struct dmab_buffer *buffer, struct dmab_account *account,
	enum dmab_access access, const struct dmab_constraints *constraints);
void server_token_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	struct dmab_token *token, const struct dmab_failure *fail);
/* Takes the fence reference. */
void server_fence_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	struct dmab_fence *fence);
void server_info_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	const struct dmab_failure *fail);
void server_wl_buffer_create(struct wl_resource *parent, uint32_t id,
	struct dmab_server *server, struct dmab_buffer *buffer);

/* The core buffer behind a dmabroker_buffer_v1, or NULL if it is defunct. */
struct dmab_buffer *server_buffer_from_resource(struct wl_resource *resource);

/* wl_buffer.c: ends the compositor's reads when the server goes away. */
void server_reads_finish(struct dmab_server *server);

#endif
