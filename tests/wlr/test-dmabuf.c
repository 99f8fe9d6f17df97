/* SPDX-License-Identifier: MIT */
/*
 * The adapter's wlr_buffer of a client's committed broker wl_buffer, as a
 * wlroots renderer finds it (wlr_surface.buffer->source), on the allocator of
 * DMAB_TEST_ALLOCATOR (the kernel tier runs this once per dma-buf backend):
 *  - wlr_buffer_get_dmabuf is false on memfd storage and describes the
 *    client's own mapping on dma-buf storage (udmabuf, dma-heap, drm-dumb),
 *    while the pixman renderer's texture still wraps the data pointer;
 *  - after the broker moved the storage, the old wlr_buffer gives no dma-buf
 *    and the next commit's wlr_buffer gives the new one;
 *  - a wl_buffer that a request other than wl_surface.attach names (as
 *    wlr-screencopy's copy does) gives no dma-buf, already in that handler;
 *  - where a DRM node exists, wlroots' GLES2 renderer imports the buffer (the
 *    texture locks it) and the texture reads back as the client's pixels;
 *  - import_cost_1080p prints the per-frame CPU time of a GPU-style import
 *    (the attributes and a sync_file of the implicit fences) against the
 *    data-pointer path (a copy of the frame, and a pixman composite of it).
 *
 * Server-side calls run on the fixture's server thread (fixture_run).
 */
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <pixman.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wayland-client.h>
#include <wayland-server-core.h>
#include <wlr/render/egl.h>
#include <wlr/render/gles2.h>
#include <wlr/render/pixman.h>
#include <wlr/render/wlr_renderer.h>
#include <wlr/render/wlr_texture.h>
#include <wlr/util/log.h>

#include "dmabroker/wlr.h"
#include "fixture.h"
#include "gen.h"
#include "gles2-context.h"
#include "harness.h"
#include "util.h"
#include "wlr/compat.h"

#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

enum { SEED = 41, APPLY_TIMEOUT_MS = 5000 };

/* The last error wlroots logged (server thread), for a skip's reason. */
static char last_wlr_error[256];

static void capture_wlr_log(enum wlr_log_importance importance, const char *fmt, va_list args)
	__attribute__((format(printf, 2, 0)));

static void capture_wlr_log(enum wlr_log_importance importance, const char *fmt, va_list args)
{
	if (importance == WLR_ERROR)
		vsnprintf(last_wlr_error, sizeof(last_wlr_error), fmt, args);
}

struct server_side {
	struct fixture *f;
	struct wlr_renderer *renderer; /* pixman, the compositor's */
	struct wlr_compositor *compositor;
	struct dmab_wlr_adapter *adapter;
};

static void setup_task(void *data)
{
	struct server_side *s = data;
	struct wl_display *display = fixture_server_display(s->f);
	s->renderer = wlr_pixman_renderer_create();
	s->compositor = s->renderer ? compat_compositor_create(display, s->renderer) : NULL;
	s->adapter = s->compositor ? dmab_wlr_adapter_create(display, s->compositor) : NULL;
}

static void teardown_task(void *data)
{
	struct server_side *s = data;
	dmab_wlr_adapter_destroy(s->adapter);
}

struct scene {
	struct fixture *f;
	struct server_side server;
	struct fixture_client *c;
	struct wl_compositor *compositor;
	struct wl_surface *surface;
	struct dmab_client_buffer *buffer;
	struct dmab_client_attachment *att;
	struct dmab_client_layout layout;
	int fds_before;
};

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
	const char *interface, uint32_t version)
{
	struct scene *s = data;
	if (strcmp(interface, wl_compositor_interface.name) == 0)
		s->compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 4);
}

static void handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

/* A client shows a width x height ARGB8888 broker buffer with the pattern in a surface. */
static void scene_init(struct scene *s, uint32_t width, uint32_t height)
{
	*s = (struct scene){ .f = fixture_create(NULL) };
	s->server.f = s->f;
	fixture_run(s->f, setup_task, &s->server);
	CHECK(s->server.adapter != NULL);
	s->fds_before = fixture_count_fds(s->f);
	s->c = fixture_client(s->f);
	struct wl_registry *registry = wl_display_get_registry(s->c->display);
	wl_registry_add_listener(registry, &registry_listener, s);
	CHECK(wl_display_roundtrip(s->c->display) >= 0);
	wl_registry_destroy(registry);
	CHECK(s->compositor != NULL);
	s->surface = wl_compositor_create_surface(s->compositor);

	s->buffer = dmab_client_buffer_create(s->c->client, width, height, DRM_FORMAT_ARGB8888,
		DMABROKER_MANAGER_V1_USAGE_CPU_WRITE, "wlr-dmabuf");
	CHECK(s->buffer != NULL);
	s->att = attach_mapped(s->buffer, RW, WRITE);
	dmab_client_buffer_get_layout(s->buffer, &s->layout);
	CHECK_EQ(dmab_client_attachment_begin(s->att, WRITE), 0);
	pattern_fill(dmab_client_attachment_get_data(s->att),
		dmab_client_attachment_get_stride(s->att), width * 4, height, SEED);
	CHECK_EQ(dmab_client_attachment_end(s->att), 0);

	wl_surface_attach(s->surface, dmab_client_buffer_get_wl_buffer(s->buffer), 0, 0);
	wl_surface_damage(s->surface, 0, 0, (int32_t)width, (int32_t)height);
	wl_surface_commit(s->surface);
	CHECK(wl_display_roundtrip(s->c->display) >= 0);
}

