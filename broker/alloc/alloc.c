/*
 * The allocator set and the backend-independent half of a buffer object:
 * import, export, CPU-access brackets and the broker's own mappings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/magic.h>

#include "alloc/alloc.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The auto preference: real dma-bufs first, memfd (always live) last. */
static const struct dmab_allocator_impl *const impls[] = {
	&dmab_alloc_udmabuf_impl,
	&dmab_alloc_dma_heap_impl,
	&dmab_alloc_drm_dumb_impl,
	&dmab_alloc_memfd_impl,
};

_Static_assert(ARRAY_LEN(impls) <= DMAB_ALLOC_MAX, "DMAB_ALLOC_MAX is too small");

uint64_t dmab_page_align(uint64_t size)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	if (size > UINT64_MAX - (page - 1))
		return 0;
	return (size + page - 1) & ~(page - 1);
}

/*
 * Every dma-buf is an inode of the kernel's "dmabuf" pseudo filesystem since
 * Linux 5.3 (before, an anon inode shared with eventfd and friends), so the
 * filesystem magic identifies one in a single syscall. The fdinfo "exp_name:"
 * line and the "/dmabuf:" link name say the same on kernels >= 5.4, but need
 * /proc mounted and a parse.
 */
bool dmab_fd_is_dmabuf(int fd)
{
	struct statfs st;
	return fstatfs(fd, &st) == 0 && st.f_type == DMA_BUF_MAGIC;
}

int dmab_fd_reopen_readonly(int fd)
{
	char path[32];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int ro = open(path, O_RDONLY | O_CLOEXEC);
	return ro >= 0 ? ro : -errno;
}

/*
 * Opening /proc/self/fd/N checks the inode's permission bits like any open, so
 * a read-only holder of a memfd (born 0777) could reopen it O_RDWR, whatever
 * its uid. Without write bits only root (CAP_DAC_OVERRIDE) can, and the
 * inode's owner after a chmod: the owner is whoever created the memfd, so a
 * client of the broker's own uid, or of the uid that made an imported memfd.
 * A write seal refuses writes through every file, reopened ones included.
 */
bool dmab_fd_deny_reopen_write(int fd)
{
	if (dmab_fd_is_dmabuf(fd)) {
		return false;
	}
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))) {
		return true;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		return false;
	}
	if ((st.st_mode & 0222) == 0) {
		return true;
	}
	return fchmod(fd, st.st_mode & 07555) == 0;
}

static int dup_cloexec(int fd)
{
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return dup >= 0 ? dup : -errno;
}

static bool valid_dir(uint32_t dir)
{
	return dir != 0 && (dir & ~(uint32_t)(DMAB_CPU_READ | DMAB_CPU_WRITE)) == 0;
}

int dmab_dmabuf_sync(int fd, bool start, uint32_t dir)
{
	if (!valid_dir(dir))
		return -EINVAL;
	struct dma_buf_sync sync = {
		.flags = (start ? DMA_BUF_SYNC_START : DMA_BUF_SYNC_END) |
			((dir & DMAB_CPU_READ) ? DMA_BUF_SYNC_READ : 0) |
			((dir & DMAB_CPU_WRITE) ? DMA_BUF_SYNC_WRITE : 0),
	};
	while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0) {
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	return 0;
}

