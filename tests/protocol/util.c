/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "util.h"

const char *const UTIL_BOGUS_TOKEN = "00000000000000000000000000000000";

static char client_log[512];

__attribute__((format(printf, 1, 0)))
static void log_handler(const char *fmt, va_list args)
{
	vsnprintf(client_log, sizeof(client_log), fmt, args);
}

void util_capture_client_log(void)
{
	client_log[0] = '\0';
	wl_log_set_handler_client(log_handler);
}

const char *util_last_client_log(void)
{
	return client_log;
}

void expect_protocol_error(struct wl_display *display, const struct wl_interface *iface,
	uint32_t code)
{
	util_capture_client_log();
	/* The server stops reading a client once it posted an error: no done comes. */
	CHECK(wl_display_roundtrip(display) < 0);
	CHECK_EQ(wl_display_get_error(display), EPROTO);
	const struct wl_interface *got = NULL;
	uint32_t id = 0;
	uint32_t got_code = wl_display_get_protocol_error(display, &got, &id);
	CHECK(got != NULL);
	CHECK_STR_EQ(got->name, iface->name);
	CHECK_EQ(got_code, code);
	/* libwayland logs "iface@id: error code: message"; 1.23 writes "iface#id" instead. */
	const char *log = util_last_client_log();
	char prefix[128];
	size_t prefix_len = 0;
	for (const char *separator = "@#"; *separator != '\0' && prefix_len == 0; separator++) {
		snprintf(prefix, sizeof(prefix), "%s%c%u: error %u: ", iface->name, *separator,
			id, code);
		if (strncmp(log, prefix, strlen(prefix)) == 0) {
			prefix_len = strlen(prefix);
		}
	}
	if (prefix_len == 0) {
		dmab_test_fail(__FILE__, __LINE__, "error log \"%s\" lacks \"%s@%u: error %u: \" "
			"(or %s#%u)", log, iface->name, id, code, iface->name, id);
	}
	const char *message = log + prefix_len;
	if (strlen(message) < 8)
		dmab_test_fail(__FILE__, __LINE__, "error message too short: \"%s\"", log);
	printf("# %s", log);
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

bool dispatch_until(struct wl_display *display, util_pred_func pred, const void *data,
	int timeout_ms)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (pred == NULL || !pred(data)) {
		long left = timeout_ms - elapsed_ms(&start);
		if (left <= 0)
			return false;
		if (wl_display_prepare_read(display) != 0) {
			if (wl_display_dispatch_pending(display) < 0)
				return false;
			continue;
		}
		wl_display_flush(display);
		struct pollfd pfd = { .fd = wl_display_get_fd(display), .events = POLLIN };
		int ret = poll(&pfd, 1, (int)left);
		if (ret <= 0) {
			wl_display_cancel_read(display);
			if (ret < 0 && errno != EINTR)
				return false;
			continue;
		}
		if (wl_display_read_events(display) < 0 ||
				wl_display_dispatch_pending(display) < 0)
			return false;
	}
	return true;
}

void dispatch_for(struct wl_display *display, int timeout_ms)
{
	dispatch_until(display, NULL, NULL, timeout_ms);
}

static void buffer_info(void *data, struct dmabroker_buffer_v1 *proxy, uint32_t width,
	uint32_t height, uint32_t format, uint32_t stride, uint32_t size_hi, uint32_t size_lo,
	uint32_t access)
{
	struct raw_buffer *buffer = data;
	buffer->info_count++;
	buffer->width = width;
	buffer->height = height;
	buffer->format = format;
	buffer->stride = stride;
	buffer->size = (uint64_t)size_hi << 32 | size_lo;
	buffer->access = access;
	buffer->n_planes = buffer->pending_n_planes;
	memcpy(buffer->planes, buffer->pending, sizeof(buffer->planes));
	buffer->pending_n_planes = 0;
}

