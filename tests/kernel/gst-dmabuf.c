/* SPDX-License-Identifier: MIT */
/*
 * What dmabrokersrc hands downstream, per allocator: a dmabrokersink and a
 * dmabrokersrc pipeline share NV12 frames through $DMABROKERD started with
 * --allocator ALLOCATOR (one run per argument). An identity element before a
 * fakevideosink (which asks for GstVideoMeta, so the source lends its frames
 * without copying) sees every pushed buffer and checks:
 *
 * - the memory is GstDmaBufMemory exactly where the source's READ map is a
 *   dma-buf: on dma-heap and drm-dumb; not on memfd, nor on udmabuf, whose
 *   READ maps are the memfd under the dma-buf (doc/allocators.md);
 * - a dma-buf's fd is one (/proc/self/fd names it "dmabuf"), lseek gives a
 *   size that holds every plane of the video meta, and the frame read through
 *   the importer's own mmap of that fd, inside DMA_BUF_IOCTL_SYNC, has the
 *   checksum of the frame videotestsrc drew with that sequence number;
 * - the frame read through GstVideoFrame (the memory's own map) has it too.
 *
 * The reference checksums come from the same videotestsrc into an appsink.
 * Prints the tier's markers, PASS/FAIL/SKIP gst-dmabuf[ALLOCATOR]; on the
 * host, meson runs it with memfd. GST_PLUGIN_PATH must hold the plugin, and
 * GST_REGISTRY a writable file (set by meson.build and guest-tests.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gst/allocators/gstdmabuf.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "screen.h"

enum { WIDTH = 320, HEIGHT = 240 };
#define FRAMES 40 /* stringified into a pipeline */
#define CAPS "video/x-raw,format=NV12,width=320,height=240,framerate=20/1"

struct seen {
	guint32 seq;
	gboolean dmabuf;
	guint64 mapped_sum; /* through GstVideoFrame */
	guint64 fd_sum; /* through our own mmap of the dma-buf fd */
	char problem[160]; /* empty if the buffer itself looked right */
};

struct run {
	GstVideoInfo info;
	GMutex lock;
	struct seen seen[FRAMES * 2];
	guint n_seen;
};

/* FNV-1a over the visible bytes of every plane, row by row: padding is not the frame. */
static guint64 frame_sum(const GstVideoInfo *info, const guint8 *base, const gsize *offsets,
	const gint *strides)
{
	guint64 h = 0xcbf29ce484222325ull;
	const GstVideoFormatInfo *finfo = info->finfo;
	for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES(info); p++) {
		gint comps[GST_VIDEO_MAX_COMPONENTS];
		gst_video_format_info_component(finfo, p, comps);
		guint row = (guint)(GST_VIDEO_INFO_COMP_WIDTH(info, comps[0]) *
			GST_VIDEO_INFO_COMP_PSTRIDE(info, comps[0]));
		guint rows = (guint)GST_VIDEO_INFO_COMP_HEIGHT(info, comps[0]);
		for (guint y = 0; y < rows; y++) {
			const guint8 *line = base + offsets[p] + (gsize)y * (gsize)strides[p];
			for (guint x = 0; x < row; x++) {
				h = (h ^ line[x]) * 0x100000001b3ull;
			}
		}
	}
	return h;
}

static gboolean mapped_sum(const GstVideoInfo *info, GstBuffer *buffer, guint64 *sum)
{
	GstVideoFrame frame;
	if (!gst_video_frame_map(&frame, (GstVideoInfo *)info, buffer, GST_MAP_READ)) {
		return FALSE;
	}
	gsize offsets[GST_VIDEO_MAX_PLANES] = { 0 };
	gint strides[GST_VIDEO_MAX_PLANES] = { 0 };
	const guint8 *base = GST_VIDEO_FRAME_PLANE_DATA(&frame, 0);
	for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&frame); p++) {
		offsets[p] = (gsize)((const guint8 *)GST_VIDEO_FRAME_PLANE_DATA(&frame, p) - base);
		strides[p] = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, p);
	}
	*sum = frame_sum(info, base, offsets, strides);
	gst_video_frame_unmap(&frame);
	return TRUE;
}

