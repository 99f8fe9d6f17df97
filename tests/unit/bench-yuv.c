/* SPDX-License-Identifier: MIT */
/*
 * bench-yuv: what the compositor's YUV conversion (broker/wlr/yuv.c) costs per
 * frame, once per commit. Prints milliseconds per frame for each format at
 * 1280x720 and 1920x1080. Not a test: it asserts nothing about time.
 *
 *   bench-yuv [FRAMES]   (default 50)
 */
#include <drm_fourcc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wlr/yuv.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static double bench(uint32_t format, const char *name, uint32_t w, uint32_t h, int frames)
{
	/* Planes at most 2 bytes per pixel, 4 per chroma pair: 4 bytes a pixel is enough. */
	size_t stride = (size_t)w * 4;
	uint8_t *planes = malloc(stride * h * 3);
	uint32_t *dst = malloc((size_t)w * h * 4);
	if (planes == NULL || dst == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < stride * h * 3; i++) {
		planes[i] = (uint8_t)(i * 7);
	}
	struct dmab_yuv_src src = { .format = format, .width = w, .height = h };
	for (int p = 0; p < 3; p++) {
		src.planes[p] = planes + (size_t)p * stride * h;
		src.strides[p] = (uint32_t)stride;
	}
	double start = now_ms();
	for (int i = 0; i < frames; i++) {
		dmab_yuv_convert(&src, dst, (size_t)w * 4);
	}
	double ms = (now_ms() - start) / frames;
	printf("%-7s %4ux%-4u %7.2f ms/frame (%u)\n", name, w, h, ms, dst[w * h / 2] & 1);
	free(planes);
	free(dst);
	return ms;
}

int main(int argc, char *argv[])
{
	int frames = argc > 1 ? atoi(argv[1]) : 50;
	frames = frames > 0 ? frames : 50;
	static const struct {
		uint32_t format;
		const char *name;
	} formats[] = {
		{ DRM_FORMAT_NV12, "NV12" }, { DRM_FORMAT_NV21, "NV21" },
		{ DRM_FORMAT_YUV420, "YUV420" }, { DRM_FORMAT_YUYV, "YUYV" },
		{ DRM_FORMAT_P010, "P010" },
	};
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		bench(formats[i].format, formats[i].name, 1280, 720, frames);
		bench(formats[i].format, formats[i].name, 1920, 1080, frames);
	}
	return 0;
}
