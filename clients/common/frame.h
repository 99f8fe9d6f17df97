/* SPDX-License-Identifier: MIT */
/*
 * The frames dmab-share publishes and dmab-view verifies: the frame pattern
 * (pattern.h) with a 16-byte header at the start of row 0, four little-endian
 * 32-bit words:
 *
 *	bytes  0..3   magic, DMAB_FRAME_MAGIC ("DMBF")
 *	bytes  4..7   sequence number: the frame number, 0 for the first frame
 *	bytes  8..11  flags: DMAB_FRAME_LAST on the last frame of a stream
 *	bytes 12..15  checksum
 *
 * The checksum is 32-bit FNV-1a (offset basis 0x811c9dc5, prime 0x01000193)
 * over header bytes 0..11, then the rest of row 0 from byte 16 to
 * width * bpp, then each following row's first width * bpp bytes (the padding
 * up to the stride is not covered). A frame read while it is being written
 * fails the checksum: that is what dmab-view calls torn.
 */
#ifndef DMAB_CLIENTS_FRAME_H
#define DMAB_CLIENTS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DMAB_FRAME_MAGIC 0x46424d44u
#define DMAB_FRAME_HEADER_SIZE 16
#define DMAB_FRAME_LAST 0x1u

#define DMAB_FNV1A32_BASIS 0x811c9dc5u
#define DMAB_FNV1A32_PRIME 0x01000193u

struct dmab_frame_header {
	uint32_t magic;
	uint32_t seq;
	uint32_t flags;
	uint32_t checksum;
};

/* Continues a 32-bit FNV-1a hash (start with DMAB_FNV1A32_BASIS) over len bytes. */
uint32_t dmab_fnv1a32(uint32_t hash, const void *data, size_t len);

/*
 * The checksum of a frame in memory, as defined above. row_bytes is width times
 * bytes per pixel and must be at least DMAB_FRAME_HEADER_SIZE.
 */
uint32_t dmab_frame_checksum(const void *data, uint32_t stride, uint32_t row_bytes,
	uint32_t height);

/*
 * Draws frame seq of the pattern and its header. False if the format is
 * unknown or a row is shorter than the header.
 */
bool dmab_frame_write(void *data, uint32_t stride, uint32_t width, uint32_t height,
	uint32_t format, uint32_t seq, uint32_t flags);

/* Decodes the header. */
void dmab_frame_read_header(const void *data, struct dmab_frame_header *header);

/* True if the header has the magic and the checksum matches the frame. */
bool dmab_frame_verify(const void *data, uint32_t stride, uint32_t row_bytes, uint32_t height,
	struct dmab_frame_header *header);

#endif
