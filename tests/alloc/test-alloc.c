/*
 * Allocator backends: the set, buffer objects and their fds, against the
 * backend named by $DMAB_TEST_ALLOCATOR (memfd by default; the kernel tier
 * runs udmabuf, dma-heap and drm-dumb in a guest that has them).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <xf86drm.h>

#include "alloc/alloc.h"
#include "harness.h"

static uint64_t page_size(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

static struct dmab_allocator *init_chosen(struct dmab_allocator_set *set)
{
	char err[256] = "";
	int ret = dmab_alloc_set_init(set, dmab_test_allocator(), err, sizeof(err));
	if (ret < 0)
		dmab_test_fail(__FILE__, __LINE__, "allocator '%s': %s", dmab_test_allocator(),
			err);
	struct dmab_allocator *alloc = dmab_alloc_set_choose(set, false);
	CHECK(alloc != NULL);
	return alloc;
}

static struct dmab_allocator *find(struct dmab_allocator_set *set, const char *name)
{
	for (size_t i = 0; i < set->len; i++) {
		if (strcmp(set->allocators[i].impl->name, name) == 0)
			return &set->allocators[i];
	}
	dmab_test_fail(__FILE__, __LINE__, "no allocator '%s' in the set", name);
}

static struct dmab_bo *allocate(struct dmab_allocator *alloc, uint64_t size)
{
	struct dmab_bo *bo = NULL;
	int ret = dmab_alloc_allocate(alloc, size, "test-alloc", &bo);
	if (ret < 0)
		dmab_test_fail(__FILE__, __LINE__, "%s: allocating %llu bytes: %s",
			alloc->impl->name, (unsigned long long)size, strerror(-ret));
	return bo;
}

static bool is_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);
	return flags >= 0 && (flags & FD_CLOEXEC);
}

/* lseek size discovery as an importer does it: SEEK_END, then back to 0. */
static long long seek_size(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	return end;
}

static uint8_t pattern(size_t i, uint8_t seed)
{
	return (uint8_t)(i * 31 + seed);
}

static void *map_fd(int fd, uint64_t size, int prot)
{
	void *data = mmap(NULL, (size_t)size, prot, MAP_SHARED, fd, 0);
	if (data == MAP_FAILED)
		dmab_test_fail(__FILE__, __LINE__, "mmap(prot %d): %s", prot, strerror(errno));
	return data;
}

/* Writes the pattern through the broker's mapping, inside a WRITE bracket. */
static void fill(struct dmab_bo *bo, uint8_t seed)
{
	uint8_t *data = dmab_bo_mmap(bo, true);
	CHECK(data != NULL);
	CHECK_EQ(dmab_bo_sync(bo, true, DMAB_CPU_WRITE), 0);
	for (size_t i = 0; i < bo->size; i++)
		data[i] = pattern(i, seed);
	CHECK_EQ(dmab_bo_sync(bo, false, DMAB_CPU_WRITE), 0);
	dmab_bo_munmap(bo, data);
}

/* Reads the pattern through a client's fd, inside a READ bracket if a dma-buf. */
static void expect_pattern(int fd, uint64_t size, uint8_t seed)
{
	bool dmabuf = dmab_fd_is_dmabuf(fd);
	const uint8_t *data = map_fd(fd, size, PROT_READ);
	if (dmabuf)
		CHECK_EQ(dmab_dmabuf_sync(fd, true, DMAB_CPU_READ), 0);
	for (size_t i = 0; i < size; i++) {
		if (data[i] != pattern(i, seed))
			dmab_test_fail(__FILE__, __LINE__, "byte %zu is %u, not %u", i, data[i],
				pattern(i, seed));
	}
	if (dmabuf)
		CHECK_EQ(dmab_dmabuf_sync(fd, false, DMAB_CPU_READ), 0);
	munmap((void *)data, (size_t)size);
}

/* The first device backend this machine lacks, or NULL. */
static const char *absent_backend(char *detail, size_t len)
{
	struct dmab_allocator_set set;
	char err[256];
	CHECK_EQ(dmab_alloc_set_init(&set, "auto", err, sizeof(err)), 0);
	const char *name = NULL;
	for (size_t i = 0; i < set.len && name == NULL; i++) {
		if (!set.allocators[i].live) {
			name = set.allocators[i].impl->name;
			snprintf(detail, len, "%s", set.allocators[i].detail);
		}
	}
	dmab_alloc_set_finish(&set);
	return name;
}

