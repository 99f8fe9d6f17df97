/* SPDX-License-Identifier: MIT */
/*
 * Every format and its planes over the wire: the plane events of info and of
 * mapped, a pattern written into every plane by one client and read by
 * another, max_planes at attach, and import_planar_dmabuf with its checks per
 * plane.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compositor.h"
#include "fixture.h"
#include "harness.h"
#include "util.h"

#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

static const unsigned int SEALS = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

/*
 * 50x21: odd heights round the chroma rows up. Each plane's row bytes and
 * rows, as the format defines them; the broker aligns strides to 64.
 */
enum { W = 50, H = 21 };

static const struct format_case {
	uint32_t format;
	uint32_t n_planes;
	uint32_t row_bytes[3], rows[3];
} cases[] = {
	{ DRM_FORMAT_ARGB8888, 1, { 200 }, { H } },
	{ DRM_FORMAT_XRGB8888, 1, { 200 }, { H } },
	{ DRM_FORMAT_ABGR8888, 1, { 200 }, { H } },
	{ DRM_FORMAT_XBGR8888, 1, { 200 }, { H } },
	{ DRM_FORMAT_RGB565, 1, { 100 }, { H } },
	{ DRM_FORMAT_NV12, 2, { 50, 50 }, { H, 11 } },
	{ DRM_FORMAT_NV21, 2, { 50, 50 }, { H, 11 } },
	{ DRM_FORMAT_YUV420, 3, { 50, 25, 25 }, { H, 11, 11 } },
	{ DRM_FORMAT_YUYV, 1, { 100 }, { H } },
	{ DRM_FORMAT_P010, 2, { 100, 100 }, { H, 11 } },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* The layout is what the format implies: rows fit, planes in order, none overlapping. */
static void check_layout(const struct format_case *fc, const struct dmab_client_layout *l)
{
	CHECK_EQ(l->format, fc->format);
	CHECK_EQ(l->n_planes, fc->n_planes);
	CHECK_EQ(l->stride, l->planes[0].stride);
	uint64_t end = 0;
	for (uint32_t p = 0; p < fc->n_planes; p++) {
		const struct dmab_client_plane *plane = &l->planes[p];
		CHECK(plane->stride >= fc->row_bytes[p]);
		CHECK_EQ(plane->stride % 64, 0);
		CHECK_EQ(plane->size, plane->stride * fc->rows[p]);
		CHECK(plane->offset >= end);
		CHECK_EQ(plane->offset % 64, 0);
		end = (uint64_t)plane->offset + plane->size;
	}
	CHECK(l->size >= end);
}

/* The mapping's planes are the buffer's, each reachable through the one mapping. */
static void check_mapping(const struct format_case *fc, struct dmab_client_attachment *att,
	const struct dmab_client_layout *layout)
{
	CHECK_EQ(dmab_client_attachment_get_n_planes(att), fc->n_planes);
	char *base = dmab_client_attachment_get_data(att);
	CHECK(base != NULL);
	for (uint32_t p = 0; p < fc->n_planes; p++) {
		struct dmab_client_plane plane;
		char *data = dmab_client_attachment_get_plane(att, p, &plane);
		CHECK(data != NULL);
		CHECK_EQ(plane.offset, layout->planes[p].offset);
		CHECK_EQ(plane.stride, layout->planes[p].stride);
		CHECK_EQ(plane.size, layout->planes[p].size);
		CHECK(data == base - layout->planes[0].offset + plane.offset);
	}
	CHECK(dmab_client_attachment_get_plane(att, fc->n_planes, NULL) == NULL);
}

static void fill_planes(const struct format_case *fc, struct dmab_client_attachment *att)
{
	for (uint32_t p = 0; p < fc->n_planes; p++) {
		struct dmab_client_plane plane;
		void *data = dmab_client_attachment_get_plane(att, p, &plane);
		pattern_fill(data, plane.stride, fc->row_bytes[p], fc->rows[p], 10 * fc->format + p);
	}
}

static void check_planes(const struct format_case *fc, struct dmab_client_attachment *att)
{
	for (uint32_t p = 0; p < fc->n_planes; p++) {
		struct dmab_client_plane plane;
		const void *data = dmab_client_attachment_get_plane(att, p, &plane);
		CHECK(pattern_check(data, plane.stride, fc->row_bytes[p], fc->rows[p],
			10 * fc->format + p));
	}
}

/* Each format: one client writes every plane, another reads them through a token. */
DMAB_TEST(planes_every_format_is_shared_plane_by_plane)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *owner = fixture_client(f);
	struct fixture_client *peer = fixture_client(f);
	for (size_t i = 0; i < N_CASES; i++) {
		const struct format_case *fc = &cases[i];
		struct dmab_client_buffer *buffer = dmab_client_buffer_create(owner->client, W, H,
			fc->format, 0, "planes");
		CHECK(buffer != NULL);
		struct dmab_client_layout layout;
		dmab_client_buffer_get_layout(buffer, &layout);
		check_layout(fc, &layout);
		struct dmab_client_constraints three = { .max_planes = 3 };
		struct dmab_client_attachment *writer = dmab_client_attachment_create(buffer, RW,
			&three);
		CHECK_EQ(dmab_client_attachment_map(writer, WRITE), 0);
		check_mapping(fc, writer, &layout);
		CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
		fill_planes(fc, writer);
		CHECK_EQ(dmab_client_attachment_end(writer), 0);

		struct dmab_client_buffer *imported = import_via_token(peer, buffer, RO);
		struct dmab_client_layout imported_layout;
		dmab_client_buffer_get_layout(imported, &imported_layout);
		CHECK(memcmp(imported_layout.planes, layout.planes, sizeof(layout.planes)) == 0);
		struct dmab_client_attachment *reader = dmab_client_attachment_create(imported, RO,
			&three);
		CHECK_EQ(dmab_client_attachment_map(reader, READ), 0);
		check_mapping(fc, reader, &layout);
		CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
		check_planes(fc, reader);
		CHECK_EQ(dmab_client_attachment_end(reader), 0);
		dmab_client_buffer_destroy(imported);
		dmab_client_buffer_destroy(buffer);
	}
	fixture_destroy(f);
}

