/* SPDX-License-Identifier: MIT */
/*
 * dmab-e2e-peer: clients that do to each other what a hostile client would,
 * against the real daemon, for the e2e tier. Each scenario is one command and
 * prints what it saw on stdout, one line per fact, for the test to check.
 *
 *   held-commit-revoke  an importer commits a buffer while the creator is
 *                       inside a WRITE bracket, so the daemon holds the
 *                       commit; the creator revokes the token, the
 *                       compositor's read fails and the daemon must release
 *                       the held commit (its frame callback arrives).
 *   hostile-reader N    a reader that holds READ on the creator's buffer
 *                       forever, and attaches again each time it is
 *                       preempted; the creator writes N frames and prints how
 *                       long each begin_access waited.
 *   yuv FORMAT          shows a 64x64 window of format (nv12, nv21, yuv420,
 *                       yuyv, p010) in four 32x32 blocks of BT.601
 *                       limited-range white, red, green and blue, prints
 *                       "shown" once the frame callback came, and stays up
 *                       until killed so the test can take screenshots.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wayland-client.h>

#include <dmabroker/client.h>

#include "window.h"

#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

enum { SIZE = 64 };

static void die(const char *what, int err)
{
	fprintf(stdout, "error: %s: %s (%s)\n", what, strerror(err < 0 ? -err : err),
		dmab_client_last_failure()->message);
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static struct dmab_client *connect_or_die(void)
{
	struct dmab_client *client = dmab_client_connect(NULL);
	if (client == NULL) {
		die("connect", errno);
	}
	return client;
}

static struct dmab_client_attachment *mapped(struct dmab_client_buffer *buffer,
	uint32_t access, uint32_t direction)
{
	struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, access, NULL);
	if (att == NULL) {
		die("attach", errno);
	}
	int ret = dmab_client_attachment_map(att, direction);
	if (ret < 0) {
		die("map", ret);
	}
	return att;
}

/* Dispatches the display for ms milliseconds, or until *presented reaches until. */
static void dispatch_for(struct wl_display *display, int ms, const uint64_t *presented,
	uint64_t until)
{
	double end = now_ms() + ms;
	while (now_ms() < end && (presented == NULL || *presented < until)) {
		wl_display_flush(display);
		struct pollfd pfd = { .fd = wl_display_get_fd(display), .events = POLLIN };
		if (wl_display_prepare_read(display) != 0) {
			wl_display_dispatch_pending(display);
			continue;
		}
		if (poll(&pfd, 1, 10) > 0) {
			wl_display_read_events(display);
		} else {
			wl_display_cancel_read(display);
		}
		wl_display_dispatch_pending(display);
	}
}

static int held_commit_revoke(void)
{
	struct dmab_client *owner = connect_or_die();
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(owner, SIZE, SIZE,
		DRM_FORMAT_XRGB8888, DMABROKER_MANAGER_V1_USAGE_SHARE, "peer/owned");
	if (buffer == NULL) {
		die("create", errno);
	}
	struct dmab_client_attachment *writer = mapped(buffer, RW, WRITE);
	int ret = dmab_client_attachment_begin(writer, WRITE);
	if (ret < 0) {
		die("begin", ret);
	}
	struct dmab_client_token *token = dmab_client_token_create(buffer, RO);
	if (token == NULL) {
		die("share", errno);
	}

	struct dmab_client *importer = connect_or_die();
	struct wl_display *display = dmab_client_get_display(importer);
	struct dmab_client_buffer *imported = dmab_client_buffer_import(importer,
		dmab_client_token_get_string(token));
	if (imported == NULL) {
		die("import", errno);
	}
	struct dmab_window *window = dmab_window_create(display, "peer/importer", SIZE, SIZE);
	if (window == NULL) {
		die("window", errno);
	}
	dmab_window_present(window, dmab_client_buffer_get_wl_buffer(imported));
	dispatch_for(display, 300, &window->presented, 1);
	printf("%s\n", window->presented == 0 ? "held" : "shown inside a WRITE bracket");
	fflush(stdout);

	/*
	 * The revoked frame is dropped, not shown; a frame of the importer's own
	 * buffer then reaches the screen only if nothing holds the surface back.
	 */
	dmab_client_token_revoke(token);
	dmab_client_roundtrip(owner);
	struct dmab_client_buffer *own = dmab_client_buffer_create(importer, SIZE, SIZE,
		DRM_FORMAT_XRGB8888, DMABROKER_MANAGER_V1_USAGE_COMPOSITE, "peer/own");
	if (own == NULL) {
		die("create", errno);
	}
	struct dmab_client_attachment *own_writer = mapped(own, RW, WRITE);
	ret = dmab_client_attachment_begin(own_writer, WRITE);
	if (ret < 0) {
		die("begin", ret);
	}
	memset(dmab_client_attachment_get_data(own_writer), 0x40, SIZE * SIZE * 4);
	dmab_client_attachment_end(own_writer);
	dmab_window_present(window, dmab_client_buffer_get_wl_buffer(own));
	dispatch_for(display, 5000, &window->presented, 1);
	printf("%s\n", window->presented == 1 ? "released" : "still held");
	dmab_window_destroy(window);
	dmab_client_destroy(importer);
	dmab_client_destroy(owner);
	return 0;
}

