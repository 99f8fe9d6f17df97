/* SPDX-License-Identifier: MIT */
/* Formats and their planes: the layout plan, import checks, admission and migration. */
#include <drm_fourcc.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "unit.h"

struct plan_row {
	uint32_t format;
	uint32_t n_planes;
	struct dmab_plane planes[DMAB_MAX_PLANES];
	uint64_t size;
};

/*
 * 33x17 with rows aligned to 64: odd sizes round the subsampled planes up
 * (NV12's chroma has 17 samples per row and 9 rows), and every plane starts at
 * a multiple of 64.
 */
static const struct plan_row plans_33x17[] = {
	{ DRM_FORMAT_ARGB8888, 1, { { 0, 192, 192 * 17 } }, 4096 },
	{ DRM_FORMAT_XBGR8888, 1, { { 0, 192, 192 * 17 } }, 4096 },
	{ DRM_FORMAT_RGB565, 1, { { 0, 128, 128 * 17 } }, 4096 },
	{ DRM_FORMAT_NV12, 2, { { 0, 64, 64 * 17 }, { 1088, 64, 64 * 9 } }, 4096 },
	{ DRM_FORMAT_NV21, 2, { { 0, 64, 64 * 17 }, { 1088, 64, 64 * 9 } }, 4096 },
	{ DRM_FORMAT_YUV420, 3,
		{ { 0, 64, 64 * 17 }, { 1088, 64, 64 * 9 }, { 1664, 64, 64 * 9 } }, 4096 },
	{ DRM_FORMAT_YUYV, 1, { { 0, 128, 128 * 17 } }, 4096 },
	{ DRM_FORMAT_P010, 2, { { 0, 128, 128 * 17 }, { 2176, 128, 128 * 9 } }, 4096 },
};

DMAB_TEST(formats_plan_every_plane)
{
	for (size_t i = 0; i < sizeof(plans_33x17) / sizeof(plans_33x17[0]); i++) {
		const struct plan_row *row = &plans_33x17[i];
		struct dmab_layout layout = { .width = 33, .height = 17, .format = row->format };
		struct dmab_misuse_report report = { 0 };
		CHECK(dmab_layout_plan(&layout, 64, &report));
		CHECK_EQ(layout.n_planes, row->n_planes);
		CHECK_EQ(dmab_format_planes(row->format), row->n_planes);
		CHECK_EQ(layout.size, row->size);
		for (uint32_t p = 0; p < row->n_planes; p++) {
			CHECK_EQ(layout.planes[p].offset, row->planes[p].offset);
			CHECK_EQ(layout.planes[p].stride, row->planes[p].stride);
			CHECK_EQ(layout.planes[p].size, row->planes[p].size);
		}
	}
}

DMAB_TEST(formats_plan_checks_every_plane_in_64_bits)
{
	struct dmab_misuse_report report = { 0 };
	/* Luma fits 32 bits, 65536 x 65535 bytes; chroma starts there and ends beyond. */
	struct dmab_layout nv12 = { .width = 65536, .height = 65535, .format = DRM_FORMAT_NV12 };
	CHECK(!dmab_layout_plan(&nv12, 64, &report));
	CHECK_EQ(report.misuse, DMAB_MISUSE_INVALID_SIZE);
	CHECK(strstr(report.message, "plane 1 of 65536 x 32768 bytes at offset 4294901760") !=
		NULL);

	/* A P010 row of UINT32_MAX pixels is 2^33 - 2 bytes: the stride overflows 32 bits. */
	struct dmab_layout p010 = { .width = UINT32_MAX, .height = 1, .format = DRM_FORMAT_P010 };
	CHECK(!dmab_layout_plan(&p010, 64, &report));
	CHECK(strstr(report.message, "stride of plane 0, 8589934592 bytes") != NULL);

	struct dmab_layout nv16 = { .width = 1, .height = 1, .format = DRM_FORMAT_NV16 };
	CHECK(!dmab_layout_plan(&nv16, 64, &report));
	CHECK_EQ(report.misuse, DMAB_MISUSE_INVALID_FORMAT);
}

