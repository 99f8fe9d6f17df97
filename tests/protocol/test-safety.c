/* SPDX-License-Identifier: MIT */
/*
 * Sharing between clients that do not trust each other: what one client can
 * do to another through brackets, tokens and constraints, and the authority
 * the creator of a buffer keeps over it. Each test is a failure found on the
 * broker before the sync model had bounds (see doc/protocol.md, "The sync
 * model").
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compositor.h"
#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

enum { WIDTH = 32, HEIGHT = 16, ROW = WIDTH * 4, MAX_HOLD_MS = 50 };

static bool att_ready(const void *data)
{
	return dmab_client_attachment_is_ready((struct dmab_client_attachment *)data);
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* A producer's buffer, mapped for writing, and a consumer that imported it. */
struct pair {
	struct fixture *f;
	struct fixture_client *owner, *other;
	struct dmab_client_buffer *buffer, *imported;
	struct dmab_client_token *token;
	struct dmab_client_attachment *writer;
};

static void pair_init(struct pair *p, const struct fixture_options *options, uint32_t access)
{
	p->f = fixture_create(options);
	p->owner = fixture_client(p->f);
	p->other = fixture_client(p->f);
	p->buffer = dmab_client_buffer_create(p->owner->client, WIDTH, HEIGHT, ARGB,
		DMABROKER_MANAGER_V1_USAGE_SHARE, "owned");
	CHECK(p->buffer != NULL);
	p->writer = attach_mapped(p->buffer, RW, WRITE);
	p->token = dmab_client_token_create(p->buffer, access);
	CHECK(p->token != NULL);
	p->imported = dmab_client_buffer_import(p->other->client,
		dmab_client_token_get_string(p->token));
	CHECK(p->imported != NULL);
}

/*
 * Failure 1: a ready that was on its way when the client ended the wait must
 * not begin the client's next bracket while a writer is inside.
 */
DMAB_TEST(safety_stale_ready_never_begins_a_later_bracket)
{
	struct pair p;
	pair_init(&p, NULL, RO);
	struct raw_attachment writer;
	raw_attachment_listen(&writer, dmabroker_buffer_v1_attach(
		dmab_client_buffer_get_proxy(p.buffer), RW, 0, 0, 1));
	dmabroker_attachment_v1_map(writer.proxy, WRITE);
	dmabroker_attachment_v1_begin_access(writer.proxy, WRITE);
	ROUNDTRIP(p.owner->display);
	CHECK_EQ(writer.ready_count, 1);

	struct dmab_client_attachment *reader = attach_mapped(p.imported, RO, READ);
	CHECK_EQ(dmab_client_attachment_begin_async(reader, READ), 0);
	CHECK_EQ(dmab_client_roundtrip(p.other->client), 0);
	CHECK(!dmab_client_attachment_is_ready(reader));

	/* The writer ends and comes back: the broker grants the reader's bracket 1 in between. */
	dmabroker_attachment_v1_end_access(writer.proxy, WRITE);
	dmabroker_attachment_v1_begin_access(writer.proxy, WRITE);
	ROUNDTRIP(p.owner->display);
	CHECK_EQ(writer.ready_count, 1);

	/* Unaware, the reader ends bracket 1 and begins bracket 2, which waits for the writer. */
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	CHECK_EQ(dmab_client_attachment_begin_async(reader, READ), 0);
	CHECK_EQ(dmab_client_roundtrip(p.other->client), 0);
	ROUNDTRIP(p.owner->display);
	CHECK_EQ(writer.ready_count, 2);
	CHECK_EQ(writer.ready_serial, 2);
	CHECK(!dmab_client_attachment_is_ready(reader));

	dmabroker_attachment_v1_end_access(writer.proxy, WRITE);
	ROUNDTRIP(p.owner->display);
	CHECK(dispatch_until(p.other->display, att_ready, reader, 2000));
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	raw_attachment_destroy(&writer);
	fixture_destroy(p.f);
}

