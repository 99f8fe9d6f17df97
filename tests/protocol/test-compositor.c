/* SPDX-License-Identifier: MIT */
/*
 * wl_buffers of broker buffers and the compositor's read API: the compositor
 * is a reader whose READ bracket orders against the client's brackets.
 * Server-side calls run on the server thread through fixture_run.
 */
#include <drm_fourcc.h>
#include <sys/mman.h>
#include <wayland-server.h>

#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

enum { WIDTH = 50, HEIGHT = 20, ROW = WIDTH * 4, SEED = 77 };

/* Written on the server thread, read by the test thread after fixture_run returns. */
struct compositor {
	struct wl_client *client;
	uint32_t wl_buffer_id, manager_id;
	bool is_wl_buffer, manager_is_wl_buffer;
	struct dmab_pixels layout;
	struct dmab_server_read *read;
	int ready_calls;
	int ready_calls_inside_begin; /* the re-entrancy the API rules out */
	bool in_begin;
	bool ready;
	bool pixels_match;
	struct dmab_pixels pixels;
};

/* The compositor's side of a read of c's wl_buffer, for the tasks below. */
static struct compositor compositor_reading(struct fixture_client *c, struct wl_buffer *wl_buffer)
{
	return (struct compositor){
		.client = c->server_client,
		.wl_buffer_id = wl_proxy_get_id((struct wl_proxy *)wl_buffer),
	};
}

/* A read-write attachment of buffer inside a WRITE bracket, the test pattern drawn. */
static struct dmab_client_attachment *begin_pattern(struct dmab_client_buffer *buffer)
{
	struct dmab_client_attachment *writer = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK(writer != NULL);
	CHECK_EQ(dmab_client_attachment_map(writer, WRITE), 0);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	pattern_fill(dmab_client_attachment_get_data(writer),
		dmab_client_attachment_get_stride(writer), ROW, HEIGHT, SEED);
	return writer;
}

static void on_ready(struct dmab_server_read *read, void *data)
{
	struct compositor *comp = data;
	comp->ready_calls++;
	if (comp->in_begin)
		comp->ready_calls_inside_begin++;
}

static const struct dmab_server_read_listener listener = { .ready = on_ready };

static void begin_task(void *data)
{
	struct compositor *comp = data;
	struct wl_resource *resource = wl_client_get_object(comp->client, comp->wl_buffer_id);
	struct wl_resource *manager = wl_client_get_object(comp->client, comp->manager_id);
	comp->is_wl_buffer = resource != NULL && dmab_server_is_wl_buffer(resource);
	comp->manager_is_wl_buffer = manager != NULL && dmab_server_is_wl_buffer(manager);
	struct dmab_server_buffer *buffer = resource ?
		dmab_server_buffer_from_wl_buffer(resource) : NULL;
	if (buffer == NULL)
		return;
	dmab_server_buffer_get_layout(buffer, &comp->layout);
	comp->in_begin = true;
	comp->read = dmab_server_read_begin(buffer, &listener, comp);
	comp->in_begin = false;
	comp->ready = comp->read != NULL && dmab_server_read_is_ready(comp->read);
}

static void query_task(void *data)
{
	struct compositor *comp = data;
	comp->ready = dmab_server_read_is_ready(comp->read);
	comp->pixels_match = false;
	if (!comp->ready)
		return;
	dmab_server_read_get_pixels(comp->read, &comp->pixels);
	comp->pixels_match = comp->pixels.data != NULL &&
		pattern_check(comp->pixels.data, comp->pixels.stride, ROW, HEIGHT, SEED);
}

static void end_task(void *data)
{
	struct compositor *comp = data;
	dmab_server_read_end(comp->read);
	comp->read = NULL;
}

static void begin_and_end_task(void *data)
{
	struct compositor *comp = data;
	begin_task(comp);
	CHECK(comp->read != NULL);
	dmab_server_read_end(comp->read);
	comp->read = NULL;
}

