/* SPDX-License-Identifier: MIT */
/*
 * Runs LLVMFuzzerTestOneInput over files, without libFuzzer: the corpus
 * replay that every build can run, and a way to reproduce a crash under gdb
 * or valgrind with a gcc build.
 *
 * Arguments are files or directories (their regular files, sorted by name).
 * Prints TAP: one test per input. An input that crashes aborts the run, and
 * the last "# input" line names it. Then the hits of every protocol error
 * and failed reason the XML declares, as comments; with --require-hits, a
 * last test fails if the inputs never provoked one of them.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz-server.h"

struct paths {
	char **items;
	size_t len, cap;
};

static void paths_add(struct paths *paths, const char *path)
{
	if (paths->len == paths->cap) {
		size_t cap = paths->cap ? paths->cap * 2 : 64;
		char **items = realloc(paths->items, cap * sizeof(*items));

		if (!items) {
			perror("replay: realloc");
			exit(1);
		}
		paths->items = items;
		paths->cap = cap;
	}
	paths->items[paths->len] = strdup(path);
	if (!paths->items[paths->len]) {
		perror("replay: strdup");
		exit(1);
	}
	paths->len++;
}

static int compare_paths(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's regular files, not recursively; hidden files are skipped. */
static int add_dir(struct paths *paths, const char *dir_path)
{
	DIR *dir = opendir(dir_path);
	struct dirent *entry;
	size_t first = paths->len;

	if (!dir) {
		fprintf(stderr, "replay: %s: %s\n", dir_path, strerror(errno));
		return -1;
	}
	while ((entry = readdir(dir))) {
		char path[4096];
		struct stat st;

		if (entry->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir_path, entry->d_name) >=
				(int)sizeof(path))
			continue;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			paths_add(paths, path);
	}
	closedir(dir);
	qsort(paths->items + first, paths->len - first, sizeof(*paths->items), compare_paths);
	return 0;
}

static int read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *file = fopen(path, "rb");
	long len;

	if (!file)
		return -1;
	if (fseek(file, 0, SEEK_END) != 0 || (len = ftell(file)) < 0 ||
			fseek(file, 0, SEEK_SET) != 0)
		goto err;
	*size = (size_t)len;
	/* One byte more, so that an empty file is not a NULL buffer. */
	*data = malloc(*size + 1);
	if (!*data || fread(*data, 1, *size, file) != *size)
		goto err_free;
	fclose(file);
	return 0;

err_free:
	free(*data);
err:
	fclose(file);
	return -1;
}

int main(int argc, char *argv[])
{
	struct paths paths = {0};
	bool require_hits = false;
	size_t missing;
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (strcmp(argv[i], "--require-hits") == 0) {
			require_hits = true;
			continue;
		}
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			if (add_dir(&paths, argv[i]) < 0)
				return 1;
		} else {
			paths_add(&paths, argv[i]);
		}
	}
	printf("TAP version 13\n");
	if (paths.len == 0) {
		printf("1..0 # SKIP no inputs\n");
		return 77;
	}
	printf("1..%zu\n", paths.len + require_hits);
	for (size_t i = 0; i < paths.len; i++) {
		uint8_t *data;
		size_t size;

		printf("# input %s\n", paths.items[i]);
		fflush(stdout);
		if (read_file(paths.items[i], &data, &size) < 0) {
			printf("not ok %zu - %s: %s\n", i + 1, paths.items[i], strerror(errno));
			failed++;
		} else {
			LLVMFuzzerTestOneInput(data, size);
			free(data);
			printf("ok %zu - %s\n", i + 1, paths.items[i]);
		}
		free(paths.items[i]);
	}
	free(paths.items);
	printf("# hits of the errors and failed reasons the XML declares:\n");
	missing = fuzz_server_print_hits(stdout, "# ");
	if (require_hits) {
		printf("%s %zu - every declared error and reason was hit",
			missing ? "not ok" : "ok", paths.len + 1);
		printf(missing ? " (%zu never were)\n" : "\n", missing);
		failed += missing > 0;
	}
	return failed ? 1 : 0;
}
