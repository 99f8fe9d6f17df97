/* SPDX-License-Identifier: MIT */
#include <drm_fourcc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wayland-client.h>

#include <dmabroker/client.h>

#include "bench.h"
#include "loop.h"

#define SCALE_SIZE 256

struct scale_client {
	struct dmab_client *client;
	struct dmab_client_buffer **buffers;
	uint32_t len;
};

enum outcome {
	OUTCOME_READY,
	OUTCOME_FAILED,
	OUTCOME_DISCONNECTED,
};

static enum outcome fill_client(struct scale_client *sc, const struct bench_server *server,
	uint32_t buffers)
{
	sc->client = dmab_client_connect(server->socket);
	if (sc->client == NULL) {
		return OUTCOME_DISCONNECTED;
	}
	sc->buffers = calloc(buffers, sizeof(*sc->buffers));
	if (sc->buffers == NULL) {
		return OUTCOME_FAILED;
	}
	uint32_t usage = DMABROKER_MANAGER_V1_USAGE_CPU_WRITE |
		DMABROKER_MANAGER_V1_USAGE_COMPOSITE;
	for (uint32_t i = 0; i < buffers; i++) {
		struct dmab_client_buffer *buffer = dmab_client_buffer_create(sc->client,
			SCALE_SIZE, SCALE_SIZE, DRM_FORMAT_XRGB8888, usage, "dmab-bench-scale");
		struct dmab_client_attachment *att = NULL;
		if (buffer != NULL) {
			sc->buffers[sc->len++] = buffer;
			att = dmab_client_attachment_create(buffer,
				DMABROKER_BUFFER_V1_ACCESS_READ_WRITE, NULL);
		}
		if (att == NULL || dmab_client_attachment_map(att,
				DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE) < 0) {
			struct wl_display *display = dmab_client_get_display(sc->client);
			return wl_display_get_error(display) != 0 ?
				OUTCOME_DISCONNECTED : OUTCOME_FAILED;
		}
	}
	return OUTCOME_READY;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double percentile(double *sorted, size_t len, double p)
{
	size_t index = (size_t)(p * (double)(len - 1) + 0.5);
	return sorted[index < len ? index : len - 1];
}

static bool probe_intervals(const struct bench_server *server, uint32_t frames,
	struct bench_scale_result *result)
{
	struct bench_session *probe = bench_session_create(server, SCALE_SIZE, SCALE_SIZE, 3,
		false, true, DRM_FORMAT_XRGB8888);
	if (probe == NULL) {
		return false;
	}
	double *intervals = calloc(frames, sizeof(*intervals));
	bool ok = intervals != NULL && bench_session_intervals(probe, frames, intervals);
	if (ok) {
		qsort(intervals, frames - 1, sizeof(*intervals), compare_double);
		result->interval_p50_ms = percentile(intervals, frames - 1, 0.50);
		result->interval_p99_ms = percentile(intervals, frames - 1, 0.99);
	}
	free(intervals);
	bench_session_destroy(probe);
	return ok;
}

/* The daemon closes a gone client's fds when it gets to it: wait until the count holds still. */
static int64_t settled_fds(pid_t pid)
{
	int64_t last = bench_proc_fds(pid);
	for (int i = 0; i < 40; i++) {
		usleep(50000);
		int64_t now = bench_proc_fds(pid);
		if (now == last) {
			break;
		}
		last = now;
	}
	return last;
}

bool bench_scale(const struct bench_server *server, uint32_t clients, uint32_t buffers,
	uint32_t frames, uint32_t refresh, struct bench_scale_result *result)
{
	*result = (struct bench_scale_result){
		.clients = clients,
		.buffers = buffers,
		.refresh_interval_ms = 1000.0 / refresh,
	};
	struct scale_client *all = calloc(clients, sizeof(*all));
	if (all == NULL) {
		return false;
	}
	int64_t fds0 = settled_fds(server->pid);
	int64_t rss0 = bench_proc_rss_kib(server->pid);
	int64_t self_fds0 = bench_proc_fds(getpid());
	for (uint32_t i = 0; i < clients; i++) {
		switch (fill_client(&all[i], server, buffers)) {
		case OUTCOME_READY:
			result->ready++;
			break;
		case OUTCOME_FAILED:
			result->failed++;
			break;
		case OUTCOME_DISCONNECTED:
			result->disconnected++;
			break;
		}
	}
	/* Let the daemon finish the last client's requests before counting. */
	for (uint32_t i = 0; i < clients; i++) {
		if (all[i].client != NULL) {
			dmab_client_roundtrip(all[i].client);
		}
	}
	double total = (double)clients * buffers;
	result->server_rss_kib_per_buffer =
		(double)(bench_proc_rss_kib(server->pid) - rss0) / total;
	result->server_fds_per_buffer = (double)(bench_proc_fds(server->pid) - fds0) / total;
	result->client_fds_per_buffer = (double)(bench_proc_fds(getpid()) - self_fds0) / total;
	result->interval_p50_ms = result->interval_p99_ms = -1;
	if (frames >= 2 && !probe_intervals(server, frames, result)) {
		fprintf(stderr, "dmab-bench: scale: the probe window got no frames\n");
	}
	for (uint32_t i = 0; i < clients; i++) {
		for (uint32_t j = 0; j < all[i].len; j++) {
			dmab_client_buffer_destroy(all[i].buffers[j]);
		}
		free(all[i].buffers);
		dmab_client_destroy(all[i].client);
	}
	free(all);
	return true;
}

bool bench_alloc_rate(const struct bench_server *server, uint32_t width, uint32_t height,
	uint32_t count, double *lazy_per_s, double *mapped_per_s)
{
	struct dmab_client *client = dmab_client_connect(server->socket);
	if (client == NULL) {
		return false;
	}
	uint32_t usage = DMABROKER_MANAGER_V1_USAGE_CPU_WRITE |
		DMABROKER_MANAGER_V1_USAGE_COMPOSITE;
	bool ok = true;
	for (int mapped = 0; mapped < 2 && ok; mapped++) {
		int64_t start = dmab_now_ns();
		for (uint32_t i = 0; i < count && ok; i++) {
			struct dmab_client_buffer *buffer = dmab_client_buffer_create(client, width,
				height, DRM_FORMAT_XRGB8888, usage, "dmab-bench-alloc");
			ok = buffer != NULL;
			if (ok && mapped) {
				struct dmab_client_attachment *att = dmab_client_attachment_create(
					buffer, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE, NULL);
				ok = att != NULL && dmab_client_attachment_map(att,
					DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE) == 0;
			}
			dmab_client_buffer_destroy(buffer);
		}
		ok = ok && dmab_client_roundtrip(client) >= 0;
		double rate = count / ((double)(dmab_now_ns() - start) / 1e9);
		*(mapped ? mapped_per_s : lazy_per_s) = rate;
	}
	dmab_client_destroy(client);
	return ok;
}
