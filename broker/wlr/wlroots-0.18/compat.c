/* SPDX-License-Identifier: MIT */
/*
 * compat.h on wlroots 0.17 and later (built and tested with 0.18).
 */
#include <stdlib.h>
#include <wlr/backend.h>
#include <wlr/backend/headless.h>
#include <wlr/interfaces/wlr_keyboard.h>
#include <wlr/render/wlr_renderer.h>
#include <wlr/types/wlr_buffer.h>
#include <wlr/types/wlr_compositor.h>
#include <wlr/types/wlr_input_device.h>
#include <wlr/types/wlr_keyboard.h>
#include <wlr/types/wlr_output.h>
#include <wlr/types/wlr_output_layout.h>
#include <wlr/types/wlr_scene.h>
#include <wlr/types/wlr_seat.h>
#include <wlr/types/wlr_subcompositor.h>
#include <wlr/types/wlr_xdg_shell.h>
#include <wlr/util/box.h>

#include "compat.h"
#include "daemon.h"

/* The protocol versions wlroots 0.15 served, so clients see the same globals. */
#define COMPOSITOR_VERSION 4
#define XDG_WM_BASE_VERSION 3

const char compat_wlroots_generation[] = "0.18";

struct wlr_backend *compat_backend_autocreate(struct wl_display *display,
	struct wlr_session **session)
{
	return wlr_backend_autocreate(wl_display_get_event_loop(display), session);
}

struct wlr_backend *compat_headless_backend_create(struct wl_display *display)
{
	return wlr_headless_backend_create(wl_display_get_event_loop(display));
}

struct wlr_compositor *compat_compositor_create(struct wl_display *display,
	struct wlr_renderer *renderer)
{
	/* Since 0.16 wl_subcompositor is a global of its own. */
	if (wlr_subcompositor_create(display) == NULL) {
		return NULL;
	}
	return wlr_compositor_create(display, COMPOSITOR_VERSION, renderer);
}

static void handle_new_xdg_toplevel(struct wl_listener *listener, void *data)
{
	struct dmabd_compositor *compositor =
		wl_container_of(listener, compositor, new_xdg_toplevel);
	struct wlr_xdg_toplevel *toplevel = data;
	view_create(compositor, toplevel->base);
}

static void handle_new_xdg_popup(struct wl_listener *listener, void *data)
{
	struct wlr_xdg_popup *popup = data;
	popup_create(popup->base);
}

bool compat_xdg_shell_create(struct dmabd_compositor *compositor)
{
	compositor->xdg_shell = wlr_xdg_shell_create(compositor->display, XDG_WM_BASE_VERSION);
	if (compositor->xdg_shell == NULL) {
		return false;
	}
	/* new_surface fires before the role is known: wait for the role's own signal. */
	compositor->new_xdg_toplevel.notify = handle_new_xdg_toplevel;
	wl_signal_add(&compositor->xdg_shell->events.new_toplevel, &compositor->new_xdg_toplevel);
	compositor->new_xdg_popup.notify = handle_new_xdg_popup;
	wl_signal_add(&compositor->xdg_shell->events.new_popup, &compositor->new_xdg_popup);
	return true;
}

struct wlr_output_layout *compat_output_layout_create(struct wl_display *display)
{
	return wlr_output_layout_create(display);
}

bool compat_renderer_imports_dmabuf(struct wlr_renderer *renderer)
{
	return wlr_renderer_get_texture_formats(renderer, WLR_BUFFER_CAP_DMABUF) != NULL;
}

bool compat_scene_attach_output_layout(struct dmabd_compositor *compositor)
{
	compositor->scene_layout = wlr_scene_attach_output_layout(compositor->scene,
		compositor->output_layout);
	return compositor->scene_layout != NULL;
}

struct wlr_scene_node *compat_scene_root(struct wlr_scene *scene)
{
	return &scene->tree.node;
}

void compat_scene_destroy(struct wlr_scene *scene)
{
	if (scene != NULL) {
		wlr_scene_node_destroy(&scene->tree.node);
	}
}

bool compat_scene_output_commit(struct wlr_scene_output *scene_output)
{
	return wlr_scene_output_commit(scene_output, NULL);
}

struct wlr_scene_node *compat_scene_xdg_surface_create(struct wlr_scene_node *parent,
	struct wlr_xdg_surface *xdg_surface)
{
	/* Every node the daemon parents to is a tree: the root or an xdg surface's. */
	struct wlr_scene_tree *parent_tree = wl_container_of(parent, parent_tree, node);
	struct wlr_scene_tree *tree = wlr_scene_xdg_surface_create(parent_tree, xdg_surface);
	return tree != NULL ? &tree->node : NULL;
}