static void scene_finish(struct scene *s)
{
	wl_surface_destroy(s->surface);
	wl_compositor_destroy(s->compositor);
	dmab_client_attachment_destroy(s->att);
	dmab_client_buffer_destroy(s->buffer);
	fixture_client_close(s->c);
	/* Every read the adapter held ended with the surface. */
	fixture_run(s->f, teardown_task, &s->server);
	CHECK_EQ(fixture_count_fds(s->f), s->fds_before);
	fixture_destroy(s->f);
	wlr_renderer_destroy(s->server.renderer);
}

/* What the server thread saw of the surface's buffer. */
struct probe {
	struct scene *scene;
	uint32_t surface_id;
	uint32_t seed; /* of the pattern the client wrote */
	bool applied; /* the commit has a texture */
	bool is_broker;
	bool has_dmabuf;
	struct wlr_dmabuf_attributes dmabuf;
	int dmabuf_fd; /* a dup of dmabuf.fd[0], or -1 */
	bool data_ptr;
	uint32_t data_format;
	size_t data_stride;
	bool data_pattern; /* the data pointer shows the client's pixels */
	bool texture_pixman, texture_wraps_data;
};

static struct wlr_buffer *surface_source(struct scene *s, uint32_t surface_id,
	struct wlr_client_buffer **client_buffer)
{
	struct wl_resource *resource = wl_client_get_object(s->c->server_client, surface_id);
	if (resource == NULL)
		return NULL;
	struct wlr_surface *surface = wlr_surface_from_resource(resource);
	*client_buffer = surface->buffer;
	return surface->buffer ? surface->buffer->source : NULL;
}

static void probe_task(void *data)
{
	struct probe *p = data;
	struct wlr_client_buffer *client_buffer;
	struct wlr_buffer *source = surface_source(p->scene, p->surface_id, &client_buffer);
	p->dmabuf_fd = -1;
	p->applied = source != NULL && client_buffer->texture != NULL;
	if (!p->applied)
		return;
	p->is_broker = dmab_wlr_buffer_is_broker(source);
	p->has_dmabuf = wlr_buffer_get_dmabuf(source, &p->dmabuf);
	if (p->has_dmabuf)
		p->dmabuf_fd = fcntl(p->dmabuf.fd[0], F_DUPFD_CLOEXEC, 0);
	void *ptr;
	p->data_ptr = wlr_buffer_begin_data_ptr_access(source, WLR_BUFFER_DATA_PTR_ACCESS_READ,
		&ptr, &p->data_format, &p->data_stride);
	if (!p->data_ptr)
		return;
	p->data_pattern = pattern_check(ptr, (uint32_t)p->data_stride,
		(uint32_t)source->width * 4, (uint32_t)source->height, p->seed);
	/* The pixman texture samples the broker's mapping itself, not a copy. */
	p->texture_pixman = wlr_texture_is_pixman(client_buffer->texture);
	p->texture_wraps_data = p->texture_pixman &&
		pixman_image_get_data(wlr_pixman_texture_get_image(client_buffer->texture)) == ptr;
	wlr_buffer_end_data_ptr_access(source);
}

/* Waits until the commit is applied (the adapter may hold it until the read is ready). */
static void probe_seed(struct scene *s, struct probe *p, uint32_t seed)
{
	*p = (struct probe){ .scene = s, .seed = seed,
		.surface_id = wl_proxy_get_id((struct wl_proxy *)s->surface) };
	for (int waited = 0; waited < APPLY_TIMEOUT_MS * dmab_test_time_scale(); waited += 10) {
		fixture_run(s->f, probe_task, p);
		if (p->applied)
			return;
		CHECK(wl_display_roundtrip(s->c->display) >= 0);
		usleep(10 * 1000);
	}
	dmab_test_fail(__FILE__, __LINE__, "the commit was not applied in %d ms", APPLY_TIMEOUT_MS);
}

static void probe(struct scene *s, struct probe *p)
{
	probe_seed(s, p, SEED);
}

static bool storage_is_dmabuf(void)
{
	return strcmp(dmab_test_allocator(), "memfd") != 0;
}

