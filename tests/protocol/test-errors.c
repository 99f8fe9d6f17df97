/* SPDX-License-Identifier: MIT */
/*
 * One test per protocol error of dmabroker-v1: each sends the offending
 * request through raw proxies and checks the error's interface, code and
 * message. Each case uses a connection of its own, since an error ends it.
 */
#include <drm_fourcc.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "coverage.h"
#include "fixture.h"
#include "linux-dmabuf-unstable-v1-client-protocol.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888

const struct covered_entry covered_errors[] = {
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_ERROR_INVALID_FORMAT,
		"error_manager_invalid_format" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_ERROR_INVALID_SIZE,
		"error_manager_invalid_size" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_ERROR_INVALID_USAGE,
		"error_manager_invalid_usage" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_ERROR_INVALID_NAME,
		"error_manager_invalid_name" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_ERROR_INVALID_BUFFER,
		"error_manager_invalid_buffer" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_ERROR_INVALID_FD,
		"error_manager_invalid_fd" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_ERROR_INVALID_STRIDE,
		"error_manager_invalid_stride" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_ERROR_OUT_OF_BOUNDS,
		"error_manager_out_of_bounds" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_ERROR_INVALID_FLAGS,
		"error_manager_invalid_flags" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_ERROR_INVALID_PLANES,
		"error_manager_invalid_planes" },
	{ "dmabroker_buffer_v1", DMABROKER_BUFFER_V1_ERROR_INVALID_ACCESS,
		"error_buffer_invalid_access" },
	{ "dmabroker_buffer_v1", DMABROKER_BUFFER_V1_ERROR_INVALID_CONSTRAINTS,
		"error_buffer_invalid_constraints" },
	{ "dmabroker_buffer_v1", DMABROKER_BUFFER_V1_ERROR_READ_ONLY,
		"error_buffer_read_only" },
	{ "dmabroker_buffer_v1", DMABROKER_BUFFER_V1_ERROR_INVALID_FENCE,
		"error_buffer_invalid_fence" },
	{ "dmabroker_attachment_v1", DMABROKER_ATTACHMENT_V1_ERROR_INVALID_DIRECTION,
		"error_attachment_invalid_direction" },
	{ "dmabroker_attachment_v1", DMABROKER_ATTACHMENT_V1_ERROR_READ_ONLY,
		"error_attachment_read_only" },
	{ "dmabroker_attachment_v1", DMABROKER_ATTACHMENT_V1_ERROR_ALREADY_MAPPED,
		"error_attachment_already_mapped" },
	{ "dmabroker_attachment_v1", DMABROKER_ATTACHMENT_V1_ERROR_NOT_MAPPED,
		"error_attachment_not_mapped" },
	{ "dmabroker_attachment_v1", DMABROKER_ATTACHMENT_V1_ERROR_NESTED_ACCESS,
		"error_attachment_nested_access" },
	{ "dmabroker_attachment_v1", DMABROKER_ATTACHMENT_V1_ERROR_NOT_IN_ACCESS,
		"error_attachment_not_in_access" },
	{ "dmabroker_attachment_v1", DMABROKER_ATTACHMENT_V1_ERROR_DIRECTION_MISMATCH,
		"error_attachment_direction_mismatch" },
	{ "dmabroker_attachment_v1", DMABROKER_ATTACHMENT_V1_ERROR_ACCESS_PENDING,
		"error_attachment_access_pending" },
	{ "dmabroker_attachment_v1", DMABROKER_ATTACHMENT_V1_ERROR_CONFLICTING_ACCESS,
		"error_attachment_conflicting_access" },
	{ "dmabroker_attachment_v1", DMABROKER_ATTACHMENT_V1_ERROR_INVALID_FENCE,
		"error_attachment_invalid_fence" },
	{ "dmabroker_attachment_v1", DMABROKER_ATTACHMENT_V1_ERROR_DUPLICATE_FENCE,
		"error_attachment_duplicate_fence" },
	{ "zwp_linux_buffer_params_v1", ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_ALREADY_USED,
		"error_linux_dmabuf_already_used" },
	{ "zwp_linux_buffer_params_v1", ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_PLANE_IDX,
		"error_linux_dmabuf_plane_idx" },
	{ "zwp_linux_buffer_params_v1", ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_PLANE_SET,
		"error_linux_dmabuf_plane_set" },
	{ "zwp_linux_buffer_params_v1", ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INCOMPLETE,
		"error_linux_dmabuf_incomplete" },
	{ "zwp_linux_buffer_params_v1", ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INVALID_FORMAT,
		"error_linux_dmabuf_invalid_format" },
	{ "zwp_linux_buffer_params_v1", ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INVALID_DIMENSIONS,
		"error_linux_dmabuf_invalid_dimensions" },
	{ "zwp_linux_buffer_params_v1", ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_OUT_OF_BOUNDS,
		"error_linux_dmabuf_out_of_bounds" },
	{ "zwp_linux_buffer_params_v1", ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INVALID_WL_BUFFER,
		"error_linux_dmabuf_invalid_wl_buffer" },
};
const size_t covered_errors_len = sizeof(covered_errors) / sizeof(covered_errors[0]);

