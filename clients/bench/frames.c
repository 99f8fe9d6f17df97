/* SPDX-License-Identifier: MIT */
#include <drm_fourcc.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-client.h>

#include <dmabroker/client.h>

#include "bench.h"
#include "loop.h"
#include "pattern.h"
#include "swapchain.h"
#include "window.h"

#define WAIT_TIMEOUT_MS 10000

struct bench_slot {
	struct dmab_swapchain_slot *broker; /* NULL without a broker */
	struct wl_buffer *shm;
	bool shm_busy;
	void *data;
	size_t size;
	int memfd;                          /* -1 when the memory is the broker's */
};

struct bench_session {
	struct dmab_client *client; /* NULL on a compositor without the broker */
	struct wl_display *display;
	struct wl_shm *shm;
	struct dmab_window *window, *dummy;
	struct wl_buffer *dummy_buffer;
	struct dmab_swapchain *chain;
	struct bench_slot slots[DMAB_SWAPCHAIN_MAX];
	uint32_t nbuf, width, height, stride, format;
	uint32_t frame;
};

static void handle_shm_release(void *data, struct wl_buffer *wl_buffer)
{
	struct bench_slot *slot = data;
	slot->shm_busy = false;
}

static const struct wl_buffer_listener shm_listener = {
	.release = handle_shm_release,
};

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
	const char *interface, uint32_t version)
{
	struct bench_session *session = data;
	if (session->shm == NULL && strcmp(interface, wl_shm_interface.name) == 0) {
		session->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
	}
}

static void handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

static struct wl_buffer *shm_buffer(struct wl_shm *shm, int fd, size_t size, uint32_t width,
	uint32_t height, uint32_t stride)
{
	struct wl_shm_pool *pool = wl_shm_create_pool(shm, fd, (int32_t)size);
	struct wl_buffer *buffer = wl_shm_pool_create_buffer(pool, 0, (int32_t)width,
		(int32_t)height, (int32_t)stride, WL_SHM_FORMAT_XRGB8888);
	wl_shm_pool_destroy(pool);
	return buffer;
}

