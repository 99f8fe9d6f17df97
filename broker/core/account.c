/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdlib.h>

#include "core/internal.h"

static struct dmab_user *user_get(struct dmab_core *core, uid_t uid)
{
	struct dmab_user *user;
	dmab_list_for_each(user, &core->users, link) {
		if (user->uid == uid) {
			user->refs++;
			return user;
		}
	}
	user = calloc(1, sizeof(*user));
	if (user == NULL) {
		return NULL;
	}
	user->core = core;
	user->uid = uid;
	user->refs = 1;
	dmab_list_insert(&core->users, &user->link);
	return user;
}

static void user_unref(struct dmab_user *user)
{
	if (--user->refs > 0) {
		return;
	}
	dmab_list_remove(&user->link);
	free(user);
}

static const struct dmab_user *user_find(const struct dmab_core *core, uid_t uid)
{
	const struct dmab_user *user;
	dmab_list_for_each(user, &core->users, link) {
		if (user->uid == uid) {
			return user;
		}
	}
	return NULL;
}

bool dmab_core_admit(const struct dmab_core *core, uid_t uid, struct dmab_failure *fail)
{
	const struct dmab_user *user = user_find(core, uid);
	uint32_t max = core->limits.max_uid_connections;
	if (user != NULL && user->connections >= max) {
		dmab_failure_set(fail, DMAB_REASON_QUOTA_EXCEEDED,
			"uid %u connection limit exceeded: %" PRIu32 " of %" PRIu32
			" connections in use", (unsigned)uid, user->connections, max);
		return false;
	}
	return true;
}

struct dmab_account *dmab_account_create(struct dmab_core *core, pid_t pid, uid_t uid)
{
	struct dmab_account *account = calloc(1, sizeof(*account));
	if (account == NULL) {
		return NULL;
	}
	account->user = user_get(core, uid);
	if (account->user == NULL) {
		free(account);
		return NULL;
	}
	account->user->connections++;
	account->core = core;
	account->pid = pid;
	account->uid = uid;
	account->refs = 1;
	account->max_bytes = core->limits.max_bytes;
	account->max_buffers = core->limits.max_buffers;
	account->max_attachments = core->limits.max_attachments;
	account->max_tokens = core->limits.max_tokens;
	dmab_list_insert(core->accounts.prev, &account->link);
	return account;
}

void dmab_account_set_quota(struct dmab_account *account, const struct dmab_limits *limits)
{
	const struct dmab_limits *core = &account->core->limits;
	account->max_bytes = limits->max_bytes ? limits->max_bytes : core->max_bytes;
	account->max_buffers = limits->max_buffers ? limits->max_buffers : core->max_buffers;
	account->max_attachments = limits->max_attachments ? limits->max_attachments :
		core->max_attachments;
	account->max_tokens = limits->max_tokens ? limits->max_tokens : core->max_tokens;
}

void dmab_account_get_quota(const struct dmab_account *account, struct dmab_limits *limits)
{
	limits->max_bytes = account->max_bytes;
	limits->max_buffers = account->max_buffers;
	limits->max_attachments = account->max_attachments;
	limits->max_tokens = account->max_tokens;
}

void dmab_account_destroy(struct dmab_account *account)
{
	if (account == NULL) {
		return;
	}
	account->user->connections--;
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
	user_unref(account->user);
	free(account);
}

void dmab_account_unref(struct dmab_account *account)
{
	if (account == NULL || --account->refs > 0) {
		return;
	}
	dmab_account_free(account);
}

static const char *plural(uint32_t count)
{
	return count == 1 ? "" : "s";
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
	case DMAB_QUOTA_FDS:
		return "fd";
	}
	return "?";
}

/* The account's counter of kind and its limit; UINT32_MAX where only the uid has one. */
static uint32_t *quota_count(struct dmab_account *account, enum dmab_quota_kind kind,
	uint32_t *max)
{
	switch (kind) {
	case DMAB_QUOTA_BUFFERS:
		*max = account->max_buffers;
		return &account->buffers;
	case DMAB_QUOTA_ATTACHMENTS:
		*max = account->max_attachments;
		return &account->attachments;
	case DMAB_QUOTA_TOKENS:
		*max = account->max_tokens;
		return &account->tokens;
	case DMAB_QUOTA_FDS:
		*max = UINT32_MAX;
		return &account->fds;
	}
	abort();
}

/* The uid's counter of kind and its limit, NULL for a kind that is only per connection. */
static uint32_t *user_count(struct dmab_account *account, enum dmab_quota_kind kind,
	uint32_t *max)
{
	const struct dmab_limits *limits = &account->core->limits;
	switch (kind) {
	case DMAB_QUOTA_BUFFERS:
		*max = limits->max_uid_buffers;
		return &account->user->buffers;
	case DMAB_QUOTA_FDS:
		*max = limits->max_uid_fds;
		return &account->user->fds;
	case DMAB_QUOTA_ATTACHMENTS:
	case DMAB_QUOTA_TOKENS:
		return NULL;
	}
	abort();
}

