/* SPDX-License-Identifier: MIT */
/*
 * The wlroots calls whose signatures or semantics changed between the API
 * generations dmabrokerd supports. Each generation has its own directory
 * (wlroots-0.15/, wlroots-0.18/) with compat.c implementing this header and
 * commit-hook.c implementing adapter.h's hook; meson compiles exactly one of
 * them, so no source carries a version #if. See doc/architecture.md.
 *
 * Everything else the daemon calls is the same in every supported generation.
 */
#ifndef DMABD_COMPAT_H
#define DMABD_COMPAT_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>
#include <wayland-server-protocol.h>

struct dmabd_compositor;
struct wlr_backend;
struct wlr_box;
struct wlr_compositor;
struct wlr_input_device;
struct wlr_keyboard;
struct wlr_output;
struct wlr_output_layout;
struct wlr_renderer;
struct wlr_scene;
struct wlr_scene_node;
struct wlr_scene_output;
struct wlr_seat;
struct wlr_session;
struct wlr_surface;
struct wlr_xdg_surface;

/* The wlroots generation compiled in, e.g. "0.18", for logs and --version. */
extern const char compat_wlroots_generation[];

/* *session is the libseat session the backend opened, or NULL. */
struct wlr_backend *compat_backend_autocreate(struct wl_display *display,
	struct wlr_session **session);
struct wlr_backend *compat_headless_backend_create(struct wl_display *display);
/* wl_compositor and wl_subcompositor. */
struct wlr_compositor *compat_compositor_create(struct wl_display *display,
	struct wlr_renderer *renderer);
/* Listens for new toplevels and popups; calls view_create() and popup_create(). */
bool compat_xdg_shell_create(struct dmabd_compositor *compositor);
struct wlr_output_layout *compat_output_layout_create(struct wl_display *display);
/* True if the renderer imports dma-bufs (and so serves zwp_linux_dmabuf_v1 itself). */
bool compat_renderer_imports_dmabuf(struct wlr_renderer *renderer);

/* The scene follows the output layout; outputs added later join it. */
bool compat_scene_attach_output_layout(struct dmabd_compositor *compositor);
struct wlr_scene_node *compat_scene_root(struct wlr_scene *scene);
void compat_scene_destroy(struct wlr_scene *scene);
bool compat_scene_output_commit(struct wlr_scene_output *scene_output);
/* Subtree showing xdg_surface and its subsurfaces under parent; NULL on failure. */
struct wlr_scene_node *compat_scene_xdg_surface_create(struct wlr_scene_node *parent,
	struct wlr_xdg_surface *xdg_surface);

/* Headless: a custom mode; otherwise the preferred one, if any. Commits it. */
bool compat_output_enable(struct wlr_output *output, bool headless, int32_t width,
	int32_t height, int32_t refresh_mhz);
/* Places the output right of the others and gives it a scene output. */
bool compat_output_layout_add(struct dmabd_compositor *compositor, struct wlr_output *output);
bool compat_output_layout_get_box(struct wlr_output_layout *layout, struct wlr_output *output,
	struct wlr_box *box);

/*
 * A keyboard the daemon makes for the headless backend, which has no input of
 * its own: it gives wl_seat a keyboard, so that focus can be observed. The
 * device goes through seat_handle_new_input(); destroy it before the seat.
 */
struct wlr_input_device *compat_headless_keyboard_create(struct dmabd_compositor *compositor);
void compat_headless_keyboard_destroy(struct wlr_input_device *device);
struct wlr_keyboard *compat_keyboard_from_device(struct wlr_input_device *device);
void compat_seat_set_keyboard(struct wlr_seat *seat, struct wlr_input_device *device);

struct compat_key_event {
	uint32_t time_msec;
	uint32_t keycode;
	enum wl_keyboard_key_state state;
};
/* data: what wlr_keyboard.events.key carries. */
void compat_key_event_get(const void *data, struct compat_key_event *event);

struct wl_signal *compat_xdg_surface_map_signal(struct wlr_xdg_surface *xdg_surface);
struct wl_signal *compat_xdg_surface_unmap_signal(struct wlr_xdg_surface *xdg_surface);
/*
 * True if this commit is the surface's initial one, to which the compositor
 * must reply with a configure; false where wlroots sends it by itself.
 */
bool compat_xdg_surface_needs_initial_configure(struct wlr_xdg_surface *xdg_surface);
void compat_xdg_toplevel_set_activated(struct wlr_xdg_surface *xdg_surface, bool activated);
/* NULL if surface is not an xdg_surface. */
struct wlr_xdg_surface *compat_xdg_surface_from_surface(struct wlr_surface *surface);

#endif
