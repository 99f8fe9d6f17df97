/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

static void fill_limits(struct dmab_limits *limits, const struct dmab_limits *requested)
{
	*limits = (struct dmab_limits){
		.max_width = DMAB_CORE_DEFAULT_MAX_DIMENSION,
		.max_height = DMAB_CORE_DEFAULT_MAX_DIMENSION,
		.max_bytes = DMAB_CORE_DEFAULT_MAX_BYTES,
		.max_buffers = DMAB_CORE_DEFAULT_MAX_BUFFERS,
		.max_attachments = DMAB_CORE_DEFAULT_MAX_ATTACHMENTS,
		.max_tokens = DMAB_CORE_DEFAULT_MAX_TOKENS,
	};
	if (requested == NULL)
		return;
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
	fill_limits(&core->limits, options != NULL ? &options->limits : NULL);
	dmab_list_init(&core->buffers);
	dmab_list_init(&core->accounts);
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
	dmab_alloc_set_finish(&core->allocators);
	free(core);
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
			.mapped = att->map_state == MAP_DONE,
			.in_access = att->access_held ? att->access_dir : 0,
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
