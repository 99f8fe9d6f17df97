/* SPDX-License-Identifier: MIT */
/*
 * A read-only importer must not be able to change the producer's pixels by any
 * route: a writable or mprotect'ed mapping, write, ftruncate, fallocate,
 * MADV_REMOVE, /proc/self/mem, or a reopen of its fd through /proc, as the
 * broker's uid or as another one. Every route is measured on the allocator
 * under test and printed ("# ro-route[...]"): doc/allocators.md's table comes
 * from these lines in the kernel tier. Where the mapped event says read_only,
 * every route must fail, and the pixels must be intact.
 *
 * Tests run as root in CI. The broker and its clients then run as uid 65534
 * (the broker's devices are opened before), and the fd is also handed to a
 * process that tries as root and then as uid 65533.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/magic.h>

#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

enum {
	BROKER_UID = 65534, /* the broker and its clients */
	OTHER_UID = 65533, /* a process the importer hands its fd to */
	WIDTH = 64,
	HEIGHT = 64,
	SEED = 41,
};

/* A byte unlike the first of the pattern: what a route that gets through writes. */
static uint8_t forged;

static bool is_dmabuf(int fd)
{
	struct statfs st;
	return fstatfs(fd, &st) == 0 && st.f_type == DMA_BUF_MAGIC;
}

/* 0: the route wrote (or would have: a reopen that succeeded), else its errno. */
typedef int (*route_func)(int fd, size_t size);

static int result(int ret)
{
	return ret < 0 ? errno : 0;
}

static int route_mmap_write(int fd, size_t size)
{
	uint8_t *data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (data == MAP_FAILED) {
		return errno;
	}
	data[0] = forged;
	munmap(data, size);
	return 0;
}

static int route_mprotect(int fd, size_t size)
{
	uint8_t *data = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(data != MAP_FAILED);
	int ret = mprotect(data, size, PROT_READ | PROT_WRITE);
	int err = result(ret);
	if (ret == 0) {
		data[0] = forged;
	}
	munmap(data, size);
	return err;
}

static int route_pwrite(int fd, size_t size)
{
	uint8_t byte = forged;
	return result(pwrite(fd, &byte, 1, 0) == 1 ? 0 : -1);
}

static int route_ftruncate(int fd, size_t size)
{
	return result(ftruncate(fd, 0));
}

static int route_punch_hole(int fd, size_t size)
{
	return result(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		(off_t)size));
}

static int route_madv_remove(int fd, size_t size)
{
	void *data = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(data != MAP_FAILED);
	int err = result(madvise(data, size, MADV_REMOVE));
	munmap(data, size);
	return err;
}

/* ptrace's FOLL_FORCE: writes through a mapping's protection where COW allows. */
static int route_proc_mem(int fd, size_t size)
{
	uint8_t *data = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(data != MAP_FAILED);
	int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	CHECK(mem >= 0);
	uint8_t byte = forged;
	int err = result(pwrite(mem, &byte, 1, (off_t)(uintptr_t)data) == 1 ? 0 : -1);
	close(mem);
	munmap(data, size);
	return err;
}

/* A private copy is allowed; the test checks that it never reaches the producer. */
static int route_map_private(int fd, size_t size)
{
	uint8_t *data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (data == MAP_FAILED) {
		return errno;
	}
	data[0] = forged;
	munmap(data, size);
	return 0;
}

/* A holder of the fd may add a write fence, which every writer and reader then waits for. */
static int route_import_write_fence(int fd, size_t size)
{
	struct dma_buf_export_sync_file export = { .flags = DMA_BUF_SYNC_WRITE, .fd = -1 };
	if (ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &export) < 0) {
		return errno;
	}
	struct dma_buf_import_sync_file import = { .flags = DMA_BUF_SYNC_WRITE, .fd = export.fd };
	int err = result(ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &import));
	close(export.fd);
	return err;
}

/* Opens fd anew for writing; the caller closes it. */
static int reopen_rw(int fd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_RDWR | O_CLOEXEC);
}

static int route_reopen(int fd, size_t size)
{
	int rw = reopen_rw(fd);
	if (rw < 0) {
		return errno;
	}
	int err = route_mmap_write(rw, size);
	close(rw);
	return err;
}

