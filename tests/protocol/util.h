/* SPDX-License-Identifier: MIT */
/* Helpers of the protocol tests: raw proxies, waits, patterns, introspection. */
#ifndef DMAB_TEST_PROTOCOL_UTIL_H
#define DMAB_TEST_PROTOCOL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-client.h>

#include "dmabroker/client.h"

#define ROUNDTRIP(display) CHECK(wl_display_roundtrip(display) >= 0)

/* Captures libwayland-client's log, where protocol error messages land. */
void util_capture_client_log(void);
const char *util_last_client_log(void);

/*
 * Expects the server to answer the requests sent so far with a protocol error
 * on an object of iface with code, and checks the message was delivered.
 */
void expect_protocol_error(struct wl_display *display, const struct wl_interface *iface,
	uint32_t code);

/* Dispatches until pred(data) holds; false after timeout_ms. */
typedef bool (*util_pred_func)(const void *data);
bool dispatch_until(struct wl_display *display, util_pred_func pred, const void *data,
	int timeout_ms);
/* Dispatches whatever arrives within timeout_ms. */
void dispatch_for(struct wl_display *display, int timeout_ms);

struct raw_buffer {
	struct dmabroker_buffer_v1 *proxy;
	int info_count;
	uint32_t width, height, format, stride, access;
	uint64_t size;
	/* The plane events before the last info event, and those since. */
	uint32_t n_planes, pending_n_planes;
	struct dmab_client_plane planes[DMAB_CLIENT_MAX_PLANES], pending[DMAB_CLIENT_MAX_PLANES];
	bool failed;
	uint32_t reason;
	char message[160];
};

void raw_buffer_listen(struct raw_buffer *buffer, struct dmabroker_buffer_v1 *proxy);
void raw_buffer_destroy(struct raw_buffer *buffer);

struct raw_attachment {
	struct dmabroker_attachment_v1 *proxy;
	int fd; /* of the last mapped event, -1 before */
	bool fd_cloexec; /* as received, before anything touched the fd */
	int mapped_count, ready_count, moved_count;
	uint32_t mapped_serial, ready_serial, moved_serial; /* of the last of each */
	uint32_t offset, size, stride, flags;
	/* The plane events of the last mapped event's serial, in arrival order. */
	int plane_count;
	uint32_t plane_serial;
	uint32_t plane_index[8];
	struct dmab_client_plane planes[8];
	bool failed;
	uint32_t reason;
	char message[160];
};

void raw_attachment_listen(struct raw_attachment *att, struct dmabroker_attachment_v1 *proxy);
/* Closes the fd and destroys the proxy. */
void raw_attachment_destroy(struct raw_attachment *att);

struct raw_token {
	struct dmabroker_token_v1 *proxy;
	char token[64];
	bool have_token, failed;
	uint32_t reason;
};

void raw_token_listen(struct raw_token *token, struct dmabroker_token_v1 *proxy);

struct raw_fence {
	struct dmabroker_fence_v1 *proxy;
	int fd;
	bool fd_cloexec;
	uint32_t type;
	int signaled_count;
};

void raw_fence_listen(struct raw_fence *fence, struct dmabroker_fence_v1 *proxy);
void raw_fence_destroy(struct raw_fence *fence);

struct fixture_client;

/* An attachment of buffer with access, mapped in direction. */
struct dmab_client_attachment *attach_mapped(struct dmab_client_buffer *buffer,
	uint32_t access, uint32_t direction);
/*
 * Shares buffer with access through a token and imports it in c. The token
 * lives until buffer is destroyed: revoking it would end the import's access.
 */
struct dmab_client_buffer *import_via_token(struct fixture_client *c,
	struct dmab_client_buffer *buffer, uint32_t access);

/* A snapshot from dmabroker_info_v1. */
struct info_snapshot {
	size_t allocators_len, buffers_len, attachments_len;
	struct {
		char name[64];
		uint32_t state;
		char detail[160];
	} allocators[16];
	struct {
		uint32_t id;
		char name[64];
		int32_t owner_pid;
		uint32_t width, height, format, stride;
		uint64_t size;
		char allocator[64];
		uint32_t refs, write_fence, read_fences, usage;
		int32_t payer_pid;
		/* Version 3: buffer_plane events, in the order they came. */
		uint32_t n_planes;
		struct dmab_client_plane planes[DMAB_CLIENT_MAX_PLANES];
		bool plane_out_of_order; /* a buffer_plane not for the last buffer, or not next */
	} buffers[64];
	struct {
		uint32_t buffer_id;
		int32_t pid;
		uint32_t access, state, in_access, waiting;
	} attachments[128];
	/* Version 2. */
	bool have_fd_limit, have_uid_limits;
	uint32_t fd_soft_limit, fd_headroom, fds_open;
	uint64_t uid_max_bytes;
	uint32_t uid_max_buffers, uid_max_connections, uid_max_fds;
	size_t uids_len;
	struct {
		uint32_t uid, connections, buffers, fds;
		uint64_t bytes;
	} uids[16];
	bool done, failed;
	uint32_t reason;
};

/* An info object whose snapshots land in snap; wait with info_wait. */
struct dmabroker_info_v1 *info_open(struct dmabroker_manager_v1 *manager,
	struct info_snapshot *snap);
/* Asks info for a new snapshot into snap. */
void info_refresh(struct dmabroker_info_v1 *info, struct info_snapshot *snap);
/* Dispatches until the snapshot is done or refused; false on timeout. */
bool info_wait(struct wl_display *display, struct info_snapshot *snap);
/* Takes a snapshot through a new info object; false if the display failed. */
bool info_snapshot_take(struct wl_display *display, struct dmabroker_manager_v1 *manager,
	struct info_snapshot *snap);
/* The index of the named buffer in the snapshot, or -1. */
int info_find_buffer(const struct info_snapshot *snap, const char *name);
size_t info_count_attachments(const struct info_snapshot *snap, uint32_t buffer_id);

/* A byte of the test pattern at (row, byte in row). */
uint8_t pattern_byte(uint32_t seed, uint32_t row, uint32_t col);
void pattern_fill(void *data, uint32_t stride, uint32_t row_bytes, uint32_t height,
	uint32_t seed);
bool pattern_check(const void *data, uint32_t stride, uint32_t row_bytes, uint32_t height,
	uint32_t seed);

/* A memfd of size bytes with the given seals (0 for none). */
int make_memfd(size_t size, unsigned int seals);
bool fd_is_cloexec(int fd);
/* Every fd this process has open, in a sorted array of up to max. */
size_t list_fds(int *fds, size_t max);

/* A 32-digit token that no broker gave out. */
extern const char *const UTIL_BOGUS_TOKEN;

#endif