static bool att_ready(const void *data)
{
	return dmab_client_attachment_is_ready((struct dmab_client_attachment *)data);
}

DMAB_TEST(compositor_reads_inside_a_bracket)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, WIDTH, HEIGHT,
		ARGB, DMABROKER_MANAGER_V1_USAGE_COMPOSITE, "composited");
	CHECK(buffer != NULL);
	struct wl_buffer *wl_buffer = dmab_client_buffer_get_wl_buffer(buffer);
	CHECK(wl_buffer != NULL);
	CHECK(dmab_client_buffer_get_wl_buffer(buffer) == wl_buffer); /* made once */
	struct dmab_client_attachment *writer = begin_pattern(buffer);

	struct wl_proxy *manager = (struct wl_proxy *)dmab_client_get_manager(c->client);
	struct compositor comp = compositor_reading(c, wl_buffer);
	comp.manager_id = wl_proxy_get_id(manager);
	fixture_run(f, begin_task, &comp);
	CHECK(comp.is_wl_buffer);
	CHECK(!comp.manager_is_wl_buffer);
	CHECK_EQ(comp.layout.width, WIDTH);
	CHECK_EQ(comp.layout.height, HEIGHT);
	CHECK_EQ(comp.layout.format, ARGB);
	CHECK_EQ(comp.layout.stride, dmab_client_attachment_get_stride(writer));
	CHECK(comp.read != NULL);
	/* A frame committed inside the writer's bracket is not shown yet. */
	CHECK(!comp.ready);
	CHECK_EQ(comp.ready_calls, 0);

	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	fixture_run(f, query_task, &comp);
	CHECK_EQ(comp.ready_calls, 1);
	CHECK(comp.ready);
	CHECK(comp.pixels_match);
	CHECK_EQ(comp.pixels.stride, comp.layout.stride);

	/* The writer's next frame waits for the compositor's release. */
	CHECK_EQ(dmab_client_attachment_begin_async(writer, WRITE), 0);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	CHECK(!dmab_client_attachment_is_ready(writer));
	fixture_run(f, end_task, &comp);
	CHECK(dispatch_until(c->display, att_ready, writer, 1000));
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	fixture_destroy(f);
}

static void noop_task(void *data)
{
}

/*
 * A buffer nobody writes is ready at once: begin returns a ready read, and the
 * ready callback runs after it, from the event loop.
 */
DMAB_TEST(compositor_ready_never_runs_inside_read_begin)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, WIDTH, HEIGHT,
		ARGB, 0, "idle");
	CHECK(buffer != NULL);
	struct wl_buffer *wl_buffer = dmab_client_buffer_get_wl_buffer(buffer);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	struct compositor comp = compositor_reading(c, wl_buffer);
	fixture_run(f, begin_task, &comp);
	CHECK(comp.read != NULL);
	CHECK(comp.ready);
	CHECK_EQ(comp.ready_calls_inside_begin, 0);
	/* The idle source runs before the loop waits again. */
	fixture_run(f, noop_task, NULL);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(comp.ready_calls, 1);
	CHECK_EQ(comp.ready_calls_inside_begin, 0);
	fixture_run(f, end_task, &comp);
	dmab_client_buffer_destroy(buffer);
	fixture_destroy(f);
}

/* A read ended before its deferred ready ran never calls it. */
DMAB_TEST(compositor_read_ended_at_once_calls_no_ready)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, WIDTH, HEIGHT,
		ARGB, 0, "short");
	CHECK(buffer != NULL);
	struct wl_buffer *wl_buffer = dmab_client_buffer_get_wl_buffer(buffer);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	struct compositor comp = compositor_reading(c, wl_buffer);
	fixture_run(f, begin_and_end_task, &comp);
	fixture_run(f, noop_task, NULL);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(comp.ready_calls, 0);
	dmab_client_buffer_destroy(buffer);
	fixture_destroy(f);
}

struct dmabuf_query {
	struct dmab_server_read *read;
	bool have;
	struct dmab_dmabuf_attributes attribs;
	bool pixels_match;
};