/* Whether a reopen for writing works, without writing: where it is not enforced. */
static int probe_reopen(int fd)
{
	int rw = reopen_rw(fd);
	if (rw < 0) {
		return errno;
	}
	close(rw);
	return 0;
}

/* Only the owner of the inode (or root) may chmod it, and then reopen it. */
static int probe_chmod_reopen(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		return errno;
	}
	if (fchmod(fd, 0600) < 0) {
		return errno;
	}
	int err = probe_reopen(fd);
	if (fchmod(fd, st.st_mode & 07777) < 0) {
		return errno;
	}
	return err;
}

static int route_chmod_reopen(int fd, size_t size)
{
	return probe_chmod_reopen(fd);
}

struct route {
	const char *name;
	route_func func;
	bool may_succeed; /* even on a read_only fd: measured, not enforced */
};

static const struct route local_routes[] = {
	{ "mmap(PROT_WRITE, MAP_SHARED)", route_mmap_write, false },
	{ "mprotect(+PROT_WRITE)", route_mprotect, false },
	{ "pwrite", route_pwrite, false },
	{ "ftruncate(0)", route_ftruncate, false },
	{ "fallocate(PUNCH_HOLE)", route_punch_hole, false },
	{ "madvise(MADV_REMOVE)", route_madv_remove, false },
	{ "write via /proc/self/mem", route_proc_mem, false },
	{ "IMPORT_SYNC_FILE(WRITE)", route_import_write_fence, false },
	{ "reopen O_RDWR, broker's uid", route_reopen, false },
	{ "mmap(MAP_PRIVATE) + write", route_map_private, true },
	/* Last: the owner gets write access back (the probe gives it up again). */
	{ "chmod + reopen, broker's uid", route_chmod_reopen, true },
};

enum { LOCAL_ROUTES = sizeof(local_routes) / sizeof(local_routes[0]) };

/* What the process of another uid measured; -1 where it could not. */
struct remote_results {
	int root_reopen, other_reopen, other_chmod_reopen;
};

static void print_route(const char *allocator, const char *name, int err)
{
	printf("# ro-route[%s] %-30s %s\n", allocator, name, err == 0 ? "succeeds" :
		err < 0 ? "not measured" : strerror(err));
}

static void send_fd(int sock, int fd)
{
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control = { 0 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	CHECK_EQ(sendmsg(sock, &msg, MSG_NOSIGNAL), 1);
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) {
		return -1;
	}
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg == NULL || cmsg->cmsg_type != SCM_RIGHTS) {
		return -1;
	}
	int fd;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/* Becomes uid (and gid) for good, a process like any other of that user. */
static bool become(uid_t uid)
{
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
			setresuid(uid, uid, uid) < 0) {
		return false;
	}
	/* A change of credentials makes a process undumpable; a user's own is not. */
	return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0;
}

/* The process of another uid: gets the fd as root, tries, becomes OTHER_UID, tries. */
static _Noreturn void remote_main(int sock)
{
	struct remote_results res = { -1, -1, -1 };
	size_t size = 0;
	int fd = -1;
	if (read(sock, &size, sizeof(size)) == sizeof(size)) {
		fd = recv_fd(sock);
	}
	if (fd >= 0) {
		res.root_reopen = probe_reopen(fd);
		if (become(OTHER_UID)) {
			res.other_reopen = route_reopen(fd, size);
			res.other_chmod_reopen = probe_chmod_reopen(fd);
		}
	}
	ssize_t ret = write(sock, &res, sizeof(res));
	_exit(ret == sizeof(res) ? 0 : 1);
}

static pid_t remote_start(int *sock)
{
	int sv[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		remote_main(sv[1]);
	}
	close(sv[1]);
	*sock = sv[0];
	return pid;
}

