/* SPDX-License-Identifier: MIT */
/*
 * The frame pattern that dmab-paint and dmab-share draw. Every pixel is a pure
 * function of its position and the frame number, so a test can recompute any
 * pixel of any frame from a mapping or from a screenshot.
 *
 * Row 0 is the frame code: pixel x is white (0xffffffff) if bit (x % 32) of the
 * frame number is set, black (0xff000000) otherwise, so 32 consecutive pixels
 * starting at a multiple of 32 spell the frame number, least significant bit
 * first. Rows 1 and below are bands that scroll 3 pixels per frame:
 *
 *	u = x + 3 * frame
 *	r = (2 * u + y) & 0xff
 *	g = (2 * y + 32 * (u >> 4) - 5 * frame) & 0xff
 *	b = ((u ^ y) + 7 * frame) & 0xff
 *	pixel = 0xff000000 | r << 16 | g << 8 | b
 *
 * r changes at every step in x and in y, so no two neighbouring pixels are
 * equal, and it changes by 6 from one frame to the next, so every pixel below
 * row 0 differs between consecutive frames. All arithmetic is modulo 2^32.
 * Pixels are always opaque, so what the compositor shows is the pixel itself.
 */
#ifndef DMAB_CLIENTS_PATTERN_H
#define DMAB_CLIENTS_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DMAB_PATTERN_CODE_BITS 32

/* The pixel (x, y) of frame `frame` as ARGB8888 (0xAARRGGBB). */
uint32_t dmab_pattern_pixel(uint32_t x, uint32_t y, uint32_t frame);

/*
 * An ARGB8888 colour packed into a pixel of a dmabroker format (the low 16 bits
 * for RGB565), and back. Unpacking RGB565 widens each channel by repeating its
 * high bits, as pixman does, and gives X formats an opaque alpha.
 */
uint32_t dmab_pixel_pack(uint32_t format, uint32_t argb);
uint32_t dmab_pixel_unpack(uint32_t format, uint32_t pixel);
/* Stores a packed pixel little-endian, as DRM formats are defined. bpp is 2 or 4. */
void dmab_pixel_store(void *dst, uint32_t bpp, uint32_t pixel);
uint32_t dmab_pixel_load(const void *src, uint32_t bpp);

/* The ARGB8888 colour a screen shows for pixel (x, y) of a frame drawn in format. */
uint32_t dmab_pattern_expected(uint32_t format, uint32_t x, uint32_t y, uint32_t frame);

/* Draws frame `frame` into a mapped buffer. Returns false for an unknown format. */
bool dmab_pattern_fill(void *data, uint32_t stride, uint32_t width, uint32_t height,
	uint32_t format, uint32_t frame);
/* Fills with one colour: the poison dmab-paint writes while it holds a frame. */
bool dmab_pattern_fill_solid(void *data, uint32_t stride, uint32_t width, uint32_t height,
	uint32_t format, uint32_t argb);

/*
 * Compares a mapped buffer with frame `frame`, skipping the first skip_bytes
 * bytes of row 0 (a frame header, or 0). On a mismatch returns false and sets
 * *bad_x and *bad_y (either may be NULL).
 */
bool dmab_pattern_check(const void *data, uint32_t stride, uint32_t width, uint32_t height,
	uint32_t format, uint32_t frame, uint32_t skip_bytes, uint32_t *bad_x, uint32_t *bad_y);

/*
 * Reads the frame code from the ARGB8888 colours of row-0 pixels x0, x0 + 1, ...,
 * x0 + len - 1, where x0 is a multiple of 32: a pixel whose green channel is at
 * least 0x80 is a 1 bit. Only the low min(len, 32) bits are known.
 */
uint32_t dmab_pattern_decode_frame(const uint32_t *argb, size_t len);

#endif
