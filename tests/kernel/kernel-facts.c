/* SPDX-License-Identifier: MIT */
/*
 * kernel-facts.c - measure, on real kernel dma-bufs, the behaviour dmabroker
 * relies on. Runs inside the real-kernel tier VM (tests/kernel/run-tier.sh).
 *
 * Buffers come from every allocator the broker supports:
 *   udmabuf         /dev/udmabuf, from a sealed memfd, UDMABUF_FLAGS_CLOEXEC
 *   dma-heap        /dev/dma_heap/system, fd_flags O_RDWR|O_CLOEXEC
 *   dma-heap/ro     the same heap, fd_flags O_RDONLY|O_CLOEXEC
 *   drm-dumb        vgem dumb buffer, PRIME export DRM_CLOEXEC|DRM_RDWR
 *   drm-dumb/ro     vgem dumb buffer, PRIME export DRM_CLOEXEC only
 *   memfd           (not a dma-buf) sealed memfd, for comparison
 *
 * For each: lseek(SEEK_END) size discovery, mmap(PROT_WRITE), write/readback
 * under DMA_BUF_IOCTL_SYNC (START/END x READ/WRITE/RW), invalid sync flags ->
 * EINVAL, DMA_BUF_IOCTL_EXPORT_SYNC_FILE / IMPORT_SYNC_FILE, poll() on the
 * dma-buf fd, and read-only enforcement: the fd's access mode, re-opening
 * /proc/self/fd/N with O_RDONLY, and mmap(PROT_WRITE, MAP_SHARED) /
 * mprotect(PROT_WRITE) on read-only fds.
 *
 * Output, one line each:
 *   PASS <backend>/<check> [detail]       behaviour the broker depends on
 *   FAIL <backend>/<check> <detail>       ... which the kernel got wrong
 *   SKIP <backend>/<check> <reason>       allocator or feature not available
 *   INFO <text>                           measured facts, never a failure
 * Exit status: 0 iff no FAIL was printed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

#include <drm.h>
#include <drm_mode.h>
#include <xf86drm.h>

#include "vgem.h"

static int n_pass, n_fail, n_skip;

__attribute__((format(printf, 5, 0))) static void vmark(const char *tag, int *counter, const char *pfx, const char *check,
		  const char *fmt, va_list ap)
{
	char detail[512] = "";

	if (fmt)
		vsnprintf(detail, sizeof detail, fmt, ap);
	printf("%s %s/%s%s%s\n", tag, pfx, check, detail[0] ? " " : "", detail);
	fflush(stdout);
	(*counter)++;
}

#define DEFINE_MARK(fn, tag, counter)                                          \
	__attribute__((format(printf, 3, 4))) static void fn(                  \
		const char *pfx, const char *check, const char *fmt, ...)      \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		vmark(tag, &counter, pfx, check, fmt, ap);                     \
		va_end(ap);                                                    \
	}
DEFINE_MARK(pass, "PASS", n_pass)
DEFINE_MARK(fail, "FAIL", n_fail)
DEFINE_MARK(skip, "SKIP", n_skip)

__attribute__((format(printf, 1, 2))) static void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("INFO ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

/* check(ok, pfx, check, fmt...): PASS or FAIL, returns ok */
#define check(ok, pfx, name, ...)                                              \
	((ok) ? (pass(pfx, name, __VA_ARGS__), true)                           \
	      : (fail(pfx, name, __VA_ARGS__), false))

/* "ok" or "EACCES (Permission denied)" for the errno of a failed call */
static const char *res(int failed, int err)
{
	static char buf[8][96];
	static int slot;
	char *b = buf[slot++ % 8];

	if (!failed)
		return "ok";
	const char *name = strerrorname_np(err);

	snprintf(b, sizeof buf[0], "%s (%s)", name ? name : "E?", strerror(err));
	return b;
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r == -1 && (errno == EINTR || errno == EAGAIN));
	return r;
}

static int dmabuf_sync(int fd, __u64 flags)
{
	struct dma_buf_sync s = { .flags = flags };

	return xioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
}

static const char *accmode_name(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return "F_GETFL-failed";
	switch (fl & O_ACCMODE) {
	case O_RDONLY: return "O_RDONLY";
	case O_WRONLY: return "O_WRONLY";
	case O_RDWR: return "O_RDWR";
	}
	return "?";
}