static struct dmabroker_manager_v1 *manager_of(struct fixture_client *c)
{
	return dmab_client_get_manager(c->client);
}

/* --- dmabroker_manager_v1 --- */

static void expect_create_error(struct fixture *f, uint32_t width, uint32_t height,
	uint32_t format, uint32_t usage, const char *name, uint32_t code)
{
	struct fixture_client *c = fixture_client(f);
	struct raw_buffer buffer;
	raw_buffer_listen(&buffer, dmabroker_manager_v1_create_buffer(manager_of(c), width,
		height, format, usage, name));
	expect_protocol_error(c->display, &dmabroker_manager_v1_interface, code);
	raw_buffer_destroy(&buffer);
	fixture_client_close(c);
}

static void expect_create_ok(struct fixture *f, uint32_t width, uint32_t height,
	uint32_t format, uint32_t usage, const char *name)
{
	struct fixture_client *c = fixture_client(f);
	struct raw_buffer buffer;
	raw_buffer_listen(&buffer, dmabroker_manager_v1_create_buffer(manager_of(c), width,
		height, format, usage, name));
	ROUNDTRIP(c->display);
	CHECK_EQ(buffer.info_count, 1);
	CHECK(!buffer.failed);
	raw_buffer_destroy(&buffer);
	fixture_client_close(c);
}

struct import_args {
	uint32_t format, width, height, offset, stride, flags;
};

static void expect_import_error(struct fixture *f, int fd, const struct import_args *args,
	uint32_t code)
{
	struct fixture_client *c = fixture_client(f);
	struct raw_buffer buffer;
	raw_buffer_listen(&buffer, dmabroker_manager_v1_import_dmabuf(manager_of(c), fd,
		args->format, args->width, args->height, args->offset, args->stride, args->flags));
	expect_protocol_error(c->display, &dmabroker_manager_v1_interface, code);
	raw_buffer_destroy(&buffer);
	fixture_client_close(c);
}

static const unsigned int SEALS = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

DMAB_TEST(error_manager_invalid_format)
{
	struct fixture *f = fixture_create(NULL);
	expect_create_error(f, 64, 64, DRM_FORMAT_NV16, 0, "nv16",
		DMABROKER_MANAGER_V1_ERROR_INVALID_FORMAT);
	expect_create_error(f, 64, 64, 0, 0, "zero", DMABROKER_MANAGER_V1_ERROR_INVALID_FORMAT);
	int fd = make_memfd(64 * 256, SEALS);
	expect_import_error(f, fd, &(struct import_args){ DRM_FORMAT_NV16, 64, 64, 0, 256, 0 },
		DMABROKER_MANAGER_V1_ERROR_INVALID_FORMAT);
	close(fd);
	fixture_destroy(f);
}

DMAB_TEST(error_manager_invalid_size)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_MANAGER_V1_ERROR_INVALID_SIZE;
	expect_create_error(f, 0, 64, ARGB, 0, "zero width", code);
	expect_create_error(f, 64, 0, ARGB, 0, "zero height", code);
	expect_create_ok(f, DMAB_DEFAULT_MAX_DIMENSION, 1, ARGB, 0, "widest");
	expect_create_error(f, DMAB_DEFAULT_MAX_DIMENSION + 1, 1, ARGB, 0, "too wide", code);
	expect_create_error(f, 1, DMAB_DEFAULT_MAX_DIMENSION + 1, ARGB, 0, "too high", code);
	int fd = make_memfd(64 * 256, SEALS);
	expect_import_error(f, fd, &(struct import_args){ ARGB, 0, 64, 0, 256, 0 }, code);
	close(fd);
	fixture_destroy(f);

	/* Limits that let the arithmetic overflow 32 bits: the size must be checked in 64. */
	struct fixture_options options = { .max_width = UINT32_MAX, .max_height = UINT32_MAX };
	f = fixture_create(&options);
	/* width * 4 is 2^32, which wraps to 0. */
	expect_create_error(f, 1u << 30, 1, ARGB, 0, "row overflow", code);
	/* stride * height is 2^32 + 2^18, which wraps to 2^18. */
	expect_create_error(f, 1u << 16, (1u << 14) + 1, ARGB, 0, "size overflow", code);
	expect_create_error(f, UINT32_MAX, UINT32_MAX, ARGB, 0, "everything", code);
	fixture_destroy(f);

	/* The limits event announces the byte limit: a buffer beyond it can never be made. */
	options = (struct fixture_options){ .quota = { .max_bytes = 64 << 10 } };
	f = fixture_create(&options);
	expect_create_ok(f, 128, 128, ARGB, 0, "at the limit");
	expect_create_error(f, 128, 129, ARGB, 0, "beyond the limit", code);
	fixture_destroy(f);
}