static void remote_run(pid_t pid, int sock, int fd, size_t size,
	struct remote_results *res)
{
	CHECK_EQ(write(sock, &size, sizeof(size)), sizeof(size));
	send_fd(sock, fd);
	CHECK_EQ(read(sock, res, sizeof(*res)), sizeof(*res));
	close(sock);
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void fail_route(const char *name, int err)
{
	dmab_test_fail(__FILE__, __LINE__, "a read_only fd lets \"%s\" through (%s)", name,
		err == 0 ? "it succeeds" : "not measured");
}

DMAB_TEST(read_only_fd_refuses_every_route)
{
	bool root = geteuid() == 0;
	int sock = -1;
	pid_t remote = root ? remote_start(&sock) : -1;
	struct fixture *f = fixture_create(NULL);
	const char *allocator = fixture_allocator_name(f);
	if (root) {
		CHECK(become(BROKER_UID));
	}
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *produced = dmab_client_buffer_create(a->client, WIDTH, HEIGHT,
		ARGB, 0, "read-only routes");
	CHECK(produced != NULL);
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(produced, &layout);
	struct dmab_client_attachment *writer = attach_mapped(produced, RW, WRITE);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	pattern_fill(dmab_client_attachment_get_data(writer), layout.stride, WIDTH * 4, HEIGHT,
		SEED);
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	forged = (uint8_t)~pattern_byte(SEED, 0, 0);

	struct dmab_client_buffer *consumed = import_via_token(b, produced, RO);
	struct dmab_client_attachment *reader = attach_mapped(consumed, RO, READ);
	bool read_only = dmab_client_attachment_get_map_flags(reader) &
		DMABROKER_ATTACHMENT_V1_MAP_FLAGS_READ_ONLY;
	int fd = dmab_client_attachment_get_fd(reader);
	size_t size = (size_t)lseek(fd, 0, SEEK_END);
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	printf("# ro-route[%s] the fd: %s, %s, mapped flags %#x, run as uid %u\n", allocator,
		is_dmabuf(fd) ? "a dma-buf" : "no dma-buf",
		(fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY ? "O_RDONLY" : "O_RDWR",
		dmab_client_attachment_get_map_flags(reader), (unsigned)geteuid());

	struct remote_results res = { -1, -1, -1 };
	if (root) {
		remote_run(remote, sock, fd, size, &res);
	}
	int errs[LOCAL_ROUTES];
	for (size_t i = 0; i < LOCAL_ROUTES; i++) {
		errs[i] = local_routes[i].func(fd, size);
		print_route(allocator, local_routes[i].name, errs[i]);
	}
	print_route(allocator, "reopen O_RDWR, root", res.root_reopen);
	print_route(allocator, "reopen O_RDWR, another uid", res.other_reopen);
	print_route(allocator, "chmod + reopen, another uid", res.other_chmod_reopen);

	struct dmab_client_attachment *check = attach_mapped(produced, RW, READ);
	CHECK_EQ(dmab_client_attachment_begin(check, READ), 0);
	bool intact = pattern_check(dmab_client_attachment_get_data(check), layout.stride,
		WIDTH * 4, HEIGHT, SEED);
	CHECK_EQ(dmab_client_attachment_end(check), 0);
	printf("# ro-route[%s] the producer's pixels: %s\n", allocator,
		intact ? "intact" : "changed");

	if (!read_only) {
		/* The flag is honest: without it, the fd can be mapped writable. */
		CHECK_EQ(errs[0], 0);
		fixture_destroy(f);
		return;
	}
	for (size_t i = 0; i < LOCAL_ROUTES; i++) {
		if (!local_routes[i].may_succeed && errs[i] == 0) {
			fail_route(local_routes[i].name, errs[i]);
		}
	}
	if (root && res.other_reopen <= 0) {
		fail_route("reopen O_RDWR, another uid", res.other_reopen);
	}
	if (root && res.other_chmod_reopen <= 0) {
		fail_route("chmod + reopen, another uid", res.other_chmod_reopen);
	}
	CHECK(intact);
	if (!root) {
		printf("# not root: the other uid's routes were not tried\n");
	}
	fixture_destroy(f);
}

/* --- a client's own memfd (import_dmabuf) --- */

enum { IMP_STRIDE = WIDTH * 4, IMP_SIZE = IMP_STRIDE * HEIGHT };

/* A memfd of the pattern, sealed against shrinking and with extra seals. */
static int pattern_memfd(unsigned int seals)
{
	int fd = make_memfd(IMP_SIZE, 0);
	uint8_t *data = mmap(NULL, IMP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(data != MAP_FAILED);
	pattern_fill(data, IMP_STRIDE, IMP_STRIDE, HEIGHT, SEED);
	munmap(data, IMP_SIZE);
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | seals), 0);
	return fd;
}

static struct dmab_client_buffer *import_memfd(struct fixture_client *c, int fd)
{
	struct dmab_client_buffer *buffer = dmab_client_buffer_import_fd(c->client, fd, ARGB,
		WIDTH, HEIGHT, 0, IMP_STRIDE, 0);
	CHECK(buffer != NULL);
	return buffer;
}

static uint32_t read_only_flag(struct dmab_client_attachment *att)
{
	return dmab_client_attachment_get_map_flags(att) &
		DMABROKER_ATTACHMENT_V1_MAP_FLAGS_READ_ONLY;
}

/*
 * Nobody can map a write-sealed memfd writable (EPERM), so the import is
 * read-only, as the XML says, rather than read_write with every WRITE map
 * failing.
 */
DMAB_TEST(import_dmabuf_write_sealed_memfd_is_read_only)
{
	const unsigned int seals[] = { F_SEAL_WRITE, F_SEAL_FUTURE_WRITE };
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	for (size_t i = 0; i < sizeof(seals) / sizeof(seals[0]); i++) {
		int fd = pattern_memfd(seals[i]);
		struct dmab_client_buffer *buffer = import_memfd(c, fd);
		struct dmab_client_layout layout;
		dmab_client_buffer_get_layout(buffer, &layout);
		CHECK_EQ(layout.access, RO);
		struct dmab_client_attachment *reader = attach_mapped(buffer, RO, READ);
		CHECK(read_only_flag(reader));
		CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
		CHECK(pattern_check(dmab_client_attachment_get_data(reader), IMP_STRIDE,
			IMP_STRIDE, HEIGHT, SEED));
		CHECK_EQ(dmab_client_attachment_end(reader), 0);
		dmab_client_buffer_destroy(buffer);
		close(fd);
	}
	fixture_destroy(f);
}

/*
 * The broker takes the write bits of a memfd it may chmod (here it runs as the
 * client's uid), so that a read-only importer cannot reopen it for writing;
 * the client's own fd keeps its write access.
 */
DMAB_TEST(import_dmabuf_memfd_loses_write_bits)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	int fd = pattern_memfd(0);
	struct stat st;
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ(st.st_mode & 0222, 0222);
	struct dmab_client_buffer *buffer = import_memfd(a, fd);
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ(st.st_mode & 0222, 0);
	uint8_t byte = forged;
	CHECK_EQ(pwrite(fd, &byte, 1, IMP_SIZE - 1), 1);

