/* SPDX-License-Identifier: MIT */
/*
 * dmab-bench: the broker path against wl_shm through the same dmabrokerd,
 * with the memory bandwidth that bounds both, the protocol's overhead, scale
 * and allocation rates. Every figure is min/median/max over repetitions, and
 * the variants of one repetition run back to back so that load from elsewhere
 * falls on all of them alike.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include "bench.h"
#include "loop.h"

#ifndef DMAB_VERSION
#error "DMAB_VERSION must be defined by the build"
#endif
#ifndef DMAB_BENCH_BUILD
#define DMAB_BENCH_BUILD "unknown"
#endif

static const char prog[] = "dmab-bench";

#define MAX_SIZES 8
#define MAX_COMPARE 4
#define OUTPUT_MARGIN 32 /* the daemon's cascade step: room for the offset window */

struct size {
	uint32_t width, height;
};

struct compare {
	const char *name;
	const char *command;
};

struct options {
	const char *daemon;
	const char *output;
	struct size sizes[MAX_SIZES];
	size_t nsizes;
	uint32_t reps, frames, buffers, refresh;
	uint32_t scale_clients, scale_buffers, scale_frames, scale_refresh;
	uint64_t scale_nofile;
	uint32_t alloc_count, bracket_count;
	struct compare compare[MAX_COMPARE];
	size_t ncompare;
	const char *daemon_args[21]; /* NULL-terminated */
	size_t ndaemon_args;
	bool messages;
	bool smoke;
	const char *child; /* --child-frames: one run for --messages to count */
};

static const struct compare presets[] = {
	{ "weston", "weston --backend=headless-backend.so --use-pixman --no-config "
		"--idle-time=0 --socket={socket} --width={width} --height={height}" },
};

/* Per size, per repetition: the figures of one frame run. */
struct run_series {
	struct bench_series fps, client_ms, server_ms, wall_ms;
	struct bench_series client_limit, server_limit; /* divided by the memory limit */
};

enum run_kind {
	RUN_BROKER_ORIGIN,
	RUN_SHM_ORIGIN,
	RUN_BROKER_OFFSET,
	RUN_SHM_OFFSET,
	RUN_BROKER_NV12, /* at the origin: what the daemon's YUV conversion adds */
	RUN_KINDS,
};

static const char *const run_names[RUN_KINDS] = {
	"broker_origin", "shm_origin", "broker_offset", "shm_offset", "broker_nv12_origin",
};

struct size_result {
	struct size size;
	struct bench_memory memory;
	struct run_series runs[RUN_KINDS];
	struct run_series compare[MAX_COMPARE];
	bool compare_ok[MAX_COMPARE];
	struct bench_series fps_ratio, offset_ratio, nv12_ratio, bracket_us, frame_overhead_us;
	struct bench_series alloc_lazy, alloc_mapped;
	struct bench_frames_result raw[RUN_KINDS][BENCH_MAX_SAMPLES];
	struct bench_frames_result raw_compare[MAX_COMPARE][BENCH_MAX_SAMPLES];
};

struct messages_result {
	bool done;
	double sendmsg[2], recvmsg[2], requests[2], events[2]; /* broker, shm */
};

struct scale_series {
	struct bench_scale_result last;
	struct bench_series ready, failed, disconnected, rss, fds, client_fds, p50, p99;
};

/* Samples */

void series_add(struct bench_series *series, double value)
{
	if (series->len < BENCH_MAX_SAMPLES) {
		series->v[series->len++] = value;
	}
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void sorted(const struct bench_series *series, double *out)
{
	memcpy(out, series->v, series->len * sizeof(*out));
	qsort(out, series->len, sizeof(*out), compare_double);
}

double series_median(const struct bench_series *series)
{
	if (series->len == 0) {
		return 0;
	}
	double v[BENCH_MAX_SAMPLES];
	sorted(series, v);
	size_t n = series->len;
	return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void series_json(FILE *out, const struct bench_series *series)
{
	if (series->len == 0) {
		fprintf(out, "null");
		return;
	}
	double v[BENCH_MAX_SAMPLES];
	sorted(series, v);
	fprintf(out, "{\"min\": %.6g, \"median\": %.6g, \"max\": %.6g, \"n\": %zu}", v[0],
		series_median(series), v[series->len - 1], series->len);
}

/* Options */

static void usage(void)
{
	printf("Usage: %s [OPTION]...\n"
		"Measure dmabrokerd's broker path against wl_shm through the same daemon.\n"
		"Writes JSON to --output (default stdout) and a summary to stderr.\n"
		"\n"
		"  -d, --daemon PATH        dmabrokerd to run (default: next to dmab-bench,\n"
		"                           then the build tree, then $PATH)\n"
		"  -a, --daemon-arg ARG     pass ARG to every dmabrokerd started (repeatable,\n"
		"                           e.g. -a --uid-quota-connections=200)\n"
		"  -o, --output FILE        write the JSON here\n"
		"      --sizes LIST         frame sizes, WxH,WxH,... (default\n"
		"                           1280x720,1920x1080,3840x2160)\n"
		"  -r, --reps N             repetitions of every figure (default 5)\n"
		"  -n, --frames N           frames per run (default 200)\n"
		"  -b, --buffers N          buffers per window (default 3)\n"
		"      --refresh HZ         the daemon's output refresh (default 1000)\n"
		"      --scale NxM          N clients holding M mapped buffers (default 100x10;\n"
		"                           0x0 skips the scale figures)\n"
		"      --scale-frames N     probe frames for the frame interval (default 120)\n"
		"      --scale-refresh HZ   the scale daemon's refresh (default 60)\n"
		"      --scale-nofile N     the scale daemon's soft RLIMIT_NOFILE (default 1024;\n"
		"                           0 keeps the inherited one)\n"
		"      --alloc N            buffers per allocation-rate run (default 200)\n"
		"      --compare NAME[=CMD] the wl_shm workload on another compositor too:\n"
		"                           weston, or any CMD with {socket}, {width}, {height}\n"
		"      --messages           count sendmsg/recvmsg (strace) and protocol messages\n"
		"                           (WAYLAND_DEBUG) per frame\n"
		"      --smoke              a short run for CI: small frames, few repetitions\n"
		"  -h, --help               show this help and exit\n"
		"  -V, --version            show the version and exit\n",
		prog);
}

static _Noreturn void usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "%s: %s: '%s'\nTry '%s --help' for more information.\n", prog, what,
		arg, prog);
	exit(2);
}

