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

/* Dispatches the display for ms milliseconds, or until *stop holds. */
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
	fprintf(stderr, "usage: %s held-commit-revoke | hostile-reader FRAMES\n", argv[0]);
	return 2;
}