/* get_dmabuf describes exactly what the client mapped; memfd storage has none. */
DMAB_TEST(committed_buffer_dmabuf_matches_the_client_mapping)
{
	struct scene s;
	scene_init(&s, 64, 48);
	struct probe p;
	probe(&s, &p);
	CHECK(p.is_broker);
	CHECK(p.data_ptr);
	CHECK(p.data_pattern);
	CHECK_EQ(p.data_format, DRM_FORMAT_ARGB8888);
	CHECK_EQ(p.data_stride, s.layout.stride);
	/* pixman keeps compositing the data pointer, dma-buf or not. */
	CHECK(p.texture_pixman);
	CHECK(p.texture_wraps_data);
	if (!storage_is_dmabuf()) {
		CHECK(!p.has_dmabuf);
		scene_finish(&s);
		return;
	}
	CHECK(p.has_dmabuf);
	CHECK(p.dmabuf_fd >= 0);
	CHECK_EQ(p.dmabuf.width, 64);
	CHECK_EQ(p.dmabuf.height, 48);
	CHECK_EQ(p.dmabuf.format, s.layout.format);
	CHECK_EQ(p.dmabuf.modifier, DRM_FORMAT_MOD_LINEAR);
	CHECK_EQ(p.dmabuf.n_planes, s.layout.n_planes);
	CHECK_EQ(p.dmabuf.n_planes, dmab_client_attachment_get_n_planes(s.att));
	for (int i = 0; i < p.dmabuf.n_planes; i++) {
		struct dmab_client_plane plane;
		CHECK(dmab_client_attachment_get_plane(s.att, (uint32_t)i, &plane) != NULL);
		CHECK_EQ(p.dmabuf.offset[i], plane.offset);
		CHECK_EQ(p.dmabuf.stride[i], plane.stride);
		CHECK_EQ(p.dmabuf.fd[i], p.dmabuf.fd[0]);
	}
	/* The same storage as the client's: the same size, and its pixels. */
	off_t size = lseek(p.dmabuf_fd, 0, SEEK_END);
	CHECK_EQ(size, lseek(dmab_client_attachment_get_fd(s.att), 0, SEEK_END));
	CHECK_EQ((uint64_t)size, s.layout.size);
	const uint8_t *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, p.dmabuf_fd, 0);
	CHECK(map != MAP_FAILED);
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ };
	CHECK_EQ(ioctl(p.dmabuf_fd, DMA_BUF_IOCTL_SYNC, &sync), 0);
	CHECK(pattern_check(map + p.dmabuf.offset[0], p.dmabuf.stride[0], 64 * 4, 48, SEED));
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
	CHECK_EQ(ioctl(p.dmabuf_fd, DMA_BUF_IOCTL_SYNC, &sync), 0);
	munmap((void *)map, (size_t)size);
	close(p.dmabuf_fd);
	scene_finish(&s);
}

static void no_buffer_task(void *data)
{
	struct probe *p = data;
	struct wlr_client_buffer *client_buffer;
	p->applied = surface_source(p->scene, p->surface_id, &client_buffer) == NULL;
}

/* The surface shows nothing: the adapter's read of the buffer ends. */
static void scene_detach(struct scene *s)
{
	wl_surface_attach(s->surface, NULL, 0, 0);
	wl_surface_commit(s->surface);
	struct probe p = { .scene = s,
		.surface_id = wl_proxy_get_id((struct wl_proxy *)s->surface) };
	for (int waited = 0; waited < APPLY_TIMEOUT_MS * dmab_test_time_scale(); waited += 10) {
		CHECK(wl_display_roundtrip(s->c->display) >= 0);
		fixture_run(s->f, no_buffer_task, &p);
		if (p.applied)
			return;
		usleep(10 * 1000);
	}
	dmab_test_fail(__FILE__, __LINE__, "the NULL commit was not applied");
}

static void scene_commit(struct scene *s)
{
	wl_surface_attach(s->surface, dmab_client_buffer_get_wl_buffer(s->buffer), 0, 0);
	wl_surface_damage(s->surface, 0, 0, INT32_MAX, INT32_MAX);
	wl_surface_commit(s->surface);
	CHECK(wl_display_roundtrip(s->c->display) >= 0);
}

static ino_t fd_inode(int fd)
{
	struct stat st;
	CHECK_EQ(fstat(fd, &st), 0);
	return st.st_ino;
}

/*
 * Renderers keep their import on the wlr_buffer. Once the broker moved the
 * buffer to new storage, that wlr_buffer gives no dma-buf (the renderer takes
 * the data pointer), and the next commit after it was let go gets a fresh
 * wlr_buffer that gives the new one. On memfd storage only the data pointer
 * is checked: it follows the move.
 */
