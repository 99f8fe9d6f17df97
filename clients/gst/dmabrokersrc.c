/* SPDX-License-Identifier: MIT */
/*
 * dmabrokersrc: imports the ring of a dmabrokersink by its tokens and pushes
 * its frames downstream, in order, each inside a READ bracket.
 *
 * Frame n is the ring buffer whose tag (formats.h) says n: the source looks in
 * the buffer after the last one first, then in the others. A READ bracket on
 * a buffer the sink is writing waits for the write to end, so a tag read
 * inside the bracket is that of a whole frame. A buffer whose tag is older is
 * not written yet: the source waits and looks again; newer, the source fell a
 * lap behind and those frames are lost (counted). The bracket of a pushed
 * frame lasts until downstream frees the buffer, which keeps the sink from
 * writing into it meanwhile. The memory is the source's read-only mapping,
 * or, where the storage is a dma-buf, GstDmaBufMemory of its fd.
 *
 * The source never polls. Before it looks at the buffers it asks the broker
 * for each one's next_write fence (one that is not pending already), so a
 * buffer written after the look signals its fence, and it then sleeps on the
 * connection until a fence signals: the end of a frame's WRITE bracket wakes
 * it at once. It looks again only at buffers whose fence signaled, or whose
 * tag it wants. A GstPoll control wakes it for unlock and stop.
 *
 * A tag with the EOS flag ends the stream. No new frame within timeout ms
 * (the sink is gone or stalled) is an element error, never a hang.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gst/allocators/gstdmabuf.h>
#include <gst/base/gstpushsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <wayland-client.h>

#include <dmabroker/client.h>

#include "dmabrokersrc.h"
#include "formats.h"
#include "wait.h"

#define MAX_SLOTS 8
#define DEFAULT_TIMEOUT_MS 5000
#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ

GST_DEBUG_CATEGORY_STATIC(dmabrokersrc_debug);
#define GST_CAT_DEFAULT dmabrokersrc_debug

struct slot {
	struct dmab_client_buffer *buffer;
	struct dmab_client_attachment *att;
	gboolean held; /* a pushed frame's READ bracket, until downstream frees it */
	struct dmabroker_fence_v1 *next_write; /* pending: the slot's next frame wakes us */
	gboolean stale; /* written, maybe, since tag was read */
	struct dmab_gst_tag tag; /* as last read, while not stale */
};

struct _GstDmabrokerSrc {
	GstPushSrc parent;

	gchar *display_name;
	gchar *tokens;
	gchar *token_file;
	guint timeout_ms;

	GMutex lock;
	struct dmab_gst_waiter waiter;
	struct dmab_client *client;
	struct slot slots[MAX_SLOTS];
	guint n_slots;
	guint generation; /* of the ring: a frame freed after stop touches nothing */
	guint cancel; /* bumped by unlock and stop: a wait gives up */
	gboolean flushing; /* between unlock and unlock_stop */
	GstVideoInfo info;
	GstCaps *caps;
	gsize size; /* the end of the last plane */
	guint32 next; /* the sequence number of the next frame */
	guint hint; /* where frame next probably is */
	guint64 pushed, lost, copied;
	gboolean use_meta; /* downstream reads GstVideoMeta: frames go out with no copy */
	GstAllocator *dmabuf_allocator;
};

G_DEFINE_TYPE(GstDmabrokerSrc, gst_dmabroker_src, GST_TYPE_PUSH_SRC)

enum {
	PROP_0,
	PROP_DISPLAY,
	PROP_TOKENS,
	PROP_TOKEN_FILE,
	PROP_TIMEOUT,
};

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC,
	GST_PAD_ALWAYS, GST_STATIC_CAPS(DMAB_GST_CAPS));

/* --- the ring --- */

static gint64 now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* The tokens, from the property or the file, which the sink may not have written yet. */
static gchar *get_tokens(GstDmabrokerSrc *src)
{
	if (src->tokens != NULL) {
		return g_strdup(src->tokens);
	}
	gint64 deadline = now_ms() + src->timeout_ms;
	gchar *contents = NULL;
	while (!g_file_get_contents(src->token_file, &contents, NULL, NULL)) {
		if (now_ms() >= deadline) {
			return NULL;
		}
		g_usleep(10 * 1000);
	}
	return contents;
}

