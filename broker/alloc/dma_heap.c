/* SPDX-License-Identifier: MIT */
/*
 * dma-heap: dma-bufs from a heap under /dev/dma_heap (Linux 5.6), "system" by
 * default. Only a CMA heap hands out physically contiguous storage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/dma-heap.h>

#include "alloc/alloc.h"

static bool heap_name_valid(const char *heap)
{
	return heap[0] != '\0' && strchr(heap, '/') == NULL && strcmp(heap, ".") != 0 &&
		strcmp(heap, "..") != 0;
}

/*
 * The CMA heap takes the name of its CMA area: "linux,cma" or "reserved" from
 * the device tree, "default_cma_region" on recent kernels.
 */
static bool heap_is_cma(const char *heap)
{
	return strstr(heap, "cma") != NULL || strcmp(heap, "reserved") == 0;
}

static bool dma_heap_probe(struct dmab_allocator *alloc, const char *arg)
{
	const char *heap = arg != NULL ? arg : "system";
	if (!heap_name_valid(heap)) {
		snprintf(alloc->detail, sizeof(alloc->detail), "invalid heap name '%s'", heap);
		return false;
	}
	char path[128];
	if (snprintf(path, sizeof(path), "/dev/dma_heap/%s", heap) >= (int)sizeof(path)) {
		snprintf(alloc->detail, sizeof(alloc->detail), "heap name too long");
		return false;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(alloc->detail, sizeof(alloc->detail), "%s: %s", path, strerror(errno));
		return false;
	}
	alloc->dev_fd = fd;
	alloc->caps.dmabuf = true;
	alloc->caps.contiguous = heap_is_cma(heap);
	snprintf(alloc->detail, sizeof(alloc->detail), "%s", path);
	return true;
}

static int dma_heap_allocate(struct dmab_allocator *alloc, uint64_t size, const char *name,
	struct dmab_bo **out)
{
	struct dma_heap_allocation_data data = {
		.len = dmab_page_align(size),
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	if (ioctl(alloc->dev_fd, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		return -errno;
	return dmab_bo_create(alloc, (int)data.fd, out);
}

const struct dmab_allocator_impl dmab_alloc_dma_heap_impl = {
	.name = "dma-heap",
	.takes_arg = true,
	.probe = dma_heap_probe,
	.allocate = dma_heap_allocate,
};
