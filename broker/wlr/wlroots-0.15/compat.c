/* SPDX-License-Identifier: MIT */
/*
 * compat.h on wlroots 0.15.
 */
#include <wlr/backend.h>
#include <wlr/backend/headless.h>
#include <wlr/render/wlr_renderer.h>
#include <wlr/types/wlr_compositor.h>
#include <wlr/types/wlr_input_device.h>
#include <wlr/types/wlr_keyboard.h>
#include <wlr/types/wlr_output.h>
#include <wlr/types/wlr_output_layout.h>
#include <wlr/types/wlr_scene.h>
#include <wlr/types/wlr_seat.h>
#include <wlr/types/wlr_xdg_shell.h>
#include <wlr/util/box.h>

#include "compat.h"
#include "daemon.h"

const char compat_wlroots_generation[] = "0.15";

struct wlr_backend *compat_backend_autocreate(struct wl_display *display,
	struct wlr_session **session)
{
	struct wlr_backend *backend = wlr_backend_autocreate(display);
	*session = backend != NULL ? wlr_backend_get_session(backend) : NULL;
	return backend;
}

struct wlr_backend *compat_headless_backend_create(struct wl_display *display)
{
	return wlr_headless_backend_create(display);
}

struct wlr_compositor *compat_compositor_create(struct wl_display *display,
	struct wlr_renderer *renderer)
{
	return wlr_compositor_create(display, renderer);
}

/* 0.15 emits new_surface once the role is known; wlroots sends the first configure. */
static void handle_new_xdg_surface(struct wl_listener *listener, void *data)
{
	struct dmabd_compositor *compositor =
		wl_container_of(listener, compositor, new_xdg_toplevel);
	struct wlr_xdg_surface *xdg_surface = data;
	switch (xdg_surface->role) {
	case WLR_XDG_SURFACE_ROLE_TOPLEVEL:
		view_create(compositor, xdg_surface);
		break;
	case WLR_XDG_SURFACE_ROLE_POPUP:
		popup_create(xdg_surface);
		break;
	case WLR_XDG_SURFACE_ROLE_NONE:
		break;
	}
}

bool compat_xdg_shell_create(struct dmabd_compositor *compositor)
{
	compositor->xdg_shell = wlr_xdg_shell_create(compositor->display);
	if (compositor->xdg_shell == NULL) {
		return false;
	}
	compositor->new_xdg_toplevel.notify = handle_new_xdg_surface;
	wl_signal_add(&compositor->xdg_shell->events.new_surface, &compositor->new_xdg_toplevel);
	return true;
}

struct wlr_output_layout *compat_output_layout_create(struct wl_display *display)
{
	return wlr_output_layout_create();
}

bool compat_renderer_imports_dmabuf(struct wlr_renderer *renderer)
{
	return wlr_renderer_get_dmabuf_texture_formats(renderer) != NULL;
}

bool compat_scene_attach_output_layout(struct dmabd_compositor *compositor)
{
	/* 0.15 gives every output of the layout a scene output by itself. */
	compositor->scene_layout = NULL;
	return wlr_scene_attach_output_layout(compositor->scene, compositor->output_layout);
}

struct wlr_scene_node *compat_scene_root(struct wlr_scene *scene)
{
	return &scene->node;
}

void compat_scene_destroy(struct wlr_scene *scene)
{
	if (scene != NULL) {
		wlr_scene_node_destroy(&scene->node);
	}
}

bool compat_scene_output_commit(struct wlr_scene_output *scene_output)
{
	return composite_output_commit(scene_output);
}

struct wlr_scene_node *compat_scene_xdg_surface_create(struct wlr_scene_node *parent,
	struct wlr_xdg_surface *xdg_surface)
{
	return wlr_scene_xdg_surface_create(parent, xdg_surface);
}

bool compat_output_enable(struct wlr_output *output, bool headless, int32_t width,
	int32_t height, int32_t refresh_mhz)
{
	if (headless) {
		wlr_output_set_custom_mode(output, width, height, refresh_mhz);
	} else if (!wl_list_empty(&output->modes)) {
		wlr_output_set_mode(output, wlr_output_preferred_mode(output));
	}
	wlr_output_enable(output, true);
	return wlr_output_commit(output);
}

bool compat_output_layout_add(struct dmabd_compositor *compositor, struct wlr_output *output)
{
	wlr_output_layout_add_auto(compositor->output_layout, output);
	return wlr_output_layout_get(compositor->output_layout, output) != NULL;
}

bool compat_output_layout_get_box(struct wlr_output_layout *layout, struct wlr_output *output,
	struct wlr_box *box)
{
	struct wlr_box *found = wlr_output_layout_get_box(layout, output);
	if (found == NULL) {
		return false;
	}
	*box = *found;
	return true;
}

struct wlr_input_device *compat_headless_keyboard_create(struct dmabd_compositor *compositor)
{
	/* The backend announces it through new_input and destroys it with itself. */
	return wlr_headless_add_input_device(compositor->backend, WLR_INPUT_DEVICE_KEYBOARD);
}

void compat_headless_keyboard_destroy(struct wlr_input_device *device)
{
	/* The backend's. */
}

struct wlr_keyboard *compat_keyboard_from_device(struct wlr_input_device *device)
{
	return device->keyboard;
}

void compat_seat_set_keyboard(struct wlr_seat *seat, struct wlr_input_device *device)
{
	wlr_seat_set_keyboard(seat, device);
}

void compat_key_event_get(const void *data, struct compat_key_event *event)
{
	const struct wlr_event_keyboard_key *key = data;
	event->time_msec = key->time_msec;
	event->keycode = key->keycode;
	event->state = key->state;
}

struct wl_signal *compat_xdg_surface_map_signal(struct wlr_xdg_surface *xdg_surface)
{
	return &xdg_surface->events.map;
}

struct wl_signal *compat_xdg_surface_unmap_signal(struct wlr_xdg_surface *xdg_surface)
{
	return &xdg_surface->events.unmap;
}

bool compat_xdg_surface_needs_initial_configure(struct wlr_xdg_surface *xdg_surface)
{
	return false;
}

void compat_xdg_toplevel_set_activated(struct wlr_xdg_surface *xdg_surface, bool activated)
{
	wlr_xdg_toplevel_set_activated(xdg_surface, activated);
}

struct wlr_xdg_surface *compat_xdg_surface_from_surface(struct wlr_surface *surface)
{
	if (!wlr_surface_is_xdg_surface(surface)) {
		return NULL;
	}
	return wlr_xdg_surface_from_wlr_surface(surface);
}
