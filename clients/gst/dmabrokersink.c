/* SPDX-License-Identifier: MIT */
/*
 * dmabrokersink: renders raw video into a ring of broker buffers.
 *
 * The sink offers upstream a buffer pool whose memory is the broker mapping of
 * the ring's buffers, so upstream writes each frame straight into broker
 * storage. A buffer leaves the pool inside a WRITE bracket (begun in
 * acquire_buffer, which waits for the buffer's readers, the compositor among
 * them) and the bracket ends when the sink renders it, or when it comes back
 * unrendered. Upstream that does not take the pool gets its frames copied into
 * the ring, inside the same bracket.
 *
 * Each rendered buffer is committed to a toplevel (show=true), and the ring's
 * read-only share tokens are published in the tokens property and, with
 * token-file, in a file, one per line, in ring order.
 *
 * Every call into libdmabroker-client runs under the sink's lock: the pool is
 * used from upstream's streaming thread, the sink from its own.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gst/video/gstvideosink.h>
#include <gst/video/video.h>
#include <wayland-client.h>

#include <dmabroker/client.h>

#include "dmabrokersink.h"
#include "formats.h"
#include "wait.h"
#include "window.h"

#define DEFAULT_BUFFERS 3
#define MAX_BUFFERS 8
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

GST_DEBUG_CATEGORY_STATIC(dmabrokersink_debug);
#define GST_CAT_DEFAULT dmabrokersink_debug

struct slot {
	struct dmab_client_buffer *buffer;
	struct dmab_client_attachment *att;
	struct dmab_client_token *token;
	gsize size; /* the end of the last plane */
	gboolean writing; /* inside a WRITE bracket */
};

struct _GstDmabrokerSink {
	GstVideoSink parent;

	gchar *display_name;
	guint n_buffers;
	gboolean show;
	gchar *token_file;

	GMutex lock;
	struct dmab_gst_waiter waiter;
	struct dmab_client *client;
	struct dmab_window *window;
	GstVideoInfo info;
	GstCaps *caps; /* of the ring */
	struct slot slots[MAX_BUFFERS];
	guint n_slots;
	guint next_alloc; /* the pool's next slot to wrap */
	guint next_copy; /* the slot the next copied frame goes to */
	guint generation; /* of the ring: a wait that outlived its ring gives up */
	GstBufferPool *pool;
	gchar *tokens;
	guint64 pooled, copied; /* frames rendered from the pool, and copied into the ring */
	guint32 seq; /* of the next frame's tag */
	GstBuffer *last_copied; /* a reference: the preroll frame comes twice */
	guint last; /* the slot of the last frame */
};

G_DEFINE_TYPE(GstDmabrokerSink, gst_dmabroker_sink, GST_TYPE_VIDEO_SINK)

enum {
	PROP_0,
	PROP_DISPLAY,
	PROP_BUFFERS,
	PROP_SHOW,
	PROP_TOKEN_FILE,
	PROP_TOKENS,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK,
	GST_PAD_ALWAYS, GST_STATIC_CAPS(DMAB_GST_CAPS));

static GQuark slot_quark;

/* --- the pool --- */

#define GST_TYPE_DMABROKER_POOL (gst_dmabroker_pool_get_type())
G_DECLARE_FINAL_TYPE(GstDmabrokerPool, gst_dmabroker_pool, GST, DMABROKER_POOL, GstBufferPool)

struct _GstDmabrokerPool {
	GstBufferPool parent;
	GstDmabrokerSink *sink; /* a reference until the sink stops */
};

G_DEFINE_TYPE(GstDmabrokerPool, gst_dmabroker_pool, GST_TYPE_BUFFER_POOL)

static guint buffer_slot(GstBuffer *buffer)
{
	return GPOINTER_TO_UINT(gst_mini_object_get_qdata(GST_MINI_OBJECT(buffer), slot_quark));
}

enum write_result {
	WRITE_OK,
	WRITE_ERROR, /* posted */
	WRITE_FLUSHING, /* the ring went away meanwhile */
};

/*
 * Begins the slot's WRITE bracket and waits for ready. Called and returns with
 * the lock held, but drops it while it waits: the readers it waits for may be
 * waiting for the frame the sink thread is rendering (the compositor releases
 * a buffer when the next frame is shown).
 */
