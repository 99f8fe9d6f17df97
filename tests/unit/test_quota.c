/* SPDX-License-Identifier: MIT */
/* Per-account quotas on buffers, bytes, attachments and tokens, and their release. */
#include <drm_fourcc.h>
#include <fcntl.h>
#include <string.h>

#include "unit.h"

static void check_quota(const struct dmab_failure *fail, const char *message)
{
	CHECK_EQ(fail->reason, DMAB_REASON_QUOTA_EXCEEDED);
	CHECK_STR_EQ(fail->message, message);
}

DMAB_TEST(core_limits_default)
{
	struct dmab_core *core = test_core_create(NULL);
	struct dmab_limits limits;
	dmab_core_get_limits(core, &limits);
	CHECK_EQ(limits.max_width, 16384);
	CHECK_EQ(limits.max_height, 16384);
	CHECK_EQ(limits.max_bytes, 512ull << 20);
	CHECK_EQ(limits.max_buffers, 128);
	CHECK_EQ(limits.max_attachments, 512);
	CHECK_EQ(limits.max_tokens, 128);
	CHECK_EQ(limits.max_uid_bytes, 2048ull << 20);
	CHECK_EQ(limits.max_uid_buffers, 1024);
	CHECK_EQ(limits.max_uid_connections, 256);
	CHECK_EQ(limits.max_uid_fds, 2048);
	dmab_core_destroy(core);

	/* A uid's default share follows the connection's quota. */
	core = test_core_create(&(struct dmab_limits){ .max_bytes = 32 << 20,
		.max_buffers = 5000 });
	dmab_core_get_limits(core, &limits);
	CHECK_EQ(limits.max_uid_bytes, 128 << 20);
	CHECK_EQ(limits.max_uid_buffers, 40000);
	dmab_core_destroy(core);
	core = test_core_create(&(struct dmab_limits){ .max_bytes = UINT64_MAX / 2,
		.max_buffers = UINT32_MAX / 2 });
	dmab_core_get_limits(core, &limits);
	CHECK_EQ(limits.max_uid_bytes, UINT64_MAX);
	CHECK_EQ(limits.max_uid_buffers, UINT32_MAX);
	dmab_core_destroy(core);
	core = test_core_create(&(struct dmab_limits){ .max_buffers = 5000,
		.max_uid_buffers = 10 });
	dmab_core_get_limits(core, &limits);
	CHECK_EQ(limits.max_uid_buffers, 10);
	dmab_core_destroy(core);

	core = test_core_create(&(struct dmab_limits){ .max_tokens = 3, .max_width = 100 });
	dmab_core_get_limits(core, &limits);
	CHECK_EQ(limits.max_tokens, 3);
	CHECK_EQ(limits.max_width, 100);
	CHECK_EQ(limits.max_height, 16384);
	dmab_core_destroy(core);
}

DMAB_TEST(unknown_allocator_fails_core_create)
{
	struct dmab_core_options options = { .allocator = "no-such-allocator" };
	char err[256] = "";
	CHECK(dmab_core_create(&options, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "no-such-allocator") != NULL);
}

DMAB_TEST(buffer_quota_counts_handles)
{
	struct dmab_core *core = test_core_create(&(struct dmab_limits){ .max_buffers = 2 });
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_account *other = dmab_account_create(core, 2, 1);
	struct dmab_handle *a = test_buffer(account, 8, 8);
	struct dmab_failure fail;
	struct dmab_token *token = dmab_token_create(a, DMAB_ACCESS_READ, &fail);
	CHECK(token != NULL);
	struct dmab_handle *b = dmab_handle_import_token(account, dmab_token_get_string(token),
		&fail);
	CHECK(b != NULL);

	struct dmab_buffer_desc desc = { .width = 8, .height = 8, .format = DRM_FORMAT_ARGB8888 };
	CHECK(dmab_handle_create(account, &desc, &fail) == NULL);
	check_quota(&fail, "buffer quota exceeded: 2 of 2 buffers in use");
	CHECK(dmab_handle_import_token(account, dmab_token_get_string(token), &fail) == NULL);
	check_quota(&fail, "buffer quota exceeded: 2 of 2 buffers in use");
	int fd = test_memfd(4096, F_SEAL_SHRINK);
	struct dmab_import_desc import = {
		.width = 8, .height = 8, .format = DRM_FORMAT_ARGB8888, .stride = 32,
	};
	CHECK(dmab_handle_import_fd(account, fd, &import, &fail) == NULL);
	check_quota(&fail, "buffer quota exceeded: 2 of 2 buffers in use");
	CHECK_EQ(test_count_buffers(core), 1);

	/* Quotas are per account. */
	struct dmab_handle *c = test_buffer(other, 8, 8);

	dmab_handle_destroy(b);
	b = test_buffer(account, 8, 8);
	dmab_token_revoke(token);
	dmab_handle_destroy(a);
	dmab_handle_destroy(b);
	dmab_handle_destroy(c);
	dmab_account_destroy(account);
	dmab_account_destroy(other);
	dmab_core_destroy(core);
}