static struct dmab_import_desc nv12_import(uint32_t off1, uint32_t stride1)
{
	return (struct dmab_import_desc){
		.width = 16,
		.height = 16,
		.format = DRM_FORMAT_NV12,
		.n_planes = 2,
		.planes = { { 0, 16 }, { off1, stride1 } },
	};
}

static enum dmab_misuse import_misuse(struct dmab_core *core, int fd,
	struct dmab_import_desc desc, const char *message)
{
	struct dmab_misuse_report report = { .misuse = DMAB_MISUSE_NONE };
	dmab_import_desc_check(core, fd, &desc, &report);
	if (message != NULL) {
		CHECK_STR_EQ(report.message, message);
	}
	return report.misuse;
}

DMAB_TEST(formats_import_checks_every_plane)
{
	struct dmab_core *core = test_core_create(NULL);
	/* 16x16 NV12 is 256 bytes of luma and 8 rows of 16 bytes of chroma. */
	int fd = test_memfd(384, F_SEAL_SHRINK);
	CHECK_EQ(import_misuse(core, fd, nv12_import(256, 16), NULL), DMAB_MISUSE_NONE);
	CHECK_EQ(import_misuse(core, fd, nv12_import(256, 15),
		"stride 15 of plane 1 is smaller than a row of 16 bytes"),
		DMAB_MISUSE_INVALID_STRIDE);
	CHECK_EQ(import_misuse(core, fd, nv12_import(256, 0), NULL),
		DMAB_MISUSE_INVALID_STRIDE);
	CHECK_EQ(import_misuse(core, fd, nv12_import(257, 16),
		"plane 1: offset 257 + stride 16 x 8 rows = 385 exceeds the fd's 384 bytes"),
		DMAB_MISUSE_OUT_OF_BOUNDS);
	/* In 32 bits the end wraps to within the fd. */
	CHECK_EQ(import_misuse(core, fd, nv12_import(UINT32_MAX - 63, 16), NULL),
		DMAB_MISUSE_OUT_OF_BOUNDS);
	CHECK_EQ(import_misuse(core, fd, nv12_import(0, UINT32_MAX), NULL),
		DMAB_MISUSE_OUT_OF_BOUNDS);

	struct dmab_import_desc one = nv12_import(256, 16);
	one.n_planes = 1;
	CHECK_EQ(import_misuse(core, fd, one, "format 0x3231564e has 2 planes, not 1"),
		DMAB_MISUSE_INVALID_PLANES);
	one.n_planes = 7;
	CHECK_EQ(import_misuse(core, fd, one, NULL), DMAB_MISUSE_INVALID_PLANES);

	/* I420: the third plane is checked too. */
	struct dmab_import_desc i420 = {
		.width = 16, .height = 16, .format = DRM_FORMAT_YUV420, .n_planes = 3,
		.planes = { { 0, 16 }, { 256, 8 }, { 320, 8 } },
	};
	CHECK_EQ(import_misuse(core, fd, i420, NULL), DMAB_MISUSE_NONE);
	i420.planes[2].offset = 321;
	CHECK_EQ(import_misuse(core, fd, i420,
		"plane 2: offset 321 + stride 8 x 8 rows = 385 exceeds the fd's 384 bytes"),
		DMAB_MISUSE_OUT_OF_BOUNDS);
	i420.planes[2].offset = 320;
	i420.planes[2].stride = 7;
	CHECK_EQ(import_misuse(core, fd, i420, NULL), DMAB_MISUSE_INVALID_STRIDE);
	close(fd);
	dmab_core_destroy(core);
}

static struct dmab_handle *create(struct dmab_account *account, uint32_t format, uint32_t w,
	uint32_t h)
{
	struct dmab_buffer_desc desc = {
		.width = w, .height = h, .format = format, .name = "planes",
	};
	struct dmab_failure fail = { 0 };
	struct dmab_handle *handle = dmab_handle_create(account, &desc, &fail);
	CHECK(handle != NULL);
	return handle;
}

static void attach(struct dmab_handle *handle, struct dmab_account *account,
	enum dmab_access access, uint32_t align, uint32_t max_planes, struct recorder *rec)
{
	struct dmab_constraints constraints = {
		.row_alignment = align,
		.max_planes = max_planes,
	};
	rec->att = dmab_attachment_create(handle, account, access, &constraints, &test_listener,
		rec);
	CHECK(rec->att != NULL);
}

