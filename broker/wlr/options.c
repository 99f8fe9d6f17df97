/*
 * dmabrokerd's command line. A bad value is a usage error (exit status 2) with
 * a message that names the option; availability (of an allocator, a seat) is
 * only known at startup and is an ordinary error there.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

#ifndef DMAB_VERSION
#error "DMAB_VERSION must be defined by the build"
#endif

#define MAX_OUTPUT_DIMENSION 16384u
/* pixman transforms in 16.16 fixed point: coordinates beyond 32767 overflow. */
#define MAX_BUFFER_DIMENSION 32768u
/* The headless output timer counts whole milliseconds: at most 1000 frames a second. */
#define MAX_REFRESH_HZ 1000.0

enum option_id {
	OPT_SOCKET = 256,
	OPT_BACKEND,
	OPT_WIDTH,
	OPT_HEIGHT,
	OPT_REFRESH,
	OPT_LOG_LEVEL,
	OPT_ALLOCATOR,
	OPT_QUOTA_BYTES,
	OPT_QUOTA_BUFFERS,
	OPT_QUOTA_ATTACHMENTS,
	OPT_QUOTA_TOKENS,
	OPT_MAX_HOLD_MS,
	OPT_UID_QUOTA_BYTES,
	OPT_UID_QUOTA_BUFFERS,
	OPT_UID_QUOTA_CONNECTIONS,
	OPT_UID_QUOTA_FDS,
	OPT_MAX_WIDTH,
	OPT_MAX_HEIGHT,
	OPT_NO_LINUX_DMABUF,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option long_options[] = {
	{"socket", required_argument, NULL, OPT_SOCKET},
	{"backend", required_argument, NULL, OPT_BACKEND},
	{"width", required_argument, NULL, OPT_WIDTH},
	{"height", required_argument, NULL, OPT_HEIGHT},
	{"refresh", required_argument, NULL, OPT_REFRESH},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"allocator", required_argument, NULL, OPT_ALLOCATOR},
	{"quota-bytes", required_argument, NULL, OPT_QUOTA_BYTES},
	{"quota-buffers", required_argument, NULL, OPT_QUOTA_BUFFERS},
	{"quota-attachments", required_argument, NULL, OPT_QUOTA_ATTACHMENTS},
	{"quota-tokens", required_argument, NULL, OPT_QUOTA_TOKENS},
	{"max-hold-ms", required_argument, NULL, OPT_MAX_HOLD_MS},
	{"uid-quota-bytes", required_argument, NULL, OPT_UID_QUOTA_BYTES},
	{"uid-quota-buffers", required_argument, NULL, OPT_UID_QUOTA_BUFFERS},
	{"uid-quota-connections", required_argument, NULL, OPT_UID_QUOTA_CONNECTIONS},
	{"uid-quota-fds", required_argument, NULL, OPT_UID_QUOTA_FDS},
	{"max-width", required_argument, NULL, OPT_MAX_WIDTH},
	{"max-height", required_argument, NULL, OPT_MAX_HEIGHT},
	{"no-linux-dmabuf", no_argument, NULL, OPT_NO_LINUX_DMABUF},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{0},
};

static const char usage_text[] =
	"Usage: dmabrokerd [OPTION]...\n"
	"The dmabroker-v1 buffer broker in a small wlroots compositor.\n"
	"Prints WAYLAND_DISPLAY=<socket> on stdout once clients can connect.\n"
	"\n"
	"      --socket NAME          listen on $XDG_RUNTIME_DIR/NAME (default: wayland-N)\n"
	"      --backend headless|auto\n"
	"                             headless (default) needs no seat or GPU; auto lets\n"
	"                             wlroots pick DRM and libinput on a real seat\n"
	"      --width N, --height N  headless output size (default 1280x720)\n"
	"      --refresh HZ           headless output refresh rate (default 60)\n"
	"      --log-level error|info|debug  (default info)\n"
	"      --allocator auto|memfd|udmabuf|dma-heap[:NAME]|drm-dumb[:/dev/dri/cardN]\n"
	"                             storage backend for broker buffers (default auto)\n"
	"      --quota-bytes N[K|M|G] per-client byte quota\n"
	"      --quota-buffers N      per-client buffer quota\n"
	"      --quota-attachments N  per-client attachment quota\n"
	"      --quota-tokens N       per-client share token quota\n"
	"      --max-hold-ms MS       how long another client's bracket may keep a\n"
	"                             buffer's creator waiting to write (default 500)\n"
	"      --uid-quota-bytes N[K|M|G], --uid-quota-buffers N,\n"
	"      --uid-quota-connections N, --uid-quota-fds N\n"
	"                             limits per client uid, over all its connections\n"
	"      --max-width N, --max-height N  largest buffer dimensions\n"
	"      --no-linux-dmabuf      do not serve zwp_linux_dmabuf_v1 through the broker\n"
	"      --help                 show this help and exit\n"
	"      --version              show the version and exit\n";