static uint32_t parse_u32(const char *name, const char *arg, uint32_t min, uint32_t max)
{
	char *end;
	errno = 0;
	unsigned long long value = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 || value < min ||
			value > max) {
		char what[96];
		snprintf(what, sizeof(what), "--%s takes an integer in %" PRIu32 "..%" PRIu32,
			name, min, max);
		usage_error(what, arg);
	}
	return (uint32_t)value;
}

static bool parse_pair(const char *arg, uint32_t *a, uint32_t *b)
{
	unsigned x, y;
	char tail;
	if (sscanf(arg, "%ux%u%c", &x, &y, &tail) != 2) {
		return false;
	}
	*a = x;
	*b = y;
	return true;
}

static void parse_sizes(struct options *opts, const char *arg)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", arg);
	opts->nsizes = 0;
	char *save = NULL;
	for (char *item = strtok_r(copy, ",", &save); item != NULL;
			item = strtok_r(NULL, ",", &save)) {
		struct size *size = &opts->sizes[opts->nsizes];
		if (opts->nsizes == MAX_SIZES || !parse_pair(item, &size->width, &size->height) ||
				size->width < 16 || size->height < 16 || size->width > 8192 ||
				size->height > 8192) {
			usage_error("--sizes takes up to 8 sizes WxH from 16x16 to 8192x8192", arg);
		}
		opts->nsizes++;
	}
	if (opts->nsizes == 0) {
		usage_error("--sizes takes up to 8 sizes WxH", arg);
	}
}

static void parse_compare(struct options *opts, const char *arg)
{
	if (opts->ncompare == MAX_COMPARE) {
		usage_error("--compare is given more than 4 times", arg);
	}
	struct compare *compare = &opts->compare[opts->ncompare];
	const char *eq = strchr(arg, '=');
	if (eq != NULL) {
		compare->name = strndup(arg, (size_t)(eq - arg));
		compare->command = eq + 1;
	} else {
		for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
			if (strcmp(arg, presets[i].name) == 0) {
				*compare = presets[i];
			}
		}
		if (compare->name == NULL) {
			usage_error("--compare takes weston or NAME=CMD", arg);
		}
	}
	opts->ncompare++;
}

enum {
	OPT_SIZES = 256,
	OPT_REFRESH,
	OPT_SCALE,
	OPT_SCALE_FRAMES,
	OPT_SCALE_REFRESH,
	OPT_SCALE_NOFILE,
	OPT_ALLOC,
	OPT_COMPARE,
	OPT_MESSAGES,
	OPT_SMOKE,
	OPT_CHILD,
};