DMAB_TEST(error_manager_invalid_usage)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t all = DMABROKER_MANAGER_V1_USAGE_CPU_READ |
		DMABROKER_MANAGER_V1_USAGE_CPU_WRITE | DMABROKER_MANAGER_V1_USAGE_COMPOSITE |
		DMABROKER_MANAGER_V1_USAGE_SHARE;
	expect_create_ok(f, 64, 64, ARGB, all, "every usage");
	expect_create_error(f, 64, 64, ARGB, all + 1, "usage 16",
		DMABROKER_MANAGER_V1_ERROR_INVALID_USAGE);
	expect_create_error(f, 64, 64, ARGB, UINT32_MAX, "usage ~0",
		DMABROKER_MANAGER_V1_ERROR_INVALID_USAGE);
	fixture_destroy(f);
}

DMAB_TEST(error_manager_invalid_name)
{
	struct fixture *f = fixture_create(NULL);
	char name[65];
	memset(name, 'n', 63);
	name[63] = '\0';
	expect_create_ok(f, 64, 64, ARGB, 0, name);
	memset(name, 'n', 64);
	name[64] = '\0';
	expect_create_error(f, 64, 64, ARGB, 0, name, DMABROKER_MANAGER_V1_ERROR_INVALID_NAME);
	fixture_destroy(f);
}

DMAB_TEST(error_manager_invalid_buffer)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct raw_buffer defunct;
	raw_buffer_listen(&defunct, dmabroker_manager_v1_import_buffer(manager_of(c),
		UTIL_BOGUS_TOKEN));
	ROUNDTRIP(c->display);
	CHECK(defunct.failed);
	struct wl_buffer *wl_buffer = dmabroker_manager_v1_get_wl_buffer(manager_of(c),
		defunct.proxy);
	expect_protocol_error(c->display, &dmabroker_manager_v1_interface,
		DMABROKER_MANAGER_V1_ERROR_INVALID_BUFFER);
	wl_buffer_destroy(wl_buffer);
	raw_buffer_destroy(&defunct);
	fixture_destroy(f);
}

DMAB_TEST(error_manager_invalid_fd)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_MANAGER_V1_ERROR_INVALID_FD;
	const struct import_args args = { ARGB, 64, 64, 0, 256, 0 };
	/* Anyone could truncate an unsealed memfd under a reader. */
	int fd = make_memfd(64 * 256, 0);
	expect_import_error(f, fd, &args, code);
	close(fd);
	fd = make_memfd(64 * 256, F_SEAL_GROW);
	expect_import_error(f, fd, &args, code);
	close(fd);
	/* A pipe cannot be sized with lseek. */
	int pipe_fds[2];
	CHECK_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
	expect_import_error(f, pipe_fds[0], &args, code);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	fixture_destroy(f);
}

DMAB_TEST(error_manager_invalid_stride)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_MANAGER_V1_ERROR_INVALID_STRIDE;
	int fd = make_memfd(64 * 256, SEALS);
	expect_import_error(f, fd, &(struct import_args){ ARGB, 64, 64, 0, 0, 0 }, code);
	expect_import_error(f, fd, &(struct import_args){ ARGB, 64, 64, 0, 255, 0 }, code);
	expect_import_error(f, fd,
		&(struct import_args){ DRM_FORMAT_RGB565, 64, 64, 0, 127, 0 }, code);
	close(fd);
	fixture_destroy(f);
}

DMAB_TEST(error_manager_out_of_bounds)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_MANAGER_V1_ERROR_OUT_OF_BOUNDS;
	int fd = make_memfd(64 * 256, SEALS);
	expect_import_error(f, fd, &(struct import_args){ ARGB, 64, 65, 0, 256, 0 }, code);
	expect_import_error(f, fd, &(struct import_args){ ARGB, 64, 64, 4, 256, 0 }, code);
	/* In 32 bits, 0xfffff000 + 64 * 256 wraps to 0x3000, inside the fd. */
	expect_import_error(f, fd, &(struct import_args){ ARGB, 64, 64, 0xfffff000, 256, 0 },
		code);
	/* In 32 bits, 2^31 * 2 wraps to 0. */
	expect_import_error(f, fd, &(struct import_args){ ARGB, 64, 2, 0, 1u << 31, 0 }, code);
	close(fd);
	fixture_destroy(f);
}

static void expect_planar_error(struct fixture *f, int fd, uint32_t format,
	const uint32_t *pairs, size_t pairs_bytes, uint32_t code, const char *message)
{
	struct fixture_client *c = fixture_client(f);
	struct raw_buffer buffer;
	struct wl_array planes = { .size = pairs_bytes, .alloc = pairs_bytes,
		.data = (void *)pairs };
	raw_buffer_listen(&buffer, dmabroker_manager_v1_import_planar_dmabuf(manager_of(c), fd,
		format, 64, 64, &planes, 0));
	expect_protocol_error(c->display, &dmabroker_manager_v1_interface, code);
	CHECK(strstr(util_last_client_log(), message) != NULL);
	raw_buffer_destroy(&buffer);
	fixture_client_close(c);
}

