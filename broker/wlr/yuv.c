/* SPDX-License-Identifier: MIT */
#include <drm_fourcc.h>
#include <stdlib.h>

#include "yuv.h"

bool dmab_yuv_is_supported(uint32_t format)
{
	switch (format) {
	case DRM_FORMAT_NV12:
	case DRM_FORMAT_NV21:
	case DRM_FORMAT_YUV420:
	case DRM_FORMAT_YUYV:
	case DRM_FORMAT_P010:
		return true;
	}
	return false;
}

static uint8_t clamp8(int v)
{
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

enum dmab_yuv_matrix dmab_yuv_default_matrix(uint32_t height)
{
	return height > 576 ? DMAB_YUV_BT709 : DMAB_YUV_BT601;
}

/*
 * Limited range in 8.8 fixed point: 298 = 256 * 255/219 scales luma; the
 * chroma factors are the matrix's Kr/Kb terms scaled by 255/224 (BT.601:
 * 1.402, 0.344, 0.714, 1.772; BT.709: 1.5748, 0.1873, 0.4681, 1.8556).
 */
static const int coefficients[2][4] = {
	[DMAB_YUV_BT601] = { 409, 100, 208, 516 },
	[DMAB_YUV_BT709] = { 459, 55, 136, 541 },
};

/* A chroma sample's share of R, G and B, computed once for the pixels that share it. */
struct chroma {
	int r, g, b;
};

static struct chroma chroma_terms(const int *k, uint8_t cb, uint8_t cr)
{
	int d = (int)cb - 128, e = (int)cr - 128;
	return (struct chroma){ .r = k[0] * e, .g = -k[1] * d - k[2] * e, .b = k[3] * d };
}

static uint32_t rgb(struct chroma t, uint8_t y)
{
	int c = 298 * ((int)y - 16) + 128;
	uint32_t r = clamp8((c + t.r) >> 8);
	uint32_t g = clamp8((c + t.g) >> 8);
	uint32_t b = clamp8((c + t.b) >> 8);
	return 0xff000000u | r << 16 | g << 8 | b;
}

uint32_t dmab_yuv_pixel(enum dmab_yuv_matrix matrix, uint8_t y, uint8_t cb, uint8_t cr)
{
	return rgb(chroma_terms(coefficients[matrix], cb, cr), y);
}

/*
 * Every format here shares a chroma sample between two horizontal neighbours: the rows
 * go by pairs, and an odd width ends with a lone pixel. luma_step is the distance between
 * luma samples (P010's high bytes, YUYV's interleaving); cb and cr step by chroma_step.
 */
static void row_pairs(const int *k, uint32_t *out, const uint8_t *luma, size_t luma_step,
	const uint8_t *cb, const uint8_t *cr, size_t chroma_step, uint32_t width)
{
	uint32_t x = 0;
	for (; x + 1 < width; x += 2) {
		struct chroma t = chroma_terms(k, *cb, *cr);
		out[x] = rgb(t, luma[0]);
		out[x + 1] = rgb(t, luma[luma_step]);
		luma += 2 * luma_step;
		cb += chroma_step;
		cr += chroma_step;
	}
	if (x < width) {
		out[x] = rgb(chroma_terms(k, *cb, *cr), luma[0]);
	}
}

static void row_semi_planar(enum dmab_yuv_matrix m, uint32_t *out, const uint8_t *luma,
	const uint8_t *chroma, uint32_t width, uint32_t cb_at)
{
	row_pairs(coefficients[m], out, luma, 1, chroma + cb_at, chroma + 1 - cb_at, 2, width);
}

static void row_planar(enum dmab_yuv_matrix m, uint32_t *out, const uint8_t *luma,
	const uint8_t *cb, const uint8_t *cr, uint32_t width)
{
	row_pairs(coefficients[m], out, luma, 1, cb, cr, 1, width);
}

/* Y0 Cb Y1 Cr: luma every other byte, a chroma pair every four. */
static void row_yuyv(enum dmab_yuv_matrix m, uint32_t *out, const uint8_t *in, uint32_t width)
{
	row_pairs(coefficients[m], out, in, 2, in + 1, in + 3, 4, width);
}

/* Little-endian 16-bit samples with 10 significant high bits: the high byte is kept. */
static void row_p010(enum dmab_yuv_matrix m, uint32_t *out, const uint8_t *luma,
	const uint8_t *chroma, uint32_t width)
{
	row_pairs(coefficients[m], out, luma + 1, 2, chroma + 1, chroma + 3, 4, width);
}

static void convert_row(const struct dmab_yuv_src *src, uint32_t y, uint32_t *out)
{
	const uint8_t *luma = src->planes[0] + (size_t)y * src->strides[0];
	/* Every multi-planar format here halves chroma rows. */
	const uint8_t *c1 = src->planes[1] != NULL ?
		src->planes[1] + (size_t)(y / 2) * src->strides[1] : NULL;
	const uint8_t *c2 = src->planes[2] != NULL ?
		src->planes[2] + (size_t)(y / 2) * src->strides[2] : NULL;
	switch (src->format) {
	case DRM_FORMAT_NV12:
		row_semi_planar(src->matrix, out, luma, c1, src->width, 0);
		break;
	case DRM_FORMAT_NV21:
		row_semi_planar(src->matrix, out, luma, c1, src->width, 1);
		break;
	case DRM_FORMAT_YUV420:
		row_planar(src->matrix, out, luma, c1, c2, src->width);
		break;
	case DRM_FORMAT_YUYV:
		row_yuyv(src->matrix, out, luma, src->width);
		break;
	case DRM_FORMAT_P010:
		row_p010(src->matrix, out, luma, c1, src->width);
		break;
	}
}

void dmab_yuv_convert(const struct dmab_yuv_src *src, uint32_t *dst, size_t dst_stride)
{
	for (uint32_t y = 0; y < src->height; y++) {
		convert_row(src, y, (uint32_t *)((uint8_t *)dst + (size_t)y * dst_stride));
	}
}

bool dmab_yuv_frame_update(struct dmab_yuv_frame *frame, const struct dmab_yuv_src *src)
{
	if (frame->valid && frame->width == src->width && frame->height == src->height) {
		return true;
	}
	if (frame->data == NULL || frame->width != src->width || frame->height != src->height) {
		free(frame->data);
		frame->data = calloc((size_t)src->width * src->height, sizeof(uint32_t));
		if (frame->data == NULL) {
			*frame = (struct dmab_yuv_frame){0};
			return false;
		}
		frame->width = src->width;
		frame->height = src->height;
	}
	dmab_yuv_convert(src, frame->data, (size_t)src->width * sizeof(uint32_t));
	frame->valid = true;
	return true;
}

void dmab_yuv_frame_finish(struct dmab_yuv_frame *frame)
{
	free(frame->data);
	*frame = (struct dmab_yuv_frame){0};
}
