/* SPDX-License-Identifier: MIT */
/*
 * Checks the frame pattern and the frame checksum against their documented
 * definitions (pattern.h, frame.h), written out again here independently.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>

#include "format.h"
#include "frame.h"
#include "pattern.h"

static int passed, failed;

#define CHECK(cond) \
	do { \
		if (cond) { \
			passed++; \
		} else { \
			failed++; \
			printf("not ok: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

static uint32_t reference_pixel(uint32_t x, uint32_t y, uint32_t n)
{
	if (y == 0)
		return (n >> (x % 32)) & 1 ? 0xffffffffu : 0xff000000u;
	uint32_t u = x + 3 * n;
	uint32_t r = (2 * u + y) & 0xff;
	uint32_t g = (2 * y + 32 * (u >> 4) - 5 * n) & 0xff;
	uint32_t b = ((u ^ y) + 7 * n) & 0xff;
	return 0xff000000u | r << 16 | g << 8 | b;
}

/* The bytes of pixel (x, y) of frame n in format, little-endian. */
static void reference_bytes(uint32_t format, uint32_t x, uint32_t y, uint32_t n, uint8_t *out)
{
	uint32_t p = reference_pixel(x, y, n);
	uint8_t a = p >> 24, r = p >> 16, g = p >> 8, b = p;
	switch (format) {
	case DRM_FORMAT_XBGR8888:
	case DRM_FORMAT_ABGR8888:
		out[0] = r, out[1] = g, out[2] = b, out[3] = a;
		break;
	case DRM_FORMAT_RGB565: {
		uint16_t v = (uint16_t)((r >> 3) << 11 | (g >> 2) << 5 | b >> 3);
		out[0] = (uint8_t)v, out[1] = (uint8_t)(v >> 8);
		break;
	}
	default:
		out[0] = b, out[1] = g, out[2] = r, out[3] = a;
		break;
	}
}

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;
	if (dir == NULL)
		return -1;
	while (readdir(dir) != NULL)
		n++;
	closedir(dir);
	return n;
}

static void test_fnv1a(void)
{
	CHECK(dmab_fnv1a32(DMAB_FNV1A32_BASIS, "", 0) == 0x811c9dc5u);
	CHECK(dmab_fnv1a32(DMAB_FNV1A32_BASIS, "a", 1) == 0xe40c292cu);
	CHECK(dmab_fnv1a32(DMAB_FNV1A32_BASIS, "foobar", 6) == 0xbf9cf968u);
}

static void test_pixel(void)
{
	bool same = true;
	for (uint32_t n = 0; n < 300; n += 7) {
		for (uint32_t y = 0; y < 70; y++) {
			for (uint32_t x = 0; x < 600; x += 3)
				same = same && dmab_pattern_pixel(x, y, n) ==
					reference_pixel(x, y, n);
		}
	}
	CHECK(same);
	CHECK(dmab_pattern_pixel(5, 0, 1u << 5) == 0xffffffffu);
	CHECK(dmab_pattern_pixel(37, 0, 1u << 5) == 0xffffffffu);
	CHECK(dmab_pattern_pixel(4, 0, 1u << 5) == 0xff000000u);
}

/* The properties pattern.h promises: neighbours differ, consecutive frames differ. */
static void test_pattern_properties(void)
{
	bool neighbours_differ = true, frames_differ = true;
	for (uint32_t n = 0; n < 5; n++) {
		for (uint32_t y = 1; y < 64; y++) {
			for (uint32_t x = 0; x < 256; x++) {
				uint32_t p = dmab_pattern_pixel(x, y, n);
				neighbours_differ = neighbours_differ &&
					p != dmab_pattern_pixel(x + 1, y, n) &&
					p != dmab_pattern_pixel(x, y + 1, n);
				frames_differ = frames_differ &&
					p != dmab_pattern_pixel(x, y, n + 1);
			}
		}
	}
	CHECK(neighbours_differ);
	CHECK(frames_differ);
}

static void test_fill(void)
{
	const uint32_t width = 300, height = 9, stride = 1280, frame = 12345;
	uint8_t *data = malloc((size_t)stride * height);
	for (size_t i = 0; dmab_format_at(i) != NULL; i++) {
		const struct dmab_format_info *info = dmab_format_at(i);
		memset(data, 0x5a, (size_t)stride * height);
		CHECK(dmab_pattern_fill(data, stride, width, height, info->fourcc, frame));
		bool same = true;
		for (uint32_t y = 0; y < height; y++) {
			for (uint32_t x = 0; x < width; x++) {
				uint8_t want[4];
				reference_bytes(info->fourcc, x, y, frame, want);
				same = same && memcmp(data + y * stride + x * info->bpp, want,
					info->bpp) == 0;
			}
			same = same && data[y * stride + width * info->bpp] == 0x5a;
		}
		CHECK(same);
		CHECK(dmab_pattern_check(data, stride, width, height, info->fourcc, frame, 0,
			NULL, NULL));
		uint32_t bad_x = 0, bad_y = 0;
		data[5 * stride + 17 * info->bpp] ^= 0x80;
		CHECK(!dmab_pattern_check(data, stride, width, height, info->fourcc, frame, 0,
			&bad_x, &bad_y));
		CHECK(bad_x == 17 && bad_y == 5);
	}
	CHECK(!dmab_pattern_fill(data, stride, width, height, DRM_FORMAT_NV12, frame));
	free(data);
}