DMAB_TEST(byte_quota_counts_planned_sizes)
{
	/* 128x128 ARGB is 64 KiB, page aligned: four fit in 256 KiB. */
	struct dmab_core *core = test_core_create(&(struct dmab_limits){
		.max_bytes = 256 << 10 });
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handles[4];
	for (int i = 0; i < 4; i++)
		handles[i] = test_buffer(account, 128, 128);
	struct dmab_buffer_desc desc = { .width = 1, .height = 1, .format = DRM_FORMAT_ARGB8888 };
	struct dmab_failure fail;
	CHECK(dmab_handle_create(account, &desc, &fail) == NULL);
	CHECK_EQ(fail.reason, DMAB_REASON_QUOTA_EXCEEDED);
	CHECK(strstr(fail.message, "byte quota exceeded: 262144 bytes in use") != NULL);

	/* A destroyed buffer returns its bytes. */
	dmab_handle_destroy(handles[3]);
	handles[3] = test_buffer(account, 128, 128);
	for (int i = 0; i < 4; i++)
		dmab_handle_destroy(handles[i]);
	handles[0] = test_buffer(account, 128, 512);
	dmab_handle_destroy(handles[0]);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(byte_quota_checked_again_at_allocation)
{
	/* 100x16 plans 448 x 16 bytes (8 KiB); a 4096 alignment needs 64 KiB. */
	struct dmab_core *core = test_core_create(&(struct dmab_limits){
		.max_bytes = 32 << 10 });
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = test_buffer(account, 100, 16);
	struct recorder a, b;
	test_recorder_init(&a, 'A');
	test_recorder_init(&b, 'B');
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 4096, &a);
	test_map(&a, DMAB_DIR_READ);
	CHECK_EQ(a.failed, 1);
	CHECK_EQ(a.failure.reason, DMAB_REASON_QUOTA_EXCEEDED);
	CHECK(strstr(a.failure.message, "byte quota exceeded") != NULL);

	/* Without the strict attachment the plan fits again. */
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 0, &b);
	test_map(&b, DMAB_DIR_READ);
	CHECK_EQ(b.mapped, 1);
	CHECK_EQ(b.mapping.stride, 448);

	test_detach(&a);
	test_detach(&b);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(attachment_quota_fails_the_attachment)
{
	struct dmab_core *core = test_core_create(&(struct dmab_limits){ .max_attachments = 2 });
	struct dmab_account *account = dmab_account_create(core, 9, 1);
	struct dmab_handle *handle = test_buffer(account, 8, 8);
	struct recorder rec[4];
	for (int i = 0; i < 4; i++)
		test_recorder_init(&rec[i], (char)('A' + i));
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 0, &rec[0]);
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 0, &rec[1]);
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 0, &rec[2]);
	CHECK_EQ(rec[2].failed, 1);
	check_quota(&rec[2].failure, "attachment quota exceeded: 2 of 2 attachments in use");
	CHECK(dmab_attachment_is_defunct(rec[2].att));
	struct dmab_attachment_stats stats;
	CHECK(test_attachment_stats(core, 1, 2, &stats));
	CHECK_EQ(stats.pid, 9);

	/* The broker's own attachments are not charged. */
	struct recorder broker;
	test_recorder_init(&broker, 'K');
	test_attach(handle, NULL, DMAB_ACCESS_READ, 0, 0, &broker);
	CHECK_EQ(broker.failed, 0);

	/* A failed attachment was never charged; a destroyed one is released. */
	test_detach(&rec[2]);
	test_detach(&rec[0]);
	test_attach(handle, account, DMAB_ACCESS_READ, 0, 0, &rec[3]);
	CHECK_EQ(rec[3].failed, 0);

	test_detach(&rec[1]);
	test_detach(&rec[3]);
	test_detach(&broker);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(token_quota_until_revoke)
{
	struct dmab_core *core = test_core_create(&(struct dmab_limits){ .max_tokens = 2 });
	struct dmab_account *account = dmab_account_create(core, 1, 1);
	struct dmab_handle *handle = test_buffer(account, 8, 8);
	struct dmab_failure fail;
	struct dmab_token *a = dmab_token_create(handle, DMAB_ACCESS_READ, &fail);
	struct dmab_token *b = dmab_token_create(handle, DMAB_ACCESS_READ_WRITE, &fail);
	CHECK(a != NULL && b != NULL);
	CHECK(dmab_token_create(handle, DMAB_ACCESS_READ, &fail) == NULL);
	check_quota(&fail, "token quota exceeded: 2 of 2 tokens in use");
	dmab_token_revoke(a);
	a = dmab_token_create(handle, DMAB_ACCESS_READ, &fail);
	CHECK(a != NULL);
	dmab_token_revoke(a);
	dmab_token_revoke(b);
	dmab_handle_destroy(handle);
	dmab_account_destroy(account);
	dmab_core_destroy(core);
}