static int dmabuf_sync(int fd, guint64 flags)
{
	struct dma_buf_sync sync = { .flags = flags | DMA_BUF_SYNC_READ };
	while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0) {
		if (errno != EINTR && errno != EAGAIN) {
			return -errno;
		}
	}
	return 0;
}

/* The importer's view: the fd as a dma-buf, mapped by us, read inside a sync bracket. */
static void check_dmabuf(struct seen *seen, const GstVideoInfo *info, GstMemory *memory,
	const GstVideoMeta *meta)
{
	int fd = gst_dmabuf_memory_get_fd(memory);
	char link[64], target[128] = "";
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t len = readlink(link, target, sizeof(target) - 1);
	target[len > 0 ? len : 0] = '\0';
	if (strstr(target, "dmabuf") == NULL) {
		snprintf(seen->problem, sizeof(seen->problem), "fd %d is %s, not a dma-buf", fd,
			target);
		return;
	}
	off_t size = lseek(fd, 0, SEEK_END);
	gsize offset, maxsize;
	gsize memsize = gst_memory_get_sizes(memory, &offset, &maxsize);
	if (size < 0 || (gsize)size < offset + memsize) {
		snprintf(seen->problem, sizeof(seen->problem),
			"lseek gives %lld, the memory ends at %zu", (long long)size,
			offset + memsize);
		return;
	}
	for (guint p = 0; p < meta->n_planes; p++) {
		gint comps[GST_VIDEO_MAX_COMPONENTS];
		gst_video_format_info_component(info->finfo, p, comps);
		gsize end = meta->offset[p] + (gsize)meta->stride[p] *
			(gsize)GST_VIDEO_INFO_COMP_HEIGHT(info, comps[0]);
		if (end > (gsize)size) {
			snprintf(seen->problem, sizeof(seen->problem),
				"plane %u ends at %zu, beyond the fd's %lld", p, end,
				(long long)size);
			return;
		}
	}
	void *data = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (data == MAP_FAILED) {
		snprintf(seen->problem, sizeof(seen->problem), "mmap of the dma-buf: %s",
			strerror(errno));
		return;
	}
	int err = dmabuf_sync(fd, DMA_BUF_SYNC_START);
	if (err == 0) {
		seen->fd_sum = frame_sum(info, data, meta->offset, meta->stride);
		err = dmabuf_sync(fd, DMA_BUF_SYNC_END);
	}
	munmap(data, (size_t)size);
	if (err < 0) {
		snprintf(seen->problem, sizeof(seen->problem), "DMA_BUF_IOCTL_SYNC: %s",
			strerror(-err));
	}
}

static void handoff(GstElement *identity, GstBuffer *buffer, gpointer data)
{
	struct run *run = data;
	g_mutex_lock(&run->lock);
	if (run->n_seen == G_N_ELEMENTS(run->seen)) {
		g_mutex_unlock(&run->lock);
		return;
	}
	struct seen *seen = &run->seen[run->n_seen++];
	*seen = (struct seen){ .seq = (guint32)GST_BUFFER_OFFSET(buffer) };
	GstMemory *memory = gst_buffer_peek_memory(buffer, 0);
	GstVideoMeta *meta = gst_buffer_get_video_meta(buffer);
	seen->dmabuf = gst_is_dmabuf_memory(memory);
	if (gst_buffer_n_memory(buffer) != 1 || meta == NULL) {
		snprintf(seen->problem, sizeof(seen->problem),
			"%u memories, %s video meta: not the source's lent frame",
			gst_buffer_n_memory(buffer), meta ? "a" : "no");
	} else if (!mapped_sum(&run->info, buffer, &seen->mapped_sum)) {
		snprintf(seen->problem, sizeof(seen->problem), "gst_video_frame_map failed");
	} else if (seen->dmabuf) {
		check_dmabuf(seen, &run->info, memory, meta);
	}
	g_mutex_unlock(&run->lock);
}

