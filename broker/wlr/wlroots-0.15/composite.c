/* SPDX-License-Identifier: MIT */
/*
 * Compositing an output with pixman at the memory limit (wlroots 0.15).
 *
 * wlr_scene_output_commit clears every damaged rectangle, then draws each
 * surface with wlr_render_texture_with_matrix: with pixman, a solid fill of
 * the damage and then a transformed OVER composite of the same pixels. The
 * float matrix of a surface that is not at the output's origin is not an exact
 * integer translation once inverted, so pixman also leaves its SIMD blit for a
 * per-pixel fetch loop there. This writes each damaged pixel once instead: the
 * topmost surface that is opaque over it copies it (PIXMAN_OP_SRC at an
 * integer offset, pixman's blit), the background fills only what no opaque
 * surface covers, and translucent surfaces blend over what lies below.
 *
 * Whatever it does not handle goes to wlr_scene_output_commit unchanged: a
 * renderer other than pixman, a transformed or scaled output, a surface with
 * a buffer transform, scale or viewport, scene rectangles and buffers, and a
 * surface that exactly covers the output (the scene scans that one out).
 */
#include <drm_fourcc.h>
#include <pixman.h>
#include <stdlib.h>
#include <wlr/render/pixman.h>
#include <wlr/render/wlr_renderer.h>
#include <wlr/types/wlr_buffer.h>
#include <wlr/types/wlr_output.h>
#include <wlr/types/wlr_output_damage.h>
#include <wlr/types/wlr_scene.h>
#include <wlr/types/wlr_surface.h>
#include <wlr/util/box.h>

#include "daemon.h"

/* wlr_scene_output_commit's clear colour: opaque black. */
static const pixman_color_t background = { 0, 0, 0, 0xffff };

struct layer {
	struct wlr_surface *surface;
	struct wlr_box box;        /* output-local */
	pixman_region32_t visible; /* damaged, and not under an opaque surface above */
	pixman_region32_t opaque;  /* output-local */
};

struct frame {
	struct wlr_box output_box; /* in scene coordinates */
	struct layer *layers;      /* bottom to top */
	size_t len, cap;
	bool unsupported;
};

static bool surface_supported(const struct wlr_surface *surface)
{
	const struct wlr_surface_state *state = &surface->current;
	return state->scale == 1 && state->transform == WL_OUTPUT_TRANSFORM_NORMAL &&
		!state->viewport.has_src && !state->viewport.has_dst &&
		state->buffer_width == state->width && state->buffer_height == state->height;
}

static void add_surface(struct frame *frame, struct wlr_surface *surface, int x, int y)
{
	if (surface->buffer == NULL) {
		return; /* nothing to draw, as for the scene */
	}
	struct wlr_box box = {
		.x = x - frame->output_box.x,
		.y = y - frame->output_box.y,
		.width = surface->current.width,
		.height = surface->current.height,
	};
	bool covers_output = box.x == 0 && box.y == 0 &&
		box.width == frame->output_box.width && box.height == frame->output_box.height;
	if (!surface_supported(surface) || covers_output) {
		frame->unsupported = true;
		return;
	}
	if (frame->len == frame->cap) {
		size_t cap = frame->cap == 0 ? 8 : frame->cap * 2;
		struct layer *layers = realloc(frame->layers, cap * sizeof(*layers));
		if (layers == NULL) {
			frame->unsupported = true;
			return;
		}
		frame->layers = layers;
		frame->cap = cap;
	}
	struct layer *layer = &frame->layers[frame->len++];
	layer->surface = surface;
	layer->box = box;
	pixman_region32_init(&layer->visible);
	pixman_region32_init(&layer->opaque);
	pixman_region32_copy(&layer->opaque, &surface->opaque_region);
	pixman_region32_translate(&layer->opaque, box.x, box.y);
}