static enum write_result begin_write(GstDmabrokerSink *sink, guint index)
{
	struct slot *slot = &sink->slots[index];
	int ret = dmab_gst_begin(&sink->lock, &sink->generation, &sink->waiter, sink->client,
		slot->att, WRITE, -1);
	if (ret == 1) {
		return WRITE_FLUSHING;
	}
	if (ret < 0) {
		GST_ELEMENT_ERROR(sink, RESOURCE, WRITE, ("The broker refused a write: %s",
			g_strerror(-ret)), ("begin_access(WRITE): %s",
			dmab_client_last_failure()->message));
		return WRITE_ERROR;
	}
	slot->writing = TRUE;
	return WRITE_OK;
}

/* Inside the slot's WRITE bracket: the tag row follows the video's rows in plane 0. */
static void write_tag(GstDmabrokerSink *sink, struct slot *slot, guint32 flags)
{
	struct dmab_client_plane plane;
	guint8 *data = dmab_client_attachment_get_plane(slot->att, 0, &plane);
	struct dmab_gst_tag tag = {
		.magic = GUINT32_TO_LE(DMAB_GST_TAG_MAGIC),
		.seq = GUINT32_TO_LE(sink->seq),
		.flags = GUINT32_TO_LE(flags),
	};
	memcpy(data + (gsize)GST_VIDEO_INFO_HEIGHT(&sink->info) * plane.stride, &tag, sizeof(tag));
	sink->seq++;
}

static void end_write(struct slot *slot)
{
	if (slot->writing) {
		dmab_client_attachment_end(slot->att);
		slot->writing = FALSE;
	}
}

/* Wraps the next slot's mapping: the plane layout is the broker's, told by the video meta. */
static GstFlowReturn pool_alloc_buffer(GstBufferPool *pool, GstBuffer **out,
	GstBufferPoolAcquireParams *params)
{
	GstDmabrokerPool *self = GST_DMABROKER_POOL(pool);
	GstDmabrokerSink *sink = self->sink;
	if (sink == NULL) {
		return GST_FLOW_FLUSHING;
	}
	g_mutex_lock(&sink->lock);
	if (sink->next_alloc >= sink->n_slots) {
		g_mutex_unlock(&sink->lock);
		return GST_FLOW_ERROR;
	}
	guint index = sink->next_alloc++;
	struct slot *slot = &sink->slots[index];
	gsize offsets[GST_VIDEO_MAX_PLANES] = { 0 };
	gint strides[GST_VIDEO_MAX_PLANES] = { 0 };
	struct dmab_client_plane plane;
	char *first = dmab_client_attachment_get_plane(slot->att, 0, &plane);
	char *base = first - plane.offset;
	guint n_planes = dmab_client_attachment_get_n_planes(slot->att);
	for (guint i = 0; i < n_planes; i++) {
		dmab_client_attachment_get_plane(slot->att, i, &plane);
		offsets[i] = plane.offset;
		strides[i] = (gint)plane.stride;
	}
	GstBuffer *buffer = gst_buffer_new();
	gst_buffer_append_memory(buffer, gst_memory_new_wrapped(0, base, slot->size, 0,
		slot->size, NULL, NULL));
	gst_buffer_add_video_meta_full(buffer, GST_VIDEO_FRAME_FLAG_NONE,
		GST_VIDEO_INFO_FORMAT(&sink->info), GST_VIDEO_INFO_WIDTH(&sink->info),
		GST_VIDEO_INFO_HEIGHT(&sink->info), n_planes, offsets, strides);
	gst_mini_object_set_qdata(GST_MINI_OBJECT(buffer), slot_quark,
		GUINT_TO_POINTER(index + 1), NULL);
	g_mutex_unlock(&sink->lock);
	*out = buffer;
	return GST_FLOW_OK;
}