static gboolean slot_import(GstDmabrokerSrc *src, struct slot *slot, const gchar *token)
{
	slot->buffer = dmab_client_buffer_import(src->client, token);
	if (slot->buffer == NULL) {
		return FALSE;
	}
	struct dmab_client_constraints constraints = { .max_planes = DMAB_CLIENT_MAX_PLANES };
	slot->att = dmab_client_attachment_create(slot->buffer, RO, &constraints);
	slot->stale = TRUE;
	return slot->att != NULL && dmab_client_attachment_map(slot->att, READ) == 0;
}

/* The video the ring holds: its buffers' format and size, less the tag rows. */
static gboolean ring_info(GstDmabrokerSrc *src)
{
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(src->slots[0].buffer, &layout);
	GstVideoFormat format = dmab_gst_format_from_fourcc(layout.format);
	if (format == GST_VIDEO_FORMAT_UNKNOWN || layout.height <= DMAB_GST_TAG_ROWS) {
		GST_ELEMENT_ERROR(src, STREAM, FORMAT, ("The shared buffers are not a video ring"),
			("format 0x%08x, height %u", layout.format, layout.height));
		return FALSE;
	}
	for (guint i = 1; i < src->n_slots; i++) {
		struct dmab_client_layout other;
		dmab_client_buffer_get_layout(src->slots[i].buffer, &other);
		if (other.format != layout.format || other.width != layout.width ||
				other.height != layout.height) {
			GST_ELEMENT_ERROR(src, STREAM, FORMAT, ("The shared buffers differ"),
				("buffer %u is %ux%u, buffer 0 %ux%u", i, other.width,
				other.height, layout.width, layout.height));
			return FALSE;
		}
	}
	gst_video_info_set_format(&src->info, format, layout.width,
		layout.height - DMAB_GST_TAG_ROWS);
	src->size = 0;
	for (guint i = 0; i < layout.n_planes; i++) {
		src->size = MAX(src->size, (gsize)layout.planes[i].offset + layout.planes[i].size);
	}
	src->caps = gst_video_info_to_caps(&src->info);
	return TRUE;
}

static gboolean ring_import(GstDmabrokerSrc *src)
{
	gchar *contents = get_tokens(src);
	if (contents == NULL) {
		GST_ELEMENT_ERROR(src, RESOURCE, NOT_FOUND, ("No tokens"),
			("neither the tokens property nor %s within %u ms",
			src->token_file ? src->token_file : "a token-file", src->timeout_ms));
		return FALSE;
	}
	gchar **tokens = g_strsplit_set(g_strstrip(contents), "\n ", -1);
	gboolean ok = TRUE;
	for (guint i = 0; ok && tokens[i] != NULL; i++) {
		if (tokens[i][0] == '\0') {
			continue;
		}
		if (src->n_slots == MAX_SLOTS) {
			GST_ELEMENT_ERROR(src, RESOURCE, SETTINGS, ("More than %d tokens", MAX_SLOTS),
				(NULL));
			ok = FALSE;
			break;
		}
		struct slot *slot = &src->slots[src->n_slots++];
		if (!slot_import(src, slot, tokens[i])) {
			GST_ELEMENT_ERROR(src, RESOURCE, OPEN_READ, ("Cannot import token %s",
				tokens[i]), ("%s", dmab_client_last_failure()->message));
			ok = FALSE;
		}
	}
	g_strfreev(tokens);
	g_free(contents);
	if (ok && src->n_slots == 0) {
		GST_ELEMENT_ERROR(src, RESOURCE, SETTINGS, ("No tokens"), (NULL));
		ok = FALSE;
	}
	if (ok) {
		guint32 version = wl_proxy_get_version((struct wl_proxy *)
			dmab_client_buffer_get_proxy(src->slots[0].buffer));
		if (version < DMABROKER_BUFFER_V1_FENCE_KIND_NEXT_WRITE_SINCE_VERSION) {
			GST_ELEMENT_ERROR(src, RESOURCE, OPEN_READ, ("The broker is too old"),
				("dmabroker_manager_v1 version %u: waiting for frames needs the "
				"next_write fence of version 3", version));
			ok = FALSE;
		}
	}
	return ok && ring_info(src);
}

static void ring_destroy(GstDmabrokerSrc *src)
{
	for (guint i = 0; i < src->n_slots; i++) {
		if (src->slots[i].next_write != NULL) {
			dmabroker_fence_v1_destroy(src->slots[i].next_write);
		}
		dmab_client_buffer_destroy(src->slots[i].buffer);
		src->slots[i] = (struct slot){ 0 };
	}
	src->n_slots = 0;
	src->generation++;
	src->cancel++;
	gst_clear_caps(&src->caps);
}