/* Introspection (version 3) shows every plane of every format, as the buffer's own events do. */
DMAB_TEST(planes_info_shows_every_plane)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *owner = fixture_client(f);
	struct dmab_client_buffer *buffers[N_CASES];
	char names[N_CASES][32];
	for (size_t i = 0; i < N_CASES; i++) {
		snprintf(names[i], sizeof(names[i]), "info planes %zu", i);
		buffers[i] = dmab_client_buffer_create(owner->client, W, H, cases[i].format, 0,
			names[i]);
		CHECK(buffers[i] != NULL);
		/* Mapped, so that the layout is the storage's, after collation. */
		struct dmab_client_constraints three = { .max_planes = 3 };
		struct dmab_client_attachment *att = dmab_client_attachment_create(buffers[i], RW,
			&three);
		CHECK_EQ(dmab_client_attachment_map(att, WRITE), 0);
	}
	static struct info_snapshot snap;
	CHECK(info_snapshot_take(owner->display, dmab_client_get_manager(owner->client), &snap));
	for (size_t i = 0; i < N_CASES; i++) {
		int b = info_find_buffer(&snap, names[i]);
		CHECK(b >= 0);
		struct dmab_client_layout layout;
		dmab_client_buffer_get_layout(buffers[i], &layout);
		CHECK(!snap.buffers[b].plane_out_of_order);
		CHECK_EQ(snap.buffers[b].n_planes, cases[i].n_planes);
		CHECK_EQ(snap.buffers[b].stride, layout.planes[0].stride);
		for (uint32_t p = 0; p < cases[i].n_planes; p++) {
			CHECK_EQ(snap.buffers[b].planes[p].offset, layout.planes[p].offset);
			CHECK_EQ(snap.buffers[b].planes[p].stride, layout.planes[p].stride);
			CHECK_EQ(snap.buffers[b].planes[p].size, layout.planes[p].size);
			CHECK((uint64_t)layout.planes[p].offset + layout.planes[p].size <=
				snap.buffers[b].size);
		}
	}
	for (size_t i = 0; i < N_CASES; i++)
		dmab_client_buffer_destroy(buffers[i]);
	fixture_destroy(f);
}