DMAB_TEST(error_manager_invalid_planes)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_MANAGER_V1_ERROR_INVALID_PLANES;
	int fd = make_memfd(64 * 256, SEALS);
	util_capture_client_log();
	/* import_dmabuf takes one plane; NV12 has two. */
	expect_import_error(f, fd, &(struct import_args){ DRM_FORMAT_NV12, 64, 64, 0, 64, 0 },
		code);
	CHECK(strstr(util_last_client_log(), "format 0x3231564e has 2 planes, not 1") != NULL);
	const uint32_t pairs[] = { 0, 64, 4096, 64, 8192, 64, 0, 0 };
	expect_planar_error(f, fd, DRM_FORMAT_NV12, pairs, 3 * 8, code, "has 2 planes, not 3");
	expect_planar_error(f, fd, DRM_FORMAT_NV12, pairs, 4 * 8, code, "has 2 planes, not 4");
	expect_planar_error(f, fd, DRM_FORMAT_YUV420, pairs, 0, code, "has 3 planes, not 0");
	expect_planar_error(f, fd, DRM_FORMAT_NV12, pairs, 12, code,
		"planes array of 12 bytes is not pairs");
	close(fd);
	fixture_destroy(f);
}

DMAB_TEST(error_manager_invalid_flags)
{
	struct fixture *f = fixture_create(NULL);
	int fd = make_memfd(64 * 256, SEALS);
	expect_import_error(f, fd, &(struct import_args){ ARGB, 64, 64, 0, 256, 2 },
		DMABROKER_MANAGER_V1_ERROR_INVALID_FLAGS);
	expect_import_error(f, fd, &(struct import_args){ ARGB, 64, 64, 0, 256, UINT32_MAX },
		DMABROKER_MANAGER_V1_ERROR_INVALID_FLAGS);
	close(fd);
	fixture_destroy(f);
}

/* --- dmabroker_buffer_v1 --- */

struct buffer_case {
	struct fixture_client *c;
	struct dmab_client_buffer *buffer;
	struct dmabroker_buffer_v1 *proxy;
};

static void buffer_case_init(struct buffer_case *bc, struct fixture *f)
{
	bc->c = fixture_client(f);
	bc->buffer = dmab_client_buffer_create(bc->c->client, 64, 64, ARGB, 0, "errors");
	CHECK(bc->buffer != NULL);
	bc->proxy = dmab_client_buffer_get_proxy(bc->buffer);
}

/* A buffer imported with a read-only token of another client's buffer. */
static void buffer_case_init_read_only(struct buffer_case *bc, struct fixture *f,
	struct dmab_client_buffer *shared)
{
	struct dmab_client_token *token = dmab_client_token_create(shared,
		DMABROKER_BUFFER_V1_ACCESS_READ);
	CHECK(token != NULL);
	bc->c = fixture_client(f);
	bc->buffer = dmab_client_buffer_import(bc->c->client,
		dmab_client_token_get_string(token));
	CHECK(bc->buffer != NULL);
	bc->proxy = dmab_client_buffer_get_proxy(bc->buffer);
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(bc->buffer, &layout);
	CHECK_EQ(layout.access, DMABROKER_BUFFER_V1_ACCESS_READ);
}

static void buffer_case_expect(struct buffer_case *bc, uint32_t code)
{
	expect_protocol_error(bc->c->display, &dmabroker_buffer_v1_interface, code);
}

static void expect_attach_error(struct fixture *f, uint32_t access, uint32_t flags,
	uint32_t row_alignment, uint32_t max_planes, uint32_t code)
{
	struct buffer_case bc;
	buffer_case_init(&bc, f);
	struct dmabroker_attachment_v1 *att = dmabroker_buffer_v1_attach(bc.proxy, access,
		flags, row_alignment, max_planes);
	buffer_case_expect(&bc, code);
	dmabroker_attachment_v1_destroy(att);
	fixture_client_close(bc.c);
}

static void expect_attach_ok(struct fixture *f, uint32_t access, uint32_t flags,
	uint32_t row_alignment, uint32_t max_planes)
{
	struct buffer_case bc;
	buffer_case_init(&bc, f);
	struct raw_attachment att;
	raw_attachment_listen(&att, dmabroker_buffer_v1_attach(bc.proxy, access, flags,
		row_alignment, max_planes));
	ROUNDTRIP(bc.c->display);
	CHECK(!att.failed);
	raw_attachment_destroy(&att);
	ROUNDTRIP(bc.c->display);
	fixture_client_close(bc.c);
}

