/* SPDX-License-Identifier: MIT */
/*
 * dmabrokerd's compositor: a small stacking wlroots compositor that serves the
 * stock globals next to dmabroker-v1. The calls that differ between wlroots
 * generations go through compat.h.
 */
#ifndef DMABD_DAEMON_H
#define DMABD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>
#include <wlr/util/log.h>

#include "dmabroker/server.h"

struct wlr_surface;
struct wlr_xdg_surface;
struct wlr_input_device;
struct wlr_scene_output_layout;
struct wlr_scene_output;

enum dmabd_backend {
	DMABD_BACKEND_HEADLESS,
	DMABD_BACKEND_AUTO,
};

struct dmabd_options {
	enum dmabd_backend backend;
	uint32_t width, height;
	int32_t refresh_mhz;
	const char *socket; /* NULL: the first free wayland-N */
	enum wlr_log_importance log_level;
	/* Serve zwp_linux_dmabuf_v1 through the broker where the renderer cannot import. */
	bool linux_dmabuf;
	struct dmab_server_options server;
};

enum dmabd_parse_result {
	DMABD_PARSE_RUN,
	DMABD_PARSE_EXIT, /* --help or --version was answered */
	DMABD_PARSE_USAGE_ERROR, /* a message was printed */
};

enum dmabd_parse_result options_parse(struct dmabd_options *options, int argc, char *argv[]);

struct dmabd_compositor {
	struct wl_display *display;
	const struct dmabd_options *options;
	struct wlr_backend *backend;
	struct wlr_session *session; /* NULL unless --backend auto opened a seat */
	struct wlr_renderer *renderer;
	struct wlr_allocator *allocator;
	struct wlr_output_layout *output_layout;
	struct wlr_scene *scene;
	struct wlr_scene_output_layout *scene_layout; /* NULL before wlroots 0.17 */
	struct wlr_compositor *wlr_compositor;
	struct wlr_xdg_shell *xdg_shell;
	struct wlr_input_device *headless_keyboard; /* compat_headless_keyboard_create() */
	struct wlr_seat *seat;

	struct wl_list outputs; /* dmabd_output.link */
	struct wl_list views; /* dmabd_view.link, the focused one first */
	struct wl_list keyboards; /* dmabd_keyboard.link */
	int cascade_x, cascade_y; /* where the next toplevel goes */

	struct wl_listener new_output;
	struct wl_listener new_input;
	/* compat_xdg_shell_create(): one shared signal, or one per role. */
	struct wl_listener new_xdg_toplevel;
	struct wl_listener new_xdg_popup;
	struct wl_listener request_set_selection;
};

/* Creates the backend, renderer, allocator, scene and every stock global. */
struct dmabd_compositor *compositor_create(struct wl_display *display,
	const struct dmabd_options *options);
/* Starts the backend; the headless output and keyboard are added here. */
bool compositor_start(struct dmabd_compositor *compositor);
/* Call once the display has no clients left. NULL is a no-op. */
void compositor_destroy(struct dmabd_compositor *compositor);

void output_handle_new(struct wl_listener *listener, void *data);
/*
 * wlroots 0.15 only (wlroots-0.15/composite.c, called by its compat.c): renders
 * and commits a scene output like wlr_scene_output_commit, writing each damaged
 * pixel once with pixman where it can, and through wlr_scene_output_commit
 * where it cannot. wlroots 0.18's scene already skips what opaque nodes cover.
 */
bool composite_output_commit(struct wlr_scene_output *scene_output);

/* A new toplevel's or popup's xdg_surface, from compat_xdg_shell_create(). */
void view_create(struct dmabd_compositor *compositor, struct wlr_xdg_surface *xdg_surface);
void popup_create(struct wlr_xdg_surface *xdg_surface);

bool seat_init(struct dmabd_compositor *compositor);
void seat_handle_new_input(struct wl_listener *listener, void *data);
void seat_add_input(struct dmabd_compositor *compositor, struct wlr_input_device *device);
/* Keyboard focus on surface (NULL: none). */
void seat_focus(struct dmabd_compositor *compositor, struct wlr_surface *surface);
void seat_finish(struct dmabd_compositor *compositor);

#endif