static const struct option long_options[] = {
	{ "daemon", required_argument, NULL, 'd' },
	{ "daemon-arg", required_argument, NULL, 'a' },
	{ "output", required_argument, NULL, 'o' },
	{ "sizes", required_argument, NULL, OPT_SIZES },
	{ "reps", required_argument, NULL, 'r' },
	{ "frames", required_argument, NULL, 'n' },
	{ "buffers", required_argument, NULL, 'b' },
	{ "refresh", required_argument, NULL, OPT_REFRESH },
	{ "scale", required_argument, NULL, OPT_SCALE },
	{ "scale-frames", required_argument, NULL, OPT_SCALE_FRAMES },
	{ "scale-refresh", required_argument, NULL, OPT_SCALE_REFRESH },
	{ "scale-nofile", required_argument, NULL, OPT_SCALE_NOFILE },
	{ "alloc", required_argument, NULL, OPT_ALLOC },
	{ "compare", required_argument, NULL, OPT_COMPARE },
	{ "messages", no_argument, NULL, OPT_MESSAGES },
	{ "smoke", no_argument, NULL, OPT_SMOKE },
	{ "child-frames", required_argument, NULL, OPT_CHILD },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

static void set_smoke(struct options *opts)
{
	opts->smoke = true;
	parse_sizes(opts, "320x240");
	opts->reps = 2;
	opts->frames = 10;
	opts->scale_clients = 4;
	opts->scale_buffers = 2;
	opts->scale_frames = 10;
	opts->alloc_count = 10;
	opts->bracket_count = 10;
}

static void handle_option(struct options *opts, int c, const char *arg)
{
	switch (c) {
	case 'd':
		opts->daemon = arg;
		break;
	case 'a':
		if (opts->ndaemon_args == 20) {
			usage_error("--daemon-arg is given more than 20 times", arg);
		}
		opts->daemon_args[opts->ndaemon_args++] = arg;
		break;
	case 'o':
		opts->output = arg;
		break;
	case OPT_SIZES:
		parse_sizes(opts, arg);
		break;
	case 'r':
		opts->reps = parse_u32("reps", arg, 1, BENCH_MAX_SAMPLES);
		break;
	case 'n':
		opts->frames = parse_u32("frames", arg, 2, 1000000);
		break;
	case 'b':
		opts->buffers = parse_u32("buffers", arg, 2, 8);
		break;
	case OPT_REFRESH:
		opts->refresh = parse_u32("refresh", arg, 1, 1000);
		break;
	case OPT_SCALE:
		if (!parse_pair(arg, &opts->scale_clients, &opts->scale_buffers) ||
				opts->scale_clients > 10000 || opts->scale_buffers > 1000) {
			usage_error("--scale takes NxM, N up to 10000, M up to 1000", arg);
		}
		break;
	case OPT_SCALE_FRAMES:
		opts->scale_frames = parse_u32("scale-frames", arg, 0, 100000);
		break;
	case OPT_SCALE_REFRESH:
		opts->scale_refresh = parse_u32("scale-refresh", arg, 1, 1000);
		break;
	case OPT_SCALE_NOFILE:
		opts->scale_nofile = parse_u32("scale-nofile", arg, 0, UINT32_MAX);
		break;
	case OPT_ALLOC:
		opts->alloc_count = parse_u32("alloc", arg, 1, 1000000);
		break;
	case OPT_COMPARE:
		parse_compare(opts, arg);
		break;
	case OPT_MESSAGES:
		opts->messages = true;
		break;
	case OPT_SMOKE:
		set_smoke(opts);
		break;
	case OPT_CHILD:
		opts->child = arg;
		break;
	case 'h':
		usage();
		exit(0);
	case 'V':
		printf("%s %s\n", prog, DMAB_VERSION);
		exit(0);
	default:
		fprintf(stderr, "Try '%s --help' for more information.\n", prog);
		exit(2);
	}
}

static void parse_options(int argc, char *argv[], struct options *opts)
{
	*opts = (struct options){
		.reps = 5,
		.frames = 200,
		.buffers = 3,
		.refresh = 1000,
		.scale_clients = 100,
		.scale_buffers = 10,
		.scale_frames = 120,
		.scale_refresh = 60,
		.scale_nofile = 1024,
		.alloc_count = 200,
		.bracket_count = 500,
	};
	parse_sizes(opts, "1280x720,1920x1080,3840x2160");
	int c;
	while ((c = getopt_long(argc, argv, "a:d:o:r:n:b:hV", long_options, NULL)) != -1) {
		handle_option(opts, c, optarg);
	}
	if (optind < argc) {
		usage_error("unexpected argument", argv[optind]);
	}
}

/* Finds dmabrokerd: installed beside us, or in the build tree, or on $PATH. */
static const char *find_daemon(void)
{
	static char path[PATH_MAX + 32];
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len > 0) {
		self[len] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			static const char *const candidates[] = {
				"dmabrokerd", "../../broker/dmabrokerd",
			};
			for (size_t i = 0; i < 2; i++) {
				snprintf(path, sizeof(path), "%s/%s", self, candidates[i]);
				if (access(path, X_OK) == 0) {
					return path;
				}
			}
		}
	}
	return "dmabrokerd";
}

/* Runs */

static void add_run(struct run_series *series, const struct bench_frames_result *result)
{
	series_add(&series->fps, result->fps);
	series_add(&series->client_ms, result->client_cpu_ms);
	series_add(&series->server_ms, result->server_cpu_ms);
	series_add(&series->wall_ms, result->wall_ms);
}

/* Divides each repetition by the medians of the memory figures of the same size. */
static void add_limits(struct run_series *series, const struct bench_memory *memory)
{
	double memset_ms = series_median(&memory->memset_cold) * 1e3;
	double memcpy_ms = series_median(&memory->memcpy_cold) * 1e3;
	for (size_t i = 0; i < series->client_ms.len; i++) {
		series_add(&series->client_limit, series->client_ms.v[i] / memset_ms);
		series_add(&series->server_limit, series->server_ms.v[i] / memcpy_ms);
	}
}

struct size_servers {
	struct bench_server origin, offset, nv12;
	struct bench_server compare[MAX_COMPARE];
	struct bench_session *s_origin, *s_offset, *s_nv12;
	struct bench_session *s_compare[MAX_COMPARE];
};

static void stop_servers(struct size_servers *servers, const struct options *opts)
{
	bench_session_destroy(servers->s_origin);
	bench_session_destroy(servers->s_offset);
	bench_session_destroy(servers->s_nv12);
	bench_server_stop(&servers->origin);
	bench_server_stop(&servers->offset);
	bench_server_stop(&servers->nv12);
	for (size_t i = 0; i < opts->ncompare; i++) {
		bench_session_destroy(servers->s_compare[i]);
		bench_server_stop(&servers->compare[i]);
	}
}

