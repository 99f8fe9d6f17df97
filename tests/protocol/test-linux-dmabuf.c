/* SPDX-License-Identifier: MIT */
/*
 * zwp_linux_dmabuf_v1 version 3 as the server library serves it: stock
 * clients' buffers become broker wl_buffers that the compositor read API
 * reads, every params error, and the non-fatal failures.
 */
#include <drm_fourcc.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compositor.h"
#include "coverage.h"
#include "fixture.h"
#include "harness.h"
#include "linux-dmabuf-unstable-v1-client-protocol.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define NV12 DRM_FORMAT_NV12
#define LINEAR DRM_FORMAT_MOD_LINEAR
#define IMPLICIT DRM_FORMAT_MOD_INVALID

enum { WIDTH = 24, HEIGHT = 10, STRIDE = 128, SIZE = 4096, ROW = WIDTH * 4, SEED = 9 };

static const unsigned int SEALS = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

struct dmabuf_client {
	struct fixture_client *c;
	struct wl_registry *registry;
	struct zwp_linux_dmabuf_v1 *dmabuf;
	uint32_t version; /* to bind */
	uint32_t formats[16];
	size_t formats_len;
	struct {
		uint32_t format;
		uint64_t modifier;
	} modifiers[32];
	size_t modifiers_len;
};

static void handle_format(void *data, struct zwp_linux_dmabuf_v1 *dmabuf, uint32_t format)
{
	struct dmabuf_client *dc = data;
	if (dc->formats_len < sizeof(dc->formats) / sizeof(dc->formats[0]))
		dc->formats[dc->formats_len++] = format;
}

static void handle_modifier(void *data, struct zwp_linux_dmabuf_v1 *dmabuf, uint32_t format,
	uint32_t hi, uint32_t lo)
{
	struct dmabuf_client *dc = data;
	if (dc->modifiers_len == sizeof(dc->modifiers) / sizeof(dc->modifiers[0]))
		return;
	dc->modifiers[dc->modifiers_len].format = format;
	dc->modifiers[dc->modifiers_len++].modifier = (uint64_t)hi << 32 | lo;
}

static const struct zwp_linux_dmabuf_v1_listener dmabuf_listener = {
	.format = handle_format,
	.modifier = handle_modifier,
};

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
	const char *interface, uint32_t version)
{
	struct dmabuf_client *dc = data;
	if (strcmp(interface, zwp_linux_dmabuf_v1_interface.name) != 0)
		return;
	CHECK_EQ(version, 3);
	dc->dmabuf = wl_registry_bind(registry, name, &zwp_linux_dmabuf_v1_interface,
		dc->version);
	zwp_linux_dmabuf_v1_add_listener(dc->dmabuf, &dmabuf_listener, dc);
}

static void handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

/* A client with the broker bound and linux-dmabuf bound at version, if it is there. */
static void dmabuf_client_init(struct dmabuf_client *dc, struct fixture *f, uint32_t version)
{
	*dc = (struct dmabuf_client){ .c = fixture_client(f), .version = version };
	dc->registry = wl_display_get_registry(dc->c->display);
	wl_registry_add_listener(dc->registry, &registry_listener, dc);
	ROUNDTRIP(dc->c->display);
	ROUNDTRIP(dc->c->display);
}

static void dmabuf_client_finish(struct dmabuf_client *dc)
{
	if (dc->dmabuf != NULL)
		zwp_linux_dmabuf_v1_destroy(dc->dmabuf);
	wl_registry_destroy(dc->registry);
	fixture_client_close(dc->c);
}

static struct fixture *fixture_with_dmabuf(uint64_t max_bytes)
{
	struct fixture_options options = { .linux_dmabuf = true, .quota.max_bytes = max_bytes };
	return fixture_create(&options);
}

/* A sealed memfd of size bytes holding the test pattern. */
static int pattern_memfd(size_t size)
{
	int fd = make_memfd(size, 0);
	void *data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(data != MAP_FAILED);
	pattern_fill(data, STRIDE, ROW, HEIGHT, SEED);
	munmap(data, size);
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, SEALS), 0);
	return fd;
}

struct params {
	struct zwp_linux_buffer_params_v1 *proxy;
	struct wl_buffer *created;
	bool failed;
};

static void handle_created(void *data, struct zwp_linux_buffer_params_v1 *proxy,
	struct wl_buffer *buffer)
{
	struct params *params = data;
	params->created = buffer;
}

