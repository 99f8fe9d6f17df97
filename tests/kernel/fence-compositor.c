/* SPDX-License-Identifier: MIT */
/*
 * fence-compositor: the compositor waits for kernel fences before it shows a
 * frame. Runs in the real-kernel tier's guest, where vgem gives real,
 * unsignaled dma_fences that the test signals when it chooses.
 *
 * Every variant shows frame A (one colour) in a toplevel, then writes frame B
 * into a second buffer inside a WRITE bracket, makes B's completion depend on
 * a pending vgem fence, ends the bracket and commits B. While the fence is
 * pending, two screenshots about half a second apart must still show A, and
 * the daemon must log that it held the commit; once the test signals the
 * fence, B must appear within a few seconds.
 *
 *   fence-implicit[drm-dumb]: the broker's storage is a vgem dumb buffer. The
 *     test imports the mapped dma-buf into vgem and attaches the fence to it:
 *     an implicit fence, which only the kernel knows about.
 *   fence-acquire[udmabuf]: the fence is on another vgem buffer, exported as a
 *     sync_file (DMA_BUF_IOCTL_EXPORT_SYNC_FILE) and handed to the broker with
 *     dmabroker_attachment_v1.set_acquire_fence: an explicit fence.
 *   fence-linux-dmabuf[udmabuf]: the client's own udmabufs, shown through
 *     zwp_linux_dmabuf_v1; that sync_file goes into frame B's dma-buf with
 *     DMA_BUF_IOCTL_IMPORT_SYNC_FILE, as GPU drivers do for implicit sync.
 *
 * vgem signals a fence by itself after about 10 s; every check that needs the
 * fence pending is done well inside that, and the test verifies that the
 * fence was still pending when it signaled it.
 *
 * Prints the tier's PASS/FAIL/SKIP markers (see screen.h); exits 0, 1 or 77.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <linux/dma-buf.h>
#include <linux/sync_file.h>
#include <wayland-client.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "dmabroker/client.h"
#include "dmabuf.h"
#include "linux-dmabuf-unstable-v1-client-protocol.h"
#include "screen.h"
#include "vgem.h"
#include "window.h"

#define VGEM_CARD "/dev/dri/card0"
#define OUTPUT_WIDTH 320
#define OUTPUT_HEIGHT 240
#define WINDOW_WIDTH 160
#define WINDOW_HEIGHT 120
#define COLOUR_A 0xd03030u
#define COLOUR_B 0x30a050u
/* vgem signals its fences after 10 s: the pending checks must be done well before. */
#define PENDING_BUDGET_MS 7000
#define HELD_SHOT_GAP_MS 500
#define FRAME_TIMEOUT_MS 10000
#define AFTER_SIGNAL_TIMEOUT_MS 5000
#define HOLD_LOG_LINE "holding commit of surface"

/*
 * A buffer the test draws into and shows: a broker buffer mapped for writing,
 * or (own_buffers) the client's own udmabuf behind a zwp_linux_dmabuf_v1
 * wl_buffer.
 */
struct slot {
	struct dmab_client_buffer *buffer;
	struct dmab_client_attachment *att;
	struct kt_dmabuf own;
	struct wl_buffer *own_wl_buffer;
};

struct scene {
	const char *variant, *backend; /* the marker names: variant/check[backend] */
	bool own_buffers;
	int failures_before, fds_before;
	struct kt_daemon daemon;
	struct dmab_client *client;
	struct zwp_linux_dmabuf_v1 *linux_dmabuf;
	struct dmab_window *window;
	struct slot slots[2];
};

static const char *check_name(const struct scene *s, const char *check)
{
	static char name[128];
	snprintf(name, sizeof(name), "%s/%s[%s]", s->variant, check, s->backend);
	return name;
}

