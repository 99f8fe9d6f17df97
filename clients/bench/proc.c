/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "bench.h"

#define START_TIMEOUT_MS 10000

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void name_socket(struct bench_server *server)
{
	static unsigned serial;
	snprintf(server->socket, sizeof(server->socket), "dmab-bench-%ld-%u", (long)getpid(),
		serial++);
}

/* Reads the daemon's stdout until its WAYLAND_DISPLAY line. */
static bool wait_listening(struct bench_server *server)
{
	char buf[512];
	size_t len = 0;
	int64_t deadline = now_ms() + START_TIMEOUT_MS;
	while (now_ms() < deadline) {
		struct pollfd pfd = { .fd = server->out_fd, .events = POLLIN };
		if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0) {
			continue;
		}
		ssize_t n = read(server->out_fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0) {
			return false;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "WAYLAND_DISPLAY=") != NULL && strchr(buf, '\n') != NULL) {
			return true;
		}
		if (len == sizeof(buf) - 1) {
			len = 0;
		}
	}
	return false;
}

static const char *const *extra_args;

void bench_daemon_set_extra_args(const char *const *args)
{
	extra_args = args;
}

bool bench_daemon_start(struct bench_server *server, const char *path, uint32_t width,
	uint32_t height, uint32_t refresh, uint64_t nofile)
{
	name_socket(server);
	snprintf(server->name, sizeof(server->name), "dmabrokerd");
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		return false;
	}
	char w[16], h[16], r[16];
	snprintf(w, sizeof(w), "%" PRIu32, width);
	snprintf(h, sizeof(h), "%" PRIu32, height);
	snprintf(r, sizeof(r), "%" PRIu32, refresh);
	pid_t pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return false;
	}
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		if (nofile != 0) {
			struct rlimit lim;
			getrlimit(RLIMIT_NOFILE, &lim);
			lim.rlim_cur = nofile < lim.rlim_max ? nofile : lim.rlim_max;
			setrlimit(RLIMIT_NOFILE, &lim);
		}
		const char *argv[32] = {
			path, "--socket", server->socket, "--width", w, "--height", h,
			"--refresh", r, "--log-level", "error",
		};
		size_t argc = 11;
		for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL && argc < 31; i++) {
			argv[argc++] = extra_args[i];
		}
		argv[argc] = NULL;
		execvp(path, (char *const *)argv);
		fprintf(stderr, "dmab-bench: cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	server->pid = pid;
	server->out_fd = pipefd[0];
	if (!wait_listening(server)) {
		fprintf(stderr, "dmab-bench: %s did not start listening\n", path);
		bench_server_stop(server);
		return false;
	}
	return true;
}

static void substitute(char *out, size_t size, const char *command, const char *socket,
	uint32_t width, uint32_t height)
{
	size_t len = 0;
	for (const char *p = command; *p != '\0' && len + 1 < size;) {
		char value[80] = "";
		size_t skip = 0;
		if (strncmp(p, "{socket}", 8) == 0) {
			snprintf(value, sizeof(value), "%s", socket);
			skip = 8;
		} else if (strncmp(p, "{width}", 7) == 0) {
			snprintf(value, sizeof(value), "%" PRIu32, width);
			skip = 7;
		} else if (strncmp(p, "{height}", 8) == 0) {
			snprintf(value, sizeof(value), "%" PRIu32, height);
			skip = 8;
		}
		if (skip == 0) {
			out[len++] = *p++;
			continue;
		}
		int n = snprintf(out + len, size - len, "%s", value);
		len += (size_t)n < size - len ? (size_t)n : size - len - 1;
		p += skip;
	}
	out[len] = '\0';
}

bool bench_command_start(struct bench_server *server, const char *name, const char *command,
	uint32_t width, uint32_t height)
{
	name_socket(server);
	snprintf(server->name, sizeof(server->name), "%s", name);
	char line[1024];
	char shell[1100];
	substitute(line, sizeof(line), command, server->socket, width, height);
	snprintf(shell, sizeof(shell), "exec %s", line);
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", getenv("XDG_RUNTIME_DIR"), server->socket);
	pid_t pid = fork();
	if (pid < 0) {
		return false;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execl("/bin/sh", "sh", "-c", shell, (char *)NULL);
		_exit(127);
	}
	server->pid = pid;
	server->out_fd = -1;
	int64_t deadline = now_ms() + START_TIMEOUT_MS;
	struct stat st;
	while (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		if (now_ms() > deadline || waitpid(pid, NULL, WNOHANG) == pid) {
			fprintf(stderr, "dmab-bench: %s (%s) did not start listening\n", name,
				line);
			server->pid = waitpid(pid, NULL, WNOHANG) == 0 ? pid : 0;
			bench_server_stop(server);
			return false;
		}
		usleep(20000);
	}
	/* The socket exists before the compositor has finished setting up its globals. */
	usleep(300000);
	return true;
}

void bench_server_stop(struct bench_server *server)
{
	if (server->pid > 0) {
		kill(server->pid, SIGTERM);
		int64_t deadline = now_ms() + 5000;
		while (waitpid(server->pid, NULL, WNOHANG) == 0) {
			if (now_ms() > deadline) {
				kill(server->pid, SIGKILL);
				waitpid(server->pid, NULL, 0);
				break;
			}
			usleep(10000);
		}
	}
	if (server->out_fd >= 0) {
		close(server->out_fd);
	}
	server->pid = 0;
	server->out_fd = -1;
}

int64_t bench_proc_cpu_ns(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/schedstat", (long)pid);
	FILE *f = fopen(path, "r");
	unsigned long long ns;
	if (f != NULL) {
		int n = fscanf(f, "%llu", &ns);
		fclose(f);
		if (n == 1) {
			return (int64_t)ns;
		}
	}
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	char buf[1024];
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* The command name may hold spaces and parentheses: fields follow the last ')'. */
	char *p = strrchr(buf, ')');
	unsigned long long utime, stime;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			&utime, &stime) != 2) {
		return -1;
	}
	unsigned long long tick_ns = 1000000000ull / (unsigned long long)sysconf(_SC_CLK_TCK);
	return (int64_t)((utime + stime) * tick_ns);
}

int64_t bench_self_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bench_proc_rss_kib(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	char line[256];
	long long kib = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %lld kB", &kib) == 1) {
			break;
		}
	}
	fclose(f);
	return kib;
}

int64_t bench_proc_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	DIR *dir = opendir(path);
	if (dir == NULL) {
		return -1;
	}
	int64_t count = 0;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] != '.') {
			count++;
		}
	}
	closedir(dir);
	return count;
}