DMAB_TEST(set_init_chosen_is_live)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	const char *choice = dmab_test_allocator();
	if (strcmp(choice, "auto") != 0) {
		CHECK(set.selected == alloc);
		CHECK_EQ(strncmp(choice, alloc->impl->name, strlen(alloc->impl->name)), 0);
		CHECK_STR_EQ(dmab_alloc_set_name(&set), alloc->impl->name);
	}
	CHECK(alloc->live);
	CHECK(alloc->detail[0] != '\0');
	printf("# %s: %s; caps: dmabuf %d, contiguous %d, readonly_fd %d\n",
		alloc->impl->name, alloc->detail, alloc->caps.dmabuf, alloc->caps.contiguous,
		alloc->caps.readonly_fd);
	dmab_alloc_set_finish(&set);
}

DMAB_TEST(set_init_auto_prefers_dmabufs)
{
	const char *order[] = { "udmabuf", "dma-heap", "drm-dumb", "memfd" };
	const char *choices[] = { NULL, "auto" };
	for (size_t c = 0; c < 2; c++) {
		struct dmab_allocator_set set;
		char err[256];
		CHECK_EQ(dmab_alloc_set_init(&set, choices[c], err, sizeof(err)), 0);
		CHECK(set.selected == NULL);
		CHECK_EQ(set.len, 4);
		struct dmab_allocator *first_live = NULL;
		for (size_t i = 0; i < set.len; i++) {
			struct dmab_allocator *alloc = &set.allocators[i];
			CHECK_STR_EQ(alloc->impl->name, order[i]);
			CHECK(alloc->detail[0] != '\0');
			CHECK_EQ(alloc->dev_fd >= 0, alloc->live && alloc->caps.dmabuf);
			if (first_live == NULL && alloc->live)
				first_live = alloc;
		}
		CHECK(find(&set, "memfd")->live);
		CHECK(dmab_alloc_set_choose(&set, false) == first_live);
		char name[64];
		snprintf(name, sizeof(name), "auto (%s)", first_live->impl->name);
		CHECK_STR_EQ(dmab_alloc_set_name(&set), name);
		dmab_alloc_set_finish(&set);
		dmab_alloc_set_finish(&set);
	}
}

DMAB_TEST(set_init_unknown_allocator)
{
	struct dmab_allocator_set set;
	char err[256] = "";
	CHECK_EQ(dmab_alloc_set_init(&set, "bogus:arg", err, sizeof(err)), -ENODEV);
	CHECK_STR_EQ(err, "unknown allocator 'bogus' (known: udmabuf, dma-heap, drm-dumb, memfd)");
	CHECK_EQ(set.len, 0);
	CHECK_EQ(dmab_alloc_set_init(&set, "", err, sizeof(err)), -ENODEV);
	CHECK_STR_EQ(err, "unknown allocator '' (known: udmabuf, dma-heap, drm-dumb, memfd)");
	char tiny[8];
	CHECK_EQ(dmab_alloc_set_init(&set, "bogus", tiny, sizeof(tiny)), -ENODEV);
	CHECK_STR_EQ(tiny, "unknown");
}

DMAB_TEST(set_init_absent_allocator)
{
	char detail[160];
	const char *name = absent_backend(detail, sizeof(detail));
	if (name == NULL)
		dmab_test_skip("udmabuf, dma-heap and drm-dumb are all live here");
	struct dmab_allocator_set set;
	char err[256] = "", expected[256];
	CHECK_EQ(dmab_alloc_set_init(&set, name, err, sizeof(err)), -ENODEV);
	snprintf(expected, sizeof(expected), "allocator '%s' is not available: %s", name, detail);
	CHECK_STR_EQ(err, expected);
	CHECK_EQ(set.len, 0);
	printf("# %s\n", err);

	/* The set never hands out an absent backend, even asked directly. */
	CHECK_EQ(dmab_alloc_set_init(&set, "auto", err, sizeof(err)), 0);
	struct dmab_bo *bo = NULL;
	CHECK_EQ(dmab_alloc_allocate(find(&set, name), page_size(), "x", &bo), -ENODEV);
	CHECK(bo == NULL);
	dmab_alloc_set_finish(&set);
}

DMAB_TEST(set_init_udmabuf_absent_reason)
{
	if (access("/dev/udmabuf", F_OK) == 0)
		dmab_test_skip("/dev/udmabuf exists here");
	struct dmab_allocator_set set;
	char err[256] = "";
	CHECK_EQ(dmab_alloc_set_init(&set, "udmabuf", err, sizeof(err)), -ENODEV);
	CHECK_STR_EQ(err,
		"allocator 'udmabuf' is not available: /dev/udmabuf: No such file or directory");
}