/* Plays until EOS or an error; false (and says why) unless EOS came within timeout_ms. */
static gboolean play(GstElement *pipeline, const char *what, int timeout_ms, char *why,
	size_t len)
{
	GstBus *bus = gst_element_get_bus(pipeline);
	GstMessage *msg = gst_bus_timed_pop_filtered(bus, (GstClockTime)timeout_ms * GST_MSECOND,
		GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	gboolean ok = msg != NULL && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS;
	if (msg == NULL) {
		snprintf(why, len, "%s: no EOS within %d ms", what, timeout_ms);
	} else if (!ok) {
		GError *error = NULL;
		gst_message_parse_error(msg, &error, NULL);
		snprintf(why, len, "%s: %s", what, error->message);
		g_error_free(error);
	}
	if (msg != NULL) {
		gst_message_unref(msg);
	}
	gst_object_unref(bus);
	return ok;
}

static gboolean reference_sums(const GstVideoInfo *info, guint64 *sums, char *why, size_t len)
{
	GError *error = NULL;
	GstElement *pipeline = gst_parse_launch("videotestsrc num-buffers=" G_STRINGIFY(FRAMES)
		" pattern=ball ! " CAPS " ! appsink name=out sync=false", &error);
	if (error != NULL) {
		snprintf(why, len, "reference pipeline: %s", error->message);
		g_error_free(error);
		gst_clear_object(&pipeline);
		return FALSE;
	}
	GstElement *out = gst_bin_get_by_name(GST_BIN(pipeline), "out");
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	guint n = 0;
	GstSample *sample;
	while (n < FRAMES && (sample = gst_app_sink_pull_sample(GST_APP_SINK(out))) != NULL) {
		if (!mapped_sum(info, gst_sample_get_buffer(sample), &sums[n])) {
			break;
		}
		n++;
		gst_sample_unref(sample);
	}
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(out);
	gst_object_unref(pipeline);
	if (n < FRAMES) {
		snprintf(why, len, "the reference run gave %u frames of %d", n, FRAMES);
	}
	return n == FRAMES;
}

static bool expect_dmabuf(const char *backend)
{
	/* udmabuf's READ maps are the memfd under it: only the producer gets the dma-buf. */
	return strcmp(backend, "dma-heap") == 0 || strcmp(backend, "drm-dumb") == 0;
}

static int run_backend(const char *allocator)
{
	char name[64], backend[32], why[256] = "";
	snprintf(backend, sizeof(backend), "%.*s", (int)strcspn(allocator, ":"), allocator);
	snprintf(name, sizeof(name), "gst-dmabuf[%s]", backend);
	struct run run = { 0 };
	g_mutex_init(&run.lock);
	gst_video_info_set_format(&run.info, GST_VIDEO_FORMAT_NV12, WIDTH, HEIGHT);
	guint64 reference[FRAMES];
	if (!reference_sums(&run.info, reference, why, sizeof(why))) {
		kt_fail(name, "%s", why);
		return 1;
	}

	struct kt_daemon daemon;
	const char *const args[] = { "--allocator", allocator, NULL };
	if (!kt_daemon_start(&daemon, 64, 64, args)) {
		kt_fail(name, "dmabrokerd --allocator %s did not start", allocator);
		return 1;
	}
	char tokens[4096 + 8], cwd[4096];
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		kt_fail(name, "getcwd: %s", strerror(errno));
		kt_daemon_stop(&daemon);
		return 1;
	}
	snprintf(tokens, sizeof(tokens), "%s/tokens", cwd);
	unlink(tokens);
	gchar *sink_desc = g_strdup_printf("videotestsrc num-buffers=%d pattern=ball ! " CAPS
		" ! dmabrokersink show=false token-file=%s", FRAMES, tokens);
	gchar *src_desc = g_strdup_printf("dmabrokersrc token-file=%s timeout=30000 ! "
		"identity name=look signal-handoffs=true ! fakevideosink sync=false", tokens);
	GError *error = NULL;
	GstElement *sink = gst_parse_launch(sink_desc, &error);
	GstElement *src = error == NULL ? gst_parse_launch(src_desc, &error) : NULL;
	g_free(sink_desc);
	g_free(src_desc);
	int failed = 0;
	if (error != NULL) {
		kt_fail(name, "pipeline: %s", error->message);
		g_error_free(error);
		failed = 1;
		goto out;
	}
	GstElement *look = gst_bin_get_by_name(GST_BIN(src), "look");
	g_signal_connect(look, "handoff", G_CALLBACK(handoff), &run);
	gst_object_unref(look);
	gst_element_set_state(sink, GST_STATE_PLAYING);
	gst_element_set_state(src, GST_STATE_PLAYING);
	gboolean ok = play(src, "dmabrokersrc", 120 * 1000, why, sizeof(why)) &&
		play(sink, "dmabrokersink", 30 * 1000, why, sizeof(why));
	gst_element_set_state(src, GST_STATE_NULL);
	gst_element_set_state(sink, GST_STATE_NULL);
	if (!ok) {
		kt_fail(name, "%s", why);
		failed = 1;
		goto out;
	}

	guint torn = 0, wrong_kind = 0, bad = 0, dmabufs = 0, lost = 0;
	guint32 next = 0;
	for (guint i = 0; i < run.n_seen; i++) {
		struct seen *seen = &run.seen[i];
		if (seen->seq >= FRAMES || seen->seq < next) {
			kt_fail(name, "frame %u came after frame %u", seen->seq, next);
			failed = 1;
			goto out;
		}
		lost += seen->seq - next;
		next = seen->seq + 1;
		dmabufs += seen->dmabuf;
		if (seen->dmabuf != expect_dmabuf(backend)) {
			wrong_kind++;
		}
		if (seen->problem[0] != '\0') {
			if (bad++ == 0) {
				kt_info("%s frame %u: %s", name, seen->seq, seen->problem);
			}
		} else if (seen->mapped_sum != reference[seen->seq] ||
				(seen->dmabuf && seen->fd_sum != reference[seen->seq])) {
			torn++;
		}
	}
	lost += FRAMES - next;
	kt_info("%s: %u frames of %d, %u as GstDmaBufMemory, %u torn, %u lost", name,
		run.n_seen, FRAMES, dmabufs, torn, lost);
	if (wrong_kind > 0) {
		kt_fail(name, "%u of %u frames %s GstDmaBufMemory", wrong_kind, run.n_seen,
			expect_dmabuf(backend) ? "were not" : "were");
		failed = 1;
	} else if (bad > 0 || torn > 0 || lost > 0 || run.n_seen != FRAMES) {
		kt_fail(name, "%u frames with a bad buffer, %u torn, %u lost", bad, torn, lost);
		failed = 1;
	} else {
		kt_pass(name, "%u frames intact, %s", run.n_seen, expect_dmabuf(backend) ?
			"each as GstDmaBufMemory that an importer mmaps" : "as mapped memory");
	}

out:
	if (src != NULL) {
		gst_object_unref(src);
	}
	if (sink != NULL) {
		gst_object_unref(sink);
	}
	if (!kt_daemon_stop(&daemon)) {
		kt_fail(name, "dmabrokerd did not stop cleanly");
		failed = 1;
	}
	g_mutex_clear(&run.lock);
	return failed;
}