static int own_memfd(size_t size, void **data)
{
	int fd = memfd_create("dmab-bench", MFD_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	*data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*data == MAP_FAILED) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Without a broker the shm buffers get their own memory. */
static bool slot_init(struct bench_session *session, struct bench_slot *slot, size_t index)
{
	slot->memfd = -1;
	int fd;
	if (session->chain != NULL) {
		slot->broker = &session->chain->slots[index];
		struct dmab_client_attachment *att = slot->broker->attachment;
		struct dmab_client_layout layout;
		dmab_client_buffer_get_layout(slot->broker->buffer, &layout);
		session->stride = dmab_client_attachment_get_stride(att);
		slot->data = dmab_client_attachment_get_data(att);
		/* memfd storage starts at offset 0 of the fd, as the library maps it. */
		slot->size = layout.size;
		fd = dmab_client_attachment_get_fd(att);
		if (session->format != DRM_FORMAT_XRGB8888) {
			/* Only the broker path carries YUV: the daemon's wl_shm takes no NV12. */
			return true;
		}
	} else {
		session->stride = session->width * 4;
		slot->size = (size_t)session->stride * session->height;
		fd = slot->memfd = own_memfd(slot->size, &slot->data);
		if (fd < 0) {
			return false;
		}
	}
	slot->shm = shm_buffer(session->shm, fd, slot->size, session->width, session->height,
		session->stride);
	wl_buffer_add_listener(slot->shm, &shm_listener, slot);
	return true;
}

/* The daemon places each mapped toplevel 32 px further along: map a 1x1 one first. */
static bool map_dummy(struct bench_session *session)
{
	session->dummy = dmab_window_create(session->display, "dmab-bench-offset", 1, 1);
	if (session->dummy == NULL) {
		return false;
	}
	void *data;
	int fd = own_memfd(4096, &data);
	if (fd < 0) {
		return false;
	}
	session->dummy_buffer = shm_buffer(session->shm, fd, 4096, 1, 1, 4);
	munmap(data, 4096);
	close(fd);
	dmab_window_present(session->dummy, session->dummy_buffer);
	return wl_display_roundtrip(session->display) >= 0;
}

static bool session_setup(struct bench_session *session, bool offset, bool broker)
{
	if (broker) {
		session->client = dmab_client_connect(NULL);
		if (session->client == NULL) {
			return false;
		}
		session->display = dmab_client_get_display(session->client);
	} else {
		session->display = wl_display_connect(NULL);
		if (session->display == NULL) {
			return false;
		}
	}
	struct wl_registry *registry = wl_display_get_registry(session->display);
	wl_registry_add_listener(registry, &registry_listener, session);
	wl_display_roundtrip(session->display);
	wl_registry_destroy(registry);
	if (session->shm == NULL || (offset && !map_dummy(session))) {
		return false;
	}
	session->window = dmab_window_create(session->display, "dmab-bench", session->width,
		session->height);
	if (session->window == NULL) {
		return false;
	}
	if (broker) {
		const char *what;
		session->chain = dmab_swapchain_create(session->client, session->nbuf,
			session->width, session->height, session->format, "dmab-bench", &what);
		if (session->chain == NULL) {
			fprintf(stderr, "dmab-bench: %s: %s\n", what, strerror(errno));
			return false;
		}
	}
	for (size_t i = 0; i < session->nbuf; i++) {
		if (!slot_init(session, &session->slots[i], i)) {
			return false;
		}
	}
	return wl_display_roundtrip(session->display) >= 0;
}

struct bench_session *bench_session_create(const struct bench_server *server, uint32_t width,
	uint32_t height, uint32_t nbuf, bool offset, bool broker, uint32_t format)
{
	if (format != DRM_FORMAT_XRGB8888 && (!broker || format != DRM_FORMAT_NV12)) {
		errno = EINVAL;
		return NULL;
	}
	struct bench_session *session = calloc(1, sizeof(*session));
	if (session == NULL) {
		return NULL;
	}
	session->width = width;
	session->height = height;
	session->format = format;
	session->nbuf = nbuf < DMAB_SWAPCHAIN_MAX ? nbuf : DMAB_SWAPCHAIN_MAX;
	setenv("WAYLAND_DISPLAY", server->socket, 1);
	if (!session_setup(session, offset, broker)) {
		fprintf(stderr, "dmab-bench: cannot set up a %ux%u window on %s\n", width, height,
			server->name);
		bench_session_destroy(session);
		return NULL;
	}
	return session;
}

void bench_session_destroy(struct bench_session *session)
{
	if (session == NULL) {
		return;
	}
	for (size_t i = 0; i < session->nbuf; i++) {
		struct bench_slot *slot = &session->slots[i];
		if (slot->shm != NULL) {
			wl_buffer_destroy(slot->shm);
		}
		if (slot->memfd >= 0 && slot->data != NULL) {
			munmap(slot->data, slot->size);
			close(slot->memfd);
		}
	}
	dmab_window_destroy(session->window);
	dmab_window_destroy(session->dummy);
	if (session->dummy_buffer != NULL) {
		wl_buffer_destroy(session->dummy_buffer);
	}
	dmab_swapchain_destroy(session->chain);
	if (session->shm != NULL) {
		wl_shm_destroy(session->shm);
	}
	if (session->client != NULL) {
		dmab_client_destroy(session->client);
	} else if (session->display != NULL) {
		wl_display_disconnect(session->display);
	}
	free(session);
}

/* A slot neither wl_buffer of which the compositor still holds; one begun ahead first. */
static struct bench_slot *acquire(struct bench_session *session)
{
	struct bench_slot *found = NULL;
	for (size_t i = 0; i < session->nbuf; i++) {
		struct bench_slot *slot = &session->slots[i];
		if (slot->shm_busy || (slot->broker != NULL && slot->broker->busy)) {
			continue;
		}
		if (slot->broker != NULL && slot->broker->begun) {
			return slot;
		}
		if (found == NULL) {
			found = slot;
		}
	}
	return found;
}

/*
 * One memset a row of each plane, a value that changes with the row and the
 * frame: at most as costly as the XRGB pattern, so that the daemon's conversion
 * is what the NV12 run adds. The planes are asked for after begin, which
 * remaps a moved buffer.
 */
static bool nv12_fill(struct dmab_client_attachment *att, uint32_t width, uint32_t height,
	uint32_t frame)
{
	struct dmab_client_plane y, uv;
	uint8_t *luma = dmab_client_attachment_get_plane(att, 0, &y);
	uint8_t *chroma = dmab_client_attachment_get_plane(att, 1, &uv);
	if (luma == NULL || chroma == NULL) {
		return false;
	}
	for (uint32_t row = 0; row < height; row++) {
		memset(luma + (size_t)row * y.stride, 16 + (int)((row + 3 * frame) % 220), width);
	}
	uint32_t chroma_rows = (height + 1) / 2, chroma_bytes = (width + 1) / 2 * 2;
	for (uint32_t row = 0; row < chroma_rows; row++) {
		memset(chroma + (size_t)row * uv.stride, 16 + (int)((row + 5 * frame) % 225),
			chroma_bytes);
	}
	return true;
}

static bool draw(struct bench_session *session, struct bench_slot *slot,
	enum bench_variant variant)
{
	if (variant == BENCH_SHM) {
		if (slot->shm == NULL) {
			return false;
		}
		dmab_pattern_fill(slot->data, session->stride, session->width, session->height,
			DRM_FORMAT_XRGB8888, session->frame++);
		dmab_window_present(session->window, slot->shm);
		slot->shm_busy = true;
		return true;
	}
	uint32_t stride;
	void *data = dmab_swapchain_begin(slot->broker, &stride);
	if (data == NULL) {
		return false;
	}
	if (session->format == DRM_FORMAT_NV12) {
		if (!nv12_fill(slot->broker->attachment, session->width, session->height,
				session->frame++)) {
			return false;
		}
	} else {
		dmab_pattern_fill(data, stride, session->width, session->height,
			DRM_FORMAT_XRGB8888, session->frame++);
	}
	return dmab_swapchain_submit(session->chain, slot->broker, session->window) == 0;
}

/* Presents frames frames; stamps[i] (if not NULL) is when callback i arrived. */
static bool present_frames(struct bench_session *session, enum bench_variant variant,
	uint32_t frames, int64_t *stamps)
{
	uint64_t base = session->window->presented;
	uint32_t sent = 0;
	while (session->window->presented - base < frames) {
		struct bench_slot *slot = NULL;
		if (sent < frames && dmab_window_can_present(session->window)) {
			slot = acquire(session);
		}
		if (slot != NULL) {
			if (!draw(session, slot, variant)) {
				return false;
			}
			sent++;
			continue;
		}
		uint64_t before = session->window->presented;
		if (dmab_wait(session->display, WAIT_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "dmab-bench: no frame callback from the compositor\n");
			return false;
		}
		if (stamps != NULL && session->window->presented != before) {
			stamps[session->window->presented - base - 1] = dmab_now_ns();
		}
	}
	return true;
}

bool bench_session_run(struct bench_session *session, enum bench_variant variant,
	uint32_t frames, pid_t server_pid, struct bench_frames_result *result)
{
	/* One frame first, untimed, so that the previous variant's buffers are released. */
	if (!present_frames(session, variant, 1, NULL)) {
		return false;
	}
	int64_t wall0 = dmab_now_ns();
	int64_t client0 = bench_self_cpu_ns();
	int64_t server0 = bench_proc_cpu_ns(server_pid);
	if (!present_frames(session, variant, frames, NULL)) {
		return false;
	}
	double wall = (double)(dmab_now_ns() - wall0);
	double client = (double)(bench_self_cpu_ns() - client0);
	double server = (double)(bench_proc_cpu_ns(server_pid) - server0);
	result->fps = frames / (wall / 1e9);
	result->wall_ms = wall / 1e6 / frames;
	result->client_cpu_ms = client / 1e6 / frames;
	result->server_cpu_ms = server / 1e6 / frames;
	return true;
}

bool bench_session_brackets(struct bench_session *session, uint32_t count, double *us)
{
	struct bench_slot *slot;
	while ((slot = acquire(session)) == NULL) {
		if (dmab_wait(session->display, WAIT_TIMEOUT_MS) <= 0) {
			return false;
		}
	}
	if (slot->broker->begun) {
		/* Close the bracket the last frame opened ahead, so the loop starts from none. */
		uint32_t stride;
		if (dmab_swapchain_begin(slot->broker, &stride) == NULL ||
				dmab_swapchain_end(slot->broker) < 0) {
			return false;
		}
	}
	struct dmab_client_attachment *att = slot->broker->attachment;
	int64_t start = dmab_now_ns();
	for (uint32_t i = 0; i < count; i++) {
		uint32_t write = DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE;
		if (dmab_client_attachment_begin(att, write) < 0 ||
				dmab_client_attachment_end(att) < 0) {
			return false;
		}
	}
	*us = (double)(dmab_now_ns() - start) / 1e3 / count;
	return true;
}

bool bench_session_intervals(struct bench_session *session, uint32_t frames,
	double *intervals_ms)
{
	int64_t *stamps = calloc(frames, sizeof(*stamps));
	if (stamps == NULL) {
		return false;
	}
	bool ok = present_frames(session, BENCH_BROKER, frames, stamps);
	for (uint32_t i = 1; ok && i < frames; i++) {
		intervals_ms[i - 1] = (double)(stamps[i] - stamps[i - 1]) / 1e6;
	}
	free(stamps);
	return ok;
}