/* Is fd a dma-buf? Its /proc fdinfo carries the dma-buf fields. */
static bool is_dmabuf(int fd)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "exp_name:", 9))
			found = true;
	fclose(f);
	return found;
}

static const char *exporter_name(int fd)
{
	static char name[64];
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	strcpy(name, "?");
	f = fopen(path, "re");
	if (!f)
		return name;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "exp_name: %63s", name) == 1)
			break;
	fclose(f);
	return name;
}

/* -------------------------------------------------------------- read-only facts */

/*
 * Can a read-only view of a dma-buf be made from a read-write fd? The only
 * generic way is re-opening the file through /proc/self/fd/N with O_RDONLY
 * (dup and SCM_RIGHTS share the open file, and with it its access mode).
 */
static void reopen_facts(const char *pfx, int fd, size_t size, char *summary, size_t len)
{
	char path[64];
	int ro, err;

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	err = errno;
	if (ro < 0) {
		info("%s: reopen %s O_RDONLY fails: %s", pfx, path, res(1, err));
		snprintf(summary, len, "reopen(/proc/self/fd,O_RDONLY)=%s", res(1, err));
		return;
	}
	bool dmabuf = is_dmabuf(ro);
	void *w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
	int werr = errno;
	void *r = mmap(NULL, size, PROT_READ, MAP_SHARED, ro, 0);
	int rerr = errno;

	info("%s: reopen %s O_RDONLY succeeds: new fd %s, is %sa dma-buf (exp_name %s); "
	     "mmap(PROT_WRITE,MAP_SHARED) on it: %s; mmap(PROT_READ): %s",
	     pfx, path, accmode_name(ro), dmabuf ? "" : "NOT ", exporter_name(ro),
	     res(w == MAP_FAILED, werr), res(r == MAP_FAILED, rerr));
	snprintf(summary, len,
		 "reopen(/proc/self/fd,O_RDONLY)=ok(%s,%s) mmap-write-on-reopened=%s",
		 accmode_name(ro), dmabuf ? "dma-buf" : "not-dma-buf",
		 res(w == MAP_FAILED, werr));
	if (w != MAP_FAILED)
		munmap(w, size);
	if (r != MAP_FAILED)
		munmap(r, size);
	close(ro);
}

/* Facts for an fd whose access mode is O_RDONLY. */
static void readonly_fd_facts(const char *pfx, int fd, size_t size, char *summary,
			      size_t len)
{
	void *w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int werr = errno;
	void *r = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	int rerr = errno;
	int mp = -1, mperr = 0, sw, swerr;
	void *priv;
	int perr;

	if (r != MAP_FAILED) {
		mp = mprotect(r, size, PROT_READ | PROT_WRITE);
		mperr = errno;
	}
	/* a private writable mapping never writes back, so it is allowed on O_RDONLY files */
	priv = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	perr = errno;
	sw = dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	swerr = errno;
	if (sw == 0)
		dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);

	info("%s: O_RDONLY dma-buf: mmap(PROT_READ|PROT_WRITE,MAP_SHARED): %s; "
	     "mmap(PROT_READ,MAP_SHARED): %s; mprotect(+PROT_WRITE) of that: %s; "
	     "mmap(PROT_WRITE,MAP_PRIVATE): %s; SYNC_START|WRITE: %s",
	     pfx, res(w == MAP_FAILED, werr), res(r == MAP_FAILED, rerr),
	     r == MAP_FAILED ? "n/a" : res(mp != 0, mperr), res(priv == MAP_FAILED, perr),
	     res(sw != 0, swerr));
	snprintf(summary, len, "mmap-write-shared=%s mprotect-write=%s",
		 res(w == MAP_FAILED, werr), r == MAP_FAILED ? "n/a" : res(mp != 0, mperr));
	if (w != MAP_FAILED)
		munmap(w, size);
	if (r != MAP_FAILED)
		munmap(r, size);
	if (priv != MAP_FAILED)
		munmap(priv, size);
}

/* -------------------------------------------------------------- generic checks */

