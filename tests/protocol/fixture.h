/* SPDX-License-Identifier: MIT */
/*
 * The protocol tier's fixture: a libwayland-server display with a dmab_server
 * on a thread of its own, and clients over socketpairs in the same process.
 *
 * Only the server thread touches server objects: everything server-side is
 * posted to it with fixture_run. Client displays belong to the test thread.
 */
#ifndef DMAB_TEST_PROTOCOL_FIXTURE_H
#define DMAB_TEST_PROTOCOL_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-client.h>
#include <wayland-server-core.h>

#include "dmabroker/client.h"
#include "dmabroker/server.h"

struct wl_client;

struct fixture_options {
	struct dmab_quota quota; /* zero fields take the server's defaults */
	struct dmab_uid_quota uid_quota; /* likewise */
	uint32_t max_width, max_height;
	bool linux_dmabuf; /* serve zwp_linux_dmabuf_v1 too */
	uint32_t max_hold_ms; /* 0: the server's default */
};

struct fixture_client {
	struct fixture *fixture;
	struct wl_display *display;
	struct wl_client *server_client; /* server thread only */
	struct dmab_client *client; /* NULL for a raw connection */
	struct fixture_client *next;
	struct wl_listener server_destroy; /* server thread only */
	bool server_gone; /* server thread only */
};

struct fixture;

/* Skips the test if the test allocator is unavailable. options may be NULL. */
struct fixture *fixture_create(const struct fixture_options *options);
/* Disconnects every client left, stops the server thread, destroys the server. */
void fixture_destroy(struct fixture *f);
const char *fixture_allocator_name(const struct fixture *f);
/* The server (NULL once destroyed) and its display: server thread only. */
struct dmab_server *fixture_server(struct fixture *f);
struct wl_display *fixture_server_display(struct fixture *f);

typedef void (*fixture_task_func)(void *data);
/* Runs func(data) on the server thread and returns after it ran. */
void fixture_run(struct fixture *f, fixture_task_func func, void *data);
/*
 * The process's open fd count once the server thread is idle: libwayland-server
 * closes the copies of the fds it sent only after sendmsg, a moment after the
 * client may have received them.
 */
int fixture_count_fds(struct fixture *f);
/* Hands the server end of a connection to the server; takes the fd. */
struct wl_client *fixture_add_client_fd(struct fixture *f, int fd);
/* A connection with a dmab_client bound on it. */
struct fixture_client *fixture_client(struct fixture *f);
/* A connection with nothing bound. */
struct fixture_client *fixture_connect(struct fixture *f);
/* Destroys the dmab_client, disconnects, and waits until the server let go of the client. */
void fixture_client_close(struct fixture_client *c);
/* Destroys the server (its global) while clients stay connected. */
void fixture_destroy_server(struct fixture *f);

#endif
