/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>
#include <wayland-client.h>

#include <dmabroker/client.h>

#include "format.h"
#include "loop.h"
#include "options.h"

/* Room for the common options, a client's own and the terminating { 0 }. */
#define OPTIONS_MAX 24

static const struct {
	struct option option;
	uint32_t needs; /* enum dmab_options_common; 0: every client takes it */
} common_options[] = {
	{ { "socket", required_argument, NULL, 's' }, 0 },
	{ { "width", required_argument, NULL, 'W' }, DMAB_OPTIONS_SIZE_FORMAT },
	{ { "height", required_argument, NULL, 'H' }, DMAB_OPTIONS_SIZE_FORMAT },
	{ { "format", required_argument, NULL, 'f' }, DMAB_OPTIONS_SIZE_FORMAT },
	{ { "verbose", no_argument, NULL, 'v' }, DMAB_OPTIONS_VERBOSE },
	{ { "help", no_argument, NULL, 'h' }, 0 },
	{ { "version", no_argument, NULL, 'V' }, 0 },
};

void dmab_usage_error(const char *prog, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	exit(DMAB_EXIT_USAGE);
}

/* Reports what getopt_long returned for a bad option; the optstring starts with ':'. */
static _Noreturn void option_error(const char *prog, int c, char *argv[])
{
	const char *arg = argv[optind - 1];
	if (c == ':')
		dmab_usage_error(prog, "option '%s' needs a value", arg);
	if (optopt != 0)
		dmab_usage_error(prog, "unknown option '-%c'", optopt);
	dmab_usage_error(prog, "unknown option '%s'", arg);
}

static void print_version(const char *prog)
{
	printf("%s %s\n", prog, DMAB_VERSION);
}

uint32_t dmab_option_u32(const char *prog, const char *option, const char *arg,
	uint32_t min, uint32_t max)
{
	char *end;
	errno = 0;
	unsigned long long value = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 || value < min ||
			value > max) {
		dmab_usage_error(prog, "invalid value '%s' for --%s: expected an integer from "
			"%" PRIu32 " to %" PRIu32, arg, option, min, max);
	}
	return (uint32_t)value;
}

static const struct dmab_format_info *option_format(const char *prog, const char *arg)
{
	const struct dmab_format_info *info = dmab_format_from_name(arg);
	if (info != NULL)
		return info;
	char known[64] = "";
	for (size_t i = 0; dmab_format_at(i) != NULL; i++) {
		strncat(known, i > 0 ? ", " : "", sizeof(known) - strlen(known) - 1);
		strncat(known, dmab_format_at(i)->name, sizeof(known) - strlen(known) - 1);
	}
	dmab_usage_error(prog, "unknown format '%s' for --format: expected one of %s", arg, known);
}

/* What getopt_long is given. */
struct getopt_spec {
	struct option longs[OPTIONS_MAX]; /* ending with { 0 } */
	/* ':' first, then each short option, followed by ':' if it takes a value */
	char shorts[1 + 2 * OPTIONS_MAX];
	size_t len;
};

static void add_option(struct getopt_spec *spec, const struct option *option)
{
	assert(spec->len < OPTIONS_MAX - 1);
	spec->longs[spec->len++] = *option;
	if (option->val >= 256)
		return;
	assert(strchr(spec->shorts, option->val) == NULL);
	size_t end = strlen(spec->shorts);
	spec->shorts[end++] = (char)option->val;
	if (option->has_arg == required_argument)
		spec->shorts[end++] = ':';
	spec->shorts[end] = '\0';
}

static void add_options(struct getopt_spec *spec, const struct dmab_command *command)
{
	for (size_t i = 0; i < sizeof(common_options) / sizeof(common_options[0]); i++) {
		if ((common_options[i].needs & ~command->common) == 0)
			add_option(spec, &common_options[i].option);
	}
	for (const struct option *own = command->options; own->name != NULL; own++)
		add_option(spec, own);
}

