/* SPDX-License-Identifier: MIT */
/* Share tokens and introspection. */
#include <drm_fourcc.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

static void check_token_format(const char *token)
{
	CHECK_EQ(strlen(token), 32);
	for (size_t i = 0; i < 32; i++) {
		if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
			dmab_test_fail(__FILE__, __LINE__, "token %s: bad digit at %zu", token, i);
	}
}

DMAB_TEST(token_format_and_uniqueness)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 16, 16, ARGB, 0,
		"tokens");
	CHECK(buffer != NULL);
	enum { COUNT = 16 };
	struct dmab_client_token *tokens[COUNT];
	for (int i = 0; i < COUNT; i++) {
		tokens[i] = dmab_client_token_create(buffer, i % 2 ? RO : RW);
		CHECK(tokens[i] != NULL);
		check_token_format(dmab_client_token_get_string(tokens[i]));
		for (int j = 0; j < i; j++)
			CHECK(strcmp(dmab_client_token_get_string(tokens[i]),
				dmab_client_token_get_string(tokens[j])) != 0);
	}
	fixture_destroy(f);
}

DMAB_TEST(token_access_is_what_the_import_gets)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *produced = dmab_client_buffer_create(a->client, 16, 16, ARGB,
		0, "access");
	CHECK(produced != NULL);
	struct dmab_client_attachment *owner = attach_mapped(produced, RW, READ);

	struct dmab_client_token *rw_token = dmab_client_token_create(produced, RW);
	struct dmab_client_token *ro_token = dmab_client_token_create(produced, RO);
	CHECK(rw_token != NULL && ro_token != NULL);
	struct dmab_client_buffer *rw = dmab_client_buffer_import(b->client,
		dmab_client_token_get_string(rw_token));
	struct dmab_client_buffer *ro = dmab_client_buffer_import(b->client,
		dmab_client_token_get_string(ro_token));
	CHECK(rw != NULL && ro != NULL);
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(rw, &layout);
	CHECK_EQ(layout.access, RW);
	dmab_client_buffer_get_layout(ro, &layout);
	CHECK_EQ(layout.access, RO);

	/* A token can be used more than once, until revoked. */
	struct dmab_client_buffer *again = dmab_client_buffer_import(b->client,
		dmab_client_token_get_string(ro_token));
	CHECK(again != NULL);
	dmab_client_buffer_destroy(again);

	/* Write through the read_write import; the owner reads it. */
	struct dmab_client_attachment *writer = attach_mapped(rw, RW, WRITE);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	pattern_fill(dmab_client_attachment_get_data(writer),
		dmab_client_attachment_get_stride(writer), 64, 16, 5);
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	CHECK_EQ(dmab_client_attachment_begin(owner, READ), 0);
	CHECK(pattern_check(dmab_client_attachment_get_data(owner),
		dmab_client_attachment_get_stride(owner), 64, 16, 5));
	CHECK_EQ(dmab_client_attachment_end(owner), 0);

	/* A read-only reference can pass on read-only tokens, and those stay read-only. */
	struct dmab_client_token *reshared = dmab_client_token_create(ro, RO);
	CHECK(reshared != NULL);
	check_token_format(dmab_client_token_get_string(reshared));
	struct dmab_client_buffer *third = dmab_client_buffer_import(a->client,
		dmab_client_token_get_string(reshared));
	CHECK(third != NULL);
	dmab_client_buffer_get_layout(third, &layout);
	CHECK_EQ(layout.access, RO);
	attach_mapped(ro, RO, READ);

	/* Revoking stops later imports, and ends the access of the one made with it. */
	char rw_string[64];
	snprintf(rw_string, sizeof(rw_string), "%s", dmab_client_token_get_string(rw_token));
	dmab_client_token_revoke(rw_token);
	CHECK_EQ(dmab_client_roundtrip(a->client), 0);
	CHECK(dmab_client_buffer_import(b->client, rw_string) == NULL);
	CHECK_EQ(errno, EACCES);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), -EACCES);
	CHECK_EQ(dmab_client_last_failure()->reason, DMABROKER_MANAGER_V1_REASON_REVOKED_TOKEN);
	fixture_destroy(f);
}