DMAB_TEST(error_buffer_invalid_access)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_BUFFER_V1_ERROR_INVALID_ACCESS;
	expect_attach_error(f, 0, 0, 0, 1, code);
	/* Write without read is no access mode. */
	expect_attach_error(f, 2, 0, 0, 1, code);
	expect_attach_error(f, 7, 0, 0, 1, code);

	struct buffer_case bc;
	buffer_case_init(&bc, f);
	struct dmabroker_token_v1 *token = dmabroker_buffer_v1_share(bc.proxy, 0);
	buffer_case_expect(&bc, code);
	dmabroker_token_v1_revoke(token);
	fixture_client_close(bc.c);
	fixture_destroy(f);
}

DMAB_TEST(error_buffer_invalid_constraints)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_BUFFER_V1_ERROR_INVALID_CONSTRAINTS;
	const uint32_t rw = DMABROKER_BUFFER_V1_ACCESS_READ_WRITE;
	expect_attach_ok(f, rw, 0, 4096, 1);
	expect_attach_error(f, rw, 0, 3, 1, code);
	expect_attach_error(f, rw, 0, 96, 1, code);
	expect_attach_error(f, rw, 0, 8192, 1, code);
	expect_attach_error(f, rw, 0, 1u << 31, 1, code);
	expect_attach_error(f, rw, 0, 0, 0, code);
	expect_attach_error(f, rw, DMABROKER_BUFFER_V1_CONSTRAINT_FLAGS_CONTIGUOUS << 1, 0, 1,
		code);
	fixture_destroy(f);
}

DMAB_TEST(error_buffer_read_only)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *owner = fixture_client(f);
	struct dmab_client_buffer *shared = dmab_client_buffer_create(owner->client, 64, 64,
		ARGB, 0, "shared");
	CHECK(shared != NULL);

	struct buffer_case bc;
	buffer_case_init_read_only(&bc, f, shared);
	struct dmabroker_attachment_v1 *att = dmabroker_buffer_v1_attach(bc.proxy,
		DMABROKER_BUFFER_V1_ACCESS_READ_WRITE, 0, 0, 1);
	buffer_case_expect(&bc, DMABROKER_BUFFER_V1_ERROR_READ_ONLY);
	dmabroker_attachment_v1_destroy(att);
	fixture_client_close(bc.c);

	buffer_case_init_read_only(&bc, f, shared);
	struct dmabroker_token_v1 *token = dmabroker_buffer_v1_share(bc.proxy,
		DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	buffer_case_expect(&bc, DMABROKER_BUFFER_V1_ERROR_READ_ONLY);
	dmabroker_token_v1_revoke(token);
	fixture_client_close(bc.c);
	fixture_destroy(f);
}

DMAB_TEST(error_buffer_invalid_fence)
{
	struct fixture *f = fixture_create(NULL);
	struct buffer_case bc;
	buffer_case_init(&bc, f);
	struct dmabroker_fence_v1 *fence = dmabroker_buffer_v1_get_fence(bc.proxy,
		DMABROKER_BUFFER_V1_FENCE_KIND_NEXT_WRITE + 1);
	buffer_case_expect(&bc, DMABROKER_BUFFER_V1_ERROR_INVALID_FENCE);
	dmabroker_fence_v1_destroy(fence);
	fixture_client_close(bc.c);
	fixture_destroy(f);
}

static void handle_manager_global(void *data, struct wl_registry *registry, uint32_t name,
	const char *interface, uint32_t version)
{
	uint32_t *manager_name = data;
	if (strcmp(interface, dmabroker_manager_v1_interface.name) == 0)
		*manager_name = name;
}

static void handle_manager_global_remove(void *data, struct wl_registry *registry,
	uint32_t name)
{
}

static const struct wl_registry_listener manager_registry_listener = {
	.global = handle_manager_global,
	.global_remove = handle_manager_global_remove,
};

/* next_write came with version 3: a client of version 2 that asks for it is buggy. */
DMAB_TEST(error_buffer_next_write_fence_before_version_3)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_connect(f);
	uint32_t manager_name = 0;
	struct wl_registry *registry = wl_display_get_registry(c->display);
	wl_registry_add_listener(registry, &manager_registry_listener, &manager_name);
	ROUNDTRIP(c->display);
	CHECK(manager_name != 0);
	struct dmabroker_manager_v1 *manager = wl_registry_bind(registry, manager_name,
		&dmabroker_manager_v1_interface, 2);
	struct raw_buffer buffer = {0};
	raw_buffer_listen(&buffer, dmabroker_manager_v1_create_buffer(manager, 8, 8, ARGB, 0,
		"version 2"));
	ROUNDTRIP(c->display);
	CHECK(!buffer.failed);
	CHECK_EQ(wl_proxy_get_version((struct wl_proxy *)buffer.proxy), 2);
	struct dmabroker_fence_v1 *fence = dmabroker_buffer_v1_get_fence(buffer.proxy,
		DMABROKER_BUFFER_V1_FENCE_KIND_NEXT_WRITE);
	expect_protocol_error(c->display, &dmabroker_buffer_v1_interface,
		DMABROKER_BUFFER_V1_ERROR_INVALID_FENCE);
	dmabroker_fence_v1_destroy(fence);
	raw_buffer_destroy(&buffer);
	dmabroker_manager_v1_destroy(manager);
	wl_registry_destroy(registry);
	fixture_client_close(c);
	fixture_destroy(f);
}