/* --- waiting for the next frame --- */

static void next_write_fd(void *data, struct dmabroker_fence_v1 *fence, int32_t fd,
	uint32_t type)
{
	/* The signaled event, on the connection we sleep on, is what wakes us. */
	close(fd);
}

static void next_write_signaled(void *data, struct dmabroker_fence_v1 *fence)
{
	struct slot *slot = data;
	slot->stale = TRUE;
	dmabroker_fence_v1_destroy(slot->next_write);
	slot->next_write = NULL;
}

static const struct dmabroker_fence_v1_listener next_write_listener = {
	.fd = next_write_fd,
	.signaled = next_write_signaled,
};

/* Queues the request; the next flush sends it. */
static void arm_next_write(struct slot *slot)
{
	slot->next_write = dmabroker_buffer_v1_get_fence(dmab_client_buffer_get_proxy(slot->buffer),
		DMABROKER_BUFFER_V1_FENCE_KIND_NEXT_WRITE);
	if (slot->next_write != NULL) {
		dmabroker_fence_v1_add_listener(slot->next_write, &next_write_listener, slot);
	}
}

/*
 * Every READ bracket that ends without a next_write fence pending on its slot
 * asks for one first, inside the bracket, where no write is held and none can
 * end before the bracket does: so no write after it goes unseen.
 */
static void end_read(struct slot *slot)
{
	if (slot->next_write == NULL) {
		arm_next_write(slot);
	}
	dmab_client_attachment_end(slot->att);
}

/*
 * Before sleeping: a slot whose fence signaled since its look (stale) may
 * hold the frame, and nothing would wake us for it: 0, look again. 1 when
 * every slot is covered by a pending fence or held; -1 if the connection
 * failed.
 */
static gint ready_to_sleep(GstDmabrokerSrc *src)
{
	if (!dmab_gst_dispatch_pending(src->client)) {
		return -1;
	}
	for (guint i = 0; i < src->n_slots; i++) {
		if (src->slots[i].stale && !src->slots[i].held) {
			return 0;
		}
	}
	return 1;
}


/* --- finding frame next --- */

enum look {
	LOOK_FOUND, /* the READ bracket is held */
	LOOK_OLDER, /* not written yet */
	LOOK_NEWER, /* *seq is newer than next */
	LOOK_BUSY, /* downstream holds the buffer */
	LOOK_ERROR, /* posted */
	LOOK_CANCELLED, /* unlock or stop: nothing of the ring may be touched */
};

static enum look look(GstDmabrokerSrc *src, guint index, struct dmab_gst_tag *tag,
	gint64 deadline)
{
	struct slot *slot = &src->slots[index];
	if (slot->held) {
		return LOOK_BUSY;
	}
	/* Unchanged since it was read, and not the one we want: nothing to see. */
	if (!slot->stale && (gint32)(slot->tag.seq - src->next) < 0) {
		*tag = slot->tag;
		return LOOK_OLDER;
	}
	guint ring = src->generation;
	int ret = dmab_gst_begin(&src->lock, &src->cancel, &src->waiter, src->client, slot->att,
		READ, deadline);
	if (ret == 1) {
		/* A flush, not a stop: the ring stays, and the bracket must not wait on. */
		if (ring == src->generation) {
			dmab_client_attachment_end(slot->att);
		}
		return LOOK_CANCELLED;
	}
	if (ret == -ETIMEDOUT) {
		return LOOK_OLDER;
	}
	if (ret < 0) {
		GST_ELEMENT_ERROR(src, RESOURCE, READ, ("The broker refused a read: %s",
			g_strerror(-ret)), ("%s", dmab_client_last_failure()->message));
		return LOOK_ERROR;
	}
	/*
	 * The fence of a write that ended before this bracket began was signaled
	 * before ready, so it is read already: handle it now, before the tag
	 * read below makes the slot fresh.
	 */
	if (wl_display_dispatch_pending(dmab_client_get_display(src->client)) < 0) {
		dmab_client_attachment_end(slot->att);
		GST_ELEMENT_ERROR(src, RESOURCE, READ, ("Lost the broker"), (NULL));
		return LOOK_ERROR;
	}
	struct dmab_client_plane plane;
	const guint8 *data = dmab_client_attachment_get_plane(slot->att, 0, &plane);
	memcpy(tag, data + (gsize)GST_VIDEO_INFO_HEIGHT(&src->info) * plane.stride, sizeof(*tag));
	tag->magic = GUINT32_FROM_LE(tag->magic);
	tag->seq = GUINT32_FROM_LE(tag->seq);
	tag->flags = GUINT32_FROM_LE(tag->flags);
	if (tag->magic != DMAB_GST_TAG_MAGIC) {
		/* Never written: older than any frame. */
		tag->seq = src->next - 1;
	}
	slot->tag = *tag;
	slot->stale = FALSE;
	if (tag->magic == DMAB_GST_TAG_MAGIC && tag->seq == src->next) {
		return LOOK_FOUND;
	}
	end_read(slot);
	/* Differences wrap: sequence numbers are 32 bits. */
	if (tag->magic == DMAB_GST_TAG_MAGIC && (gint32)(tag->seq - src->next) > 0) {
		return LOOK_NEWER;
	}
	return LOOK_OLDER;
}