static void buffer_plane(void *data, struct dmabroker_buffer_v1 *proxy, uint32_t index,
	uint32_t offset, uint32_t stride, uint32_t size)
{
	struct raw_buffer *buffer = data;
	CHECK_EQ(index, buffer->pending_n_planes);
	CHECK(index < DMAB_CLIENT_MAX_PLANES);
	buffer->pending[index] = (struct dmab_client_plane){ offset, stride, size };
	buffer->pending_n_planes++;
}

static void buffer_failed(void *data, struct dmabroker_buffer_v1 *proxy, uint32_t reason,
	const char *message)
{
	struct raw_buffer *buffer = data;
	buffer->failed = true;
	buffer->reason = reason;
	snprintf(buffer->message, sizeof(buffer->message), "%s", message);
}

static const struct dmabroker_buffer_v1_listener raw_buffer_listener = {
	.info = buffer_info,
	.failed = buffer_failed,
	.plane = buffer_plane,
};

void raw_buffer_listen(struct raw_buffer *buffer, struct dmabroker_buffer_v1 *proxy)
{
	*buffer = (struct raw_buffer){ .proxy = proxy };
	CHECK(proxy != NULL);
	dmabroker_buffer_v1_add_listener(proxy, &raw_buffer_listener, buffer);
}

void raw_buffer_destroy(struct raw_buffer *buffer)
{
	if (buffer->proxy != NULL)
		dmabroker_buffer_v1_destroy(buffer->proxy);
	buffer->proxy = NULL;
}

static void attachment_mapped(void *data, struct dmabroker_attachment_v1 *proxy,
	uint32_t serial, int32_t fd, uint32_t offset, uint32_t size, uint32_t stride,
	uint32_t flags)
{
	struct raw_attachment *att = data;
	att->mapped_serial = serial;
	att->fd_cloexec = fd_is_cloexec(fd);
	if (att->fd >= 0)
		close(att->fd);
	att->fd = fd;
	att->mapped_count++;
	att->offset = offset;
	att->size = size;
	att->stride = stride;
	att->flags = flags;
}

/* A new serial starts a new list: each map's planes come right before its mapped event. */
static void attachment_plane(void *data, struct dmabroker_attachment_v1 *proxy,
	uint32_t serial, uint32_t index, uint32_t offset, uint32_t stride, uint32_t size)
{
	struct raw_attachment *att = data;
	if (att->plane_count == 0 || serial != att->plane_serial || index == 0) {
		att->plane_count = 0;
	}
	att->plane_serial = serial;
	CHECK(att->plane_count < 8);
	att->plane_index[att->plane_count] = index;
	att->planes[att->plane_count] = (struct dmab_client_plane){ offset, stride, size };
	att->plane_count++;
}

static void attachment_ready(void *data, struct dmabroker_attachment_v1 *proxy,
	uint32_t serial)
{
	struct raw_attachment *att = data;
	att->ready_count++;
	att->ready_serial = serial;
}

static void attachment_moved(void *data, struct dmabroker_attachment_v1 *proxy,
	uint32_t serial)
{
	struct raw_attachment *att = data;
	att->moved_count++;
	att->moved_serial = serial;
}

static void attachment_failed(void *data, struct dmabroker_attachment_v1 *proxy,
	uint32_t reason, const char *message)
{
	struct raw_attachment *att = data;
	att->failed = true;
	att->reason = reason;
	snprintf(att->message, sizeof(att->message), "%s", message);
}

static const struct dmabroker_attachment_v1_listener raw_attachment_listener = {
	.mapped = attachment_mapped,
	.ready = attachment_ready,
	.moved = attachment_moved,
	.failed = attachment_failed,
	.plane = attachment_plane,
};

void raw_attachment_listen(struct raw_attachment *att, struct dmabroker_attachment_v1 *proxy)
{
	*att = (struct raw_attachment){ .proxy = proxy, .fd = -1 };
	CHECK(proxy != NULL);
	dmabroker_attachment_v1_add_listener(proxy, &raw_attachment_listener, att);
}

void raw_attachment_destroy(struct raw_attachment *att)
{
	if (att->fd >= 0)
		close(att->fd);
	att->fd = -1;
	if (att->proxy != NULL)
		dmabroker_attachment_v1_destroy(att->proxy);
	att->proxy = NULL;
}