DMAB_TEST(account_outlives_its_connection)
{
	struct dmab_core *core = test_core_create(&(struct dmab_limits){ .max_buffers = 1 });
	struct dmab_account *account = dmab_account_create(core, 5, 6);
	CHECK_EQ(dmab_account_get_pid(account), 5);
	CHECK_EQ(dmab_account_get_uid(account), 6);
	struct dmab_handle *handle = test_buffer(account, 8, 8);
	struct dmab_failure fail;
	struct dmab_token *token = dmab_token_create(handle, DMAB_ACCESS_READ, &fail);
	dmab_account_destroy(account);

	/* The objects still charge the account, which still knows its pid. */
	struct dmab_buffer_stats stats;
	CHECK(test_buffer_stats(core, 1, &stats));
	CHECK_EQ(stats.owner_pid, 5);
	dmab_handle_destroy(handle);
	CHECK(test_buffer_stats(core, 1, &stats));
	CHECK_EQ(stats.owner_pid, 5);
	dmab_token_revoke(token);
	CHECK_EQ(test_count_buffers(core), 0);
	dmab_core_destroy(core);
}

/* 24 connections at a 32 MiB quota wrote 768 MiB: the uid's sum has a limit of its own. */
DMAB_TEST(uid_byte_limit_spans_connections)
{
	/* 128x128 ARGB is 64 KiB: two per connection, three per uid. */
	struct dmab_core *core = test_core_create(&(struct dmab_limits){
		.max_bytes = 128 << 10, .max_uid_bytes = 192 << 10 });
	struct dmab_account *a = dmab_account_create(core, 1, 7);
	struct dmab_account *b = dmab_account_create(core, 2, 7);
	struct dmab_account *stranger = dmab_account_create(core, 3, 8);
	struct dmab_handle *handles[3] = {
		test_buffer(a, 128, 128), test_buffer(a, 128, 128), test_buffer(b, 128, 128),
	};
	struct dmab_buffer_desc desc = { .width = 128, .height = 128,
		.format = DRM_FORMAT_ARGB8888 };
	struct dmab_failure fail;
	CHECK(dmab_handle_create(b, &desc, &fail) == NULL);
	check_quota(&fail, "uid 7 byte quota exceeded: 196608 bytes in use by its 2 "
		"connections, 65536 more requested, 196608 allowed");
	/* Another uid is not affected. */
	struct dmab_handle *theirs = test_buffer(stranger, 128, 128);
	struct dmab_uid_usage usage;
	dmab_core_get_uid_usage(core, 7, &usage);
	CHECK_EQ(usage.bytes, 192 << 10);
	CHECK_EQ(usage.buffers, 3);
	CHECK_EQ(usage.connections, 2);
	CHECK_EQ(usage.fds, 3);

	/* A buffer of one connection freed makes room for the other. */
	dmab_handle_destroy(handles[0]);
	handles[0] = test_buffer(b, 128, 128);
	for (int i = 0; i < 3; i++) {
		dmab_handle_destroy(handles[i]);
	}
	dmab_handle_destroy(theirs);
	dmab_core_get_uid_usage(core, 7, &usage);
	CHECK_EQ(usage.bytes, 0);
	CHECK_EQ(usage.buffers, 0);
	CHECK_EQ(usage.fds, 0);
	dmab_account_destroy(a);
	dmab_account_destroy(b);
	dmab_account_destroy(stranger);
	dmab_core_destroy(core);
}

