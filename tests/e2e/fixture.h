/* SPDX-License-Identifier: MIT */
/*
 * The e2e fixture: a private XDG_RUNTIME_DIR, the real dmabrokerd on it, and
 * child processes (example and stock clients) whose stdout and stderr go to
 * files in a private directory so a test can poll them for lines.
 *
 * Every spawned process dies with the test (PR_SET_PDEATHSIG) and is killed and
 * reaped by e2e_finish or, on a failed check, by the exit handler, which also
 * prints the tail of every log and removes the directory.
 */
#ifndef DMAB_E2E_FIXTURE_H
#define DMAB_E2E_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "image.h"

#define E2E_FAIL(...) dmab_test_fail(__FILE__, __LINE__, __VA_ARGS__)

enum {
	E2E_MAX_PROCS = 16,
	E2E_DIR_MAX = 128,
	E2E_PATH_MAX = 256,
	/* The daemon's output: small enough to composite and screenshot quickly. */
	E2E_OUTPUT_WIDTH = 640,
	E2E_OUTPUT_HEIGHT = 480,
};

struct e2e_proc {
	pid_t pid; /* 0 once reaped */
	pid_t spawned_pid; /* kept for messages */
	int status; /* the wait status, valid once reaped */
	char name[32];
	char out_path[E2E_PATH_MAX];
	char err_path[E2E_PATH_MAX];
};

struct e2e {
	char dir[E2E_DIR_MAX]; /* logs and screenshots */
	char runtime_dir[E2E_DIR_MAX]; /* the private XDG_RUNTIME_DIR, 0700 */
	char display[64]; /* the daemon's socket name */
	struct e2e_proc *daemon;
	struct e2e_proc procs[E2E_MAX_PROCS];
	int procs_len;
	int screenshots;
	bool finished;
};

/*
 * The path of a built program passed by meson in the environment variable
 * env_name; skips the test naming the program if it is missing.
 */
const char *e2e_built_program(const char *env_name);
/* The path of a stock program on PATH; skips the test naming it if missing. */
const char *e2e_stock_program(const char *name);

/* Makes the private directories and points XDG_RUNTIME_DIR at the new one. */
void e2e_init(struct e2e *e);
/*
 * Spawns dmabrokerd with the given extra options (NULL-terminated, may be NULL)
 * plus --width/--height and --allocator $DMAB_TEST_ALLOCATOR, waits for its
 * WAYLAND_DISPLAY line and exports it. Fails the test if it does not come up.
 */
void e2e_start_daemon(struct e2e *e, const char *const extra_args[]);
/*
 * Starts another compositor in the daemon's place, as e2e_start_daemon does:
 * argv (argv[0] is the path) must print a WAYLAND_DISPLAY line first, and
 * e2e_stop_daemon and e2e_finish expect it to exit 0 on SIGTERM.
 */
void e2e_start_compositor(struct e2e *e, const char *name, const char *const argv[]);
/* Spawns dmabrokerd with exactly these options and returns without waiting. */
struct e2e_proc *e2e_spawn_daemon_raw(struct e2e *e, const char *const args[]);
/* Spawns argv (argv[0] is the path) with WAYLAND_DISPLAY set if a daemon runs. */
struct e2e_proc *e2e_spawn(struct e2e *e, const char *name, const char *const argv[]);

/* Reaps p if it exited within timeout_ms; true if it did. */
bool e2e_wait(struct e2e_proc *p, int timeout_ms);
/* Fails the test unless p exits with status `code` within timeout_ms. */
void e2e_expect_exit(struct e2e_proc *p, int code, int timeout_ms);
/* Sends sig and reaps p (SIGKILL after timeout_ms); returns the wait status. */
int e2e_stop(struct e2e_proc *p, int sig, int timeout_ms);
/* True while p runs; reaps it once it has exited. */
bool e2e_running(struct e2e_proc *p);

/* The whole file, NUL-terminated; the caller frees it. Empty if unreadable. */
char *e2e_read_file(const char *path);
/*
 * Polls p's stdout until a line contains needle; returns a copy of that line
 * (caller frees) or NULL on timeout or if p exited without printing it.
 */
char *e2e_wait_for_line(struct e2e_proc *p, const char *needle, int timeout_ms);
/* The last line of p's stdout that contains needle, or NULL (caller frees). */
char *e2e_last_line(struct e2e_proc *p, const char *needle);

/* The number of fds open in process pid, or -1. */
int e2e_count_fds(pid_t pid);
/* Polls until pid has exactly want fds open; returns the last count seen. */
int e2e_wait_for_fd_count(pid_t pid, int want, int timeout_ms);

/* Fails the test if a sanitizer reported an error in p's stderr. */
void e2e_check_sanitizers(struct e2e_proc *p);
/* SIGTERMs the daemon; fails unless it exits 0 in time with no sanitizer report. */
void e2e_stop_daemon(struct e2e *e);
/*
 * Stops the daemon as e2e_stop_daemon does, after SIGKILLing and reaping
 * the other processes, then removes the directories.
 */
void e2e_finish(struct e2e *e);
/* Cleans up like a failure would, then skips the test. */
_Noreturn void e2e_skip(struct e2e *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs grim -t ppm against the daemon and parses the result. */
bool e2e_screenshot(struct e2e *e, struct dmab_test_image *img);

/* Milliseconds on the monotonic clock. */
int64_t e2e_now_ms(void);
void e2e_sleep_ms(int ms);

#endif
