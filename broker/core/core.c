/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"

static void take_requested(struct dmab_limits *limits, const struct dmab_limits *requested)
{
	if (requested->max_width != 0)
		limits->max_width = requested->max_width;
	if (requested->max_height != 0)
		limits->max_height = requested->max_height;
	if (requested->max_bytes != 0)
		limits->max_bytes = requested->max_bytes;
	if (requested->max_buffers != 0)
		limits->max_buffers = requested->max_buffers;
	if (requested->max_attachments != 0)
		limits->max_attachments = requested->max_attachments;
	if (requested->max_tokens != 0)
		limits->max_tokens = requested->max_tokens;
	if (requested->max_uid_bytes != 0) {
		limits->max_uid_bytes = requested->max_uid_bytes;
	}
	if (requested->max_uid_buffers != 0) {
		limits->max_uid_buffers = requested->max_uid_buffers;
	}
	if (requested->max_uid_connections != 0) {
		limits->max_uid_connections = requested->max_uid_connections;
	}
	if (requested->max_uid_fds != 0) {
		limits->max_uid_fds = requested->max_uid_fds;
	}
}

static void fill_limits(struct dmab_limits *limits, const struct dmab_limits *requested)
{
	*limits = (struct dmab_limits){
		.max_width = DMAB_CORE_DEFAULT_MAX_DIMENSION,
		.max_height = DMAB_CORE_DEFAULT_MAX_DIMENSION,
		.max_bytes = DMAB_CORE_DEFAULT_MAX_BYTES,
		.max_buffers = DMAB_CORE_DEFAULT_MAX_BUFFERS,
		.max_attachments = DMAB_CORE_DEFAULT_MAX_ATTACHMENTS,
		.max_tokens = DMAB_CORE_DEFAULT_MAX_TOKENS,
		.max_uid_bytes = DMAB_CORE_DEFAULT_MAX_UID_BYTES,
		.max_uid_buffers = DMAB_CORE_DEFAULT_MAX_UID_BUFFERS,
		.max_uid_connections = DMAB_CORE_DEFAULT_MAX_UID_CONNECTIONS,
		.max_uid_fds = DMAB_CORE_DEFAULT_MAX_UID_FDS,
	};
	if (requested != NULL) {
		take_requested(limits, requested);
	}
	/* A uid's default share follows the connection's quota: a few connections' worth. */
	if (requested == NULL || requested->max_uid_bytes == 0) {
		limits->max_uid_bytes =
			limits->max_bytes > UINT64_MAX / DMAB_CORE_UID_BYTES_FACTOR ?
			UINT64_MAX : limits->max_bytes * DMAB_CORE_UID_BYTES_FACTOR;
	}
	if (requested == NULL || requested->max_uid_buffers == 0) {
		limits->max_uid_buffers =
			limits->max_buffers > UINT32_MAX / DMAB_CORE_UID_BUFFERS_FACTOR ?
			UINT32_MAX : limits->max_buffers * DMAB_CORE_UID_BUFFERS_FACTOR;
	}
}