DMAB_TEST(set_init_rejects_bad_arguments)
{
	struct dmab_allocator_set set;
	char err[256] = "";
	CHECK_EQ(dmab_alloc_set_init(&set, "memfd:x", err, sizeof(err)), -ENODEV);
	CHECK_STR_EQ(err, "allocator 'memfd:x' is not available: takes no argument (got 'x')");
	CHECK_EQ(dmab_alloc_set_init(&set, "udmabuf:", err, sizeof(err)), -ENODEV);
	CHECK_STR_EQ(err, "allocator 'udmabuf:' is not available: takes no argument (got '')");
	CHECK_EQ(dmab_alloc_set_init(&set, "auto:x", err, sizeof(err)), -ENODEV);
	CHECK_STR_EQ(err, "allocator 'auto' takes no argument (got 'x')");
	CHECK_EQ(dmab_alloc_set_init(&set, "dma-heap:../udmabuf", err, sizeof(err)), -ENODEV);
	CHECK_STR_EQ(err, "allocator 'dma-heap:../udmabuf' is not available: "
		"invalid heap name '../udmabuf'");
	CHECK_EQ(dmab_alloc_set_init(&set, "dma-heap:no-such-heap", err, sizeof(err)), -ENODEV);
	CHECK_STR_EQ(err, "allocator 'dma-heap:no-such-heap' is not available: "
		"/dev/dma_heap/no-such-heap: No such file or directory");
	CHECK_EQ(dmab_alloc_set_init(&set, "drm-dumb:/nonexistent", err, sizeof(err)), -ENODEV);
	CHECK_STR_EQ(err, "allocator 'drm-dumb:/nonexistent' is not available: "
		"/nonexistent: No such file or directory");
	CHECK_EQ(dmab_alloc_set_init(&set, "drm-dumb:/dev/null", err, sizeof(err)), -ENODEV);
	CHECK_STR_EQ(err, "allocator 'drm-dumb:/dev/null' is not available: "
		"/dev/null (unknown driver): no dumb buffers");
	CHECK_EQ(set.len, 0);
}

/* A probe must not keep a card's DRM master from a compositor on the same card. */
DMAB_TEST(set_init_drops_drm_master)
{
	struct dmab_allocator_set set;
	char err[256];
	CHECK_EQ(dmab_alloc_set_init(&set, "auto", err, sizeof(err)), 0);
	struct dmab_allocator *drm = find(&set, "drm-dumb");
	if (!drm->live) {
		dmab_alloc_set_finish(&set);
		dmab_test_skip("drm-dumb is not live here: %s", drm->detail);
	}
	CHECK(!drmIsMaster(drm->dev_fd));
	dmab_alloc_set_finish(&set);
}

DMAB_TEST(set_choose_contiguous)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	struct dmab_allocator *contiguous = dmab_alloc_set_choose(&set, true);
	if (set.selected != NULL) {
		CHECK(contiguous == (alloc->caps.contiguous ? alloc : NULL));
	} else {
		CHECK(contiguous == NULL || (contiguous->live && contiguous->caps.contiguous));
	}
	dmab_alloc_set_finish(&set);

	/* memfd never is, and nothing falls back from it. */
	char err[256];
	CHECK_EQ(dmab_alloc_set_init(&set, "memfd", err, sizeof(err)), 0);
	CHECK(dmab_alloc_set_choose(&set, true) == NULL);
	CHECK(dmab_alloc_set_choose(&set, false) == find(&set, "memfd"));
	dmab_alloc_set_finish(&set);

	/* The system heap is not CMA. */
	CHECK_EQ(dmab_alloc_set_init(&set, "auto", err, sizeof(err)), 0);
	CHECK(!find(&set, "dma-heap")->caps.contiguous);
	dmab_alloc_set_finish(&set);
}

DMAB_TEST(allocate_rounds_to_pages)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	uint64_t page = page_size();
	const uint64_t sizes[] = { 1, page - 1, page, page + 1, 3 * page + 5, 1 << 20,
		(1 << 20) + 1 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct dmab_bo *bo = allocate(alloc, sizes[i]);
		uint64_t expected = (sizes[i] + page - 1) / page * page;
		/* A DRM driver may pad a dumb buffer; the others are exact. */
		if (strcmp(alloc->impl->name, "drm-dumb") == 0)
			CHECK(bo->size >= expected && bo->size % page == 0);
		else
			CHECK_EQ(bo->size, expected);
		CHECK_EQ(seek_size(bo->fd), bo->size);
		CHECK(bo->allocator == alloc);
		CHECK_EQ(bo->is_dmabuf, alloc->caps.dmabuf);
		CHECK_EQ(bo->readonly_fd, alloc->caps.readonly_fd);
		dmab_bo_destroy(bo);
	}
	dmab_alloc_set_finish(&set);
}