DMAB_TEST(storage_moved_between_reads_gives_the_new_dmabuf)
{
	enum { W = 64, H = 48, SEED2 = SEED + 1 };
	bool dmabuf = storage_is_dmabuf();
	struct scene s;
	scene_init(&s, W, H);
	struct probe p;
	probe(&s, &p);
	CHECK_EQ(p.has_dmabuf, dmabuf);
	ino_t old_inode = dmabuf ? fd_inode(p.dmabuf_fd) : 0;
	uint32_t old_stride = (uint32_t)p.data_stride;
	if (dmabuf)
		close(p.dmabuf_fd);

	/* A writer that needs 4096-byte rows moves the buffer, now that no one reads it. */
	scene_detach(&s);
	dmab_client_attachment_destroy(s.att);
	struct dmab_client_constraints strict = { .row_alignment = 4096 };
	s.att = dmab_client_attachment_create(s.buffer, RW, &strict);
	CHECK(s.att != NULL);
	CHECK_EQ(dmab_client_attachment_map(s.att, WRITE), 0);
	uint32_t stride = dmab_client_attachment_get_stride(s.att);
	CHECK_EQ(stride % 4096, 0);
	CHECK(stride != old_stride);
	CHECK_EQ(dmab_client_attachment_begin(s.att, WRITE), 0);
	pattern_fill(dmab_client_attachment_get_data(s.att), stride, W * 4, H, SEED2);
	CHECK_EQ(dmab_client_attachment_end(s.att), 0);

	/* The same wlr_buffer: its dma-buf would be the old one, so it gives none. */
	scene_commit(&s);
	probe_seed(&s, &p, SEED2);
	CHECK(!p.has_dmabuf);
	CHECK(p.data_ptr);
	CHECK(p.data_pattern);
	CHECK_EQ(p.data_stride, stride);

	/* Once it is let go, the wl_buffer gets a wlr_buffer of the new storage. */
	scene_detach(&s);
	scene_commit(&s);
	probe_seed(&s, &p, SEED2);
	CHECK(p.data_pattern);
	CHECK_EQ(p.has_dmabuf, dmabuf);
	if (!dmabuf) {
		scene_finish(&s);
		return;
	}
	CHECK(fd_inode(p.dmabuf_fd) != old_inode);
	CHECK_EQ(fd_inode(p.dmabuf_fd), fd_inode(dmab_client_attachment_get_fd(s.att)));
	CHECK_EQ(p.dmabuf.stride[0], stride);
	struct dmab_client_plane plane;
	CHECK(dmab_client_attachment_get_plane(s.att, 0, &plane) != NULL);
	CHECK_EQ(p.dmabuf.offset[0], plane.offset);
	close(p.dmabuf_fd);
	scene_finish(&s);
}

/*
 * wlroots 0.18's wlr-screencopy renders into the wl_buffer of its copy request
 * through get_dmabuf. A stand-in: a global whose one request takes a wl_buffer,
 * and whose handler asks get_dmabuf, as screencopy's does.
 */
struct sink_take_impl {
	void (*take)(struct wl_client *client, struct wl_resource *resource,
		struct wl_resource *buffer);
};

static const struct wl_interface *sink_take_types[] = { &wl_buffer_interface };
static const struct wl_message sink_requests[] = { { "take", "o", sink_take_types } };
static const struct wl_interface sink_interface = {
	"dmab_test_sink", 1, 1, sink_requests, 0, NULL,
};

struct refuse {
	struct scene *scene;
	uint32_t surface_id;
	struct wl_global *global;
	bool before, in_handler, after, handled;
};

static bool source_gives_dmabuf(struct refuse *r)
{
	struct wlr_client_buffer *client_buffer;
	struct wlr_dmabuf_attributes attribs;
	struct wlr_buffer *source = surface_source(r->scene, r->surface_id, &client_buffer);
	return source != NULL && wlr_buffer_get_dmabuf(source, &attribs);
}

static void sink_take(struct wl_client *client, struct wl_resource *resource,
	struct wl_resource *buffer)
{
	struct refuse *r = wl_resource_get_user_data(resource);
	r->handled = dmab_server_is_wl_buffer(buffer);
	r->in_handler = source_gives_dmabuf(r);
}

static const struct sink_take_impl sink_impl = { .take = sink_take };

static void sink_bind(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *resource = wl_resource_create(client, &sink_interface, 1, id);
	if (resource == NULL) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(resource, &sink_impl, data, NULL);
}

static void sink_create_task(void *data)
{
	struct refuse *r = data;
	r->global = wl_global_create(fixture_server_display(r->scene->f), &sink_interface, 1, r,
		sink_bind);
	r->before = source_gives_dmabuf(r);
}

static void refuse_check_task(void *data)
{
	struct refuse *r = data;
	r->after = source_gives_dmabuf(r);
}

static void sink_destroy_task(void *data)
{
	struct refuse *r = data;
	r->after = source_gives_dmabuf(r);
	wl_global_destroy(r->global);
}

