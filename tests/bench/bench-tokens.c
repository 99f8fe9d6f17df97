/*
 * Share+revoke cycles on one buffer, as a hostile client can run them: the
 * process's RSS and the latency of importing another buffer's live token
 * (created later, so a scan in creation order meets every revoked record
 * first) after each decade of cycles. A benchmark, not a test: it prints figures and checks none.
 *
 *   bench-tokens [CYCLES]     (default 1000000)
 */
#include <drm_fourcc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

enum { IMPORTS = 200 };

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	if (f == NULL) {
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) {
			break;
		}
	}
	fclose(f);
	return kib;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The mean time of an import_buffer of a live token, with its handle's destroy. */
static double import_ms(struct dmab_account *importer, const char *token)
{
	struct dmab_failure fail;
	double start = now_ms();
	for (int i = 0; i < IMPORTS; i++) {
		struct dmab_handle *handle = dmab_handle_import_token(importer, token, &fail);
		if (handle == NULL) {
			fprintf(stderr, "import failed: %s\n", fail.message);
			exit(1);
		}
		dmab_handle_destroy(handle);
	}
	return (now_ms() - start) / IMPORTS;
}

static void report(unsigned long cycles, double cycle_ms, struct dmab_core *core,
	struct dmab_account *importer, const char *token)
{
	size_t live, revoked;
	dmab_core_get_token_records(core, &live, &revoked);
	printf("%10lu %10ld %12.3f %12.3f %8zu %8zu\n", cycles, rss_kib(),
		import_ms(importer, token) * 1e3, cycle_ms * 1e3, live, revoked);
	fflush(stdout);
}

int main(int argc, char *argv[])
{
	unsigned long cycles = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	char err[256] = "";
	struct dmab_core_options options = { .allocator = "memfd" };
	struct dmab_core *core = dmab_core_create(&options, err, sizeof(err));
	if (core == NULL) {
		fprintf(stderr, "bench-tokens: %s\n", err);
		return 1;
	}
	struct dmab_account *sharer = dmab_account_create(core, 1, 1);
	struct dmab_account *importer = dmab_account_create(core, 2, 1);
	struct dmab_buffer_desc desc = {
		.width = 64, .height = 64, .format = DRM_FORMAT_ARGB8888, .name = "bench",
	};
	struct dmab_failure fail;
	struct dmab_handle *handle = dmab_handle_create(sharer, &desc, &fail);
	struct dmab_handle *other = handle != NULL ? dmab_handle_create(sharer, &desc, &fail) :
		NULL;
	struct dmab_token *live = other != NULL ?
		dmab_token_create(other, DMAB_ACCESS_READ, &fail) : NULL;
	if (live == NULL) {
		fprintf(stderr, "bench-tokens: %s\n", fail.message);
		return 1;
	}
	printf("%10s %10s %12s %12s %8s %8s\n", "cycles", "rss_kib", "import_us", "cycle_us",
		"live", "revoked");
	report(0, 0, core, importer, dmab_token_get_string(live));
	unsigned long done = 0;
	for (unsigned long next = 1000; done < cycles; next *= 10) {
		if (next > cycles) {
			next = cycles;
		}
		double start = now_ms();
		for (unsigned long i = done; i < next; i++) {
			dmab_token_revoke(dmab_token_create(handle, DMAB_ACCESS_READ, &fail));
		}
		double cycle_ms = (now_ms() - start) / (double)(next - done);
		done = next;
		report(done, cycle_ms, core, importer, dmab_token_get_string(live));
	}
	dmab_token_revoke(live);
	dmab_handle_destroy(other);
	dmab_handle_destroy(handle);
	dmab_account_destroy(sharer);
	dmab_account_destroy(importer);
	dmab_core_destroy(core);
	return 0;
}