DMAB_TEST(allocate_rejects_bad_sizes)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	struct dmab_bo *bo = NULL;
	CHECK_EQ(dmab_alloc_allocate(alloc, 0, "x", &bo), -EINVAL);
	CHECK_EQ(dmab_alloc_allocate(alloc, UINT64_MAX, "x", &bo), -EOVERFLOW);
	CHECK_EQ(dmab_alloc_allocate(alloc, INT64_MAX, "x", &bo), -EOVERFLOW);
	CHECK(bo == NULL);
	CHECK_EQ(dmab_memfd_create_sealed("x", 0), -EINVAL);
	CHECK_EQ(dmab_memfd_create_sealed("x", UINT64_MAX), -EOVERFLOW);
	dmab_alloc_set_finish(&set);
}

static uint64_t udmabuf_limit(void)
{
	FILE *f = fopen("/sys/module/udmabuf/parameters/size_limit_mb", "re");
	unsigned long long mib = 0;
	if (f != NULL) {
		if (fscanf(f, "%llu", &mib) != 1)
			mib = 0;
		fclose(f);
	}
	return (uint64_t)mib << 20;
}

/* Sizes the backend cannot hold are -EFBIG, said before the kernel says EINVAL. */
DMAB_TEST(allocate_over_backend_limit)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	uint64_t limit = 0;
	if (strcmp(alloc->impl->name, "udmabuf") == 0)
		limit = udmabuf_limit();
	else if (strcmp(alloc->impl->name, "drm-dumb") == 0)
		limit = UINT32_MAX; /* the DRM core sizes dumb buffers in 32 bits */
	if (limit == 0) {
		dmab_alloc_set_finish(&set);
		dmab_test_skip("%s has no size limit of its own", alloc->impl->name);
	}
	struct dmab_bo *bo = NULL;
	CHECK_EQ(dmab_alloc_allocate(alloc, limit + 1, "x", &bo), -EFBIG);
	CHECK(bo == NULL);
	dmab_alloc_set_finish(&set);
}

DMAB_TEST(allocate_takes_any_name)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	char long_name[1024];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	const char *names[] = { NULL, "", "a/b c", long_name };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct dmab_bo *bo = NULL;
		CHECK_EQ(dmab_alloc_allocate(alloc, 1, names[i], &bo), 0);
		dmab_bo_destroy(bo);
	}
	dmab_alloc_set_finish(&set);
}

/* A dma-buf carries the buffer's name, as the kernel's bufinfo shows it. */
DMAB_TEST(allocate_names_dmabufs)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	if (!alloc->caps.dmabuf)
		dmab_test_skip("%s buffers are not dma-bufs", alloc->impl->name);
	struct dmab_bo *bo = NULL;
	CHECK_EQ(dmab_alloc_allocate(alloc, 1, "frame-0123456789-0123456789-0123456789", &bo), 0);
	char path[64], line[256], name[64] = "";
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", bo->fd);
	FILE *f = fopen(path, "re");
	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		sscanf(line, "name: %63s", name);
	fclose(f);
	CHECK_STR_EQ(name, "frame-0123456789-0123456789-012");
	dmab_bo_destroy(bo);
	dmab_alloc_set_finish(&set);
}

DMAB_TEST(fds_are_cloexec)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	for (size_t i = 0; i < set.len; i++) {
		if (set.allocators[i].dev_fd >= 0)
			CHECK(is_cloexec(set.allocators[i].dev_fd));
	}
	struct dmab_bo *bo = allocate(alloc, 3 * page_size());
	CHECK(is_cloexec(bo->fd));
	for (int writable = 0; writable < 2; writable++) {
		int fd = dmab_bo_export_fd(bo, writable);
		CHECK(fd >= 0);
		CHECK(is_cloexec(fd));
		CHECK_EQ(seek_size(fd), bo->size);
		close(fd);
	}

	/* An import is made close-on-exec, whatever the client sent. */
	int fd = dmab_bo_export_fd(bo, true);
	CHECK(fd >= 0);
	CHECK_EQ(fcntl(fd, F_SETFD, 0), 0);
	struct dmab_bo *imported = NULL;
	CHECK_EQ(dmab_bo_import(fd, &imported), 0);
	CHECK(is_cloexec(imported->fd));
	dmab_bo_destroy(imported);

	int memfd = dmab_memfd_create_sealed("x", 1);
	CHECK(memfd >= 0);
	CHECK(is_cloexec(memfd));
	close(memfd);
	dmab_bo_destroy(bo);
	dmab_alloc_set_finish(&set);
}

static void check_sealed(int fd, uint64_t size)
{
	int seals = fcntl(fd, F_GET_SEALS);
	CHECK(seals >= 0);
	CHECK_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
		F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	CHECK_EQ(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE), 0);
	errno = 0;
	CHECK_EQ(ftruncate(fd, (off_t)size + (off_t)page_size()), -1);
	CHECK_EQ(errno, EPERM);
	errno = 0;
	CHECK_EQ(ftruncate(fd, (off_t)size - (off_t)page_size()), -1);
	CHECK_EQ(errno, EPERM);
	errno = 0;
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	CHECK_EQ(errno, EPERM);
	CHECK_EQ(seek_size(fd), size);
}