/*
 * The slot holding frame next, inside a READ bracket; or, a lap behind, the
 * oldest newer one. -1 after an error, -2 when nothing new has come yet, -3
 * when the wait was cancelled.
 */
static gint find_frame(GstDmabrokerSrc *src, struct dmab_gst_tag *found, gint64 deadline)
{
	gint newest_slot = -1;
	guint32 oldest_newer = 0;
	for (guint k = 0; k < src->n_slots; k++) {
		guint index = (src->hint + k) % src->n_slots;
		struct dmab_gst_tag tag;
		switch (look(src, index, &tag, deadline)) {
		case LOOK_FOUND:
			*found = tag;
			return (gint)index;
		case LOOK_NEWER:
			if (newest_slot < 0 || (gint32)(tag.seq - oldest_newer) < 0) {
				newest_slot = (gint)index;
				oldest_newer = tag.seq;
			}
			break;
		case LOOK_ERROR:
			return -1;
		case LOOK_CANCELLED:
			return -3;
		case LOOK_OLDER:
		case LOOK_BUSY:
			break;
		}
	}
	if (newest_slot >= 0) {
		GST_WARNING_OBJECT(src, "frames %u to %u were overwritten before they were read",
			src->next, oldest_newer - 1);
		src->lost += oldest_newer - src->next;
		src->next = oldest_newer;
		return find_frame(src, found, deadline);
	}
	return -2;
}

/* --- the buffers pushed downstream --- */

struct hold {
	GstDmabrokerSrc *src; /* a reference */
	guint index, generation;
};

/* Downstream is done with the frame: its READ bracket ends, and the sink may write again. */
static void release_frame(gpointer data, GstMiniObject *buffer)
{
	struct hold *hold = data;
	GstDmabrokerSrc *src = hold->src;
	g_mutex_lock(&src->lock);
	if (hold->generation == src->generation && src->slots[hold->index].held) {
		end_read(&src->slots[hold->index]);
		src->slots[hold->index].held = FALSE;
	}
	g_mutex_unlock(&src->lock);
	gst_object_unref(src);
	g_free(hold);
}

static GstMemory *frame_memory(GstDmabrokerSrc *src, struct slot *slot)
{
	if (dmab_client_attachment_get_map_flags(slot->att) &
			DMABROKER_ATTACHMENT_V1_MAP_FLAGS_DMABUF) {
		/* The fd lives as long as the mapping, which outlives the frame's bracket. */
		return gst_dmabuf_allocator_alloc_with_flags(src->dmabuf_allocator,
			dmab_client_attachment_get_fd(slot->att), src->size,
			GST_FD_MEMORY_FLAG_DONT_CLOSE);
	}
	struct dmab_client_plane plane;
	guint8 *first = dmab_client_attachment_get_plane(slot->att, 0, &plane);
	GstMemory *memory = gst_memory_new_wrapped(GST_MEMORY_FLAG_READONLY,
		first - plane.offset, src->size, 0, src->size, NULL, NULL);
	return memory;
}

