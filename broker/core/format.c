/* SPDX-License-Identifier: MIT */
#include <drm_fourcc.h>
#include <inttypes.h>

#include "core/internal.h"

static const uint32_t formats[] = {
	DRM_FORMAT_ARGB8888,
	DRM_FORMAT_XRGB8888,
	DRM_FORMAT_ABGR8888,
	DRM_FORMAT_XBGR8888,
	DRM_FORMAT_RGB565,
};

const uint32_t *dmab_core_get_formats(size_t *len)
{
	*len = sizeof(formats) / sizeof(formats[0]);
	return formats;
}

uint32_t dmab_format_bpp(uint32_t format)
{
	switch (format) {
	case DRM_FORMAT_ARGB8888:
	case DRM_FORMAT_XRGB8888:
	case DRM_FORMAT_ABGR8888:
	case DRM_FORMAT_XBGR8888:
		return 4;
	case DRM_FORMAT_RGB565:
		return 2;
	}
	return 0;
}

uint32_t dmab_format_planes(uint32_t format)
{
	return dmab_format_bpp(format) != 0 ? 1 : 0;
}

/*
 * The mapped event describes a plane with 32-bit stride and size, so a plan
 * must fit both as well as the 64-bit storage size.
 */
bool dmab_layout_plan(struct dmab_layout *layout, uint32_t align, struct dmab_misuse_report *report)
{
	uint64_t row = (uint64_t)layout->width * dmab_format_bpp(layout->format);
	uint64_t stride = (row + align - 1) / align * align;
	if (stride > UINT32_MAX) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_SIZE,
			"stride of %" PRIu64 " bytes (width %u aligned to %u) exceeds 32 bits",
			stride, layout->width, align);
	}
	uint64_t plane;
	if (__builtin_mul_overflow(stride, (uint64_t)layout->height, &plane) ||
			plane > UINT32_MAX) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_SIZE,
			"plane of %" PRIu64 " x %u bytes exceeds 32 bits", stride, layout->height);
	}
	uint64_t size = dmab_page_align(plane);
	if (size == 0) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_SIZE,
			"size of %" PRIu64 " bytes overflows when page aligned", plane);
	}
	layout->stride = (uint32_t)stride;
	layout->offset = 0;
	layout->size = size;
	return true;
}