/* The serials on the wire: every mapped and ready names its request. */
DMAB_TEST(safety_answers_carry_the_number_of_their_request)
{
	struct pair p;
	pair_init(&p, NULL, RO);
	struct raw_attachment att;
	raw_attachment_listen(&att, dmabroker_buffer_v1_attach(
		dmab_client_buffer_get_proxy(p.imported), RO, 0, 0, 1));
	for (uint32_t i = 1; i <= 3; i++) {
		dmabroker_attachment_v1_map(att.proxy, READ);
		dmabroker_attachment_v1_begin_access(att.proxy, READ);
		ROUNDTRIP(p.other->display);
		CHECK_EQ(att.mapped_serial, i);
		CHECK_EQ(att.ready_serial, i);
		dmabroker_attachment_v1_end_access(att.proxy, READ);
		dmabroker_attachment_v1_unmap(att.proxy);
	}
	ROUNDTRIP(p.other->display);
	/* A map and a bracket withdrawn before the broker answered them are never answered. */
	CHECK_EQ(dmab_client_attachment_begin(p.writer, WRITE), 0);
	dmabroker_attachment_v1_map(att.proxy, READ);
	dmabroker_attachment_v1_begin_access(att.proxy, READ);
	dmabroker_attachment_v1_end_access(att.proxy, READ);
	ROUNDTRIP(p.other->display);
	CHECK_EQ(att.mapped_serial, 4);
	CHECK_EQ(att.ready_count, 3);
	CHECK_EQ(dmab_client_attachment_end(p.writer), 0);
	ROUNDTRIP(p.owner->display);
	ROUNDTRIP(p.other->display);
	CHECK_EQ(att.ready_count, 3);
	raw_attachment_destroy(&att);
	fixture_destroy(p.f);
}

/*
 * Failure 2: a read-only importer inside a READ bracket froze the producer
 * until it disconnected, and revoking its token changed nothing.
 */
DMAB_TEST(safety_revoke_ends_the_access_it_granted)
{
	struct pair p;
	pair_init(&p, NULL, RO);
	struct dmab_client_attachment *reader = attach_mapped(p.imported, RO, READ);
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
	/* The importer passes the buffer on: revoking reaches that access too. */
	struct dmab_client_token *reshared = dmab_client_token_create(p.imported, RO);
	CHECK(reshared != NULL);
	struct fixture_client *third = fixture_client(p.f);
	struct dmab_client_buffer *passed = dmab_client_buffer_import(third->client,
		dmab_client_token_get_string(reshared));
	CHECK(passed != NULL);
	struct dmab_client_attachment *far = attach_mapped(passed, RO, READ);
	CHECK_EQ(dmab_client_attachment_begin(far, READ), 0);

	CHECK_EQ(dmab_client_attachment_begin_async(p.writer, WRITE), 0);
	CHECK_EQ(dmab_client_roundtrip(p.owner->client), 0);
	CHECK(!dmab_client_attachment_is_ready(p.writer));
	dmab_client_token_revoke(p.token);
	CHECK(dispatch_until(p.owner->display, att_ready, p.writer, 2000));
	CHECK_EQ(dmab_client_attachment_end(p.writer), 0);

	CHECK_EQ(dmab_client_roundtrip(p.other->client), 0);
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), -EACCES);
	CHECK_EQ(dmab_client_last_failure()->reason, DMABROKER_MANAGER_V1_REASON_REVOKED_TOKEN);
	CHECK_EQ(dmab_client_roundtrip(third->client), 0);
	CHECK_EQ(dmab_client_attachment_begin(far, READ), -EACCES);
	/* What the importer holds can attach and share no more. */
	struct dmab_client_attachment *late = dmab_client_attachment_create(p.imported, RO, NULL);
	CHECK_EQ(dmab_client_attachment_map(late, READ), -EACCES);
	CHECK(dmab_client_token_create(p.imported, RO) == NULL);
	CHECK_EQ(errno, EACCES);
	fixture_destroy(p.f);
}