/* The slot's frame as a buffer, with the broker's plane layout in its video meta. */
static GstBuffer *wrap_frame(GstDmabrokerSrc *src, guint index)
{
	struct slot *slot = &src->slots[index];
	GstBuffer *buffer = gst_buffer_new();
	gst_buffer_append_memory(buffer, frame_memory(src, slot));
	gsize offsets[GST_VIDEO_MAX_PLANES] = { 0 };
	gint strides[GST_VIDEO_MAX_PLANES] = { 0 };
	guint n_planes = dmab_client_attachment_get_n_planes(slot->att);
	for (guint i = 0; i < n_planes; i++) {
		struct dmab_client_plane plane;
		dmab_client_attachment_get_plane(slot->att, i, &plane);
		offsets[i] = plane.offset;
		strides[i] = (gint)plane.stride;
	}
	gst_buffer_add_video_meta_full(buffer, GST_VIDEO_FRAME_FLAG_NONE,
		GST_VIDEO_INFO_FORMAT(&src->info), GST_VIDEO_INFO_WIDTH(&src->info),
		GST_VIDEO_INFO_HEIGHT(&src->info), n_planes, offsets, strides);
	GST_BUFFER_OFFSET(buffer) = src->next;
	return buffer;
}

/* No copy: the READ bracket lasts until downstream frees the buffer. */
static GstBuffer *lend_frame(GstDmabrokerSrc *src, guint index)
{
	GstBuffer *buffer = wrap_frame(src, index);
	struct hold *hold = g_new(struct hold, 1);
	*hold = (struct hold){ gst_object_ref(src), index, src->generation };
	src->slots[index].held = TRUE;
	gst_mini_object_weak_ref(GST_MINI_OBJECT(buffer), release_frame, hold);
	return buffer;
}

/*
 * For downstream that reads no GstVideoMeta: the frame copied, inside the
 * READ bracket, into the default layout of the caps; the bracket then ends.
 */
static GstBuffer *copy_frame(GstDmabrokerSrc *src, guint index)
{
	GstBuffer *shared = wrap_frame(src, index);
	GstBuffer *copy = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&src->info), NULL);
	GstVideoFrame from, to;
	gboolean ok = FALSE;
	if (gst_video_frame_map(&from, &src->info, shared, GST_MAP_READ)) {
		if (gst_video_frame_map(&to, &src->info, copy, GST_MAP_WRITE)) {
			ok = gst_video_frame_copy(&to, &from);
			gst_video_frame_unmap(&to);
		}
		gst_video_frame_unmap(&from);
	}
	gst_buffer_unref(shared);
	end_read(&src->slots[index]);
	GST_BUFFER_OFFSET(copy) = src->next;
	if (!ok) {
		gst_buffer_unref(copy);
		GST_ELEMENT_ERROR(src, STREAM, FAILED, ("Cannot copy frame %u", src->next), (NULL));
		return NULL;
	}
	src->copied++;
	return copy;
}

/* --- GstBaseSrc --- */

static gboolean src_start(GstBaseSrc *bsrc)
{
	GstDmabrokerSrc *src = GST_DMABROKER_SRC(bsrc);
	if (src->tokens == NULL && src->token_file == NULL) {
		GST_ELEMENT_ERROR(src, RESOURCE, SETTINGS, ("Set tokens or token-file"), (NULL));
		return FALSE;
	}
	dmab_gst_waiter_set_flushing(&src->waiter, FALSE);
	g_mutex_lock(&src->lock);
	src->flushing = FALSE;
	src->next = 0;
	src->hint = 0;
	src->pushed = src->lost = src->copied = 0;
	src->client = dmab_client_connect(src->display_name);
	gboolean ok = src->client != NULL;
	if (!ok) {
		GST_ELEMENT_ERROR(src, RESOURCE, OPEN_READ, ("Cannot connect to a broker"),
			("%s", g_strerror(errno)));
	} else {
		dmab_gst_waiter_attach(&src->waiter, src->client);
		ok = ring_import(src);
	}
	if (!ok && src->client != NULL) {
		/* No stop follows a failed start. */
		ring_destroy(src);
		dmab_gst_waiter_detach(&src->waiter);
		dmab_client_destroy(src->client);
		src->client = NULL;
	}
	g_mutex_unlock(&src->lock);
	return ok;
}

