/* SPDX-License-Identifier: MIT */
/* Validation of create_buffer and import_dmabuf requests, at their boundaries. */
#include <drm_fourcc.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

static struct dmab_buffer_desc desc_of(uint32_t width, uint32_t height, uint32_t format)
{
	return (struct dmab_buffer_desc){ .width = width, .height = height, .format = format };
}

static enum dmab_misuse check_desc(struct dmab_core *core, struct dmab_buffer_desc desc)
{
	struct dmab_misuse_report report = { .misuse = DMAB_MISUSE_NONE };
	bool ok = dmab_buffer_desc_check(core, &desc, &report);
	CHECK_EQ(ok, report.misuse == DMAB_MISUSE_NONE);
	CHECK(ok || report.message[0] != '\0');
	return report.misuse;
}

DMAB_TEST(desc_formats)
{
	struct dmab_core *core = test_core_create(NULL);
	size_t len;
	const uint32_t *formats = dmab_core_get_formats(&len);
	CHECK_EQ(len, 10);
	for (size_t i = 0; i < len; i++) {
		CHECK(dmab_format_get(formats[i]) != NULL);
		CHECK_EQ(check_desc(core, desc_of(1, 1, formats[i])), DMAB_MISUSE_NONE);
	}
	CHECK_EQ(check_desc(core, desc_of(1, 1, 0)), DMAB_MISUSE_INVALID_FORMAT);
	CHECK_EQ(check_desc(core, desc_of(1, 1, DRM_FORMAT_NV16)), DMAB_MISUSE_INVALID_FORMAT);
	struct dmab_misuse_report report;
	struct dmab_buffer_desc nv16 = desc_of(1, 1, DRM_FORMAT_NV16);
	CHECK(!dmab_buffer_desc_check(core, &nv16, &report));
	CHECK_STR_EQ(report.message, "format 0x3631564e is not supported");
	dmab_core_destroy(core);
}

DMAB_TEST(desc_dimensions)
{
	struct dmab_core *core = test_core_create(NULL);
	uint32_t argb = DRM_FORMAT_ARGB8888;
	CHECK_EQ(check_desc(core, desc_of(0, 1, argb)), DMAB_MISUSE_INVALID_SIZE);
	CHECK_EQ(check_desc(core, desc_of(1, 0, argb)), DMAB_MISUSE_INVALID_SIZE);
	CHECK_EQ(check_desc(core, desc_of(16384, 1, argb)), DMAB_MISUSE_NONE);
	CHECK_EQ(check_desc(core, desc_of(16385, 1, argb)), DMAB_MISUSE_INVALID_SIZE);
	CHECK_EQ(check_desc(core, desc_of(1, 16384, argb)), DMAB_MISUSE_NONE);
	CHECK_EQ(check_desc(core, desc_of(1, 16385, argb)), DMAB_MISUSE_INVALID_SIZE);
	CHECK_EQ(check_desc(core, desc_of(UINT32_MAX, UINT32_MAX, argb)),
		DMAB_MISUSE_INVALID_SIZE);

	/* 16384 x 8192 x 4 is exactly the 512 MiB default; one row more is not. */
	CHECK_EQ(check_desc(core, desc_of(16384, 8192, argb)), DMAB_MISUSE_NONE);
	CHECK_EQ(check_desc(core, desc_of(16384, 8193, argb)), DMAB_MISUSE_INVALID_SIZE);
	CHECK_EQ(check_desc(core, desc_of(16384, 16384, argb)), DMAB_MISUSE_INVALID_SIZE);
	struct dmab_misuse_report report;
	struct dmab_buffer_desc big = desc_of(16384, 16384, argb);
	CHECK(!dmab_buffer_desc_check(core, &big, &report));
	CHECK(strstr(report.message, "1073741824") != NULL);
	CHECK(strstr(report.message, "536870912") != NULL);
	CHECK_EQ(check_desc(core, desc_of(16384, 16384, DRM_FORMAT_RGB565)), DMAB_MISUSE_NONE);
	dmab_core_destroy(core);

	core = test_core_create(&(struct dmab_limits){ .max_bytes = 1ull << 30 });
	CHECK_EQ(check_desc(core, desc_of(16384, 16384, argb)), DMAB_MISUSE_NONE);
	dmab_core_destroy(core);
}