static void token_token(void *data, struct dmabroker_token_v1 *proxy, const char *string)
{
	struct raw_token *token = data;
	snprintf(token->token, sizeof(token->token), "%s", string);
	token->have_token = true;
}

static void token_failed(void *data, struct dmabroker_token_v1 *proxy, uint32_t reason,
	const char *message)
{
	struct raw_token *token = data;
	token->failed = true;
	token->reason = reason;
}

static const struct dmabroker_token_v1_listener raw_token_listener = {
	.token = token_token,
	.failed = token_failed,
};

void raw_token_listen(struct raw_token *token, struct dmabroker_token_v1 *proxy)
{
	*token = (struct raw_token){ .proxy = proxy };
	CHECK(proxy != NULL);
	dmabroker_token_v1_add_listener(proxy, &raw_token_listener, token);
}

static void fence_fd(void *data, struct dmabroker_fence_v1 *proxy, int32_t fd, uint32_t type)
{
	struct raw_fence *fence = data;
	fence->fd_cloexec = fd_is_cloexec(fd);
	if (fence->fd >= 0)
		close(fence->fd);
	fence->fd = fd;
	fence->type = type;
}

static void fence_signaled(void *data, struct dmabroker_fence_v1 *proxy)
{
	struct raw_fence *fence = data;
	fence->signaled_count++;
}

static const struct dmabroker_fence_v1_listener raw_fence_listener = {
	.fd = fence_fd,
	.signaled = fence_signaled,
};

void raw_fence_listen(struct raw_fence *fence, struct dmabroker_fence_v1 *proxy)
{
	*fence = (struct raw_fence){ .proxy = proxy, .fd = -1 };
	CHECK(proxy != NULL);
	dmabroker_fence_v1_add_listener(proxy, &raw_fence_listener, fence);
}

void raw_fence_destroy(struct raw_fence *fence)
{
	if (fence->fd >= 0)
		close(fence->fd);
	fence->fd = -1;
	if (fence->proxy != NULL)
		dmabroker_fence_v1_destroy(fence->proxy);
	fence->proxy = NULL;
}

struct dmab_client_attachment *attach_mapped(struct dmab_client_buffer *buffer,
	uint32_t access, uint32_t direction)
{
	struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, access, NULL);
	CHECK(att != NULL);
	CHECK_EQ(dmab_client_attachment_map(att, direction), 0);
	return att;
}

struct dmab_client_buffer *import_via_token(struct fixture_client *c,
	struct dmab_client_buffer *buffer, uint32_t access)
{
	struct dmab_client_token *token = dmab_client_token_create(buffer, access);
	CHECK(token != NULL);
	struct dmab_client_buffer *imported = dmab_client_buffer_import(c->client,
		dmab_client_token_get_string(token));
	CHECK(imported != NULL);
	return imported;
}

static void info_allocator(void *data, struct dmabroker_info_v1 *info, const char *name,
	uint32_t state, const char *detail)
{
	struct info_snapshot *snap = data;
	if (snap->allocators_len == sizeof(snap->allocators) / sizeof(snap->allocators[0]))
		return;
	size_t i = snap->allocators_len++;
	snprintf(snap->allocators[i].name, sizeof(snap->allocators[i].name), "%s", name);
	snap->allocators[i].state = state;
	snprintf(snap->allocators[i].detail, sizeof(snap->allocators[i].detail), "%s", detail);
}