/* A client that disconnects withdraws its tokens, but what they granted stays granted. */
DMAB_TEST(safety_disconnect_withdraws_without_revoking)
{
	struct pair p;
	pair_init(&p, NULL, RO);
	char token[64];
	snprintf(token, sizeof(token), "%s", dmab_client_token_get_string(p.token));
	struct dmab_client_attachment *reader = attach_mapped(p.imported, RO, READ);
	fixture_client_close(p.owner);
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	CHECK(dmab_client_buffer_import(p.other->client, token) == NULL);
	CHECK_EQ(errno, EACCES);
	fixture_destroy(p.f);
}

/*
 * The owner's bound on another client's bracket: the blocking begin returns
 * once the broker preempted the importer, which learns why.
 */
DMAB_TEST(failure_preempted)
{
	struct fixture_options options = { .max_hold_ms = MAX_HOLD_MS };
	struct pair p;
	pair_init(&p, &options, RO);
	struct dmab_client_attachment *reader = attach_mapped(p.imported, RO, READ);
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);

	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	CHECK_EQ(dmab_client_attachment_begin(p.writer, WRITE), 0);
	printf("# the owner waited %ld ms for a bracket held with a bound of %d ms\n",
		elapsed_ms(&start), MAX_HOLD_MS);
	CHECK_EQ(dmab_client_attachment_end(p.writer), 0);

	CHECK_EQ(dmab_client_roundtrip(p.other->client), 0);
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), -ETIMEDOUT);
	const struct dmab_client_failure *failure = dmab_client_last_failure();
	CHECK_EQ(failure->reason, DMABROKER_MANAGER_V1_REASON_PREEMPTED);
	printf("# failed: %s\n", failure->message);
	fixture_destroy(p.f);
}

/* A reader that waits ahead of the owner's writer would be granted first: it goes too. */
DMAB_TEST(safety_preempts_waiters_ahead_of_the_owner)
{
	struct fixture_options options = { .max_hold_ms = MAX_HOLD_MS };
	struct pair p;
	pair_init(&p, &options, RW);
	struct dmab_client_attachment *hog = attach_mapped(p.imported, RW, WRITE);
	CHECK_EQ(dmab_client_attachment_begin(hog, WRITE), 0);
	struct fixture_client *third = fixture_client(p.f);
	struct dmab_client_token *token = dmab_client_token_create(p.buffer, RO);
	struct dmab_client_buffer *seen = dmab_client_buffer_import(third->client,
		dmab_client_token_get_string(token));
	struct dmab_client_attachment *waiter = attach_mapped(seen, RO, READ);
	CHECK_EQ(dmab_client_attachment_begin_async(waiter, READ), 0);
	CHECK_EQ(dmab_client_roundtrip(third->client), 0);

	CHECK_EQ(dmab_client_attachment_begin(p.writer, WRITE), 0);
	CHECK_EQ(dmab_client_roundtrip(third->client), 0);
	CHECK(!dmab_client_attachment_is_ready(waiter));
	CHECK_EQ(dmab_client_attachment_end(p.writer), 0);
	CHECK_EQ(dmab_client_roundtrip(p.other->client), 0);
	CHECK_EQ(dmab_client_attachment_end(hog), 0);
	CHECK_EQ(dmab_client_attachment_begin(hog, WRITE), -ETIMEDOUT);
	fixture_destroy(p.f);
}

/*
 * The compositor's reads of the owner's own wl_buffer are bounded by
 * wl_buffer.release, not preempted; those of an importer's wl_buffer count
 * as the importer's and are, and the compositor hears of it.
 */