struct hostile {
	char token[64];
	atomic_bool stop;
	atomic_int preempted;
};

/* Holds READ until the broker takes it away, then comes back for more. */
static void *hostile_main(void *data)
{
	struct hostile *h = data;
	struct dmab_client *client = connect_or_die();
	struct dmab_client_buffer *imported = dmab_client_buffer_import(client, h->token);
	if (imported == NULL) {
		die("import", errno);
	}
	while (!atomic_load(&h->stop)) {
		struct dmab_client_attachment *att = mapped(imported, RO, READ);
		if (dmab_client_attachment_begin(att, READ) == 0) {
			/* -EBUSY while the bracket lasts; the failure once it was preempted. */
			while (!atomic_load(&h->stop) &&
					dmab_client_attachment_begin_async(att, READ) != -ETIMEDOUT) {
				dispatch_for(dmab_client_get_display(client), 5, NULL, 0);
			}
			atomic_fetch_add(&h->preempted, 1);
		}
		dmab_client_attachment_destroy(att);
	}
	dmab_client_destroy(client);
	return NULL;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int hostile_reader(int frames)
{
	struct dmab_client *owner = connect_or_die();
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(owner, SIZE, SIZE,
		DRM_FORMAT_XRGB8888, DMABROKER_MANAGER_V1_USAGE_SHARE, "peer/victim");
	if (buffer == NULL) {
		die("create", errno);
	}
	struct dmab_client_attachment *writer = mapped(buffer, RW, WRITE);
	struct dmab_client_token *token = dmab_client_token_create(buffer, RO);
	if (token == NULL) {
		die("share", errno);
	}
	struct hostile h = { 0 };
	snprintf(h.token, sizeof(h.token), "%s", dmab_client_token_get_string(token));
	pthread_t thread;
	pthread_create(&thread, NULL, hostile_main, &h);

	double *waits = calloc((size_t)frames, sizeof(*waits));
	for (int i = 0; i < frames; i++) {
		/* Give the reader time to take the buffer again. */
		dispatch_for(dmab_client_get_display(owner), 20, NULL, 0);
		double start = now_ms();
		int ret = dmab_client_attachment_begin(writer, WRITE);
		if (ret < 0) {
			die("begin", ret);
		}
		waits[i] = now_ms() - start;
		memset(dmab_client_attachment_get_data(writer), i, SIZE * 4);
		dmab_client_attachment_end(writer);
	}
	atomic_store(&h.stop, true);
	pthread_join(thread, NULL);
	qsort(waits, (size_t)frames, sizeof(*waits), compare_doubles);
	printf("frames %d preempted %d wait_ms min %.1f median %.1f max %.1f\n", frames,
		atomic_load(&h.preempted), waits[0], waits[frames / 2], waits[frames - 1]);
	free(waits);
	dmab_client_destroy(owner);
	return 0;
}

/* Y'CbCr (BT.601, limited range) of white, red, green and blue, by block. */
static const uint8_t yuv_blocks[4][3] = {
	{ 235, 128, 128 }, { 81, 90, 240 }, { 145, 54, 34 }, { 41, 240, 110 },
};

static const uint8_t *yuv_block(uint32_t x, uint32_t y)
{
	return yuv_blocks[(y / 32) * 2 + x / 32];
}

/* Writes the blocks in format into the planes; chroma is per 2x2 pixels, blocks are even. */
static void yuv_fill(uint32_t format, struct dmab_client_attachment *att)
{
	struct dmab_client_plane p[3];
	uint8_t *d[3] = { NULL };
	for (uint32_t i = 0; i < dmab_client_attachment_get_n_planes(att) && i < 3; i++) {
		d[i] = dmab_client_attachment_get_plane(att, i, &p[i]);
	}
	for (uint32_t y = 0; y < SIZE; y++) {
		for (uint32_t x = 0; x < SIZE; x++) {
			const uint8_t *c = yuv_block(x, y);
			uint8_t *l = d[0] + y * p[0].stride;
			uint8_t *c1 = d[1] != NULL ? d[1] + y / 2 * p[1].stride : NULL;
			uint8_t *c2 = d[2] != NULL ? d[2] + y / 2 * p[2].stride : NULL;
			switch (format) {
			case DRM_FORMAT_NV12:
			case DRM_FORMAT_NV21:
				l[x] = c[0];
				c1[x / 2 * 2] = c[format == DRM_FORMAT_NV12 ? 1 : 2];
				c1[x / 2 * 2 + 1] = c[format == DRM_FORMAT_NV12 ? 2 : 1];
				break;
			case DRM_FORMAT_YUV420:
				l[x] = c[0];
				c1[x / 2] = c[1];
				c2[x / 2] = c[2];
				break;
			case DRM_FORMAT_YUYV:
				l[x * 2] = c[0];
				l[x / 2 * 4 + 1] = c[1];
				l[x / 2 * 4 + 3] = c[2];
				break;
			case DRM_FORMAT_P010:
				/* 10 bits in the high bits of 16, little-endian. */
				l[x * 2] = 0;
				l[x * 2 + 1] = c[0];
				c1[x / 2 * 4] = 0;
				c1[x / 2 * 4 + 1] = c[1];
				c1[x / 2 * 4 + 2] = 0;
				c1[x / 2 * 4 + 3] = c[2];
				break;
			}
		}
	}
}

static uint32_t yuv_format(const char *name)
{
	static const struct {
		const char *name;
		uint32_t format;
	} names[] = {
		{ "nv12", DRM_FORMAT_NV12 }, { "nv21", DRM_FORMAT_NV21 },
		{ "yuv420", DRM_FORMAT_YUV420 }, { "yuyv", DRM_FORMAT_YUYV },
		{ "p010", DRM_FORMAT_P010 },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(names[i].name, name) == 0) {
			return names[i].format;
		}
	}
	return 0;
}