int dmab_bo_create(struct dmab_allocator *alloc, int fd, struct dmab_bo **out)
{
	int ret;
	if (fd >= 0 && dmab_fd_check_headroom(fd) < 0) {
		return -EMFILE;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		goto err_errno;
	off_t size = lseek(fd, 0, SEEK_END);
	if (size < 0 || lseek(fd, 0, SEEK_SET) < 0)
		goto err_errno;
	if (size == 0) {
		ret = -EINVAL;
		goto err;
	}

	struct dmab_bo *bo = calloc(1, sizeof(*bo));
	if (bo == NULL) {
		ret = -ENOMEM;
		goto err;
	}
	bo->allocator = alloc;
	bo->fd = fd;
	bo->view_fd = -1;
	bo->size = (uint64_t)size;
	bo->is_dmabuf = dmab_fd_is_dmabuf(fd);
	/* An imported dma-buf is no different from ours: see dmab_bo_export_fd. */
	bo->readonly_fd = alloc != NULL ? alloc->caps.readonly_fd :
		dmab_fd_deny_reopen_write(fd);
	*out = bo;
	return 0;

err_errno:
	ret = -errno;
err:
	close(fd);
	return ret;
}

int dmab_bo_import(int fd, struct dmab_bo **out)
{
	return dmab_bo_create(NULL, fd, out);
}

/*
 * A read-only fd must be a new open file: dup() and SCM_RIGHTS share the open
 * file, and with it FMODE_WRITE. Reopening /proc/self/fd/N with O_RDONLY
 * makes one, and do_mmap() then refuses PROT_WRITE with MAP_SHARED (and
 * mprotect() refuses to add it) with EACCES, as the file lacks FMODE_WRITE;
 * write, ftruncate and fallocate need it too. Reopening it for writing is
 * left to the inode's permission bits: see dmab_fd_deny_reopen_write.
 *
 * A dma-buf cannot be reopened: dma_buf_getfile() gives it an inode from
 * alloc_anon_inode(), whose i_fop is no_open_fops, so the open fails (ENXIO),
 * and its only open file has the access mode its exporter chose once
 * (udmabuf: O_RDWR; dma-heap: the allocation's fd_flags; DRM PRIME: DRM_RDWR
 * of the object's first export). The exporter is the broker and it needs
 * write access, so a dma-buf's "read-only" fd is a duplicate that a client
 * can map writable: bo->readonly_fd is false and no one may claim otherwise,
 * unless the bo has a view_fd of the same pages that is no dma-buf.
 * Should a kernel ever reopen dma-bufs, the new file is used if it is one.
 */
static int export_fd(struct dmab_bo *bo, bool writable)
{
	if (writable)
		return dup_cloexec(bo->fd);
	if (bo->view_fd >= 0) {
		return dmab_fd_reopen_readonly(bo->view_fd);
	}
	int fd = dmab_fd_reopen_readonly(bo->fd);
	if (!bo->is_dmabuf)
		return fd;
	if (fd >= 0 && dmab_fd_is_dmabuf(fd))
		return fd;
	if (fd >= 0)
		close(fd);
	return dup_cloexec(bo->fd);
}

int dmab_bo_export_fd(struct dmab_bo *bo, bool writable)
{
	return dmab_fd_check_headroom(export_fd(bo, writable));
}

int dmab_bo_sync(struct dmab_bo *bo, bool start, uint32_t dir)
{
	if (!bo->is_dmabuf)
		return valid_dir(dir) ? 0 : -EINVAL;
	return dmab_dmabuf_sync(bo->fd, start, dir);
}

void *dmab_bo_mmap(struct dmab_bo *bo, bool writable)
{
#if SIZE_MAX < UINT64_MAX
	if (bo->size > SIZE_MAX) {
		errno = EOVERFLOW;
		return NULL;
	}
#endif
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *data = mmap(NULL, (size_t)bo->size, prot, MAP_SHARED, bo->fd, 0);
	return data != MAP_FAILED ? data : NULL;
}

void dmab_bo_munmap(struct dmab_bo *bo, void *data)
{
	if (data != NULL)
		munmap(data, (size_t)bo->size);
}

void dmab_bo_destroy(struct dmab_bo *bo)
{
	if (bo == NULL)
		return;
	if (bo->allocator != NULL && bo->allocator->impl->release != NULL)
		bo->allocator->impl->release(bo);
	if (bo->view_fd >= 0) {
		close(bo->view_fd);
	}
	close(bo->fd);
	free(bo);
}

/*
 * The name shows in /proc/<pid>/fdinfo and the kernel's bufinfo, as exp_name
 * does for the exporter. It is diagnostic only: kernels before 5.3 have no
 * DMA_BUF_SET_NAME, and a failure changes nothing else.
 */
static void name_dmabuf(int fd, const char *name)
{
	char short_name[DMA_BUF_NAME_LEN];
	snprintf(short_name, sizeof(short_name), "%s", name);
	ioctl(fd, DMA_BUF_SET_NAME, short_name);
}

int dmab_alloc_allocate(struct dmab_allocator *alloc, uint64_t size, const char *name,
	struct dmab_bo **out)
{
	if (!alloc->live)
		return -ENODEV;
	if (size == 0)
		return -EINVAL;
	uint64_t aligned = dmab_page_align(size);
	if (aligned == 0 || aligned > INT64_MAX)
		return -EOVERFLOW;
	if (name == NULL || name[0] == '\0')
		name = "dmabroker";

	struct dmab_bo *bo;
	int ret = alloc->impl->allocate(alloc, size, name, &bo);
	if (ret < 0)
		return ret;
	if (bo->size < aligned) {
		/* The exporter's lseek disagrees with what it was asked for. */
		dmab_bo_destroy(bo);
		return -EIO;
	}
	if (bo->is_dmabuf)
		name_dmabuf(bo->fd, name);
	*out = bo;
	return 0;
}

/*
 * Whether a read-only export of this backend's storage really refuses a
 * writable shared mapping, and a reopen for writing by anyone but root and the
 * inode's owner, measured on a one-page buffer rather than assumed, since it
 * is the kernel's call (see dmab_bo_export_fd). A backend that cannot allocate
 * that page is not live.
 */
static bool measure_readonly_fd(struct dmab_allocator *alloc)
{
	struct dmab_bo *bo;
	int ret = alloc->impl->allocate(alloc, 1, "dmabroker-probe", &bo);
	if (ret < 0) {
		size_t len = strlen(alloc->detail);
		snprintf(alloc->detail + len, sizeof(alloc->detail) - len,
			"%sa test allocation fails: %s", len > 0 ? ": " : "", strerror(-ret));
		return false;
	}
	int fd = dmab_bo_export_fd(bo, false);
	if (fd >= 0) {
		void *data = mmap(NULL, (size_t)bo->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			fd, 0);
		alloc->caps.readonly_fd = data == MAP_FAILED && errno == EACCES &&
			dmab_fd_deny_reopen_write(fd);
		if (data != MAP_FAILED)
			munmap(data, (size_t)bo->size);
		close(fd);
	}
	dmab_bo_destroy(bo);
	return true;
}

static void finish_one(struct dmab_allocator *alloc)
{
	if (alloc->impl->finish != NULL)
		alloc->impl->finish(alloc);
	if (alloc->dev_fd >= 0)
		close(alloc->dev_fd);
	alloc->dev_fd = -1;
	alloc->priv = NULL;
}

static void probe(struct dmab_allocator *alloc, const struct dmab_allocator_impl *impl,
	const char *arg)
{
	*alloc = (struct dmab_allocator){ .impl = impl, .dev_fd = -1 };
	if (arg != NULL && !impl->takes_arg) {
		snprintf(alloc->detail, sizeof(alloc->detail), "takes no argument (got '%s')",
			arg);
		return;
	}
	if (!impl->probe(alloc, arg)) {
		alloc->caps = (struct dmab_alloc_caps){ 0 };
		return;
	}
	alloc->live = measure_readonly_fd(alloc);
	if (!alloc->live) {
		alloc->caps = (struct dmab_alloc_caps){ 0 };
		finish_one(alloc);
	}
}

static const struct dmab_allocator_impl *find_impl(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(impls); i++) {
		if (strlen(impls[i]->name) == len && strncmp(impls[i]->name, name, len) == 0)
			return impls[i];
	}
	return NULL;
}

