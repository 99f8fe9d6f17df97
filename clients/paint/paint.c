/*
 * dmab-paint: a producer. Renders the frame pattern through mmap into broker
 * buffers, bracketing every write, and shows them in a toplevel.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>
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
	const char *socket;
	uint32_t width, height;
	const struct dmab_format_info *format;
	uint32_t buffers;
	uint32_t frames;
	bool hold;
	uint32_t hold_frame;
	uint32_t hold_ms;
	bool verbose;
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
		"  -s, --socket NAME        Wayland socket (default: $WAYLAND_DISPLAY)\n"
		"  -W, --width N            width in pixels (default 256)\n"
		"  -H, --height N           height in pixels (default 256)\n"
		"  -f, --format FORMAT      XRGB8888 (default), ARGB8888, XBGR8888, ABGR8888\n"
		"                           or RGB565\n"
		"  -b, --buffers N          number of buffers, 2 to %d (default 3)\n"
		"  -n, --frames N           exit after N frames were presented (default 0: never)\n"
		"      --hold-write-on-frame K\n"
		"                           test hook: commit frame K while still inside its\n"
		"                           WRITE bracket and keep writing into it for --hold-ms\n"
		"      --hold-ms MS         how long to hold frame K (default 1000)\n"
		"  -v, --verbose            print a line for every committed frame\n"
		"  -h, --help               show this help and exit\n"
		"  -V, --version            show the version and exit\n",
		prog, DMAB_SWAPCHAIN_MAX);
}

enum {
	OPT_HOLD_FRAME = 256,
	OPT_HOLD_MS,
};

static void parse_options(int argc, char *argv[], struct options *opts)
{
	static const struct option long_options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "width", required_argument, NULL, 'W' },
		{ "height", required_argument, NULL, 'H' },
		{ "format", required_argument, NULL, 'f' },
		{ "buffers", required_argument, NULL, 'b' },
		{ "frames", required_argument, NULL, 'n' },
		{ "hold-write-on-frame", required_argument, NULL, OPT_HOLD_FRAME },
		{ "hold-ms", required_argument, NULL, OPT_HOLD_MS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	*opts = (struct options){
		.width = 256,
		.height = 256,
		.format = dmab_format_lookup(DRM_FORMAT_XRGB8888),
		.buffers = 3,
		.hold_ms = 1000,
	};
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":s:W:H:f:b:n:vhV", long_options, NULL)) != -1) {
		switch (c) {
		case 's':
			opts->socket = optarg;
			break;
		case 'W':
			opts->width = dmab_option_u32(prog, "width", optarg, 1, UINT16_MAX);
			break;
		case 'H':
			opts->height = dmab_option_u32(prog, "height", optarg, 1, UINT16_MAX);
			break;
		case 'f':
			opts->format = dmab_option_format(prog, optarg);
			break;
		case 'b':
			opts->buffers = dmab_option_u32(prog, "buffers", optarg, 2,
				DMAB_SWAPCHAIN_MAX);
			break;
		case 'n':
			opts->frames = dmab_option_u32(prog, "frames", optarg, 0, UINT32_MAX);
			break;
		case OPT_HOLD_FRAME:
			opts->hold = true;
			opts->hold_frame = dmab_option_u32(prog, "hold-write-on-frame", optarg, 0,
				UINT32_MAX - 1);
			break;
		case OPT_HOLD_MS:
			opts->hold_ms = dmab_option_u32(prog, "hold-ms", optarg, 0, 3600000);
			break;
		case 'v':
			opts->verbose = true;
			break;
		case 'h':
			usage();
			exit(EXIT_SUCCESS);
		case 'V':
			dmab_print_version(prog);
			exit(EXIT_SUCCESS);
		default:
			dmab_option_error(prog, c, argv);
		}
	}
	if (optind < argc)
		dmab_usage_error(prog, "unexpected argument '%s'", argv[optind]);
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
	const struct options *opts = paint->opts;
	uint32_t format = opts->format->fourcc;
	dmab_pattern_fill_solid(data, stride, opts->width, opts->height, format, poison[0]);
	present(paint, slot);
	printf("%s: holding WRITE on frame %" PRIu32 "\n", prog, paint->next_frame);
	fflush(stdout);
	int64_t deadline = dmab_now_ns() + (int64_t)opts->hold_ms * 1000000;
	for (size_t i = 1; dmab_now_ns() < deadline && !dmab_quit_requested(); i++) {
		int timeout = dmab_timeout_ms(deadline);
		int ret = dmab_wait(paint->display,
			timeout < HOLD_STEP_MS ? timeout : HOLD_STEP_MS);
		if (ret < 0)
			return ret;
		dmab_pattern_fill_solid(data, stride, opts->width, opts->height, format,
			poison[i % 2]);
	}
	dmab_pattern_fill(data, stride, opts->width, opts->height, format, paint->next_frame);
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
		dmab_pattern_fill(data, stride, opts->width, opts->height, opts->format->fourcc,
			paint->next_frame);
		int ret = dmab_swapchain_end(slot);
		if (ret < 0)
			return ret;
		present(paint, slot);
	}
	if (opts->verbose) {
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

static bool format_supported(struct dmab_client *client, uint32_t format)
{
	size_t len;
	const uint32_t *formats = dmab_client_get_formats(client, &len);
	for (size_t i = 0; i < len; i++) {
		if (formats[i] == format)
			return true;
	}
	return false;
}

static bool check_limits(struct dmab_client *client, const struct options *opts)
{
	struct dmab_client_limits limits;
	dmab_client_get_limits(client, &limits);
	if (opts->width > limits.max_width || opts->height > limits.max_height) {
		fprintf(stderr, "%s: %" PRIu32 "x%" PRIu32 " exceeds the broker's limit of "
			"%" PRIu32 "x%" PRIu32 "\n", prog, opts->width, opts->height,
			limits.max_width, limits.max_height);
		return false;
	}
	if (!format_supported(client, opts->format->fourcc)) {
		fprintf(stderr, "%s: the broker does not support %s\n", prog, opts->format->name);
		return false;
	}
	return true;
}

static bool setup(struct paint *paint)
{
	const struct options *opts = paint->opts;
	paint->client = dmab_client_connect(opts->socket);
	if (paint->client == NULL) {
		const char *name = opts->socket ? opts->socket : getenv("WAYLAND_DISPLAY");
		fprintf(stderr, "%s: cannot connect to the broker on %s: %s\n", prog,
			name ? name : "wayland-0", strerror(errno));
		return false;
	}
	paint->display = dmab_client_get_display(paint->client);
	if (!check_limits(paint->client, opts))
		return false;
	paint->window = dmab_window_create(paint->display, prog, opts->width, opts->height);
	if (paint->window == NULL) {
		dmab_report_error(prog, paint->display, "cannot create a window", -errno);
		return false;
	}
	const char *what;
	paint->chain = dmab_swapchain_create(paint->client, opts->buffers, opts->width,
		opts->height, opts->format->fourcc, prog, &what);
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

static void print_summary(const struct paint *paint)
{
	uint64_t frames = paint->window->presented;
	double seconds = paint->start_ns ? (double)(dmab_now_ns() - paint->start_ns) / 1e9 : 0;
	printf("%s: %" PRIu64 " frames in %.3f s, %.1f fps\n", prog, frames, seconds,
		seconds > 0 ? (double)frames / seconds : 0.0);
	fflush(stdout);
}

int main(int argc, char *argv[])
{
	struct options opts;
	parse_options(argc, argv, &opts);
	dmab_quit_on_signals();

	struct paint paint = { .opts = &opts };
	int status = EXIT_FAILURE;
	if (setup(&paint) && run(&paint) == 0) {
		print_summary(&paint);
		status = EXIT_SUCCESS;
	}
	teardown(&paint);
	return status;
}
