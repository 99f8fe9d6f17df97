/* SPDX-License-Identifier: MIT */
/*
 * vgem.h - the vgem driver's private ioctls.
 *
 * Mirrors the kernel's include/uapi/drm/vgem_drm.h, which neither
 * linux-libc-dev nor libdrm-dev ship on Debian 12. vgem (the "virtual GEM"
 * DRM driver, CONFIG_DRM_VGEM) supports dumb buffers and PRIME export, and
 * these two ioctls give tests real dma_fences without GPU hardware:
 *
 *   DRM_IOCTL_VGEM_FENCE_ATTACH  attach a new unsignaled fence to the
 *       reservation object of GEM object `handle` (exclusive/write fence with
 *       VGEM_FENCE_WRITE, otherwise a read fence); returns its id in
 *       `out_fence`. Fails with EBUSY if it conflicts with an unsignaled fence
 *       already on the object.
 *   DRM_IOCTL_VGEM_FENCE_SIGNAL  signal fence `fence` (an id from ATTACH, on
 *       the same DRM file). ENOENT for an unknown id or one already
 *       signaled through this ioctl (the id is dropped), ETIMEDOUT if the
 *       fence had signaled by itself: vgem signals every fence after ~10 s so
 *       that a leaked fence cannot wedge the system.
 *
 * Include after <drm.h> (libdrm: -I/usr/include/libdrm, or xf86drm.h).
 */
#ifndef DMAB_TESTS_KERNEL_VGEM_H
#define DMAB_TESTS_KERNEL_VGEM_H

#include <drm.h>

#ifndef DRM_VGEM_FENCE_ATTACH /* the real uapi header was included first */

#define DRM_VGEM_FENCE_ATTACH 0x1
#define DRM_VGEM_FENCE_SIGNAL 0x2

struct drm_vgem_fence_attach {
	__u32 handle;
	__u32 flags;
#define VGEM_FENCE_WRITE 0x1
	__u32 out_fence;
	__u32 pad;
};

struct drm_vgem_fence_signal {
	__u32 fence;
	__u32 flags;
};

#define DRM_IOCTL_VGEM_FENCE_ATTACH \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_VGEM_FENCE_ATTACH, struct drm_vgem_fence_attach)
#define DRM_IOCTL_VGEM_FENCE_SIGNAL \
	DRM_IOW(DRM_COMMAND_BASE + DRM_VGEM_FENCE_SIGNAL, struct drm_vgem_fence_signal)

#endif /* DRM_VGEM_FENCE_ATTACH */
#endif /* DMAB_TESTS_KERNEL_VGEM_H */
