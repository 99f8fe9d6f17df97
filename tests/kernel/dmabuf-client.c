/* SPDX-License-Identifier: MIT */
/*
 * dmabuf-client: a plain zwp_linux_dmabuf_v1 client, as a GPU client would be
 * but with no GPU. It allocates its own dma-buf (a udmabuf over a sealed
 * memfd), draws one frame of the clients' pattern into it inside
 * DMA_BUF_IOCTL_SYNC brackets, makes a wl_buffer of it with
 * zwp_linux_buffer_params_v1.create_immed (linear modifier), shows it in a
 * toplevel and stays until SIGINT or SIGTERM.
 *
 * Prints "dmabuf-client: frame N presented" once the compositor's frame
 * callback for it arrived. Exit status: 0 after a signal, 1 on a failure,
 * 2 on a bad command line, 3 if the compositor has no zwp_linux_dmabuf_v1
 * version 3 or does not offer XRGB8888 with the linear modifier.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>
#include <linux/dma-buf.h>
#include <wayland-client.h>

#include "dmabuf.h"
#include "linux-dmabuf-unstable-v1-client-protocol.h"
#include "loop.h"
#include "pattern.h"
#include "window.h"

enum {
	EXIT_USAGE = 2,
	EXIT_NO_LINUX_DMABUF = 3,
	PRESENT_TIMEOUT_MS = 20000,
};

#define FORMAT DRM_FORMAT_XRGB8888

struct client {
	struct wl_display *display;
	struct zwp_linux_dmabuf_v1 *linux_dmabuf;
	uint32_t linux_dmabuf_version;
	bool linear_offered;
};

static void handle_format(void *data, struct zwp_linux_dmabuf_v1 *linux_dmabuf,
	uint32_t format)
{
	/* Version 3 sends modifier events as well: those are the ones that count. */
}

static void handle_modifier(void *data, struct zwp_linux_dmabuf_v1 *linux_dmabuf,
	uint32_t format, uint32_t modifier_hi, uint32_t modifier_lo)
{
	struct client *client = data;
	uint64_t modifier = (uint64_t)modifier_hi << 32 | modifier_lo;
	if (format == FORMAT && modifier == DRM_FORMAT_MOD_LINEAR)
		client->linear_offered = true;
}

static const struct zwp_linux_dmabuf_v1_listener linux_dmabuf_listener = {
	.format = handle_format,
	.modifier = handle_modifier,
};

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
	const char *interface, uint32_t version)
{
	struct client *client = data;
	if (client->linux_dmabuf != NULL ||
			strcmp(interface, zwp_linux_dmabuf_v1_interface.name) != 0)
		return;
	client->linux_dmabuf_version = version;
	if (version < 3)
		return;
	client->linux_dmabuf = wl_registry_bind(registry, name, &zwp_linux_dmabuf_v1_interface, 3);
	zwp_linux_dmabuf_v1_add_listener(client->linux_dmabuf, &linux_dmabuf_listener, client);
}

static void handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

/* Binds zwp_linux_dmabuf_v1 and collects its modifiers. 0, or an exit status. */
static int bind_linux_dmabuf(struct client *client)
{
	struct wl_registry *registry = wl_display_get_registry(client->display);
	wl_registry_add_listener(registry, &registry_listener, client);
	/* The globals, then the events the bind made the compositor send. */
	bool ok = wl_display_roundtrip(client->display) >= 0 &&
		wl_display_roundtrip(client->display) >= 0;
	wl_registry_destroy(registry);
	if (!ok) {
		fprintf(stderr, "dmabuf-client: the connection failed\n");
		return EXIT_FAILURE;
	}
	if (client->linux_dmabuf == NULL) {
		fprintf(stderr, "dmabuf-client: the compositor has no zwp_linux_dmabuf_v1 "
			"version 3 (%s)\n", client->linux_dmabuf_version > 0 ?
			"an older version" : "none at all");
		return EXIT_NO_LINUX_DMABUF;
	}
	if (!client->linear_offered) {
		fprintf(stderr, "dmabuf-client: zwp_linux_dmabuf_v1 offers no XRGB8888 with "
			"the linear modifier\n");
		return EXIT_NO_LINUX_DMABUF;
	}
	return 0;
}