static void sync_file_facts(const char *pfx, int fd, bool *have_export, bool *have_import,
			    char *import_res, size_t len)
{
	struct dma_buf_export_sync_file ex = { .flags = DMA_BUF_SYNC_RW, .fd = -1 };
	int r = xioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex);
	int err = errno;

	*have_export = r == 0;
	if (r != 0 && err == ENOTTY) {
		skip(pfx, "export-sync-file", "DMA_BUF_IOCTL_EXPORT_SYNC_FILE: ENOTTY (kernel < 6.0?)");
	} else if (check(r == 0 && ex.fd >= 0, pfx, "export-sync-file", "%s", res(r != 0, err))) {
		/* nothing attached: the exported fence is already signaled */
		struct pollfd p = { .fd = ex.fd, .events = POLLIN };
		int pr = poll(&p, 1, 0);
		check(pr == 1 && (p.revents & POLLIN), pfx, "exported-idle-fence-signaled",
		      "poll=%d revents=0x%x", pr, p.revents);
	}

	struct dma_buf_import_sync_file im = { .flags = DMA_BUF_SYNC_WRITE, .fd = ex.fd };
	if (ex.fd < 0) {
		im.fd = -1;
		r = xioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im);
		err = errno;
		*have_import = !(r != 0 && err == ENOTTY);
		info("%s: IMPORT_SYNC_FILE(fd=-1) -> %s (no sync_file to import)", pfx,
		     res(r != 0, err));
	} else {
		r = xioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im);
		err = errno;
		*have_import = r == 0;
		snprintf(import_res, len, "%s", res(r != 0, err));
		if (r != 0 && err == ENOTTY)
			skip(pfx, "import-sync-file", "DMA_BUF_IOCTL_IMPORT_SYNC_FILE: ENOTTY");
		else
			check(r == 0, pfx, "import-sync-file", "%s", res(r != 0, err));
		im.flags = 1u << 7; /* invalid */
		r = xioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im);
		info("%s: IMPORT_SYNC_FILE with invalid flags -> %s", pfx, res(r != 0, errno));
		close(ex.fd);
	}
}

struct buf {
	const char *pfx;	/* marker prefix: backend[/variant] */
	int fd;
	size_t size;
	bool writable;		/* exported read-write: expect mmap(PROT_WRITE) to work */
};

static void dmabuf_checks(const struct buf *b)
{
	const char *pfx = b->pfx;
	char ro_summary[256] = "n/a", reopen_summary[256] = "n/a";
	bool have_export = false, have_import = false;
	char import_res[96] = "n/a";
	off_t end, set;
	int r;

	info("%s: fd access mode %s, exporter '%s', size %zu", pfx, accmode_name(b->fd),
	     exporter_name(b->fd), b->size);

	end = lseek(b->fd, 0, SEEK_END);
	set = lseek(b->fd, 0, SEEK_SET);
	check(end == (off_t)b->size && set == 0, pfx, "lseek-size",
	      "SEEK_END=%lld (allocated %zu), SEEK_SET=%lld", (long long)end, b->size,
	      (long long)set);

	if (b->writable) {
		uint8_t *map = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
		int err = errno;

		if (check(map != MAP_FAILED, pfx, "mmap-write", "%s", res(map == MAP_FAILED, err))) {
			bool ok;
			size_t i;

			r = dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
			check(r == 0, pfx, "sync-start-write", "%s", res(r != 0, errno));
			for (i = 0; i < b->size; i++)
				map[i] = (uint8_t)(i * 7 + 3);
			r = dmabuf_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
			check(r == 0, pfx, "sync-end-write", "%s", res(r != 0, errno));

			r = dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
			check(r == 0, pfx, "sync-start-read", "%s", res(r != 0, errno));
			for (ok = true, i = 0; ok && i < b->size; i++)
				ok = map[i] == (uint8_t)(i * 7 + 3);
			r = dmabuf_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
			check(r == 0, pfx, "sync-end-read", "%s", res(r != 0, errno));
			check(ok, pfx, "readback", "%s", ok ? "pattern intact" : "MISMATCH");

			r = dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
			int r2 = dmabuf_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
			check(r == 0 && r2 == 0, pfx, "sync-rw", "start %s, end %s",
			      res(r != 0, errno), res(r2 != 0, errno));
			munmap(map, b->size);
		}
	} else {
		r = dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
		int r2 = dmabuf_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
		check(r == 0 && r2 == 0, pfx, "sync-read", "start %s, end %s", res(r != 0, errno),
		      res(r2 != 0, errno));
		readonly_fd_facts(pfx, b->fd, b->size, ro_summary, sizeof ro_summary);
	}

	r = dmabuf_sync(b->fd, DMA_BUF_SYNC_START); /* neither READ nor WRITE */
	check(r != 0 && errno == EINVAL, pfx, "sync-no-direction-einval", "%s",
	      res(r != 0, errno));
	r = dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ | (1u << 3));
	check(r != 0 && errno == EINVAL, pfx, "sync-unknown-flag-einval", "%s",
	      res(r != 0, errno));

	struct pollfd p = { .fd = b->fd, .events = POLLIN | POLLOUT };
	r = poll(&p, 1, 0);
	check(r == 1 && (p.revents & (POLLIN | POLLOUT)) == (POLLIN | POLLOUT), pfx, "poll-idle",
	      "poll=%d revents=0x%x (no fences: readable and writable)", r, p.revents);

	sync_file_facts(pfx, b->fd, &have_export, &have_import, import_res, sizeof import_res);

	reopen_facts(pfx, b->fd, b->size, reopen_summary, sizeof reopen_summary);

	info("ro-enforcement[%s]: accmode=%s %s%s%s; export-sync-file=%s "
	     "import-sync-file=%s (IMPORT_SYNC_FILE(WRITE) on this fd: %s)",
	     pfx, accmode_name(b->fd), reopen_summary, b->writable ? "" : " ",
	     b->writable ? "" : ro_summary, have_export ? "yes" : "no",
	     have_import ? "yes" : "no", import_res);
}

