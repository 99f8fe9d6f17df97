/* SPDX-License-Identifier: MIT */
/* Command-line and reporting helpers shared by the example clients. */
#ifndef DMAB_CLIENTS_OPTIONS_H
#define DMAB_CLIENTS_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

struct dmab_client;
struct dmab_format_info;
struct option;
struct wl_display;

/* Exit status for bad command lines, like getopt-based tools. */
#define DMAB_EXIT_USAGE 2

/* The options the clients have in common. */
struct dmab_options {
	const char *socket;                    /* -s, --socket; NULL: $WAYLAND_DISPLAY */
	uint32_t width, height;                /* -W, --width; -H, --height */
	const struct dmab_format_info *format; /* -f, --format */
	bool verbose;                          /* -v, --verbose */
};

/* Which common options a client takes besides -s, -h and -V. */
enum dmab_options_common {
	DMAB_OPTIONS_SIZE_FORMAT = 1 << 0, /* -W, -H and -f */
	DMAB_OPTIONS_VERBOSE = 1 << 1,     /* -v */
};

/* The --help lines of the common options, for a client's usage text. */
#define DMAB_HELP_SOCKET \
	"  -s, --socket NAME        Wayland socket (default: $WAYLAND_DISPLAY)\n"
#define DMAB_HELP_SIZE_FORMAT \
	"  -W, --width N            width in pixels (default 256)\n" \
	"  -H, --height N           height in pixels (default 256)\n" \
	"  -f, --format FORMAT      XRGB8888 (default), ARGB8888, XBGR8888, ABGR8888\n" \
	"                           or RGB565\n"
#define DMAB_HELP_HELP_VERSION \
	"  -h, --help               show this help and exit\n" \
	"  -V, --version            show the version and exit\n"

/* A client's command line. */
struct dmab_command {
	const char *prog;
	uint32_t common; /* enum dmab_options_common */
	/*
	 * The client's own options, ending with { 0 }. A val below 256 is also
	 * the short option; it must not be one of the common ones.
	 */
	const struct option *options;
	/* Prints the --help text to stdout. */
	void (*usage)(void);
	/* Takes one of the client's own options; arg is NULL for one without a value. */
	void (*handle)(void *data, int option, const char *arg);
};

/*
 * Parses the command line with getopt_long: fills *opts from the common
 * options, over the defaults (256x256 XRGB8888), and hands each of the
 * client's own to command->handle with data. -h and -V print the usage or
 * the version and exit 0; an unknown option, a missing value or an argument
 * left over is a usage error.
 */
void dmab_options_parse(const struct dmab_command *command, int argc, char *argv[],
	struct dmab_options *opts, void *data);

/* Prints "prog: message" and a hint to run --help to stderr, then exits 2. */
_Noreturn void dmab_usage_error(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses a decimal integer in [min, max], or exits 2 naming the option. */
uint32_t dmab_option_u32(const char *prog, const char *option, const char *arg,
	uint32_t min, uint32_t max);

/* Connects to the broker on socket (NULL: $WAYLAND_DISPLAY), or prints why not. */
struct dmab_client *dmab_connect(const char *prog, const char *socket);
/* Whether the broker takes buffers of the size and format opts ask for; prints why not. */
bool dmab_options_check_broker(const char *prog, struct dmab_client *client,
	const struct dmab_options *opts);

/*
 * Prints "prog: what: reason" to stderr for a negative errno from
 * libdmabroker-client, with the broker's failure message when the error came
 * from a failed event, or the protocol error when the connection died of one.
 */
void dmab_report_error(const char *prog, struct wl_display *display, const char *what, int err);

/* Prints "prog: N frames in S s, R fps" to stdout, counting from start_ns (0: none). */
void dmab_print_frame_rate(const char *prog, uint64_t frames, int64_t start_ns);

#endif