static bool start_servers(struct size_servers *servers, const struct options *opts,
	struct size size)
{
	uint32_t out_w = size.width + OUTPUT_MARGIN, out_h = size.height + OUTPUT_MARGIN;
	if (!bench_daemon_start(&servers->origin, opts->daemon, out_w, out_h, opts->refresh, 0) ||
			!bench_daemon_start(&servers->offset, opts->daemon, out_w, out_h,
				opts->refresh, 0) ||
			!bench_daemon_start(&servers->nv12, opts->daemon, out_w, out_h,
				opts->refresh, 0)) {
		return false;
	}
	servers->s_origin = bench_session_create(&servers->origin, size.width, size.height,
		opts->buffers, false, true, DRM_FORMAT_XRGB8888);
	servers->s_offset = bench_session_create(&servers->offset, size.width, size.height,
		opts->buffers, true, true, DRM_FORMAT_XRGB8888);
	/* Its own daemon, so that the XRGB window is not on the output it composites. */
	servers->s_nv12 = bench_session_create(&servers->nv12, size.width, size.height,
		opts->buffers, false, true, DRM_FORMAT_NV12);
	if (servers->s_origin == NULL || servers->s_offset == NULL || servers->s_nv12 == NULL) {
		return false;
	}
	for (size_t i = 0; i < opts->ncompare; i++) {
		/* A compositor that is missing or fails is reported as null, not as a failure. */
		if (bench_command_start(&servers->compare[i], opts->compare[i].name,
				opts->compare[i].command, out_w, out_h)) {
			servers->s_compare[i] = bench_session_create(&servers->compare[i],
				size.width, size.height, opts->buffers, false, false,
				DRM_FORMAT_XRGB8888);
		}
	}
	return true;
}

static bool one_run(struct bench_session *session, enum bench_variant variant,
	const struct options *opts, pid_t pid, struct run_series *series,
	struct bench_frames_result *raw)
{
	struct bench_frames_result result;
	if (!bench_session_run(session, variant, opts->frames, pid, &result)) {
		return false;
	}
	add_run(series, &result);
	*raw = result;
	return true;
}

/* One repetition: every variant once, in an order that alternates between repetitions. */
static bool one_rep(struct size_result *res, struct size_servers *servers,
	const struct options *opts, uint32_t rep)
{
	static const enum run_kind order[2][RUN_KINDS] = {
		{ RUN_BROKER_ORIGIN, RUN_SHM_ORIGIN, RUN_BROKER_OFFSET, RUN_SHM_OFFSET,
			RUN_BROKER_NV12 },
		{ RUN_BROKER_NV12, RUN_SHM_OFFSET, RUN_BROKER_OFFSET, RUN_SHM_ORIGIN,
			RUN_BROKER_ORIGIN },
	};
	for (size_t i = 0; i < RUN_KINDS; i++) {
		enum run_kind kind = order[rep % 2][i];
		bool offset = kind == RUN_BROKER_OFFSET || kind == RUN_SHM_OFFSET;
		bool shm = kind == RUN_SHM_ORIGIN || kind == RUN_SHM_OFFSET;
		enum bench_variant variant = shm ? BENCH_SHM : BENCH_BROKER;
		struct bench_session *session = offset ? servers->s_offset : servers->s_origin;
		pid_t pid = offset ? servers->offset.pid : servers->origin.pid;
		if (kind == RUN_BROKER_NV12) {
			session = servers->s_nv12;
			pid = servers->nv12.pid;
		}
		if (!one_run(session, variant, opts, pid, &res->runs[kind], &res->raw[kind][rep])) {
			return false;
		}
	}
	for (size_t i = 0; i < opts->ncompare; i++) {
		if (servers->s_compare[i] != NULL) {
			res->compare_ok[i] = one_run(servers->s_compare[i], BENCH_SHM, opts,
				servers->compare[i].pid, &res->compare[i],
				&res->raw_compare[i][rep]);
		}
	}
	series_add(&res->fps_ratio, res->raw[RUN_BROKER_ORIGIN][rep].fps /
		res->raw[RUN_SHM_ORIGIN][rep].fps);
	series_add(&res->offset_ratio, res->raw[RUN_BROKER_OFFSET][rep].server_cpu_ms /
		res->raw[RUN_BROKER_ORIGIN][rep].server_cpu_ms);
	series_add(&res->nv12_ratio, res->raw[RUN_BROKER_NV12][rep].server_cpu_ms /
		res->raw[RUN_BROKER_ORIGIN][rep].server_cpu_ms);
	series_add(&res->frame_overhead_us, (res->raw[RUN_BROKER_ORIGIN][rep].client_cpu_ms -
		res->raw[RUN_SHM_ORIGIN][rep].client_cpu_ms) * 1e3);
	double us;
	if (!bench_session_brackets(servers->s_origin, opts->bracket_count, &us)) {
		return false;
	}
	series_add(&res->bracket_us, us);
	double lazy, mapped;
	if (!bench_alloc_rate(&servers->origin, res->size.width, res->size.height,
			opts->alloc_count, &lazy, &mapped)) {
		return false;
	}
	series_add(&res->alloc_lazy, lazy);
	series_add(&res->alloc_mapped, mapped);
	return bench_memory_sample(&res->memory, (size_t)res->size.width * res->size.height * 4);
}