static void handle_failed(void *data, struct zwp_linux_buffer_params_v1 *proxy)
{
	struct params *params = data;
	params->failed = true;
}

static const struct zwp_linux_buffer_params_v1_listener params_listener = {
	.created = handle_created,
	.failed = handle_failed,
};

static void params_init(struct params *params, struct dmabuf_client *dc)
{
	*params = (struct params){ .proxy = zwp_linux_dmabuf_v1_create_params(dc->dmabuf) };
	CHECK(params->proxy != NULL);
	zwp_linux_buffer_params_v1_add_listener(params->proxy, &params_listener, params);
}

static void params_add(struct params *params, int fd, uint32_t plane, uint32_t offset,
	uint32_t stride, uint64_t modifier)
{
	zwp_linux_buffer_params_v1_add(params->proxy, fd, plane, offset, stride,
		(uint32_t)(modifier >> 32), (uint32_t)modifier);
}

static bool params_answered(const void *data)
{
	const struct params *params = data;
	return params->created != NULL || params->failed;
}

/* create, and the wl_buffer of the created event, or NULL after failed. */
static struct wl_buffer *params_create(struct params *params, struct dmabuf_client *dc,
	int32_t width, int32_t height, uint32_t format, uint32_t flags)
{
	zwp_linux_buffer_params_v1_create(params->proxy, width, height, format, flags);
	CHECK(dispatch_until(dc->c->display, params_answered, params, 2000));
	zwp_linux_buffer_params_v1_destroy(params->proxy);
	return params->created;
}

static void check_composited(struct fixture *f, struct dmabuf_client *dc,
	struct wl_buffer *wl_buffer)
{
	struct comp_read read;
	comp_read_begin(&read, f, dc->c, wl_buffer);
	CHECK(read.is_wl_buffer);
	CHECK(read.read != NULL);
	CHECK(comp_read_ready(&read));
	CHECK_EQ(read.pixels.width, WIDTH);
	CHECK_EQ(read.pixels.height, HEIGHT);
	CHECK_EQ(read.pixels.format, ARGB);
	CHECK_EQ(read.pixels.stride, STRIDE);
	CHECK(pattern_check(read.pixels.data, read.pixels.stride, ROW, HEIGHT, SEED));
	comp_read_end(&read);
}

static bool has_modifier(const struct dmabuf_client *dc, uint32_t format, uint64_t modifier)
{
	for (size_t i = 0; i < dc->modifiers_len; i++) {
		if (dc->modifiers[i].format == format && dc->modifiers[i].modifier == modifier)
			return true;
	}
	return false;
}

DMAB_TEST(linux_dmabuf_advertises_formats_and_modifiers)
{
	struct fixture *f = fixture_with_dmabuf(0);
	struct dmabuf_client dc;
	dmabuf_client_init(&dc, f, 3);
	CHECK(dc.dmabuf != NULL);
	/* The formats of create_buffer. */
	size_t len;
	const uint32_t *formats = dmab_client_get_formats(dc.c->client, &len);
	CHECK_EQ(len, 10);
	CHECK_EQ(dc.formats_len, len);
	CHECK_EQ(dc.modifiers_len, 2 * len);
	for (size_t i = 0; i < len; i++) {
		CHECK_EQ(dc.formats[i], formats[i]);
		CHECK(has_modifier(&dc, formats[i], LINEAR));
		CHECK(has_modifier(&dc, formats[i], IMPLICIT));
	}
	dmabuf_client_finish(&dc);

	/* Before version 3 there are no modifier events. */
	dmabuf_client_init(&dc, f, 2);
	CHECK_EQ(dc.formats_len, 10);
	CHECK_EQ(dc.modifiers_len, 0);
	dmabuf_client_finish(&dc);
	fixture_destroy(f);

	/* Off unless asked for. */
	f = fixture_create(NULL);
	dmabuf_client_init(&dc, f, 3);
	CHECK(dc.dmabuf == NULL);
	dmabuf_client_finish(&dc);
	fixture_destroy(f);
}

