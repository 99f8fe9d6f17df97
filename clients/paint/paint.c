/* SPDX-License-Identifier: MIT */
/*
 * dmab-paint: a producer. Renders the frame pattern through mmap into broker
 * buffers, bracketing every write, and shows them in a toplevel.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <wayland-client.h>

#include <dmabroker/client.h>

#include "format.h"
#include "loop.h"
#include "options.h"
#include "pattern.h"
#include "swapchain.h"
#include "window.h"

static const char prog[] = "dmab-paint";

/* What a buffer holds while dmab-paint keeps it inside a WRITE bracket on screen. */
static const uint32_t poison[] = { 0xffff00ff, 0xff00ff00 };
#define HOLD_STEP_MS 10

struct options {
	struct dmab_options common;
	uint32_t buffers;
	uint32_t frames;
	bool hold;
	uint32_t hold_frame;
	uint32_t hold_ms;
};

struct paint {
	const struct options *opts;
	struct dmab_client *client;
	struct wl_display *display;
	struct dmab_window *window;
	struct dmab_swapchain *chain;
	uint32_t next_frame;
	int64_t start_ns;
};

static void usage(void)
{
	printf("Usage: %s [OPTION]...\n"
		"Render an animated test pattern into dmabroker buffers and show it.\n"
		"\n"
		DMAB_HELP_SOCKET
		DMAB_HELP_SIZE_FORMAT
		"  -b, --buffers N          number of buffers, 2 to %d (default 3)\n"
		"  -n, --frames N           exit after N frames were presented (default 0: never)\n"
		"      --hold-write-on-frame K\n"
		"                           test hook: commit frame K while still inside its\n"
		"                           WRITE bracket and keep writing into it for --hold-ms\n"
		"      --hold-ms MS         how long to hold frame K (default 1000)\n"
		"  -v, --verbose            print a line for every committed frame\n"
		DMAB_HELP_HELP_VERSION,
		prog, DMAB_SWAPCHAIN_MAX);
}

enum {
	OPT_HOLD_FRAME = 256,
	OPT_HOLD_MS,
};

static void handle_option(void *data, int option, const char *arg)
{
	struct options *opts = data;
	switch (option) {
	case 'b':
		opts->buffers = dmab_option_u32(prog, "buffers", arg, 2, DMAB_SWAPCHAIN_MAX);
		break;
	case 'n':
		opts->frames = dmab_option_u32(prog, "frames", arg, 0, UINT32_MAX);
		break;
	case OPT_HOLD_FRAME:
		opts->hold = true;
		opts->hold_frame = dmab_option_u32(prog, "hold-write-on-frame", arg, 0,
			UINT32_MAX - 1);
		break;
	case OPT_HOLD_MS:
		opts->hold_ms = dmab_option_u32(prog, "hold-ms", arg, 0, 3600000);
		break;
	}
}

static const struct option own_options[] = {
	{ "buffers", required_argument, NULL, 'b' },
	{ "frames", required_argument, NULL, 'n' },
	{ "hold-write-on-frame", required_argument, NULL, OPT_HOLD_FRAME },
	{ "hold-ms", required_argument, NULL, OPT_HOLD_MS },
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
		.hold_ms = 1000,
	};
	dmab_options_parse(&command, argc, argv, &opts->common, opts);
	if (opts->hold && opts->frames != 0 && opts->hold_frame >= opts->frames)
		dmab_usage_error(prog, "--hold-write-on-frame %" PRIu32 " is past the last frame "
			"(--frames %" PRIu32 ")", opts->hold_frame, opts->frames);
}

static void present(struct paint *paint, struct dmab_swapchain_slot *slot)
{
	dmab_swapchain_present(slot, paint->window);
	if (paint->start_ns == 0)
		paint->start_ns = dmab_now_ns();
}

/*
 * The compositor must keep showing the previous frame while this one is in a
 * WRITE bracket: anything else on screen meanwhile is a poison colour.
 */