struct sink_name {
	uint32_t name;
};

static void sink_global(void *data, struct wl_registry *registry, uint32_t name,
	const char *interface, uint32_t version)
{
	struct sink_name *sink = data;
	if (strcmp(interface, sink_interface.name) == 0)
		sink->name = name;
}

static const struct wl_registry_listener sink_registry_listener = {
	.global = sink_global,
	.global_remove = handle_global_remove,
};

DMAB_TEST(wl_buffer_named_by_another_request_gives_no_dmabuf)
{
	if (!storage_is_dmabuf())
		dmab_test_skip("memfd storage has no dma-buf to refuse");
	struct scene s;
	scene_init(&s, 32, 32);
	struct probe p;
	probe(&s, &p);
	close(p.dmabuf_fd);
	struct refuse r = { .scene = &s, .surface_id = p.surface_id };
	fixture_run(s.f, sink_create_task, &r);
	CHECK(r.before);

	/* Attaching it to a second surface is a read like the first: nothing changes. */
	struct wl_surface *other = wl_compositor_create_surface(s.compositor);
	wl_surface_attach(other, dmab_client_buffer_get_wl_buffer(s.buffer), 0, 0);
	CHECK(wl_display_roundtrip(s.c->display) >= 0);
	r.after = false;
	fixture_run(s.f, refuse_check_task, &r);
	CHECK(r.after);

	struct sink_name sink = {0};
	struct wl_registry *registry = wl_display_get_registry(s.c->display);
	wl_registry_add_listener(registry, &sink_registry_listener, &sink);
	CHECK(wl_display_roundtrip(s.c->display) >= 0);
	CHECK(sink.name != 0);
	struct wl_proxy *proxy = wl_registry_bind(registry, sink.name, &sink_interface, 1);
	wl_proxy_marshal_flags(proxy, 0, NULL, 1, 0, dmab_client_buffer_get_wl_buffer(s.buffer));
	CHECK(wl_display_roundtrip(s.c->display) >= 0);
	fixture_run(s.f, sink_destroy_task, &r);
	CHECK(r.handled);
	/* Refused before the handler ran, and for good. */
	CHECK(!r.in_handler);
	CHECK(!r.after);
	wl_proxy_destroy(proxy);
	wl_registry_destroy(registry);
	wl_surface_destroy(other);
	scene_finish(&s);
}

/* The first DRM node there is, for wlr_gles2_renderer_create_with_drm_fd. */
static int open_drm_node(char *path, size_t len)
{
	static const char *const candidates[] = {
		"/dev/dri/renderD128", "/dev/dri/renderD129", "/dev/dri/card0", "/dev/dri/card1",
	};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		int fd = open(candidates[i], O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			snprintf(path, len, "%s", candidates[i]);
			return fd;
		}
	}
	return -1;
}

/*
 * wlroots' GLES2 renderer on an EGL display of Mesa's surfaceless platform,
 * made here and handed over with wlr_egl_create_with_context. On vgem, Mesa
 * 22.3's EGL device platform, which wlr_gles2_renderer_create_with_drm_fd
 * takes first, gives kms_swrast vgem's render node, where the kernel refuses
 * the DRM_IOCTL_MODE_MAP_DUMB that kms_swrast maps every buffer with (EACCES:
 * the ioctl is not allowed on render nodes), so llvmpipe can import a dma-buf
 * there but never read it (glReadPixels: GL_OUT_OF_MEMORY). The surfaceless
 * platform gives kms_swrast the primary node (/dev/dri/card0), where it can.
 */