static int yuv_window(uint32_t format)
{
	struct dmab_client *client = connect_or_die();
	struct wl_display *display = dmab_client_get_display(client);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(client, SIZE, SIZE, format,
		DMABROKER_MANAGER_V1_USAGE_COMPOSITE, "peer/yuv");
	if (buffer == NULL) {
		die("create", errno);
	}
	struct dmab_client_constraints planes = { .max_planes = 3 };
	struct dmab_client_attachment *writer = dmab_client_attachment_create(buffer, RW,
		&planes);
	int ret = writer != NULL ? dmab_client_attachment_map(writer, WRITE) : -errno;
	if (ret < 0) {
		die("map", ret);
	}
	ret = dmab_client_attachment_begin(writer, WRITE);
	if (ret < 0) {
		die("begin", ret);
	}
	yuv_fill(format, writer);
	dmab_client_attachment_end(writer);
	struct dmab_window *window = dmab_window_create(display, "peer/yuv", SIZE, SIZE);
	if (window == NULL) {
		die("window", errno);
	}
	dmab_window_present(window, dmab_client_buffer_get_wl_buffer(buffer));
	dispatch_for(display, 5000, &window->presented, 1);
	printf("%s\n", window->presented == 1 ? "shown" : "not shown");
	while (wl_display_dispatch(display) >= 0) {
	}
	return 0;
}

int main(int argc, char *argv[])
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "held-commit-revoke") == 0) {
		return held_commit_revoke();
	}
	if (argc >= 3 && strcmp(argv[1], "hostile-reader") == 0) {
		int frames = atoi(argv[2]);
		return hostile_reader(frames > 0 ? frames : 1);
	}
	if (argc >= 3 && strcmp(argv[1], "yuv") == 0 && yuv_format(argv[2]) != 0) {
		return yuv_window(yuv_format(argv[2]));
	}
	fprintf(stderr, "usage: %s held-commit-revoke | hostile-reader FRAMES | yuv FORMAT\n",
		argv[0]);
	return 2;
}