DMAB_TEST(uid_buffer_and_fd_limits_span_connections)
{
	struct dmab_core *core = test_core_create(&(struct dmab_limits){ .max_uid_buffers = 3,
		.max_uid_fds = 4 });
	struct dmab_account *a = dmab_account_create(core, 1, 7);
	struct dmab_account *b = dmab_account_create(core, 2, 7);
	struct dmab_handle *owned[2] = { test_buffer(a, 8, 8), test_buffer(b, 8, 8) };
	struct dmab_failure fail;
	struct dmab_token *token = dmab_token_create(owned[0], DMAB_ACCESS_READ, &fail);
	/* An import is a buffer of the uid's, but its storage fd is the owner's. */
	struct dmab_handle *imported = dmab_handle_import_token(b, dmab_token_get_string(token),
		&fail);
	CHECK(imported != NULL);
	CHECK(dmab_handle_import_token(a, dmab_token_get_string(token), &fail) == NULL);
	check_quota(&fail, "uid 7 buffer quota exceeded: 3 of 3 buffers in use by its 2 "
		"connections");
	dmab_handle_destroy(imported);

	/* The glue's fds (watches, eventfds) count with the storage fds. */
	CHECK(dmab_account_charge_fds(a, 2, &fail));
	struct dmab_buffer_desc desc = { .width = 8, .height = 8, .format = DRM_FORMAT_ARGB8888 };
	CHECK(dmab_handle_create(b, &desc, &fail) == NULL);
	check_quota(&fail, "uid 7 fd quota exceeded: 4 of 4 fds in use by its 2 connections");
	CHECK(!dmab_account_charge_fds(b, 1, &fail));
	/* The charge keeps the account: it outlives its connection. */
	dmab_account_destroy(a);
	dmab_account_uncharge_fds(a, 2);
	CHECK(dmab_account_charge_fds(b, 1, &fail));
	dmab_account_uncharge_fds(b, 1);

	dmab_token_revoke(token);
	dmab_handle_destroy(owned[0]);
	dmab_handle_destroy(owned[1]);
	dmab_account_destroy(b);
	dmab_core_destroy(core);
}

DMAB_TEST(uid_connection_limit)
{
	struct dmab_core *core = test_core_create(&(struct dmab_limits){
		.max_uid_connections = 2 });
	struct dmab_failure fail;
	CHECK(dmab_core_admit(core, 7, &fail));
	struct dmab_account *a = dmab_account_create(core, 1, 7);
	struct dmab_account *b = dmab_account_create(core, 2, 7);
	CHECK(!dmab_core_admit(core, 7, &fail));
	check_quota(&fail, "uid 7 connection limit exceeded: 2 of 2 connections in use");
	CHECK(dmab_core_admit(core, 8, &fail));

	/* An account whose objects outlive its connection is no connection. */
	struct dmab_handle *handle = test_buffer(a, 8, 8);
	struct dmab_token *token = dmab_token_create(handle, DMAB_ACCESS_READ, &fail);
	dmab_handle_destroy(handle);
	dmab_account_destroy(a);
	CHECK(dmab_core_admit(core, 7, &fail));
	struct dmab_uid_usage usage;
	dmab_core_get_uid_usage(core, 7, &usage);
	CHECK_EQ(usage.connections, 1);
	CHECK_EQ(usage.buffers, 0);
	CHECK_EQ(usage.fds, 1);
	dmab_token_revoke(token);
	dmab_core_get_uid_usage(core, 7, &usage);
	CHECK_EQ(usage.fds, 0);
	dmab_account_destroy(b);
	dmab_core_get_uid_usage(core, 7, &usage);
	CHECK_EQ(usage.connections, 0);
	dmab_core_destroy(core);
}

/* The case: at 32 MiB a connection, the uid gets four connections' worth. */
DMAB_TEST(uid_default_bytes_follow_the_connection_quota)
{
	/* 2048x4096 ARGB is 32 MiB. */
	struct dmab_core *core = test_core_create(&(struct dmab_limits){ .max_bytes = 32 << 20 });
	struct dmab_account *accounts[5];
	struct dmab_handle *handles[5] = {0};
	for (int i = 0; i < 5; i++) {
		accounts[i] = dmab_account_create(core, 100 + i, 7);
	}
	for (int i = 0; i < 4; i++) {
		handles[i] = test_buffer(accounts[i], 2048, 4096);
	}
	struct dmab_buffer_desc desc = { .width = 2048, .height = 4096,
		.format = DRM_FORMAT_ARGB8888 };
	struct dmab_failure fail;
	CHECK(dmab_handle_create(accounts[4], &desc, &fail) == NULL);
	check_quota(&fail, "uid 7 byte quota exceeded: 134217728 bytes in use by its 5 "
		"connections, 33554432 more requested, 134217728 allowed");
	for (int i = 0; i < 5; i++) {
		dmab_handle_destroy(handles[i]);
		dmab_account_destroy(accounts[i]);
	}
	dmab_core_destroy(core);
}