DMAB_TEST(memfd_is_sealed)
{
	uint64_t size = 2 * page_size();
	int fd = dmab_memfd_create_sealed("sealed", size - 10);
	CHECK(fd >= 0);
	check_sealed(fd, size);
	close(fd);

	/* memfd is live whatever the chosen backend is. */
	struct dmab_allocator_set set;
	init_chosen(&set);
	struct dmab_bo *bo = allocate(find(&set, "memfd"), size);
	CHECK(!bo->is_dmabuf);
	check_sealed(bo->fd, size);
	/* The seals are the inode's: a read-only export shares them. */
	fd = dmab_bo_export_fd(bo, false);
	CHECK(fd >= 0);
	CHECK_EQ(fcntl(fd, F_GET_SEALS), fcntl(bo->fd, F_GET_SEALS));
	close(fd);
	dmab_bo_destroy(bo);
	dmab_alloc_set_finish(&set);
}

DMAB_TEST(readonly_export_refuses_write)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	struct dmab_bo *bo = allocate(alloc, 5 * page_size());
	fill(bo, 7);
	int fd = dmab_bo_export_fd(bo, false);
	CHECK(fd >= 0);
	CHECK_EQ(seek_size(fd), bo->size);
	expect_pattern(fd, bo->size, 7);
	if (!alloc->caps.readonly_fd) {
		close(fd);
		dmab_bo_destroy(bo);
		dmab_alloc_set_finish(&set);
		dmab_test_skip("%s: read-only fds are not enforced (caps.readonly_fd false)",
			alloc->impl->name);
	}
	CHECK(bo->readonly_fd);
	CHECK_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	errno = 0;
	CHECK(mmap(NULL, (size_t)bo->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
		MAP_FAILED);
	CHECK_EQ(errno, EACCES);
	void *data = map_fd(fd, bo->size, PROT_READ);
	errno = 0;
	CHECK_EQ(mprotect(data, (size_t)bo->size, PROT_READ | PROT_WRITE), -1);
	CHECK_EQ(errno, EACCES);
	munmap(data, (size_t)bo->size);
	errno = 0;
	CHECK_EQ(write(fd, "x", 1), -1);
	CHECK_EQ(errno, EBADF);
	close(fd);
	dmab_bo_destroy(bo);
	dmab_alloc_set_finish(&set);
}

/* Whatever the chosen backend, memfd's read-only fds are enforced (DESIGN.md). */
DMAB_TEST(memfd_readonly_is_enforced)
{
	struct dmab_allocator_set set;
	init_chosen(&set);
	struct dmab_allocator *memfd = find(&set, "memfd");
	CHECK(memfd->caps.readonly_fd);
	struct dmab_bo *bo = allocate(memfd, page_size());
	CHECK(bo->readonly_fd);
	int fd = dmab_bo_export_fd(bo, false);
	CHECK(fd >= 0);
	errno = 0;
	CHECK(mmap(NULL, (size_t)bo->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
		MAP_FAILED);
	CHECK_EQ(errno, EACCES);
	close(fd);
	dmab_bo_destroy(bo);
	dmab_alloc_set_finish(&set);
}

/* The caps tell the truth about what a read-only export does on this kernel. */
DMAB_TEST(readonly_caps_match_kernel)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	struct dmab_bo *bo = allocate(alloc, page_size());
	int fd = dmab_bo_export_fd(bo, false);
	CHECK(fd >= 0);
	CHECK_EQ(dmab_fd_is_dmabuf(fd), bo->is_dmabuf && bo->view_fd < 0);
	int reopened = dmab_fd_reopen_readonly(bo->fd);
	if (reopened >= 0)
		close(reopened);
	void *data = mmap(NULL, (size_t)bo->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int err = errno;
	printf("# %s: reopen of /proc/self/fd/N: %s; read-only export: access mode %s, "
		"mmap(PROT_WRITE, MAP_SHARED) %s\n", alloc->impl->name,
		reopened >= 0 ? "succeeds" : strerror(-reopened),
		(fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY ? "O_RDONLY" : "O_RDWR",
		data == MAP_FAILED ? strerror(err) : "succeeds");
	CHECK_EQ(data == MAP_FAILED && err == EACCES, alloc->caps.readonly_fd);
	if (data != MAP_FAILED)
		munmap(data, (size_t)bo->size);
	close(fd);
	dmab_bo_destroy(bo);
	dmab_alloc_set_finish(&set);
}

DMAB_TEST(writable_export_is_coherent)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	struct dmab_bo *bo = allocate(alloc, 4 * page_size() + 1);
	int fd = dmab_bo_export_fd(bo, true);
	CHECK(fd >= 0);
	CHECK_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	CHECK_EQ(seek_size(fd), bo->size);

	/* broker → client */
	fill(bo, 3);
	expect_pattern(fd, bo->size, 3);

	/* client → broker */
	uint8_t *client = map_fd(fd, bo->size, PROT_READ | PROT_WRITE);
	if (bo->is_dmabuf)
		CHECK_EQ(dmab_dmabuf_sync(fd, true, DMAB_CPU_WRITE), 0);
	for (size_t i = 0; i < bo->size; i++)
		client[i] = pattern(i, 11);
	if (bo->is_dmabuf)
		CHECK_EQ(dmab_dmabuf_sync(fd, false, DMAB_CPU_WRITE), 0);
	const uint8_t *broker = dmab_bo_mmap(bo, false);
	CHECK(broker != NULL);
	CHECK_EQ(dmab_bo_sync(bo, true, DMAB_CPU_READ), 0);
	CHECK_EQ(memcmp(broker, client, (size_t)bo->size), 0);
	CHECK_EQ(dmab_bo_sync(bo, false, DMAB_CPU_READ), 0);
	dmab_bo_munmap(bo, (void *)broker);
	munmap(client, (size_t)bo->size);
	close(fd);
	dmab_bo_destroy(bo);
	dmab_alloc_set_finish(&set);
}

/* A client's fd keeps the storage alive after the broker lets go of it. */
DMAB_TEST(export_outlives_bo)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	struct dmab_bo *bo = allocate(alloc, 2 * page_size());
	uint64_t size = bo->size;
	fill(bo, 5);
	int rw = dmab_bo_export_fd(bo, true);
	int ro = dmab_bo_export_fd(bo, false);
	CHECK(rw >= 0 && ro >= 0);
	dmab_bo_destroy(bo);
	dmab_alloc_set_finish(&set);
	expect_pattern(ro, size, 5);
	expect_pattern(rw, size, 5);
	close(ro);
	close(rw);
}