static struct wlr_renderer *gles2_surfaceless_create(char *why, size_t len)
{
	PFNEGLGETPLATFORMDISPLAYEXTPROC get_display =
		(PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
	EGLDisplay display = get_display ? get_display(EGL_PLATFORM_SURFACELESS_MESA,
		EGL_DEFAULT_DISPLAY, NULL) : EGL_NO_DISPLAY;
	if (display == EGL_NO_DISPLAY || !eglInitialize(display, NULL, NULL)) {
		snprintf(why, len, "no EGL surfaceless display (EGL error 0x%x)", eglGetError());
		return NULL;
	}
	static const EGLint attribs[] = { EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE };
	eglBindAPI(EGL_OPENGL_ES_API);
	EGLContext context = eglCreateContext(display, EGL_NO_CONFIG_KHR, EGL_NO_CONTEXT, attribs);
	if (context == EGL_NO_CONTEXT) {
		snprintf(why, len, "no GLES2 context (EGL error 0x%x)", eglGetError());
		eglTerminate(display);
		return NULL;
	}
	struct wlr_egl *egl = wlr_egl_create_with_context(display, context);
	struct wlr_renderer *renderer = egl ? wlr_gles2_renderer_create(egl) : NULL;
	if (renderer == NULL) {
		snprintf(why, len, "wlroots refuses the surfaceless EGL display: %s",
			last_wlr_error);
		if (egl == NULL) {
			eglDestroyContext(display, context);
			eglTerminate(display);
		}
	}
	return renderer;
}

struct gles2 {
	struct scene *scene;
	uint32_t surface_id;
	int drm_fd; /* -1: the surfaceless renderer */
	char why[400]; /* what failed */
	bool created, imported, locked, read_back;
	GLenum read_error; /* of glReadPixels */
	uint8_t *rgba; /* width x height, read back */
	uint32_t width, height;
	char renderer_name[128];
};

/* Reads the GLES2 texture back through a framebuffer, in the renderer's context. */
static void gles2_read_back(struct gles2 *g, struct wlr_renderer *renderer,
	struct wlr_texture *texture)
{
	struct wlr_gles2_texture_attribs attribs;
	wlr_gles2_texture_get_attribs(texture, &attribs);
	if (!test_gles2_make_current(renderer)) {
		snprintf(g->why, sizeof(g->why), "cannot make the renderer's EGL context current");
		return;
	}
	if (attribs.target != GL_TEXTURE_2D) {
		snprintf(g->why, sizeof(g->why), "the import is an external-only texture "
			"(target 0x%x), which cannot be a framebuffer attachment", attribs.target);
		return;
	}
	snprintf(g->renderer_name, sizeof(g->renderer_name), "%s",
		(const char *)glGetString(GL_RENDERER));
	/* wlroots leaves no GL error behind on purpose: start from none. */
	while (glGetError() != GL_NO_ERROR) {
	}
	GLuint fbo;
	glGenFramebuffers(1, &fbo);
	glBindFramebuffer(GL_FRAMEBUFFER, fbo);
	glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, attribs.tex, 0);
	GLenum status = glCheckFramebufferStatus(GL_FRAMEBUFFER), error = GL_NO_ERROR;
	if (status == GL_FRAMEBUFFER_COMPLETE) {
		glReadPixels(0, 0, (GLsizei)g->width, (GLsizei)g->height, GL_RGBA, GL_UNSIGNED_BYTE,
			g->rgba);
		error = glGetError();
		g->read_error = error;
		g->read_back = error == GL_NO_ERROR;
	}
	if (!g->read_back) {
		snprintf(g->why, sizeof(g->why), "reading the texture back failed: framebuffer "
			"status 0x%x, glReadPixels error 0x%x", status, error);
	}
	glBindFramebuffer(GL_FRAMEBUFFER, 0);
	glDeleteFramebuffers(1, &fbo);
}

/*
 * LeakSanitizer's, where it is linked in. Mesa's driver keeps allocations for
 * the life of the process and is unloaded with the EGL display, so LSan cannot
 * even name their stacks for a suppression: they are not checked here.
 */
extern void __lsan_disable(void) __attribute__((weak));
extern void __lsan_enable(void) __attribute__((weak));

static void gles2_run(struct gles2 *g);

static void gles2_task(void *data)
{
	if (__lsan_disable != NULL)
		__lsan_disable();
	gles2_run(data);
	if (__lsan_enable != NULL)
		__lsan_enable();
}

static void gles2_run(struct gles2 *g)
{
	struct wlr_client_buffer *client_buffer;
	struct wlr_buffer *source = surface_source(g->scene, g->surface_id, &client_buffer);
	last_wlr_error[0] = '\0';
	struct wlr_renderer *renderer;
	if (g->drm_fd >= 0) {
		renderer = wlr_gles2_renderer_create_with_drm_fd(g->drm_fd);
		if (renderer == NULL) {
			snprintf(g->why, sizeof(g->why), "wlr_gles2_renderer_create_with_drm_fd "
				"failed; wlroots' last error: %s", last_wlr_error);
		}
	} else {
		renderer = gles2_surfaceless_create(g->why, sizeof(g->why));
	}
	if (renderer == NULL)
		return;
	g->created = true;
	size_t locks = source->n_locks;
	struct wlr_texture *texture = wlr_texture_from_buffer(renderer, source);
	if (texture == NULL) {
		snprintf(g->why, sizeof(g->why), "wlr_texture_from_buffer failed; wlroots' last "
			"error: %s", last_wlr_error);
		wlr_renderer_destroy(renderer);
		return;
	}
	g->imported = true;
	/* An import keeps the buffer locked, an upload from the data pointer does not. */
	g->locked = source->n_locks == locks + 1;
	gles2_read_back(g, renderer, texture);
	wlr_texture_destroy(texture);
	wlr_renderer_destroy(renderer);
}