/* Upstream writes from here on: the WRITE bracket begins, after the buffer's readers. */
static GstFlowReturn pool_acquire_buffer(GstBufferPool *pool, GstBuffer **out,
	GstBufferPoolAcquireParams *params)
{
	GstDmabrokerPool *self = GST_DMABROKER_POOL(pool);
	GstFlowReturn ret = GST_BUFFER_POOL_CLASS(gst_dmabroker_pool_parent_class)->
		acquire_buffer(pool, out, params);
	GstDmabrokerSink *sink = self->sink;
	if (ret != GST_FLOW_OK || sink == NULL) {
		return ret != GST_FLOW_OK ? ret : GST_FLOW_FLUSHING;
	}
	g_mutex_lock(&sink->lock);
	enum write_result result = begin_write(sink, buffer_slot(*out) - 1);
	g_mutex_unlock(&sink->lock);
	if (result != WRITE_OK) {
		GST_BUFFER_POOL_CLASS(gst_dmabroker_pool_parent_class)->release_buffer(pool,
			*out);
		*out = NULL;
		return result == WRITE_FLUSHING ? GST_FLOW_FLUSHING : GST_FLOW_ERROR;
	}
	return GST_FLOW_OK;
}

/* A buffer that comes back unrendered ends its bracket here. */
static void pool_release_buffer(GstBufferPool *pool, GstBuffer *buffer)
{
	GstDmabrokerSink *sink = GST_DMABROKER_POOL(pool)->sink;
	if (sink != NULL) {
		g_mutex_lock(&sink->lock);
		if (buffer_slot(buffer) != 0 && buffer_slot(buffer) <= sink->n_slots) {
			end_write(&sink->slots[buffer_slot(buffer) - 1]);
		}
		g_mutex_unlock(&sink->lock);
	}
	GST_BUFFER_POOL_CLASS(gst_dmabroker_pool_parent_class)->release_buffer(pool, buffer);
}

static void pool_finalize(GObject *object)
{
	GstDmabrokerPool *self = GST_DMABROKER_POOL(object);
	gst_clear_object(&self->sink);
	G_OBJECT_CLASS(gst_dmabroker_pool_parent_class)->finalize(object);
}

static void gst_dmabroker_pool_class_init(GstDmabrokerPoolClass *klass)
{
	GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS(klass);
	G_OBJECT_CLASS(klass)->finalize = pool_finalize;
	pool_class->alloc_buffer = pool_alloc_buffer;
	pool_class->acquire_buffer = pool_acquire_buffer;
	pool_class->release_buffer = pool_release_buffer;
}

static void gst_dmabroker_pool_init(GstDmabrokerPool *self)
{
}

/* --- the ring --- */

static void ring_destroy(GstDmabrokerSink *sink)
{
	/* The pool is inactive: ensure_ring and stop see to that. */
	if (sink->pool != NULL) {
		GstDmabrokerPool *pool = GST_DMABROKER_POOL(sink->pool);
		gst_clear_object(&pool->sink);
		gst_clear_object(&sink->pool);
	}
	for (guint i = 0; i < sink->n_slots; i++) {
		/* Destroying the buffer destroys its attachment and token too. */
		dmab_client_buffer_destroy(sink->slots[i].buffer);
		sink->slots[i] = (struct slot){ 0 };
	}
	sink->n_slots = 0;
	sink->seq = 0;
	gst_buffer_replace(&sink->last_copied, NULL);
	sink->generation++;
	sink->next_alloc = 0;
	sink->next_copy = 0;
	gst_clear_caps(&sink->caps);
	g_clear_pointer(&sink->tokens, g_free);
}

static gboolean slot_create(GstDmabrokerSink *sink, struct slot *slot, guint index)
{
	guint32 fourcc = dmab_gst_format_to_fourcc(GST_VIDEO_INFO_FORMAT(&sink->info));
	gchar name[32];
	g_snprintf(name, sizeof(name), "dmabrokersink/%u", index);
	slot->buffer = dmab_client_buffer_create(sink->client, GST_VIDEO_INFO_WIDTH(&sink->info),
		GST_VIDEO_INFO_HEIGHT(&sink->info) + DMAB_GST_TAG_ROWS, fourcc,
		DMABROKER_MANAGER_V1_USAGE_CPU_WRITE | DMABROKER_MANAGER_V1_USAGE_COMPOSITE |
		DMABROKER_MANAGER_V1_USAGE_SHARE, name);
	if (slot->buffer == NULL) {
		return FALSE;
	}
	struct dmab_client_constraints constraints = { .max_planes = DMAB_CLIENT_MAX_PLANES };
	slot->att = dmab_client_attachment_create(slot->buffer, RW, &constraints);
	if (slot->att == NULL || dmab_client_attachment_map(slot->att, WRITE) < 0) {
		return FALSE;
	}
	for (guint i = 0; i < dmab_client_attachment_get_n_planes(slot->att); i++) {
		struct dmab_client_plane plane;
		dmab_client_attachment_get_plane(slot->att, i, &plane);
		slot->size = MAX(slot->size, (gsize)plane.offset + plane.size);
	}
	slot->token = dmab_client_token_create(slot->buffer, DMABROKER_BUFFER_V1_ACCESS_READ);
	return slot->token != NULL;
}