static void info_buffer(void *data, struct dmabroker_info_v1 *info, uint32_t id,
	const char *name, int32_t owner_pid, uint32_t width, uint32_t height, uint32_t format,
	uint32_t stride, uint32_t size_hi, uint32_t size_lo, const char *allocator,
	uint32_t refs, uint32_t write_fence, uint32_t read_fences, uint32_t usage,
	int32_t payer_pid)
{
	struct info_snapshot *snap = data;
	if (snap->buffers_len == sizeof(snap->buffers) / sizeof(snap->buffers[0]))
		return;
	size_t i = snap->buffers_len++;
	snap->buffers[i].id = id;
	snprintf(snap->buffers[i].name, sizeof(snap->buffers[i].name), "%s", name);
	snap->buffers[i].owner_pid = owner_pid;
	snap->buffers[i].width = width;
	snap->buffers[i].height = height;
	snap->buffers[i].format = format;
	snap->buffers[i].stride = stride;
	snap->buffers[i].size = (uint64_t)size_hi << 32 | size_lo;
	snprintf(snap->buffers[i].allocator, sizeof(snap->buffers[i].allocator), "%s", allocator);
	snap->buffers[i].refs = refs;
	snap->buffers[i].write_fence = write_fence;
	snap->buffers[i].read_fences = read_fences;
	snap->buffers[i].usage = usage;
	snap->buffers[i].payer_pid = payer_pid;
	snap->buffers[i].n_planes = 0;
	snap->buffers[i].plane_out_of_order = false;
}

static void info_buffer_plane(void *data, struct dmabroker_info_v1 *info, uint32_t buffer_id,
	uint32_t index, uint32_t offset, uint32_t stride, uint32_t size)
{
	struct info_snapshot *snap = data;
	if (snap->buffers_len == 0)
		return;
	size_t i = snap->buffers_len - 1;
	if (snap->buffers[i].id != buffer_id || index != snap->buffers[i].n_planes ||
			index >= DMAB_CLIENT_MAX_PLANES) {
		snap->buffers[i].plane_out_of_order = true;
		return;
	}
	snap->buffers[i].planes[index] = (struct dmab_client_plane){ offset, stride, size };
	snap->buffers[i].n_planes++;
}

static void info_attachment(void *data, struct dmabroker_info_v1 *info, uint32_t buffer_id,
	int32_t pid, uint32_t access, uint32_t state, uint32_t in_access, uint32_t waiting)
{
	struct info_snapshot *snap = data;
	if (snap->attachments_len == sizeof(snap->attachments) / sizeof(snap->attachments[0]))
		return;
	size_t i = snap->attachments_len++;
	snap->attachments[i].buffer_id = buffer_id;
	snap->attachments[i].pid = pid;
	snap->attachments[i].access = access;
	snap->attachments[i].state = state;
	snap->attachments[i].in_access = in_access;
	snap->attachments[i].waiting = waiting;
}

static void info_done(void *data, struct dmabroker_info_v1 *info)
{
	struct info_snapshot *snap = data;
	snap->done = true;
}

static void info_failed(void *data, struct dmabroker_info_v1 *info, uint32_t reason,
	const char *message)
{
	struct info_snapshot *snap = data;
	snap->failed = true;
	snap->reason = reason;
}

static void info_fd_limit(void *data, struct dmabroker_info_v1 *info, uint32_t soft_limit,
	uint32_t headroom, uint32_t open)
{
	struct info_snapshot *snap = data;
	snap->have_fd_limit = true;
	snap->fd_soft_limit = soft_limit;
	snap->fd_headroom = headroom;
	snap->fds_open = open;
}

static void info_uid_limits(void *data, struct dmabroker_info_v1 *info, uint32_t max_bytes_hi,
	uint32_t max_bytes_lo, uint32_t max_buffers, uint32_t max_connections, uint32_t max_fds)
{
	struct info_snapshot *snap = data;
	snap->have_uid_limits = true;
	snap->uid_max_bytes = (uint64_t)max_bytes_hi << 32 | max_bytes_lo;
	snap->uid_max_buffers = max_buffers;
	snap->uid_max_connections = max_connections;
	snap->uid_max_fds = max_fds;
}

static void info_uid_usage(void *data, struct dmabroker_info_v1 *info, uint32_t uid,
	uint32_t connections, uint32_t buffers, uint32_t bytes_hi, uint32_t bytes_lo, uint32_t fds)
{
	struct info_snapshot *snap = data;
	if (snap->uids_len == sizeof(snap->uids) / sizeof(snap->uids[0]))
		return;
	size_t i = snap->uids_len++;
	snap->uids[i].uid = uid;
	snap->uids[i].connections = connections;
	snap->uids[i].buffers = buffers;
	snap->uids[i].bytes = (uint64_t)bytes_hi << 32 | bytes_lo;
	snap->uids[i].fds = fds;
}

