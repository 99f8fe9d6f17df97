/* SPDX-License-Identifier: MIT */
#include <string.h>

#include <drm_fourcc.h>

#include "format.h"
#include "pattern.h"

/*
 * The exported functions wrap static ones: calls inside a -fPIC library to
 * exported functions can be interposed, so the compiler would not inline them.
 */
static uint32_t pattern_pixel(uint32_t x, uint32_t y, uint32_t frame)
{
	if (y == 0)
		return (frame >> (x % DMAB_PATTERN_CODE_BITS)) & 1 ? 0xffffffffu : 0xff000000u;
	uint32_t u = x + 3 * frame;
	uint32_t r = (2 * u + y) & 0xff;
	uint32_t g = (2 * y + 32 * (u >> 4) - 5 * frame) & 0xff;
	uint32_t b = ((u ^ y) + 7 * frame) & 0xff;
	return 0xff000000u | r << 16 | g << 8 | b;
}

uint32_t dmab_pattern_pixel(uint32_t x, uint32_t y, uint32_t frame)
{
	return pattern_pixel(x, y, frame);
}

static uint32_t swap_red_blue(uint32_t argb)
{
	return (argb & 0xff00ff00u) | (argb >> 16 & 0xff) | (argb & 0xff) << 16;
}

static uint32_t pixel_pack(uint32_t format, uint32_t argb)
{
	switch (format) {
	case DRM_FORMAT_XBGR8888:
	case DRM_FORMAT_ABGR8888:
		return swap_red_blue(argb);
	case DRM_FORMAT_RGB565:
		return (argb >> 19 & 0x1f) << 11 | (argb >> 10 & 0x3f) << 5 | (argb >> 3 & 0x1f);
	default:
		return argb;
	}
}

uint32_t dmab_pixel_pack(uint32_t format, uint32_t argb)
{
	return pixel_pack(format, argb);
}

static uint32_t widen(uint32_t value, unsigned bits)
{
	return (value << (8 - bits) | value >> (2 * bits - 8)) & 0xff;
}

uint32_t dmab_pixel_unpack(uint32_t format, uint32_t pixel)
{
	switch (format) {
	case DRM_FORMAT_XRGB8888:
		return pixel | 0xff000000u;
	case DRM_FORMAT_XBGR8888:
		return swap_red_blue(pixel) | 0xff000000u;
	case DRM_FORMAT_ABGR8888:
		return swap_red_blue(pixel);
	case DRM_FORMAT_RGB565:
		return 0xff000000u | widen(pixel >> 11 & 0x1f, 5) << 16 |
			widen(pixel >> 5 & 0x3f, 6) << 8 | widen(pixel & 0x1f, 5);
	default:
		return pixel;
	}
}

static void pixel_store(void *dst, uint32_t bpp, uint32_t pixel)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (bpp == 4) {
		memcpy(dst, &pixel, 4);
		return;
	}
#endif
	uint8_t *p = dst;
	for (uint32_t i = 0; i < bpp; i++)
		p[i] = (uint8_t)(pixel >> (8 * i));
}

void dmab_pixel_store(void *dst, uint32_t bpp, uint32_t pixel)
{
	pixel_store(dst, bpp, pixel);
}

uint32_t dmab_pixel_load(const void *src, uint32_t bpp)
{
	const uint8_t *p = src;
	uint32_t pixel = 0;
	for (uint32_t i = 0; i < bpp; i++)
		pixel |= (uint32_t)p[i] << (8 * i);
	return pixel;
}

uint32_t dmab_pattern_expected(uint32_t format, uint32_t x, uint32_t y, uint32_t frame)
{
	return dmab_pixel_unpack(format, pixel_pack(format, pattern_pixel(x, y, frame)));
}

/* Pixels x0 .. x0 + len - 1 of row y > 0, as ARGB8888: dmab_pattern_pixel, unrolled. */
static void band_span(uint32_t *out, uint32_t x0, uint32_t len, uint32_t y, uint32_t frame)
{
	uint32_t g_base = 2 * y - 5 * frame;
	uint32_t b_base = 7 * frame;
	for (uint32_t i = 0; i < len; i++) {
		uint32_t u = x0 + i + 3 * frame;
		uint32_t r = (2 * u + y) & 0xff;
		uint32_t g = (g_base + 32 * (u >> 4)) & 0xff;
		uint32_t b = ((u ^ y) + b_base) & 0xff;
		out[i] = 0xff000000u | r << 16 | g << 8 | b;
	}
}

