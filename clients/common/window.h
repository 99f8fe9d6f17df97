/* SPDX-License-Identifier: MIT */
/*
 * A fixed-size xdg_toplevel for the example clients: binds wl_compositor and
 * xdg_wm_base on the client's display, answers pings, acks configures and
 * counts frame callbacks. The surface size is the buffer size; configure
 * suggestions are ignored.
 */
#ifndef DMAB_CLIENTS_WINDOW_H
#define DMAB_CLIENTS_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

struct wl_display;
struct wl_buffer;

struct dmab_window {
	struct wl_display *display;
	struct wl_compositor *compositor;
	struct xdg_wm_base *wm_base;
	struct wl_surface *surface;
	struct xdg_surface *xdg_surface;
	struct xdg_toplevel *toplevel;
	struct wl_callback *frame_callback; /* the last commit's, until it is done */
	uint32_t width, height;
	bool configured;
	bool closed;        /* the compositor asked to close */
	uint64_t presented; /* frame callbacks that arrived */
};

/*
 * Creates the toplevel and waits for its first configure. NULL on failure, with
 * errno set (ENOENT if the compositor lacks wl_compositor or xdg_wm_base).
 */
struct dmab_window *dmab_window_create(struct wl_display *display, const char *title,
	uint32_t width, uint32_t height);
void dmab_window_destroy(struct dmab_window *window);

/* Configured, not closed, and the previous frame's callback has arrived. */
bool dmab_window_can_present(const struct dmab_window *window);
/* Attaches buffer, damages the whole surface, asks for a frame callback, commits. */
void dmab_window_present(struct dmab_window *window, struct wl_buffer *buffer);

#endif