DMAB_TEST(desc_sizes_are_computed_in_64_bits)
{
	struct dmab_core *core = test_core_create(&(struct dmab_limits){
		.max_width = UINT32_MAX, .max_height = UINT32_MAX, .max_bytes = UINT64_MAX,
	});
	uint32_t argb = DRM_FORMAT_ARGB8888;
	/* 32768 x 32768 x 4 is 2^32, which is 0 in 32 bits. */
	CHECK_EQ(check_desc(core, desc_of(32768, 32768, argb)), DMAB_MISUSE_INVALID_SIZE);
	CHECK_EQ(check_desc(core, desc_of(32768, 32767, argb)), DMAB_MISUSE_NONE);
	/* A stride beyond 32 bits, and a stride that is fine with a plane beyond. */
	CHECK_EQ(check_desc(core, desc_of(1u << 30, 1, argb)), DMAB_MISUSE_INVALID_SIZE);
	CHECK_EQ(check_desc(core, desc_of((1u << 30) - 16, 1, argb)), DMAB_MISUSE_NONE);
	CHECK_EQ(check_desc(core, desc_of((1u << 30) - 16, 2, argb)), DMAB_MISUSE_INVALID_SIZE);
	CHECK_EQ(check_desc(core, desc_of(UINT32_MAX, UINT32_MAX, argb)),
		DMAB_MISUSE_INVALID_SIZE);
	CHECK_EQ(check_desc(core, desc_of(UINT32_MAX, 1, DRM_FORMAT_RGB565)),
		DMAB_MISUSE_INVALID_SIZE);
	dmab_core_destroy(core);
}

DMAB_TEST(desc_usage_and_name)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_buffer_desc desc = desc_of(8, 8, DRM_FORMAT_XRGB8888);
	desc.usage = DMAB_USAGE_ALL;
	CHECK_EQ(check_desc(core, desc), DMAB_MISUSE_NONE);
	desc.usage = 16;
	CHECK_EQ(check_desc(core, desc), DMAB_MISUSE_INVALID_USAGE);
	desc.usage = 1u << 31 | 1;
	CHECK_EQ(check_desc(core, desc), DMAB_MISUSE_INVALID_USAGE);
	desc.usage = 0;

	char name[80];
	memset(name, 'n', sizeof(name));
	name[63] = '\0';
	desc.name = name;
	CHECK_EQ(check_desc(core, desc), DMAB_MISUSE_NONE);
	name[63] = 'n';
	name[64] = '\0';
	CHECK_EQ(check_desc(core, desc), DMAB_MISUSE_INVALID_NAME);
	name[79] = '\0';
	CHECK_EQ(check_desc(core, desc), DMAB_MISUSE_INVALID_NAME);
	desc.name = NULL;
	CHECK_EQ(check_desc(core, desc), DMAB_MISUSE_NONE);
	desc.name = "";
	CHECK_EQ(check_desc(core, desc), DMAB_MISUSE_NONE);
	dmab_core_destroy(core);
}