#define SPAN_LEN 256

static void store_span(uint8_t *dst, const uint32_t *argb, uint32_t len, uint32_t format,
	uint32_t bpp)
{
	switch (format) {
	case DRM_FORMAT_XRGB8888:
	case DRM_FORMAT_ARGB8888:
		for (uint32_t i = 0; i < len; i++)
			pixel_store(dst + 4 * (size_t)i, 4, argb[i]);
		break;
	case DRM_FORMAT_XBGR8888:
	case DRM_FORMAT_ABGR8888:
		for (uint32_t i = 0; i < len; i++)
			pixel_store(dst + 4 * (size_t)i, 4, swap_red_blue(argb[i]));
		break;
	default:
		for (uint32_t i = 0; i < len; i++)
			pixel_store(dst + (size_t)i * bpp, bpp, pixel_pack(format, argb[i]));
		break;
	}
}

static void fill_row(uint8_t *row, uint32_t y, uint32_t width, uint32_t format,
	uint32_t bpp, uint32_t frame)
{
	uint32_t argb[SPAN_LEN];
	for (uint32_t x0 = 0; x0 < width; x0 += SPAN_LEN) {
		uint32_t len = width - x0 < SPAN_LEN ? width - x0 : SPAN_LEN;
		if (y == 0) {
			for (uint32_t i = 0; i < len; i++)
				argb[i] = pattern_pixel(x0 + i, 0, frame);
		} else {
			band_span(argb, x0, len, y, frame);
		}
		store_span(row + (size_t)x0 * bpp, argb, len, format, bpp);
	}
}

bool dmab_pattern_fill(void *data, uint32_t stride, uint32_t width, uint32_t height,
	uint32_t format, uint32_t frame)
{
	const struct dmab_format_info *info = dmab_format_lookup(format);
	if (info == NULL)
		return false;
	for (uint32_t y = 0; y < height; y++)
		fill_row((uint8_t *)data + (size_t)y * stride, y, width, format, info->bpp, frame);
	return true;
}

bool dmab_pattern_fill_solid(void *data, uint32_t stride, uint32_t width, uint32_t height,
	uint32_t format, uint32_t argb)
{
	const struct dmab_format_info *info = dmab_format_lookup(format);
	if (info == NULL)
		return false;
	uint32_t pixel = pixel_pack(format, argb);
	for (uint32_t y = 0; y < height; y++) {
		uint8_t *row = (uint8_t *)data + (size_t)y * stride;
		for (uint32_t x = 0; x < width; x++)
			pixel_store(row + (size_t)x * info->bpp, info->bpp, pixel);
	}
	return true;
}

bool dmab_pattern_check(const void *data, uint32_t stride, uint32_t width, uint32_t height,
	uint32_t format, uint32_t frame, uint32_t skip_bytes, uint32_t *bad_x, uint32_t *bad_y)
{
	const struct dmab_format_info *info = dmab_format_lookup(format);
	if (info == NULL)
		return false;
	for (uint32_t y = 0; y < height; y++) {
		const uint8_t *row = (const uint8_t *)data + (size_t)y * stride;
		uint32_t x = y == 0 ? (skip_bytes + info->bpp - 1) / info->bpp : 0;
		for (; x < width; x++) {
			uint32_t want = pixel_pack(format, pattern_pixel(x, y, frame));
			if (dmab_pixel_load(row + (size_t)x * info->bpp, info->bpp) == want)
				continue;
			if (bad_x != NULL)
				*bad_x = x;
			if (bad_y != NULL)
				*bad_y = y;
			return false;
		}
	}
	return true;
}

uint32_t dmab_pattern_decode_frame(const uint32_t *argb, size_t len)
{
	uint32_t frame = 0;
	for (size_t i = 0; i < len && i < DMAB_PATTERN_CODE_BITS; i++) {
		if ((argb[i] >> 8 & 0xff) >= 0x80)
			frame |= 1u << i;
	}
	return frame;
}