/* The raw events: one plane event per plane, right before info and before mapped. */
DMAB_TEST(planes_events_come_before_info_and_mapped)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct raw_buffer buffer;
	raw_buffer_listen(&buffer, dmabroker_manager_v1_create_buffer(
		dmab_client_get_manager(c->client), W, H, DRM_FORMAT_YUV420, 0, "raw"));
	ROUNDTRIP(c->display);
	CHECK_EQ(buffer.info_count, 1);
	CHECK_EQ(buffer.n_planes, 3);
	CHECK_EQ(buffer.stride, buffer.planes[0].stride);
	struct raw_attachment att;
	raw_attachment_listen(&att, dmabroker_buffer_v1_attach(buffer.proxy, RW, 0, 256, 3));
	ROUNDTRIP(c->display);
	/* row_alignment 256 re-plans the buffer: new plane events, then info. */
	CHECK_EQ(buffer.info_count, 2);
	CHECK_EQ(buffer.planes[1].stride, 256);
	CHECK_EQ(buffer.planes[1].offset % 256, 0);
	dmabroker_attachment_v1_map(att.proxy, WRITE);
	ROUNDTRIP(c->display);
	CHECK_EQ(att.mapped_count, 1);
	CHECK_EQ(att.plane_count, 3);
	CHECK_EQ(att.plane_serial, att.mapped_serial);
	for (uint32_t p = 0; p < 3; p++) {
		CHECK_EQ(att.plane_index[p], p);
		CHECK(memcmp(&att.planes[p], &buffer.planes[p], sizeof(att.planes[p])) == 0);
	}
	CHECK_EQ(att.offset, att.planes[0].offset);
	CHECK_EQ(att.stride, att.planes[0].stride);
	CHECK_EQ(att.size, att.planes[0].size);
	raw_attachment_destroy(&att);
	raw_buffer_destroy(&buffer);
	fixture_client_close(c);
	fixture_destroy(f);
}

/* An attacher that handles fewer planes than the format has fails alone, at attach. */
DMAB_TEST(planes_max_planes_below_the_format_is_unsatisfiable)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, W, H,
		DRM_FORMAT_NV12, 0, "nv12");
	CHECK(buffer != NULL);
	struct dmab_client_attachment *one = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK_EQ(dmab_client_attachment_map(one, WRITE), -EINVAL);
	CHECK_EQ(dmab_client_last_failure()->reason, DMABROKER_MANAGER_V1_REASON_UNSATISFIABLE);
	CHECK_STR_EQ(dmab_client_last_failure()->message,
		"the buffer has 2 planes, the attachment handles 1");
	struct dmab_client_constraints two = { .max_planes = 2 };
	struct dmab_client_attachment *ok = dmab_client_attachment_create(buffer, RW, &two);
	CHECK_EQ(dmab_client_attachment_map(ok, WRITE), 0);
	CHECK_EQ(dmab_client_attachment_get_n_planes(ok), 2);
	dmab_client_buffer_destroy(buffer);
	fixture_destroy(f);
}

/* A client's own multi-planar memfd: the broker maps it where the client put the planes. */
DMAB_TEST(planes_import_planar_dmabuf_keeps_the_clients_layout)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	const struct format_case *fc = &cases[7]; /* YUV420 */
	CHECK_EQ(fc->format, DRM_FORMAT_YUV420);
	const uint32_t offsets[] = { 128, 4096, 8000 }, strides[] = { 64, 32, 40 };
	int fd = make_memfd(3 * 4096, 0);
	char *data = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(data != MAP_FAILED);
	for (uint32_t p = 0; p < 3; p++) {
		pattern_fill(data + offsets[p], strides[p], fc->row_bytes[p], fc->rows[p],
			10 * fc->format + p);
	}
	munmap(data, 3 * 4096);
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, SEALS), 0);
	struct dmab_client_buffer *buffer = dmab_client_buffer_import_planar_fd(c->client, fd,
		fc->format, W, H, 3, offsets, strides, 0);
	close(fd);
	CHECK(buffer != NULL);
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(buffer, &layout);
	CHECK_EQ(layout.n_planes, 3);
	for (uint32_t p = 0; p < 3; p++) {
		CHECK_EQ(layout.planes[p].offset, offsets[p]);
		CHECK_EQ(layout.planes[p].stride, strides[p]);
		CHECK_EQ(layout.planes[p].size, strides[p] * fc->rows[p]);
	}
	struct dmab_client_constraints three = { .max_planes = 3 };
	struct dmab_client_attachment *reader = dmab_client_attachment_create(buffer, RO, &three);
	CHECK_EQ(dmab_client_attachment_map(reader, READ), 0);
	check_mapping(fc, reader, &layout);
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
	check_planes(fc, reader);
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	/* A stride that is no multiple of a constraint's alignment: that plane is named. */
	struct dmab_client_constraints aligned = { .row_alignment = 64, .max_planes = 3 };
	struct dmab_client_attachment *strict = dmab_client_attachment_create(buffer, RO,
		&aligned);
	CHECK_EQ(dmab_client_attachment_map(strict, READ), -EINVAL);
	CHECK_STR_EQ(dmab_client_last_failure()->message,
		"imported stride 32 of plane 1 is not a multiple of row_alignment 64");
	dmab_client_buffer_destroy(buffer);
	fixture_destroy(f);
}

