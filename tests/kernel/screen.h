/* SPDX-License-Identifier: MIT */
/*
 * What the real-kernel tier's compositor checks share: the tier's marker
 * lines, dmabrokerd started on the test's own XDG_RUNTIME_DIR, and grim
 * screenshots of its output, compared with the colours a test expects.
 *
 * The daemon is $DMABROKERD; grim is found on PATH. Logs and screenshots go to
 * the current directory, the scratch directory guest-tests.sh gives each test.
 */
#ifndef DMAB_TESTS_KERNEL_SCREEN_H
#define DMAB_TESTS_KERNEL_SCREEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "image.h"

/* The marker lines of guest-tests.sh: PASS <name> [detail], FAIL <name> <reason>, ... */
void kt_pass(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kt_fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kt_skip(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kt_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* kt_pass if ok, else kt_fail; returns ok. */
bool kt_check(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 1 if a check failed, 0 if one passed and none failed, 77 if all were skipped. */
int kt_exit_status(void);
/* The number of FAIL lines so far. */
int kt_failures(void);

/* The number of fds this process has open, or -1. */
int kt_count_fds(void);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t kt_now_ms(void);
void kt_sleep_ms(int ms);

/* A child process whose stdout and stderr go to files named after it. */
struct kt_proc {
	pid_t pid; /* 0 once reaped */
	int status; /* wait status, once reaped */
	char name[32];
	char out_path[64], err_path[64];
};

/* Spawns argv (argv[0] is looked up on PATH if it has no '/'). False on failure. */
bool kt_spawn(struct kt_proc *proc, const char *name, const char *const argv[]);
/* Reaps the process if it exits within timeout_ms; true if it has. */
bool kt_wait(struct kt_proc *proc, int timeout_ms);
/* Sends sig, waits up to timeout_ms, then SIGKILLs; returns the wait status. */
int kt_stop(struct kt_proc *proc, int sig, int timeout_ms);
/* True once proc printed a line containing needle on stdout (waits up to timeout_ms). */
bool kt_wait_for_output(struct kt_proc *proc, const char *needle, int timeout_ms);
/* True if proc's stderr contains needle. */
bool kt_stderr_contains(const struct kt_proc *proc, const char *needle);
/* True (and says so) if a sanitizer reported an error on proc's stderr. */
bool kt_sanitizer_reported(const struct kt_proc *proc);
/* Prints the last lines of proc's stdout and stderr, indented. */
void kt_print_logs(const struct kt_proc *proc);

struct kt_daemon {
	struct kt_proc proc;
	char display[64]; /* WAYLAND_DISPLAY */
	int width, height;
};

/*
 * Starts $DMABROKERD with --width/--height and the extra arguments, waits for
 * its WAYLAND_DISPLAY line and exports WAYLAND_DISPLAY. On failure prints
 * why and the daemon's log, and returns false.
 */
bool kt_daemon_start(struct kt_daemon *daemon, int width, int height,
	const char *const extra_args[]);
/* SIGTERMs the daemon; true if it exited 0 in time with no sanitizer report. */
bool kt_daemon_stop(struct kt_daemon *daemon);

/* Runs grim against the daemon and reads its PPM. False (and says why) on failure. */
bool kt_screenshot(struct kt_daemon *daemon, struct dmab_test_image *img);

/* The colour a screenshot must show at (x, y) of a region: 0xRRGGBB. */
typedef uint32_t (*kt_expected_func)(int x, int y, const void *data);

struct kt_region_result {
	long mismatches;
	int bad_x, bad_y; /* the first mismatch, in region coordinates */
	uint32_t got, want;
};

/*
 * Compares the width x height region at (x0, y0) with expected; false if the
 * region is not wholly inside the image or any pixel differs.
 */
bool kt_region_matches(const struct dmab_test_image *img, int x0, int y0, int width, int height,
	kt_expected_func expected, const void *data, struct kt_region_result *result);
/* expected for a region of one colour: data points to its uint32_t 0xRRGGBB. */
uint32_t kt_expected_solid(int x, int y, const void *data);

/*
 * Screenshots until the region matches or timeout_ms passes; returns the
 * milliseconds it took, or -1 (the last result is in *result).
 */
int kt_wait_for_region(struct kt_daemon *daemon, int x0, int y0, int width, int height,
	kt_expected_func expected, const void *data, int timeout_ms,
	struct kt_region_result *result);

#endif
