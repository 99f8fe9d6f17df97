/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

enum {
	MAX_TESTS = 512,
	EXIT_SKIP = 77,
	EXIT_FD_LEAK = 3,
	TEST_TIMEOUT_S = 60,
};

struct test {
	const char *name;
	dmab_test_func func;
};

static struct test tests[MAX_TESTS];
static int tests_len;

void dmab_test_register(const char *name, dmab_test_func func)
{
	if (tests_len == MAX_TESTS) {
		fprintf(stderr, "harness: more than %d tests\n", MAX_TESTS);
		abort();
	}
	tests[tests_len++] = (struct test){ .name = name, .func = func };
}

void dmab_test_skip(const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	fprintf(stdout, "# SKIP ");
	vfprintf(stdout, fmt, args);
	fprintf(stdout, "\n");
	va_end(args);
	fflush(stdout);
	_exit(EXIT_SKIP);
}

void dmab_test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	fprintf(stdout, "# %s:%d: check failed: ", file, line);
	vfprintf(stdout, fmt, args);
	fprintf(stdout, "\n");
	va_end(args);
	fflush(stdout);
	exit(EXIT_FAILURE);
}

int dmab_test_count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	if (dir == NULL)
		return -1;
	int count = 0;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] != '.')
			count++;
	}
	closedir(dir);
	return count - 1; /* the directory's own fd */
}

int dmab_test_time_scale(void)
{
	const char *text = getenv("DMAB_TEST_TIME_SCALE");
	if (text == NULL || text[0] == '\0')
		return 1;
	char *end;
	long scale = strtol(text, &end, 10);
	if (*end != '\0' || scale < 1 || scale > 100) {
		fprintf(stderr, "harness: DMAB_TEST_TIME_SCALE=%s is not an integer from 1 to 100\n",
			text);
		exit(EXIT_FAILURE);
	}
	return (int)scale;
}

const char *dmab_test_allocator(void)
{
	const char *allocator = getenv("DMAB_TEST_ALLOCATOR");
	return allocator != NULL && allocator[0] != '\0' ? allocator : "memfd";
}

static bool selected(const char *name, int argc, char *argv[])
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++) {
		if (strstr(name, argv[i]) != NULL)
			return true;
	}
	return false;
}

static int run_child(const struct test *test)
{
	alarm((unsigned)(TEST_TIMEOUT_S * dmab_test_time_scale()));
	int before = dmab_test_count_fds();
	test->func();
	int after = dmab_test_count_fds();
	if (before != after) {
		printf("# fd leak: %d fds open before the test, %d after\n", before, after);
		return EXIT_FD_LEAK;
	}
	return EXIT_SUCCESS;
}

static int run_one(const struct test *test)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return EXIT_FAILURE;
	}
	if (pid == 0) {
		int code = run_child(test);
		fflush(stdout);
		exit(code);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("waitpid");
			return EXIT_FAILURE;
		}
	}
	if (WIFSIGNALED(status)) {
		printf("# killed by signal %d (%s)%s\n", WTERMSIG(status),
			strsignal(WTERMSIG(status)),
			WTERMSIG(status) == SIGALRM ? ": timed out" : "");
		return EXIT_FAILURE;
	}
	return WEXITSTATUS(status);
}

int dmab_test_main(int argc, char *argv[])
{
	int passed = 0, failed = 0, skipped = 0, planned = 0;
	for (int i = 0; i < tests_len; i++)
		planned += selected(tests[i].name, argc, argv);
	printf("1..%d\n", planned);
	int n = 0;
	for (int i = 0; i < tests_len; i++) {
		if (!selected(tests[i].name, argc, argv))
			continue;
		int code = run_one(&tests[i]);
		n++;
		if (code == EXIT_SUCCESS) {
			printf("ok %d - %s\n", n, tests[i].name);
			passed++;
		} else if (code == EXIT_SKIP) {
			printf("ok %d - %s # SKIP\n", n, tests[i].name);
			skipped++;
		} else {
			printf("not ok %d - %s\n", n, tests[i].name);
			failed++;
		}
	}
	printf("# %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