/* -------------------------------------------------------------- udmabuf */

static int udmabuf_from_memfd(int dev, int memfd, size_t size)
{
	struct udmabuf_create c = {
		.memfd = memfd, .flags = UDMABUF_FLAGS_CLOEXEC, .offset = 0, .size = size,
	};

	return ioctl(dev, UDMABUF_CREATE, &c);
}

static int sealed_memfd(size_t size, int seals)
{
	int fd = memfd_create("kernel-facts", MFD_ALLOW_SEALING | MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, size) < 0 || (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_udmabuf(void)
{
	const char *pfx = "udmabuf";
	const size_t size = 16 * 4096;
	int dev, memfd, fd, m, r;

	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		skip(pfx, "alloc", "/dev/udmabuf: %s", res(1, errno));
		return;
	}

	/* udmabuf pins shmem pages: the memfd must not be able to shrink */
	m = sealed_memfd(size, 0);
	r = udmabuf_from_memfd(dev, m, size);
	check(r < 0 && errno == EINVAL, pfx, "rejects-unsealed-memfd", "%s", res(r < 0, errno));
	if (r >= 0)
		close(r);
	close(m);
	m = sealed_memfd(size, F_SEAL_SHRINK | F_SEAL_WRITE);
	r = m < 0 ? -1 : udmabuf_from_memfd(dev, m, size);
	info("%s: memfd sealed SHRINK|WRITE -> UDMABUF_CREATE %s", pfx, res(r < 0, errno));
	if (r >= 0)
		close(r);
	if (m >= 0)
		close(m);
	m = sealed_memfd(size, F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE);
	r = m < 0 ? -1 : udmabuf_from_memfd(dev, m, size);
	info("%s: memfd sealed SHRINK|FUTURE_WRITE -> UDMABUF_CREATE %s", pfx, res(r < 0, errno));
	if (r >= 0)
		close(r);
	if (m >= 0)
		close(m);

	memfd = sealed_memfd(size, F_SEAL_SHRINK);
	if (!check(memfd >= 0, pfx, "sealed-memfd", "memfd_create+ftruncate+F_SEAL_SHRINK: %s",
		   res(memfd < 0, errno))) {
		close(dev);
		return;
	}
	fd = udmabuf_from_memfd(dev, memfd, size);
	if (!check(fd >= 0, pfx, "alloc", "UDMABUF_CREATE %zu bytes: %s", size,
		   res(fd < 0, errno))) {
		close(memfd);
		close(dev);
		return;
	}
	int fl = fcntl(fd, F_GETFD);
	check(fl >= 0 && (fl & FD_CLOEXEC), pfx, "cloexec", "FD_CLOEXEC %s",
	      fl >= 0 && (fl & FD_CLOEXEC) ? "set" : "NOT set");

	struct buf b = { pfx, fd, size, true };
	dmabuf_checks(&b);

	/* the memfd and the dma-buf share pages */
	uint8_t *alias = mmap(NULL, size, PROT_READ, MAP_SHARED, memfd, 0);
	if (alias != MAP_FAILED) {
		check(alias[1] == (uint8_t)(1 * 7 + 3), pfx, "memfd-sees-dmabuf-writes",
		      "byte 1 = 0x%02x", alias[1]);
		munmap(alias, size);
	}
	close(fd);
	close(memfd);
	close(dev);
}

/* -------------------------------------------------------------- memfd */

/*
 * Not a dma-buf, for comparison: the broker's memfd backend makes read-only
 * fds by re-opening /proc/self/fd/N with O_RDONLY.
 */
static void test_memfd(void)
{
	const char *pfx = "memfd";
	const size_t size = 4 * 4096;
	char path[64];
	int fd = sealed_memfd(size, F_SEAL_SHRINK | F_SEAL_GROW);

	if (!check(fd >= 0, pfx, "alloc", "sealed memfd: %s", res(fd < 0, errno)))
		return;
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int ro = open(path, O_RDONLY | O_CLOEXEC);
	if (check(ro >= 0, pfx, "reopen-rdonly", "open(%s, O_RDONLY): %s", path,
		  res(ro < 0, errno))) {
		void *w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
		int werr = errno;
		check(w == MAP_FAILED && werr == EACCES, pfx, "reopened-refuses-mmap-write",
		      "mmap(PROT_WRITE,MAP_SHARED): %s", res(w == MAP_FAILED, werr));
		if (w != MAP_FAILED)
			munmap(w, size);
		uint8_t *rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		const uint8_t *rd = mmap(NULL, size, PROT_READ, MAP_SHARED, ro, 0);
		bool same = rw != MAP_FAILED && rd != MAP_FAILED;
		if (same) {
			rw[size - 1] = 0xa5;
			same = rd[size - 1] == 0xa5;
		}
		check(same, pfx, "reopened-shares-pages", "%s", same ? "ok" : "no");
		int seals = fcntl(ro, F_GET_SEALS);
		info("memfd: reopened O_RDONLY fd: F_GET_SEALS=0x%x (%s), lseek(SEEK_END)=%lld",
		     seals, res(seals < 0, errno), (long long)lseek(ro, 0, SEEK_END));
		if (rw != MAP_FAILED)
			munmap(rw, size);
		if (rd != MAP_FAILED)
			munmap((void *)rd, size);
		close(ro);
	}
	close(fd);
}

/* -------------------------------------------------------------- dma-heap */

static void test_dma_heap(void)
{
	const size_t size = 1 << 20;
	int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);

	if (heap < 0) {
		skip("dma-heap", "alloc", "/dev/dma_heap/system: %s", res(1, errno));
		return;
	}

	struct dma_heap_allocation_data a = {
		.len = size, .fd_flags = O_RDWR | O_CLOEXEC, .heap_flags = 0,
	};
	int r = xioctl(heap, DMA_HEAP_IOCTL_ALLOC, &a);
	if (check(r == 0, "dma-heap", "alloc", "1 MiB O_RDWR|O_CLOEXEC: %s", res(r != 0, errno))) {
		struct buf b = { "dma-heap", (int)a.fd, size, true };
		dmabuf_checks(&b);
		close((int)a.fd);
	}

	/* the heap hands out read-only dma-bufs on request */
	struct dma_heap_allocation_data ro = {
		.len = size, .fd_flags = O_RDONLY | O_CLOEXEC, .heap_flags = 0,
	};
	r = xioctl(heap, DMA_HEAP_IOCTL_ALLOC, &ro);
	if (r == 0) {
		struct buf b = { "dma-heap/ro", (int)ro.fd, size, false };
		dmabuf_checks(&b);
		close((int)ro.fd);
	} else {
		info("dma-heap/ro: DMA_HEAP_IOCTL_ALLOC with O_RDONLY: %s", res(1, errno));
	}

	/* not page aligned: rounded up, or rejected? */
	struct dma_heap_allocation_data odd = { .len = 1000, .fd_flags = O_RDWR | O_CLOEXEC };
	r = xioctl(heap, DMA_HEAP_IOCTL_ALLOC, &odd);
	if (r == 0) {
		info("dma-heap: alloc len=1000 -> ok, lseek(SEEK_END)=%lld",
		     (long long)lseek((int)odd.fd, 0, SEEK_END));
		close((int)odd.fd);
	} else {
		info("dma-heap: alloc len=1000 -> %s", res(1, errno));
	}
	close(heap);
}

