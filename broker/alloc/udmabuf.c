/* SPDX-License-Identifier: MIT */
/*
 * udmabuf: a dma-buf over the pages of a sealed memfd (Linux 4.20). The
 * dma-buf pins the pages. udmabuf exports every dma-buf O_RDWR, so read-only
 * holders get an O_RDONLY reopen of the memfd instead (the bo's view_fd),
 * which the kernel keeps read-only; the writable memfd is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/udmabuf.h>

#include "alloc/alloc.h"

static const char udmabuf_path[] = "/dev/udmabuf";

/* The module's size_limit_mb parameter (64 MiB by default); 0 if unknown. */
static uint64_t size_limit(void)
{
	FILE *f = fopen("/sys/module/udmabuf/parameters/size_limit_mb", "re");
	if (f == NULL)
		return 0;
	uint64_t mib = 0;
	if (fscanf(f, "%" SCNu64, &mib) != 1)
		mib = 0;
	fclose(f);
	return mib << 20;
}

static bool udmabuf_probe(struct dmab_allocator *alloc, const char *arg)
{
	int fd = open(udmabuf_path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(alloc->detail, sizeof(alloc->detail), "%s: %s", udmabuf_path,
			strerror(errno));
		return false;
	}
	alloc->dev_fd = fd;
	alloc->caps.dmabuf = true;
	uint64_t limit = size_limit();
	if (limit > 0) {
		snprintf(alloc->detail, sizeof(alloc->detail), "%s (at most %" PRIu64
			" MiB a buffer)", udmabuf_path, limit >> 20);
	} else {
		snprintf(alloc->detail, sizeof(alloc->detail), "%s", udmabuf_path);
	}
	return true;
}

/*
 * The memfd must be sealed against shrinking (else UDMABUF_CREATE fails with
 * EINVAL) and not against writes; dmab_memfd_create_sealed is both.
 */
static int udmabuf_allocate(struct dmab_allocator *alloc, uint64_t size, const char *name,
	struct dmab_bo **out)
{
	int memfd = dmab_memfd_create_sealed(name, size);
	if (memfd < 0)
		return memfd;
	struct udmabuf_create create = {
		.memfd = (uint32_t)memfd,
		.flags = UDMABUF_FLAGS_CLOEXEC,
		.offset = 0,
		.size = dmab_page_align(size),
	};
	int fd = ioctl(alloc->dev_fd, UDMABUF_CREATE, &create);
	int err = errno;
	int view = fd >= 0 ? dmab_fd_reopen_readonly(memfd) : -1;
	close(memfd);
	if (fd < 0) {
		/* The kernel says EINVAL for a buffer over the module's limit. */
		uint64_t limit = err == EINVAL ? size_limit() : 0;
		return limit > 0 && create.size > limit ? -EFBIG : -err;
	}
	if (view < 0) {
		close(fd);
		return view;
	}
	int ret = dmab_bo_create(alloc, fd, out);
	if (ret < 0) {
		close(view);
		return ret;
	}
	(*out)->view_fd = view;
	return 0;
}

const struct dmab_allocator_impl dmab_alloc_udmabuf_impl = {
	.name = "udmabuf",
	.probe = udmabuf_probe,
	.allocate = udmabuf_allocate,
};