/* Maps the dma-buf the way a GPU importer would see it, and checks the pattern. */
static void dmabuf_query_task(void *data)
{
	struct dmabuf_query *q = data;
	q->have = dmab_server_read_get_dmabuf(q->read, &q->attribs);
	q->pixels_match = false;
	if (!q->have)
		return;
	size_t len = (size_t)q->attribs.offset[0] + (size_t)q->attribs.stride[0] * HEIGHT;
	void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, q->attribs.fd, 0);
	if (map == MAP_FAILED)
		return;
	q->pixels_match = pattern_check((const char *)map + q->attribs.offset[0],
		q->attribs.stride[0], ROW, HEIGHT, SEED);
	munmap(map, len);
}

/*
 * A GPU renderer's view of a read: on dma-buf storage, the dma-buf with one
 * LINEAR plane whose attributes are the client's mapping; on memfd, none.
 */
DMAB_TEST(compositor_read_gives_the_dmabuf_attributes)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, WIDTH, HEIGHT,
		ARGB, DMABROKER_MANAGER_V1_USAGE_COMPOSITE, "gpu");
	CHECK(buffer != NULL);
	struct wl_buffer *wl_buffer = dmab_client_buffer_get_wl_buffer(buffer);
	struct dmab_client_attachment *writer = begin_pattern(buffer);
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	bool dmabuf = dmab_client_attachment_get_map_flags(writer) &
		DMABROKER_ATTACHMENT_V1_MAP_FLAGS_DMABUF;

	struct compositor comp = compositor_reading(c, wl_buffer);
	fixture_run(f, begin_task, &comp);
	CHECK(comp.ready);
	struct dmabuf_query q = { .read = comp.read };
	fixture_run(f, dmabuf_query_task, &q);
	if (!dmabuf) {
		CHECK(!q.have);
	} else {
		CHECK(q.have);
		CHECK_EQ(q.attribs.n_planes, 1);
		CHECK_EQ(q.attribs.modifier, DRM_FORMAT_MOD_LINEAR);
		CHECK_EQ(q.attribs.format, ARGB);
		CHECK_EQ(q.attribs.width, WIDTH);
		CHECK_EQ(q.attribs.height, HEIGHT);
		CHECK_EQ(q.attribs.stride[0], dmab_client_attachment_get_stride(writer));
		CHECK(q.pixels_match);
	}
	fixture_run(f, end_task, &comp);
	/* Not after the read ended. */
	struct dmabuf_query ended = { .read = NULL };
	fixture_run(f, dmabuf_query_task, &ended);
	CHECK(!ended.have);
	dmab_client_buffer_destroy(buffer);
	fixture_destroy(f);
	if (!dmabuf)
		dmab_test_skip("allocator %s gives no dma-buf: checked only that none is given",
			dmab_test_allocator());
}

/* The read holds the storage even when the client lets go of everything. */
DMAB_TEST(compositor_read_outlives_the_client_objects)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, WIDTH, HEIGHT,
		ARGB, 0, "released");
	CHECK(buffer != NULL);
	struct wl_buffer *wl_buffer = dmab_client_buffer_get_wl_buffer(buffer);
	struct dmab_client_attachment *writer = begin_pattern(buffer);
	CHECK_EQ(dmab_client_attachment_end(writer), 0);

	struct compositor comp = compositor_reading(c, wl_buffer);
	fixture_run(f, begin_task, &comp);
	CHECK(comp.read != NULL);
	CHECK(comp.ready);

	dmab_client_buffer_destroy(buffer);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	fixture_run(f, query_task, &comp);
	CHECK(comp.ready);
	CHECK(comp.pixels_match);
	fixture_run(f, end_task, &comp);

	struct info_snapshot snap;
	CHECK(info_snapshot_take(c->display, dmab_client_get_manager(c->client), &snap));
	CHECK_EQ(info_find_buffer(&snap, "released"), -1);
	fixture_destroy(f);
}