static void usage_error(const char *option, const char *value, const char *expected)
{
	fprintf(stderr, "dmabrokerd: --%s: invalid value '%s': expected %s\n",
		option, value, expected);
	fprintf(stderr, "Try 'dmabrokerd --help' for more information.\n");
}

/* Decimal digits only: strtoull would take signs, spaces and 0x. */
static bool parse_u64(const char *text, uint64_t *value, const char **end)
{
	if (text[0] < '0' || text[0] > '9') {
		return false;
	}
	char *stop;
	errno = 0;
	unsigned long long parsed = strtoull(text, &stop, 10);
	if (errno == ERANGE) {
		return false;
	}
	*value = parsed;
	*end = stop;
	return true;
}

static bool parse_range(const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
	const char *end;
	return parse_u64(text, value, &end) && *end == '\0' && *value >= min && *value <= max;
}

static bool parse_u32_option(const char *option, const char *text, uint32_t min, uint32_t max,
	uint32_t *value)
{
	uint64_t parsed;
	if (!parse_range(text, min, max, &parsed)) {
		char expected[64];
		snprintf(expected, sizeof(expected), "an integer in %" PRIu32 "..%" PRIu32, min, max);
		usage_error(option, text, expected);
		return false;
	}
	*value = (uint32_t)parsed;
	return true;
}

static bool parse_bytes(const char *text, uint64_t *bytes)
{
	uint64_t value;
	const char *end;
	if (!parse_u64(text, &value, &end) || value == 0) {
		return false;
	}
	unsigned shift = 0;
	switch (*end) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	default:
		return false;
	}
	if (*end != '\0' && end[1] != '\0') {
		return false;
	}
	if (value > (UINT64_MAX >> shift)) {
		return false;
	}
	*bytes = value << shift;
	return true;
}

static bool parse_refresh(const char *text, int32_t *mhz)
{
	/* Plain decimals only: strtod would also take exponents, hex and "inf". */
	const char *dot = strchr(text, '.');
	if (text[0] < '0' || text[0] > '9' || strspn(text, "0123456789.") != strlen(text) ||
			(dot != NULL && strchr(dot + 1, '.') != NULL)) {
		return false;
	}
	char *end;
	double hz = strtod(text, &end);
	if (*end != '\0' || !isfinite(hz) || hz < 1.0 || hz > MAX_REFRESH_HZ) {
		return false;
	}
	*mhz = (int32_t)lround(hz * 1000.0);
	return true;
}

static bool allocator_is_valid(const char *spec)
{
	static const char *const plain[] = {"auto", "memfd", "udmabuf", "dma-heap", "drm-dumb"};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if (strcmp(spec, plain[i]) == 0) {
			return true;
		}
	}
	const char *heap = "dma-heap:";
	if (strncmp(spec, heap, strlen(heap)) == 0) {
		const char *name = spec + strlen(heap);
		return name[0] != '\0' && strchr(name, '/') == NULL;
	}
	const char *dumb = "drm-dumb:";
	if (strncmp(spec, dumb, strlen(dumb)) == 0) {
		return spec[strlen(dumb)] == '/';
	}
	return false;
}

static bool parse_log_level(const char *text, enum wlr_log_importance *level)
{
	if (strcmp(text, "error") == 0) {
		*level = WLR_ERROR;
	} else if (strcmp(text, "info") == 0) {
		*level = WLR_INFO;
	} else if (strcmp(text, "debug") == 0) {
		*level = WLR_DEBUG;
	} else {
		return false;
	}
	return true;
}

static bool parse_socket(const char *text)
{
	/* A name, not a path: it lives in $XDG_RUNTIME_DIR. */
	return text[0] != '\0' && strchr(text, '/') == NULL && strlen(text) < 100;
}