DMAB_TEST(linux_dmabuf_create_gives_a_broker_wl_buffer)
{
	struct fixture *f = fixture_with_dmabuf(0);
	struct dmabuf_client dc;
	dmabuf_client_init(&dc, f, 3);
	const uint64_t modifiers[] = { LINEAR, IMPLICIT };
	for (size_t i = 0; i < 2; i++) {
		int fd = pattern_memfd(SIZE);
		struct params params;
		params_init(&params, &dc);
		params_add(&params, fd, 0, 0, STRIDE, modifiers[i]);
		close(fd);
		struct wl_buffer *wl_buffer = params_create(&params, &dc, WIDTH, HEIGHT, ARGB, 0);
		CHECK(wl_buffer != NULL);
		check_composited(f, &dc, wl_buffer);

		/* A buffer of the broker's, charged to the client. */
		struct info_snapshot snap;
		CHECK(info_snapshot_take(dc.c->display, dmab_client_get_manager(dc.c->client),
			&snap));
		CHECK_EQ(snap.buffers_len, 1);
		CHECK_EQ(snap.buffers[0].owner_pid, getpid());
		CHECK_EQ(snap.buffers[0].size, SIZE);
		CHECK_STR_EQ(snap.buffers[0].allocator, "imported");
		wl_buffer_destroy(wl_buffer);
		CHECK(info_snapshot_take(dc.c->display, dmab_client_get_manager(dc.c->client),
			&snap));
		CHECK_EQ(snap.buffers_len, 0);
	}
	dmabuf_client_finish(&dc);
	fixture_destroy(f);
}

DMAB_TEST(linux_dmabuf_create_immed)
{
	struct fixture *f = fixture_with_dmabuf(0);
	struct dmabuf_client dc;
	dmabuf_client_init(&dc, f, 3);
	int fd = pattern_memfd(SIZE);
	struct params params;
	params_init(&params, &dc);
	params_add(&params, fd, 0, 0, STRIDE, LINEAR);
	close(fd);
	struct wl_buffer *wl_buffer = zwp_linux_buffer_params_v1_create_immed(params.proxy,
		WIDTH, HEIGHT, ARGB, ZWP_LINUX_BUFFER_PARAMS_V1_FLAGS_Y_INVERT);
	zwp_linux_buffer_params_v1_destroy(params.proxy);
	ROUNDTRIP(dc.c->display);
	CHECK(!params.failed);
	CHECK(params.created == NULL);
	check_composited(f, &dc, wl_buffer);
	wl_buffer_destroy(wl_buffer);
	ROUNDTRIP(dc.c->display);
	dmabuf_client_finish(&dc);
	fixture_destroy(f);
}

/* What a correct client cannot know beforehand is a failed event, not an error. */
DMAB_TEST(linux_dmabuf_create_fails_without_an_error)
{
	struct fixture *f = fixture_with_dmabuf(2 * SIZE);
	struct dmabuf_client dc;
	dmabuf_client_init(&dc, f, 3);
	struct {
		size_t size;
		unsigned int seals;
		uint32_t flags;
	} cases[] = {
		{ 4 * SIZE, SEALS, 0 }, /* beyond the byte quota */
		{ SIZE, 0, 0 }, /* a memfd anyone could shrink under the compositor */
		{ SIZE, SEALS, ZWP_LINUX_BUFFER_PARAMS_V1_FLAGS_INTERLACED },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = make_memfd(cases[i].size, cases[i].seals);
		struct params params;
		params_init(&params, &dc);
		params_add(&params, fd, 0, 0, STRIDE, LINEAR);
		close(fd);
		CHECK(params_create(&params, &dc, WIDTH, HEIGHT, ARGB, cases[i].flags) == NULL);
		CHECK(params.failed);
	}
	/* The connection lives on, and a buffer within the quota still works. */
	int fd = pattern_memfd(SIZE);
	struct params params;
	params_init(&params, &dc);
	params_add(&params, fd, 0, 0, STRIDE, LINEAR);
	close(fd);
	struct wl_buffer *wl_buffer = params_create(&params, &dc, WIDTH, HEIGHT, ARGB, 0);
	CHECK(wl_buffer != NULL);
	wl_buffer_destroy(wl_buffer);
	dmabuf_client_finish(&dc);
	fixture_destroy(f);
}

