/* Command-line and error-reporting helpers shared by the example clients. */
#ifndef DMAB_CLIENTS_OPTIONS_H
#define DMAB_CLIENTS_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

struct wl_display;
struct dmab_format_info;

/* Exit status for bad command lines, like getopt-based tools. */
#define DMAB_EXIT_USAGE 2

/* Prints "prog: message" and a hint to run --help to stderr, then exits 2. */
_Noreturn void dmab_usage_error(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Reports what getopt_long returned for a bad option (the optstring must start
 * with ':'), then exits 2.
 */
_Noreturn void dmab_option_error(const char *prog, int c, char *argv[]);
/* Prints "prog VERSION" to stdout. */
void dmab_print_version(const char *prog);

/* Parses a decimal integer in [min, max], or exits 2 naming the option. */
uint32_t dmab_option_u32(const char *prog, const char *option, const char *arg,
	uint32_t min, uint32_t max);
/* Parses a format name such as XRGB8888, or exits 2 listing the known ones. */
const struct dmab_format_info *dmab_option_format(const char *prog, const char *arg);

/*
 * Prints "prog: what: reason" to stderr for a negative errno from
 * libdmabroker-client, with the broker's failure message when the error came
 * from a failed event, or the protocol error when the connection died of one.
 */
void dmab_report_error(const char *prog, struct wl_display *display, const char *what, int err);

#endif
