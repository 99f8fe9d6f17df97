/* SPDX-License-Identifier: MIT */
/*
 * The wlroots side of dmabrokerd: backend, renderer, allocator, scene and the
 * stock globals that let unmodified clients (weston-simple-shm, wayland-info,
 * grim) run against the broker.
 */
#include <stdlib.h>
#include <wlr/backend.h>
#include <wlr/backend/headless.h>
#include <wlr/render/allocator.h>
#include <wlr/render/pixman.h>
#include <wlr/render/wlr_renderer.h>
#include <wlr/types/wlr_compositor.h>
#include <wlr/types/wlr_data_device.h>
#include <wlr/types/wlr_output_layout.h>
#include <wlr/types/wlr_scene.h>
#include <wlr/types/wlr_screencopy_v1.h>
#include <wlr/types/wlr_seat.h>
#include <wlr/types/wlr_xdg_output_v1.h>
#include <wlr/util/log.h>

#include "compat.h"
#include "daemon.h"

static struct wlr_backend *backend_create(struct dmabd_compositor *compositor)
{
	if (compositor->options->backend == DMABD_BACKEND_AUTO) {
		/* DRM and libinput through a libseat session, as wlroots decides. */
		return compat_backend_autocreate(compositor->display, &compositor->session);
	}
	return compat_headless_backend_create(compositor->display);
}

/*
 * The headless backend opens any DRM render node it finds (vgem in a VM, say),
 * and wlr_renderer_autocreate() then picks GLES2 on it; that renderer needs a
 * GBM allocator the node may not have, and it copies broker buffers into
 * textures. pixman composites them in place and needs no device at all.
 */
static struct wlr_renderer *renderer_create(struct wlr_backend *backend,
	const struct dmabd_options *options)
{
	if (options->backend == DMABD_BACKEND_HEADLESS) {
		return wlr_pixman_renderer_create();
	}
	return wlr_renderer_autocreate(backend);
}

static bool create_globals(struct dmabd_compositor *compositor)
{
	struct wl_display *display = compositor->display;
	/* wl_shm (and linux-dmabuf where the renderer can import dma-bufs). */
	if (!wlr_renderer_init_wl_display(compositor->renderer, display)) {
		wlr_log(WLR_ERROR, "cannot create the renderer's globals");
		return false;
	}
	/* wl_compositor and wl_subcompositor. */
	compositor->wlr_compositor = compat_compositor_create(display, compositor->renderer);
	if (compositor->wlr_compositor == NULL ||
			wlr_data_device_manager_create(display) == NULL ||
			wlr_screencopy_manager_v1_create(display) == NULL ||
			wlr_xdg_output_manager_v1_create(display, compositor->output_layout) == NULL) {
		wlr_log(WLR_ERROR, "cannot create the stock globals");
		return false;
	}
	if (!compat_xdg_shell_create(compositor)) {
		wlr_log(WLR_ERROR, "cannot create xdg_wm_base");
		return false;
	}
	return seat_init(compositor);
}

struct dmabd_compositor *compositor_create(struct wl_display *display,
	const struct dmabd_options *options)
{
	struct dmabd_compositor *compositor = calloc(1, sizeof(*compositor));
	if (compositor == NULL) {
		wlr_log_errno(WLR_ERROR, "cannot allocate the compositor");
		return NULL;
	}
	compositor->display = display;
	compositor->options = options;
	wl_list_init(&compositor->outputs);
	wl_list_init(&compositor->views);
	wl_list_init(&compositor->keyboards);
	wl_list_init(&compositor->new_output.link);
	wl_list_init(&compositor->new_input.link);
	wl_list_init(&compositor->new_xdg_toplevel.link);
	wl_list_init(&compositor->new_xdg_popup.link);
	wl_list_init(&compositor->request_set_selection.link);

	compositor->backend = backend_create(compositor);
	if (compositor->backend == NULL) {
		wlr_log(WLR_ERROR, "cannot create the %s backend",
			options->backend == DMABD_BACKEND_AUTO ? "auto" : "headless");
		goto error;
	}
	compositor->renderer = renderer_create(compositor->backend, options);
	if (compositor->renderer == NULL) {
		wlr_log(WLR_ERROR, "cannot create a renderer");
		goto error;
	}
	compositor->allocator = wlr_allocator_autocreate(compositor->backend,
		compositor->renderer);
	if (compositor->allocator == NULL) {
		wlr_log(WLR_ERROR, "cannot create an allocator");
		goto error;
	}
	compositor->output_layout = compat_output_layout_create(display);
	compositor->scene = wlr_scene_create();
	if (compositor->output_layout == NULL || compositor->scene == NULL ||
			!compat_scene_attach_output_layout(compositor)) {
		wlr_log(WLR_ERROR, "cannot create the scene");
		goto error;
	}
	if (!create_globals(compositor)) {
		goto error;
	}
	compositor->new_output.notify = output_handle_new;
	wl_signal_add(&compositor->backend->events.new_output, &compositor->new_output);
	compositor->new_input.notify = seat_handle_new_input;
	wl_signal_add(&compositor->backend->events.new_input, &compositor->new_input);
	return compositor;

error:
	compositor_destroy(compositor);
	return NULL;
}

bool compositor_start(struct dmabd_compositor *compositor)
{
	const struct dmabd_options *options = compositor->options;
	if (wlr_backend_is_headless(compositor->backend)) {
		if (wlr_headless_add_output(compositor->backend,
				options->width, options->height) == NULL) {
			wlr_log(WLR_ERROR, "cannot add the headless output");
			return false;
		}
		compositor->headless_keyboard = compat_headless_keyboard_create(compositor);
		if (compositor->headless_keyboard == NULL) {
			wlr_log(WLR_ERROR, "cannot add the headless keyboard");
			return false;
		}
	}
	if (!wlr_backend_start(compositor->backend)) {
		wlr_log(WLR_ERROR, "cannot start the backend");
		return false;
	}
	/* Real displays may be plugged in later; the headless one is ours to make. */
	if (wl_list_empty(&compositor->outputs)) {
		if (wlr_backend_is_headless(compositor->backend)) {
			wlr_log(WLR_ERROR, "the headless output could not be enabled");
			return false;
		}
		wlr_log(WLR_INFO, "no output yet: waiting for a display to be connected");
	}
	return true;
}

void compositor_destroy(struct dmabd_compositor *compositor)
{
	if (compositor == NULL) {
		return;
	}
	wl_list_remove(&compositor->new_output.link);
	wl_list_remove(&compositor->new_input.link);
	wl_list_remove(&compositor->new_xdg_toplevel.link);
	wl_list_remove(&compositor->new_xdg_popup.link);
	compat_headless_keyboard_destroy(compositor->headless_keyboard);
	/* Outputs and input devices go with the backend; they hold renderer buffers. */
	wlr_backend_destroy(compositor->backend);
	seat_finish(compositor);
	/*
	 * The layout before the scene: wlroots 0.15's wlr_scene_attach_output_layout()
	 * listens for the scene's destruction on the layout's destroy signal, so the
	 * layout's destroy handler is what frees that link, and it walks the scene.
	 * Later generations accept either order.
	 */
	wlr_output_layout_destroy(compositor->output_layout);
	compat_scene_destroy(compositor->scene);
	wlr_allocator_destroy(compositor->allocator);
	wlr_renderer_destroy(compositor->renderer);
	free(compositor);
}