static bool parse_option(struct dmabd_options *options, int id, const char *arg)
{
	struct dmab_quota *quota = &options->server.quota;
	struct dmab_uid_quota *uid_quota = &options->server.uid_quota;
	const char *name = NULL;
	for (const struct option *o = long_options; o->name != NULL; o++) {
		if (o->val == id) {
			name = o->name;
		}
	}

	switch (id) {
	case OPT_SOCKET:
		if (!parse_socket(arg)) {
			usage_error(name, arg, "a socket name without '/'");
			return false;
		}
		options->socket = arg;
		return true;
	case OPT_BACKEND:
		if (strcmp(arg, "headless") == 0) {
			options->backend = DMABD_BACKEND_HEADLESS;
		} else if (strcmp(arg, "auto") == 0) {
			options->backend = DMABD_BACKEND_AUTO;
		} else {
			usage_error(name, arg, "headless or auto");
			return false;
		}
		return true;
	case OPT_WIDTH:
		return parse_u32_option(name, arg, 1, MAX_OUTPUT_DIMENSION, &options->width);
	case OPT_HEIGHT:
		return parse_u32_option(name, arg, 1, MAX_OUTPUT_DIMENSION, &options->height);
	case OPT_REFRESH:
		if (!parse_refresh(arg, &options->refresh_mhz)) {
			usage_error(name, arg, "a rate in Hz from 1 to 1000");
			return false;
		}
		return true;
	case OPT_LOG_LEVEL:
		if (!parse_log_level(arg, &options->log_level)) {
			usage_error(name, arg, "error, info or debug");
			return false;
		}
		return true;
	case OPT_ALLOCATOR:
		if (!allocator_is_valid(arg)) {
			usage_error(name, arg, "auto, memfd, udmabuf, dma-heap[:NAME] or "
				"drm-dumb[:/dev/dri/cardN]");
			return false;
		}
		options->server.allocator = arg;
		return true;
	case OPT_QUOTA_BYTES:
		if (!parse_bytes(arg, &quota->max_bytes)) {
			usage_error(name, arg, "a positive byte count with an optional K, M or G");
			return false;
		}
		return true;
	case OPT_QUOTA_BUFFERS:
		return parse_u32_option(name, arg, 1, UINT32_MAX, &quota->max_buffers);
	case OPT_QUOTA_ATTACHMENTS:
		return parse_u32_option(name, arg, 1, UINT32_MAX, &quota->max_attachments);
	case OPT_QUOTA_TOKENS:
		return parse_u32_option(name, arg, 1, UINT32_MAX, &quota->max_tokens);
	case OPT_MAX_HOLD_MS:
		return parse_u32_option(name, arg, 1, 3600 * 1000, &options->server.max_hold_ms);
	case OPT_UID_QUOTA_BYTES:
		if (!parse_bytes(arg, &uid_quota->max_bytes)) {
			usage_error(name, arg, "a positive byte count with an optional K, M or G");
			return false;
		}
		return true;
	case OPT_UID_QUOTA_BUFFERS:
		return parse_u32_option(name, arg, 1, UINT32_MAX, &uid_quota->max_buffers);
	case OPT_UID_QUOTA_CONNECTIONS:
		return parse_u32_option(name, arg, 1, UINT32_MAX, &uid_quota->max_connections);
	case OPT_UID_QUOTA_FDS:
		return parse_u32_option(name, arg, 1, UINT32_MAX, &uid_quota->max_fds);
	case OPT_MAX_WIDTH:
		return parse_u32_option(name, arg, 1, MAX_BUFFER_DIMENSION,
			&options->server.max_width);
	case OPT_MAX_HEIGHT:
		return parse_u32_option(name, arg, 1, MAX_BUFFER_DIMENSION,
			&options->server.max_height);
	case OPT_NO_LINUX_DMABUF:
		options->linux_dmabuf = false;
		return true;
	}
	return false;
}

static void options_init(struct dmabd_options *options)
{
	*options = (struct dmabd_options){
		.backend = DMABD_BACKEND_HEADLESS,
		.width = 1280,
		.height = 720,
		.refresh_mhz = 60000,
		.log_level = WLR_INFO,
		.linux_dmabuf = true,
		.server = {
			.allocator = "auto",
		},
	};
}

enum dmabd_parse_result options_parse(struct dmabd_options *options, int argc, char *argv[])
{
	options_init(options);
	optind = 1;
	/* Our own messages: getopt's would name the program by its full path. */
	opterr = 0;
	int id;
	while ((id = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
		switch (id) {
		case OPT_HELP:
			fputs(usage_text, stdout);
			return DMABD_PARSE_EXIT;
		case OPT_VERSION:
			printf("dmabrokerd %s\n", DMAB_VERSION);
			return DMABD_PARSE_EXIT;
		case ':':
			fprintf(stderr, "dmabrokerd: %s: missing value\n", argv[optind - 1]);
			fprintf(stderr, "Try 'dmabrokerd --help' for more information.\n");
			return DMABD_PARSE_USAGE_ERROR;
		case '?':
			/* getopt sets optopt to the option's id when a switch was given a value. */
			fprintf(stderr, optopt >= OPT_SOCKET ?
				"dmabrokerd: option '%s' takes no value\n" :
				"dmabrokerd: unknown option '%s'\n", argv[optind - 1]);
			fprintf(stderr, "Try 'dmabrokerd --help' for more information.\n");
			return DMABD_PARSE_USAGE_ERROR;
		default:
			if (!parse_option(options, id, optarg)) {
				return DMABD_PARSE_USAGE_ERROR;
			}
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dmabrokerd: unexpected argument '%s'\n", argv[optind]);
		fprintf(stderr, "Try 'dmabrokerd --help' for more information.\n");
		return DMABD_PARSE_USAGE_ERROR;
	}
	return DMABD_PARSE_RUN;
}
