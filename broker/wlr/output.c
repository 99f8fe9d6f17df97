/*
 * Outputs: the headless output at the requested mode, or whatever the DRM
 * backend finds at its preferred mode. Each frame renders the scene.
 */
#include <stdlib.h>
#include <time.h>
#include <wlr/backend/headless.h>
#include <wlr/types/wlr_output.h>
#include <wlr/types/wlr_output_layout.h>
#include <wlr/types/wlr_scene.h>
#include <wlr/util/log.h>

#include "daemon.h"

struct dmabd_output {
	struct dmabd_compositor *compositor;
	struct wlr_output *wlr_output;
	struct wl_listener frame;
	struct wl_listener destroy;
	struct wl_list link; /* dmabd_compositor.outputs */
};

static void output_handle_frame(struct wl_listener *listener, void *data)
{
	struct dmabd_output *output = wl_container_of(listener, output, frame);
	struct wlr_scene_output *scene_output =
		wlr_scene_get_scene_output(output->compositor->scene, output->wlr_output);
	if (scene_output == NULL) {
		return;
	}
	if (!composite_output_commit(scene_output)) {
		wlr_log(WLR_DEBUG, "output %s: frame not committed", output->wlr_output->name);
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	wlr_scene_output_send_frame_done(scene_output, &now);
}

static void output_handle_destroy(struct wl_listener *listener, void *data)
{
	struct dmabd_output *output = wl_container_of(listener, output, destroy);
	wl_list_remove(&output->frame.link);
	wl_list_remove(&output->destroy.link);
	wl_list_remove(&output->link);
	free(output);
}

static bool output_configure(struct wlr_output *wlr_output, const struct dmabd_options *options)
{
	if (wlr_output_is_headless(wlr_output)) {
		wlr_output_set_custom_mode(wlr_output, (int32_t)options->width,
			(int32_t)options->height, options->refresh_mhz);
	} else if (!wl_list_empty(&wlr_output->modes)) {
		wlr_output_set_mode(wlr_output, wlr_output_preferred_mode(wlr_output));
	}
	wlr_output_enable(wlr_output, true);
	return wlr_output_commit(wlr_output);
}

void output_handle_new(struct wl_listener *listener, void *data)
{
	struct dmabd_compositor *compositor =
		wl_container_of(listener, compositor, new_output);
	struct wlr_output *wlr_output = data;

	if (!wlr_output_init_render(wlr_output, compositor->allocator, compositor->renderer)) {
		wlr_log(WLR_ERROR, "output %s: cannot render to it", wlr_output->name);
		return;
	}
	if (!output_configure(wlr_output, compositor->options)) {
		wlr_log(WLR_ERROR, "output %s: cannot enable it", wlr_output->name);
		return;
	}
	struct dmabd_output *output = calloc(1, sizeof(*output));
	if (output == NULL) {
		wlr_log_errno(WLR_ERROR, "output %s: cannot allocate", wlr_output->name);
		return;
	}
	output->compositor = compositor;
	output->wlr_output = wlr_output;
	output->frame.notify = output_handle_frame;
	wl_signal_add(&wlr_output->events.frame, &output->frame);
	output->destroy.notify = output_handle_destroy;
	wl_signal_add(&wlr_output->events.destroy, &output->destroy);
	wl_list_insert(compositor->outputs.prev, &output->link);
	/* Adds the wl_output global and, through the scene, a scene output. */
	wlr_output_layout_add_auto(compositor->output_layout, wlr_output);
	wlr_log(WLR_INFO, "output %s: %dx%d@%.3f Hz", wlr_output->name, wlr_output->width,
		wlr_output->height, wlr_output->refresh / 1000.0);
}