/* -------------------------------------------------------------- vgem (drm-dumb) */

static int open_vgem(const char **path_out)
{
	static char path[32];

	for (int i = 0; i < 16; i++) {
		snprintf(path, sizeof path, "/dev/dri/card%d", i);
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		drmVersionPtr v = drmGetVersion(fd);
		bool vgem = v && v->name && !strcmp(v->name, "vgem");
		if (v)
			drmFreeVersion(v);
		if (vgem) {
			*path_out = path;
			return fd;
		}
		close(fd);
	}
	return -1;
}

static int dumb_create(int drm, uint32_t *handle, size_t *size)
{
	struct drm_mode_create_dumb c = { .width = 256, .height = 64, .bpp = 32 };

	if (drmIoctl(drm, DRM_IOCTL_MODE_CREATE_DUMB, &c) < 0)
		return -1;
	*handle = c.handle;
	*size = c.size;
	return 0;
}

static void dumb_destroy(int drm, uint32_t handle)
{
	struct drm_mode_destroy_dumb d = { .handle = handle };

	drmIoctl(drm, DRM_IOCTL_MODE_DESTROY_DUMB, &d);
}

/*
 * The exporter keeps write access to a read-only PRIME export through the GEM
 * handle: MODE_MAP_DUMB + mmap on the DRM fd, seen through the dma-buf mapping.
 */