DMAB_TEST(token_keeps_the_buffer_alive)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *produced = dmab_client_buffer_create(a->client, 16, 16, ARGB,
		0, "orphan");
	CHECK(produced != NULL);
	struct dmab_client_attachment *writer = attach_mapped(produced, RW, WRITE);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	pattern_fill(dmab_client_attachment_get_data(writer),
		dmab_client_attachment_get_stride(writer), 64, 16, 8);
	CHECK_EQ(dmab_client_attachment_end(writer), 0);

	/* The token is a reference of its own: the buffer outlives the creator's. */
	struct raw_token token;
	raw_token_listen(&token, dmabroker_buffer_v1_share(dmab_client_buffer_get_proxy(produced),
		RO));
	ROUNDTRIP(a->display);
	CHECK(token.have_token);
	dmab_client_buffer_destroy(produced);
	ROUNDTRIP(a->display);

	struct dmab_client_buffer *imported = dmab_client_buffer_import(b->client, token.token);
	CHECK(imported != NULL);
	struct dmab_client_attachment *reader = attach_mapped(imported, RO, READ);
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
	CHECK(pattern_check(dmab_client_attachment_get_data(reader),
		dmab_client_attachment_get_stride(reader), 64, 16, 8));
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	dmabroker_token_v1_revoke(token.proxy);
	ROUNDTRIP(a->display);
	struct info_snapshot snap;
	CHECK(info_snapshot_take(a->display, dmab_client_get_manager(a->client), &snap));
	CHECK(info_find_buffer(&snap, "orphan") >= 0);
	fixture_client_close(b);
	CHECK(info_snapshot_take(a->display, dmab_client_get_manager(a->client), &snap));
	CHECK_EQ(info_find_buffer(&snap, "orphan"), -1);
	fixture_destroy(f);
}

/* --- introspection --- */

static const char *allocator_base(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s", name);
	char *colon = strchr(buf, ':');
	if (colon != NULL)
		*colon = '\0';
	return buf;
}