static bool draw(const struct kt_dmabuf *buf, uint32_t frame)
{
	if (!kt_dmabuf_sync(buf->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE))
		return false;
	dmab_pattern_fill(buf->data, buf->stride, buf->width, buf->height, FORMAT, frame);
	return kt_dmabuf_sync(buf->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
}

/* Presents the buffer and waits for the frame callback, then for a signal. */
static int run(struct client *client, struct wl_buffer *buffer, struct dmab_window *window,
	uint32_t frame)
{
	dmab_window_present(window, buffer);
	int64_t deadline = dmab_now_ns() + (int64_t)PRESENT_TIMEOUT_MS * 1000000;
	while (window->presented == 0) {
		int ret = dmab_wait(client->display, dmab_timeout_ms(deadline));
		if (ret < 0) {
			fprintf(stderr, "dmabuf-client: the connection failed: %s\n", strerror(-ret));
			return EXIT_FAILURE;
		}
		if (dmab_quit_requested() || dmab_now_ns() >= deadline) {
			fprintf(stderr, "dmabuf-client: no frame callback within %d ms\n",
				PRESENT_TIMEOUT_MS);
			return EXIT_FAILURE;
		}
	}
	printf("dmabuf-client: frame %" PRIu32 " presented\n", frame);
	fflush(stdout);
	while (!dmab_quit_requested() && !window->closed) {
		int ret = dmab_wait(client->display, -1);
		if (ret < 0) {
			fprintf(stderr, "dmabuf-client: the connection failed: %s\n", strerror(-ret));
			return EXIT_FAILURE;
		}
	}
	return EXIT_SUCCESS;
}

static bool parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *value)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max)
		return false;
	*value = (uint32_t)v;
	return true;
}

static const char usage[] =
	"Usage: dmabuf-client [--width N] [--height N] [--frame N]\n"
	"Shows one frame of the clients' pattern from a udmabuf through zwp_linux_dmabuf_v1.\n";

static bool parse_options(int argc, char *argv[], uint32_t *width, uint32_t *height,
	uint32_t *frame)
{
	static const struct option options[] = {
		{ "width", required_argument, NULL, 'W' },
		{ "height", required_argument, NULL, 'H' },
		{ "frame", required_argument, NULL, 'n' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "W:H:n:", options, NULL)) != -1) {
		bool ok = false;
		if (c == 'W')
			ok = parse_u32(optarg, 1, 4096, width);
		else if (c == 'H')
			ok = parse_u32(optarg, 1, 4096, height);
		else if (c == 'n')
			ok = parse_u32(optarg, 0, UINT32_MAX, frame);
		if (!ok) {
			fputs(usage, stderr);
			return false;
		}
	}
	if (optind < argc) {
		fputs(usage, stderr);
		return false;
	}
	return true;
}

int main(int argc, char *argv[])
{
	uint32_t width = 256, height = 192, frame = 0;
	if (!parse_options(argc, argv, &width, &height, &frame))
		return EXIT_USAGE;
	dmab_quit_on_signals();

	struct client client = { 0 };
	struct kt_dmabuf buf = { .fd = -1 };
	struct wl_buffer *buffer = NULL;
	struct dmab_window *window = NULL;
	int status = EXIT_FAILURE;
	client.display = wl_display_connect(NULL);
	if (client.display == NULL) {
		fprintf(stderr, "dmabuf-client: cannot connect to the compositor: %s\n",
			strerror(errno));
		return EXIT_FAILURE;
	}
	status = bind_linux_dmabuf(&client);
	if (status != 0)
		goto out;
	status = EXIT_FAILURE;
	if (!kt_dmabuf_create(&buf, width, height) || !draw(&buf, frame))
		goto out;
	buffer = kt_dmabuf_create_wl_buffer(client.linux_dmabuf, client.display, &buf);
	if (buffer == NULL)
		goto out;
	window = dmab_window_create(client.display, "dmabuf-client", width, height);
	if (window == NULL) {
		fprintf(stderr, "dmabuf-client: cannot create a toplevel: %s\n", strerror(errno));
		goto out;
	}
	status = run(&client, buffer, window, frame);

out:
	dmab_window_destroy(window);
	if (buffer != NULL)
		wl_buffer_destroy(buffer);
	if (client.linux_dmabuf != NULL)
		zwp_linux_dmabuf_v1_destroy(client.linux_dmabuf);
	kt_dmabuf_finish(&buf);
	wl_display_disconnect(client.display);
	return status;
}