/* Written to a new file, then renamed: a reader never sees half the tokens. */
static gboolean write_token_file(GstDmabrokerSink *sink)
{
	gchar *tmp = g_strdup_printf("%s.tmp", sink->token_file);
	GError *error = NULL;
	gboolean ok = g_file_set_contents(tmp, sink->tokens, -1, &error) &&
		g_rename(tmp, sink->token_file) == 0;
	if (!ok) {
		GST_ELEMENT_ERROR(sink, RESOURCE, OPEN_WRITE, ("Cannot write %s",
			sink->token_file), ("%s", error != NULL ? error->message :
			g_strerror(errno)));
	}
	g_clear_error(&error);
	g_free(tmp);
	return ok;
}

static gboolean ring_create(GstDmabrokerSink *sink, GstCaps *caps)
{
	GString *tokens = g_string_new(NULL);
	for (guint i = 0; i < sink->n_buffers; i++) {
		sink->n_slots = i + 1;
		if (!slot_create(sink, &sink->slots[i], i)) {
			GST_ELEMENT_ERROR(sink, RESOURCE, SETTINGS, ("Cannot make broker buffer %u",
				i), ("%s", dmab_client_last_failure()->message));
			g_string_free(tokens, TRUE);
			return FALSE;
		}
		g_string_append_printf(tokens, "%s\n",
			dmab_client_token_get_string(sink->slots[i].token));
	}
	sink->tokens = g_string_free(tokens, FALSE);
	sink->caps = gst_caps_ref(caps);
	if (sink->token_file != NULL && !write_token_file(sink)) {
		return FALSE;
	}
	GstDmabrokerPool *pool = g_object_new(GST_TYPE_DMABROKER_POOL, NULL);
	pool->sink = gst_object_ref(sink);
	sink->pool = GST_BUFFER_POOL(pool);
	GstStructure *config = gst_buffer_pool_get_config(sink->pool);
	gst_buffer_pool_config_set_params(config, caps, (guint)sink->slots[0].size, sink->n_slots,
		sink->n_slots);
	gst_buffer_pool_config_add_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
	return gst_buffer_pool_set_config(sink->pool, config);
}

/* Under the lock. */
static gboolean ensure_ring(GstDmabrokerSink *sink, GstCaps *caps)
{
	if (sink->caps != NULL && gst_caps_is_equal(sink->caps, caps)) {
		return TRUE;
	}
	GstVideoInfo info;
	if (!gst_video_info_from_caps(&info, caps)) {
		return FALSE;
	}
	if (sink->pool != NULL && gst_buffer_pool_is_active(sink->pool)) {
		GST_ELEMENT_ERROR(sink, CORE, NEGOTIATION, ("Caps changed while the pool is in use"),
			(NULL));
		return FALSE;
	}
	ring_destroy(sink);
	sink->info = info;
	if (!ring_create(sink, caps)) {
		ring_destroy(sink);
		return FALSE;
	}
	if (sink->show && sink->window == NULL) {
		sink->window = dmab_window_create(dmab_client_get_display(sink->client),
			"dmabrokersink", (uint32_t)GST_VIDEO_INFO_WIDTH(&info),
			(uint32_t)GST_VIDEO_INFO_HEIGHT(&info));
		if (sink->window == NULL) {
			GST_ELEMENT_ERROR(sink, RESOURCE, OPEN_WRITE, ("Cannot open a window"),
				("%s", g_strerror(errno)));
			return FALSE;
		}
	}
	return TRUE;
}