static void unknown_error(const char *name, size_t len, char *err, size_t err_len)
{
	int n = snprintf(err, err_len, "unknown allocator '%.*s' (known: ", (int)len, name);
	for (size_t i = 0; i < ARRAY_LEN(impls) && n >= 0 && (size_t)n < err_len; i++) {
		n += snprintf(err + n, err_len - (size_t)n, "%s%s", i > 0 ? ", " : "",
			impls[i]->name);
	}
	if (n >= 0 && (size_t)n < err_len)
		snprintf(err + n, err_len - (size_t)n, ")");
}

static void name_set(struct dmab_allocator_set *set)
{
	if (set->selected != NULL) {
		snprintf(set->name, sizeof(set->name), "%s", set->selected->impl->name);
		return;
	}
	for (size_t i = 0; i < set->len; i++) {
		if (set->allocators[i].live) {
			snprintf(set->name, sizeof(set->name), "auto (%s)",
				set->allocators[i].impl->name);
			return;
		}
	}
	snprintf(set->name, sizeof(set->name), "auto (none)");
}

int dmab_alloc_set_init(struct dmab_allocator_set *set, const char *choice,
	char *err, size_t err_len)
{
	*set = (struct dmab_allocator_set){ 0 };
	const struct dmab_allocator_impl *chosen = NULL;
	const char *arg = NULL;
	if (choice != NULL && strcmp(choice, "auto") != 0) {
		size_t len = strcspn(choice, ":");
		if (strncmp(choice, "auto:", len + 1) == 0) {
			snprintf(err, err_len, "allocator 'auto' takes no argument (got '%s')",
				choice + len + 1);
			return -ENODEV;
		}
		chosen = find_impl(choice, len);
		if (chosen == NULL) {
			unknown_error(choice, len, err, err_len);
			return -ENODEV;
		}
		if (choice[len] == ':')
			arg = choice + len + 1;
	}

	for (size_t i = 0; i < ARRAY_LEN(impls); i++) {
		struct dmab_allocator *alloc = &set->allocators[set->len++];
		probe(alloc, impls[i], impls[i] == chosen ? arg : NULL);
		if (impls[i] == chosen)
			set->selected = alloc;
	}
	if (set->selected != NULL && !set->selected->live) {
		snprintf(err, err_len, "allocator '%s' is not available: %s", choice,
			set->selected->detail);
		dmab_alloc_set_finish(set);
		return -ENODEV;
	}
	name_set(set);
	return 0;
}

void dmab_alloc_set_finish(struct dmab_allocator_set *set)
{
	for (size_t i = 0; i < set->len; i++) {
		if (set->allocators[i].live)
			finish_one(&set->allocators[i]);
		set->allocators[i].live = false;
	}
	set->len = 0;
	set->selected = NULL;
}

static bool meets(const struct dmab_allocator *alloc, bool contiguous)
{
	return alloc->live && (!contiguous || alloc->caps.contiguous);
}

struct dmab_allocator *dmab_alloc_set_choose(struct dmab_allocator_set *set, bool contiguous)
{
	if (set->selected != NULL)
		return meets(set->selected, contiguous) ? set->selected : NULL;
	for (size_t i = 0; i < set->len; i++) {
		if (meets(&set->allocators[i], contiguous))
			return &set->allocators[i];
	}
	return NULL;
}

const char *dmab_alloc_set_name(const struct dmab_allocator_set *set)
{
	return set->name;
}
