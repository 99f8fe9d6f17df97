/* SPDX-License-Identifier: MIT */
#include <drm_fourcc.h>
#include <inttypes.h>

#include "core/internal.h"

#define RGB(code, bytes) { code, 1, { { 1, 1, bytes } } }

/* Every format is linear (DRM_FORMAT_MOD_LINEAR), its planes in one storage. */
static const struct dmab_format_desc descs[] = {
	RGB(DRM_FORMAT_ARGB8888, 4),
	RGB(DRM_FORMAT_XRGB8888, 4),
	RGB(DRM_FORMAT_ABGR8888, 4),
	RGB(DRM_FORMAT_XBGR8888, 4),
	RGB(DRM_FORMAT_RGB565, 2),
	{ DRM_FORMAT_NV12, 2, { { 1, 1, 1 }, { 2, 2, 2 } } },
	{ DRM_FORMAT_NV21, 2, { { 1, 1, 1 }, { 2, 2, 2 } } },
	{ DRM_FORMAT_YUV420, 3, { { 1, 1, 1 }, { 2, 2, 1 }, { 2, 2, 1 } } },
	{ DRM_FORMAT_YUYV, 1, { { 2, 1, 4 } } },
	/* 10 bits in the high bits of 16: a 16-bit Y sample, a 32-bit CbCr pair. */
	{ DRM_FORMAT_P010, 2, { { 1, 1, 2 }, { 2, 2, 4 } } },
};

#define N_DESCS (sizeof(descs) / sizeof(descs[0]))

static uint32_t formats[N_DESCS];

const uint32_t *dmab_core_get_formats(size_t *len)
{
	for (size_t i = 0; i < N_DESCS; i++) {
		formats[i] = descs[i].fourcc;
	}
	*len = N_DESCS;
	return formats;
}

const struct dmab_format_desc *dmab_format_get(uint32_t format)
{
	for (size_t i = 0; i < N_DESCS; i++) {
		if (descs[i].fourcc == format) {
			return &descs[i];
		}
	}
	return NULL;
}

uint32_t dmab_format_planes(uint32_t format)
{
	const struct dmab_format_desc *desc = dmab_format_get(format);
	return desc != NULL ? desc->n_planes : 0;
}

uint64_t dmab_format_row_bytes(const struct dmab_format_desc *desc, uint32_t i, uint32_t width)
{
	const struct dmab_format_plane *p = &desc->planes[i];
	return ((uint64_t)width + p->hsub - 1) / p->hsub * p->cpp;
}

uint32_t dmab_format_plane_rows(const struct dmab_format_desc *desc, uint32_t i,
	uint32_t height)
{
	const struct dmab_format_plane *p = &desc->planes[i];
	return (uint32_t)(((uint64_t)height + p->vsub - 1) / p->vsub);
}

/*
 * The mapped and plane events describe a plane with 32-bit offset, stride and
 * size, so a plan must fit them as well as the 64-bit storage size. Each plane
 * starts at a multiple of the alignment, like its rows.
 */
bool dmab_layout_plan(struct dmab_layout *layout, uint32_t align, struct dmab_misuse_report *report)
{
	const struct dmab_format_desc *desc = dmab_format_get(layout->format);
	if (desc == NULL) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_FORMAT,
			"format 0x%08" PRIx32 " is not supported", layout->format);
	}
	struct dmab_layout out = {
		.width = layout->width,
		.height = layout->height,
		.format = layout->format,
		.n_planes = desc->n_planes,
	};
	uint64_t end = 0;
	for (uint32_t i = 0; i < desc->n_planes; i++) {
		uint64_t row = dmab_format_row_bytes(desc, i, layout->width);
		uint64_t stride = (row + align - 1) / align * align;
		uint32_t rows = dmab_format_plane_rows(desc, i, layout->height);
		if (stride > UINT32_MAX) {
			return dmab_misuse_set(report, DMAB_MISUSE_INVALID_SIZE,
				"stride of plane %" PRIu32 ", %" PRIu64 " bytes (width %" PRIu32
				" aligned to %" PRIu32 "), exceeds 32 bits", i, stride,
				layout->width, align);
		}
		/* Both factors are below 2^32: no overflow in 64 bits. */
		uint64_t size = stride * rows;
		uint64_t offset = (end + align - 1) / align * align;
		if (offset + size > UINT32_MAX) {
			return dmab_misuse_set(report, DMAB_MISUSE_INVALID_SIZE,
				"plane %" PRIu32 " of %" PRIu64 " x %" PRIu32 " bytes at offset %"
				PRIu64 " ends beyond 32 bits", i, stride, rows, offset);
		}
		out.planes[i] = (struct dmab_plane){
			.offset = (uint32_t)offset,
			.stride = (uint32_t)stride,
			.size = (uint32_t)size,
		};
		end = offset + size;
	}
	/* end is below 2^32: page alignment cannot overflow. */
	out.size = dmab_page_align(end);
	*layout = out;
	return true;
}

bool dmab_layout_same_planes(const struct dmab_layout *a, const struct dmab_layout *b)
{
	if (a->n_planes != b->n_planes) {
		return false;
	}
	for (uint32_t i = 0; i < a->n_planes; i++) {
		const struct dmab_plane *p = &a->planes[i], *q = &b->planes[i];
		if (p->offset != q->offset || p->stride != q->stride || p->size != q->size) {
			return false;
		}
	}
	return true;
}