static gboolean src_stop(GstBaseSrc *bsrc)
{
	GstDmabrokerSrc *src = GST_DMABROKER_SRC(bsrc);
	dmab_gst_waiter_set_flushing(&src->waiter, TRUE);
	g_mutex_lock(&src->lock);
	dmab_gst_waiter_drain(&src->waiter, &src->lock);
	GST_INFO_OBJECT(src, "%" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT " lost, %"
		G_GUINT64_FORMAT " copied", src->pushed, src->lost, src->copied);
	ring_destroy(src);
	dmab_gst_waiter_detach(&src->waiter);
	dmab_client_destroy(src->client);
	src->client = NULL;
	g_mutex_unlock(&src->lock);
	return TRUE;
}

static gboolean src_decide_allocation(GstBaseSrc *bsrc, GstQuery *query)
{
	GstDmabrokerSrc *src = GST_DMABROKER_SRC(bsrc);
	g_mutex_lock(&src->lock);
	src->use_meta = gst_query_find_allocation_meta(query, GST_VIDEO_META_API_TYPE, NULL);
	g_mutex_unlock(&src->lock);
	return GST_BASE_SRC_CLASS(gst_dmabroker_src_parent_class)->decide_allocation(bsrc,
		query);
}

/* Wakes create from its waits: the pipeline is flushing or stopping. */
static gboolean src_unlock(GstBaseSrc *bsrc)
{
	GstDmabrokerSrc *src = GST_DMABROKER_SRC(bsrc);
	dmab_gst_waiter_set_flushing(&src->waiter, TRUE);
	g_mutex_lock(&src->lock);
	src->flushing = TRUE;
	src->cancel++;
	g_mutex_unlock(&src->lock);
	return TRUE;
}

static gboolean src_unlock_stop(GstBaseSrc *bsrc)
{
	GstDmabrokerSrc *src = GST_DMABROKER_SRC(bsrc);
	g_mutex_lock(&src->lock);
	src->flushing = FALSE;
	g_mutex_unlock(&src->lock);
	dmab_gst_waiter_set_flushing(&src->waiter, FALSE);
	return TRUE;
}

static GstCaps *src_get_caps(GstBaseSrc *bsrc, GstCaps *filter)
{
	GstDmabrokerSrc *src = GST_DMABROKER_SRC(bsrc);
	g_mutex_lock(&src->lock);
	GstCaps *caps = src->caps != NULL ? gst_caps_ref(src->caps) :
		gst_pad_get_pad_template_caps(GST_BASE_SRC_PAD(bsrc));
	g_mutex_unlock(&src->lock);
	if (filter != NULL) {
		GstCaps *both = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
		gst_caps_unref(caps);
		caps = both;
	}
	return caps;
}

static GstFlowReturn src_create(GstPushSrc *psrc, GstBuffer **out)
{
	GstDmabrokerSrc *src = GST_DMABROKER_SRC(psrc);
	GstFlowReturn ret = GST_FLOW_OK;
	struct dmab_gst_tag tag;
	g_mutex_lock(&src->lock);
	gint64 deadline = g_get_monotonic_time() + (gint64)src->timeout_ms * 1000;
	gint index = src->flushing ? -3 : -2;
	while (index == -2) {
		index = find_frame(src, &tag, deadline);
		if (index != -2) {
			break;
		}
		if (g_get_monotonic_time() >= deadline) {
			GST_ELEMENT_ERROR(src, STREAM, FAILED, ("No frame for %u ms",
				src->timeout_ms), ("frame %u: the sink stopped or is stalled",
				src->next));
			index = -1;
			break;
		}
		gint ready = ready_to_sleep(src);
		if (ready <= 0) {
			if (ready < 0) {
				GST_ELEMENT_ERROR(src, RESOURCE, READ, ("Lost the broker"), (NULL));
			}
			index = ready < 0 ? -1 : -2;
			continue;
		}
		/* Until a fence signals: a frame was written. */
		int waited = dmab_gst_wait(&src->lock, &src->waiter, src->client, deadline);
		if (waited < 0) {
			GST_ELEMENT_ERROR(src, RESOURCE, READ, ("Lost the broker"),
				("%s", g_strerror(-waited)));
			index = -1;
		} else if (waited == 1 || src->flushing) {
			index = -3;
		}
	}
	if (index == -1) {
		ret = GST_FLOW_ERROR;
	} else if (index == -3) {
		ret = GST_FLOW_FLUSHING;
	} else if (tag.flags & DMAB_GST_TAG_EOS) {
		end_read(&src->slots[index]);
		ret = GST_FLOW_EOS;
	} else {
		*out = src->use_meta ? lend_frame(src, (guint)index) : copy_frame(src, (guint)index);
		ret = *out != NULL ? GST_FLOW_OK : GST_FLOW_ERROR;
		src->next++;
		src->pushed++;
		src->hint = ((guint)index + 1) % src->n_slots;
	}
	g_mutex_unlock(&src->lock);
	return ret;
}