/* True if rgba is the pattern; else what differs in what, and *zero if it is all zeros. */
static bool rgba_matches(const uint8_t *rgba, uint32_t width, uint32_t height, char *what,
	size_t len, bool *zero)
{
	bool match = true;
	*zero = true;
	for (uint32_t y = 0; y < height; y++) {
		for (uint32_t x = 0; x < width; x++) {
			const uint8_t *q = rgba + (y * width + x) * 4;
			/* ARGB8888 is B, G, R, A in memory; GL_RGBA gives R, G, B, A. */
			uint8_t want[4] = { pattern_byte(SEED, y, x * 4 + 2),
				pattern_byte(SEED, y, x * 4 + 1), pattern_byte(SEED, y, x * 4),
				pattern_byte(SEED, y, x * 4 + 3) };
			*zero = *zero && q[0] == 0 && q[1] == 0 && q[2] == 0 && q[3] == 0;
			if (match && memcmp(q, want, 4) != 0) {
				match = false;
				snprintf(what, len, "pixel (%u,%u) reads RGBA %02x%02x%02x%02x, "
					"the client wrote %02x%02x%02x%02x", x, y, q[0], q[1], q[2], q[3],
					want[0], want[1], want[2], want[3]);
			}
		}
	}
	return match;
}

static const char *gles2_texture_kind(const struct gles2 *g)
{
	if (!g->imported)
		return "none";
	return g->locked ? "imported from the dma-buf" : "uploaded from the data pointer";
}

/*
 * wlroots' GLES2 renderer imports the committed buffer as a texture, with no
 * copy: the one wlr_gles2_renderer_create_with_drm_fd makes (Mesa 22.3 on vgem
 * can import there but not read the import back: see gles2_surfaceless_create),
 * and one on a surfaceless EGL display, whose texture must read back as the
 * client's pixels.
 */
DMAB_TEST(gles2_renderer_imports_the_committed_buffer)
{
	char path[64];
	int drm_fd = open_drm_node(path, sizeof(path));
	if (drm_fd < 0)
		dmab_test_skip("no DRM node for wlroots' GLES2 renderer");
	enum { W = 64, H = 48 };
	struct scene s;
	scene_init(&s, W, H);
	struct probe p;
	probe(&s, &p);
	if (p.dmabuf_fd >= 0)
		close(p.dmabuf_fd);
	static uint8_t rgba[W * H * 4];
	struct gles2 sl = { .scene = &s, .surface_id = p.surface_id, .drm_fd = -1,
		.rgba = rgba, .width = W, .height = H };
	fixture_run(s.f, gles2_task, &sl);
	printf("# gles2 surfaceless: renderer %s, texture %s; %s\n",
		sl.created ? "created" : "failed", gles2_texture_kind(&sl),
		sl.read_back ? sl.renderer_name : sl.why);
	struct gles2 drm = { .scene = &s, .surface_id = p.surface_id, .drm_fd = drm_fd,
		.rgba = rgba, .width = W, .height = H };
	fixture_run(s.f, gles2_task, &drm);
	printf("# gles2 with_drm_fd(%s): renderer %s, texture %s; %s\n", path,
		drm.created ? "created" : "failed", gles2_texture_kind(&drm),
		drm.read_back ? "read back" : drm.why);
	/* The drm fd was open when the scene counted the fds. */
	scene_finish(&s);
	close(drm_fd);
	/* Wherever wlroots makes a texture, a dma-buf is imported and memfd uploaded. */
	if (drm.created) {
		CHECK(drm.imported);
		CHECK_EQ(drm.locked, storage_is_dmabuf());
	}
	if (!sl.created)
		dmab_test_skip("%s", sl.why);
	CHECK(sl.imported);
	CHECK_EQ(sl.locked, storage_is_dmabuf());
	/*
	 * kms_swrast maps every buffer with DRM_IOCTL_MODE_MAP_DUMB, which the
	 * kernel refuses for a GEM object imported from another exporter's
	 * dma-buf (EINVAL): llvmpipe cannot read a udmabuf or dma-heap import,
	 * only vgem's own dumb buffers. A limit of the software driver.
	 */
	bool foreign = storage_is_dmabuf() && strncmp(dmab_test_allocator(), "drm-dumb", 8) != 0;
	if (!sl.read_back && foreign && sl.read_error == GL_OUT_OF_MEMORY) {
		dmab_test_skip("Mesa 22.3's kms_swrast cannot map a dma-buf that vgem did not make "
			"(DRM_IOCTL_MODE_MAP_DUMB refuses imported objects): %s", sl.why);
	}
	if (!sl.read_back)
		dmab_test_fail(__FILE__, __LINE__, "%s", sl.why);
	char what[160] = "";
	bool zero;
	if (rgba_matches(rgba, W, H, what, sizeof(what), &zero))
		return;
	if (zero && foreign) {
		/* What tests/kernel/egl-import.c sees of the same limit. */
		dmab_test_skip("Mesa's kms_swrast on vgem samples a dma-buf another exporter "
			"made as zeros (%s)", what);
	}
	dmab_test_fail(__FILE__, __LINE__, "%s", what);
}