/* The order wlr_scene_render_output draws in: a node, then its children. */
static void collect(struct frame *frame, struct wlr_scene_node *node, int x, int y)
{
	if (!node->state.enabled || frame->unsupported) {
		return;
	}
	x += node->state.x;
	y += node->state.y;
	switch (node->type) {
	case WLR_SCENE_NODE_ROOT:
	case WLR_SCENE_NODE_TREE:
		break;
	case WLR_SCENE_NODE_SURFACE:
		add_surface(frame, wlr_scene_surface_from_node(node)->surface, x, y);
		break;
	default:
		frame->unsupported = true;
		return;
	}
	struct wlr_scene_node *child;
	wl_list_for_each(child, &node->state.children, state.link) {
		collect(frame, child, x, y);
	}
}

static void frame_finish(struct frame *frame)
{
	for (size_t i = 0; i < frame->len; i++) {
		pixman_region32_fini(&frame->layers[i].visible);
		pixman_region32_fini(&frame->layers[i].opaque);
	}
	free(frame->layers);
}

static pixman_format_code_t pixman_format(uint32_t drm_format)
{
	switch (drm_format) {
	case DRM_FORMAT_ARGB8888:
		return PIXMAN_a8r8g8b8;
	case DRM_FORMAT_XRGB8888:
		return PIXMAN_x8r8g8b8;
	case DRM_FORMAT_ABGR8888:
		return PIXMAN_a8b8g8r8;
	case DRM_FORMAT_XBGR8888:
		return PIXMAN_x8b8g8r8;
	case DRM_FORMAT_RGB565:
		return PIXMAN_r5g6b5;
	default:
		return 0;
	}
}

/*
 * The surface's pixels as a pixman image with no transform. The renderer reads
 * a client buffer's source through the data pointer (the broker adapter's
 * READ bracket spans the whole time the frame is shown); a source that is gone
 * left its pixels in the texture. *source is the buffer to end access on.
 */
static pixman_image_t *layer_image(const struct layer *layer, struct wlr_buffer **source)
{
	struct wlr_client_buffer *client_buffer = layer->surface->buffer;
	*source = NULL;
	if (client_buffer->source != NULL) {
		struct wlr_buffer *buffer = client_buffer->source;
		void *data;
		uint32_t format;
		size_t stride;
		if (!wlr_buffer_begin_data_ptr_access(buffer, WLR_BUFFER_DATA_PTR_ACCESS_READ,
				&data, &format, &stride)) {
			return NULL;
		}
		pixman_image_t *image = NULL;
		if (pixman_format(format) != 0) {
			image = pixman_image_create_bits_no_clear(pixman_format(format),
				buffer->width, buffer->height, data, (int)stride);
		}
		if (image == NULL) {
			wlr_buffer_end_data_ptr_access(buffer);
			return NULL;
		}
		*source = buffer;
		return image;
	}
	struct wlr_texture *texture = client_buffer->texture;
	if (texture == NULL || !wlr_texture_is_pixman(texture)) {
		return NULL;
	}
	pixman_image_t *image = pixman_image_ref(wlr_pixman_texture_get_image(texture));
	/* The renderer leaves its last matrix on the image. */
	pixman_image_set_transform(image, NULL);
	return image;
}

static void composite_region(pixman_op_t op, pixman_image_t *src, pixman_image_t *dst,
	const struct wlr_box *box, pixman_region32_t *region)
{
	int nrects;
	pixman_box32_t *rects = pixman_region32_rectangles(region, &nrects);
	for (int i = 0; i < nrects; i++) {
		const pixman_box32_t *r = &rects[i];
		pixman_image_composite32(op, src, NULL, dst, r->x1 - box->x, r->y1 - box->y, 0, 0,
			r->x1, r->y1, r->x2 - r->x1, r->y2 - r->y1);
	}
}

static void fill_region(pixman_image_t *dst, pixman_region32_t *region)
{
	int nrects;
	pixman_box32_t *rects = pixman_region32_rectangles(region, &nrects);
	if (nrects > 0) {
		pixman_image_fill_boxes(PIXMAN_OP_SRC, dst, &background, nrects, rects);
	}
}