static int open_vgem(void)
{
	int fd = open(VGEM_CARD, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	drmVersionPtr version = drmGetVersion(fd);
	bool vgem = version != NULL && strcmp(version->name, "vgem") == 0;
	drmFreeVersion(version);
	if (!vgem) {
		close(fd);
		errno = ENODEV;
		return -1;
	}
	return fd;
}

static bool slot_init(struct scene *s, struct slot *slot, const char *name)
{
	slot->buffer = dmab_client_buffer_create(s->client, WINDOW_WIDTH, WINDOW_HEIGHT,
		DRM_FORMAT_XRGB8888, DMABROKER_MANAGER_V1_USAGE_CPU_WRITE, name);
	if (slot->buffer == NULL) {
		kt_info("create_buffer: %s (%s)", strerror(errno),
			dmab_client_last_failure()->message);
		return false;
	}
	slot->att = dmab_client_attachment_create(slot->buffer,
		DMABROKER_BUFFER_V1_ACCESS_READ_WRITE, NULL);
	int ret = slot->att == NULL ? -errno :
		dmab_client_attachment_map(slot->att, DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE);
	if (ret < 0) {
		kt_info("attach and map: %s (%s)", strerror(-ret),
			dmab_client_last_failure()->message);
		return false;
	}
	return true;
}

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
	const char *interface, uint32_t version)
{
	struct scene *s = data;
	if (s->linux_dmabuf == NULL && version >= 3 &&
			strcmp(interface, zwp_linux_dmabuf_v1_interface.name) == 0)
		s->linux_dmabuf = wl_registry_bind(registry, name, &zwp_linux_dmabuf_v1_interface, 3);
}

static void handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

static bool bind_linux_dmabuf(struct scene *s)
{
	struct wl_registry *registry = wl_display_get_registry(dmab_client_get_display(s->client));
	wl_registry_add_listener(registry, &registry_listener, s);
	int ret = dmab_client_roundtrip(s->client);
	wl_registry_destroy(registry);
	if (ret < 0 || s->linux_dmabuf == NULL)
		kt_info("the daemon has no zwp_linux_dmabuf_v1 version 3");
	return s->linux_dmabuf != NULL;
}

static bool slot_init_own(struct scene *s, struct slot *slot)
{
	if (!kt_dmabuf_create(&slot->own, WINDOW_WIDTH, WINDOW_HEIGHT))
		return false;
	slot->own_wl_buffer = kt_dmabuf_create_wl_buffer(s->linux_dmabuf,
		dmab_client_get_display(s->client), &slot->own);
	return slot->own_wl_buffer != NULL;
}

static void slot_finish(struct slot *slot)
{
	dmab_client_buffer_destroy(slot->buffer);
	if (slot->own_wl_buffer != NULL)
		wl_buffer_destroy(slot->own_wl_buffer);
	kt_dmabuf_finish(&slot->own);
}

static bool scene_init(struct scene *s, const char *allocator)
{
	const char *args[] = { "--allocator", allocator, "--log-level", "debug", NULL };
	s->failures_before = kt_failures();
	s->fds_before = kt_count_fds();
	for (int i = 0; i < 2; i++)
		s->slots[i].own.fd = -1;
	if (!kt_daemon_start(&s->daemon, OUTPUT_WIDTH, OUTPUT_HEIGHT, args))
		return false;
	s->client = dmab_client_connect(s->daemon.display);
	if (s->client == NULL) {
		kt_info("cannot connect to %s: %s", s->daemon.display, strerror(errno));
		return false;
	}
	/* The first toplevel of a fresh daemon is placed at the output's top-left corner. */
	s->window = dmab_window_create(dmab_client_get_display(s->client), "fence-compositor",
		WINDOW_WIDTH, WINDOW_HEIGHT);
	if (s->window == NULL) {
		kt_info("cannot create the toplevel: %s", strerror(errno));
		return false;
	}
	if (s->own_buffers)
		return bind_linux_dmabuf(s) && slot_init_own(s, &s->slots[0]) &&
			slot_init_own(s, &s->slots[1]);
	return slot_init(s, &s->slots[0], "fence-compositor A") &&
		slot_init(s, &s->slots[1], "fence-compositor B");
}

static void scene_finish(struct scene *s)
{
	for (int i = 0; i < 2; i++)
		slot_finish(&s->slots[i]);
	if (s->linux_dmabuf != NULL)
		zwp_linux_dmabuf_v1_destroy(s->linux_dmabuf);
	dmab_window_destroy(s->window);
	dmab_client_destroy(s->client);
	int fds = kt_count_fds();
	kt_check(fds == s->fds_before, check_name(s, "no-fd-leak"),
		"%d fds open before, %d after", s->fds_before, fds);
	if (s->daemon.proc.pid == 0)
		return;
	/* A failed stop prints the logs itself. */
	if (kt_check(kt_daemon_stop(&s->daemon), check_name(s, "daemon-exits-0"), "on SIGTERM") &&
			kt_failures() > s->failures_before)
		kt_print_logs(&s->daemon.proc);
}