	struct dmab_client_attachment *reader = attach_mapped(import_via_token(b, buffer, RO),
		RO, READ);
	CHECK(read_only_flag(reader));
	int ro = dmab_client_attachment_get_fd(reader);
	CHECK_EQ(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
	if (geteuid() != 0) {
		errno = 0;
		CHECK_EQ(reopen_rw(ro), -1);
		CHECK_EQ(errno, EACCES);
	}
	close(fd);
	fixture_destroy(f);
}

/* A memfd of another uid, sent back over sock: its owner keeps its mode. */
static _Noreturn void foreign_memfd_main(int sock)
{
	int fd = -1;
	if (become(OTHER_UID)) {
		fd = memfd_create("foreign", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd >= 0 && (ftruncate(fd, IMP_SIZE) < 0 ||
				fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		_exit(1);
	}
	send_fd(sock, fd);
	_exit(0);
}

/*
 * Where the broker may not chmod an imported memfd (another uid made it, mode
 * 0777), any uid could reopen it for writing: the read_only flag must not
 * claim otherwise.
 */
DMAB_TEST(import_dmabuf_foreign_memfd_is_not_flagged_read_only)
{
	if (geteuid() != 0) {
		dmab_test_skip("not root: cannot make a memfd of another uid");
	}
	int sv[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		foreign_memfd_main(sv[1]);
	}
	close(sv[1]);
	int fd = recv_fd(sv[0]);
	close(sv[0]);
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(fd >= 0);

	struct fixture *f = fixture_create(NULL);
	CHECK(become(BROKER_UID));
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *buffer = import_memfd(a, fd);
	struct stat st;
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ(st.st_uid, OTHER_UID);
	CHECK_EQ(st.st_mode & 0777, 0777);
	struct dmab_client_attachment *reader = attach_mapped(import_via_token(b, buffer, RO),
		RO, READ);
	CHECK(!read_only_flag(reader));
	int rw = reopen_rw(dmab_client_attachment_get_fd(reader));
	CHECK(rw >= 0);
	close(rw);
	close(fd);
	fixture_destroy(f);
}