DMAB_TEST(constraints_check)
{
	struct dmab_misuse_report r;
	struct dmab_constraints c = { .max_planes = 1 };
	CHECK(dmab_constraints_check(DMAB_ACCESS_READ, &c, &r));
	CHECK(dmab_constraints_check(DMAB_ACCESS_READ_WRITE, &c, &r));
	CHECK(!dmab_constraints_check(0, &c, &r));
	CHECK_EQ(r.misuse, DMAB_MISUSE_INVALID_ACCESS);
	CHECK(!dmab_constraints_check(2, &c, &r));
	CHECK_EQ(r.misuse, DMAB_MISUSE_INVALID_ACCESS);
	CHECK(!dmab_constraints_check(4, &c, &r));
	CHECK_EQ(r.misuse, DMAB_MISUSE_INVALID_ACCESS);

	const uint32_t good[] = { 0, 1, 2, 64, 256, 4096 };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		c.row_alignment = good[i];
		CHECK(dmab_constraints_check(DMAB_ACCESS_READ, &c, &r));
	}
	const uint32_t bad[] = { 3, 96, 8192, 1u << 31, UINT32_MAX };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.row_alignment = bad[i];
		CHECK(!dmab_constraints_check(DMAB_ACCESS_READ, &c, &r));
		CHECK_EQ(r.misuse, DMAB_MISUSE_INVALID_CONSTRAINTS);
	}
	c.row_alignment = 0;
	c.flags = DMAB_CONSTRAINT_CONTIGUOUS;
	CHECK(dmab_constraints_check(DMAB_ACCESS_READ, &c, &r));
	c.flags = 2;
	CHECK(!dmab_constraints_check(DMAB_ACCESS_READ, &c, &r));
	CHECK_EQ(r.misuse, DMAB_MISUSE_INVALID_CONSTRAINTS);
	c.flags = 0;
	c.max_planes = 0;
	CHECK(!dmab_constraints_check(DMAB_ACCESS_READ, &c, &r));
	CHECK_EQ(r.misuse, DMAB_MISUSE_INVALID_CONSTRAINTS);
	CHECK_STR_EQ(r.message, "max_planes is 0");
	c.max_planes = 4;
	CHECK(dmab_constraints_check(DMAB_ACCESS_READ, &c, &r));
}

/* --- import_dmabuf --- */

static struct dmab_import_desc import_of(uint32_t width, uint32_t height, uint32_t stride,
	uint32_t offset)
{
	return (struct dmab_import_desc){
		.width = width,
		.height = height,
		.format = DRM_FORMAT_ARGB8888,
		.n_planes = 1,
		.planes = { { offset, stride } },
	};
}

static enum dmab_misuse check_import(struct dmab_core *core, int fd,
	struct dmab_import_desc desc)
{
	struct dmab_misuse_report report = { .misuse = DMAB_MISUSE_NONE };
	bool ok = dmab_import_desc_check(core, fd, &desc, &report);
	CHECK_EQ(ok, report.misuse == DMAB_MISUSE_NONE);
	return report.misuse;
}

DMAB_TEST(import_needs_a_sealed_memfd)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_import_desc desc = import_of(16, 16, 64, 0);
	int sealed = test_memfd(4096, F_SEAL_SHRINK);
	int all_seals = test_memfd(4096, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	int unsealed = test_memfd(4096, 0);
	int grow_only = test_memfd(4096, F_SEAL_GROW);
	CHECK_EQ(check_import(core, sealed, desc), DMAB_MISUSE_NONE);
	CHECK_EQ(check_import(core, all_seals, desc), DMAB_MISUSE_NONE);
	CHECK_EQ(check_import(core, unsealed, desc), DMAB_MISUSE_INVALID_FD);
	CHECK_EQ(check_import(core, grow_only, desc), DMAB_MISUSE_INVALID_FD);
	CHECK_EQ(check_import(core, -1, desc), DMAB_MISUSE_INVALID_FD);

	int pipes[2];
	CHECK(pipe2(pipes, O_CLOEXEC) == 0);
	CHECK_EQ(check_import(core, pipes[0], desc), DMAB_MISUSE_INVALID_FD);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK_EQ(check_import(core, devnull, desc), DMAB_MISUSE_INVALID_FD);

	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", sealed);
	int write_only = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(write_only >= 0);
	CHECK_EQ(check_import(core, write_only, desc), DMAB_MISUSE_INVALID_FD);

	/* The check leaves the file offset at 0, as it found a fresh fd. */
	CHECK_EQ(lseek(sealed, 100, SEEK_SET), 100);
	CHECK_EQ(check_import(core, sealed, desc), DMAB_MISUSE_NONE);
	CHECK_EQ(lseek(sealed, 0, SEEK_CUR), 0);

	int fds[] = { sealed, all_seals, unsealed, grow_only, pipes[0], pipes[1], devnull,
		write_only };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		close(fds[i]);
	dmab_core_destroy(core);
}