static bool bench_size(struct size_result *res, const struct options *opts)
{
	struct size_servers servers = { 0 };
	for (size_t i = 0; i < MAX_COMPARE; i++) {
		servers.compare[i].out_fd = -1;
	}
	servers.origin.out_fd = servers.offset.out_fd = servers.nv12.out_fd = -1;
	bool ok = start_servers(&servers, opts, res->size);
	for (uint32_t rep = 0; ok && rep < opts->reps; rep++) {
		ok = one_rep(res, &servers, opts, rep);
	}
	stop_servers(&servers, opts);
	for (size_t i = 0; ok && i < RUN_KINDS; i++) {
		add_limits(&res->runs[i], &res->memory);
	}
	for (size_t i = 0; ok && i < opts->ncompare; i++) {
		add_limits(&res->compare[i], &res->memory);
	}
	return ok;
}

/* Messages: the same frame loop in a child, under strace and WAYLAND_DEBUG */

static int child_frames(const char *spec, uint32_t buffers)
{
	char variant[16];
	unsigned width, height, frames;
	if (sscanf(spec, "%15[a-z]:%u:%u:%u", variant, &width, &height, &frames) != 4) {
		usage_error("--child-frames takes broker|shm:W:H:FRAMES", spec);
	}
	struct bench_server server = { .out_fd = -1 };
	snprintf(server.socket, sizeof(server.socket), "%s", getenv("WAYLAND_DISPLAY"));
	snprintf(server.name, sizeof(server.name), "dmabrokerd");
	struct bench_session *session = bench_session_create(&server, width, height, buffers,
		false, true, DRM_FORMAT_XRGB8888);
	struct bench_frames_result result;
	bool ok = session != NULL && bench_session_run(session,
		strcmp(variant, "shm") == 0 ? BENCH_SHM : BENCH_BROKER, frames, 0, &result);
	bench_session_destroy(session);
	return ok ? 0 : 1;
}

struct counts {
	double sendmsg, recvmsg, requests, events;
};

static bool parse_strace(const char *path, struct counts *counts)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return false;
	}
	char line[256];
	while (fgets(line, sizeof(line), f) != NULL) {
		double pct, seconds;
		unsigned long usecs, calls;
		char name[32];
		/* "% time  seconds  usecs/call  calls  [errors]  syscall": the name comes last. */
		if (sscanf(line, "%lf %lf %lu %lu", &pct, &seconds, &usecs, &calls) != 4) {
			continue;
		}
		char *last = strrchr(line, ' ');
		if (last == NULL || sscanf(last, "%31s", name) != 1) {
			continue;
		}
		if (strcmp(name, "sendmsg") == 0) {
			counts->sendmsg = calls;
		} else if (strcmp(name, "recvmsg") == 0) {
			counts->recvmsg = calls;
		}
	}
	fclose(f);
	return true;
}

/* WAYLAND_DEBUG=client prints "[time]  -> object.request(...)" and "[time] object.event(...)". */
static bool parse_debug(const char *path, struct counts *counts)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return false;
	}
	char line[4096];
	while (fgets(line, sizeof(line), f) != NULL) {
		char *close = strchr(line, ']');
		if (line[0] != '[' || close == NULL) {
			continue;
		}
		if (strncmp(close + 1, "  -> ", 5) == 0) {
			counts->requests++;
		} else if (strchr(close, '@') != NULL) {
			counts->events++;
		}
	}
	fclose(f);
	return true;
}

