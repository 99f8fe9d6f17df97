/* SPDX-License-Identifier: MIT */
#include "format.h"
#include "frame.h"
#include "pattern.h"

uint32_t dmab_fnv1a32(uint32_t hash, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		hash ^= p[i];
		hash *= DMAB_FNV1A32_PRIME;
	}
	return hash;
}

uint32_t dmab_frame_checksum(const void *data, uint32_t stride, uint32_t row_bytes,
	uint32_t height)
{
	const uint8_t *bytes = data;
	uint32_t hash = dmab_fnv1a32(DMAB_FNV1A32_BASIS, bytes, 12);
	hash = dmab_fnv1a32(hash, bytes + DMAB_FRAME_HEADER_SIZE,
		row_bytes - DMAB_FRAME_HEADER_SIZE);
	for (uint32_t y = 1; y < height; y++)
		hash = dmab_fnv1a32(hash, bytes + (size_t)y * stride, row_bytes);
	return hash;
}

static void store_le32(uint8_t *p, uint32_t value)
{
	dmab_pixel_store(p, 4, value);
}

bool dmab_frame_write(void *data, uint32_t stride, uint32_t width, uint32_t height,
	uint32_t format, uint32_t seq, uint32_t flags)
{
	const struct dmab_format_info *info = dmab_format_lookup(format);
	if (info == NULL || width * info->bpp < DMAB_FRAME_HEADER_SIZE)
		return false;
	dmab_pattern_fill(data, stride, width, height, format, seq);
	uint8_t *header = data;
	store_le32(header, DMAB_FRAME_MAGIC);
	store_le32(header + 4, seq);
	store_le32(header + 8, flags);
	store_le32(header + 12, dmab_frame_checksum(data, stride, width * info->bpp, height));
	return true;
}

void dmab_frame_read_header(const void *data, struct dmab_frame_header *header)
{
	const uint8_t *p = data;
	header->magic = dmab_pixel_load(p, 4);
	header->seq = dmab_pixel_load(p + 4, 4);
	header->flags = dmab_pixel_load(p + 8, 4);
	header->checksum = dmab_pixel_load(p + 12, 4);
}

bool dmab_frame_verify(const void *data, uint32_t stride, uint32_t row_bytes, uint32_t height,
	struct dmab_frame_header *header)
{
	dmab_frame_read_header(data, header);
	return header->magic == DMAB_FRAME_MAGIC &&
		header->checksum == dmab_frame_checksum(data, stride, row_bytes, height);
}
