/* SPDX-License-Identifier: MIT */
/*
 * YUV to XRGB8888 for renderers that cannot sample YUV (pixman has no NV12).
 * Plain C with no wlroots or Wayland types, so that it has unit tests of its
 * own; buffer.c converts a broker buffer's frame inside the compositor's READ
 * bracket and caches it until the next commit.
 *
 * Limited range (Y 16..235, Cb and Cr 16..240), with the matrix a buffer
 * does not say: like GStreamer's default colorimetry, BT.601 up to 576 lines
 * (SD) and BT.709 above. Chroma is taken from the nearest sample (no
 * filtering). P010 keeps the top 8 of its 10 bits.
 */
#ifndef DMAB_WLR_YUV_H
#define DMAB_WLR_YUV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dmab_yuv_matrix {
	DMAB_YUV_BT601,
	DMAB_YUV_BT709,
};

struct dmab_yuv_src {
	uint32_t format; /* DRM fourcc: NV12, NV21, YUV420, YUYV or P010 */
	enum dmab_yuv_matrix matrix;
	uint32_t width, height;
	const uint8_t *planes[3]; /* the first row of each plane */
	uint32_t strides[3];
};

/* A converted frame, kept until invalidated; zero-initialised is empty. */
struct dmab_yuv_frame {
	uint32_t *data; /* XRGB8888 rows of width pixels */
	uint32_t width, height;
	bool valid;
};

bool dmab_yuv_is_supported(uint32_t format);
/* BT.709 above 576 lines, BT.601 up to it. */
enum dmab_yuv_matrix dmab_yuv_default_matrix(uint32_t height);
/* One pixel, for tests and references: XRGB8888 of 8-bit Y, Cb, Cr. */
uint32_t dmab_yuv_pixel(enum dmab_yuv_matrix matrix, uint8_t y, uint8_t cb, uint8_t cr);
/* Converts src into dst, width pixels per row, dst_stride bytes apart. */
void dmab_yuv_convert(const struct dmab_yuv_src *src, uint32_t *dst, size_t dst_stride);
/* Converts src into frame unless it is valid already; false if out of memory. */
bool dmab_yuv_frame_update(struct dmab_yuv_frame *frame, const struct dmab_yuv_src *src);
void dmab_yuv_frame_finish(struct dmab_yuv_frame *frame);

#endif
