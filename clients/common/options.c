#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wayland-client.h>

#include <dmabroker/client.h>

#include "format.h"
#include "options.h"

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

void dmab_option_error(const char *prog, int c, char *argv[])
{
	const char *arg = argv[optind - 1];
	if (c == ':')
		dmab_usage_error(prog, "option '%s' needs a value", arg);
	if (optopt != 0)
		dmab_usage_error(prog, "unknown option '-%c'", optopt);
	dmab_usage_error(prog, "unknown option '%s'", arg);
}

void dmab_print_version(const char *prog)
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

const struct dmab_format_info *dmab_option_format(const char *prog, const char *arg)
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
