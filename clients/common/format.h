/* SPDX-License-Identifier: MIT */
/*
 * The pixel formats dmabroker supports, by DRM fourcc code: name and bytes per
 * pixel. Shared by the example clients and the tests that check their output.
 */
#ifndef DMAB_CLIENTS_FORMAT_H
#define DMAB_CLIENTS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

struct dmab_format_info {
	uint32_t fourcc;
	const char *name;
	uint32_t bpp; /* bytes per pixel */
};

/* NULL if the format is not one of the five dmabroker formats. */
const struct dmab_format_info *dmab_format_lookup(uint32_t fourcc);
/* By name ("XRGB8888", any case). NULL if unknown. */
const struct dmab_format_info *dmab_format_from_name(const char *name);
/* The format at index i (0..), NULL past the end. */
const struct dmab_format_info *dmab_format_at(size_t i);
/*
 * The name of any fourcc: the table's name for a known format, else its four
 * characters if they are printable, else "0x%08x". Written to buf, returned.
 */
const char *dmab_format_name(uint32_t fourcc, char *buf, size_t len);

#endif
