/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"

enum {
	DAEMON_START_TIMEOUT_MS = 10000,
	DAEMON_STOP_TIMEOUT_MS = 10000,
	SCREENSHOT_TIMEOUT_MS = 10000,
	POLL_INTERVAL_MS = 10,
	LOG_TAIL_BYTES = 2048,
};

/* The fixture of the running test, for the exit and timeout handlers. */
static struct e2e *current;

static int scaled(int ms)
{
	return ms * dmab_test_time_scale();
}

int64_t e2e_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void e2e_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Skips the test, cleaning up first if a fixture is live. */
#define skip(...) \
	do { \
		if (current != NULL) \
			e2e_skip(current, __VA_ARGS__); \
		dmab_test_skip(__VA_ARGS__); \
	} while (0)

const char *e2e_built_program(const char *env_name)
{
	const char *path = getenv(env_name);
	if (path == NULL || path[0] == '\0')
		skip("$%s is not set: run the e2e tests through meson test", env_name);
	if (access(path, X_OK) != 0)
		skip("%s (from $%s) is not built", path, env_name);
	return path;
}

const char *e2e_stock_program(const char *name)
{
	/* Paths are kept for the test's life: callers hold several at once. */
	static char found[8][E2E_PATH_MAX];
	static int found_len;
	for (int i = 0; i < found_len; i++) {
		const char *base = strrchr(found[i], '/');
		if (strcmp(base + 1, name) == 0)
			return found[i];
	}
	CHECK(found_len < 8);
	char *candidate = found[found_len];
	const char *path = getenv("PATH");
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path != '\0') {
		size_t len = strcspn(path, ":");
		snprintf(candidate, E2E_PATH_MAX, "%.*s/%s", (int)len, path, name);
		if (len > 0 && access(candidate, X_OK) == 0) {
			found_len++;
			return candidate;
		}
		path += len + (path[len] == ':');
	}
	skip("%s is not installed (CI installs grim, weston and wayland-utils)", name);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void remove_tree(const char *path)
{
	if (path[0] != '\0')
		nftw(path, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void print_log_tail(const struct e2e_proc *p, const char *path, const char *what)
{
	char *text = e2e_read_file(path);
	size_t len = strlen(text);
	if (len == 0) {
		free(text);
		return;
	}
	const char *start = len > LOG_TAIL_BYTES ? text + len - LOG_TAIL_BYTES : text;
	printf("# --- %s %s (pid %d)%s\n", p->name, what, (int)p->spawned_pid,
		start != text ? ", last bytes" : "");
	for (const char *line = start; *line != '\0';) {
		size_t n = strcspn(line, "\n");
		printf("#   %.*s\n", (int)n, line);
		line += n + (line[n] == '\n');
	}
	free(text);
}

static void kill_all(struct e2e *e, int sig)
{
	for (int i = 0; i < e->procs_len; i++) {
		if (e->procs[i].pid > 0)
			kill(e->procs[i].pid, sig);
	}
}

static void reap_all(struct e2e *e)
{
	for (int i = 0; i < e->procs_len; i++)
		e2e_stop(&e->procs[i], SIGKILL, 1000);
}

/* A failed check exits the test child: leave nothing behind, show the logs. */
static void cleanup_at_exit(void)
{
	struct e2e *e = current;
	if (e == NULL || e->finished)
		return;
	current = NULL;
	kill_all(e, SIGKILL);
	reap_all(e);
	for (int i = 0; i < e->procs_len; i++) {
		print_log_tail(&e->procs[i], e->procs[i].out_path, "stdout");
		print_log_tail(&e->procs[i], e->procs[i].err_path, "stderr");
	}
	fflush(stdout);
	remove_tree(e->dir);
}

/*
 * The harness's alarm kills a hung test: kill the children (async-signal-safe)
 * so none outlives it, then die of the alarm as the harness expects.
 */
static void handle_alarm(int sig)
{
	if (current != NULL)
		kill_all(current, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

void e2e_init(struct e2e *e)
{
	*e = (struct e2e){ 0 };
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	CHECK(strlen(tmp) < E2E_DIR_MAX - 32);
	snprintf(e->dir, sizeof(e->dir), "%s/dmab-e2e-XXXXXX", tmp);
	CHECK(mkdtemp(e->dir) != NULL);
	snprintf(e->runtime_dir, sizeof(e->runtime_dir), "%.*s/runtime", E2E_DIR_MAX - 16, e->dir);
	CHECK(mkdir(e->runtime_dir, 0700) == 0);
	/* The umask must not matter: libwayland refuses a runtime dir that others can open. */
	CHECK(chmod(e->runtime_dir, 0700) == 0);

	current = e;
	static bool handlers_installed;
	if (!handlers_installed) {
		atexit(cleanup_at_exit);
		signal(SIGALRM, handle_alarm);
		handlers_installed = true;
	}
	CHECK(setenv("XDG_RUNTIME_DIR", e->runtime_dir, 1) == 0);
	unsetenv("WAYLAND_DISPLAY");
	unsetenv("WAYLAND_SOCKET");
	unsetenv("DISPLAY");
}

static void redirect(int target, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);
	if (fd == target) {
		/* Opened on a closed standard fd: it only needs to survive exec. */
		if (fcntl(fd, F_SETFD, 0) < 0)
			_exit(127);
		return;
	}
	if (fd < 0 || dup2(fd, target) < 0)
		_exit(127);
	close(fd);
}

static _Noreturn void exec_child(pid_t parent, const struct e2e_proc *p,
	const char *const argv[])
{
	/* Nothing spawned may outlive the test, even if the test is killed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	redirect(STDIN_FILENO, "/dev/null", O_RDONLY);
	redirect(STDOUT_FILENO, p->out_path, O_WRONLY | O_CREAT | O_TRUNC);
	redirect(STDERR_FILENO, p->err_path, O_WRONLY | O_CREAT | O_TRUNC);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(argv[0], (char *const *)argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void log_path(char path[static E2E_PATH_MAX], const char *dir, int index,
	const char *name, const char *suffix)
{
	/* Through a copy: the destination and the sources share a struct e2e. */
	char built[E2E_PATH_MAX];
	snprintf(built, sizeof(built), "%.127s/%02u-%.31s.%.3s", dir, (unsigned)index % 100u,
		name, suffix);
	memcpy(path, built, sizeof(built));
}

struct e2e_proc *e2e_spawn(struct e2e *e, const char *name, const char *const argv[])
{
	CHECK(e->procs_len < E2E_MAX_PROCS);
	int index = e->procs_len++;
	struct e2e_proc *p = &e->procs[index];
	*p = (struct e2e_proc){ 0 };
	snprintf(p->name, sizeof(p->name), "%s", name);
	log_path(p->out_path, e->dir, index, p->name, "out");
	log_path(p->err_path, e->dir, index, p->name, "err");
	/* Create the logs here so polling never races with the child's open. */
	for (int i = 0; i < 2; i++) {
		int fd = open(i == 0 ? p->out_path : p->err_path,
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		CHECK(fd >= 0);
		close(fd);
	}
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		exec_child(parent, p, argv);
	p->pid = pid;
	p->spawned_pid = pid;
	return p;
}

struct e2e_proc *e2e_spawn_daemon_raw(struct e2e *e, const char *const args[])
{
	const char *argv[32] = { e2e_built_program("DMABROKERD") };
	int argc = 1;
	for (int i = 0; args != NULL && args[i] != NULL; i++) {
		CHECK(argc < 31);
		argv[argc++] = args[i];
	}
	/* The daemon must not take a parent compositor's socket for its backend. */
	unsetenv("WAYLAND_DISPLAY");
	return e2e_spawn(e, "dmabrokerd", argv);
}

/* Waits for the daemon's WAYLAND_DISPLAY line and exports the socket it names. */
static void wait_for_display(struct e2e *e)
{
	char *line = e2e_wait_for_line(e->daemon, "WAYLAND_DISPLAY=",
		scaled(DAEMON_START_TIMEOUT_MS));
	if (line == NULL)
		E2E_FAIL("%s printed no WAYLAND_DISPLAY line within %d ms", e->daemon->name,
			scaled(DAEMON_START_TIMEOUT_MS));
	/* The ready line must be the first line: scripts read just one. */
	char *out = e2e_read_file(e->daemon->out_path);
	CHECK(strncmp(out, "WAYLAND_DISPLAY=", strlen("WAYLAND_DISPLAY=")) == 0);
	free(out);
	snprintf(e->display, sizeof(e->display), "%s", line + strlen("WAYLAND_DISPLAY="));
	free(line);
	CHECK(e->display[0] != '\0');
	char socket_path[E2E_PATH_MAX + 64];
	snprintf(socket_path, sizeof(socket_path), "%s/%s", e->runtime_dir, e->display);
	struct stat st;
	CHECK(stat(socket_path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK(setenv("WAYLAND_DISPLAY", e->display, 1) == 0);
}

void e2e_start_daemon(struct e2e *e, const char *const extra_args[])
{
	static char width[16], height[16];
	snprintf(width, sizeof(width), "%d", E2E_OUTPUT_WIDTH);
	snprintf(height, sizeof(height), "%d", E2E_OUTPUT_HEIGHT);
	const char *args[32] = {
		"--width", width, "--height", height, "--allocator", dmab_test_allocator(),
	};
	int argc = 6;
	for (int i = 0; extra_args != NULL && extra_args[i] != NULL; i++) {
		CHECK(argc < 31);
		args[argc++] = extra_args[i];
	}
	e->daemon = e2e_spawn_daemon_raw(e, args);
	wait_for_display(e);
}

void e2e_start_compositor(struct e2e *e, const char *name, const char *const argv[])
{
	/* It must not take a parent compositor's socket for a backend. */
	unsetenv("WAYLAND_DISPLAY");
	e->daemon = e2e_spawn(e, name, argv);
	wait_for_display(e);
}

bool e2e_running(struct e2e_proc *p)
{
	return !e2e_wait(p, 0);
}

bool e2e_wait(struct e2e_proc *p, int timeout_ms)
{
	if (p->pid == 0)
		return true;
	int64_t deadline = e2e_now_ms() + timeout_ms;
	for (;;) {
		pid_t ret = waitpid(p->pid, &p->status, WNOHANG);
		if (ret == p->pid || (ret < 0 && errno == ECHILD)) {
			p->pid = 0;
			return true;
		}
		if (e2e_now_ms() >= deadline)
			return false;
		e2e_sleep_ms(POLL_INTERVAL_MS);
	}
}

static void describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "signal %d (%s)", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "status 0x%x", status);
}

void e2e_expect_exit(struct e2e_proc *p, int code, int timeout_ms)
{
	if (!e2e_wait(p, timeout_ms))
		E2E_FAIL("%s (pid %d) still runs after %d ms",
			p->name, (int)p->spawned_pid, timeout_ms);
	/* A sanitizer report explains a bad status best: check it first. */
	e2e_check_sanitizers(p);
	if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != code) {
		char status[64];
		describe_status(p->status, status, sizeof(status));
		E2E_FAIL("%s (pid %d): %s, expected exit %d",
			p->name, (int)p->spawned_pid, status, code);
	}
}

int e2e_stop(struct e2e_proc *p, int sig, int timeout_ms)
{
	if (p->pid == 0)
		return p->status;
	kill(p->pid, sig);
	if (!e2e_wait(p, timeout_ms)) {
		kill(p->pid, SIGKILL);
		e2e_wait(p, scaled(5000));
	}
	return p->status;
}

static char *read_file_len(const char *path, size_t *len_out)
{
	size_t len = 0, cap = 4096;
	char *data = malloc(cap);
	CHECK(data != NULL);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		for (;;) {
			if (cap - len < 4096) {
				cap *= 2;
				data = realloc(data, cap);
				CHECK(data != NULL);
			}
			ssize_t n = read(fd, data + len, cap - len - 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		close(fd);
	}
	data[len] = '\0';
	if (len_out != NULL)
		*len_out = len;
	return data;
}

char *e2e_read_file(const char *path)
{
	return read_file_len(path, NULL);
}

/* The complete (newline-terminated) lines of text containing needle: first or last. */
static char *find_line(const char *text, const char *needle, bool last)
{
	const char *found = NULL;
	size_t found_len = 0;
	for (const char *line = text; *line != '\0';) {
		const char *end = strchr(line, '\n');
		if (end == NULL)
			break;
		size_t n = (size_t)(end - line);
		const char *hit = strstr(line, needle);
		if (hit != NULL && hit < end) {
			found = line;
			found_len = n;
			if (!last)
				break;
		}
		line = end + 1;
	}
	return found != NULL ? strndup(found, found_len) : NULL;
}

char *e2e_wait_for_line(struct e2e_proc *p, const char *needle, int timeout_ms)
{
	int64_t deadline = e2e_now_ms() + timeout_ms;
	for (;;) {
		/* Check for exit first so a line printed just before exiting is still seen. */
		bool exited = !e2e_running(p);
		char *text = e2e_read_file(p->out_path);
		char *line = find_line(text, needle, false);
		free(text);
		if (line != NULL || exited || e2e_now_ms() >= deadline)
			return line;
		e2e_sleep_ms(POLL_INTERVAL_MS);
	}
}

char *e2e_last_line(struct e2e_proc *p, const char *needle)
{
	char *text = e2e_read_file(p->out_path);
	char *line = find_line(text, needle, true);
	free(text);
	return line;
}

int e2e_count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *dir = opendir(path);
	if (dir == NULL)
		return -1;
	int count = 0;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL)
		count += entry->d_name[0] != '.';
	closedir(dir);
	return count;
}

int e2e_wait_for_fd_count(pid_t pid, int want, int timeout_ms)
{
	int64_t deadline = e2e_now_ms() + timeout_ms;
	for (;;) {
		int count = e2e_count_fds(pid);
		if (count == want || e2e_now_ms() >= deadline)
			return count;
		e2e_sleep_ms(POLL_INTERVAL_MS);
	}
}

void e2e_check_sanitizers(struct e2e_proc *p)
{
	static const char *const reports[] = {
		"ERROR: AddressSanitizer",
		"ERROR: LeakSanitizer",
		"runtime error:",
	};
	char *err = e2e_read_file(p->err_path);
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
		char *line = find_line(err, reports[i], false);
		if (line != NULL) {
			printf("# %s stderr: %s\n", p->name, line);
			free(line);
			free(err);
			E2E_FAIL("%s: sanitizer report \"%s\"", p->name,
				reports[i]);
		}
	}
	free(err);
}

void e2e_stop_daemon(struct e2e *e)
{
	if (e->daemon == NULL || e->daemon->pid == 0)
		return;
	struct e2e_proc *daemon = e->daemon;
	/* SIGKILL only after the timeout: a hung shutdown fails below. */
	kill(daemon->pid, SIGTERM);
	if (!e2e_wait(daemon, scaled(DAEMON_STOP_TIMEOUT_MS))) {
		e2e_stop(daemon, SIGKILL, 1000);
		E2E_FAIL("%s (pid %d) still ran %d ms after SIGTERM", daemon->name,
			(int)daemon->spawned_pid, scaled(DAEMON_STOP_TIMEOUT_MS));
	}
	e2e_check_sanitizers(daemon);
	if (!WIFEXITED(daemon->status) || WEXITSTATUS(daemon->status) != 0) {
		char status[64];
		describe_status(daemon->status, status, sizeof(status));
		E2E_FAIL("%s (pid %d) after SIGTERM: %s, expected exit 0", daemon->name,
			(int)daemon->spawned_pid, status);
	}
}

void e2e_finish(struct e2e *e)
{
	/* Clients go first so the daemon's shutdown is not the test's subject here. */
	for (int i = 0; i < e->procs_len; i++) {
		if (&e->procs[i] != e->daemon)
			e2e_stop(&e->procs[i], SIGKILL, 1000);
	}
	e2e_stop_daemon(e);
	for (int i = 0; i < e->procs_len; i++)
		e2e_check_sanitizers(&e->procs[i]);
	e->finished = true;
	current = NULL;
	remove_tree(e->dir);
}

void e2e_skip(struct e2e *e, const char *fmt, ...)
{
	char reason[256];
	va_list args;
	va_start(args, fmt);
	vsnprintf(reason, sizeof(reason), fmt, args);
	va_end(args);
	kill_all(e, SIGKILL);
	reap_all(e);
	e->finished = true;
	current = NULL;
	remove_tree(e->dir);
	dmab_test_skip("%s", reason);
}

bool e2e_screenshot(struct e2e *e, struct dmab_test_image *img)
{
	const char *grim = e2e_stock_program("grim");
	char path[E2E_PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/shot-%d.ppm", e->dir, e->screenshots++);
	const char *argv[] = { grim, "-t", "ppm", path, NULL };
	struct e2e_proc *p = e2e_spawn(e, "grim", argv);
	bool done = e2e_wait(p, scaled(SCREENSHOT_TIMEOUT_MS));
	if (!done) {
		printf("# grim (pid %d) took longer than %d ms\n", (int)p->spawned_pid,
			scaled(SCREENSHOT_TIMEOUT_MS));
		e2e_stop(p, SIGKILL, 1000);
	} else if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != 0) {
		char status[64];
		describe_status(p->status, status, sizeof(status));
		printf("# grim: %s\n", status);
		print_log_tail(p, p->err_path, "stderr");
		done = false;
	}
	/* grim is reaped and was spawned last: its slot is free for the next process. */
	e->procs_len--;
	if (!done)
		return false;
	size_t len;
	char *data = read_file_len(path, &len);
	bool ok = dmab_test_ppm_parse(data, len, img);
	free(data);
	if (!ok)
		printf("# grim wrote %zu bytes to %s that are not a P6 PPM\n", len, path);
	return ok;
}