/* --- the per-frame CPU of a GPU-style import against the data-pointer path --- */

struct cost {
	struct scene *scene;
	uint32_t surface_id;
	int frames;
	bool dmabuf;
	double import_ms, memcpy_ms, composite_ms; /* per frame */
	int sync_file_error;
};

static double thread_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void cost_task(void *data)
{
	struct cost *c = data;
	struct wlr_client_buffer *client_buffer;
	struct wlr_buffer *source = surface_source(c->scene, c->surface_id, &client_buffer);
	int width = source->width, height = source->height;
	struct wlr_dmabuf_attributes attribs;
	c->dmabuf = wlr_buffer_get_dmabuf(source, &attribs);

	/* What a renderer asks per frame: the attributes, and the reads' fence as a sync_file. */
	double t0 = thread_cpu_ms();
	for (int i = 0; c->dmabuf && i < c->frames; i++) {
		wlr_buffer_get_dmabuf(source, &attribs);
		struct dma_buf_export_sync_file export = { .flags = DMA_BUF_SYNC_READ, .fd = -1 };
		if (ioctl(attribs.fd[0], DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &export) != 0) {
			c->sync_file_error = errno;
			break;
		}
		close(export.fd);
	}
	double t1 = thread_cpu_ms();

	/* Today's path for a GPU renderer: the data pointer, copied once a frame. */
	size_t stride = (size_t)width * 4;
	uint8_t *copy = malloc(stride * (size_t)height);
	pixman_image_t *dst = pixman_image_create_bits(PIXMAN_a8r8g8b8, width, height, NULL,
		(int)stride);
	for (int i = 0; copy && i < c->frames; i++) {
		void *ptr;
		uint32_t format;
		size_t src_stride;
		if (!wlr_buffer_begin_data_ptr_access(source, WLR_BUFFER_DATA_PTR_ACCESS_READ, &ptr,
				&format, &src_stride))
			break;
		for (int y = 0; y < height; y++)
			memcpy(copy + (size_t)y * stride, (uint8_t *)ptr + (size_t)y * src_stride, stride);
		wlr_buffer_end_data_ptr_access(source);
	}
	double t2 = thread_cpu_ms();
	/* ... or the pixman renderer's composite of the frame (composite.c's SRC blit). */
	for (int i = 0; dst && i < c->frames; i++) {
		void *ptr;
		uint32_t format;
		size_t src_stride;
		if (!wlr_buffer_begin_data_ptr_access(source, WLR_BUFFER_DATA_PTR_ACCESS_READ, &ptr,
				&format, &src_stride))
			break;
		pixman_image_t *src = pixman_image_create_bits_no_clear(PIXMAN_a8r8g8b8, width,
			height, ptr, (int)src_stride);
		pixman_image_composite32(PIXMAN_OP_SRC, src, NULL, dst, 0, 0, 0, 0, 0, 0, width,
			height);
		pixman_image_unref(src);
		wlr_buffer_end_data_ptr_access(source);
	}
	double t3 = thread_cpu_ms();
	if (dst)
		pixman_image_unref(dst);
	free(copy);
	c->import_ms = (t1 - t0) / c->frames;
	c->memcpy_ms = (t2 - t1) / c->frames;
	c->composite_ms = (t3 - t2) / c->frames;
}

DMAB_TEST(import_cost_1080p)
{
	struct scene s;
	scene_init(&s, 1920, 1080);
	struct probe p;
	probe(&s, &p);
	if (p.dmabuf_fd >= 0)
		close(p.dmabuf_fd);
	struct cost c = { .scene = &s, .surface_id = p.surface_id, .frames = 60 };
	fixture_run(s.f, cost_task, &c);
	scene_finish(&s);
	printf("# wlr-dmabuf[%s] 1920x1080 per frame CPU (%d frames): data pointer "
		"memcpy %.3f ms, pixman composite %.3f ms\n", dmab_test_allocator(), c.frames,
		c.memcpy_ms, c.composite_ms);
	if (!c.dmabuf)
		dmab_test_skip("%s storage has no dma-buf: no GPU-style import to measure",
			dmab_test_allocator());
	CHECK_EQ(c.sync_file_error, 0);
	printf("# wlr-dmabuf[%s] 1920x1080 per frame CPU: get_dmabuf + sync_file %.4f ms; "
		"the memcpy path costs %.0fx, the composite %.0fx that\n", dmab_test_allocator(),
		c.import_ms, c.memcpy_ms / c.import_ms, c.composite_ms / c.import_ms);
}

int main(int argc, char *argv[])
{
	wlr_log_init(WLR_ERROR, capture_wlr_log);
	/* wlroots refuses llvmpipe (an EGL display without a DRM device) unless told. */
	setenv("WLR_RENDERER_ALLOW_SOFTWARE", "1", 0);
	return dmab_test_main(argc, argv);
}