static int hold_frame(struct paint *paint, struct dmab_swapchain_slot *slot, void *data,
	uint32_t stride)
{
	const struct dmab_options *common = &paint->opts->common;
	uint32_t width = common->width, height = common->height, format = common->format->fourcc;
	dmab_pattern_fill_solid(data, stride, width, height, format, poison[0]);
	present(paint, slot);
	printf("%s: holding WRITE on frame %" PRIu32 "\n", prog, paint->next_frame);
	fflush(stdout);
	int64_t deadline = dmab_now_ns() + (int64_t)paint->opts->hold_ms * 1000000;
	for (size_t i = 1; dmab_now_ns() < deadline && !dmab_quit_requested(); i++) {
		int timeout = dmab_timeout_ms(deadline);
		int ret = dmab_wait(paint->display,
			timeout < HOLD_STEP_MS ? timeout : HOLD_STEP_MS);
		if (ret < 0)
			return ret;
		dmab_pattern_fill_solid(data, stride, width, height, format, poison[i % 2]);
	}
	dmab_pattern_fill(data, stride, width, height, format, paint->next_frame);
	return dmab_swapchain_end(slot);
}

static int render_frame(struct paint *paint, struct dmab_swapchain_slot *slot)
{
	const struct options *opts = paint->opts;
	uint32_t stride;
	void *data = dmab_swapchain_begin(slot, &stride);
	if (data == NULL)
		return -errno;
	if (opts->hold && paint->next_frame == opts->hold_frame) {
		int ret = hold_frame(paint, slot, data, stride);
		if (ret < 0)
			return ret;
	} else {
		dmab_pattern_fill(data, stride, opts->common.width, opts->common.height,
			opts->common.format->fourcc, paint->next_frame);
		int ret = dmab_swapchain_submit(paint->chain, slot, paint->window);
		if (ret < 0)
			return ret;
		if (paint->start_ns == 0) {
			paint->start_ns = dmab_now_ns();
		}
	}
	if (opts->common.verbose) {
		printf("%s: frame %" PRIu32 " committed\n", prog, paint->next_frame);
		fflush(stdout);
	}
	paint->next_frame++;
	return 0;
}

static bool finished(const struct paint *paint)
{
	const struct options *opts = paint->opts;
	return dmab_quit_requested() || paint->window->closed ||
		(opts->frames != 0 && paint->window->presented >= opts->frames);
}

static int run(struct paint *paint)
{
	const struct options *opts = paint->opts;
	while (!finished(paint)) {
		bool more = opts->frames == 0 || paint->next_frame < opts->frames;
		struct dmab_swapchain_slot *slot = NULL;
		if (more && dmab_window_can_present(paint->window))
			slot = dmab_swapchain_acquire(paint->chain);
		if (slot != NULL) {
			int ret = render_frame(paint, slot);
			if (ret < 0) {
				dmab_report_error(prog, paint->display, "cannot render", ret);
				return ret;
			}
			continue;
		}
		int ret = dmab_wait(paint->display, -1);
		if (ret < 0) {
			dmab_report_error(prog, paint->display, "connection failed", ret);
			return ret;
		}
	}
	return 0;
}

static bool setup(struct paint *paint)
{
	const struct dmab_options *common = &paint->opts->common;
	paint->client = dmab_connect(prog, common->socket);
	if (paint->client == NULL)
		return false;
	paint->display = dmab_client_get_display(paint->client);
	if (!dmab_options_check_broker(prog, paint->client, common))
		return false;
	paint->window = dmab_window_create(paint->display, prog, common->width, common->height);
	if (paint->window == NULL) {
		dmab_report_error(prog, paint->display, "cannot create a window", -errno);
		return false;
	}
	const char *what;
	paint->chain = dmab_swapchain_create(paint->client, paint->opts->buffers, common->width,
		common->height, common->format->fourcc, prog, &what);
	if (paint->chain == NULL) {
		dmab_report_error(prog, paint->display, what, -errno);
		return false;
	}
	return true;
}

static void teardown(struct paint *paint)
{
	dmab_window_destroy(paint->window);
	dmab_swapchain_destroy(paint->chain);
	dmab_client_destroy(paint->client);
}

int main(int argc, char *argv[])
{
	struct options opts;
	parse_options(argc, argv, &opts);
	dmab_quit_on_signals();

	struct paint paint = { .opts = &opts };
	int status = EXIT_FAILURE;
	if (setup(&paint) && run(&paint) == 0) {
		dmab_print_frame_rate(prog, paint.window->presented, paint.start_ns);
		status = EXIT_SUCCESS;
	}
	teardown(&paint);
	return status;
}