static bool count_run(const char *self, const char *variant, struct size size, uint32_t frames,
	uint32_t buffers, struct counts *counts)
{
	char dir[256], strace_out[300], debug_out[300], spec[64], nbuf[16];
	snprintf(dir, sizeof(dir), "%s", getenv("XDG_RUNTIME_DIR"));
	snprintf(strace_out, sizeof(strace_out), "%s/strace.txt", dir);
	snprintf(debug_out, sizeof(debug_out), "%s/wayland-debug.txt", dir);
	snprintf(spec, sizeof(spec), "%s:%u:%u:%u", variant, size.width, size.height, frames);
	snprintf(nbuf, sizeof(nbuf), "%u", buffers);
	pid_t pid = fork();
	if (pid < 0) {
		return false;
	}
	if (pid == 0) {
		int fd = open(debug_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		dup2(fd, STDERR_FILENO);
		setenv("WAYLAND_DEBUG", "client", 1);
		execlp("strace", "strace", "-f", "-qq", "-c", "-e", "trace=sendmsg,recvmsg", "-o",
			strace_out, self, "--buffers", nbuf, "--child-frames", spec, (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	*counts = (struct counts){ 0 };
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		parse_strace(strace_out, counts) && parse_debug(debug_out, counts);
	unlink(strace_out);
	unlink(debug_out);
	return ok;
}

/* Per frame: the difference between a run of 2F frames and one of F, so setup cancels out. */
static bool bench_messages(struct messages_result *res, const struct options *opts)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		return false;
	}
	self[len] = '\0';
	struct size size = opts->sizes[0];
	struct bench_server server = { .out_fd = -1 };
	if (!bench_daemon_start(&server, opts->daemon, size.width + OUTPUT_MARGIN,
			size.height + OUTPUT_MARGIN, opts->refresh, 0)) {
		return false;
	}
	setenv("WAYLAND_DISPLAY", server.socket, 1);
	static const char *const variants[2] = { "broker", "shm" };
	bool ok = true;
	for (int v = 0; v < 2 && ok; v++) {
		struct counts one, two;
		ok = count_run(self, variants[v], size, opts->frames, opts->buffers, &one) &&
			count_run(self, variants[v], size, 2 * opts->frames, opts->buffers, &two);
		res->sendmsg[v] = (two.sendmsg - one.sendmsg) / opts->frames;
		res->recvmsg[v] = (two.recvmsg - one.recvmsg) / opts->frames;
		res->requests[v] = (two.requests - one.requests) / opts->frames;
		res->events[v] = (two.events - one.events) / opts->frames;
	}
	bench_server_stop(&server);
	res->done = ok;
	if (!ok) {
		fprintf(stderr, "%s: --messages: the counted run failed (is strace installed?)\n",
			prog);
	}
	return ok;
}

/* Scale */

static bool bench_scale_all(struct scale_series *res, const struct options *opts)
{
	struct bench_server server = { .out_fd = -1 };
	if (!bench_daemon_start(&server, opts->daemon, 640, 480, opts->scale_refresh,
			opts->scale_nofile)) {
		return false;
	}
	uint32_t reps = opts->reps < 3 ? opts->reps : 3;
	bool ok = true;
	for (uint32_t rep = 0; rep < reps && ok; rep++) {
		struct bench_scale_result *r = &res->last;
		ok = bench_scale(&server, opts->scale_clients, opts->scale_buffers,
			opts->scale_frames, opts->scale_refresh, r);
		series_add(&res->ready, r->ready);
		series_add(&res->failed, r->failed);
		series_add(&res->disconnected, r->disconnected);
		series_add(&res->rss, r->server_rss_kib_per_buffer);
		series_add(&res->fds, r->server_fds_per_buffer);
		series_add(&res->client_fds, r->client_fds_per_buffer);
		if (r->interval_p50_ms >= 0) {
			series_add(&res->p50, r->interval_p50_ms);
			series_add(&res->p99, r->interval_p99_ms);
		}
	}
	bench_server_stop(&server);
	return ok;
}

/* Output */

static void json_key_series(FILE *out, const char *indent, const char *key,
	const struct bench_series *series, bool last)
{
	fprintf(out, "%s\"%s\": ", indent, key);
	series_json(out, series);
	fprintf(out, "%s\n", last ? "" : ",");
}

static void json_run(FILE *out, const char *name, const struct run_series *run, bool last)
{
	const char *in = "\t\t\t\t";
	fprintf(out, "\t\t\t\"%s\": {\n", name);
	json_key_series(out, in, "fps", &run->fps, false);
	json_key_series(out, in, "wall_ms_per_frame", &run->wall_ms, false);
	json_key_series(out, in, "client_cpu_ms_per_frame", &run->client_ms, false);
	json_key_series(out, in, "daemon_cpu_ms_per_frame", &run->server_ms, false);
	json_key_series(out, in, "client_cpu_per_cold_memset", &run->client_limit, false);
	json_key_series(out, in, "daemon_cpu_per_cold_memcpy", &run->server_limit, true);
	fprintf(out, "\t\t\t}%s\n", last ? "" : ",");
}

/* GB/s from seconds per pass, per repetition. */
static void json_memory(FILE *out, const struct bench_memory *memory, size_t bytes)
{
	const struct {
		const char *name;
		const struct bench_series *series;
	} ops[] = {
		{ "memset_cold", &memory->memset_cold }, { "memset_warm", &memory->memset_warm },
		{ "memcpy_cold", &memory->memcpy_cold }, { "memcpy_warm", &memory->memcpy_warm },
		{ "read_cold", &memory->read_cold }, { "read_warm", &memory->read_warm },
	};
	double limit = series_median(&memory->memcpy_cold);
	fprintf(out, "\t\t\"memory\": {\n");
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct bench_series ms = { 0 }, gbps = { 0 }, per_limit = { 0 };
		for (size_t j = 0; j < ops[i].series->len; j++) {
			double s = ops[i].series->v[j];
			series_add(&ms, s * 1e3);
			series_add(&gbps, (double)bytes / s / 1e9);
			series_add(&per_limit, s / limit);
		}
		fprintf(out, "\t\t\t\"%s\": {\"ms\": ", ops[i].name);
		series_json(out, &ms);
		fprintf(out, ", \"GB_per_s\": ");
		series_json(out, &gbps);
		fprintf(out, ", \"per_cold_memcpy\": ");
		series_json(out, &per_limit);
		fprintf(out, "}%s\n", i + 1 < sizeof(ops) / sizeof(ops[0]) ? "," : "");
	}
	fprintf(out, "\t\t},\n");
}

static void json_size(FILE *out, const struct size_result *res, const struct options *opts,
	bool last)
{
	fprintf(out, "\t{\n\t\t\"width\": %u, \"height\": %u, \"frame_bytes\": %zu,\n",
		res->size.width, res->size.height, (size_t)res->size.width * res->size.height * 4);
	json_memory(out, &res->memory, (size_t)res->size.width * res->size.height * 4);
	fprintf(out, "\t\t\"runs\": {\n");
	for (size_t i = 0; i < RUN_KINDS; i++) {
		bool last_run = i + 1 == RUN_KINDS && opts->ncompare == 0;
		json_run(out, run_names[i], &res->runs[i], last_run);
	}
	for (size_t i = 0; i < opts->ncompare; i++) {
		char name[48];
		snprintf(name, sizeof(name), "shm_%s", opts->compare[i].name);
		if (res->compare_ok[i]) {
			json_run(out, name, &res->compare[i], i + 1 == opts->ncompare);
		} else {
			fprintf(out, "\t\t\t\"%s\": null%s\n", name,
				i + 1 == opts->ncompare ? "" : ",");
		}
	}
	fprintf(out, "\t\t},\n");
	const char *in = "\t\t";
	json_key_series(out, in, "fps_broker_per_shm", &res->fps_ratio, false);
	json_key_series(out, in, "daemon_cpu_offset_per_origin", &res->offset_ratio, false);
	json_key_series(out, in, "daemon_cpu_nv12_per_xrgb", &res->nv12_ratio, false);
	json_key_series(out, in, "bracket_us", &res->bracket_us, false);
	json_key_series(out, in, "client_overhead_us_per_frame", &res->frame_overhead_us, false);
	json_key_series(out, in, "alloc_lazy_per_s", &res->alloc_lazy, false);
	json_key_series(out, in, "alloc_mapped_per_s", &res->alloc_mapped, true);
	fprintf(out, "\t}%s\n", last ? "" : ",");
}

static void json_messages(FILE *out, const struct messages_result *res)
{
	if (!res->done) {
		fprintf(out, "\t\"messages_per_frame\": null,\n");
		return;
	}
	fprintf(out, "\t\"messages_per_frame\": {\n");
	static const char *const names[2] = { "broker", "shm" };
	for (int v = 0; v < 2; v++) {
		fprintf(out, "\t\t\"%s\": {\"sendmsg\": %.3f, \"recvmsg\": %.3f, "
			"\"requests\": %.3f, \"events\": %.3f}%s\n", names[v], res->sendmsg[v],
			res->recvmsg[v], res->requests[v], res->events[v], v == 0 ? "," : "");
	}
	fprintf(out, "\t},\n");
}

static void json_scale(FILE *out, const struct scale_series *res, const struct options *opts,
	bool done)
{
	if (!done) {
		fprintf(out, "\t\"scale\": null\n");
		return;
	}
	const char *in = "\t\t";
	fprintf(out, "\t\"scale\": {\n\t\t\"clients\": %u, \"buffers_per_client\": %u, "
		"\"daemon_nofile_soft\": %" PRIu64 ", \"refresh_interval_ms\": %.3f,\n",
		opts->scale_clients, opts->scale_buffers, opts->scale_nofile,
		1000.0 / opts->scale_refresh);
	json_key_series(out, in, "clients_ready", &res->ready, false);
	json_key_series(out, in, "clients_failed", &res->failed, false);
	json_key_series(out, in, "clients_disconnected", &res->disconnected, false);
	json_key_series(out, in, "daemon_rss_kib_per_buffer", &res->rss, false);
	json_key_series(out, in, "daemon_fds_per_buffer", &res->fds, false);
	json_key_series(out, in, "client_fds_per_buffer", &res->client_fds, false);
	json_key_series(out, in, "frame_interval_p50_ms", &res->p50, false);
	json_key_series(out, in, "frame_interval_p99_ms", &res->p99, true);
	fprintf(out, "\t}\n");
}

static void read_line(const char *path, char *buf, size_t size)
{
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f != NULL) {
		if (fgets(buf, (int)size, f) == NULL) {
			buf[0] = '\0';
		}
		fclose(f);
	}
	buf[strcspn(buf, "\n\"\\")] = '\0';
}