bool compat_output_enable(struct wlr_output *output, bool headless, int32_t width,
	int32_t height, int32_t refresh_mhz)
{
	struct wlr_output_state state;
	wlr_output_state_init(&state);
	if (headless) {
		wlr_output_state_set_custom_mode(&state, width, height, refresh_mhz);
	} else if (!wl_list_empty(&output->modes)) {
		wlr_output_state_set_mode(&state, wlr_output_preferred_mode(output));
	}
	wlr_output_state_set_enabled(&state, true);
	bool ok = wlr_output_commit_state(output, &state);
	wlr_output_state_finish(&state);
	return ok;
}

bool compat_output_layout_add(struct dmabd_compositor *compositor, struct wlr_output *output)
{
	/* Since 0.17 the scene no longer makes scene outputs for the layout's outputs. */
	struct wlr_output_layout_output *layout_output =
		wlr_output_layout_add_auto(compositor->output_layout, output);
	if (layout_output == NULL) {
		return false;
	}
	struct wlr_scene_output *scene_output = wlr_scene_output_create(compositor->scene, output);
	if (scene_output == NULL) {
		wlr_output_layout_remove(compositor->output_layout, output);
		return false;
	}
	wlr_scene_output_layout_add_output(compositor->scene_layout, layout_output, scene_output);
	return true;
}

bool compat_output_layout_get_box(struct wlr_output_layout *layout, struct wlr_output *output,
	struct wlr_box *box)
{
	wlr_output_layout_get_box(layout, output, box);
	return !wlr_box_empty(box);
}

/* 0.17 removed wlr_headless_add_input_device(): the daemon makes its own keyboard. */
static const struct wlr_keyboard_impl headless_keyboard_impl = {
	.name = "dmabrokerd-headless-keyboard",
};

struct wlr_input_device *compat_headless_keyboard_create(struct dmabd_compositor *compositor)
{
	struct wlr_keyboard *keyboard = calloc(1, sizeof(*keyboard));
	if (keyboard == NULL) {
		return NULL;
	}
	wlr_keyboard_init(keyboard, &headless_keyboard_impl, headless_keyboard_impl.name);
	seat_add_input(compositor, &keyboard->base);
	return &keyboard->base;
}

void compat_headless_keyboard_destroy(struct wlr_input_device *device)
{
	if (device == NULL) {
		return;
	}
	struct wlr_keyboard *keyboard = wlr_keyboard_from_input_device(device);
	/* Emits the device's destroy signal, which the seat's keyboard listens to. */
	wlr_keyboard_finish(keyboard);
	free(keyboard);
}

struct wlr_keyboard *compat_keyboard_from_device(struct wlr_input_device *device)
{
	return wlr_keyboard_from_input_device(device);
}

void compat_seat_set_keyboard(struct wlr_seat *seat, struct wlr_input_device *device)
{
	wlr_seat_set_keyboard(seat, wlr_keyboard_from_input_device(device));
}

void compat_key_event_get(const void *data, struct compat_key_event *event)
{
	const struct wlr_keyboard_key_event *key = data;
	event->time_msec = key->time_msec;
	event->keycode = key->keycode;
	event->state = key->state;
}

struct wl_signal *compat_xdg_surface_map_signal(struct wlr_xdg_surface *xdg_surface)
{
	return &xdg_surface->surface->events.map;
}

struct wl_signal *compat_xdg_surface_unmap_signal(struct wlr_xdg_surface *xdg_surface)
{
	return &xdg_surface->surface->events.unmap;
}

bool compat_xdg_surface_needs_initial_configure(struct wlr_xdg_surface *xdg_surface)
{
	/* Since 0.18 the compositor answers the initial commit itself. */
	return xdg_surface->initial_commit;
}

void compat_xdg_toplevel_set_activated(struct wlr_xdg_surface *xdg_surface, bool activated)
{
	if (xdg_surface->toplevel != NULL) {
		wlr_xdg_toplevel_set_activated(xdg_surface->toplevel, activated);
	}
}

struct wlr_xdg_surface *compat_xdg_surface_from_surface(struct wlr_surface *surface)
{
	return wlr_xdg_surface_try_from_wlr_surface(surface);
}