DMAB_TEST(import_stride_bounds_and_flags)
{
	struct dmab_core *core = test_core_create(NULL);
	/* 16 rows of 64 bytes: exactly 1024 bytes. */
	int fd = test_memfd(1024, F_SEAL_SHRINK);
	CHECK_EQ(check_import(core, fd, import_of(16, 16, 64, 0)), DMAB_MISUSE_NONE);
	CHECK_EQ(check_import(core, fd, import_of(16, 16, 0, 0)), DMAB_MISUSE_INVALID_STRIDE);
	CHECK_EQ(check_import(core, fd, import_of(16, 16, 63, 0)), DMAB_MISUSE_INVALID_STRIDE);
	CHECK_EQ(check_import(core, fd, import_of(16, 15, 68, 0)), DMAB_MISUSE_NONE);
	CHECK_EQ(check_import(core, fd, import_of(16, 16, 64, 1)), DMAB_MISUSE_OUT_OF_BOUNDS);
	CHECK_EQ(check_import(core, fd, import_of(16, 15, 64, 64)), DMAB_MISUSE_NONE);
	CHECK_EQ(check_import(core, fd, import_of(16, 15, 64, 65)), DMAB_MISUSE_OUT_OF_BOUNDS);
	CHECK_EQ(check_import(core, fd, import_of(16, 17, 64, 0)), DMAB_MISUSE_OUT_OF_BOUNDS);

	/* In 32 bits these wrap to within the fd. */
	CHECK_EQ(check_import(core, fd, import_of(16, 16384, 1u << 18, 0)),
		DMAB_MISUSE_OUT_OF_BOUNDS);
	CHECK_EQ(check_import(core, fd, import_of(16, 1, 64, UINT32_MAX - 63)),
		DMAB_MISUSE_OUT_OF_BOUNDS);
	CHECK_EQ(check_import(core, fd, import_of(16, 16384, UINT32_MAX, UINT32_MAX)),
		DMAB_MISUSE_OUT_OF_BOUNDS);
	struct dmab_misuse_report report;
	struct dmab_import_desc wrap = import_of(16, 16384, 1u << 18, 0);
	CHECK(!dmab_import_desc_check(core, fd, &wrap, &report));
	CHECK(strstr(report.message, "4294967296") != NULL);

	struct dmab_import_desc flags = import_of(16, 16, 64, 0);
	flags.flags = DMAB_IMPORT_Y_INVERT;
	CHECK_EQ(check_import(core, fd, flags), DMAB_MISUSE_NONE);
	flags.flags = 2;
	CHECK_EQ(check_import(core, fd, flags), DMAB_MISUSE_INVALID_FLAGS);

	struct dmab_import_desc bad = import_of(16, 16, 64, 0);
	bad.format = DRM_FORMAT_NV16;
	CHECK_EQ(check_import(core, fd, bad), DMAB_MISUSE_INVALID_FORMAT);
	bad.format = DRM_FORMAT_NV12;
	CHECK_EQ(check_import(core, fd, bad), DMAB_MISUSE_INVALID_PLANES);
	CHECK_EQ(check_import(core, fd, import_of(0, 16, 64, 0)), DMAB_MISUSE_INVALID_SIZE);
	CHECK_EQ(check_import(core, fd, import_of(16385, 1, 1u << 16 | 4, 0)),
		DMAB_MISUSE_INVALID_SIZE);
	close(fd);
	dmab_core_destroy(core);
}