bool dmab_account_charge_n(struct dmab_account *account, enum dmab_quota_kind kind, uint32_t n,
	struct dmab_failure *fail)
{
	uint32_t max, user_max = 0;
	uint32_t *count = quota_count(account, kind, &max);
	uint32_t *user = user_count(account, kind, &user_max);
	const char *name = quota_name(kind);
	if (n > max || *count > max - n) {
		dmab_failure_set(fail, DMAB_REASON_QUOTA_EXCEEDED,
			"%s quota exceeded: %" PRIu32 " of %" PRIu32 " %ss in use",
			name, *count, max, name);
		return false;
	}
	if (user != NULL && (n > user_max || *user > user_max - n)) {
		dmab_failure_set(fail, DMAB_REASON_QUOTA_EXCEEDED,
			"uid %u %s quota exceeded: %" PRIu32 " of %" PRIu32 " %ss in use by its "
			"%" PRIu32 " connection%s", (unsigned)account->uid, name, *user, user_max,
			name, account->user->connections, plural(account->user->connections));
		return false;
	}
	*count += n;
	if (user != NULL) {
		*user += n;
	}
	return true;
}

void dmab_account_uncharge_n(struct dmab_account *account, enum dmab_quota_kind kind, uint32_t n)
{
	uint32_t max;
	uint32_t *count = quota_count(account, kind, &max);
	uint32_t *user = user_count(account, kind, &max);
	*count -= n;
	if (user != NULL) {
		*user -= n;
	}
}

bool dmab_account_charge(struct dmab_account *account, enum dmab_quota_kind kind,
	struct dmab_failure *fail)
{
	return dmab_account_charge_n(account, kind, 1, fail);
}

void dmab_account_uncharge(struct dmab_account *account, enum dmab_quota_kind kind)
{
	dmab_account_uncharge_n(account, kind, 1);
}

bool dmab_account_recharge_bytes(struct dmab_account *account, uint64_t old, uint64_t new,
	struct dmab_failure *fail)
{
	struct dmab_user *user = account->user;
	uint64_t others = account->bytes - old;
	uint64_t user_others = user->bytes - old;
	uint64_t max = account->max_bytes;
	uint64_t user_max = account->core->limits.max_uid_bytes;
	if (new > old && (new > max || others > max - new)) {
		dmab_failure_set(fail, DMAB_REASON_QUOTA_EXCEEDED,
			"byte quota exceeded: %" PRIu64 " bytes in use, %" PRIu64
			" more requested, %" PRIu64 " allowed", account->bytes, new - old, max);
		return false;
	}
	if (new > old && (new > user_max || user_others > user_max - new)) {
		dmab_failure_set(fail, DMAB_REASON_QUOTA_EXCEEDED,
			"uid %u byte quota exceeded: %" PRIu64 " bytes in use by its %" PRIu32
			" connection%s, %" PRIu64 " more requested, %" PRIu64 " allowed",
			(unsigned)account->uid, user->bytes, user->connections,
			plural(user->connections), new - old, user_max);
		return false;
	}
	account->bytes = others + new;
	user->bytes = user_others + new;
	return true;
}

bool dmab_account_charge_fds(struct dmab_account *account, uint32_t n, struct dmab_failure *fail)
{
	if (!dmab_account_charge_n(account, DMAB_QUOTA_FDS, n, fail)) {
		return false;
	}
	dmab_account_ref(account);
	return true;
}

void dmab_account_uncharge_fds(struct dmab_account *account, uint32_t n)
{
	dmab_account_uncharge_n(account, DMAB_QUOTA_FDS, n);
	dmab_account_unref(account);
}

void dmab_core_get_uid_usage(const struct dmab_core *core, uid_t uid,
	struct dmab_uid_usage *usage)
{
	const struct dmab_user *user = user_find(core, uid);
	*usage = (struct dmab_uid_usage){ .uid = uid };
	if (user != NULL) {
		usage->bytes = user->bytes;
		usage->buffers = user->buffers;
		usage->connections = user->connections;
		usage->fds = user->fds;
	}
}

void dmab_core_for_each_uid(const struct dmab_core *core, dmab_uid_visit_func func, void *data)
{
	const struct dmab_user *user;
	dmab_list_for_each(user, &core->users, link) {
		struct dmab_uid_usage usage;
		dmab_core_get_uid_usage(core, user->uid, &usage);
		func(&usage, data);
	}
}
