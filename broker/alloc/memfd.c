/* SPDX-License-Identifier: MIT */
/*
 * memfd: shmem storage, on every Linux. Sealed so that no client can shrink a
 * buffer under the compositor's mapping (the SIGBUS hole of wl_shm) or seal it
 * against the broker's own writes, and mode 0400 so that a read-only holder
 * cannot reopen it for writing through /proc (see dmab_fd_deny_reopen_write).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/alloc.h"

/* Linux 6.3; Debian 12's headers predate it. */
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

enum { MEMFD_NAME_MAX = 249 }; /* NAME_MAX less the "memfd:" prefix */

/*
 * MFD_NOEXEC_SEAL where the kernel knows it: buffers are never executed, and
 * with vm.memfd_noexec=2 an executable memfd is refused outright. Older
 * kernels reject the flag with EINVAL.
 */
static int create(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	return fd;
}

int dmab_memfd_create_sealed(const char *name, uint64_t size)
{
	uint64_t aligned = dmab_page_align(size);
	if (size == 0)
		return -EINVAL;
	if (aligned == 0 || aligned > INT64_MAX)
		return -EOVERFLOW;

	char short_name[MEMFD_NAME_MAX + 1];
	snprintf(short_name, sizeof(short_name), "%s", name != NULL ? name : "dmabroker");
	int fd = create(short_name);
	if (fd < 0)
		return -errno;
	/* 0400: only the broker reopens it, and only for reading. */
	if (ftruncate(fd, (off_t)aligned) < 0 ||
			fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
			fchmod(fd, 0400) < 0) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static bool memfd_probe(struct dmab_allocator *alloc, const char *arg)
{
	snprintf(alloc->detail, sizeof(alloc->detail),
		"memfd_create, sealed shrink|grow|seal");
	return true;
}

static int memfd_allocate(struct dmab_allocator *alloc, uint64_t size, const char *name,
	struct dmab_bo **out)
{
	int fd = dmab_memfd_create_sealed(name, size);
	if (fd < 0)
		return fd;
	return dmab_bo_create(alloc, fd, out);
}

const struct dmab_allocator_impl dmab_alloc_memfd_impl = {
	.name = "memfd",
	.probe = memfd_probe,
	.allocate = memfd_allocate,
};