/* --- GstBaseSink --- */

static gboolean sink_start(GstBaseSink *bsink)
{
	GstDmabrokerSink *sink = GST_DMABROKER_SINK(bsink);
	dmab_gst_waiter_set_flushing(&sink->waiter, FALSE);
	g_mutex_lock(&sink->lock);
	sink->client = dmab_client_connect(sink->display_name);
	if (sink->client != NULL) {
		dmab_gst_waiter_attach(&sink->waiter, sink->client);
	}
	g_mutex_unlock(&sink->lock);
	if (sink->client == NULL) {
		GST_ELEMENT_ERROR(sink, RESOURCE, OPEN_READ_WRITE, ("Cannot connect to a broker"),
			("display %s: %s", sink->display_name ? sink->display_name :
			"$WAYLAND_DISPLAY", g_strerror(errno)));
		return FALSE;
	}
	return TRUE;
}

static gboolean sink_stop(GstBaseSink *bsink)
{
	GstDmabrokerSink *sink = GST_DMABROKER_SINK(bsink);
	/* A WRITE bracket that upstream's thread waits for gives up at once. */
	dmab_gst_waiter_set_flushing(&sink->waiter, TRUE);
	g_mutex_lock(&sink->lock);
	GstBufferPool *pool = sink->pool != NULL ? gst_object_ref(sink->pool) : NULL;
	g_mutex_unlock(&sink->lock);
	/* Deactivating releases buffers into the pool, which takes the lock. */
	if (pool != NULL) {
		gst_buffer_pool_set_active(pool, FALSE);
		gst_object_unref(pool);
	}
	g_mutex_lock(&sink->lock);
	/* Upstream's thread may still wait for a WRITE bracket: it leaves the connection first. */
	dmab_gst_waiter_drain(&sink->waiter, &sink->lock);
	GST_INFO_OBJECT(sink, "%" G_GUINT64_FORMAT " frames from the pool, %" G_GUINT64_FORMAT
		" copied", sink->pooled, sink->copied);
	sink->pooled = sink->copied = 0;
	ring_destroy(sink);
	if (sink->window != NULL) {
		dmab_window_destroy(sink->window);
		sink->window = NULL;
	}
	dmab_gst_waiter_detach(&sink->waiter);
	dmab_client_destroy(sink->client);
	sink->client = NULL;
	g_mutex_unlock(&sink->lock);
	if (sink->token_file != NULL) {
		g_unlink(sink->token_file);
	}
	return TRUE;
}

static gboolean sink_set_caps(GstBaseSink *bsink, GstCaps *caps)
{
	GstDmabrokerSink *sink = GST_DMABROKER_SINK(bsink);
	g_mutex_lock(&sink->lock);
	gboolean ok = sink->client != NULL && ensure_ring(sink, caps);
	g_mutex_unlock(&sink->lock);
	if (ok) {
		g_object_notify(G_OBJECT(sink), "tokens");
	}
	return ok;
}

static gboolean sink_propose_allocation(GstBaseSink *bsink, GstQuery *query)
{
	GstDmabrokerSink *sink = GST_DMABROKER_SINK(bsink);
	GstCaps *caps;
	gboolean need_pool;
	gst_query_parse_allocation(query, &caps, &need_pool);
	if (caps == NULL) {
		return FALSE;
	}
	g_mutex_lock(&sink->lock);
	gboolean ok = sink->client != NULL && ensure_ring(sink, caps);
	if (ok && need_pool) {
		gst_query_add_allocation_pool(query, sink->pool, (guint)sink->slots[0].size,
			sink->n_slots, sink->n_slots);
	}
	g_mutex_unlock(&sink->lock);
	gst_query_add_allocation_meta(query, GST_VIDEO_META_API_TYPE, NULL);
	return ok;
}