/* Every plane in one dma-buf, as the broker keeps them: the fd of each plane is the same file. */
DMAB_TEST(linux_dmabuf_takes_multi_planar_buffers_in_one_fd)
{
	struct fixture *f = fixture_with_dmabuf(0);
	struct dmabuf_client dc;
	dmabuf_client_init(&dc, f, 3);
	int fd = make_memfd(SIZE, SEALS);
	struct params params;
	params_init(&params, &dc);
	params_add(&params, fd, 0, 0, 64, LINEAR);
	params_add(&params, fd, 1, 1024, 64, LINEAR);
	struct wl_buffer *wl_buffer = params_create(&params, &dc, WIDTH, HEIGHT, NV12, 0);
	CHECK(wl_buffer != NULL);
	struct info_snapshot snap;
	CHECK(info_snapshot_take(dc.c->display, dmab_client_get_manager(dc.c->client), &snap));
	CHECK_EQ(snap.buffers_len, 1);
	CHECK_EQ(snap.buffers[0].format, NV12);
	CHECK_EQ(snap.buffers[0].stride, 64);
	wl_buffer_destroy(wl_buffer);

	/* Planes in two files cannot be one storage: a failure a correct client can meet. */
	int other = make_memfd(SIZE, SEALS);
	params_init(&params, &dc);
	params_add(&params, fd, 0, 0, 64, LINEAR);
	params_add(&params, other, 1, 1024, 64, LINEAR);
	CHECK(params_create(&params, &dc, WIDTH, HEIGHT, NV12, 0) == NULL);
	CHECK(params.failed);
	close(other);
	close(fd);
	dmabuf_client_finish(&dc);
	fixture_destroy(f);
}

/* --- every error of zwp_linux_buffer_params_v1 --- */

enum step_kind { ADD, CREATE, CREATE_IMMED };

struct step {
	enum step_kind kind;
	/* ADD: a new memfd of size bytes (0: SIZE), sealed unless seals is -1 */
	size_t size;
	int seals;
	bool reuse; /* ADD: the fd of the ADD before, not a new memfd */
	uint32_t plane, offset, stride; /* stride 0: STRIDE */
	uint64_t modifier;
	int32_t width, height; /* CREATE, CREATE_IMMED */
	uint32_t format;
};

#define ADD_PLANE(...) { .kind = ADD, __VA_ARGS__ }
#define CREATE_BUFFER(w, h, fmt) { .kind = CREATE, .width = (w), .height = (h), .format = (fmt) }
#define CREATE_IMMED_BUFFER(w, h, fmt) \
	{ .kind = CREATE_IMMED, .width = (w), .height = (h), .format = (fmt) }
#define CREATE_OK CREATE_BUFFER(WIDTH, HEIGHT, ARGB)
#define CREATE_IMMED_OK CREATE_IMMED_BUFFER(WIDTH, HEIGHT, ARGB)

static void expect_params_error(uint64_t max_bytes, const struct step *steps, size_t len,
	uint32_t code)
{
	struct fixture *f = fixture_with_dmabuf(max_bytes);
	struct dmabuf_client dc;
	dmabuf_client_init(&dc, f, 3);
	struct params params;
	params_init(&params, &dc);
	struct wl_buffer *immed = NULL;
	int last_fd = -1;
	for (size_t i = 0; i < len; i++) {
		const struct step *step = &steps[i];
		if (step->kind == ADD) {
			int fd = step->reuse ? dup(last_fd) : make_memfd(step->size ?
				step->size : SIZE, step->seals < 0 ? 0 : SEALS);
			CHECK(fd >= 0);
			params_add(&params, fd, step->plane, step->offset,
				step->stride ? step->stride : STRIDE, step->modifier);
			if (last_fd >= 0) {
				close(last_fd);
			}
			last_fd = fd;
		} else if (step->kind == CREATE) {
			zwp_linux_buffer_params_v1_create(params.proxy, step->width, step->height,
				step->format, 0);
			/*
			 * libwayland-client handles an error before the events queued ahead
			 * of it, and leaks a created wl_buffer left in the queue.
			 */
			if (i + 1 < len)
				ROUNDTRIP(dc.c->display);
		} else {
			immed = zwp_linux_buffer_params_v1_create_immed(params.proxy, step->width,
				step->height, step->format, 0);
		}
	}
	if (last_fd >= 0) {
		close(last_fd);
	}
	expect_protocol_error(dc.c->display, &zwp_linux_buffer_params_v1_interface, code);
	if (immed != NULL)
		wl_buffer_destroy(immed);
	if (params.created != NULL)
		wl_buffer_destroy(params.created);
	zwp_linux_buffer_params_v1_destroy(params.proxy);
	dmabuf_client_finish(&dc);
	fixture_destroy(f);
}