DMAB_TEST(safety_compositor_reads_and_the_bound)
{
	struct fixture_options options = { .max_hold_ms = MAX_HOLD_MS };
	struct pair p;
	pair_init(&p, &options, RO);
	struct comp_read own, foreign;
	comp_read_begin(&own, p.f, p.owner, dmab_client_buffer_get_wl_buffer(p.buffer));
	CHECK(comp_read_wait(&own, 2000));
	comp_read_begin(&foreign, p.f, p.other, dmab_client_buffer_get_wl_buffer(p.imported));
	CHECK(comp_read_wait(&foreign, 2000));

	CHECK_EQ(dmab_client_attachment_begin_async(p.writer, WRITE), 0);
	dispatch_for(p.owner->display, 4 * MAX_HOLD_MS);
	CHECK(!dmab_client_attachment_is_ready(p.writer));
	CHECK(!comp_read_ready(&foreign));
	CHECK_EQ(foreign.failed_calls, 1);
	CHECK_EQ(foreign.error, ETIMEDOUT);
	printf("# compositor read failed: %s\n", foreign.message);
	CHECK(comp_read_ready(&own));
	CHECK_EQ(own.failed_calls, 0);

	comp_read_end(&own);
	CHECK(dispatch_until(p.owner->display, att_ready, p.writer, 2000));
	CHECK_EQ(dmab_client_attachment_end(p.writer), 0);
	comp_read_end(&foreign);
	fixture_destroy(p.f);
}

/* Failure 10: a read that failed after it began reaches the compositor. */
DMAB_TEST(safety_revoke_fails_the_compositor_read)
{
	struct pair p;
	pair_init(&p, NULL, RO);
	struct comp_read read;
	comp_read_begin(&read, p.f, p.other, dmab_client_buffer_get_wl_buffer(p.imported));
	CHECK(comp_read_wait(&read, 2000));
	dmab_client_token_revoke(p.token);
	CHECK_EQ(dmab_client_roundtrip(p.owner->client), 0);
	CHECK(!comp_read_ready(&read));
	CHECK_EQ(read.failed_calls, 1);
	CHECK_EQ(read.error, EACCES);
	CHECK_EQ(dmab_client_attachment_begin(p.writer, WRITE), 0);
	comp_read_end(&read);

	/* A wl_buffer of the cut-off reference can be read no more. */
	comp_read_begin(&read, p.f, p.other, dmab_client_buffer_get_wl_buffer(p.imported));
	CHECK(read.read == NULL);
	fixture_destroy(p.f);
}

/*
 * Failure 3: a client holding READ through one attachment that asks for
 * WRITE through another used to hang in the library's blocking begin.
 */
DMAB_TEST(safety_self_deadlock_is_an_error_not_a_hang)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, WIDTH, HEIGHT,
		ARGB, 0, "self");
	CHECK(buffer != NULL);
	struct dmab_client_attachment *reader = attach_mapped(buffer, RO, READ);
	struct dmab_client_attachment *writer = attach_mapped(buffer, RW, WRITE);
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), -EPROTO);
	const struct wl_interface *iface = NULL;
	CHECK_EQ(wl_display_get_protocol_error(c->display, &iface, NULL),
		DMABROKER_ATTACHMENT_V1_ERROR_CONFLICTING_ACCESS);
	CHECK(iface == &dmabroker_attachment_v1_interface);
	fixture_destroy(f);
}

static uint64_t used_stride(struct dmab_client_buffer *buffer)
{
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(buffer, &layout);
	return layout.stride;
}

/*
 * Failure 4: an importer's constraints used to move the producer's buffer to
 * storage 64 times larger, charged to the producer. A read-only importer can
 * no longer move it at all, whether the buffer has storage yet or not.
 */
