/* SPDX-License-Identifier: MIT */
/*
 * dmab-share: publishes a stream of frames through a ring of broker buffers
 * that other clients import read-only, and shows a copy in a toplevel.
 *
 * The ring is a hand-over-hand chain of brackets (see dmab-share(1)): frame n
 * goes to ring[n % N], written inside a WRITE bracket, and the WRITE begin of
 * the next buffer is queued before the current bracket ends. A viewer does the
 * same with READ brackets. Because the broker serves each buffer's waiters in
 * order, the writer cannot overwrite a frame a viewer has not read.
 *
 * The window shows copies in buffers of its own: were the ring buffers
 * committed, the compositor would hold a READ bracket on the one it shows
 * until the next commit, and the chain could not pass that buffer faster than
 * the display refreshes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wayland-client.h>

#include <dmabroker/client.h>

#include "format.h"
#include "frame.h"
#include "loop.h"
#include "options.h"
#include "ring.h"
#include "swapchain.h"
#include "window.h"

static const char prog[] = "dmab-share";

#define DISPLAY_BUFFERS 3
/* The writer reads each frame back, for the checksum and the copy it shows. */
#define RING_DIRECTION \
	(DMABROKER_ATTACHMENT_V1_DIRECTION_READ | DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE)
/* After SIGINT/SIGTERM, how long to wait for the next buffer to write the last frame. */
#define LAST_FRAME_TIMEOUT_MS 1000

struct options {
	struct dmab_options common;
	uint32_t buffers;
	uint32_t frames;
	uint32_t rate;
	const char *token_file;
};

struct share {
	const struct options *opts;
	struct dmab_client *client;
	struct wl_display *display;
	struct dmab_window *window;
	struct dmab_swapchain *chain;
	struct dmab_ring ring;
	uint32_t seq; /* the next frame */
	int64_t start_ns;
	int64_t next_tick_ns;
};

static void usage(void)
{
	printf("Usage: %s [OPTION]...\n"
		"Publish a stream of checksummed frames through read-only shared dmabroker\n"
		"buffers and show it. Prints DMAB_TOKEN=<tokens> for dmab-view.\n"
		"\n"
		DMAB_HELP_SOCKET
		DMAB_HELP_SIZE_FORMAT
		"  -b, --buffers N          buffers in the ring, 2 to %d (default 3)\n"
		"  -n, --frames N           exit after N frames (default 0: never)\n"
		"  -r, --rate HZ            frames per second (default 0: one per frame callback)\n"
		"  -t, --token-file PATH    also write the tokens to PATH (atomically)\n"
		"  -v, --verbose            print a line for every frame\n"
		DMAB_HELP_HELP_VERSION,
		prog, DMAB_RING_MAX);
}

static void handle_option(void *data, int option, const char *arg)
{
	struct options *opts = data;
	switch (option) {
	case 'b':
		opts->buffers = dmab_option_u32(prog, "buffers", arg, 2, DMAB_RING_MAX);
		break;
	case 'n':
		opts->frames = dmab_option_u32(prog, "frames", arg, 0, UINT32_MAX);
		break;
	case 'r':
		opts->rate = dmab_option_u32(prog, "rate", arg, 0, 100000);
		break;
	case 't':
		opts->token_file = arg;
		break;
	}
}

static const struct option own_options[] = {
	{ "buffers", required_argument, NULL, 'b' },
	{ "frames", required_argument, NULL, 'n' },
	{ "rate", required_argument, NULL, 'r' },
	{ "token-file", required_argument, NULL, 't' },
	{ 0 },
};

static const struct dmab_command command = {
	.prog = prog,
	.common = DMAB_OPTIONS_SIZE_FORMAT | DMAB_OPTIONS_VERBOSE,
	.options = own_options,
	.usage = usage,
	.handle = handle_option,
};

static void parse_options(int argc, char *argv[], struct options *opts)
{
	*opts = (struct options){
		.buffers = 3,
	};
	dmab_options_parse(&command, argc, argv, &opts->common, opts);
	const struct dmab_options *common = &opts->common;
	if (common->width * common->format->bpp < DMAB_FRAME_HEADER_SIZE)
		dmab_usage_error(prog, "a row of %" PRIu32 " %s pixels cannot hold the "
			"%d-byte frame header", common->width, common->format->name,
			DMAB_FRAME_HEADER_SIZE);
}