/* --- dmabroker_attachment_v1 --- */

#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

struct att_case {
	struct buffer_case bc;
	struct raw_attachment att;
};

static void att_case_init(struct att_case *ac, struct fixture *f, uint32_t access)
{
	buffer_case_init(&ac->bc, f);
	raw_attachment_listen(&ac->att, dmabroker_buffer_v1_attach(ac->bc.proxy, access, 0, 0, 1));
}

static void att_case_map(struct att_case *ac, uint32_t direction)
{
	dmabroker_attachment_v1_map(ac->att.proxy, direction);
	ROUNDTRIP(ac->bc.c->display);
	CHECK_EQ(ac->att.mapped_count, 1);
}

static void att_case_begin(struct att_case *ac, uint32_t direction)
{
	int ready = ac->att.ready_count;
	dmabroker_attachment_v1_begin_access(ac->att.proxy, direction);
	ROUNDTRIP(ac->bc.c->display);
	CHECK_EQ(ac->att.ready_count, ready + 1);
}

/* Another client inside a WRITE bracket on the case's buffer: ac's brackets wait for it. */
static struct dmab_client_attachment *foreign_writer(struct att_case *ac, struct fixture *f)
{
	struct dmab_client_token *token = dmab_client_token_create(ac->bc.buffer,
		DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	CHECK(token != NULL);
	struct fixture_client *other = fixture_client(f);
	struct dmab_client_buffer *imported = dmab_client_buffer_import(other->client,
		dmab_client_token_get_string(token));
	CHECK(imported != NULL);
	struct dmab_client_attachment *writer = attach_mapped(imported,
		DMABROKER_BUFFER_V1_ACCESS_READ_WRITE, WRITE);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	return writer;
}

static void att_case_expect(struct att_case *ac, uint32_t code)
{
	expect_protocol_error(ac->bc.c->display, &dmabroker_attachment_v1_interface, code);
	raw_attachment_destroy(&ac->att);
	fixture_client_close(ac->bc.c);
}

DMAB_TEST(error_attachment_invalid_direction)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_ATTACHMENT_V1_ERROR_INVALID_DIRECTION;
	const uint32_t rw = DMABROKER_BUFFER_V1_ACCESS_READ_WRITE;
	struct att_case ac;
	att_case_init(&ac, f, rw);
	dmabroker_attachment_v1_map(ac.att.proxy, 0);
	att_case_expect(&ac, code);

	att_case_init(&ac, f, rw);
	dmabroker_attachment_v1_map(ac.att.proxy, (READ | WRITE) << 1);
	att_case_expect(&ac, code);

	att_case_init(&ac, f, rw);
	att_case_map(&ac, READ | WRITE);
	dmabroker_attachment_v1_begin_access(ac.att.proxy, 0);
	att_case_expect(&ac, code);

	att_case_init(&ac, f, rw);
	att_case_map(&ac, READ | WRITE);
	dmabroker_attachment_v1_begin_access(ac.att.proxy, READ | 4);
	att_case_expect(&ac, code);

	att_case_init(&ac, f, rw);
	att_case_map(&ac, READ | WRITE);
	att_case_begin(&ac, READ);
	dmabroker_attachment_v1_end_access(ac.att.proxy, 0);
	att_case_expect(&ac, code);
	fixture_destroy(f);
}

DMAB_TEST(error_attachment_read_only)
{
	struct fixture *f = fixture_create(NULL);
	struct att_case ac;
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ);
	dmabroker_attachment_v1_map(ac.att.proxy, WRITE);
	att_case_expect(&ac, DMABROKER_ATTACHMENT_V1_ERROR_READ_ONLY);

	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ);
	dmabroker_attachment_v1_map(ac.att.proxy, READ | WRITE);
	att_case_expect(&ac, DMABROKER_ATTACHMENT_V1_ERROR_READ_ONLY);
	fixture_destroy(f);
}

DMAB_TEST(error_attachment_already_mapped)
{
	struct fixture *f = fixture_create(NULL);
	struct att_case ac;
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ);
	dmabroker_attachment_v1_map(ac.att.proxy, READ);
	att_case_expect(&ac, DMABROKER_ATTACHMENT_V1_ERROR_ALREADY_MAPPED);
	fixture_destroy(f);
}