/* A frame from a buffer of upstream's own: copied into the next slot, plane by plane. */
static GstFlowReturn copy_frame(GstDmabrokerSink *sink, GstBuffer *buffer, guint *index)
{
	*index = sink->next_copy;
	sink->next_copy = (sink->next_copy + 1) % sink->n_slots;
	GstVideoFrame frame;
	if (!gst_video_frame_map(&frame, &sink->info, buffer, GST_MAP_READ)) {
		GST_ELEMENT_ERROR(sink, STREAM, FAILED, ("Cannot map the frame"), (NULL));
		return GST_FLOW_ERROR;
	}
	enum write_result result = begin_write(sink, *index);
	if (result != WRITE_OK) {
		gst_video_frame_unmap(&frame);
		return result == WRITE_FLUSHING ? GST_FLOW_FLUSHING : GST_FLOW_ERROR;
	}
	struct slot *slot = &sink->slots[*index];
	for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&frame); p++) {
		struct dmab_client_plane plane;
		guint8 *dst = dmab_client_attachment_get_plane(slot->att, p, &plane);
		const guint8 *src = GST_VIDEO_FRAME_PLANE_DATA(&frame, p);
		gint src_stride = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, p);
		guint rows = GST_VIDEO_FRAME_COMP_HEIGHT(&frame, p);
		gsize row = MIN((gsize)ABS(src_stride), plane.stride);
		for (guint y = 0; y < rows; y++) {
			memcpy(dst + (gsize)y * plane.stride, src + (gssize)y * src_stride, row);
		}
	}
	gst_video_frame_unmap(&frame);
	write_tag(sink, slot, 0);
	end_write(slot);
	return GST_FLOW_OK;
}

static GstFlowReturn sink_show_frame(GstVideoSink *vsink, GstBuffer *buffer)
{
	GstDmabrokerSink *sink = GST_DMABROKER_SINK(vsink);
	GstFlowReturn ret = GST_FLOW_OK;
	g_mutex_lock(&sink->lock);
	guint index = buffer_slot(buffer);
	if (index != 0 && buffer->pool == sink->pool && index <= sink->n_slots) {
		index--;
		/* The preroll frame is shown twice: it is tagged once, while it is written. */
		if (sink->slots[index].writing) {
			write_tag(sink, &sink->slots[index], 0);
			end_write(&sink->slots[index]);
		}
		sink->pooled++;
	} else if (buffer == sink->last_copied) {
		index = sink->last;
	} else {
		ret = copy_frame(sink, buffer, &index);
		sink->copied += ret == GST_FLOW_OK;
		gst_buffer_replace(&sink->last_copied, ret == GST_FLOW_OK ? buffer : NULL);
	}
	if (ret == GST_FLOW_OK) {
		sink->last = index;
	}
	if (ret == GST_FLOW_OK && sink->window != NULL) {
		struct wl_display *display = dmab_client_get_display(sink->client);
		dmab_window_present(sink->window,
			dmab_client_buffer_get_wl_buffer(sink->slots[index].buffer));
		/* Pings, configures and frame callbacks of the window. */
		if (!dmab_gst_dispatch_pending(sink->client)) {
			GST_ELEMENT_ERROR(sink, RESOURCE, WRITE, ("Lost the broker"),
				("%s", g_strerror(wl_display_get_error(display))));
			ret = GST_FLOW_ERROR;
		}
	}
	g_mutex_unlock(&sink->lock);
	return ret;
}

/*
 * The end of the stream, tagged in the slot after the last frame's, once its
 * readers are done with it: a reader that comes to it stops.
 */
static void tag_eos(GstDmabrokerSink *sink)
{
	guint index = (sink->last + 1) % sink->n_slots;
	if (sink->slots[index].writing || begin_write(sink, index) != WRITE_OK) {
		return;
	}
	write_tag(sink, &sink->slots[index], DMAB_GST_TAG_EOS);
	end_write(&sink->slots[index]);
}

static gboolean sink_event(GstBaseSink *bsink, GstEvent *event)
{
	GstDmabrokerSink *sink = GST_DMABROKER_SINK(bsink);
	if (GST_EVENT_TYPE(event) == GST_EVENT_EOS) {
		g_mutex_lock(&sink->lock);
		if (sink->n_slots > 0) {
			tag_eos(sink);
		}
		g_mutex_unlock(&sink->lock);
	}
	return GST_BASE_SINK_CLASS(gst_dmabroker_sink_parent_class)->event(bsink, event);
}

