/* SPDX-License-Identifier: MIT */
/* The compositor's YUV to XRGB8888 conversion (broker/wlr/yuv.c), without wlroots. */
#include <drm_fourcc.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "wlr/yuv.h"

/* Every channel within 1, and alpha opaque. */
static bool near(uint32_t got, uint32_t want)
{
	for (int shift = 0; shift < 32; shift += 8) {
		int d = (int)(got >> shift & 0xff) - (int)(want >> shift & 0xff);
		if (d < -1 || d > 1) {
			return false;
		}
	}
	return true;
}

/* BT.601 limited range: black, white, and the 75% colour bars' primaries. */
DMAB_TEST(yuv_pixel_is_bt601_limited_range)
{
	CHECK_EQ(dmab_yuv_pixel(DMAB_YUV_BT601, 16, 128, 128), 0xff000000u);
	CHECK_EQ(dmab_yuv_pixel(DMAB_YUV_BT601, 235, 128, 128), 0xffffffffu);
	/* Below black and above white clamp. */
	CHECK_EQ(dmab_yuv_pixel(DMAB_YUV_BT601, 0, 128, 128), 0xff000000u);
	CHECK_EQ(dmab_yuv_pixel(DMAB_YUV_BT601, 255, 128, 128), 0xffffffffu);
	/*
	 * Red, green and blue: BT.601 Y'CbCr of (255,0,0), (0,255,0), (0,0,255)
	 * rounded to 8 bits, which land within 1 of the primaries.
	 */
	CHECK(near(dmab_yuv_pixel(DMAB_YUV_BT601, 81, 90, 240), 0xffff0000u));
	CHECK(near(dmab_yuv_pixel(DMAB_YUV_BT601, 145, 54, 34), 0xff00ff00u));
	CHECK(near(dmab_yuv_pixel(DMAB_YUV_BT601, 41, 240, 110), 0xff0000ffu));
	/* BT.709's red is not BT.601's. */
	CHECK(!near(dmab_yuv_pixel(DMAB_YUV_BT601, 63, 102, 240), 0xffff0000u));
}

DMAB_TEST(yuv_pixel_is_bt709_limited_range_above_576_lines)
{
	CHECK_EQ(dmab_yuv_default_matrix(576), DMAB_YUV_BT601);
	CHECK_EQ(dmab_yuv_default_matrix(577), DMAB_YUV_BT709);
	CHECK_EQ(dmab_yuv_default_matrix(720), DMAB_YUV_BT709);
	CHECK_EQ(dmab_yuv_pixel(DMAB_YUV_BT709, 16, 128, 128), 0xff000000u);
	CHECK_EQ(dmab_yuv_pixel(DMAB_YUV_BT709, 235, 128, 128), 0xffffffffu);
	CHECK(near(dmab_yuv_pixel(DMAB_YUV_BT709, 63, 102, 240), 0xffff0000u));
	CHECK(near(dmab_yuv_pixel(DMAB_YUV_BT709, 173, 42, 26), 0xff00ff00u));
	CHECK(near(dmab_yuv_pixel(DMAB_YUV_BT709, 32, 240, 118), 0xff0000ffu));
	CHECK(!near(dmab_yuv_pixel(DMAB_YUV_BT709, 81, 90, 240), 0xffff0000u));
}

enum { W = 6, H = 4 };

/* Quadrants: each 2x2 block has its own luma per pixel and one chroma sample. */
static uint8_t luma_at(uint32_t x, uint32_t y)
{
	return (uint8_t)(16 + 20 * x + 7 * y);
}

static uint8_t cb_at(uint32_t x, uint32_t y)
{
	return (uint8_t)(60 + 40 * (x / 2) + 10 * (y / 2));
}

static uint8_t cr_at(uint32_t x, uint32_t y)
{
	return (uint8_t)(200 - 30 * (x / 2) - 20 * (y / 2));
}

struct image {
	uint8_t bytes[3][256];
	struct dmab_yuv_src src;
};