DMAB_TEST(error_attachment_not_mapped)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_ATTACHMENT_V1_ERROR_NOT_MAPPED;
	const uint32_t rw = DMABROKER_BUFFER_V1_ACCESS_READ_WRITE;
	struct att_case ac;
	att_case_init(&ac, f, rw);
	dmabroker_attachment_v1_unmap(ac.att.proxy);
	att_case_expect(&ac, code);

	att_case_init(&ac, f, rw);
	dmabroker_attachment_v1_begin_access(ac.att.proxy, READ);
	att_case_expect(&ac, code);

	att_case_init(&ac, f, rw);
	att_case_map(&ac, READ);
	dmabroker_attachment_v1_unmap(ac.att.proxy);
	dmabroker_attachment_v1_unmap(ac.att.proxy);
	att_case_expect(&ac, code);

	/* A map held back by a pending migration is not a map yet. */
	att_case_init(&ac, f, rw);
	att_case_map(&ac, READ | WRITE);
	struct raw_attachment strict;
	raw_attachment_listen(&strict, dmabroker_buffer_v1_attach(ac.bc.proxy, rw, 0, 4096, 1));
	dmabroker_attachment_v1_map(strict.proxy, READ);
	ROUNDTRIP(ac.bc.c->display);
	CHECK_EQ(ac.att.moved_count, 1);
	CHECK_EQ(strict.mapped_count, 0);
	dmabroker_attachment_v1_begin_access(strict.proxy, READ);
	expect_protocol_error(ac.bc.c->display, &dmabroker_attachment_v1_interface, code);
	raw_attachment_destroy(&strict);
	raw_attachment_destroy(&ac.att);
	fixture_client_close(ac.bc.c);
	fixture_destroy(f);
}

DMAB_TEST(error_attachment_nested_access)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_ATTACHMENT_V1_ERROR_NESTED_ACCESS;
	struct att_case ac;
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ | WRITE);
	att_case_begin(&ac, READ);
	dmabroker_attachment_v1_begin_access(ac.att.proxy, READ);
	att_case_expect(&ac, code);

	/* A begin still waiting for ready counts as open. */
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ | WRITE);
	foreign_writer(&ac, f);
	dmabroker_attachment_v1_begin_access(ac.att.proxy, READ);
	ROUNDTRIP(ac.bc.c->display);
	CHECK_EQ(ac.att.ready_count, 0);
	dmabroker_attachment_v1_begin_access(ac.att.proxy, READ);
	att_case_expect(&ac, code);
	fixture_destroy(f);
}

/*
 * A client that holds READ through one attachment and asks for WRITE through
 * another would wait for itself forever: the broker says so at once.
 */
DMAB_TEST(error_attachment_conflicting_access)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_ATTACHMENT_V1_ERROR_CONFLICTING_ACCESS;
	struct att_case ac;
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ | WRITE);
	att_case_begin(&ac, READ);
	struct raw_attachment other;
	raw_attachment_listen(&other, dmabroker_buffer_v1_attach(ac.bc.proxy,
		DMABROKER_BUFFER_V1_ACCESS_READ_WRITE, 0, 0, 1));
	dmabroker_attachment_v1_map(other.proxy, WRITE);
	dmabroker_attachment_v1_begin_access(other.proxy, WRITE);
	expect_protocol_error(ac.bc.c->display, &dmabroker_attachment_v1_interface, code);
	CHECK(strstr(util_last_client_log(), "conflicts with this client's open bracket") != NULL);
	raw_attachment_destroy(&other);
	raw_attachment_destroy(&ac.att);
	fixture_client_close(ac.bc.c);

	/* A waiting bracket counts too, and so does a read after a write. */
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ | WRITE);
	foreign_writer(&ac, f);
	dmabroker_attachment_v1_begin_access(ac.att.proxy, WRITE);
	ROUNDTRIP(ac.bc.c->display);
	CHECK_EQ(ac.att.ready_count, 0);
	raw_attachment_listen(&other, dmabroker_buffer_v1_attach(ac.bc.proxy,
		DMABROKER_BUFFER_V1_ACCESS_READ, 0, 0, 1));
	dmabroker_attachment_v1_map(other.proxy, READ);
	dmabroker_attachment_v1_begin_access(other.proxy, READ);
	expect_protocol_error(ac.bc.c->display, &dmabroker_attachment_v1_interface, code);
	raw_attachment_destroy(&other);
	raw_attachment_destroy(&ac.att);
	fixture_client_close(ac.bc.c);

	/* Two reads of one client share the buffer like anyone's. */
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ | WRITE);
	att_case_begin(&ac, READ);
	raw_attachment_listen(&other, dmabroker_buffer_v1_attach(ac.bc.proxy,
		DMABROKER_BUFFER_V1_ACCESS_READ, 0, 0, 1));
	dmabroker_attachment_v1_map(other.proxy, READ);
	dmabroker_attachment_v1_begin_access(other.proxy, READ);
	ROUNDTRIP(ac.bc.c->display);
	CHECK_EQ(other.ready_count, 1);
	raw_attachment_destroy(&other);
	raw_attachment_destroy(&ac.att);
	fixture_client_close(ac.bc.c);
	fixture_destroy(f);
}

