#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/internal.h"

static int random_bytes(void *out, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = getrandom((char *)out + got, len - got, 0);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		got += (size_t)n;
	}
	return 0;
}

static int random_hex(char *out, size_t bytes_len)
{
	uint8_t bytes[DMAB_TOKEN_LEN / 2];
	int ret = random_bytes(bytes, bytes_len);
	if (ret < 0) {
		return ret;
	}
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < bytes_len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	out[2 * bytes_len] = '\0';
	return 0;
}

enum { TABLE_MIN_BUCKETS = 64 };

static struct dmab_list *buckets_alloc(size_t len)
{
	struct dmab_list *buckets = calloc(len, sizeof(*buckets));
	if (buckets == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		dmab_list_init(&buckets[i]);
	}
	return buckets;
}

int dmab_token_table_init(struct dmab_token_table *table)
{
	*table = (struct dmab_token_table){ .mask = TABLE_MIN_BUCKETS - 1 };
	dmab_list_init(&table->revoked);
	int ret = random_bytes(table->key, sizeof(table->key));
	if (ret < 0) {
		return ret;
	}
	table->buckets = buckets_alloc(TABLE_MIN_BUCKETS);
	return table->buckets != NULL ? 0 : -ENOMEM;
}

void dmab_token_table_finish(struct dmab_token_table *table)
{
	free(table->buckets);
	table->buckets = NULL;
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

/*
 * Keyed with the table's random key, and the same work whatever the digits:
 * a guess learns neither the tokens' digits nor its bucket's neighbours.
 */
static uint64_t token_hash(const struct dmab_token_table *table, const char *string)
{
	uint64_t h = table->key[0];
	for (size_t i = 0; i < DMAB_TOKEN_LEN; i += 8) {
		uint64_t chunk;
		memcpy(&chunk, string + i, sizeof(chunk));
		h = mix(h ^ chunk ^ table->key[1]);
	}
	return h;
}

static struct dmab_list *token_bucket(const struct dmab_token_table *table, const char *string)
{
	return &table->buckets[token_hash(table, string) & table->mask];
}

/* At one record per bucket; a failed allocation only leaves the chains longer. */
static void table_grow(struct dmab_token_table *table)
{
	size_t len = table->mask + 1;
	if (table->records <= len || len > SIZE_MAX / 2 / sizeof(*table->buckets)) {
		return;
	}
	struct dmab_list *old = table->buckets;
	struct dmab_list *buckets = buckets_alloc(2 * len);
	if (buckets == NULL) {
		return;
	}
	table->buckets = buckets;
	table->mask = 2 * len - 1;
	for (size_t i = 0; i < len; i++) {
		while (!dmab_list_empty(&old[i])) {
			struct dmab_token *token =
				dmab_container_of(old[i].next, struct dmab_token, hash_link);
			dmab_list_remove(&token->hash_link);
			dmab_list_insert(token_bucket(table, token->string), &token->hash_link);
		}
	}
	free(old);
}

static void table_insert(struct dmab_token_table *table, struct dmab_token *token)
{
	table->records++;
	table_grow(table);
	dmab_list_insert(token_bucket(table, token->string), &token->hash_link);
}

struct dmab_token *dmab_token_create(struct dmab_handle *handle, enum dmab_access access,
	struct dmab_failure *fail)
{
	struct dmab_account *account = handle->account;
	if (handle->revoked) {
		dmab_failure_set(fail, DMAB_REASON_REVOKED_TOKEN,
			"the token this buffer was shared with was revoked by its owner");
		return NULL;
	}
	if (!dmab_account_charge(account, DMAB_QUOTA_TOKENS, fail)) {
		return NULL;
	}
	struct dmab_token *token = calloc(1, sizeof(*token));
	if (token == NULL) {
		dmab_failure_set(fail, DMAB_REASON_ALLOC_FAILED, "out of memory");
		goto err;
	}
	int ret = random_hex(token->string, DMAB_TOKEN_LEN / 2);
	if (ret < 0) {
		dmab_failure_set(fail, DMAB_REASON_ALLOC_FAILED, "getrandom failed: %s",
			strerror(-ret));
		free(token);
		goto err;
	}
	token->grant = dmab_grant_create(handle->grant);
	if (token->grant == NULL) {
		dmab_failure_set(fail, DMAB_REASON_ALLOC_FAILED, "out of memory");
		free(token);
		goto err;
	}
	token->buffer = dmab_buffer_ref(handle->buffer);
	token->account = dmab_account_ref(account);
	token->access = access;
	dmab_list_init(&token->revoked_link);
	dmab_list_insert(token->buffer->tokens.prev, &token->link);
	table_insert(&account->core->tokens, token);
	return token;

err:
	dmab_account_uncharge(account, DMAB_QUOTA_TOKENS);
	return NULL;
}

const char *dmab_token_get_string(const struct dmab_token *token)
{
	return token->string;
}

/*
 * The record stays with the buffer, so that an import can say the token was
 * revoked, until DMAB_CORE_MAX_REVOKED_TOKENS later revocations.
 */
void dmab_token_withdraw(struct dmab_token *token)
{
	if (token == NULL) {
		return;
	}
	struct dmab_token_table *table = &token->buffer->core->tokens;
	struct dmab_buffer *buffer = token->buffer;
	token->revoked = true;
	dmab_account_uncharge(token->account, DMAB_QUOTA_TOKENS);
	dmab_account_unref(token->account);
	token->account = NULL;
	dmab_list_insert(table->revoked.prev, &token->revoked_link);
	table->revoked_len++;
	while (table->revoked_len > DMAB_CORE_MAX_REVOKED_TOKENS) {
		dmab_token_free(dmab_container_of(table->revoked.next, struct dmab_token,
			revoked_link));
	}
	/* Last: freeing the buffer frees its records, this one included. */
	dmab_buffer_unref(buffer);
}

void dmab_token_revoke(struct dmab_token *token)
{
	if (token == NULL) {
		return;
	}
	struct dmab_buffer *buffer = dmab_buffer_ref(token->buffer);
	token->grant->cut = true;
	dmab_token_withdraw(token);
	dmab_buffer_apply_cut(buffer);
	dmab_buffer_unref(buffer);
}

void dmab_token_free(struct dmab_token *token)
{
	struct dmab_token_table *table = &token->buffer->core->tokens;
	if (token->revoked) {
		table->revoked_len--;
	}
	table->records--;
	dmab_list_remove(&token->revoked_link);
	dmab_list_remove(&token->hash_link);
	dmab_list_remove(&token->link);
	dmab_grant_unref(token->grant);
	free(token);
}

void dmab_core_get_token_records(const struct dmab_core *core, size_t *live, size_t *revoked)
{
	*revoked = core->tokens.revoked_len;
	*live = core->tokens.records - core->tokens.revoked_len;
}

/* Takes as long whichever digit differs, so a guess learns nothing from the time. */
static bool token_equal(const char *a, const char *b)
{
	unsigned char diff = 0;
	for (size_t i = 0; i < DMAB_TOKEN_LEN; i++) {
		diff |= (unsigned char)(a[i] ^ b[i]);
	}
	return diff == 0;
}

/* string has DMAB_TOKEN_LEN characters. */
static struct dmab_token *token_find(struct dmab_core *core, const char *string)
{
	struct dmab_list *bucket = token_bucket(&core->tokens, string);
	struct dmab_token *token;
	dmab_list_for_each(token, bucket, hash_link) {
		if (token_equal(token->string, string)) {
			return token;
		}
	}
	return NULL;
}

static bool is_token_string(const char *string)
{
	if (strnlen(string, DMAB_TOKEN_LEN + 1) != DMAB_TOKEN_LEN)
		return false;
	return strspn(string, "0123456789abcdef") == DMAB_TOKEN_LEN;
}

struct dmab_handle *dmab_handle_import_token(struct dmab_account *account, const char *string,
	struct dmab_failure *fail)
{
	if (!is_token_string(string)) {
		dmab_failure_set(fail, DMAB_REASON_UNKNOWN_TOKEN,
			"no live buffer has this token: it is not %d lowercase hex digits",
			DMAB_TOKEN_LEN);
		return NULL;
	}
	struct dmab_token *token = token_find(account->core, string);
	if (token == NULL) {
		dmab_failure_set(fail, DMAB_REASON_UNKNOWN_TOKEN,
			"no live buffer has token %.8s...", string);
		return NULL;
	}
	/* Cut: its sharer's own access was revoked, though its holder keeps the token. */
	if (token->revoked || dmab_grant_is_cut(token->grant)) {
		dmab_failure_set(fail, DMAB_REASON_REVOKED_TOKEN, "token %.8s... was revoked",
			string);
		return NULL;
	}
	return dmab_handle_new(token->buffer, account, token->access, token->grant, fail);
}