DMAB_TEST(safety_read_only_importer_cannot_reshape)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *owner = fixture_client(f);
	struct fixture_client *other = fixture_client(f);
	for (int backed = 0; backed <= 1; backed++) {
		struct dmab_client_buffer *buffer = dmab_client_buffer_create(owner->client, 4,
			16384, ARGB, 0, "narrow");
		CHECK(buffer != NULL);
		uint64_t stride = used_stride(buffer);
		struct dmab_client_attachment *writer = dmab_client_attachment_create(buffer, RW,
			NULL);
		if (backed) {
			CHECK_EQ(dmab_client_attachment_map(writer, WRITE), 0);
		}
		struct dmab_client_token *token = dmab_client_token_create(buffer, RO);
		struct dmab_client_buffer *imported = dmab_client_buffer_import(other->client,
			dmab_client_token_get_string(token));
		CHECK(imported != NULL);
		struct dmab_client_constraints strict = { .row_alignment = 4096 };
		struct dmab_client_attachment *greedy = dmab_client_attachment_create(imported, RO,
			&strict);
		CHECK_EQ(dmab_client_attachment_map(greedy, READ), -EINVAL);
		CHECK_EQ(dmab_client_last_failure()->reason,
			DMABROKER_MANAGER_V1_REASON_UNSATISFIABLE);
		printf("# failed: %s\n", dmab_client_last_failure()->message);
		/* Constraints the storage meets are welcome. */
		struct dmab_client_constraints modest = { .row_alignment = 64 };
		struct dmab_client_attachment *fine = dmab_client_attachment_create(imported, RO,
			&modest);
		CHECK_EQ(dmab_client_attachment_map(fine, READ), 0);

		CHECK_EQ(dmab_client_roundtrip(owner->client), 0);
		CHECK_EQ(used_stride(buffer), stride);
		CHECK(!dmab_client_attachment_moved(writer));
		if (!backed) {
			CHECK_EQ(dmab_client_attachment_map(writer, WRITE), 0);
		}
		CHECK_EQ(dmab_client_attachment_get_stride(writer), stride);
		dmab_client_buffer_destroy(imported);
		dmab_client_buffer_destroy(buffer);
	}
	fixture_destroy(f);
}

/*
 * A read_write importer may ask for stricter storage, but it pays for all of
 * it, and it alone fails if its quota cannot take it.
 */
DMAB_TEST(safety_writer_importer_pays_for_its_constraints)
{
	struct fixture_options options = { .quota = { .max_bytes = 40u << 20 } };
	struct fixture *f = fixture_create(&options);
	struct fixture_client *owner = fixture_client(f);
	struct fixture_client *other = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(owner->client, 4, 8192,
		ARGB, 0, "narrow");
	struct dmab_client_attachment *writer = attach_mapped(buffer, RW, WRITE);
	struct dmab_client_token *token = dmab_client_token_create(buffer, RW);
	struct dmab_client_buffer *imported = dmab_client_buffer_import(other->client,
		dmab_client_token_get_string(token));
	CHECK(imported != NULL);

	/* 32 MiB of storage: with 10 MiB in use, the importer's quota cannot take it. */
	struct dmab_client_buffer *hoard = dmab_client_buffer_create(other->client, 2048, 1280,
		ARGB, 0, "hoard");
	CHECK(hoard != NULL);
	struct dmab_client_constraints strict = { .row_alignment = 4096 };
	struct dmab_client_attachment *aligned = dmab_client_attachment_create(imported, RW,
		&strict);
	CHECK_EQ(dmab_client_attachment_map(aligned, WRITE), -EDQUOT);
	CHECK_EQ(dmab_client_last_failure()->reason, DMABROKER_MANAGER_V1_REASON_QUOTA_EXCEEDED);
	CHECK_EQ(dmab_client_roundtrip(owner->client), 0);
	CHECK(!dmab_client_attachment_moved(writer));
	dmab_client_buffer_destroy(hoard);
	dmab_client_attachment_destroy(aligned);

	aligned = dmab_client_attachment_create(imported, RW, &strict);
	CHECK_EQ(dmab_client_roundtrip(other->client), 0);
	CHECK_EQ(dmab_client_roundtrip(owner->client), 0);
	CHECK(dmab_client_attachment_moved(writer));
	CHECK_EQ(dmab_client_attachment_remap(writer), 0);
	CHECK_EQ(dmab_client_attachment_map(aligned, WRITE), 0);
	CHECK_EQ(dmab_client_attachment_get_stride(aligned) % 4096, 0);
	/* The owner's quota still has room for 32 MiB: the other 32 are the importer's. */
	struct dmab_client_buffer *big = dmab_client_buffer_create(owner->client, 4096, 2048,
		ARGB, 0, "big");
	CHECK(big != NULL);
	struct dmab_client_attachment *big_writer = attach_mapped(big, RW, WRITE);
	CHECK(big_writer != NULL);
	CHECK(dmab_client_buffer_create(other->client, 2048, 1280, ARGB, 0, "more") == NULL);
	CHECK_EQ(errno, EDQUOT);
	fixture_destroy(f);
}