/* Opaque parts are copied; the rest blends over what was drawn below it. */
static void draw_layer(struct layer *layer, pixman_image_t *dst)
{
	struct wlr_buffer *source;
	pixman_image_t *image = layer_image(layer, &source);
	if (image == NULL) {
		/* The scene would have drawn nothing here, over its clear. */
		fill_region(dst, &layer->visible);
		return;
	}
	pixman_region32_t part;
	pixman_region32_init(&part);
	pixman_region32_intersect(&part, &layer->visible, &layer->opaque);
	composite_region(PIXMAN_OP_SRC, image, dst, &layer->box, &part);
	pixman_region32_subtract(&part, &layer->visible, &layer->opaque);
	composite_region(PIXMAN_OP_OVER, image, dst, &layer->box, &part);
	pixman_region32_fini(&part);
	pixman_image_unref(image);
	if (source != NULL) {
		wlr_buffer_end_data_ptr_access(source);
	}
}

/* Top to bottom, each layer sees the damage that no opaque layer above it covers. */
static void draw_frame(struct frame *frame, pixman_region32_t *damage, pixman_image_t *dst)
{
	pixman_region32_t covered;
	pixman_region32_init(&covered);
	for (size_t i = frame->len; i-- > 0;) {
		struct layer *layer = &frame->layers[i];
		pixman_region32_init_rect(&layer->visible, layer->box.x, layer->box.y,
			(unsigned)layer->box.width, (unsigned)layer->box.height);
		pixman_region32_intersect(&layer->visible, &layer->visible, damage);
		pixman_region32_subtract(&layer->visible, &layer->visible, &covered);
		pixman_region32_union(&covered, &covered, &layer->opaque);
	}
	pixman_region32_t uncovered;
	pixman_region32_init(&uncovered);
	pixman_region32_subtract(&uncovered, damage, &covered);
	fill_region(dst, &uncovered);
	pixman_region32_fini(&uncovered);
	pixman_region32_fini(&covered);
	for (size_t i = 0; i < frame->len; i++) {
		draw_layer(&frame->layers[i], dst);
	}
}

static bool render_frame(struct wlr_scene_output *scene_output, struct wlr_renderer *renderer,
	struct frame *frame)
{
	struct wlr_output *output = scene_output->output;
	if (scene_output->prev_scanout) {
		/* Back from direct scan-out, the render buffers are stale, as the scene knows. */
		wlr_output_damage_add_whole(scene_output->damage);
		scene_output->prev_scanout = false;
	}
	bool needs_frame;
	pixman_region32_t damage;
	pixman_region32_init(&damage);
	if (!wlr_output_damage_attach_render(scene_output->damage, &needs_frame, &damage)) {
		pixman_region32_fini(&damage);
		return false;
	}
	if (!needs_frame) {
		pixman_region32_fini(&damage);
		wlr_output_rollback(output);
		return true;
	}
	wlr_renderer_begin(renderer, (uint32_t)output->width, (uint32_t)output->height);
	wlr_renderer_scissor(renderer, NULL);
	draw_frame(frame, &damage, wlr_pixman_renderer_get_current_image(renderer));
	wlr_output_render_software_cursors(output, &damage);
	wlr_renderer_end(renderer);
	pixman_region32_fini(&damage);
	wlr_output_set_damage(output, &scene_output->damage->current);
	return wlr_output_commit(output);
}

bool composite_output_commit(struct wlr_scene_output *scene_output)
{
	struct wlr_output *output = scene_output->output;
	struct wlr_renderer *renderer = output->renderer;
	struct frame frame = {
		.output_box = { .x = scene_output->x, .y = scene_output->y,
			.width = output->width, .height = output->height },
	};
	bool plain_output = renderer != NULL && wlr_renderer_is_pixman(renderer) && output->scale == 1.0f &&
		output->transform == WL_OUTPUT_TRANSFORM_NORMAL;
	if (plain_output) {
		collect(&frame, &scene_output->scene->node, 0, 0);
	}
	bool ok;
	if (!plain_output || frame.unsupported) {
		ok = wlr_scene_output_commit(scene_output);
	} else {
		ok = render_frame(scene_output, renderer, &frame);
	}
	frame_finish(&frame);
	return ok;
}