DMAB_TEST(sync_both_directions)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	struct dmab_bo *bo = allocate(alloc, page_size());
	const uint32_t dirs[] = { DMAB_CPU_READ, DMAB_CPU_WRITE, DMAB_CPU_READ | DMAB_CPU_WRITE };
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ(dmab_bo_sync(bo, true, dirs[i]), 0);
		CHECK_EQ(dmab_bo_sync(bo, false, dirs[i]), 0);
	}
	CHECK_EQ(dmab_bo_sync(bo, true, 0), -EINVAL);
	CHECK_EQ(dmab_bo_sync(bo, true, 4), -EINVAL);
	CHECK_EQ(dmab_bo_sync(bo, false, DMAB_CPU_READ | 8), -EINVAL);
	if (!bo->is_dmabuf) {
		dmab_bo_destroy(bo);
		dmab_alloc_set_finish(&set);
		dmab_test_skip("%s buffers are not dma-bufs: no DMA_BUF_IOCTL_SYNC to check",
			alloc->impl->name);
	}
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ(dmab_dmabuf_sync(bo->fd, true, dirs[i]), 0);
		CHECK_EQ(dmab_dmabuf_sync(bo->fd, false, dirs[i]), 0);
	}
	/* The kernel checks the flags too: a direction is required, no unknown bits. */
	struct dma_buf_sync bad[] = {
		{ .flags = DMA_BUF_SYNC_START },
		{ .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ | (1 << 3) },
	};
	for (size_t i = 0; i < 2; i++) {
		errno = 0;
		CHECK_EQ(ioctl(bo->fd, DMA_BUF_IOCTL_SYNC, &bad[i]), -1);
		CHECK_EQ(errno, EINVAL);
	}
	dmab_bo_destroy(bo);
	dmab_alloc_set_finish(&set);
}

DMAB_TEST(sync_is_noop_on_memfd)
{
	int fd = dmab_memfd_create_sealed("x", 1);
	CHECK(fd >= 0);
	struct dmab_bo *bo = NULL;
	CHECK_EQ(dmab_bo_import(fd, &bo), 0);
	CHECK_EQ(dmab_bo_sync(bo, true, DMAB_CPU_READ | DMAB_CPU_WRITE), 0);
	CHECK_EQ(dmab_bo_sync(bo, false, DMAB_CPU_READ | DMAB_CPU_WRITE), 0);
	CHECK_EQ(dmab_bo_sync(bo, false, 0), -EINVAL);
	/* The helper itself does not pretend: a memfd has no DMA_BUF_IOCTL_SYNC. */
	CHECK_EQ(dmab_dmabuf_sync(bo->fd, true, DMAB_CPU_READ), -ENOTTY);
	dmab_bo_destroy(bo);
}