struct dmab_core *dmab_core_create(const struct dmab_core_options *options, char *err,
	size_t err_len)
{
	struct dmab_core *core = calloc(1, sizeof(*core));
	if (core == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	const char *choice = options != NULL && options->allocator != NULL ?
		options->allocator : "auto";
	if (dmab_alloc_set_init(&core->allocators, choice, err, err_len) < 0) {
		free(core);
		return NULL;
	}
	int ret = dmab_token_table_init(&core->tokens);
	if (ret < 0) {
		snprintf(err, err_len, "cannot make the token table: %s", strerror(-ret));
		dmab_alloc_set_finish(&core->allocators);
		free(core);
		return NULL;
	}
	fill_limits(&core->limits, options != NULL ? &options->limits : NULL);
	core->max_hold_ms = DMAB_CORE_DEFAULT_MAX_HOLD_MS;
	if (options != NULL) {
		core->hooks = options->hooks;
		if (options->max_hold_ms != 0) {
			core->max_hold_ms = options->max_hold_ms;
		}
	}
	dmab_list_init(&core->buffers);
	dmab_list_init(&core->accounts);
	dmab_list_init(&core->users);
	core->next_buffer_id = 1;
	return core;
}

/*
 * The server destroys its resources first, so whatever is left here is only
 * freed: no callback runs, but held fences are signaled so that nobody polls
 * them forever.
 */
void dmab_core_destroy(struct dmab_core *core)
{
	if (core == NULL)
		return;
	struct dmab_buffer *buffer, *buffer_tmp;
	dmab_list_for_each_safe(buffer, buffer_tmp, &core->buffers, link)
		dmab_buffer_teardown(buffer);
	struct dmab_account *account, *account_tmp;
	dmab_list_for_each_safe(account, account_tmp, &core->accounts, link)
		dmab_account_free(account);
	dmab_token_table_finish(&core->tokens);
	dmab_alloc_set_finish(&core->allocators);
	free(core);
}

uint64_t dmab_core_now_ms(struct dmab_core *core)
{
	if (core->hooks.now_ms != NULL) {
		return core->hooks.now_ms(core->hooks.data);
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void dmab_core_arm(struct dmab_core *core, uint64_t deadline)
{
	if (core->timer_deadline != 0 && core->timer_deadline <= deadline) {
		return;
	}
	core->timer_deadline = deadline;
	if (core->hooks.arm_timer != NULL) {
		core->hooks.arm_timer(core->hooks.data, deadline);
	}
}

void dmab_core_handle_timer(struct dmab_core *core)
{
	uint64_t now = dmab_core_now_ms(core);
	uint64_t next;
	core->timer_deadline = 0;
again:
	next = 0;
	struct dmab_buffer *buffer;
	dmab_list_for_each(buffer, &core->buffers, link) {
		bool preempted = false;
		uint64_t deadline = dmab_buffer_expire_waits(buffer, now, &preempted);
		if (preempted) {
			/* Its callbacks may have freed other buffers: start over. */
			goto again;
		}
		if (deadline != 0 && (next == 0 || deadline < next)) {
			next = deadline;
		}
	}
	if (next != 0) {
		dmab_core_arm(core, next);
	} else if (core->hooks.arm_timer != NULL) {
		core->hooks.arm_timer(core->hooks.data, 0);
	}
}

void dmab_core_get_limits(const struct dmab_core *core, struct dmab_limits *limits)
{
	*limits = core->limits;
}

struct dmab_allocator_set *dmab_core_get_allocators(struct dmab_core *core)
{
	return &core->allocators;
}

void dmab_failure_set(struct dmab_failure *fail, enum dmab_reason reason, const char *fmt, ...)
{
	if (fail == NULL)
		return;
	fail->reason = reason;
	va_list args;
	va_start(args, fmt);
	vsnprintf(fail->message, sizeof(fail->message), fmt, args);
	va_end(args);
}

/* Returns false, for "return dmab_misuse_set(...)" in checks. */
bool dmab_misuse_set(struct dmab_misuse_report *report, enum dmab_misuse misuse,
	const char *fmt, ...)
{
	if (report == NULL)
		return false;
	report->misuse = misuse;
	va_list args;
	va_start(args, fmt);
	vsnprintf(report->message, sizeof(report->message), fmt, args);
	va_end(args);
	return false;
}

static void visit_buffer(struct dmab_buffer *buffer, dmab_buffer_visit_func buffer_func,
	dmab_attachment_visit_func attachment_func, void *data)
{
	if (buffer_func != NULL) {
		struct dmab_buffer_stats stats = {
			.id = buffer->id,
			.name = buffer->name,
			.owner_pid = buffer->owner->pid,
			.payer_pid = buffer->charge.payer != NULL ? buffer->charge.payer->pid : 0,
			.usage = buffer->usage,
			.layout = buffer->layout,
			.allocator = "",
			.refs = (uint32_t)buffer->refs,
			.write_fence_pending = buffer->write_fence != NULL,
			.read_fences_pending = buffer->readers,
		};
		if (buffer->bo != NULL) {
			stats.allocator = buffer->bo->allocator != NULL ?
				buffer->bo->allocator->impl->name : "imported";
		}
		buffer_func(&stats, data);
	}
	if (attachment_func == NULL)
		return;
	struct dmab_attachment *att;
	dmab_list_for_each(att, &buffer->attachments, link) {
		struct dmab_attachment_stats stats = {
			.buffer_id = buffer->id,
			.pid = att->account != NULL ? att->account->pid : 0,
			.access = att->access,
			.state = dmab_attachment_stats_state(att),
			.in_access = att->state == ATT_HELD ? att->dir : 0,
			.waiting = att->state == ATT_WAITING ? att->dir : 0,
		};
		attachment_func(&stats, data);
	}
}

void dmab_core_for_each_buffer(struct dmab_core *core, dmab_buffer_visit_func buffer_func,
	dmab_attachment_visit_func attachment_func, void *data)
{
	struct dmab_buffer *buffer;
	dmab_list_for_each(buffer, &core->buffers, link)
		visit_buffer(buffer, buffer_func, attachment_func, data);
}