static void expect_planar_import_error(struct fixture *f, int fd, const uint32_t *offsets,
	const uint32_t *strides, uint32_t code, const char *message)
{
	struct fixture_client *c = fixture_client(f);
	uint32_t pairs[] = { offsets[0], strides[0], offsets[1], strides[1] };
	struct wl_array planes = { .size = sizeof(pairs), .alloc = sizeof(pairs), .data = pairs };
	struct raw_buffer buffer;
	raw_buffer_listen(&buffer, dmabroker_manager_v1_import_planar_dmabuf(
		dmab_client_get_manager(c->client), fd, DRM_FORMAT_NV12, W, H, &planes, 0));
	expect_protocol_error(c->display, &dmabroker_manager_v1_interface, code);
	CHECK(strstr(util_last_client_log(), message) != NULL);
	raw_buffer_destroy(&buffer);
	fixture_client_close(c);
}

/* Each plane is checked like import_dmabuf's one: stride, and bounds in 64 bits. */
DMAB_TEST(planes_import_checks_every_plane)
{
	struct fixture *f = fixture_create(NULL);
	int fd = make_memfd(4096, SEALS);
	const uint32_t strides[] = { 64, 64 }, narrow[] = { 64, 49 };
	expect_planar_import_error(f, fd, (const uint32_t[]){ 0, 1344 }, narrow,
		DMABROKER_MANAGER_V1_ERROR_INVALID_STRIDE,
		"stride 49 of plane 1 is smaller than a row of 50 bytes");
	/* 11 chroma rows of 64 bytes from 3393 end 1 byte beyond the fd. */
	expect_planar_import_error(f, fd, (const uint32_t[]){ 0, 3393 }, strides,
		DMABROKER_MANAGER_V1_ERROR_OUT_OF_BOUNDS,
		"plane 1: offset 3393 + stride 64 x 11 rows = 4097 exceeds the fd's 4096 bytes");
	/* In 32 bits, 0xfffffe00 + 704 wraps to 0xc0, inside the fd. */
	expect_planar_import_error(f, fd, (const uint32_t[]){ 0, 0xfffffe00 }, strides,
		DMABROKER_MANAGER_V1_ERROR_OUT_OF_BOUNDS, "plane 1: offset 4294966784");
	close(fd);
	fixture_destroy(f);
}

/* The compositor's read of a multi-planar wl_buffer hands over every plane. */
DMAB_TEST(planes_compositor_read_gets_every_plane)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	const struct format_case *fc = &cases[7]; /* YUV420 */
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, W, H,
		fc->format, DMABROKER_MANAGER_V1_USAGE_COMPOSITE, "shown");
	CHECK(buffer != NULL);
	struct dmab_client_constraints three = { .max_planes = 3 };
	struct dmab_client_attachment *writer = dmab_client_attachment_create(buffer, RW,
		&three);
	CHECK_EQ(dmab_client_attachment_map(writer, WRITE), 0);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	fill_planes(fc, writer);
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	struct comp_read read;
	comp_read_begin(&read, f, c, dmab_client_buffer_get_wl_buffer(buffer));
	CHECK(read.read != NULL);
	CHECK(comp_read_wait(&read, 2000));
	CHECK_EQ(read.pixels.format, fc->format);
	CHECK_EQ(read.pixels.n_planes, 3);
	CHECK(read.pixels.data == read.pixels.planes[0].data);
	for (uint32_t p = 0; p < 3; p++) {
		CHECK(pattern_check(read.pixels.planes[p].data, read.pixels.planes[p].stride,
			fc->row_bytes[p], fc->rows[p], 10 * fc->format + p));
	}
	comp_read_end(&read);
	dmab_client_buffer_destroy(buffer);
	fixture_destroy(f);
}