DMAB_TEST(error_attachment_not_in_access)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_ATTACHMENT_V1_ERROR_NOT_IN_ACCESS;
	struct att_case ac;
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ);
	dmabroker_attachment_v1_end_access(ac.att.proxy, READ);
	att_case_expect(&ac, code);

	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ);
	att_case_begin(&ac, READ);
	dmabroker_attachment_v1_end_access(ac.att.proxy, READ);
	dmabroker_attachment_v1_end_access(ac.att.proxy, READ);
	att_case_expect(&ac, code);

	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	dmabroker_attachment_v1_end_access(ac.att.proxy, READ);
	att_case_expect(&ac, code);

	/* An acquire fence belongs to an open WRITE bracket. */
	int fence = eventfd(0, EFD_CLOEXEC);
	CHECK(fence >= 0);
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ | WRITE);
	dmabroker_attachment_v1_set_acquire_fence(ac.att.proxy, fence);
	att_case_expect(&ac, code);

	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ | WRITE);
	att_case_begin(&ac, READ);
	dmabroker_attachment_v1_set_acquire_fence(ac.att.proxy, fence);
	att_case_expect(&ac, code);

	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ | WRITE);
	att_case_begin(&ac, WRITE);
	dmabroker_attachment_v1_end_access(ac.att.proxy, WRITE);
	dmabroker_attachment_v1_set_acquire_fence(ac.att.proxy, fence);
	att_case_expect(&ac, code);
	close(fence);
	fixture_destroy(f);
}

DMAB_TEST(error_attachment_direction_mismatch)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_ATTACHMENT_V1_ERROR_DIRECTION_MISMATCH;
	struct att_case ac;
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ | WRITE);
	att_case_begin(&ac, READ);
	dmabroker_attachment_v1_end_access(ac.att.proxy, WRITE);
	att_case_expect(&ac, code);

	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ | WRITE);
	att_case_begin(&ac, READ | WRITE);
	dmabroker_attachment_v1_end_access(ac.att.proxy, READ);
	att_case_expect(&ac, code);

	/* begin_access beyond the direction of the map. */
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ);
	dmabroker_attachment_v1_begin_access(ac.att.proxy, WRITE);
	att_case_expect(&ac, code);
	fixture_destroy(f);
}

DMAB_TEST(error_attachment_access_pending)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_ATTACHMENT_V1_ERROR_ACCESS_PENDING;
	struct att_case ac;
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ);
	att_case_begin(&ac, READ);
	dmabroker_attachment_v1_unmap(ac.att.proxy);
	att_case_expect(&ac, code);

	/* A begin waiting for ready is pending too. */
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ);
	foreign_writer(&ac, f);
	dmabroker_attachment_v1_begin_access(ac.att.proxy, READ);
	ROUNDTRIP(ac.bc.c->display);
	CHECK_EQ(ac.att.ready_count, 0);
	dmabroker_attachment_v1_unmap(ac.att.proxy);
	att_case_expect(&ac, code);
	fixture_destroy(f);
}

DMAB_TEST(error_attachment_invalid_fence)
{
	struct fixture *f = fixture_create(NULL);
	const uint32_t code = DMABROKER_ATTACHMENT_V1_ERROR_INVALID_FENCE;
	int pipe_fds[2];
	CHECK_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
	int memfd = make_memfd(4096, SEALS);
	const int fds[] = { pipe_fds[0], pipe_fds[1], memfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		struct att_case ac;
		att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
		att_case_map(&ac, WRITE);
		att_case_begin(&ac, WRITE);
		dmabroker_attachment_v1_set_acquire_fence(ac.att.proxy, fds[i]);
		att_case_expect(&ac, code);
	}
	close(memfd);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	fixture_destroy(f);
}

DMAB_TEST(error_attachment_duplicate_fence)
{
	struct fixture *f = fixture_create(NULL);
	int first = eventfd(0, EFD_CLOEXEC), second = eventfd(1, EFD_CLOEXEC);
	CHECK(first >= 0 && second >= 0);
	struct att_case ac;
	att_case_init(&ac, f, DMABROKER_BUFFER_V1_ACCESS_READ_WRITE);
	att_case_map(&ac, READ | WRITE);
	att_case_begin(&ac, READ | WRITE);
	dmabroker_attachment_v1_set_acquire_fence(ac.att.proxy, first);
	ROUNDTRIP(ac.bc.c->display);
	dmabroker_attachment_v1_set_acquire_fence(ac.att.proxy, second);
	att_case_expect(&ac, DMABROKER_ATTACHMENT_V1_ERROR_DUPLICATE_FENCE);
	close(first);
	close(second);
	fixture_destroy(f);
}
