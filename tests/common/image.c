/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "image.h"

/* One header token: skips whitespace and # comments, then reads a decimal number. */
static bool ppm_number(const char *data, size_t len, size_t *pos, long *value)
{
	while (*pos < len) {
		char c = data[*pos];
		if (c == '#') {
			while (*pos < len && data[*pos] != '\n')
				(*pos)++;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			(*pos)++;
		} else {
			break;
		}
	}
	long v = 0;
	size_t start = *pos;
	while (*pos < len && data[*pos] >= '0' && data[*pos] <= '9' && v < 1000000)
		v = v * 10 + (data[(*pos)++] - '0');
	*value = v;
	return *pos > start;
}

bool dmab_test_ppm_parse(const char *data, size_t len, struct dmab_test_image *img)
{
	*img = (struct dmab_test_image){ 0 };
	size_t pos = 2;
	long width, height, maxval;
	if (len < 2 || data[0] != 'P' || data[1] != '6')
		return false;
	if (!ppm_number(data, len, &pos, &width) || !ppm_number(data, len, &pos, &height) ||
			!ppm_number(data, len, &pos, &maxval))
		return false;
	/* Exactly one whitespace byte separates the header from the raster. */
	if (pos >= len || maxval != 255 || width <= 0 || height <= 0)
		return false;
	pos++;
	size_t size = (size_t)width * (size_t)height * 3;
	if (len - pos < size)
		return false;
	img->rgb = malloc(size);
	if (img->rgb == NULL)
		return false;
	memcpy(img->rgb, data + pos, size);
	img->width = (int)width;
	img->height = (int)height;
	return true;
}

void dmab_test_image_finish(struct dmab_test_image *img)
{
	free(img->rgb);
	*img = (struct dmab_test_image){ 0 };
}

uint32_t dmab_test_image_pixel(const struct dmab_test_image *img, int x, int y)
{
	const uint8_t *p = &img->rgb[((size_t)y * (size_t)img->width + (size_t)x) * 3];
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
