/* Share tokens: their form, imports, revocation, and the buffer references they hold. */
#include <stdio.h>
#include <string.h>

#include "unit.h"

struct fixture {
	struct dmab_core *core;
	struct dmab_account *sharer, *importer;
	struct dmab_handle *handle;
};

static void setup(struct fixture *f)
{
	f->core = test_core_create(NULL);
	f->sharer = dmab_account_create(f->core, 1, 1);
	f->importer = dmab_account_create(f->core, 2, 1);
	f->handle = test_buffer(f->sharer, 32, 32);
}

static void teardown(struct fixture *f)
{
	dmab_handle_destroy(f->handle);
	dmab_account_destroy(f->sharer);
	dmab_account_destroy(f->importer);
	dmab_core_destroy(f->core);
}

DMAB_TEST(tokens_are_unique_lowercase_hex)
{
	struct fixture f;
	setup(&f);
	enum { N = 64 };
	struct dmab_token *tokens[N];
	struct dmab_failure fail;
	for (int i = 0; i < N; i++) {
		tokens[i] = dmab_token_create(f.handle, DMAB_ACCESS_READ, &fail);
		CHECK(tokens[i] != NULL);
		const char *s = dmab_token_get_string(tokens[i]);
		CHECK_EQ(strlen(s), DMAB_TOKEN_LEN);
		CHECK_EQ(strspn(s, "0123456789abcdef"), DMAB_TOKEN_LEN);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(s, dmab_token_get_string(tokens[j])) != 0);
	}
	for (int i = 0; i < N; i++)
		dmab_token_revoke(tokens[i]);
	dmab_token_revoke(NULL);
	teardown(&f);
}

DMAB_TEST(import_gets_the_tokens_access)
{
	struct fixture f;
	setup(&f);
	struct dmab_failure fail;
	struct dmab_token *ro = dmab_token_create(f.handle, DMAB_ACCESS_READ, &fail);
	struct dmab_token *rw = dmab_token_create(f.handle, DMAB_ACCESS_READ_WRITE, &fail);
	struct dmab_handle *a = dmab_handle_import_token(f.importer, dmab_token_get_string(ro),
		&fail);
	struct dmab_handle *b = dmab_handle_import_token(f.importer, dmab_token_get_string(rw),
		&fail);
	CHECK(a != NULL && b != NULL);
	CHECK_EQ(dmab_handle_get_access(f.handle), DMAB_ACCESS_READ_WRITE);
	CHECK_EQ(dmab_handle_get_access(a), DMAB_ACCESS_READ);
	CHECK_EQ(dmab_handle_get_access(b), DMAB_ACCESS_READ_WRITE);
	CHECK(dmab_handle_get_buffer(a) == dmab_handle_get_buffer(f.handle));
	/* An import is a reference, not a copy: the owner stays the sharer. */
	struct dmab_buffer_stats stats;
	CHECK(test_buffer_stats(f.core, 1, &stats));
	CHECK_EQ(stats.owner_pid, 1);
	CHECK_EQ(stats.refs, 5);
	CHECK_EQ(test_count_buffers(f.core), 1);

	dmab_token_revoke(ro);
	dmab_token_revoke(rw);
	/* Imports that happened are not affected. */
	CHECK_EQ(dmab_handle_get_access(a), DMAB_ACCESS_READ);
	dmab_handle_destroy(a);
	dmab_handle_destroy(b);
	teardown(&f);
}

DMAB_TEST(revoked_and_unknown_tokens)
{
	struct fixture f;
	setup(&f);
	struct dmab_failure fail;
	struct dmab_token *token = dmab_token_create(f.handle, DMAB_ACCESS_READ, &fail);
	char string[DMAB_TOKEN_LEN + 1];
	snprintf(string, sizeof(string), "%s", dmab_token_get_string(token));
	dmab_token_revoke(token);

	CHECK(dmab_handle_import_token(f.importer, string, &fail) == NULL);
	CHECK_EQ(fail.reason, DMAB_REASON_REVOKED_TOKEN);
	char expected[64];
	snprintf(expected, sizeof(expected), "token %.8s... was revoked", string);
	CHECK_STR_EQ(fail.message, expected);

	/* One digit off is unknown. */
	string[DMAB_TOKEN_LEN - 1] = string[DMAB_TOKEN_LEN - 1] == '0' ? '1' : '0';
	CHECK(dmab_handle_import_token(f.importer, string, &fail) == NULL);
	CHECK_EQ(fail.reason, DMAB_REASON_UNKNOWN_TOKEN);
	snprintf(expected, sizeof(expected), "no live buffer has token %.8s...", string);
	CHECK_STR_EQ(fail.message, expected);

	const char *malformed[] = {
		"", "0123", "0123456789abcdef0123456789abcdeF", "0123456789abcdef0123456789abcdef0",
		"0123456789abcdef0123456789abcde\n",
	};
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		CHECK(dmab_handle_import_token(f.importer, malformed[i], &fail) == NULL);
		CHECK_EQ(fail.reason, DMAB_REASON_UNKNOWN_TOKEN);
		CHECK(strstr(fail.message, "not 32 lowercase hex digits") != NULL);
	}
	teardown(&f);
}

