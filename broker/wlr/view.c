/* SPDX-License-Identifier: MIT */
/*
 * xdg toplevels: stacking placement and keyboard focus.
 *
 * Each newly mapped toplevel is raised, focused, and placed CASCADE_STEP pixels
 * right of and below the previous one, starting at the output's top-left
 * corner and starting over there when less than CASCADE_STEP pixels of the next
 * window would be left on the output. Toplevels are configured with size 0x0:
 * the client chooses. When the focused toplevel unmaps, the most recently
 * focused one left gets the focus back.
 */
#include <stdlib.h>
#include <wlr/types/wlr_output_layout.h>
#include <wlr/types/wlr_scene.h>
#include <wlr/types/wlr_xdg_shell.h>
#include <wlr/util/box.h>
#include <wlr/util/log.h>

#include "compat.h"
#include "daemon.h"

#define CASCADE_STEP 32

struct dmabd_view {
	struct dmabd_compositor *compositor;
	struct wlr_xdg_surface *xdg_surface;
	struct wlr_scene_node *scene_node;
	bool placed;
	struct wl_listener map;
	struct wl_listener unmap;
	struct wl_listener commit;
	struct wl_listener destroy;
	struct wl_listener request_maximize;
	struct wl_listener request_fullscreen;
	struct wl_list link; /* dmabd_compositor.views while mapped */
};

static struct wlr_box placement_area(struct dmabd_compositor *compositor)
{
	struct wlr_box box = {
		.width = (int)compositor->options->width,
		.height = (int)compositor->options->height,
	};
	if (!wl_list_empty(&compositor->output_layout->outputs)) {
		struct wlr_output_layout_output *first = wl_container_of(
			compositor->output_layout->outputs.next, first, link);
		struct wlr_box output_box;
		if (compat_output_layout_get_box(compositor->output_layout, first->output,
				&output_box)) {
			box = output_box;
		}
	}
	return box;
}

static void view_place(struct dmabd_view *view)
{
	struct dmabd_compositor *compositor = view->compositor;
	struct wlr_box area = placement_area(compositor);
	wlr_scene_node_set_position(view->scene_node,
		area.x + compositor->cascade_x, area.y + compositor->cascade_y);
	view->placed = true;

	compositor->cascade_x += CASCADE_STEP;
	compositor->cascade_y += CASCADE_STEP;
	if (compositor->cascade_x > area.width - CASCADE_STEP ||
			compositor->cascade_y > area.height - CASCADE_STEP) {
		compositor->cascade_x = 0;
		compositor->cascade_y = 0;
	}
}

static struct dmabd_view *focused_view(struct dmabd_compositor *compositor)
{
	if (wl_list_empty(&compositor->views)) {
		return NULL;
	}
	struct dmabd_view *view = wl_container_of(compositor->views.next, view, link);
	return view;
}

static void view_focus(struct dmabd_view *view)
{
	struct dmabd_compositor *compositor = view->compositor;
	struct dmabd_view *previous = focused_view(compositor);
	if (previous != NULL && previous != view) {
		compat_xdg_toplevel_set_activated(previous->xdg_surface, false);
	}
	/* An unmapped view's link is empty, so this also adds a newly mapped one. */
	wl_list_remove(&view->link);
	wl_list_insert(&compositor->views, &view->link);
	wlr_scene_node_raise_to_top(view->scene_node);
	compat_xdg_toplevel_set_activated(view->xdg_surface, true);
	seat_focus(compositor, view->xdg_surface->surface);
}

static void view_handle_map(struct wl_listener *listener, void *data)
{
	struct dmabd_view *view = wl_container_of(listener, view, map);
	if (!view->placed) {
		view_place(view);
	}
	view_focus(view);
}

static void view_handle_unmap(struct wl_listener *listener, void *data)
{
	struct dmabd_view *view = wl_container_of(listener, view, unmap);
	struct dmabd_compositor *compositor = view->compositor;
	bool was_focused = focused_view(compositor) == view;
	wl_list_remove(&view->link);
	wl_list_init(&view->link);
	if (!was_focused) {
		return;
	}
	struct dmabd_view *next = focused_view(compositor);
	if (next != NULL) {
		view_focus(next);
	} else {
		seat_focus(compositor, NULL);
	}
}

static void view_handle_destroy(struct wl_listener *listener, void *data)
{
	struct dmabd_view *view = wl_container_of(listener, view, destroy);
	wl_list_remove(&view->map.link);
	wl_list_remove(&view->unmap.link);
	wl_list_remove(&view->commit.link);
	wl_list_remove(&view->destroy.link);
	wl_list_remove(&view->request_maximize.link);
	wl_list_remove(&view->request_fullscreen.link);
	wl_list_remove(&view->link);
	free(view);
}

