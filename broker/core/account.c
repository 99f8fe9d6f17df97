/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdlib.h>

#include "core/internal.h"

struct dmab_account *dmab_account_create(struct dmab_core *core, pid_t pid, uid_t uid)
{
	struct dmab_account *account = calloc(1, sizeof(*account));
	if (account == NULL)
		return NULL;
	account->core = core;
	account->pid = pid;
	account->uid = uid;
	account->refs = 1;
	dmab_list_insert(core->accounts.prev, &account->link);
	return account;
}

void dmab_account_destroy(struct dmab_account *account)
{
	dmab_account_unref(account);
}

pid_t dmab_account_get_pid(const struct dmab_account *account)
{
	return account->pid;
}

uid_t dmab_account_get_uid(const struct dmab_account *account)
{
	return account->uid;
}

struct dmab_account *dmab_account_ref(struct dmab_account *account)
{
	account->refs++;
	return account;
}

void dmab_account_free(struct dmab_account *account)
{
	dmab_list_remove(&account->link);
	free(account);
}

void dmab_account_unref(struct dmab_account *account)
{
	if (account == NULL || --account->refs > 0)
		return;
	dmab_account_free(account);
}

static const char *quota_name(enum dmab_quota_kind kind)
{
	switch (kind) {
	case DMAB_QUOTA_BUFFERS:
		return "buffer";
	case DMAB_QUOTA_ATTACHMENTS:
		return "attachment";
	case DMAB_QUOTA_TOKENS:
		return "token";
	}
	return "?";
}

static uint32_t *quota_count(struct dmab_account *account, enum dmab_quota_kind kind,
	uint32_t *max)
{
	const struct dmab_limits *limits = &account->core->limits;
	switch (kind) {
	case DMAB_QUOTA_BUFFERS:
		*max = limits->max_buffers;
		return &account->buffers;
	case DMAB_QUOTA_ATTACHMENTS:
		*max = limits->max_attachments;
		return &account->attachments;
	case DMAB_QUOTA_TOKENS:
		*max = limits->max_tokens;
		return &account->tokens;
	}
	abort();
}

bool dmab_account_charge(struct dmab_account *account, enum dmab_quota_kind kind,
	struct dmab_failure *fail)
{
	uint32_t max;
	uint32_t *count = quota_count(account, kind, &max);
	if (*count >= max) {
		dmab_failure_set(fail, DMAB_REASON_QUOTA_EXCEEDED,
			"%s quota exceeded: %" PRIu32 " of %" PRIu32 " %ss in use",
			quota_name(kind), *count, max, quota_name(kind));
		return false;
	}
	(*count)++;
	return true;
}

void dmab_account_uncharge(struct dmab_account *account, enum dmab_quota_kind kind)
{
	uint32_t max;
	uint32_t *count = quota_count(account, kind, &max);
	(*count)--;
}

bool dmab_account_recharge_bytes(struct dmab_account *account, uint64_t old, uint64_t new,
	struct dmab_failure *fail)
{
	uint64_t others = account->bytes - old;
	uint64_t max = account->core->limits.max_bytes;
	if (new > old && (new > max || others > max - new)) {
		dmab_failure_set(fail, DMAB_REASON_QUOTA_EXCEEDED,
			"byte quota exceeded: %" PRIu64 " bytes in use, %" PRIu64
			" more requested, %" PRIu64 " allowed", account->bytes, new - old, max);
		return false;
	}
	account->bytes = others + new;
	return true;
}