DMAB_TEST(token_keeps_the_buffer_until_revoked)
{
	struct fixture f;
	setup(&f);
	int before = dmab_test_count_fds();
	struct recorder rec;
	test_recorder_init(&rec, 'A');
	test_attach(f.handle, f.sharer, DMAB_ACCESS_READ_WRITE, 0, 0,
		&rec);
	test_map(&rec, DMAB_DIR_WRITE);
	test_detach(&rec);
	struct dmab_failure fail;
	struct dmab_token *token = dmab_token_create(f.handle, DMAB_ACCESS_READ, &fail);
	char string[DMAB_TOKEN_LEN + 1];
	snprintf(string, sizeof(string), "%s", dmab_token_get_string(token));
	dmab_handle_destroy(f.handle);
	f.handle = NULL;

	/* The sharer is gone; the token alone holds the buffer and its storage. */
	struct dmab_buffer_stats stats;
	CHECK(test_buffer_stats(f.core, 1, &stats));
	CHECK_EQ(stats.refs, 1);
	CHECK(dmab_test_count_fds() > before);
	struct dmab_handle *imported = dmab_handle_import_token(f.importer, string, &fail);
	CHECK(imported != NULL);
	dmab_token_revoke(token);
	CHECK(test_buffer_stats(f.core, 1, &stats));
	dmab_handle_destroy(imported);

	/* Freed with its buffer, the revoked token's record is forgotten. */
	CHECK_EQ(test_count_buffers(f.core), 0);
	CHECK_EQ(dmab_test_count_fds(), before);
	CHECK(dmab_handle_import_token(f.importer, string, &fail) == NULL);
	CHECK_EQ(fail.reason, DMAB_REASON_UNKNOWN_TOKEN);
	teardown(&f);
}

static void copy_string(char *out, const struct dmab_token *token)
{
	snprintf(out, DMAB_TOKEN_LEN + 1, "%s", dmab_token_get_string(token));
}

/* The lookup finds every record after the table has grown past its first buckets. */
DMAB_TEST(many_tokens_are_found_live_then_revoked)
{
	enum { N = 1000 };
	struct dmab_core *core = test_core_create(&(struct dmab_limits){ .max_tokens = N });
	struct dmab_account *sharer = dmab_account_create(core, 1, 1);
	struct dmab_account *importer = dmab_account_create(core, 2, 1);
	struct dmab_handle *handles[4];
	static struct dmab_token *tokens[N];
	static char strings[N][DMAB_TOKEN_LEN + 1];
	struct dmab_failure fail;
	for (int i = 0; i < 4; i++) {
		handles[i] = test_buffer(sharer, 8, 8);
	}
	for (int i = 0; i < N; i++) {
		tokens[i] = dmab_token_create(handles[i % 4], DMAB_ACCESS_READ, &fail);
		CHECK(tokens[i] != NULL);
		copy_string(strings[i], tokens[i]);
	}
	size_t live, revoked;
	dmab_core_get_token_records(core, &live, &revoked);
	CHECK_EQ(live, N);
	CHECK_EQ(revoked, 0);
	for (int i = 0; i < N; i++) {
		struct dmab_handle *h = dmab_handle_import_token(importer, strings[i], &fail);
		CHECK(h != NULL);
		CHECK(dmab_handle_get_buffer(h) == dmab_handle_get_buffer(handles[i % 4]));
		dmab_handle_destroy(h);
	}
	for (int i = 0; i < N; i++) {
		dmab_token_revoke(tokens[i]);
	}
	for (int i = 0; i < N; i++) {
		CHECK(dmab_handle_import_token(importer, strings[i], &fail) == NULL);
		CHECK_EQ(fail.reason, DMAB_REASON_REVOKED_TOKEN);
	}
	for (int i = 0; i < 4; i++) {
		dmab_handle_destroy(handles[i]);
	}
	dmab_core_get_token_records(core, &live, &revoked);
	CHECK_EQ(live, 0);
	CHECK_EQ(revoked, 0);
	dmab_account_destroy(sharer);
	dmab_account_destroy(importer);
	dmab_core_destroy(core);
}

/*
 * Share and revoke in a loop on one buffer: the records stay bounded, the
 * recent ones still answer revoked_token and the forgotten ones unknown_token.
 */
DMAB_TEST(revoked_records_are_bounded)
{
	struct fixture f;
	setup(&f);
	enum { CYCLES = 3 * DMAB_CORE_MAX_REVOKED_TOKENS };
	struct dmab_failure fail;
	struct dmab_token *kept = dmab_token_create(f.handle, DMAB_ACCESS_READ, &fail);
	char first[DMAB_TOKEN_LEN + 1], last[DMAB_TOKEN_LEN + 1];
	for (int i = 0; i < CYCLES; i++) {
		struct dmab_token *token = dmab_token_create(f.handle, DMAB_ACCESS_READ, &fail);
		CHECK(token != NULL);
		copy_string(i == 0 ? first : last, token);
		dmab_token_revoke(token);
	}
	size_t live, revoked;
	dmab_core_get_token_records(f.core, &live, &revoked);
	CHECK_EQ(live, 1);
	CHECK_EQ(revoked, DMAB_CORE_MAX_REVOKED_TOKENS);

	struct dmab_handle *h = dmab_handle_import_token(f.importer,
		dmab_token_get_string(kept), &fail);
	CHECK(h != NULL);
	dmab_handle_destroy(h);
	CHECK(dmab_handle_import_token(f.importer, last, &fail) == NULL);
	CHECK_EQ(fail.reason, DMAB_REASON_REVOKED_TOKEN);
	CHECK(dmab_handle_import_token(f.importer, first, &fail) == NULL);
	CHECK_EQ(fail.reason, DMAB_REASON_UNKNOWN_TOKEN);
	dmab_token_revoke(kept);
	teardown(&f);
}
