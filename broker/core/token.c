/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/internal.h"

static int random_hex(char *out, size_t bytes_len)
{
	uint8_t bytes[DMAB_TOKEN_LEN / 2];
	size_t got = 0;
	while (got < bytes_len) {
		ssize_t n = getrandom(bytes + got, bytes_len - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < bytes_len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	out[2 * bytes_len] = '\0';
	return 0;
}

struct dmab_token *dmab_token_create(struct dmab_handle *handle, enum dmab_access access,
	struct dmab_failure *fail)
{
	struct dmab_account *account = handle->account;
	if (!dmab_account_charge(account, DMAB_QUOTA_TOKENS, fail))
		return NULL;
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
	token->buffer = dmab_buffer_ref(handle->buffer);
	token->account = dmab_account_ref(account);
	token->access = access;
	dmab_list_insert(token->buffer->tokens.prev, &token->link);
	return token;

err:
	dmab_account_uncharge(account, DMAB_QUOTA_TOKENS);
	return NULL;
}

const char *dmab_token_get_string(const struct dmab_token *token)
{
	return token->string;
}

/* The record stays with the buffer, so that an import can say the token was revoked. */
void dmab_token_revoke(struct dmab_token *token)
{
	if (token == NULL)
		return;
	token->revoked = true;
	dmab_account_uncharge(token->account, DMAB_QUOTA_TOKENS);
	dmab_account_unref(token->account);
	token->account = NULL;
	dmab_buffer_unref(token->buffer);
}

void dmab_token_free(struct dmab_token *token)
{
	dmab_list_remove(&token->link);
	free(token);
}

/* Takes as long whichever digit differs, so a guess learns nothing from the time. */
static bool token_equal(const char *a, const char *b)
{
	unsigned char diff = 0;
	for (size_t i = 0; i < DMAB_TOKEN_LEN; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* string has DMAB_TOKEN_LEN characters. */
static struct dmab_token *token_find(struct dmab_core *core, const char *string)
{
	struct dmab_buffer *buffer;
	dmab_list_for_each(buffer, &core->buffers, link) {
		struct dmab_token *token;
		dmab_list_for_each(token, &buffer->tokens, link) {
			if (token_equal(token->string, string))
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
	if (token->revoked) {
		dmab_failure_set(fail, DMAB_REASON_REVOKED_TOKEN, "token %.8s... was revoked",
			string);
		return NULL;
	}
	return dmab_handle_new(token->buffer, account, token->access, fail);
}