DMAB_TEST(imported_memfd_is_shared_in_place)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	int before = dmab_test_count_fds();
	/* 16x16 with a 128-byte stride, 256 bytes in. */
	int fd = test_memfd(256 + 128 * 16, F_SEAL_SHRINK);
	CHECK(pwrite(fd, "\x42", 1, 256 + 128 * 15) == 1);
	struct dmab_import_desc desc = import_of(16, 16, 128, 256);
	desc.flags = DMAB_IMPORT_Y_INVERT;
	struct dmab_misuse_report report;
	CHECK(dmab_import_desc_check(core, fd, &desc, &report));
	struct dmab_failure fail;
	struct dmab_handle *handle = dmab_handle_import_fd(account, fd, &desc, &fail);
	CHECK(handle != NULL);
	CHECK_EQ(dmab_handle_get_access(handle), DMAB_ACCESS_READ_WRITE);
	struct dmab_buffer *buffer = dmab_handle_get_buffer(handle);
	CHECK_EQ(dmab_buffer_get_import_flags(buffer), DMAB_IMPORT_Y_INVERT);
	struct dmab_layout layout;
	dmab_buffer_get_layout(buffer, &layout);
	CHECK_EQ(layout.planes[0].stride, 128);
	CHECK_EQ(layout.planes[0].offset, 256);
	CHECK_EQ(layout.size, 256 + 128 * 16);

	struct recorder a, b, c, d;
	test_recorder_init(&a, 'A');
	test_recorder_init(&b, 'B');
	test_recorder_init(&c, 'C');
	test_recorder_init(&d, 'D');
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 128, &a);
	CHECK_EQ(a.failed, 0);
	test_map(&a, DMAB_DIR_READ);
	CHECK_EQ(a.mapping.planes[0].stride, 128);
	CHECK_EQ(a.mapping.planes[0].offset, 256);
	CHECK_EQ(a.mapping.planes[0].size, 128 * 16);
	const unsigned char *data = test_mmap(&a.mapping, false);
	CHECK(data != NULL);
	CHECK_EQ(data[256 + 128 * 15], 0x42);
	test_munmap(&a.mapping, (void *)data);

	/* Fixed storage: an attach it cannot meet fails, nothing moves. */
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 256, &b);
	CHECK_EQ(b.failure.reason, DMAB_REASON_UNSATISFIABLE);
	CHECK_STR_EQ(b.failure.message,
		"imported stride 128 of plane 0 is not a multiple of row_alignment 256");
	test_attach(handle, account, DMAB_ACCESS_READ, DMAB_CONSTRAINT_CONTIGUOUS, 0, &c);
	CHECK_EQ(c.failure.reason, DMAB_REASON_UNSATISFIABLE);
	CHECK_EQ(a.moved, 0);

	/* The broker's own reads see the client's offset. */
	test_attach(handle, NULL, DMAB_ACCESS_READ, 0, 0, &d);
	test_map(&d, DMAB_DIR_READ);
	const unsigned char *pixels = d.mapping.data;
	CHECK_EQ(pixels[d.mapping.planes[0].offset + 128 * 15], 0x42);

	test_detach(&a);
	test_detach(&b);
	test_detach(&c);
	test_detach(&d);
	CHECK(dmab_test_count_fds() > before);
	dmab_handle_destroy(handle);
	CHECK_EQ(dmab_test_count_fds(), before);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(imported_read_only_fd_gives_a_read_only_buffer)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	int fd = test_memfd(4096, F_SEAL_SHRINK);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int ro = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(ro >= 0);
	close(fd);
	struct dmab_import_desc desc = import_of(16, 16, 64, 0);
	struct dmab_misuse_report report;
	CHECK(dmab_import_desc_check(core, ro, &desc, &report));
	struct dmab_failure fail;
	struct dmab_handle *handle = dmab_handle_import_fd(account, ro, &desc, &fail);
	CHECK(handle != NULL);
	CHECK_EQ(dmab_handle_get_access(handle), DMAB_ACCESS_READ);
	dmab_handle_destroy(handle);

	/* A failed import still takes the fd. */
	int before = dmab_test_count_fds();
	int empty = test_memfd(0, F_SEAL_SHRINK);
	CHECK(dmab_handle_import_fd(account, empty, &desc, &fail) == NULL);
	CHECK_EQ(fail.reason, DMAB_REASON_ALLOC_FAILED);
	CHECK_EQ(dmab_test_count_fds(), before);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}