static void test_expected(void)
{
	CHECK(dmab_pattern_expected(DRM_FORMAT_XRGB8888, 10, 10, 3) == reference_pixel(10, 10, 3));
	CHECK(dmab_pattern_expected(DRM_FORMAT_ABGR8888, 10, 10, 3) == reference_pixel(10, 10, 3));
	/* 0x12 -> 5 bits 0x02 -> 0x10 | 0x00; 0x34 -> 6 bits 0x0d -> 0x34; 0x56 -> 0x0a -> 0x52. */
	CHECK(dmab_pixel_unpack(DRM_FORMAT_RGB565,
		dmab_pixel_pack(DRM_FORMAT_RGB565, 0xff123456u)) == 0xff103452u);
	CHECK(dmab_pixel_unpack(DRM_FORMAT_RGB565, 0xffff) == 0xffffffffu);
	CHECK(dmab_pixel_unpack(DRM_FORMAT_XBGR8888, 0x00563412u) == 0xff123456u);
}

static void test_decode(void)
{
	uint32_t row[32];
	for (uint32_t x = 0; x < 32; x++)
		row[x] = dmab_pattern_expected(DRM_FORMAT_RGB565, 64 + x, 0, 0xdeadbeefu);
	CHECK(dmab_pattern_decode_frame(row, 32) == 0xdeadbeefu);
	CHECK(dmab_pattern_decode_frame(row, 8) == 0xefu);
}

static void test_frame(void)
{
	const uint32_t width = 40, height = 6, stride = 192;
	uint8_t *data = calloc(height, stride);
	CHECK(dmab_frame_write(data, stride, width, height, DRM_FORMAT_XRGB8888, 77,
		DMAB_FRAME_LAST));
	struct dmab_frame_header header;
	CHECK(dmab_frame_verify(data, stride, width * 4, height, &header));
	CHECK(header.magic == DMAB_FRAME_MAGIC && header.seq == 77 &&
		header.flags == DMAB_FRAME_LAST);
	CHECK(memcmp(data, "DMBF", 4) == 0);

	uint32_t hash = dmab_fnv1a32(DMAB_FNV1A32_BASIS, data, 12);
	hash = dmab_fnv1a32(hash, data + 16, width * 4 - 16);
	for (uint32_t y = 1; y < height; y++)
		hash = dmab_fnv1a32(hash, data + y * stride, width * 4);
	CHECK(header.checksum == hash);
	CHECK(dmab_pattern_check(data, stride, width, height, DRM_FORMAT_XRGB8888, 77,
		DMAB_FRAME_HEADER_SIZE, NULL, NULL));

	data[width * 4 + 3] ^= 1; /* padding after row 0 is not covered */
	CHECK(dmab_frame_verify(data, stride, width * 4, height, &header));
	data[5 * stride + 7] ^= 1;
	CHECK(!dmab_frame_verify(data, stride, width * 4, height, &header));
	data[5 * stride + 7] ^= 1;
	data[4] ^= 1; /* the sequence number is covered */
	CHECK(!dmab_frame_verify(data, stride, width * 4, height, &header));
	CHECK(!dmab_frame_write(data, stride, 3, height, DRM_FORMAT_XRGB8888, 0, 0));
	free(data);
}

static void test_formats(void)
{
	char name[16];
	CHECK(dmab_format_from_name("xrgb8888")->fourcc == DRM_FORMAT_XRGB8888);
	CHECK(dmab_format_lookup(DRM_FORMAT_RGB565)->bpp == 2);
	CHECK(strcmp(dmab_format_name(DRM_FORMAT_NV12, name, sizeof(name)), "NV12") == 0);
	CHECK(strcmp(dmab_format_name(0x01020304, name, sizeof(name)), "0x01020304") == 0);
}

int main(void)
{
	int fds = count_fds();
	test_fnv1a();
	test_pixel();
	test_pattern_properties();
	test_fill();
	test_expected();
	test_decode();
	test_frame();
	test_formats();
	CHECK(count_fds() == fds);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
