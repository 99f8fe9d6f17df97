/* SPDX-License-Identifier: MIT */
/*
 * Allocator backends: where a broker buffer's storage comes from.
 *
 * Plain C, no Wayland. Every backend hands out buffer objects (dmab_bo) whose
 * fds are close-on-exec and answer lseek(fd, 0, SEEK_END) with their size.
 */
#ifndef DMAB_ALLOC_H
#define DMAB_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dmab_cpu_dir {
	DMAB_CPU_READ = 1,
	DMAB_CPU_WRITE = 2,
};

struct dmab_alloc_caps {
	bool contiguous; /* storage is physically contiguous */
	bool dmabuf; /* fds are dma-bufs: DMA_BUF_IOCTL_SYNC applies */
	/* export_fd(false) gives an fd that refuses PROT_WRITE; measured at probe */
	bool readonly_fd;
};

struct dmab_allocator;

struct dmab_bo {
	struct dmab_allocator *allocator; /* NULL for an imported fd */
	int fd; /* owned by the bo */
	uint64_t size;
	bool is_dmabuf;
	bool readonly_fd; /* export_fd(false) gives an fd that refuses PROT_WRITE */
	void *priv;
};

struct dmab_allocator_impl {
	const char *name;
	bool takes_arg; /* accepts "name:arg"; without, an arg is an error */
	/*
	 * Opens devices and fills caps (but readonly_fd, which the set measures);
	 * false with a reason in alloc->detail if absent here. arg is NULL unless
	 * the user chose "name:arg".
	 */
	bool (*probe)(struct dmab_allocator *alloc, const char *arg);
	/* Page-rounds size. Returns a negative errno on failure. */
	int (*allocate)(struct dmab_allocator *alloc, uint64_t size, const char *name,
		struct dmab_bo **out);
	void (*release)(struct dmab_bo *bo); /* optional: before the fd is closed */
	void (*finish)(struct dmab_allocator *alloc); /* optional: before dev_fd is closed */
};

struct dmab_allocator {
	const struct dmab_allocator_impl *impl;
	struct dmab_alloc_caps caps;
	bool live;
	char detail[160]; /* the device in use, or why it is absent */
	int dev_fd; /* -1 if none */
	void *priv;
};

enum { DMAB_ALLOC_MAX = 8 };

/* Every backend this build knows, probed. The order is the auto preference. */
struct dmab_allocator_set {
	struct dmab_allocator allocators[DMAB_ALLOC_MAX];
	size_t len;
	struct dmab_allocator *selected; /* NULL with "auto": choose per constraints */
	char name[48]; /* what dmab_alloc_set_name returns */
};

/*
 * Probes every backend. choice is "auto", a backend name or "name:arg" (a heap
 * name, a DRM node). Returns -ENODEV with a reason in err if the choice is
 * unknown or absent here, never falling back silently; the set then holds
 * nothing and needs no finish. The set must outlive every bo allocated from it.
 */
int dmab_alloc_set_init(struct dmab_allocator_set *set, const char *choice,
	char *err, size_t err_len);
void dmab_alloc_set_finish(struct dmab_allocator_set *set);
/* The allocator for these needs, or NULL if none can meet them. */
struct dmab_allocator *dmab_alloc_set_choose(struct dmab_allocator_set *set, bool contiguous);
const char *dmab_alloc_set_name(const struct dmab_allocator_set *set);

/*
 * bo->size is the fd's lseek size: the page-rounded size (a DRM driver may pad
 * a dumb buffer further). -ENODEV if alloc is not live, -EINVAL for 0 bytes,
 * -EOVERFLOW past 2^63, -EFBIG past a backend's own limit, else the kernel's.
 */
int dmab_alloc_allocate(struct dmab_allocator *alloc, uint64_t size, const char *name,
	struct dmab_bo **out);
/*
 * Imports a client's fd, sized with lseek (a size of 0 is -EINVAL). The fd is
 * consumed: owned by the bo, or closed on failure. It is made close-on-exec.
 */
int dmab_bo_import(int fd, struct dmab_bo **out);
/*
 * A new fd for a client, close-on-exec. A read-only fd is a reopen of the
 * storage with O_RDONLY, which refuses mmap(PROT_WRITE) where the exporter
 * allows it to. Where it cannot (dma-bufs), it is a duplicate of the writable
 * fd: bo->readonly_fd says which.
 */
int dmab_bo_export_fd(struct dmab_bo *bo, bool writable);
/*
 * DMA_BUF_IOCTL_SYNC on a dma-buf, restarting on EINTR/EAGAIN; a no-op otherwise.
 * dir is a non-empty mask of enum dmab_cpu_dir, else -EINVAL.
 */
int dmab_bo_sync(struct dmab_bo *bo, bool start, uint32_t dir);
/* The broker's own mapping, for compositing and migration copies. NULL with errno. */
void *dmab_bo_mmap(struct dmab_bo *bo, bool writable);
void dmab_bo_munmap(struct dmab_bo *bo, void *data);
void dmab_bo_destroy(struct dmab_bo *bo);

/* Shared helpers for backends. Those returning an fd return a negative errno on failure. */
int dmab_memfd_create_sealed(const char *name, uint64_t size);
int dmab_fd_reopen_readonly(int fd);
int dmab_dmabuf_sync(int fd, bool start, uint32_t dir);
bool dmab_fd_is_dmabuf(int fd);
/* Wraps a backend's new fd in a bo like dmab_bo_import, with alloc's caps. */
int dmab_bo_create(struct dmab_allocator *alloc, int fd, struct dmab_bo **out);
uint64_t dmab_page_align(uint64_t size); /* 0 if it overflows */

extern const struct dmab_allocator_impl dmab_alloc_udmabuf_impl;
extern const struct dmab_allocator_impl dmab_alloc_dma_heap_impl;
extern const struct dmab_allocator_impl dmab_alloc_drm_dumb_impl;
extern const struct dmab_allocator_impl dmab_alloc_memfd_impl;

#endif