DMAB_TEST(formats_max_planes_is_admitted_at_attach)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = create(account, DRM_FORMAT_YUV420, 33, 17);
	struct recorder two, three;
	test_recorder_init(&two, 'T');
	test_recorder_init(&three, 'H');
	attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 2, &two);
	CHECK_EQ(two.failed, 1);
	CHECK_EQ(two.failure.reason, DMAB_REASON_UNSATISFIABLE);
	CHECK_STR_EQ(two.failure.message, "the buffer has 3 planes, the attachment handles 2");

	attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 3, &three);
	test_map(&three, DMAB_DIR_WRITE);
	CHECK_EQ(three.mapped, 1);
	CHECK_EQ(three.mapping.n_planes, 3);
	CHECK_EQ(three.mapping.planes[2].offset, 1664);
	CHECK_EQ(three.mapping.planes[2].size, 64 * 9);
	test_detach(&two);
	test_detach(&three);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

/* Every row of every plane starts with its plane and row number, and ends with it. */
static void fill_planes(struct recorder *rec, const struct dmab_format_desc *format,
	uint32_t w, uint32_t h)
{
	unsigned char *data = test_mmap(&rec->mapping, true);
	CHECK(data != NULL);
	for (uint32_t p = 0; p < rec->mapping.n_planes; p++) {
		const struct dmab_plane *plane = &rec->mapping.planes[p];
		size_t row = (size_t)dmab_format_row_bytes(format, p, w);
		for (uint32_t y = 0; y < dmab_format_plane_rows(format, p, h); y++) {
			memset(data + plane->offset + (size_t)y * plane->stride,
				(int)(p * 64 + y + 1), row);
		}
	}
	test_munmap(&rec->mapping, data);
}

static void check_planes(struct recorder *rec, const struct dmab_format_desc *format,
	uint32_t w, uint32_t h)
{
	const unsigned char *data = test_mmap(&rec->mapping, false);
	CHECK(data != NULL);
	for (uint32_t p = 0; p < rec->mapping.n_planes; p++) {
		const struct dmab_plane *plane = &rec->mapping.planes[p];
		size_t row = (size_t)dmab_format_row_bytes(format, p, w);
		for (uint32_t y = 0; y < dmab_format_plane_rows(format, p, h); y++) {
			const unsigned char *r = data + plane->offset + (size_t)y * plane->stride;
			CHECK_EQ(r[0], p * 64 + y + 1);
			CHECK_EQ(r[row - 1], p * 64 + y + 1);
		}
	}
	test_munmap(&rec->mapping, (void *)data);
}

DMAB_TEST(formats_migration_copies_every_plane)
{
	const uint32_t formats[] = { DRM_FORMAT_NV12, DRM_FORMAT_YUV420, DRM_FORMAT_P010 };
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct dmab_core *core = test_core_create(NULL);
		struct dmab_account *account = dmab_account_create(core, 1, 1);
		const struct dmab_format_desc *format = dmab_format_get(formats[i]);
		struct dmab_handle *handle = create(account, formats[i], 100, 15);
		struct recorder w, s;
		test_recorder_init(&w, 'W');
		test_recorder_init(&s, 'S');
		attach(handle, account, DMAB_ACCESS_READ_WRITE, 0, 3, &w);
		test_map(&w, DMAB_DIR_WRITE);
		CHECK_EQ(w.mapping.n_planes, format->n_planes);
		fill_planes(&w, format, 100, 15);

		attach(handle, account, DMAB_ACCESS_READ, 4096, 3, &s);
		CHECK_EQ(w.moved, 1);
		test_map(&s, DMAB_DIR_READ);
		test_unmap(&w);
		CHECK_EQ(s.mapped, 1);
		for (uint32_t p = 0; p < format->n_planes; p++) {
			CHECK_EQ(s.mapping.planes[p].stride, 4096);
			CHECK_EQ(s.mapping.planes[p].offset % 4096, 0);
		}
		check_planes(&s, format, 100, 15);
		test_detach(&w);
		test_detach(&s);
		dmab_handle_destroy(handle);
		dmab_account_destroy(account);
		dmab_core_destroy(core);
	}
}