DMAB_TEST(import_sealed_memfd)
{
	uint64_t page = page_size();
	int fd = dmab_memfd_create_sealed("client", 2 * page + 1);
	CHECK(fd >= 0);
	struct dmab_bo *bo = NULL;
	CHECK_EQ(dmab_bo_import(fd, &bo), 0);
	CHECK(bo->allocator == NULL);
	CHECK_EQ(bo->fd, fd);
	CHECK_EQ(bo->size, 3 * page);
	CHECK(!bo->is_dmabuf);
	CHECK(bo->readonly_fd);
	fill(bo, 9);
	int ro = dmab_bo_export_fd(bo, false);
	CHECK(ro >= 0);
	CHECK_EQ(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
	expect_pattern(ro, bo->size, 9);
	close(ro);
	dmab_bo_destroy(bo);
}

DMAB_TEST(import_dmabuf)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	if (!alloc->caps.dmabuf) {
		dmab_alloc_set_finish(&set);
		dmab_test_skip("%s buffers are not dma-bufs", alloc->impl->name);
	}
	struct dmab_bo *bo = allocate(alloc, 3 * page_size());
	fill(bo, 13);
	struct dmab_bo *imported = NULL;
	CHECK_EQ(dmab_bo_import(dmab_bo_export_fd(bo, true), &imported), 0);
	CHECK(imported->allocator == NULL);
	CHECK(imported->is_dmabuf);
	CHECK_EQ(imported->size, bo->size);
	/* A client's dma-buf has no memfd view: its read-only export is a duplicate. */
	CHECK(!imported->readonly_fd);
	CHECK_EQ(imported->view_fd, -1);
	CHECK_EQ(dmab_bo_sync(imported, true, DMAB_CPU_READ), 0);
	CHECK_EQ(dmab_bo_sync(imported, false, DMAB_CPU_READ), 0);
	int fd = dmab_bo_export_fd(imported, false);
	CHECK(fd >= 0);
	expect_pattern(fd, imported->size, 13);
	close(fd);
	dmab_bo_destroy(imported);
	dmab_bo_destroy(bo);
	dmab_alloc_set_finish(&set);
}

/* Failed imports consume the fd too: the harness counts fds. */
DMAB_TEST(import_pipe_fails)
{
	int fds[2];
	CHECK_EQ(pipe2(fds, O_CLOEXEC), 0);
	struct dmab_bo *bo = NULL;
	CHECK_EQ(dmab_bo_import(fds[0], &bo), -ESPIPE);
	CHECK(bo == NULL);
	CHECK(!dmab_fd_is_dmabuf(fds[1]));
	close(fds[1]);
	CHECK_EQ(fcntl(fds[0], F_GETFD), -1);
}

DMAB_TEST(import_empty_fails)
{
	int fd = memfd_create("empty", MFD_CLOEXEC);
	CHECK(fd >= 0);
	struct dmab_bo *bo = NULL;
	CHECK_EQ(dmab_bo_import(fd, &bo), -EINVAL);
	CHECK(bo == NULL);
	CHECK_EQ(dmab_bo_import(-1, &bo), -EBADF);
}

DMAB_TEST(is_dmabuf_detects_dmabufs_only)
{
	int fd = dmab_memfd_create_sealed("x", 1);
	CHECK(fd >= 0);
	CHECK(!dmab_fd_is_dmabuf(fd));
	close(fd);
	int fds[2];
	CHECK_EQ(pipe2(fds, O_CLOEXEC), 0);
	CHECK(!dmab_fd_is_dmabuf(fds[0]));
	close(fds[0]);
	close(fds[1]);
	CHECK(!dmab_fd_is_dmabuf(-1));

	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	struct dmab_bo *bo = allocate(alloc, 1);
	CHECK_EQ(dmab_fd_is_dmabuf(bo->fd), alloc->caps.dmabuf);
	CHECK_EQ(bo->is_dmabuf, alloc->caps.dmabuf);
	dmab_bo_destroy(bo);
	dmab_alloc_set_finish(&set);
}

DMAB_TEST(mmap_failure_sets_errno)
{
	int fd = dmab_memfd_create_sealed("x", 1);
	CHECK(fd >= 0);
	struct dmab_bo *bo = NULL;
	CHECK_EQ(dmab_bo_import(dmab_fd_reopen_readonly(fd), &bo), 0);
	close(fd);
	errno = 0;
	CHECK(dmab_bo_mmap(bo, true) == NULL);
	CHECK_EQ(errno, EACCES);
	void *data = dmab_bo_mmap(bo, false);
	CHECK(data != NULL);
	dmab_bo_munmap(bo, data);
	dmab_bo_munmap(bo, NULL);
	dmab_bo_destroy(bo);
	dmab_bo_destroy(NULL);
}

int main(int argc, char *argv[])
{
	return dmab_test_main(argc, argv);
}