/* --- GObject --- */

static void src_set_property(GObject *object, guint id, const GValue *value,
	GParamSpec *pspec)
{
	GstDmabrokerSrc *src = GST_DMABROKER_SRC(object);
	switch (id) {
	case PROP_DISPLAY:
		g_free(src->display_name);
		src->display_name = g_value_dup_string(value);
		break;
	case PROP_TOKENS:
		g_free(src->tokens);
		src->tokens = g_value_dup_string(value);
		break;
	case PROP_TOKEN_FILE:
		g_free(src->token_file);
		src->token_file = g_value_dup_string(value);
		break;
	case PROP_TIMEOUT:
		src->timeout_ms = g_value_get_uint(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
	}
}

static void src_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
	GstDmabrokerSrc *src = GST_DMABROKER_SRC(object);
	switch (id) {
	case PROP_DISPLAY:
		g_value_set_string(value, src->display_name);
		break;
	case PROP_TOKENS:
		g_value_set_string(value, src->tokens);
		break;
	case PROP_TOKEN_FILE:
		g_value_set_string(value, src->token_file);
		break;
	case PROP_TIMEOUT:
		g_value_set_uint(value, src->timeout_ms);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
	}
}

static void src_finalize(GObject *object)
{
	GstDmabrokerSrc *src = GST_DMABROKER_SRC(object);
	g_free(src->display_name);
	g_free(src->tokens);
	g_free(src->token_file);
	gst_clear_object(&src->dmabuf_allocator);
	dmab_gst_waiter_finish(&src->waiter);
	g_mutex_clear(&src->lock);
	G_OBJECT_CLASS(gst_dmabroker_src_parent_class)->finalize(object);
}

static void gst_dmabroker_src_class_init(GstDmabrokerSrcClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
	GstBaseSrcClass *base_class = GST_BASE_SRC_CLASS(klass);
	GstPushSrcClass *push_class = GST_PUSH_SRC_CLASS(klass);

	GST_DEBUG_CATEGORY_INIT(dmabrokersrc_debug, "dmabrokersrc", 0, "dmabroker source");
	object_class->set_property = src_set_property;
	object_class->get_property = src_get_property;
	object_class->finalize = src_finalize;

	g_object_class_install_property(object_class, PROP_DISPLAY,
		g_param_spec_string("display", "Display",
			"Wayland display of the broker (NULL: $WAYLAND_DISPLAY)", NULL,
			G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(object_class, PROP_TOKENS,
		g_param_spec_string("tokens", "Tokens",
			"The tokens of a dmabrokersink's ring, in ring order, one per line", NULL,
			G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(object_class, PROP_TOKEN_FILE,
		g_param_spec_string("token-file", "Token file",
			"Read the tokens from this file (a dmabrokersink's token-file), waiting "
			"up to timeout ms for it to appear", NULL,
			G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(object_class, PROP_TIMEOUT,
		g_param_spec_uint("timeout", "Timeout",
			"Milliseconds without a new frame (or the token file) before an error",
			1, G_MAXUINT, DEFAULT_TIMEOUT_MS,
			G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

	gst_element_class_set_static_metadata(element_class, "dmabroker video source",
		"Source/Video", "Pushes the frames a dmabrokersink shares, read inside READ "
		"brackets of broker buffers", "the dmabroker developers");
	gst_element_class_add_static_pad_template(element_class, &src_template);

	base_class->start = src_start;
	base_class->stop = src_stop;
	base_class->get_caps = src_get_caps;
	base_class->unlock = src_unlock;
	base_class->decide_allocation = src_decide_allocation;
	base_class->unlock_stop = src_unlock_stop;
	push_class->create = src_create;
}

static void gst_dmabroker_src_init(GstDmabrokerSrc *src)
{
	g_mutex_init(&src->lock);
	dmab_gst_waiter_init(&src->waiter);
	src->timeout_ms = DEFAULT_TIMEOUT_MS;
	src->dmabuf_allocator = gst_dmabuf_allocator_new();
	gst_base_src_set_format(GST_BASE_SRC(src), GST_FORMAT_TIME);
}
