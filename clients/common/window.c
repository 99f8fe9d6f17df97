/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <wayland-client.h>

#include "loop.h"
#include "window.h"
#include "xdg-shell-client-protocol.h"

#define CONFIGURE_TIMEOUT_MS 5000

static void handle_ping(void *data, struct xdg_wm_base *wm_base, uint32_t serial)
{
	xdg_wm_base_pong(wm_base, serial);
}

static const struct xdg_wm_base_listener wm_base_listener = {
	.ping = handle_ping,
};

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
	const char *interface, uint32_t version)
{
	struct dmab_window *window = data;
	if (window->compositor == NULL && strcmp(interface, wl_compositor_interface.name) == 0) {
		window->compositor = wl_registry_bind(registry, name, &wl_compositor_interface,
			version < 4 ? version : 4);
	} else if (window->wm_base == NULL &&
			strcmp(interface, xdg_wm_base_interface.name) == 0) {
		window->wm_base = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
		xdg_wm_base_add_listener(window->wm_base, &wm_base_listener, window);
	}
}

static void handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

static void handle_xdg_surface_configure(void *data, struct xdg_surface *xdg_surface,
	uint32_t serial)
{
	struct dmab_window *window = data;
	xdg_surface_ack_configure(xdg_surface, serial);
	window->configured = true;
}

static const struct xdg_surface_listener xdg_surface_listener = {
	.configure = handle_xdg_surface_configure,
};

static void handle_toplevel_configure(void *data, struct xdg_toplevel *toplevel,
	int32_t width, int32_t height, struct wl_array *states)
{
}

static void handle_toplevel_close(void *data, struct xdg_toplevel *toplevel)
{
	struct dmab_window *window = data;
	window->closed = true;
}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = handle_toplevel_configure,
	.close = handle_toplevel_close,
};

static int bind_globals(struct dmab_window *window)
{
	struct wl_registry *registry = wl_display_get_registry(window->display);
	if (registry == NULL)
		return -ENOMEM;
	wl_registry_add_listener(registry, &registry_listener, window);
	int ret = wl_display_roundtrip(window->display) < 0 ? -EPIPE : 0;
	wl_registry_destroy(registry);
	if (ret == 0 && (window->compositor == NULL || window->wm_base == NULL))
		ret = -ENOENT;
	return ret;
}

static int create_toplevel(struct dmab_window *window, const char *title)
{
	window->surface = wl_compositor_create_surface(window->compositor);
	if (window->surface == NULL)
		return -ENOMEM;
	window->xdg_surface = xdg_wm_base_get_xdg_surface(window->wm_base, window->surface);
	if (window->xdg_surface == NULL)
		return -ENOMEM;
	xdg_surface_add_listener(window->xdg_surface, &xdg_surface_listener, window);
	window->toplevel = xdg_surface_get_toplevel(window->xdg_surface);
	if (window->toplevel == NULL)
		return -ENOMEM;
	xdg_toplevel_add_listener(window->toplevel, &toplevel_listener, window);
	xdg_toplevel_set_title(window->toplevel, title);
	xdg_toplevel_set_app_id(window->toplevel, title);
	xdg_toplevel_set_min_size(window->toplevel, (int32_t)window->width,
		(int32_t)window->height);
	xdg_toplevel_set_max_size(window->toplevel, (int32_t)window->width,
		(int32_t)window->height);
	wl_surface_commit(window->surface);

	int64_t deadline = dmab_now_ns() + (int64_t)CONFIGURE_TIMEOUT_MS * 1000000;
	while (!window->configured) {
		int ret = dmab_wait(window->display, dmab_timeout_ms(deadline));
		if (ret < 0)
			return ret;
		if (ret == 0 && (dmab_quit_requested() || dmab_now_ns() >= deadline))
			return -ETIMEDOUT;
	}
	return 0;
}

struct dmab_window *dmab_window_create(struct wl_display *display, const char *title,
	uint32_t width, uint32_t height)
{
	struct dmab_window *window = calloc(1, sizeof(*window));
	if (window == NULL)
		return NULL;
	window->display = display;
	window->width = width;
	window->height = height;
	int ret = bind_globals(window);
	if (ret == 0)
		ret = create_toplevel(window, title);
	if (ret < 0) {
		dmab_window_destroy(window);
		errno = -ret;
		return NULL;
	}
	return window;
}

void dmab_window_destroy(struct dmab_window *window)
{
	if (window == NULL)
		return;
	if (window->frame_callback != NULL)
		wl_callback_destroy(window->frame_callback);
	if (window->toplevel != NULL)
		xdg_toplevel_destroy(window->toplevel);
	if (window->xdg_surface != NULL)
		xdg_surface_destroy(window->xdg_surface);
	if (window->surface != NULL)
		wl_surface_destroy(window->surface);
	if (window->wm_base != NULL)
		xdg_wm_base_destroy(window->wm_base);
	if (window->compositor != NULL)
		wl_compositor_destroy(window->compositor);
	free(window);
}

static void handle_frame_done(void *data, struct wl_callback *callback, uint32_t time)
{
	struct dmab_window *window = data;
	wl_callback_destroy(callback);
	window->frame_callback = NULL;
	window->presented++;
}

static const struct wl_callback_listener frame_listener = {
	.done = handle_frame_done,
};

bool dmab_window_can_present(const struct dmab_window *window)
{
	return window->configured && !window->closed && window->frame_callback == NULL;
}

void dmab_window_present(struct dmab_window *window, struct wl_buffer *buffer)
{
	wl_surface_attach(window->surface, buffer, 0, 0);
	if (wl_proxy_get_version((struct wl_proxy *)window->surface) >=
			WL_SURFACE_DAMAGE_BUFFER_SINCE_VERSION)
		wl_surface_damage_buffer(window->surface, 0, 0, INT32_MAX, INT32_MAX);
	else
		wl_surface_damage(window->surface, 0, 0, INT32_MAX, INT32_MAX);
	if (window->frame_callback != NULL)
		wl_callback_destroy(window->frame_callback);
	window->frame_callback = wl_surface_frame(window->surface);
	wl_callback_add_listener(window->frame_callback, &frame_listener, window);
	wl_surface_commit(window->surface);
}
