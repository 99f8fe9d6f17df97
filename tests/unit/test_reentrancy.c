/* SPDX-License-Identifier: MIT */
/* Callbacks that call back into the core, destroying what they were called for. */
#include <string.h>
#include <unistd.h>

#include "unit.h"

struct fixture {
	struct dmab_core *core;
	struct dmab_account *account;
	struct dmab_handle *handle;
	struct dmab_buffer *buffer;
	struct recorder rec[3];
	/* One client each: a client's own brackets on one buffer may not conflict. */
	struct dmab_account *peers[3];
};

static void setup(struct fixture *f, int mapped)
{
	f->core = test_core_create(NULL);
	f->account = dmab_account_create(f->core, 1, 1);
	f->handle = test_buffer(f->account, 16, 16);
	f->buffer = dmab_handle_get_buffer(f->handle);
	for (int i = 0; i < 3; i++) {
		test_recorder_init(&f->rec[i], (char)('A' + i));
		f->peers[i] = dmab_account_create(f->core, 10 + i, 1);
		test_attach(f->handle, f->peers[i], DMAB_ACCESS_READ_WRITE, 0, 0, &f->rec[i]);
		if (i < mapped)
			test_map(&f->rec[i], DMAB_DIR_ALL);
	}
	test_log[0] = '\0';
}

static void teardown(struct fixture *f)
{
	for (int i = 0; i < 3; i++) {
		if (f->rec[i].att != NULL)
			test_detach(&f->rec[i]);
	}
	dmab_handle_destroy(f->handle);
	for (size_t i = 0; i < sizeof(f->peers) / sizeof(f->peers[0]); i++) {
		dmab_account_destroy(f->peers[i]);
	}
	dmab_account_destroy(f->account);
	dmab_core_destroy(f->core);
}

static void destroy_self(struct recorder *rec, const char *event)
{
	if (strcmp(event, rec->user) == 0)
		test_detach(rec);
}

DMAB_TEST(destroy_self_in_ready)
{
	struct fixture f;
	setup(&f, 3);
	f.rec[0].on_event = destroy_self;
	f.rec[0].user = "ready";
	f.rec[1].on_event = destroy_self;
	f.rec[1].user = "ready";
	/* A: granted inside begin_access; B: granted inside C's end_access. */
	test_begin(&f.rec[2], DMAB_DIR_WRITE);
	test_begin(&f.rec[1], DMAB_DIR_WRITE);
	test_begin(&f.rec[0], DMAB_DIR_READ);
	test_end(&f.rec[2], DMAB_DIR_WRITE);
	CHECK_STR_EQ(test_log, "Cready Bready Aready ");
	CHECK(f.rec[0].att == NULL && f.rec[1].att == NULL);
	struct dmab_buffer_stats stats;
	CHECK(test_buffer_stats(f.core, 1, &stats));
	CHECK(!stats.write_fence_pending);
	CHECK_EQ(stats.read_fences_pending, 0);
	teardown(&f);
}

DMAB_TEST(destroy_self_in_mapped)
{
	struct fixture f;
	setup(&f, 0);
	f.rec[0].on_event = destroy_self;
	f.rec[0].user = "mapped";
	test_map(&f.rec[0], DMAB_DIR_READ);
	CHECK(f.rec[0].att == NULL);
	test_map(&f.rec[1], DMAB_DIR_READ);
	CHECK_EQ(f.rec[1].mapped, 1);
	teardown(&f);
}

static void destroy_next(struct recorder *rec, const char *event)
{
	struct recorder *next = rec->user;
	if (strcmp(event, "ready") == 0 && next->att != NULL)
		test_detach(next);
}

DMAB_TEST(destroy_next_waiter_in_ready)
{
	struct fixture f;
	setup(&f, 3);
	test_begin(&f.rec[0], DMAB_DIR_WRITE);
	test_begin(&f.rec[1], DMAB_DIR_READ);
	test_begin(&f.rec[2], DMAB_DIR_READ);
	f.rec[1].on_event = destroy_next;
	f.rec[1].user = &f.rec[2];
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	CHECK_STR_EQ(test_log, "Aready Bready ");
	CHECK(f.rec[2].att == NULL);
	test_end(&f.rec[1], DMAB_DIR_READ);
	teardown(&f);
}

static void begin_in_ready(struct recorder *rec, const char *event)
{
	struct recorder *other = rec->user;
	if (strcmp(event, "ready") == 0 && other->ready == 0 && other->att != NULL)
		test_begin(other, DMAB_DIR_READ);
}

DMAB_TEST(begin_inside_ready)
{
	struct fixture f;
	setup(&f, 2);
	f.rec[0].on_event = begin_in_ready;
	f.rec[0].user = &f.rec[1];
	test_begin(&f.rec[0], DMAB_DIR_READ);
	CHECK_STR_EQ(test_log, "Aready Bready ");
	test_end(&f.rec[0], DMAB_DIR_READ);
	test_end(&f.rec[1], DMAB_DIR_READ);
	teardown(&f);
}

