/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "screen.h"

enum {
	/* Under TCG the daemon takes a few seconds to come up, grim about half a second. */
	DAEMON_START_TIMEOUT_MS = 30000,
	DAEMON_STOP_TIMEOUT_MS = 10000,
	SCREENSHOT_TIMEOUT_MS = 20000,
	POLL_MS = 10,
	LOG_TAIL_LINES = 15,
};

static int n_pass, n_fail, n_skip;

__attribute__((format(printf, 3, 0)))
static void marker(const char *kind, const char *name, const char *fmt, va_list args)
{
	printf("%s %s", kind, name);
	if (fmt != NULL && fmt[0] != '\0') {
		printf(" ");
		vprintf(fmt, args);
	}
	printf("\n");
	fflush(stdout);
}

void kt_pass(const char *name, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	marker("PASS", name, fmt, args);
	va_end(args);
	n_pass++;
}

void kt_fail(const char *name, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	marker("FAIL", name, fmt, args);
	va_end(args);
	n_fail++;
}

void kt_skip(const char *name, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	marker("SKIP", name, fmt, args);
	va_end(args);
	n_skip++;
}

void kt_info(const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	printf("INFO ");
	vprintf(fmt, args);
	printf("\n");
	fflush(stdout);
	va_end(args);
}

bool kt_check(bool ok, const char *name, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	marker(ok ? "PASS" : "FAIL", name, fmt, args);
	va_end(args);
	if (ok)
		n_pass++;
	else
		n_fail++;
	return ok;
}

int kt_exit_status(void)
{
	if (n_fail > 0)
		return EXIT_FAILURE;
	return n_pass > 0 ? EXIT_SUCCESS : 77;
}

int kt_failures(void)
{
	return n_fail;
}

int kt_count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	if (dir == NULL)
		return -1;
	int count = 0;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL)
		count += entry->d_name[0] != '.';
	closedir(dir);
	return count - 1; /* the directory's own */
}

int64_t kt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kt_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool redirect(int target, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	if (fd == target)
		return fcntl(fd, F_SETFD, 0) == 0;
	bool ok = dup2(fd, target) == target;
	close(fd);
	return ok;
}

static _Noreturn void exec_child(pid_t parent, const struct kt_proc *proc,
	const char *const argv[])
{
	/* Nothing may outlive the test, even a test that crashes. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (!redirect(STDIN_FILENO, "/dev/null", O_RDONLY) ||
			!redirect(STDOUT_FILENO, proc->out_path, O_WRONLY | O_CREAT | O_TRUNC) ||
			!redirect(STDERR_FILENO, proc->err_path, O_WRONLY | O_CREAT | O_TRUNC))
		_exit(127);
	execvp(argv[0], (char *const *)argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

bool kt_spawn(struct kt_proc *proc, const char *name, const char *const argv[])
{
	static unsigned spawned;
	*proc = (struct kt_proc){ 0 };
	snprintf(proc->name, sizeof(proc->name), "%s", name);
	snprintf(proc->out_path, sizeof(proc->out_path), "%02u-%.31s.out", spawned % 100, name);
	snprintf(proc->err_path, sizeof(proc->err_path), "%02u-%.31s.err", spawned % 100, name);
	spawned++;
	/* Created here, so that polling them never races with the child's open. */
	for (int i = 0; i < 2; i++) {
		int fd = open(i == 0 ? proc->out_path : proc->err_path,
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			kt_info("cannot create the log of %s: %s", name, strerror(errno));
			return false;
		}
		close(fd);
	}
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		kt_info("fork for %s: %s", name, strerror(errno));
		return false;
	}
	if (pid == 0)
		exec_child(parent, proc, argv);
	proc->pid = pid;
	return true;
}

bool kt_wait(struct kt_proc *proc, int timeout_ms)
{
	int64_t deadline = kt_now_ms() + timeout_ms;
	while (proc->pid != 0) {
		pid_t ret = waitpid(proc->pid, &proc->status, WNOHANG);
		if (ret == proc->pid || (ret < 0 && errno == ECHILD)) {
			proc->pid = 0;
			break;
		}
		if (kt_now_ms() >= deadline)
			return false;
		kt_sleep_ms(POLL_MS);
	}
	return true;
}

int kt_stop(struct kt_proc *proc, int sig, int timeout_ms)
{
	if (proc->pid == 0)
		return proc->status;
	kill(proc->pid, sig);
	if (!kt_wait(proc, timeout_ms)) {
		kill(proc->pid, SIGKILL);
		kt_wait(proc, 5000);
	}
	return proc->status;
}

