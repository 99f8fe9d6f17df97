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
	/* export_fd(false) gives an fd that refuses writing; measured at probe */
	bool readonly_fd;
};

struct dmab_allocator;

struct dmab_bo {
	struct dmab_allocator *allocator; /* NULL for an imported fd */
	int fd; /* owned by the bo */
	uint64_t size;
	bool is_dmabuf;
	/*
	 * export_fd(false) gives an fd that refuses writing by every route but a
	 * reopen by root or by the owner of the inode (see dmab_bo_export_fd).
	 */
	bool readonly_fd;
	/*
	 * An O_RDONLY file of the same pages, which read-only exports reopen
	 * instead of fd, or -1: a udmabuf's memfd. Owned by the bo.
	 */
	int view_fd;
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
 * A memfd loses its write permission bits where the kernel lets the broker
 * take them (see dmab_fd_deny_reopen_write).
 */
int dmab_bo_import(int fd, struct dmab_bo **out);
/*
 * A new fd for a client, close-on-exec. A read-only fd is a reopen of the
 * storage, or of its view_fd, with O_RDONLY, which refuses every write where
 * the exporter allows it to. Where it cannot (dma-bufs), it is a duplicate of
 * the writable fd: bo->readonly_fd says which. A read-only export of a bo with
 * a view_fd is no dma-buf: check the fd, not bo->is_dmabuf.
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

/*
 * The fd headroom. The broker keeps no fd numbered at or above the line:
 * RLIMIT_NOFILE's soft limit less an eighth of it (at least 32, at most 4096).
 * The kernel gives out the lowest free number, so an fd past the line means
 * that every slot below it is taken; the slots above stay free for new
 * connections (libwayland's accept and its duplicate of the socket) and for
 * the fds that libwayland duplicates while it sends them. No soft limit
 * (RLIM_INFINITY) has no line.
 */
struct dmab_fd_limit {
	uint64_t limit; /* RLIMIT_NOFILE's soft limit; UINT64_MAX for none */
	uint64_t headroom;
	uint64_t line; /* limit - headroom; UINT64_MAX for none */
};

void dmab_fd_limit_get(struct dmab_fd_limit *limit);
/*
 * fd if it is below the line; else closes it and returns -EMFILE ("Too many
 * open files"). A negative fd (an errno) is returned as it is. Every fd that
 * the broker keeps or hands out passes here: dmab_bo_create and
 * dmab_bo_export_fd check theirs.
 */
int dmab_fd_check_headroom(int fd);

/* Shared helpers for backends. Those returning an fd return a negative errno on failure. */
int dmab_memfd_create_sealed(const char *name, uint64_t size);
int dmab_fd_reopen_readonly(int fd);
/*
 * Clears the write permission bits of a memfd's inode, so that only root and
 * the inode's owner (who may chmod it back) can reopen it for writing; open
 * files keep their access. True if no write bit is left, or the memfd is
 * sealed against writes; false for a dma-buf.
 */
bool dmab_fd_deny_reopen_write(int fd);
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