static bool write_json(const char *path, const struct options *opts, struct size_result *sizes,
	const struct messages_result *messages, const struct scale_series *scale, bool scale_done,
	const char *load_before)
{
	FILE *out = path == NULL || strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (out == NULL) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
		return false;
	}
	char load_after[128];
	read_line("/proc/loadavg", load_after, sizeof(load_after));
	fprintf(out, "{\n\t\"version\": \"%s\",\n\t\"build\": \"%s\",\n", DMAB_VERSION,
		DMAB_BENCH_BUILD);
	fprintf(out, "\t\"cpus\": %ld,\n\t\"loadavg_before\": \"%s\",\n"
		"\t\"loadavg_after\": \"%s\",\n", sysconf(_SC_NPROCESSORS_ONLN), load_before,
		load_after);
	fprintf(out, "\t\"daemon_args\": [");
	for (size_t i = 0; i < opts->ndaemon_args; i++) {
		fprintf(out, "%s\"%s\"", i == 0 ? "" : ", ", opts->daemon_args[i]);
	}
	fprintf(out, "],\n");
	fprintf(out, "\t\"reps\": %u, \"frames\": %u, \"buffers\": %u, \"refresh_hz\": %u,\n",
		opts->reps, opts->frames, opts->buffers, opts->refresh);
	fprintf(out, "\t\"sizes\": [\n");
	for (size_t i = 0; i < opts->nsizes; i++) {
		json_size(out, &sizes[i], opts, i + 1 == opts->nsizes);
	}
	fprintf(out, "\t],\n");
	json_messages(out, messages);
	json_scale(out, scale, opts, scale_done);
	fprintf(out, "}\n");
	return out == stdout ? fflush(out) == 0 : fclose(out) == 0;
}