static char *read_file(const char *path, size_t *len_out)
{
	size_t len = 0, cap = 1 << 16;
	char *data = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	while (data != NULL && fd >= 0) {
		if (cap - len < 4096) {
			char *bigger = realloc(data, cap * 2);
			if (bigger == NULL) {
				free(data);
				data = NULL;
				break;
			}
			data = bigger;
			cap *= 2;
		}
		ssize_t n = read(fd, data + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	if (data == NULL)
		return NULL;
	data[len] = '\0';
	if (len_out != NULL)
		*len_out = len;
	return data;
}

static bool file_contains(const char *path, const char *needle)
{
	char *text = read_file(path, NULL);
	bool found = text != NULL && strstr(text, needle) != NULL;
	free(text);
	return found;
}

bool kt_wait_for_output(struct kt_proc *proc, const char *needle, int timeout_ms)
{
	int64_t deadline = kt_now_ms() + timeout_ms;
	for (;;) {
		/* Exited first, so that a line printed right before exiting is still seen. */
		bool exited = kt_wait(proc, 0);
		if (file_contains(proc->out_path, needle))
			return true;
		if (exited || kt_now_ms() >= deadline)
			return false;
		kt_sleep_ms(POLL_MS);
	}
}

bool kt_stderr_contains(const struct kt_proc *proc, const char *needle)
{
	return file_contains(proc->err_path, needle);
}

static void print_tail(const char *path, const char *what)
{
	char *text = read_file(path, NULL);
	if (text == NULL || text[0] == '\0') {
		free(text);
		return;
	}
	const char *start = text + strlen(text);
	for (int lines = 0; start > text && lines <= LOG_TAIL_LINES; start--)
		lines += start[-1] == '\n';
	printf("--- %s%s:\n", what, start > text ? " (last lines)" : "");
	for (const char *line = start; *line != '\0';) {
		size_t n = strcspn(line, "\n");
		printf("  %.*s\n", (int)n, line);
		line += n + (line[n] == '\n');
	}
	free(text);
}

void kt_print_logs(const struct kt_proc *proc)
{
	char what[64];
	snprintf(what, sizeof(what), "%s stdout", proc->name);
	print_tail(proc->out_path, what);
	snprintf(what, sizeof(what), "%s stderr", proc->name);
	print_tail(proc->err_path, what);
	fflush(stdout);
}

bool kt_sanitizer_reported(const struct kt_proc *proc)
{
	static const char *const reports[] = {
		"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
	};
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
		if (kt_stderr_contains(proc, reports[i])) {
			kt_info("%s: sanitizer report \"%s\" on stderr", proc->name, reports[i]);
			return true;
		}
	}
	return false;
}

static bool read_display_name(struct kt_daemon *daemon)
{
	static const char prefix[] = "WAYLAND_DISPLAY=";
	char *out = read_file(daemon->proc.out_path, NULL);
	if (out == NULL)
		return false;
	bool ok = false;
	/* The ready line is the first line, and it counts once it is complete. */
	if (strncmp(out, prefix, strlen(prefix)) == 0 && strchr(out, '\n') != NULL) {
		const char *name = out + strlen(prefix);
		size_t len = strcspn(name, "\n");
		ok = len > 0 && len < sizeof(daemon->display);
		if (ok)
			snprintf(daemon->display, sizeof(daemon->display), "%.*s", (int)len, name);
	}
	free(out);
	return ok;
}

bool kt_daemon_start(struct kt_daemon *daemon, int width, int height,
	const char *const extra_args[])
{
	*daemon = (struct kt_daemon){ .width = width, .height = height };
	const char *path = getenv("DMABROKERD");
	if (path == NULL || path[0] == '\0') {
		kt_info("DMABROKERD is not set: run this through guest-tests.sh");
		return false;
	}
	char w[16], h[16];
	snprintf(w, sizeof(w), "%d", width);
	snprintf(h, sizeof(h), "%d", height);
	const char *argv[32] = { path, "--width", w, "--height", h };
	int argc = 5;
	for (int i = 0; extra_args != NULL && extra_args[i] != NULL && argc < 31; i++)
		argv[argc++] = extra_args[i];
	/* The daemon must not take a parent compositor's socket for its backend. */
	unsetenv("WAYLAND_DISPLAY");
	if (!kt_spawn(&daemon->proc, "dmabrokerd", argv))
		return false;
	int64_t deadline = kt_now_ms() + DAEMON_START_TIMEOUT_MS;
	while (!read_display_name(daemon)) {
		if (kt_wait(&daemon->proc, 0) || kt_now_ms() >= deadline) {
			kt_info("dmabrokerd printed no WAYLAND_DISPLAY line within %d ms%s",
				DAEMON_START_TIMEOUT_MS, daemon->proc.pid == 0 ? " and exited" : "");
			kt_stop(&daemon->proc, SIGKILL, 1000);
			kt_print_logs(&daemon->proc);
			return false;
		}
		kt_sleep_ms(POLL_MS);
	}
	setenv("WAYLAND_DISPLAY", daemon->display, 1);
	return true;
}

bool kt_daemon_stop(struct kt_daemon *daemon)
{
	if (daemon->proc.pid == 0)
		return false;
	kill(daemon->proc.pid, SIGTERM);
	bool exited = kt_wait(&daemon->proc, DAEMON_STOP_TIMEOUT_MS);
	if (!exited)
		kt_stop(&daemon->proc, SIGKILL, 1000);
	unsetenv("WAYLAND_DISPLAY");
	int status = daemon->proc.status;
	bool ok = exited && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		!kt_sanitizer_reported(&daemon->proc);
	if (!ok) {
		kt_info("dmabrokerd: %s after SIGTERM (wait status 0x%x)",
			exited ? "did not exit 0" : "still ran", status);
		kt_print_logs(&daemon->proc);
	}
	return ok;
}

bool kt_screenshot(struct kt_daemon *daemon, struct dmab_test_image *img)
{
	static unsigned shots;
	*img = (struct dmab_test_image){ 0 };
	char path[32];
	snprintf(path, sizeof(path), "shot-%u.ppm", shots++);
	const char *argv[] = { "grim", "-t", "ppm", path, NULL };
	struct kt_proc grim;
	if (!kt_spawn(&grim, "grim", argv))
		return false;
	if (!kt_wait(&grim, SCREENSHOT_TIMEOUT_MS)) {
		kt_stop(&grim, SIGKILL, 1000);
		kt_info("grim took longer than %d ms", SCREENSHOT_TIMEOUT_MS);
		return false;
	}
	if (!WIFEXITED(grim.status) || WEXITSTATUS(grim.status) != 0) {
		kt_info("grim failed (wait status 0x%x)", grim.status);
		kt_print_logs(&grim);
		return false;
	}
	size_t len = 0;
	char *data = read_file(path, &len);
	bool ok = data != NULL && dmab_test_ppm_parse(data, len, img);
	free(data);
	if (!ok)
		kt_info("grim wrote %zu bytes to %s that are not a P6 PPM", len, path);
	else if (img->width != daemon->width || img->height != daemon->height)
		kt_info("grim's image is %dx%d, the output %dx%d", img->width, img->height,
			daemon->width, daemon->height);
	/* Screenshots are large: keep only the one that is being looked at. */
	unlink(path);
	unlink(grim.out_path);
	unlink(grim.err_path);
	return ok;
}

bool kt_region_matches(const struct dmab_test_image *img, int x0, int y0, int width, int height,
	kt_expected_func expected, const void *data, struct kt_region_result *result)
{
	*result = (struct kt_region_result){ .bad_x = -1, .bad_y = -1 };
	if (x0 < 0 || y0 < 0 || x0 + width > img->width || y0 + height > img->height) {
		result->mismatches = (long)width * height;
		return false;
	}
	for (int y = 0; y < height; y++) {
		for (int x = 0; x < width; x++) {
			uint32_t got = dmab_test_image_pixel(img, x0 + x, y0 + y);
			uint32_t want = expected(x, y, data) & 0xffffff;
			if (got == want)
				continue;
			if (result->mismatches++ == 0) {
				result->bad_x = x;
				result->bad_y = y;
				result->got = got;
				result->want = want;
			}
		}
	}
	return result->mismatches == 0;
}

uint32_t kt_expected_solid(int x, int y, const void *data)
{
	return *(const uint32_t *)data;
}

int kt_wait_for_region(struct kt_daemon *daemon, int x0, int y0, int width, int height,
	kt_expected_func expected, const void *data, int timeout_ms,
	struct kt_region_result *result)
{
	int64_t start = kt_now_ms();
	*result = (struct kt_region_result){ .mismatches = -1, .bad_x = -1, .bad_y = -1 };
	for (;;) {
		struct dmab_test_image img;
		if (kt_screenshot(daemon, &img)) {
			bool ok = kt_region_matches(&img, x0, y0, width, height, expected, data,
				result);
			dmab_test_image_finish(&img);
			if (ok)
				return (int)(kt_now_ms() - start);
		}
		if (kt_now_ms() - start >= timeout_ms)
			return -1;
		kt_sleep_ms(50);
	}
}