static void fill(struct slot *slot, uint32_t rgb)
{
	uint8_t *data = slot->att != NULL ? dmab_client_attachment_get_data(slot->att) :
		slot->own.data;
	uint32_t stride = slot->att != NULL ? dmab_client_attachment_get_stride(slot->att) :
		slot->own.stride;
	for (uint32_t y = 0; y < WINDOW_HEIGHT; y++) {
		uint32_t *row = (uint32_t *)(data + (size_t)y * stride);
		for (uint32_t x = 0; x < WINDOW_WIDTH; x++)
			row[x] = 0xff000000u | rgb;
	}
}

/* The broker's bracket, or DMA_BUF_IOCTL_SYNC on the client's own dma-buf. */
static bool begin_write(struct slot *slot)
{
	if (slot->att == NULL)
		return kt_dmabuf_sync(slot->own.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	int ret = dmab_client_attachment_begin(slot->att, DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE);
	if (ret < 0)
		kt_info("begin_access(WRITE): %s", strerror(-ret));
	return ret == 0;
}

static bool end_write(struct slot *slot)
{
	if (slot->att == NULL)
		return kt_dmabuf_sync(slot->own.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	int ret = dmab_client_attachment_end(slot->att);
	if (ret < 0)
		kt_info("end_access(WRITE): %s", strerror(-ret));
	return ret == 0;
}

/* Attaches and commits the slot's wl_buffer, then waits until the compositor has the commit. */
static bool present(struct scene *s, struct slot *slot)
{
	dmab_window_present(s->window, slot->att != NULL ?
		dmab_client_buffer_get_wl_buffer(slot->buffer) : slot->own_wl_buffer);
	if (dmab_client_roundtrip(s->client) < 0) {
		kt_info("the connection failed after the commit");
		return false;
	}
	return true;
}

static bool screen_shows(struct scene *s, uint32_t rgb, const char *check, int timeout_ms)
{
	struct kt_region_result r;
	int ms = kt_wait_for_region(&s->daemon, 0, 0, WINDOW_WIDTH, WINDOW_HEIGHT,
		kt_expected_solid, &rgb, timeout_ms, &r);
	if (ms >= 0) {
		kt_pass(check_name(s, check), "0x%06x after %d ms", rgb, ms);
		return true;
	}
	kt_fail(check_name(s, check), "no screenshot showed the %dx%d window all 0x%06x within "
		"%d ms; the last had %ld other pixels, the first at %d,%d: 0x%06x", WINDOW_WIDTH,
		WINDOW_HEIGHT, rgb, timeout_ms, r.mismatches, r.bad_x, r.bad_y, r.got);
	return false;
}

/* Frame A on slot 0, on screen: the baseline that the held commit must keep. */
static bool show_frame_a(struct scene *s)
{
	struct slot *a = &s->slots[0];
	if (!begin_write(a))
		return false;
	fill(a, COLOUR_A);
	return end_write(a) && present(s, a) &&
		screen_shows(s, COLOUR_A, "shows-frame-A", FRAME_TIMEOUT_MS);
}

/* poll(POLLIN) on a dma-buf or sync_file: ready once its (write) fences signaled. */
static bool fd_signaled(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

/*
 * The commit of frame B waits for the fence: two screenshots HELD_SHOT_GAP_MS
 * apart still show A, the daemon logged that it held the commit, and all of it
 * happened while the fence was pending (pending_fd is not ready yet).
 */
static void check_held(struct scene *s, int64_t fence_start, int pending_fd)
{
	for (int i = 1; i <= 2; i++) {
		if (i > 1)
			kt_sleep_ms(HELD_SHOT_GAP_MS);
		char check[48];
		snprintf(check, sizeof(check), "shows-A-while-fence-pending-%d", i);
		struct dmab_test_image img;
		uint32_t a = COLOUR_A;
		struct kt_region_result r;
		if (!kt_screenshot(&s->daemon, &img)) {
			kt_fail(check_name(s, check), "no screenshot");
			return;
		}
		bool shows_a = kt_region_matches(&img, 0, 0, WINDOW_WIDTH, WINDOW_HEIGHT,
			kt_expected_solid, &a, &r);
		uint32_t centre = dmab_test_image_pixel(&img, WINDOW_WIDTH / 2, WINDOW_HEIGHT / 2);
		dmab_test_image_finish(&img);
		kt_check(shows_a, check_name(s, check),
			"%lld ms after the fence: centre pixel 0x%06x (A 0x%06x, B 0x%06x), %ld "
			"pixels not A", (long long)(kt_now_ms() - fence_start), centre, COLOUR_A,
			COLOUR_B, r.mismatches);
	}
	kt_check(kt_stderr_contains(&s->daemon.proc, HOLD_LOG_LINE),
		check_name(s, "daemon-held-the-commit"), "log line \"%s\"", HOLD_LOG_LINE);
	int64_t elapsed = kt_now_ms() - fence_start;
	bool pending = !fd_signaled(pending_fd);
	kt_check(pending && elapsed < PENDING_BUDGET_MS,
		check_name(s, "fence-pending-throughout"),
		"%s %lld ms after it was attached (vgem signals by itself after ~10 s)",
		pending ? "still pending" : "SIGNALED", (long long)elapsed);
}

static bool vgem_fence_attach(const struct scene *s, int vgem, uint32_t handle,
	uint32_t *fence)
{
	struct drm_vgem_fence_attach attach = { .handle = handle, .flags = VGEM_FENCE_WRITE };
	int ret = drmIoctl(vgem, DRM_IOCTL_VGEM_FENCE_ATTACH, &attach);
	*fence = attach.out_fence;
	return kt_check(ret == 0, check_name(s, "vgem-fence-attached"), "%s",
		ret == 0 ? "WRITE" : strerror(errno));
}

static void vgem_fence_signal(const struct scene *s, int vgem, uint32_t fence)
{
	struct drm_vgem_fence_signal signal = { .fence = fence };
	int ret = drmIoctl(vgem, DRM_IOCTL_VGEM_FENCE_SIGNAL, &signal);
	/* ETIMEDOUT: vgem had signaled it by itself, and the checks above proved less. */
	kt_check(ret == 0, check_name(s, "vgem-fence-signaled-by-test"), "%s",
		ret == 0 ? "ok" : strerror(errno));
}

static bool is_sync_file(int fd)
{
	struct sync_file_info info = { 0 };
	return ioctl(fd, SYNC_IOC_FILE_INFO, &info) == 0;
}

/*
 * The broker's own write fence signaled at end_access, but the kernel's has
 * not: get_fence(write) must hand out the kernel's, a pending sync_file.
 */
static int check_get_fence(struct scene *s, struct slot *slot)
{
	int fd = dmab_client_buffer_get_fence_fd(slot->buffer, true);
	if (fd < 0) {
		kt_fail(check_name(s, "get-fence-is-pending-sync-file"), "get_fence: %s",
			strerror(-fd));
		return -1;
	}
	bool sync_file = is_sync_file(fd), signaled = fd_signaled(fd);
	kt_check(sync_file && !signaled, check_name(s, "get-fence-is-pending-sync-file"),
		"%s, %s", sync_file ? "a sync_file" : "NOT a sync_file",
		signaled ? "SIGNALED" : "pending");
	return fd;
}

static void check_get_fence_signals(const struct scene *s, int fd)
{
	if (fd < 0)
		return;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	kt_check(poll(&pfd, 1, AFTER_SIGNAL_TIMEOUT_MS) == 1,
		check_name(s, "get-fence-signals-with-vgem-fence"), "poll(POLLIN)");
	close(fd);
}

/*
 * Commits frame B, which the test's fence holds back: A must stay on screen
 * while the fence is pending, and B must follow its signal. False if B could
 * not even be committed.
 */
static bool expect_held_until_signaled(struct scene *s, struct slot *b, int vgem,
	uint32_t fence, int64_t fence_start, int pending_fd)
{
	if (!present(s, b))
		return false;
	check_held(s, fence_start, pending_fd);
	vgem_fence_signal(s, vgem, fence);
	screen_shows(s, COLOUR_B, "shows-B-after-signal", AFTER_SIGNAL_TIMEOUT_MS);
	return true;
}

static void test_implicit(int vgem)
{
	struct scene s = { .variant = "fence-implicit", .backend = "drm-dumb" };
	uint32_t handle = 0, fence;
	int fence_fd = -1;
	if (!kt_check(scene_init(&s, "drm-dumb:" VGEM_CARD), check_name(&s, "setup"),
			"dmabrokerd, a toplevel, two mapped broker buffers"))
		goto out;
	if (!show_frame_a(&s))
		goto out;

	struct slot *b = &s.slots[1];
	if (!begin_write(b))
		goto out;
	fill(b, COLOUR_B);
	int dmabuf = dmab_client_attachment_get_fd(b->att);
	/* The broker's vgem buffer, seen through a DRM file of the test's own. */
	int ret = drmPrimeFDToHandle(vgem, dmabuf, &handle);
	if (!kt_check(ret == 0, check_name(&s, "dmabuf-imported-into-vgem"), "%s",
			ret == 0 ? "drmPrimeFDToHandle" : strerror(errno)) ||
			!vgem_fence_attach(&s, vgem, handle, &fence))
		goto out;
	int64_t fence_start = kt_now_ms();
	kt_check(!fd_signaled(dmabuf), check_name(&s, "dmabuf-busy-with-vgem-fence"),
		"poll(POLLIN) on the mapped dma-buf");
	if (!end_write(b))
		goto out;
	fence_fd = check_get_fence(&s, b);
	if (!expect_held_until_signaled(&s, b, vgem, fence, fence_start, dmabuf))
		goto out;
	check_get_fence_signals(&s, fence_fd);
	fence_fd = -1;
out:
	if (fence_fd >= 0)
		close(fence_fd);
	if (handle != 0)
		drmCloseBufferHandle(vgem, handle);
	scene_finish(&s);
}

/*
 * A pending sync_file from vgem: a fence on a dumb buffer of the test's own,
 * exported through its dma-buf (DMA_BUF_IOCTL_EXPORT_SYNC_FILE).
 */
struct scratch_fence {
	uint32_t handle, fence;
	int sync_file;
};

static int vgem_sync_file(const struct scene *s, int vgem, uint32_t *handle, uint32_t *fence)
{
	struct drm_mode_create_dumb create = { .width = 64, .height = 64, .bpp = 32 };
	int dmabuf = -1, sync_file = -1;
	if (drmIoctl(vgem, DRM_IOCTL_MODE_CREATE_DUMB, &create) != 0) {
		kt_fail(check_name(s, "vgem-sync-file"), "DRM_IOCTL_MODE_CREATE_DUMB: %s",
			strerror(errno));
		return -1;
	}
	*handle = create.handle;
	if (!vgem_fence_attach(s, vgem, create.handle, fence))
		return -1;
	struct dma_buf_export_sync_file export = { .flags = DMA_BUF_SYNC_WRITE, .fd = -1 };
	if (drmPrimeHandleToFD(vgem, create.handle, DRM_CLOEXEC | DRM_RDWR, &dmabuf) == 0 &&
			ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &export) == 0)
		sync_file = export.fd;
	int err = errno;
	if (dmabuf >= 0)
		close(dmabuf);
	if (sync_file < 0) {
		kt_fail(check_name(s, "vgem-sync-file"), "PRIME export and "
			"DMA_BUF_IOCTL_EXPORT_SYNC_FILE: %s", strerror(err));
		return -1;
	}
	kt_check(!fd_signaled(sync_file), check_name(s, "vgem-sync-file"),
		"exported from a vgem buffer with a pending WRITE fence: %s",
		fd_signaled(sync_file) ? "SIGNALED" : "pending");
	return sync_file;
}

static bool scratch_fence_init(struct scratch_fence *scratch, const struct scene *s, int vgem)
{
	scratch->sync_file = vgem_sync_file(s, vgem, &scratch->handle, &scratch->fence);
	return scratch->sync_file >= 0;
}

static void scratch_fence_finish(struct scratch_fence *scratch, int vgem)
{
	if (scratch->sync_file >= 0)
		close(scratch->sync_file);
	if (scratch->handle != 0)
		drmModeDestroyDumbBuffer(vgem, scratch->handle);
}

static void test_acquire(int vgem)
{
	struct scene s = { .variant = "fence-acquire", .backend = "udmabuf" };
	struct scratch_fence scratch = { .sync_file = -1 };
	if (!kt_check(scene_init(&s, "udmabuf"), check_name(&s, "setup"),
			"dmabrokerd, a toplevel, two mapped broker buffers"))
		goto out;
	if (!show_frame_a(&s))
		goto out;

	struct slot *b = &s.slots[1];
	if (!begin_write(b))
		goto out;
	fill(b, COLOUR_B);
	if (!scratch_fence_init(&scratch, &s, vgem))
		goto out;
	int64_t fence_start = kt_now_ms();
	int ret = dmab_client_attachment_set_acquire_fence(b->att, scratch.sync_file);
	if (!kt_check(ret == 0, check_name(&s, "set-acquire-fence"), "%s",
			ret == 0 ? "a pending vgem sync_file" : strerror(-ret)) || !end_write(b))
		goto out;
	/* The broker also makes the fence an implicit one of the udmabuf. */
	int dmabuf = dmab_client_attachment_get_fd(b->att);
	if (dmab_client_roundtrip(s.client) < 0)
		goto out;
	kt_check(!fd_signaled(dmabuf), check_name(&s, "dmabuf-busy-with-acquire-fence"),
		"poll(POLLIN) on the mapped udmabuf (DMA_BUF_IOCTL_IMPORT_SYNC_FILE)");
	expect_held_until_signaled(&s, b, vgem, scratch.fence, fence_start, scratch.sync_file);
out:
	scratch_fence_finish(&scratch, vgem);
	scene_finish(&s);
}

/*
 * What a GPU client does with implicit sync: the buffer is its own dma-buf,
 * shown through zwp_linux_dmabuf_v1, and the rendering fence is in the
 * dma-buf's reservation object (DMA_BUF_IOCTL_IMPORT_SYNC_FILE) when it
 * commits. The broker's allocator plays no part.
 */
static void test_linux_dmabuf(int vgem)
{
	struct scene s = {
		.variant = "fence-linux-dmabuf", .backend = "udmabuf", .own_buffers = true,
	};
	struct scratch_fence scratch = { .sync_file = -1 };
	if (!kt_check(scene_init(&s, "memfd"), check_name(&s, "setup"),
			"dmabrokerd, a toplevel, two udmabufs through zwp_linux_dmabuf_v1"))
		goto out;
	if (!show_frame_a(&s))
		goto out;

	struct slot *b = &s.slots[1];
	if (!begin_write(b))
		goto out;
	fill(b, COLOUR_B);
	if (!end_write(b))
		goto out;
	if (!scratch_fence_init(&scratch, &s, vgem))
		goto out;
	int64_t fence_start = kt_now_ms();
	struct dma_buf_import_sync_file import = {
		.flags = DMA_BUF_SYNC_WRITE, .fd = scratch.sync_file,
	};
	int ret = ioctl(b->own.fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &import);
	if (!kt_check(ret == 0, check_name(&s, "fence-imported-into-dmabuf"), "%s",
			ret == 0 ? "DMA_BUF_IOCTL_IMPORT_SYNC_FILE(WRITE)" : strerror(errno)))
		goto out;
	kt_check(!fd_signaled(b->own.fd), check_name(&s, "dmabuf-busy-with-vgem-fence"),
		"poll(POLLIN) on the udmabuf");
	expect_held_until_signaled(&s, b, vgem, scratch.fence, fence_start, b->own.fd);
out:
	scratch_fence_finish(&scratch, vgem);
	scene_finish(&s);
}

int main(int argc, char *argv[])
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int vgem = open_vgem();
	if (vgem < 0) {
		kt_skip("fence-implicit[drm-dumb]", "no vgem at %s: %s", VGEM_CARD,
			strerror(errno));
		kt_skip("fence-acquire[udmabuf]", "no vgem at %s: %s", VGEM_CARD, strerror(errno));
		kt_skip("fence-linux-dmabuf[udmabuf]", "no vgem at %s: %s", VGEM_CARD,
			strerror(errno));
		return kt_exit_status();
	}
	test_implicit(vgem);
	test_acquire(vgem);
	test_linux_dmabuf(vgem);
	close(vgem);
	return kt_exit_status();
}
