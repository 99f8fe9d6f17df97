/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <linux/dma-buf.h>
#include <linux/udmabuf.h>
#include <wayland-client.h>

#include "dmabuf.h"
#include "linux-dmabuf-unstable-v1-client-protocol.h"

static int udmabuf_create(size_t size)
{
	int fd = -1;
	int memfd = memfd_create("kt-dmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (memfd < 0 || dev < 0) {
		fprintf(stderr, "dmabuf: %s: %s\n", memfd < 0 ? "memfd_create" : "/dev/udmabuf",
			strerror(errno));
	} else if (ftruncate(memfd, (off_t)size) < 0 ||
			fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
		/* UDMABUF_CREATE refuses a memfd that could shrink under the dma-buf. */
		fprintf(stderr, "dmabuf: sizing and sealing the memfd: %s\n", strerror(errno));
	} else {
		struct udmabuf_create create = {
			.memfd = (uint32_t)memfd,
			.flags = UDMABUF_FLAGS_CLOEXEC,
			.size = size,
		};
		fd = ioctl(dev, UDMABUF_CREATE, &create);
		if (fd < 0)
			fprintf(stderr, "dmabuf: UDMABUF_CREATE: %s\n", strerror(errno));
	}
	if (memfd >= 0)
		close(memfd);
	if (dev >= 0)
		close(dev);
	return fd;
}

bool kt_dmabuf_create(struct kt_dmabuf *buf, uint32_t width, uint32_t height)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	*buf = (struct kt_dmabuf){
		.width = width,
		.height = height,
		.stride = width * 4,
	};
	buf->size = ((size_t)buf->stride * height + page - 1) / page * page;
	buf->fd = udmabuf_create(buf->size);
	if (buf->fd < 0)
		return false;
	buf->data = mmap(NULL, buf->size, PROT_READ | PROT_WRITE, MAP_SHARED, buf->fd, 0);
	if (buf->data == MAP_FAILED) {
		fprintf(stderr, "dmabuf: mmap: %s\n", strerror(errno));
		buf->data = NULL;
		kt_dmabuf_finish(buf);
		return false;
	}
	return true;
}

void kt_dmabuf_finish(struct kt_dmabuf *buf)
{
	if (buf->data != NULL)
		munmap(buf->data, buf->size);
	if (buf->fd >= 0)
		close(buf->fd);
	buf->data = NULL;
	buf->fd = -1;
}

bool kt_dmabuf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags };
	int ret;
	do {
		ret = ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
	} while (ret < 0 && (errno == EINTR || errno == EAGAIN));
	if (ret < 0)
		fprintf(stderr, "dmabuf: DMA_BUF_IOCTL_SYNC: %s\n", strerror(errno));
	return ret == 0;
}

static void handle_created(void *data, struct zwp_linux_buffer_params_v1 *params,
	struct wl_buffer *buffer)
{
	/* Only create answers with created; create_immed makes the wl_buffer at once. */
}

static void handle_failed(void *data, struct zwp_linux_buffer_params_v1 *params)
{
	bool *failed = data;
	*failed = true;
}

static const struct zwp_linux_buffer_params_v1_listener params_listener = {
	.created = handle_created,
	.failed = handle_failed,
};

struct wl_buffer *kt_dmabuf_create_wl_buffer(struct zwp_linux_dmabuf_v1 *linux_dmabuf,
	struct wl_display *display, const struct kt_dmabuf *buf)
{
	const uint64_t modifier = DRM_FORMAT_MOD_LINEAR;
	bool failed = false;
	struct zwp_linux_buffer_params_v1 *params =
		zwp_linux_dmabuf_v1_create_params(linux_dmabuf);
	zwp_linux_buffer_params_v1_add_listener(params, &params_listener, &failed);
	zwp_linux_buffer_params_v1_add(params, buf->fd, 0, 0, buf->stride,
		(uint32_t)(modifier >> 32), (uint32_t)modifier);
	struct wl_buffer *buffer = zwp_linux_buffer_params_v1_create_immed(params,
		(int32_t)buf->width, (int32_t)buf->height, DRM_FORMAT_XRGB8888, 0);
	int ret = wl_display_roundtrip(display);
	zwp_linux_buffer_params_v1_destroy(params);
	if (ret < 0 || failed) {
		fprintf(stderr, "dmabuf: the compositor refused the dma-buf (%s)\n",
			ret < 0 ? strerror(wl_display_get_error(display)) :
			"zwp_linux_buffer_params_v1.failed");
		wl_buffer_destroy(buffer);
		return NULL;
	}
	return buffer;
}