DMAB_TEST(info_lists_buffers_attachments_and_allocators)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *alpha = dmab_client_buffer_create(a->client, 64, 32, ARGB,
		DMABROKER_MANAGER_V1_USAGE_SHARE, "alpha");
	struct dmab_client_buffer *beta = dmab_client_buffer_create(a->client, 16, 16,
		DRM_FORMAT_RGB565, 0, "beta");
	CHECK(alpha != NULL && beta != NULL);
	struct dmab_client_attachment *writer = attach_mapped(alpha, RW, WRITE);
	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	struct dmab_client_token *token = dmab_client_token_create(alpha, RO);
	CHECK(token != NULL);
	struct dmab_client_buffer *imported = dmab_client_buffer_import(b->client,
		dmab_client_token_get_string(token));
	CHECK(imported != NULL);
	CHECK(dmab_client_attachment_create(imported, RO, NULL) != NULL);
	CHECK_EQ(dmab_client_roundtrip(b->client), 0);

	struct info_snapshot snap;
	struct dmabroker_info_v1 *info = info_open(dmab_client_get_manager(a->client), &snap);
	CHECK(info_wait(a->display, &snap));
	CHECK(snap.done && !snap.failed);

	char in_use[64];
	allocator_base(fixture_allocator_name(f), in_use, sizeof(in_use));
	bool found_in_use = false, found_memfd = false;
	for (size_t i = 0; i < snap.allocators_len; i++) {
		printf("# allocator %s state %u: %s\n", snap.allocators[i].name,
			snap.allocators[i].state, snap.allocators[i].detail);
		char name[64];
		allocator_base(snap.allocators[i].name, name, sizeof(name));
		if (snap.allocators[i].state == DMABROKER_INFO_V1_ALLOCATOR_STATE_IN_USE) {
			CHECK(!found_in_use);
			CHECK_STR_EQ(name, in_use);
			found_in_use = true;
		}
		if (strcmp(name, "memfd") == 0) {
			CHECK(snap.allocators[i].state != DMABROKER_INFO_V1_ALLOCATOR_STATE_ABSENT);
			found_memfd = true;
		}
	}
	CHECK(found_in_use);
	CHECK(found_memfd);

	CHECK_EQ(snap.buffers_len, 2);
	int i = info_find_buffer(&snap, "alpha");
	CHECK(i >= 0);
	uint32_t alpha_id = snap.buffers[i].id;
	CHECK_EQ(snap.buffers[i].owner_pid, getpid());
	CHECK_EQ(snap.buffers[i].width, 64);
	CHECK_EQ(snap.buffers[i].height, 32);
	CHECK_EQ(snap.buffers[i].format, ARGB);
	/* Backed now: the backend had the last word on the layout. */
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(alpha, &layout);
	CHECK(layout.stride >= 64 * 4);
	CHECK_EQ(snap.buffers[i].stride, layout.stride);
	CHECK_EQ(snap.buffers[i].size, layout.size);
	char backing[64];
	CHECK_STR_EQ(allocator_base(snap.buffers[i].allocator, backing, sizeof(backing)), in_use);
	/* a's and b's references, the token, the two attachments: at least the handles. */
	CHECK(snap.buffers[i].refs >= 3);
	CHECK_EQ(snap.buffers[i].write_fence, 1);
	CHECK_EQ(snap.buffers[i].read_fences, 0);

	i = info_find_buffer(&snap, "beta");
	CHECK(i >= 0);
	CHECK(snap.buffers[i].id != alpha_id);
	CHECK_EQ(snap.buffers[i].format, DRM_FORMAT_RGB565);
	CHECK_EQ(snap.buffers[i].stride, 64);
	CHECK_STR_EQ(snap.buffers[i].allocator, ""); /* never mapped: not backed yet */
	CHECK_EQ(info_count_attachments(&snap, snap.buffers[i].id), 0);

	CHECK_EQ(info_count_attachments(&snap, alpha_id), 2);
	bool found_writer = false, found_reader = false;
	for (size_t j = 0; j < snap.attachments_len; j++) {
		if (snap.attachments[j].buffer_id != alpha_id)
			continue;
		CHECK_EQ(snap.attachments[j].pid, getpid());
		if (snap.attachments[j].access == RW) {
			CHECK_EQ(snap.attachments[j].state, DMABROKER_INFO_V1_ATTACHMENT_STATE_MAPPED);
			CHECK_EQ(snap.attachments[j].in_access, WRITE);
			found_writer = true;
		} else {
			CHECK_EQ(snap.attachments[j].access, RO);
			CHECK_EQ(snap.attachments[j].state, DMABROKER_INFO_V1_ATTACHMENT_STATE_UNMAPPED);
			CHECK_EQ(snap.attachments[j].in_access, 0);
			found_reader = true;
		}
	}
	CHECK(found_writer && found_reader);

	/* refresh sends a new snapshot on the same object. */
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	dmab_client_buffer_destroy(beta);
	info_refresh(info, &snap);
	CHECK(info_wait(a->display, &snap));
	CHECK_EQ(snap.buffers_len, 1);
	i = info_find_buffer(&snap, "alpha");
	CHECK(i >= 0);
	CHECK_EQ(snap.buffers[i].write_fence, 0);
	for (size_t j = 0; j < snap.attachments_len; j++)
		CHECK_EQ(snap.attachments[j].in_access, 0);
	dmabroker_info_v1_destroy(info);
	fixture_destroy(f);
}