static void print_summary(const struct options *opts, const struct size_result *sizes,
	const struct messages_result *messages, const struct scale_series *scale, bool scale_done)
{
	fprintf(stderr, "%-10s %9s %9s %9s %9s %10s %10s %8s %9s\n", "size", "fps brk",
		"fps shm", "brk/shm", "memcpy", "daemon ms", "/memcpy", "off/orig", "brkt us");
	for (size_t i = 0; i < opts->nsizes; i++) {
		const struct size_result *r = &sizes[i];
		const struct run_series *b = &r->runs[RUN_BROKER_ORIGIN];
		char size[24];
		snprintf(size, sizeof(size), "%ux%u", r->size.width, r->size.height);
		fprintf(stderr, "%-10s %9.1f %9.1f %9.3f %9.3f %10.3f %10.3f %8.3f %9.1f\n", size,
			series_median(&b->fps), series_median(&r->runs[RUN_SHM_ORIGIN].fps),
			series_median(&r->fps_ratio), series_median(&r->memory.memcpy_cold) * 1e3,
			series_median(&b->server_ms), series_median(&b->server_limit),
			series_median(&r->offset_ratio), series_median(&r->bracket_us));
	}
	/* NV12 apart, so the first table keeps to one screen's width. */
	fprintf(stderr, "%-10s %9s %10s %10s %9s %10s\n", "NV12 size", "fps", "client ms",
		"daemon ms", "/xrgb", "/memcpy");
	for (size_t i = 0; i < opts->nsizes; i++) {
		const struct size_result *r = &sizes[i];
		const struct run_series *n = &r->runs[RUN_BROKER_NV12];
		char size[24];
		snprintf(size, sizeof(size), "%ux%u", r->size.width, r->size.height);
		fprintf(stderr, "%-10s %9.1f %10.3f %10.3f %9.3f %10.3f\n", size,
			series_median(&n->fps), series_median(&n->client_ms),
			series_median(&n->server_ms), series_median(&r->nv12_ratio),
			series_median(&n->server_limit));
	}
	if (messages->done) {
		fprintf(stderr, "per frame: broker %.2f sendmsg, %.2f requests; shm %.2f sendmsg, "
			"%.2f requests\n", messages->sendmsg[0], messages->requests[0],
			messages->sendmsg[1], messages->requests[1]);
	}
	if (scale_done) {
		fprintf(stderr, "scale %ux%u: %.0f ready, %.0f failed, %.0f disconnected; "
			"p50 %.2f ms, p99 %.2f ms\n", opts->scale_clients, opts->scale_buffers,
			series_median(&scale->ready), series_median(&scale->failed),
			series_median(&scale->disconnected), series_median(&scale->p50),
			series_median(&scale->p99));
	}
}

/* A private runtime directory, so no socket of the user's session is touched. */
static char runtime_dir[64];

static bool make_runtime_dir(void)
{
	snprintf(runtime_dir, sizeof(runtime_dir), "/tmp/dmab-bench-XXXXXX");
	if (mkdtemp(runtime_dir) == NULL) {
		return false;
	}
	setenv("XDG_RUNTIME_DIR", runtime_dir, 1);
	return true;
}

/* Removes what compositors left behind (lock files), then the directory. */
static void remove_runtime_dir(void)
{
	DIR *dir = opendir(runtime_dir);
	if (dir != NULL) {
		struct dirent *entry;
		while ((entry = readdir(dir)) != NULL) {
			if (entry->d_name[0] != '.') {
				char path[PATH_MAX];
				snprintf(path, sizeof(path), "%s/%s", runtime_dir, entry->d_name);
				unlink(path);
			}
		}
		closedir(dir);
	}
	rmdir(runtime_dir);
}

/* The scale figures hold one fd per mapped buffer in this process too. */
static void raise_nofile(void)
{
	struct rlimit lim;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
		lim.rlim_cur = lim.rlim_max;
		setrlimit(RLIMIT_NOFILE, &lim);
	}
}

int main(int argc, char *argv[])
{
	struct options opts;
	parse_options(argc, argv, &opts);
	if (opts.child != NULL) {
		return child_frames(opts.child, opts.buffers);
	}
	if (opts.daemon == NULL) {
		opts.daemon = find_daemon();
	}
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	bench_daemon_set_extra_args(opts.daemon_args);
	if (!make_runtime_dir()) {
		fprintf(stderr, "%s: cannot make a runtime directory: %s\n", prog, strerror(errno));
		return EXIT_FAILURE;
	}
	char load_before[128];
	read_line("/proc/loadavg", load_before, sizeof(load_before));
	struct size_result *sizes = calloc(opts.nsizes, sizeof(*sizes));
	struct messages_result messages = { 0 };
	struct scale_series scale = { 0 };
	bool ok = sizes != NULL;
	for (size_t i = 0; ok && i < opts.nsizes; i++) {
		sizes[i].size = opts.sizes[i];
		fprintf(stderr, "%s: %ux%u\n", prog, opts.sizes[i].width, opts.sizes[i].height);
		ok = bench_size(&sizes[i], &opts);
	}
	if (ok && opts.messages) {
		ok = bench_messages(&messages, &opts);
	}
	bool scale_done = false;
	if (ok && opts.scale_clients > 0 && opts.scale_buffers > 0) {
		fprintf(stderr, "%s: scale %ux%u\n", prog, opts.scale_clients, opts.scale_buffers);
		scale_done = ok = bench_scale_all(&scale, &opts);
	}
	if (ok && opts.smoke && scale_done && series_median(&scale.ready) != opts.scale_clients) {
		fprintf(stderr, "%s: --smoke: not every scale client became ready\n", prog);
		ok = false;
	}
	if (ok) {
		ok = write_json(opts.output, &opts, sizes, &messages, &scale, scale_done,
			load_before);
		print_summary(&opts, sizes, &messages, &scale, scale_done);
	} else {
		fprintf(stderr, "%s: a run failed; no figures written\n", prog);
	}
	free(sizes);
	remove_runtime_dir();
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