static void dumb_map_writes_visible(int drm, uint32_t handle, int buf, size_t size)
{
	const char *pfx = "drm-dumb/ro";
	struct drm_mode_map_dumb md = { .handle = handle };
	uint8_t *w = MAP_FAILED;
	const uint8_t *r = MAP_FAILED;
	bool ok = false;
	int err = 0;

	if (drmIoctl(drm, DRM_IOCTL_MODE_MAP_DUMB, &md) == 0)
		w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, drm, (off_t)md.offset);
	err = errno;
	if (w != MAP_FAILED)
		r = mmap(NULL, size, PROT_READ, MAP_SHARED, buf, 0);
	if (w != MAP_FAILED && r != MAP_FAILED) {
		dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
		for (size_t i = 0; i < size; i++)
			w[i] = (uint8_t)(i * 13 + 1);
		ok = true;
		for (size_t i = 0; ok && i < size; i++)
			ok = r[i] == (uint8_t)(i * 13 + 1);
		dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	}
	check(ok, pfx, "exporter-writes-via-dumb-map",
	      "DRM fd MAP_DUMB mapping %s, writes %s through the O_RDONLY dma-buf",
	      res(w == MAP_FAILED, err), ok ? "visible" : "NOT visible");
	if (w != MAP_FAILED)
		munmap(w, size);
	if (r != MAP_FAILED)
		munmap((void *)r, size);
}

/* vgem's fence ioctls (vgem.h): a pending write fence makes the dma-buf busy */
static void vgem_fence_checks(int drm, uint32_t handle, int buf)
{
	const char *pfx = "drm-dumb";
	struct drm_vgem_fence_attach fa = { .handle = handle, .flags = VGEM_FENCE_WRITE };
	int r = drmIoctl(drm, DRM_IOCTL_VGEM_FENCE_ATTACH, &fa);

	if (!check(r == 0, pfx, "vgem-fence-attach", "fence %u: %s", fa.out_fence,
		   res(r != 0, errno)))
		return;
	struct pollfd p = { .fd = buf, .events = POLLIN };
	int busy = poll(&p, 1, 0);
	check(busy == 0, pfx, "poll-busy-with-pending-write-fence", "poll=%d revents=0x%x", busy,
	      p.revents);

	struct drm_vgem_fence_attach again = { .handle = handle, .flags = VGEM_FENCE_WRITE };
	r = drmIoctl(drm, DRM_IOCTL_VGEM_FENCE_ATTACH, &again);
	info("drm-dumb: second VGEM_FENCE_ATTACH(WRITE) while one is pending: %s",
	     res(r != 0, errno));

	struct drm_vgem_fence_signal s = { .fence = fa.out_fence };
	r = drmIoctl(drm, DRM_IOCTL_VGEM_FENCE_SIGNAL, &s);
	check(r == 0, pfx, "vgem-fence-signal", "%s", res(r != 0, errno));
	p.revents = 0;
	int ready = poll(&p, 1, 1000);
	check(ready == 1 && (p.revents & POLLIN), pfx, "poll-ready-after-signal",
	      "poll=%d revents=0x%x", ready, p.revents);
	r = drmIoctl(drm, DRM_IOCTL_VGEM_FENCE_SIGNAL, &s);
	info("drm-dumb: VGEM_FENCE_SIGNAL of an already signaled fence: %s", res(r != 0, errno));
}