/* Writes the same picture in format, with strides wider than the rows. */
static void build(struct image *img, uint32_t format)
{
	memset(img, 0xee, sizeof(*img));
	img->src = (struct dmab_yuv_src){ .format = format, .width = W, .height = H };
	for (int p = 0; p < 3; p++) {
		img->src.planes[p] = img->bytes[p];
		img->src.strides[p] = 32;
	}
	for (uint32_t y = 0; y < H; y++) {
		for (uint32_t x = 0; x < W; x++) {
			uint8_t *l = img->bytes[0] + y * 32, *c = img->bytes[1] + y / 2 * 32;
			uint8_t *c2 = img->bytes[2] + y / 2 * 32;
			switch (format) {
			case DRM_FORMAT_NV12:
				l[x] = luma_at(x, y);
				c[x / 2 * 2] = cb_at(x, y);
				c[x / 2 * 2 + 1] = cr_at(x, y);
				break;
			case DRM_FORMAT_NV21:
				l[x] = luma_at(x, y);
				c[x / 2 * 2] = cr_at(x, y);
				c[x / 2 * 2 + 1] = cb_at(x, y);
				break;
			case DRM_FORMAT_YUV420:
				l[x] = luma_at(x, y);
				c[x / 2] = cb_at(x, y);
				c2[x / 2] = cr_at(x, y);
				break;
			case DRM_FORMAT_P010:
				l[x * 2] = 0xc0;
				l[x * 2 + 1] = luma_at(x, y);
				c[x / 2 * 4] = 0x40;
				c[x / 2 * 4 + 1] = cb_at(x, y);
				c[x / 2 * 4 + 2] = 0x80;
				c[x / 2 * 4 + 3] = cr_at(x, y);
				break;
			}
		}
	}
	if (format != DRM_FORMAT_YUV420) {
		img->src.planes[2] = NULL;
		img->src.strides[2] = 0;
	}
}

/* YUYV has full-height chroma: the test picture's chroma rows repeat in pairs. */
static void build_yuyv(struct image *img)
{
	memset(img, 0xee, sizeof(*img));
	img->src = (struct dmab_yuv_src){ .format = DRM_FORMAT_YUYV, .width = W, .height = H,
		.planes = { img->bytes[0] }, .strides = { 32 } };
	for (uint32_t y = 0; y < H; y++) {
		for (uint32_t x = 0; x < W; x += 2) {
			uint8_t *q = img->bytes[0] + y * 32 + x * 2;
			q[0] = luma_at(x, y);
			q[1] = cb_at(x, y);
			q[2] = luma_at(x + 1, y);
			q[3] = cr_at(x, y);
		}
	}
}

static void check_image(const struct image *img)
{
	uint32_t out[H][W + 2];
	memset(out, 0x11, sizeof(out));
	dmab_yuv_convert(&img->src, &out[0][0], sizeof(out[0]));
	for (uint32_t y = 0; y < H; y++) {
		for (uint32_t x = 0; x < W; x++) {
			CHECK_EQ(out[y][x], dmab_yuv_pixel(DMAB_YUV_BT601, luma_at(x, y), cb_at(x, y), cr_at(x, y)));
		}
		/* Nothing beyond the row is written. */
		CHECK_EQ(out[y][W], 0x11111111u);
	}
}

DMAB_TEST(yuv_convert_reads_every_format_s_planes)
{
	const uint32_t formats[] = { DRM_FORMAT_NV12, DRM_FORMAT_NV21, DRM_FORMAT_YUV420,
		DRM_FORMAT_P010 };
	struct image img;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		CHECK(dmab_yuv_is_supported(formats[i]));
		build(&img, formats[i]);
		check_image(&img);
	}
	build_yuyv(&img);
	CHECK(dmab_yuv_is_supported(DRM_FORMAT_YUYV));
	check_image(&img);
	CHECK(!dmab_yuv_is_supported(DRM_FORMAT_XRGB8888));
	CHECK(!dmab_yuv_is_supported(DRM_FORMAT_NV16));
}

/* The cache converts once until invalidated, and follows a change of size. */
DMAB_TEST(yuv_frame_converts_once_per_invalidation)
{
	struct image img;
	build(&img, DRM_FORMAT_NV12);
	struct dmab_yuv_frame frame = {0};
	CHECK(dmab_yuv_frame_update(&frame, &img.src));
	CHECK(frame.valid);
	CHECK_EQ(frame.data[0], dmab_yuv_pixel(DMAB_YUV_BT601, luma_at(0, 0), cb_at(0, 0), cr_at(0, 0)));
	img.bytes[0][0] = 235;
	CHECK(dmab_yuv_frame_update(&frame, &img.src));
	CHECK_EQ(frame.data[0], dmab_yuv_pixel(DMAB_YUV_BT601, luma_at(0, 0), cb_at(0, 0), cr_at(0, 0)));
	frame.valid = false;
	CHECK(dmab_yuv_frame_update(&frame, &img.src));
	CHECK_EQ(frame.data[0], dmab_yuv_pixel(DMAB_YUV_BT601, 235, cb_at(0, 0), cr_at(0, 0)));
	img.src.width = 4;
	CHECK(dmab_yuv_frame_update(&frame, &img.src));
	CHECK_EQ(frame.width, 4);
	dmab_yuv_frame_finish(&frame);
	CHECK(frame.data == NULL);
}