static int ring_slot_init(struct share *share, struct dmab_ring_slot *slot, uint32_t index,
	const char **what)
{
	const struct dmab_options *common = &share->opts->common;
	uint32_t usage = DMABROKER_MANAGER_V1_USAGE_CPU_READ |
		DMABROKER_MANAGER_V1_USAGE_CPU_WRITE | DMABROKER_MANAGER_V1_USAGE_SHARE;
	char name[32];
	snprintf(name, sizeof(name), "%s/ring/%" PRIu32, prog, index);
	*what = "cannot create a buffer";
	slot->buffer = dmab_client_buffer_create(share->client, common->width, common->height,
		common->format->fourcc, usage, name);
	if (slot->buffer == NULL)
		return -errno;
	*what = "cannot attach to a buffer";
	slot->attachment = dmab_client_attachment_create(slot->buffer,
		DMABROKER_BUFFER_V1_ACCESS_READ_WRITE, NULL);
	if (slot->attachment == NULL)
		return -errno;
	*what = "cannot map a buffer";
	return dmab_client_attachment_map(slot->attachment, RING_DIRECTION);
}

static int write_token_file(const char *path, const char *tokens)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t len = strlen(tokens);
	ssize_t written = write(fd, tokens, len);
	int ret = written == (ssize_t)len ? 0 : (written < 0 ? -errno : -EIO);
	if (ret == 0 && write(fd, "\n", 1) != 1)
		ret = -EIO;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0)
		unlink(tmp);
	return ret;
}

/* Tokens are made only once ring[0] is in a WRITE bracket, so no viewer sees it unwritten. */
static bool publish_tokens(struct share *share)
{
	char tokens[DMAB_RING_MAX * (DMAB_TOKEN_LEN + 1) + 1] = "";
	for (uint32_t i = 0; i < share->ring.len; i++) {
		/* Freed with its buffer. */
		struct dmab_client_token *token = dmab_client_token_create(
			share->ring.slots[i].buffer, DMABROKER_BUFFER_V1_ACCESS_READ);
		if (token == NULL) {
			dmab_report_error(prog, share->display, "cannot share a buffer", -errno);
			return false;
		}
		if (i > 0)
			strcat(tokens, ",");
		strncat(tokens, dmab_client_token_get_string(token), DMAB_TOKEN_LEN);
	}
	printf("DMAB_TOKEN=%s\n", tokens);
	fflush(stdout);
	if (share->opts->token_file == NULL)
		return true;
	int ret = write_token_file(share->opts->token_file, tokens);
	if (ret < 0) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, share->opts->token_file,
			strerror(-ret));
		return false;
	}
	return true;
}

static bool setup(struct share *share)
{
	const struct dmab_options *common = &share->opts->common;
	share->client = dmab_connect(prog, common->socket);
	if (share->client == NULL)
		return false;
	share->display = dmab_client_get_display(share->client);
	if (!dmab_options_check_broker(prog, share->client, common))
		return false;
	share->window = dmab_window_create(share->display, prog, common->width, common->height);
	if (share->window == NULL) {
		dmab_report_error(prog, share->display, "cannot create a window", -errno);
		return false;
	}
	const char *what;
	for (uint32_t i = 0; i < share->opts->buffers; i++) {
		share->ring.len++;
		int ret = ring_slot_init(share, &share->ring.slots[i], i, &what);
		if (ret < 0) {
			dmab_report_error(prog, share->display, what, ret);
			return false;
		}
	}
	char name[32];
	snprintf(name, sizeof(name), "%s/display", prog);
	share->chain = dmab_swapchain_create(share->client, DISPLAY_BUFFERS, common->width,
		common->height, common->format->fourcc, name, &what);
	if (share->chain == NULL) {
		dmab_report_error(prog, share->display, what, -errno);
		return false;
	}
	int ret = dmab_client_attachment_begin(share->ring.slots[0].attachment, RING_DIRECTION);
	if (ret < 0) {
		dmab_report_error(prog, share->display, "cannot begin writing", ret);
		return false;
	}
	return publish_tokens(share);
}

static void teardown(struct share *share)
{
	dmab_window_destroy(share->window);
	dmab_swapchain_destroy(share->chain);
	dmab_ring_finish(&share->ring);
	dmab_client_destroy(share->client);
}

/* Queues the WRITE bracket of the next ring buffer, mapping it again if it moved. */
static int queue_write(struct share *share)
{
	uint32_t busy = share->seq % share->ring.len;
	uint32_t next = (share->seq + 1) % share->ring.len;
	int ret = dmab_ring_prepare(&share->ring, next, busy);
	if (ret < 0)
		return ret;
	return dmab_client_attachment_begin_async(share->ring.slots[next].attachment,
		RING_DIRECTION);
}

static bool paced(struct share *share)
{
	if (share->opts->rate == 0)
		return dmab_window_can_present(share->window) &&
			dmab_swapchain_acquire(share->chain) != NULL;
	return dmab_now_ns() >= share->next_tick_ns;
}