#define EXPECT_PARAMS_ERROR(max_bytes, code, ...) \
	do { \
		const struct step steps_[] = { __VA_ARGS__ }; \
		expect_params_error(max_bytes, steps_, sizeof(steps_) / sizeof(steps_[0]), \
			ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_##code); \
	} while (0)

DMAB_TEST(error_linux_dmabuf_already_used)
{
	EXPECT_PARAMS_ERROR(0, ALREADY_USED, ADD_PLANE(), CREATE_OK, CREATE_OK);
	EXPECT_PARAMS_ERROR(0, ALREADY_USED, ADD_PLANE(), CREATE_IMMED_OK, ADD_PLANE());
	/* A create that failed used the params up too. */
	EXPECT_PARAMS_ERROR(0, ALREADY_USED, ADD_PLANE(.seals = -1), CREATE_OK, CREATE_OK);
}

DMAB_TEST(error_linux_dmabuf_plane_idx)
{
	/* I420's three planes are the most any format of the broker has. */
	EXPECT_PARAMS_ERROR(0, PLANE_IDX, ADD_PLANE(.plane = 3));
	EXPECT_PARAMS_ERROR(0, PLANE_IDX, ADD_PLANE(), ADD_PLANE(.plane = 1, .reuse = true),
		ADD_PLANE(.plane = 2, .reuse = true), ADD_PLANE(.plane = 3, .reuse = true));
}

DMAB_TEST(error_linux_dmabuf_plane_set)
{
	EXPECT_PARAMS_ERROR(0, PLANE_SET, ADD_PLANE(), ADD_PLANE());
}

DMAB_TEST(error_linux_dmabuf_incomplete)
{
	EXPECT_PARAMS_ERROR(0, INCOMPLETE, CREATE_OK);
	EXPECT_PARAMS_ERROR(0, INCOMPLETE, CREATE_IMMED_OK);
	/* NV12 has two planes; a gap leaves plane 0 missing. */
	EXPECT_PARAMS_ERROR(0, INCOMPLETE, ADD_PLANE(), CREATE_BUFFER(WIDTH, HEIGHT, NV12));
	EXPECT_PARAMS_ERROR(0, INCOMPLETE, ADD_PLANE(.plane = 1), CREATE_OK);
	EXPECT_PARAMS_ERROR(0, INCOMPLETE, ADD_PLANE(), ADD_PLANE(.plane = 2, .reuse = true),
		CREATE_BUFFER(WIDTH, HEIGHT, DRM_FORMAT_YUV420));
	/* Too many planes for ARGB. */
	EXPECT_PARAMS_ERROR(0, INCOMPLETE, ADD_PLANE(), ADD_PLANE(.plane = 1, .reuse = true),
		CREATE_OK);
}

DMAB_TEST(error_linux_dmabuf_invalid_format)
{
	EXPECT_PARAMS_ERROR(0, INVALID_FORMAT, ADD_PLANE(),
		CREATE_BUFFER(WIDTH, HEIGHT, DRM_FORMAT_NV16));
	/* Every plane has the one linear modifier. */
	EXPECT_PARAMS_ERROR(0, INVALID_FORMAT, ADD_PLANE(.modifier = LINEAR),
		ADD_PLANE(.plane = 1, .reuse = true, .modifier = IMPLICIT),
		CREATE_BUFFER(WIDTH, HEIGHT, NV12));
	EXPECT_PARAMS_ERROR(0, INVALID_FORMAT, ADD_PLANE(.modifier = I915_FORMAT_MOD_X_TILED),
		CREATE_OK);
	EXPECT_PARAMS_ERROR(0, INVALID_FORMAT, ADD_PLANE(), CREATE_IMMED_BUFFER(WIDTH, HEIGHT, 0));
}

DMAB_TEST(error_linux_dmabuf_invalid_dimensions)
{
	EXPECT_PARAMS_ERROR(0, INVALID_DIMENSIONS, ADD_PLANE(), CREATE_BUFFER(0, HEIGHT, ARGB));
	EXPECT_PARAMS_ERROR(0, INVALID_DIMENSIONS, ADD_PLANE(), CREATE_BUFFER(WIDTH, -1, ARGB));
	EXPECT_PARAMS_ERROR(0, INVALID_DIMENSIONS, ADD_PLANE(),
		CREATE_IMMED_BUFFER(DMAB_DEFAULT_MAX_DIMENSION + 1, 1, ARGB));
}

DMAB_TEST(error_linux_dmabuf_out_of_bounds)
{
	EXPECT_PARAMS_ERROR(0, OUT_OF_BOUNDS, ADD_PLANE(), CREATE_BUFFER(WIDTH, 33, ARGB));
	EXPECT_PARAMS_ERROR(0, OUT_OF_BOUNDS, ADD_PLANE(.offset = 4000), CREATE_OK);
	/* A row of 24 pixels does not fit in a stride of 64 bytes. */
	EXPECT_PARAMS_ERROR(0, OUT_OF_BOUNDS, ADD_PLANE(.stride = 64), CREATE_IMMED_OK);
	/* The chroma plane: 5 rows of 64 bytes from 4000 end beyond the 4096 bytes. */
	EXPECT_PARAMS_ERROR(0, OUT_OF_BOUNDS, ADD_PLANE(.stride = 64),
		ADD_PLANE(.plane = 1, .reuse = true, .offset = 4000, .stride = 64),
		CREATE_BUFFER(WIDTH, HEIGHT, NV12));
	/* 23 bytes is less than a chroma row of 12 pairs. */
	EXPECT_PARAMS_ERROR(0, OUT_OF_BOUNDS, ADD_PLANE(.stride = 64),
		ADD_PLANE(.plane = 1, .reuse = true, .offset = 1024, .stride = 23),
		CREATE_BUFFER(WIDTH, HEIGHT, NV12));
	/* In 32 bits, the end of plane 1 wraps to within the fd. */
	EXPECT_PARAMS_ERROR(0, OUT_OF_BOUNDS, ADD_PLANE(.stride = 64),
		ADD_PLANE(.plane = 1, .reuse = true, .offset = 0xffffff00, .stride = 64),
		CREATE_BUFFER(WIDTH, HEIGHT, NV12));
}

/* create_immed has no failed event: what create would report fails the connection. */
DMAB_TEST(error_linux_dmabuf_invalid_wl_buffer)
{
	EXPECT_PARAMS_ERROR(0, INVALID_WL_BUFFER, ADD_PLANE(.seals = -1), CREATE_IMMED_OK);
	EXPECT_PARAMS_ERROR(SIZE, INVALID_WL_BUFFER, ADD_PLANE(.size = 2 * SIZE),
		CREATE_IMMED_OK);
}

/* What a stock client does with a GPU's buffer: a real dma-buf, where the allocator makes them. */
DMAB_TEST(linux_dmabuf_takes_a_real_dmabuf)
{
	struct fixture *f = fixture_with_dmabuf(0);
	struct dmabuf_client dc;
	dmabuf_client_init(&dc, f, 3);
	struct dmab_client_buffer *source = dmab_client_buffer_create(dc.c->client, WIDTH, HEIGHT,
		ARGB, 0, "gpu");
	CHECK(source != NULL);
	struct dmab_client_attachment *writer = dmab_client_attachment_create(source,
		DMABROKER_BUFFER_V1_ACCESS_READ_WRITE, NULL);
	CHECK_EQ(dmab_client_attachment_map(writer, DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE), 0);
	if (!(dmab_client_attachment_get_map_flags(writer) &
			DMABROKER_ATTACHMENT_V1_MAP_FLAGS_DMABUF)) {
		dmabuf_client_finish(&dc);
		fixture_destroy(f);
		dmab_test_skip("allocator %s gives no dma-buf", dmab_test_allocator());
	}
	uint32_t stride = dmab_client_attachment_get_stride(writer);
	CHECK_EQ(dmab_client_attachment_begin(writer, DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE), 0);
	pattern_fill(dmab_client_attachment_get_data(writer), stride, ROW, HEIGHT, SEED);
	CHECK_EQ(dmab_client_attachment_end(writer), 0);

	struct params params;
	params_init(&params, &dc);
	params_add(&params, dmab_client_attachment_get_fd(writer), 0, 0, stride, IMPLICIT);
	struct wl_buffer *wl_buffer = params_create(&params, &dc, WIDTH, HEIGHT, ARGB, 0);
	CHECK(wl_buffer != NULL);
	struct comp_read read;
	comp_read_begin(&read, f, dc.c, wl_buffer);
	CHECK(read.is_wl_buffer);
	CHECK(comp_read_ready(&read));
	CHECK_EQ(read.pixels.stride, stride);
	CHECK(pattern_check(read.pixels.data, read.pixels.stride, ROW, HEIGHT, SEED));
	comp_read_end(&read);
	wl_buffer_destroy(wl_buffer);
	dmabuf_client_finish(&dc);
	fixture_destroy(f);
}