/* Takes a common option, or reports a bad one; false for one of the client's own. */
static bool take_common(const struct dmab_command *command, int c, char *argv[],
	struct dmab_options *opts)
{
	const char *prog = command->prog;
	switch (c) {
	case 's':
		opts->socket = optarg;
		return true;
	case 'W':
		opts->width = dmab_option_u32(prog, "width", optarg, 1, UINT16_MAX);
		return true;
	case 'H':
		opts->height = dmab_option_u32(prog, "height", optarg, 1, UINT16_MAX);
		return true;
	case 'f':
		opts->format = option_format(prog, optarg);
		return true;
	case 'v':
		opts->verbose = true;
		return true;
	case 'h':
		command->usage();
		exit(EXIT_SUCCESS);
	case 'V':
		print_version(prog);
		exit(EXIT_SUCCESS);
	case ':':
	case '?':
		option_error(prog, c, argv);
	}
	return false;
}

void dmab_options_parse(const struct dmab_command *command, int argc, char *argv[],
	struct dmab_options *opts, void *data)
{
	/* With ':' first, a missing value is ':' and an unknown option '?'. */
	struct getopt_spec spec = { .shorts = ":" };
	add_options(&spec, command);
	*opts = (struct dmab_options){
		.width = 256,
		.height = 256,
		.format = dmab_format_lookup(DRM_FORMAT_XRGB8888),
	};
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, spec.shorts, spec.longs, NULL)) != -1) {
		if (!take_common(command, c, argv, opts))
			command->handle(data, c, optarg);
	}
	if (optind < argc)
		dmab_usage_error(command->prog, "unexpected argument '%s'", argv[optind]);
}

struct dmab_client *dmab_connect(const char *prog, const char *socket)
{
	struct dmab_client *client = dmab_client_connect(socket);
	if (client == NULL) {
		const char *name = socket ? socket : getenv("WAYLAND_DISPLAY");
		fprintf(stderr, "%s: cannot connect to the broker on %s: %s\n", prog,
			name ? name : "wayland-0", strerror(errno));
	}
	return client;
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

bool dmab_options_check_broker(const char *prog, struct dmab_client *client,
	const struct dmab_options *opts)
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

static bool is_failure_errno(int err)
{
	const struct dmab_client_failure *failure = dmab_client_last_failure();
	switch (failure->reason) {
	case DMABROKER_MANAGER_V1_REASON_QUOTA_EXCEEDED:
		return err == -EDQUOT;
	case DMABROKER_MANAGER_V1_REASON_UNKNOWN_TOKEN:
		return err == -ENOENT;
	case DMABROKER_MANAGER_V1_REASON_REVOKED_TOKEN:
	case DMABROKER_MANAGER_V1_REASON_PERMISSION_DENIED:
		return err == -EACCES;
	case DMABROKER_MANAGER_V1_REASON_ALLOC_FAILED:
		return err == -ENOMEM;
	case DMABROKER_MANAGER_V1_REASON_UNSATISFIABLE:
		return err == -EINVAL;
	case DMABROKER_MANAGER_V1_REASON_DEFUNCT:
		return err == -ENODEV;
	}
	return false;
}

void dmab_report_error(const char *prog, struct wl_display *display, const char *what, int err)
{
	const struct wl_interface *interface = NULL;
	uint32_t id = 0;
	if (display != NULL && wl_display_get_error(display) == EPROTO) {
		uint32_t code = wl_display_get_protocol_error(display, &interface, &id);
		fprintf(stderr, "%s: %s: protocol error %" PRIu32 " on %s@%" PRIu32 "\n", prog,
			what, code, interface != NULL ? interface->name : "unknown", id);
		return;
	}
	if (display != NULL && wl_display_get_error(display) != 0) {
		fprintf(stderr, "%s: %s: lost the connection: %s\n", prog, what,
			strerror(wl_display_get_error(display)));
		return;
	}
	const struct dmab_client_failure *failure = dmab_client_last_failure();
	if (is_failure_errno(err) && failure->message[0] != '\0') {
		fprintf(stderr, "%s: %s: %s (%s)\n", prog, what, strerror(-err), failure->message);
		return;
	}
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(-err));
}

void dmab_print_frame_rate(const char *prog, uint64_t frames, int64_t start_ns)
{
	double seconds = start_ns ? (double)(dmab_now_ns() - start_ns) / 1e9 : 0;
	printf("%s: %" PRIu64 " frames in %.3f s, %.1f fps\n", prog, frames, seconds,
		seconds > 0 ? (double)frames / seconds : 0.0);
	fflush(stdout);
}