static int pacing_timeout_ms(struct share *share)
{
	if (share->opts->rate == 0)
		return -1;
	return dmab_timeout_ms(share->next_tick_ns);
}

/*
 * Waits until the current ring buffer is ours and it is time for a frame.
 * Returns 1 when both hold, 0 if a quit was requested first, or a negative errno.
 */
static int wait_for_turn(struct share *share)
{
	uint32_t busy = share->seq % share->ring.len;
	struct dmab_client_attachment *att = share->ring.slots[busy].attachment;
	while (!dmab_quit_requested() && !share->window->closed) {
		bool ready = dmab_client_attachment_is_ready(att);
		if (ready && paced(share))
			return 1;
		int ret = dmab_ring_wait(&share->ring, busy, share->display,
			ready ? pacing_timeout_ms(share) : -1);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* After a quit request: the ring buffer must still become ours to end the stream. */
static int wait_for_last_turn(struct share *share)
{
	uint32_t busy = share->seq % share->ring.len;
	struct dmab_client_attachment *att = share->ring.slots[busy].attachment;
	int64_t deadline = dmab_now_ns() + (int64_t)LAST_FRAME_TIMEOUT_MS * 1000000;
	while (!dmab_client_attachment_is_ready(att)) {
		int timeout = dmab_timeout_ms(deadline);
		if (timeout == 0)
			return 0;
		int ret = dmab_ring_wait(&share->ring, busy, share->display, timeout);
		if (ret < 0)
			return ret;
	}
	return 1;
}

/* Keeps the rate on average, but a producer that fell behind does not burst to catch up. */
static void schedule_tick(struct share *share)
{
	int64_t now = dmab_now_ns();
	int64_t tick = share->next_tick_ns ? share->next_tick_ns : now;
	tick += 1000000000 / share->opts->rate;
	share->next_tick_ns = tick > now ? tick : now;
}

/* Writes frame seq into its ring buffer, hands the chain on, and shows the frame. */
static int publish_frame(struct share *share, bool last)
{
	const struct options *opts = share->opts;
	const struct dmab_options *common = &opts->common;
	uint32_t index = share->seq % share->ring.len;
	struct dmab_client_attachment *att = share->ring.slots[index].attachment;
	void *data = dmab_client_attachment_get_data(att);
	uint32_t stride = dmab_client_attachment_get_stride(att);
	dmab_frame_write(data, stride, common->width, common->height, common->format->fourcc,
		share->seq, last ? DMAB_FRAME_LAST : 0);
	int ret = dmab_swapchain_show_copy(share->chain, share->window, data, stride);
	if (ret < 0)
		return ret;
	if (!last) {
		ret = queue_write(share);
		if (ret < 0)
			return ret;
	}
	ret = dmab_client_attachment_end(att);
	if (ret < 0)
		return ret;
	if (common->verbose) {
		printf("%s: frame %" PRIu32 " published%s\n", prog, share->seq,
			last ? " (last)" : "");
		fflush(stdout);
	}
	if (share->start_ns == 0)
		share->start_ns = dmab_now_ns();
	if (opts->rate != 0)
		schedule_tick(share);
	share->seq++;
	return dmab_ring_release_moved(&share->ring, share->seq % share->ring.len);
}

static int run(struct share *share)
{
	const struct options *opts = share->opts;
	for (;;) {
		int ret = wait_for_turn(share);
		if (ret == 0)
			ret = wait_for_last_turn(share);
		if (ret < 0) {
			dmab_report_error(prog, share->display, "connection failed", ret);
			return ret;
		}
		if (ret == 0)
			return 0;
		bool last = dmab_quit_requested() || share->window->closed ||
			(opts->frames != 0 && share->seq + 1 == opts->frames);
		ret = publish_frame(share, last);
		if (ret < 0) {
			dmab_report_error(prog, share->display, "cannot publish a frame", ret);
			return ret;
		}
		if (last)
			return 0;
	}
}

int main(int argc, char *argv[])
{
	struct options opts;
	parse_options(argc, argv, &opts);
	dmab_quit_on_signals();

	struct share share = { .opts = &opts, .ring.direction = RING_DIRECTION };
	int status = EXIT_FAILURE;
	if (setup(&share) && run(&share) == 0) {
		if (wl_display_roundtrip(share.display) >= 0) {
			dmab_print_frame_rate(prog, share.seq, share.start_ns);
			status = EXIT_SUCCESS;
		} else {
			dmab_report_error(prog, share.display, "connection failed", -EPIPE);
		}
	}
	teardown(&share);
	return status;
}