static const struct dmabroker_info_v1_listener info_listener = {
	.allocator = info_allocator,
	.buffer = info_buffer,
	.buffer_plane = info_buffer_plane,
	.attachment = info_attachment,
	.done = info_done,
	.failed = info_failed,
	.fd_limit = info_fd_limit,
	.uid_limits = info_uid_limits,
	.uid_usage = info_uid_usage,
};

static bool snapshot_answered(const void *data)
{
	const struct info_snapshot *snap = data;
	return snap->done || snap->failed;
}

struct dmabroker_info_v1 *info_open(struct dmabroker_manager_v1 *manager,
	struct info_snapshot *snap)
{
	memset(snap, 0, sizeof(*snap));
	struct dmabroker_info_v1 *info = dmabroker_manager_v1_get_info(manager);
	CHECK(info != NULL);
	dmabroker_info_v1_add_listener(info, &info_listener, snap);
	return info;
}

void info_refresh(struct dmabroker_info_v1 *info, struct info_snapshot *snap)
{
	memset(snap, 0, sizeof(*snap));
	dmabroker_info_v1_refresh(info);
}

bool info_wait(struct wl_display *display, struct info_snapshot *snap)
{
	return dispatch_until(display, snapshot_answered, snap, 2000);
}

bool info_snapshot_take(struct wl_display *display, struct dmabroker_manager_v1 *manager,
	struct info_snapshot *snap)
{
	struct dmabroker_info_v1 *info = info_open(manager, snap);
	bool answered = info_wait(display, snap);
	dmabroker_info_v1_destroy(info);
	return answered;
}

int info_find_buffer(const struct info_snapshot *snap, const char *name)
{
	for (size_t i = 0; i < snap->buffers_len; i++) {
		if (strcmp(snap->buffers[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

size_t info_count_attachments(const struct info_snapshot *snap, uint32_t buffer_id)
{
	size_t count = 0;
	for (size_t i = 0; i < snap->attachments_len; i++)
		count += snap->attachments[i].buffer_id == buffer_id;
	return count;
}

uint8_t pattern_byte(uint32_t seed, uint32_t row, uint32_t col)
{
	return (uint8_t)(seed * 29u + row * 7u + col * 13u + (row >> 3) + (col >> 8));
}

void pattern_fill(void *data, uint32_t stride, uint32_t row_bytes, uint32_t height,
	uint32_t seed)
{
	for (uint32_t row = 0; row < height; row++) {
		uint8_t *line = (uint8_t *)data + (size_t)row * stride;
		for (uint32_t col = 0; col < row_bytes; col++)
			line[col] = pattern_byte(seed, row, col);
	}
}

bool pattern_check(const void *data, uint32_t stride, uint32_t row_bytes, uint32_t height,
	uint32_t seed)
{
	for (uint32_t row = 0; row < height; row++) {
		const uint8_t *line = (const uint8_t *)data + (size_t)row * stride;
		for (uint32_t col = 0; col < row_bytes; col++) {
			if (line[col] != pattern_byte(seed, row, col)) {
				printf("# pattern mismatch at row %u byte %u: %u != %u\n", row, col,
					line[col], pattern_byte(seed, row, col));
				return false;
			}
		}
	}
	return true;
}

int make_memfd(size_t size, unsigned int seals)
{
	int fd = memfd_create("dmab-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, (off_t)size), 0);
	if (seals != 0)
		CHECK_EQ(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

bool fd_is_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);
	return flags >= 0 && (flags & FD_CLOEXEC);
}

static int compare_ints(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

size_t list_fds(int *fds, size_t max)
{
	DIR *dir = opendir("/proc/self/fd");
	CHECK(dir != NULL);
	size_t len = 0;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		int fd = atoi(entry->d_name);
		if (fd != dirfd(dir) && len < max)
			fds[len++] = fd;
	}
	closedir(dir);
	qsort(fds, len, sizeof(*fds), compare_ints);
	return len;
}
