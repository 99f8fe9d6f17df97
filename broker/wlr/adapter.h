/* SPDX-License-Identifier: MIT */
/*
 * Internals of libdmabroker-wlr, shared by buffer.c (the wlr_buffer of a broker
 * wl_buffer and its compositor read), commit.c (holding back commits whose
 * buffer is inside a WRITE bracket) and the generation's commit-hook.c (seeing
 * a client's commit before wlroots applies it).
 */
#ifndef DMAB_WLR_ADAPTER_H
#define DMAB_WLR_ADAPTER_H

#include <stdbool.h>
#include <sys/types.h>
#include <wayland-server-core.h>
#include <wlr/types/wlr_buffer.h>

struct wlr_compositor;
#include "yuv.h"

struct wlr_surface;
struct dmab_server_buffer;
struct dmab_server_read;
struct adapter_commit_hook;

struct dmab_wlr_adapter {
	struct wl_display *display;
	struct adapter_commit_hook *commit_hook; /* the generation's commit-hook.c */
	struct wl_list buffers; /* dmab_wlr_buffer.link */
	/* Sees the requests that name a broker wl_buffer (buffer.c). */
	struct wl_protocol_logger *logger;
	const struct wl_message *surface_attach; /* in wl_surface_interface.methods */
	/* Also finds a display's adapter (wl_display_get_destroy_listener). */
	struct wl_listener display_destroy;
};

struct dmab_wlr_buffer {
	struct wlr_buffer base;
	struct dmab_wlr_adapter *adapter; /* NULL once the adapter is gone */
	/* NULL once the client destroyed the wl_buffer */
	struct wl_resource *resource;
	struct dmab_server_buffer *server_buffer;
	/* The compositor's READ bracket: from the first commit until wlroots releases. */
	struct dmab_server_read *read;
	struct wl_list holds; /* dmab_wlr_hold.link: commits waiting for the read */
	struct wl_listener resource_destroy;
	struct wl_listener release;
	struct wl_list link; /* dmab_wlr_adapter.buffers */
	/* A YUV frame converted for the renderer; invalid once the read ends (yuv.h). */
	struct dmab_yuv_frame yuv;
	/*
	 * get_dmabuf: the dma-buf (its inode) first handed to wlroots, which
	 * caches its import on the wlr_buffer; stale once the storage has moved
	 * since; refused once a request other than wl_surface.attach named the
	 * wl_buffer (a write target: wlr-screencopy's copy).
	 */
	bool dmabuf_given;
	dev_t dmabuf_dev;
	ino_t dmabuf_ino;
	bool dmabuf_stale;
	bool dmabuf_refused;
};

/* NULL if the wlr_buffer is not a broker buffer. */
struct dmab_wlr_buffer *adapter_buffer_from_wlr(struct wlr_buffer *wlr_buffer);
/* True if the wlr_buffer is a broker buffer whose get_dmabuf has answered. */
bool adapter_buffer_gave_dmabuf(struct wlr_buffer *wlr_buffer);
/* Begins the compositor's read if none is held; false if it cannot. */
bool adapter_buffer_begin_read(struct dmab_wlr_buffer *buffer);

/*
 * The generation's commit-hook.c calls adapter_handle_client_commit() after a
 * client's wl_surface.commit and before wlroots applies the state. init sets
 * errno and returns false on failure.
 */
bool adapter_commit_hook_init(struct dmab_wlr_adapter *adapter,
	struct wlr_compositor *compositor);
void adapter_commit_hook_finish(struct dmab_wlr_adapter *adapter);
void adapter_handle_client_commit(struct wlr_surface *surface);
/* Lets every commit held for this buffer proceed. */
void adapter_release_holds(struct dmab_wlr_buffer *buffer);

#endif