/* A memfd is born 0777; with no write bit only root and its owner can reopen it writable. */
DMAB_TEST(memfd_mode_denies_reopen_write)
{
	struct stat st;
	int fd = dmab_memfd_create_sealed("mode", 1);
	CHECK(fd >= 0);
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0400);
	CHECK(dmab_fd_deny_reopen_write(fd));
	close(fd);

	/* A client's memfd loses its write bits, and keeps the rest. */
	fd = memfd_create("client", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, (off_t)page_size()), 0);
	CHECK_EQ(fchmod(fd, 0664), 0);
	struct dmab_bo *bo = NULL;
	CHECK_EQ(dmab_bo_import(fd, &bo), 0);
	CHECK(bo->readonly_fd);
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0444);
	dmab_bo_destroy(bo);

	/* A write seal is enough: the mode is left alone. */
	fd = memfd_create("sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(fd >= 0);
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
	CHECK(dmab_fd_deny_reopen_write(fd));
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ(st.st_mode & 0222, 0222);
	close(fd);
}

/*
 * udmabuf exports every dma-buf O_RDWR, so a read-only export is an O_RDONLY
 * reopen of the memfd under it: the same pages, and no dma-buf.
 */
DMAB_TEST(udmabuf_readonly_export_is_its_memfd)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	if (strcmp(alloc->impl->name, "udmabuf") != 0) {
		dmab_alloc_set_finish(&set);
		dmab_test_skip("the allocator is %s", alloc->impl->name);
	}
	CHECK(alloc->caps.readonly_fd);
	struct dmab_bo *bo = allocate(alloc, 3 * page_size());
	CHECK(bo->is_dmabuf);
	CHECK(bo->readonly_fd);
	CHECK(bo->view_fd >= 0);
	CHECK(is_cloexec(bo->view_fd));
	CHECK_EQ(fcntl(bo->view_fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	fill(bo, 17);
	int ro = dmab_bo_export_fd(bo, false);
	CHECK(ro >= 0);
	CHECK(!dmab_fd_is_dmabuf(ro));
	CHECK(is_cloexec(ro));
	CHECK_EQ(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
	CHECK(fcntl(ro, F_GET_SEALS) & F_SEAL_SHRINK);
	struct stat st;
	CHECK_EQ(fstat(ro, &st), 0);
	CHECK_EQ(st.st_mode & 0222, 0);
	CHECK_EQ(seek_size(ro), bo->size);
	expect_pattern(ro, bo->size, 17);
	/* A write through the dma-buf shows in the view at once. */
	fill(bo, 19);
	expect_pattern(ro, bo->size, 19);
	close(ro);
	dmab_bo_destroy(bo);
	dmab_alloc_set_finish(&set);
}

/*
 * With RLIMIT_NOFILE at 128 the headroom is 32 fds: once every slot below fd
 * 96 is taken, storage, exports and imports fail with EMFILE and leave the
 * slots above free.
 */
DMAB_TEST(fd_headroom_keeps_the_top_slots_free)
{
	struct dmab_allocator_set set;
	struct dmab_allocator *alloc = init_chosen(&set);
	struct dmab_bo *bo = allocate(alloc, 4096);
	struct rlimit saved, low = { .rlim_cur = 128 };
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low.rlim_max = saved.rlim_max;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	struct dmab_fd_limit limit;
	dmab_fd_limit_get(&limit);
	CHECK_EQ(limit.limit, 128);
	CHECK_EQ(limit.headroom, 32);
	CHECK_EQ(limit.line, 96);

	int fillers[128];
	int len = 0;
	for (;;) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		CHECK(fd >= 0 && fd < 96);
		fillers[len++] = fd;
		if (fd == 95) {
			break;
		}
	}
	struct dmab_bo *refused = NULL;
	CHECK_EQ(dmab_alloc_allocate(alloc, 4096, "over", &refused), -EMFILE);
	CHECK(refused == NULL);
	CHECK_EQ(dmab_bo_export_fd(bo, false), -EMFILE);
	CHECK_EQ(dmab_bo_export_fd(bo, true), -EMFILE);
	int client = dmab_memfd_create_sealed("client", 4096);
	CHECK_EQ(client, 96);
	CHECK_EQ(dmab_bo_import(client, &refused), -EMFILE);
	CHECK_EQ(fcntl(client, F_GETFD), -1);
	/* Nothing was left in the headroom: its first slot is free. */
	int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK_EQ(probe, 96);
	close(probe);

	close(fillers[--len]);
	int exported = dmab_bo_export_fd(bo, true);
	CHECK_EQ(exported, 95);
	close(exported);
	dmab_bo_destroy(bo);
	while (len > 0) {
		close(fillers[--len]);
	}
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
	dmab_alloc_set_finish(&set);
}
