/* SPDX-License-Identifier: MIT */
/*
 * dmab-bench: measures dmabrokerd against wl_shm through the same daemon.
 * The modules below each own one kind of measurement; bench.c runs them,
 * interleaving variants, and writes the figures as JSON.
 */
#ifndef DMAB_BENCH_H
#define DMAB_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BENCH_MAX_SAMPLES 64

/* The samples of one figure over the repetitions. */
struct bench_series {
	double v[BENCH_MAX_SAMPLES];
	size_t len;
};

void series_add(struct bench_series *series, double value);
/* Writes {"min": ..., "median": ..., "max": ...}, or null for no samples. */
void series_json(FILE *out, const struct bench_series *series);
double series_median(const struct bench_series *series);

/* A compositor the bench started: its pid and the socket clients connect to. */
struct bench_server {
	pid_t pid;
	int out_fd; /* the read end of its stdout, kept open so it never sees EPIPE */
	char socket[64];
	char name[32];
};

/*
 * Starts dmabrokerd on a fresh socket in $XDG_RUNTIME_DIR with a headless
 * output of width x height at refresh Hz, and waits until it listens. nofile,
 * when not 0, is the soft RLIMIT_NOFILE the daemon starts with.
 */
bool bench_daemon_start(struct bench_server *server, const char *path, uint32_t width,
	uint32_t height, uint32_t refresh, uint64_t nofile);
/* Arguments every later bench_daemon_start passes on (NULL-terminated, kept by reference). */
void bench_daemon_set_extra_args(const char *const *args);
/*
 * Runs command through /bin/sh -c 'exec ...' with {socket}, {width} and
 * {height} replaced, and waits up to 10 s for the socket to appear.
 */
bool bench_command_start(struct bench_server *server, const char *name, const char *command,
	uint32_t width, uint32_t height);
/* SIGTERM, then SIGKILL after 5 s; reaps the process. */
void bench_server_stop(struct bench_server *server);

/* CPU time of pid in ns (schedstat, or utime + stime); -1 if unknown. */
int64_t bench_proc_cpu_ns(pid_t pid);
/* CPU time of this process (every thread) in ns. */
int64_t bench_self_cpu_ns(void);
/* VmRSS in KiB, and the number of open fds; -1 if unknown. */
int64_t bench_proc_rss_kib(pid_t pid);
int64_t bench_proc_fds(pid_t pid);

/* One run of frames through one window. */
enum bench_variant {
	BENCH_BROKER,
	BENCH_SHM,
};

struct bench_frames_result {
	double fps;
	double client_cpu_ms; /* per frame */
	double server_cpu_ms; /* per frame */
	double wall_ms;       /* per frame */
};

/*
 * One client with one toplevel of width x height (offset: a 1x1 window is
 * mapped first so the daemon's cascade places the measured one at 32,32) and
 * nbuf buffers of format. With broker, the buffers are broker buffers; without,
 * the same memory is shared again through wl_shm so that both variants write
 * the same pages. format is DRM_FORMAT_XRGB8888, or DRM_FORMAT_NV12 with
 * broker: then only BENCH_BROKER runs, and a frame writes both planes.
 */
struct bench_session;
struct bench_session *bench_session_create(const struct bench_server *server, uint32_t width,
	uint32_t height, uint32_t nbuf, bool offset, bool broker, uint32_t format);
void bench_session_destroy(struct bench_session *session);
/* Draws and presents frames frames of variant; false if the connection failed. */
bool bench_session_run(struct bench_session *session, enum bench_variant variant,
	uint32_t frames, pid_t server_pid, struct bench_frames_result *result);
/* Microseconds per begin(WRITE)/end pair on a mapped buffer, over count pairs. */
bool bench_session_brackets(struct bench_session *session, uint32_t count, double *us);
/*
 * Presents frames frames and stores the intervals between frame callbacks in
 * intervals_ms (frames - 1 values).
 */
bool bench_session_intervals(struct bench_session *session, uint32_t frames,
	double *intervals_ms);

/* Seconds for one memset, memcpy and read of size bytes, cold (cache evicted) or warm. */
struct bench_memory {
	struct bench_series memset_cold, memset_warm;
	struct bench_series memcpy_cold, memcpy_warm;
	struct bench_series read_cold, read_warm;
};

/* Adds one sample of each to memory (sizes up to the largest frame). */
bool bench_memory_sample(struct bench_memory *memory, size_t size);

struct bench_scale_result {
	uint32_t clients, buffers;
	uint32_t ready, failed, disconnected;
	double server_rss_kib_per_buffer, server_fds_per_buffer;
	double client_fds_per_buffer;
	double interval_p50_ms, interval_p99_ms, refresh_interval_ms;
};

/* N clients holding M mapped buffers each while a probe presents frames. */
bool bench_scale(const struct bench_server *server, uint32_t clients, uint32_t buffers,
	uint32_t frames, uint32_t refresh, struct bench_scale_result *result);

/* Buffers per second: create + destroy (lazy), and create + attach + map + destroy. */
bool bench_alloc_rate(const struct bench_server *server, uint32_t width, uint32_t height,
	uint32_t count, double *lazy_per_s, double *mapped_per_s);

#endif