static void unmap_on_moved(struct recorder *rec, const char *event)
{
	if (strcmp(event, "moved") != 0)
		return;
	if (rec->user != NULL) {
		test_detach(rec);
		return;
	}
	test_unmap(rec);
	test_map(rec, DMAB_DIR_READ);
}

DMAB_TEST(remap_and_destroy_in_moved)
{
	struct fixture f;
	setup(&f, 2);
	f.rec[0].on_event = unmap_on_moved;
	f.rec[0].user = &f.rec[0];
	f.rec[1].on_event = unmap_on_moved;
	struct recorder s;
	test_recorder_init(&s, 'S');
	test_attach(f.handle, f.account, DMAB_ACCESS_READ, 0, 1024, &s);
	test_map(&s, DMAB_DIR_READ);
	CHECK(f.rec[0].att == NULL);
	CHECK_EQ(f.rec[1].mapped, 2);
	CHECK_EQ(f.rec[1].mapping.planes[0].stride, 1024);
	CHECK_EQ(s.mapped, 1);
	test_detach(&s);
	teardown(&f);
}

static void destroy_in_failed(struct recorder *rec, const char *event)
{
	if (strcmp(event, "failed") == 0)
		test_detach(rec);
}

/* The first map allocates; with no fd to be had, it fails inside test_map. */
DMAB_TEST(destroy_self_in_failed)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = test_buffer(account, 16, 16);
	struct recorder a, b;
	test_recorder_init(&a, 'A');
	test_recorder_init(&b, 'B');
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 0, &a);
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 0, &b);
	a.on_event = destroy_in_failed;
	b.on_event = destroy_in_failed;
	test_fd_limit_exhaust();
	test_map(&a, DMAB_DIR_READ);
	test_fd_limit_restore();
	test_map(&b, DMAB_DIR_READ);
	CHECK_STR_EQ(test_log, "Afailed Bmapped ");
	CHECK(a.att == NULL);
	test_detach(&b);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

struct fence_waiter {
	struct dmab_fence_cb cb;
	struct recorder *rec;
	int calls;
};

static void destroy_writer(struct dmab_fence *fence, struct dmab_fence_cb *cb)
{
	struct fence_waiter *waiter = dmab_container_of(cb, struct fence_waiter, cb);
	waiter->calls++;
	test_detach(waiter->rec);
	dmab_fence_unref(fence);
}

DMAB_TEST(fence_callback_destroys_the_signaler)
{
	struct fixture f;
	setup(&f, 2);
	test_begin(&f.rec[0], DMAB_DIR_WRITE);
	test_begin(&f.rec[1], DMAB_DIR_READ);
	struct fence_waiter waiter = { .rec = &f.rec[0] };
	struct dmab_fence *fence = dmab_buffer_get_fence(f.buffer, true);
	CHECK(dmab_fence_add_callback(fence, &waiter.cb, destroy_writer));
	test_end(&f.rec[0], DMAB_DIR_WRITE);
	CHECK_EQ(waiter.calls, 1);
	CHECK(f.rec[0].att == NULL);
	CHECK_STR_EQ(test_log, "Aready Bready ");
	test_end(&f.rec[1], DMAB_DIR_READ);
	teardown(&f);
}

static void destroy_handle(struct dmab_handle *handle, void *data)
{
	struct fixture *f = data;
	dmab_handle_destroy(handle);
	f->handle = NULL;
}

DMAB_TEST(destroy_handle_in_layout_listener)
{
	struct fixture f;
	setup(&f, 0);
	dmab_handle_set_layout_listener(f.handle, destroy_handle, &f);
	struct recorder s;
	test_recorder_init(&s, 'S');
	test_attach(f.handle, f.account, DMAB_ACCESS_READ, 0, 256, &s);
	CHECK(f.handle == NULL);
	test_map(&s, DMAB_DIR_READ);
	CHECK_EQ(s.mapping.planes[0].stride, 256);
	test_detach(&s);
	teardown(&f);
}

DMAB_TEST(last_reference_dropped_in_callback)
{
	struct fixture f;
	setup(&f, 1);
	dmab_handle_destroy(f.handle);
	f.handle = NULL;
	test_detach(&f.rec[1]);
	test_detach(&f.rec[2]);
	/* A's is the last reference: it goes inside its own ready. */
	f.rec[0].on_event = destroy_self;
	f.rec[0].user = "ready";
	int before = dmab_test_count_fds();
	test_begin(&f.rec[0], DMAB_DIR_READ);
	CHECK(f.rec[0].att == NULL);
	CHECK_EQ(test_count_buffers(f.core), 0);
	CHECK(dmab_test_count_fds() < before);
	teardown(&f);
}