static void test_vgem(void)
{
	const char *path = NULL;
	int drm = open_vgem(&path);
	uint32_t h, h2;
	size_t size, size2;
	int fd, r;

	if (drm < 0) {
		skip("drm-dumb", "alloc", "no /dev/dri/cardN driven by vgem");
		skip("drm-dumb/ro", "alloc", "no /dev/dri/cardN driven by vgem");
		return;
	}
	info("drm-dumb: vgem is %s", path);

	/* read-write export */
	r = dumb_create(drm, &h, &size);
	if (check(r == 0, "drm-dumb", "alloc", "CREATE_DUMB 256x64x32: %s", res(r != 0, errno))) {
		r = drmPrimeHandleToFD(drm, h, DRM_CLOEXEC | DRM_RDWR, &fd);
		if (check(r == 0, "drm-dumb", "prime-export-rdwr", "%s", res(r != 0, errno))) {
			struct buf b = { "drm-dumb", fd, size, true };
			dmabuf_checks(&b);

			/* GEM caches the dma-buf of an object: flags of later exports are ignored */
			int fd2 = -1;
			r = drmPrimeHandleToFD(drm, h, DRM_CLOEXEC, &fd2);
			struct stat s1, s2;
			bool same = r == 0 && fstat(fd, &s1) == 0 && fstat(fd2, &s2) == 0 &&
				    s1.st_ino == s2.st_ino && s1.st_dev == s2.st_dev;
			info("drm-dumb: re-export (DRM_CLOEXEC only) of an object exported RDWR: %s, "
			     "same dma-buf: %s, access mode %s",
			     res(r != 0, errno), same ? "yes" : "no",
			     fd2 >= 0 ? accmode_name(fd2) : "n/a");
			if (fd2 >= 0)
				close(fd2);

			vgem_fence_checks(drm, h, fd);
			close(fd);
		}
		dumb_destroy(drm, h);
	}

	/* read-only export: DRM_CLOEXEC without DRM_RDWR, on a fresh object */
	r = dumb_create(drm, &h2, &size2);
	if (check(r == 0, "drm-dumb/ro", "alloc", "CREATE_DUMB: %s", res(r != 0, errno))) {
		r = drmPrimeHandleToFD(drm, h2, DRM_CLOEXEC, &fd);
		if (check(r == 0, "drm-dumb/ro", "prime-export-rdonly", "%s", res(r != 0, errno))) {
			struct buf b = { "drm-dumb/ro", fd, size2, false };
			void *w = mmap(NULL, size2, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			int err = errno;

			info("drm-dumb/ro: PRIME export without DRM_RDWR: mmap(PROT_WRITE,MAP_SHARED) %s: %s",
			     w == MAP_FAILED ? "FAILS" : "SUCCEEDS", res(w == MAP_FAILED, err));
			if (w != MAP_FAILED)
				munmap(w, size2);
			dmabuf_checks(&b);
			dumb_map_writes_visible(drm, h2, fd, size2);

			int fd2 = -1;
			r = drmPrimeHandleToFD(drm, h2, DRM_CLOEXEC | DRM_RDWR, &fd2);
			info("drm-dumb/ro: re-export with DRM_RDWR of an object exported read-only: %s, "
			     "access mode %s", res(r != 0, errno), fd2 >= 0 ? accmode_name(fd2) : "n/a");
			if (fd2 >= 0)
				close(fd2);
			close(fd);
		}
		dumb_destroy(drm, h2);
	}
	close(drm);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	{
		char rel[128] = "?";
		FILE *f = fopen("/proc/sys/kernel/osrelease", "re");
		if (f) {
			if (fgets(rel, sizeof rel, f))
				rel[strcspn(rel, "\n")] = 0;
			fclose(f);
		}
		info("kernel-facts: kernel %s, page size %ld", rel, sysconf(_SC_PAGESIZE));
	}
	test_memfd();
	test_udmabuf();
	test_dma_heap();
	test_vgem();
	info("kernel-facts: pass=%d fail=%d skip=%d", n_pass, n_fail, n_skip);
	return n_fail ? 1 : 0;
}