static void view_reply_configure(struct dmabd_view *view)
{
	/* xdg-shell wants a configure in reply even when the state is refused. */
	if (view->xdg_surface->configured) {
		wlr_xdg_surface_schedule_configure(view->xdg_surface);
	}
}

static void view_handle_request_maximize(struct wl_listener *listener, void *data)
{
	struct dmabd_view *view = wl_container_of(listener, view, request_maximize);
	view_reply_configure(view);
}

static void view_handle_request_fullscreen(struct wl_listener *listener, void *data)
{
	struct dmabd_view *view = wl_container_of(listener, view, request_fullscreen);
	view_reply_configure(view);
}

static void view_handle_commit(struct wl_listener *listener, void *data)
{
	struct dmabd_view *view = wl_container_of(listener, view, commit);
	if (compat_xdg_surface_needs_initial_configure(view->xdg_surface)) {
		/* Size 0x0: the client chooses. */
		wlr_xdg_surface_schedule_configure(view->xdg_surface);
	}
}

void view_create(struct dmabd_compositor *compositor, struct wlr_xdg_surface *xdg_surface)
{
	struct dmabd_view *view = calloc(1, sizeof(*view));
	if (view == NULL) {
		wl_resource_post_no_memory(xdg_surface->resource);
		return;
	}
	view->scene_node = compat_scene_xdg_surface_create(compat_scene_root(compositor->scene),
		xdg_surface);
	if (view->scene_node == NULL) {
		free(view);
		wl_resource_post_no_memory(xdg_surface->resource);
		return;
	}
	view->compositor = compositor;
	view->xdg_surface = xdg_surface;
	/* Popups find their parent's scene node here. */
	xdg_surface->data = view->scene_node;
	wl_list_init(&view->link);

	view->map.notify = view_handle_map;
	wl_signal_add(compat_xdg_surface_map_signal(xdg_surface), &view->map);
	view->unmap.notify = view_handle_unmap;
	wl_signal_add(compat_xdg_surface_unmap_signal(xdg_surface), &view->unmap);
	view->commit.notify = view_handle_commit;
	wl_signal_add(&xdg_surface->surface->events.commit, &view->commit);
	view->destroy.notify = view_handle_destroy;
	wl_signal_add(&xdg_surface->events.destroy, &view->destroy);
	struct wlr_xdg_toplevel *toplevel = xdg_surface->toplevel;
	view->request_maximize.notify = view_handle_request_maximize;
	wl_signal_add(&toplevel->events.request_maximize, &view->request_maximize);
	view->request_fullscreen.notify = view_handle_request_fullscreen;
	wl_signal_add(&toplevel->events.request_fullscreen, &view->request_fullscreen);
}

/* A popup needs its initial configure; its scene node goes with its xdg_surface. */
struct dmabd_popup {
	struct wlr_xdg_surface *xdg_surface;
	struct wl_listener commit;
	struct wl_listener destroy;
};

static void popup_handle_commit(struct wl_listener *listener, void *data)
{
	struct dmabd_popup *popup = wl_container_of(listener, popup, commit);
	if (compat_xdg_surface_needs_initial_configure(popup->xdg_surface)) {
		wlr_xdg_surface_schedule_configure(popup->xdg_surface);
	}
}

static void popup_handle_destroy(struct wl_listener *listener, void *data)
{
	struct dmabd_popup *popup = wl_container_of(listener, popup, destroy);
	wl_list_remove(&popup->commit.link);
	wl_list_remove(&popup->destroy.link);
	free(popup);
}

void popup_create(struct wlr_xdg_surface *xdg_surface)
{
	struct dmabd_popup *popup = calloc(1, sizeof(*popup));
	if (popup == NULL) {
		wl_resource_post_no_memory(xdg_surface->resource);
		return;
	}
	popup->xdg_surface = xdg_surface;
	popup->commit.notify = popup_handle_commit;
	wl_signal_add(&xdg_surface->surface->events.commit, &popup->commit);
	popup->destroy.notify = popup_handle_destroy;
	wl_signal_add(&xdg_surface->events.destroy, &popup->destroy);

	struct wlr_surface *parent = xdg_surface->popup->parent;
	struct wlr_xdg_surface *xdg_parent =
		parent != NULL ? compat_xdg_surface_from_surface(parent) : NULL;
	struct wlr_scene_node *parent_node = xdg_parent != NULL ? xdg_parent->data : NULL;
	if (parent_node == NULL) {
		return;
	}
	xdg_surface->data = compat_scene_xdg_surface_create(parent_node, xdg_surface);
	if (xdg_surface->data == NULL) {
		wl_resource_post_no_memory(xdg_surface->resource);
	}
}
