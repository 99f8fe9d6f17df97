/* SPDX-License-Identifier: MIT */
/*
 * Screenshots as the e2e and kernel tiers read them: grim's binary PPM (P6,
 * maxval 255) parsed into packed RGB rows.
 */
#ifndef DMAB_TEST_IMAGE_H
#define DMAB_TEST_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dmab_test_image {
	int width, height;
	uint8_t *rgb; /* width * height * 3 */
};

/* Parses a binary PPM (P6, maxval 255); img is zeroed first, also on failure. */
bool dmab_test_ppm_parse(const char *data, size_t len, struct dmab_test_image *img);
void dmab_test_image_finish(struct dmab_test_image *img);
/* 0xRRGGBB */
uint32_t dmab_test_image_pixel(const struct dmab_test_image *img, int x, int y);

#endif