int main(int argc, char *argv[])
{
	/*
	 * A scratch directory of our own for the daemon's logs and the token
	 * file (guest-tests.sh gives one, meson does not), and the runtime
	 * directory where there is none.
	 */
	char scratch[] = "/tmp/gst-dmabuf.XXXXXX";
	if (mkdtemp(scratch) == NULL || chdir(scratch) < 0) {
		printf("FAIL gst-dmabuf cannot make a scratch directory: %s\n", strerror(errno));
		return 1;
	}
	if (getenv("XDG_RUNTIME_DIR") == NULL) {
		setenv("XDG_RUNTIME_DIR", scratch, 1);
	}
	gst_init(NULL, NULL);
	GstElementFactory *factory = gst_element_factory_find("dmabrokersrc");
	if (factory == NULL) {
		for (int i = 1; i < argc; i++) {
			printf("SKIP gst-dmabuf[%.*s] no dmabrokersrc in GST_PLUGIN_PATH=%s\n",
				(int)strcspn(argv[i], ":"), argv[i], g_getenv("GST_PLUGIN_PATH") ?
				g_getenv("GST_PLUGIN_PATH") : "");
		}
		return 77;
	}
	gst_object_unref(factory);
	int failed = 0;
	for (int i = 1; i < argc; i++) {
		failed |= run_backend(argv[i]);
	}
	return failed;
}
