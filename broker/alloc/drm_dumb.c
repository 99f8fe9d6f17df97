/* SPDX-License-Identifier: MIT */
/*
 * drm-dumb: a DRM dumb buffer exported as a dma-buf through PRIME, on a card
 * node whose driver has both (vgem, most KMS drivers). Dumb buffers are
 * linear and CPU-mappable; nothing says they are contiguous.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xf86drm.h>

#include "alloc/alloc.h"

static const char dri_dir[] = "/dev/dri";

/* Rows of 1024 pixels of 32 bits: one 4 KiB row per 4 KiB of storage. */
enum {
	DUMB_WIDTH = 1024,
	DUMB_BPP = 32,
	DUMB_ROW = DUMB_WIDTH * DUMB_BPP / 8,
};

static bool fail(struct dmab_allocator *alloc, int fd, const char *node, const char *why)
{
	snprintf(alloc->detail, sizeof(alloc->detail), "%s: %s", node, why);
	if (fd >= 0)
		close(fd);
	return false;
}

/*
 * DRM_CAP_DUMB_BUFFER is only answered by KMS drivers: vgem, which has dumb
 * buffers, fails the query with EOPNOTSUPP. So a driver that answers 0 has
 * none, and one that cannot answer is asked for a dumb buffer.
 */
static bool has_dumb_buffers(int fd)
{
	uint64_t dumb = 0;
	if (drmGetCap(fd, DRM_CAP_DUMB_BUFFER, &dumb) == 0)
		return dumb != 0;
	struct drm_mode_create_dumb create = { .width = 1, .height = 1, .bpp = DUMB_BPP };
	if (drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0)
		return false;
	struct drm_mode_destroy_dumb destroy = { .handle = create.handle };
	drmIoctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
	return true;
}

static bool open_node(struct dmab_allocator *alloc, const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(alloc, -1, path, strerror(errno));
	/*
	 * The first opener of a card node becomes its DRM master. Dumb buffers
	 * and PRIME need no master, and holding it would stop a compositor on
	 * the same card from modesetting.
	 */
	drmDropMaster(fd);

	char node[sizeof(alloc->detail) - 32];
	drmVersionPtr version = drmGetVersion(fd);
	snprintf(node, sizeof(node), "%s (%s)", path,
		version != NULL ? version->name : "unknown driver");
	drmFreeVersion(version);
	if (!has_dumb_buffers(fd))
		return fail(alloc, fd, node, "no dumb buffers");
	uint64_t prime = 0;
	if (drmGetCap(fd, DRM_CAP_PRIME, &prime) < 0 || !(prime & DRM_PRIME_CAP_EXPORT))
		return fail(alloc, fd, node, "no PRIME export");

	alloc->dev_fd = fd;
	alloc->caps.dmabuf = true;
	snprintf(alloc->detail, sizeof(alloc->detail), "%s", node);
	return true;
}

static int is_card(const struct dirent *entry)
{
	return strncmp(entry->d_name, "card", 4) == 0;
}

/* The first card node, in numeric order, that can do it. */
static bool find_node(struct dmab_allocator *alloc)
{
	struct dirent **entries;
	int n = scandir(dri_dir, &entries, is_card, versionsort);
	if (n < 0) {
		snprintf(alloc->detail, sizeof(alloc->detail), "%s: %s", dri_dir,
			strerror(errno));
		return false;
	}
	if (n == 0)
		snprintf(alloc->detail, sizeof(alloc->detail), "%s: no card node", dri_dir);
	bool found = false;
	for (int i = 0; i < n; i++) {
		char path[sizeof(dri_dir) + sizeof(entries[i]->d_name)];
		snprintf(path, sizeof(path), "%s/%s", dri_dir, entries[i]->d_name);
		found = found || open_node(alloc, path);
		free(entries[i]);
	}
	free(entries);
	return found;
}

static bool drm_dumb_probe(struct dmab_allocator *alloc, const char *arg)
{
	return arg != NULL ? open_node(alloc, arg) : find_node(alloc);
}

static int drm_dumb_allocate(struct dmab_allocator *alloc, uint64_t size, const char *name,
	struct dmab_bo **out)
{
	uint64_t height = (dmab_page_align(size) + DUMB_ROW - 1) / DUMB_ROW;
	/* The kernel computes the size in 32 bits. */
	if (height > UINT32_MAX / DUMB_ROW)
		return -EFBIG;
	struct drm_mode_create_dumb create = {
		.width = DUMB_WIDTH,
		.height = (uint32_t)height,
		.bpp = DUMB_BPP,
	};
	if (drmIoctl(alloc->dev_fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0)
		return -errno;

	int fd = -1;
	int ret = drmPrimeHandleToFD(alloc->dev_fd, create.handle, DRM_CLOEXEC | DRM_RDWR, &fd);
	int err = errno;
	/* The dma-buf holds its own reference to the object. */
	struct drm_mode_destroy_dumb destroy = { .handle = create.handle };
	drmIoctl(alloc->dev_fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
	if (ret < 0)
		return -err;
	return dmab_bo_create(alloc, fd, out);
}

const struct dmab_allocator_impl dmab_alloc_drm_dumb_impl = {
	.name = "drm-dumb",
	.takes_arg = true,
	.probe = drm_dumb_probe,
	.allocate = drm_dumb_allocate,
};