/* --- GObject --- */

static void sink_set_property(GObject *object, guint id, const GValue *value,
	GParamSpec *pspec)
{
	GstDmabrokerSink *sink = GST_DMABROKER_SINK(object);
	switch (id) {
	case PROP_DISPLAY:
		g_free(sink->display_name);
		sink->display_name = g_value_dup_string(value);
		break;
	case PROP_BUFFERS:
		sink->n_buffers = g_value_get_uint(value);
		break;
	case PROP_SHOW:
		sink->show = g_value_get_boolean(value);
		break;
	case PROP_TOKEN_FILE:
		g_free(sink->token_file);
		sink->token_file = g_value_dup_string(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
	}
}

static void sink_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
	GstDmabrokerSink *sink = GST_DMABROKER_SINK(object);
	switch (id) {
	case PROP_DISPLAY:
		g_value_set_string(value, sink->display_name);
		break;
	case PROP_BUFFERS:
		g_value_set_uint(value, sink->n_buffers);
		break;
	case PROP_SHOW:
		g_value_set_boolean(value, sink->show);
		break;
	case PROP_TOKEN_FILE:
		g_value_set_string(value, sink->token_file);
		break;
	case PROP_TOKENS:
		g_mutex_lock(&sink->lock);
		g_value_set_string(value, sink->tokens);
		g_mutex_unlock(&sink->lock);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
	}
}

static void sink_finalize(GObject *object)
{
	GstDmabrokerSink *sink = GST_DMABROKER_SINK(object);
	g_free(sink->display_name);
	g_free(sink->token_file);
	dmab_gst_waiter_finish(&sink->waiter);
	g_mutex_clear(&sink->lock);
	G_OBJECT_CLASS(gst_dmabroker_sink_parent_class)->finalize(object);
}

static void gst_dmabroker_sink_class_init(GstDmabrokerSinkClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
	GstBaseSinkClass *base_class = GST_BASE_SINK_CLASS(klass);
	GstVideoSinkClass *video_class = GST_VIDEO_SINK_CLASS(klass);

	GST_DEBUG_CATEGORY_INIT(dmabrokersink_debug, "dmabrokersink", 0, "dmabroker sink");
	slot_quark = g_quark_from_static_string("dmabrokersink-slot");
	object_class->set_property = sink_set_property;
	object_class->get_property = sink_get_property;
	object_class->finalize = sink_finalize;

	g_object_class_install_property(object_class, PROP_DISPLAY,
		g_param_spec_string("display", "Display",
			"Wayland display of the broker (NULL: $WAYLAND_DISPLAY)", NULL,
			G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(object_class, PROP_BUFFERS,
		g_param_spec_uint("buffers", "Buffers", "Broker buffers in the ring", 2,
			MAX_BUFFERS, DEFAULT_BUFFERS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(object_class, PROP_SHOW,
		g_param_spec_boolean("show", "Show",
			"Show every frame in a window on the broker's compositor", TRUE,
			G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(object_class, PROP_TOKEN_FILE,
		g_param_spec_string("token-file", "Token file",
			"Write the ring's read-only share tokens here, one per line, once the "
			"caps are known; removed when the sink stops", NULL,
			G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(object_class, PROP_TOKENS,
		g_param_spec_string("tokens", "Tokens",
			"The ring's read-only share tokens, one per line, in ring order", NULL,
			G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

	gst_element_class_set_static_metadata(element_class, "dmabroker video sink",
		"Sink/Video", "Renders raw video into a ring of dmabroker buffers, shows it "
		"and shares it by token", "the dmabroker developers");
	gst_element_class_add_static_pad_template(element_class, &sink_template);

	base_class->start = sink_start;
	base_class->stop = sink_stop;
	base_class->set_caps = sink_set_caps;
	base_class->propose_allocation = sink_propose_allocation;
	base_class->event = sink_event;
	video_class->show_frame = sink_show_frame;
}

static void gst_dmabroker_sink_init(GstDmabrokerSink *sink)
{
	g_mutex_init(&sink->lock);
	dmab_gst_waiter_init(&sink->waiter);
	sink->n_buffers = DEFAULT_BUFFERS;
	sink->show = TRUE;
}
