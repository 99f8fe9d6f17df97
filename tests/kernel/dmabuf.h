/* SPDX-License-Identifier: MIT */
/*
 * A client's own dma-buf, as a GPU client has one, and its wl_buffer through
 * zwp_linux_dmabuf_v1: a udmabuf over a memfd sealed against shrinking, mapped
 * for writing, XRGB8888 with the linear modifier. Failures are reported on
 * stderr, prefixed with "dmabuf: ".
 */
#ifndef DMAB_TESTS_KERNEL_DMABUF_H
#define DMAB_TESTS_KERNEL_DMABUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wl_display;
struct wl_buffer;
struct zwp_linux_dmabuf_v1;

struct kt_dmabuf {
	int fd; /* the udmabuf */
	uint32_t width, height, stride;
	size_t size;
	void *data; /* mapped read-write */
};

bool kt_dmabuf_create(struct kt_dmabuf *buf, uint32_t width, uint32_t height);
/* Unmaps and closes. A zeroed kt_dmabuf with fd -1 is a no-op. */
void kt_dmabuf_finish(struct kt_dmabuf *buf);
/* DMA_BUF_IOCTL_SYNC, restarting on EINTR and EAGAIN. */
bool kt_dmabuf_sync(int fd, uint64_t flags);
/*
 * zwp_linux_buffer_params_v1.create_immed, then a roundtrip: NULL if the
 * compositor refused the buffer (failed event or protocol error).
 */
struct wl_buffer *kt_dmabuf_create_wl_buffer(struct zwp_linux_dmabuf_v1 *linux_dmabuf,
	struct wl_display *display, const struct kt_dmabuf *buf);

#endif
