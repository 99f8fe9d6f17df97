/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"

struct collated {
	uint32_t row_alignment; /* at least 1 */
	bool contiguous;
};

bool dmab_constraints_check(uint32_t access, const struct dmab_constraints *constraints,
	struct dmab_misuse_report *report)
{
	if (access != DMAB_ACCESS_READ && access != DMAB_ACCESS_READ_WRITE) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_ACCESS,
			"access %" PRIu32 " is neither read (1) nor read_write (3)", access);
	}
	uint32_t flags = constraints->flags;
	if (flags & ~(uint32_t)DMAB_CONSTRAINT_ALL) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_CONSTRAINTS,
			"constraint flags 0x%" PRIx32 " have unknown bits 0x%" PRIx32, flags,
			flags & ~(uint32_t)DMAB_CONSTRAINT_ALL);
	}
	uint32_t align = constraints->row_alignment;
	if ((align & (align - 1)) != 0 || align > 4096) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_CONSTRAINTS,
			"row_alignment %" PRIu32 " is not 0 or a power of two up to 4096", align);
	}
	if (constraints->max_planes == 0) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_CONSTRAINTS,
			"max_planes is 0");
	}
	return true;
}

static void collate(const struct dmab_buffer *buffer, struct collated *out)
{
	*out = (struct collated){ .row_alignment = 1 };
	const struct dmab_attachment *att;
	dmab_list_for_each(att, &buffer->attachments, link) {
		if (att->defunct)
			continue;
		if (att->constraints.row_alignment > out->row_alignment)
			out->row_alignment = att->constraints.row_alignment;
		out->contiguous |= att->constraints.flags & DMAB_CONSTRAINT_CONTIGUOUS;
	}
}

/* Rows are aligned to 64 bytes at least: a preference of the broker's, not a constraint. */
static bool plan(const struct dmab_buffer *buffer, const struct collated *c,
	struct dmab_layout *layout, struct dmab_misuse_report *report)
{
	*layout = buffer->layout;
	return dmab_layout_plan(layout, c->row_alignment > 64 ? c->row_alignment : 64, report);
}

static bool meets(const struct dmab_buffer *buffer, const struct collated *c)
{
	const struct dmab_bo *bo = buffer->bo;
	if (bo == NULL || buffer->layout.stride % c->row_alignment != 0)
		return false;
	return !c->contiguous || (bo->allocator != NULL && bo->allocator->caps.contiguous);
}

static struct dmab_allocator *choose_allocator(struct dmab_buffer *buffer,
	const struct collated *c, struct dmab_failure *fail)
{
	struct dmab_allocator_set *set = &buffer->core->allocators;
	struct dmab_allocator *alloc = dmab_alloc_set_choose(set, c->contiguous);
	if (alloc == NULL || (c->contiguous && !alloc->caps.contiguous)) {
		dmab_failure_set(fail, DMAB_REASON_UNSATISFIABLE,
			"no allocator provides %sstorage (allocators: %s)",
			c->contiguous ? "contiguous " : "", dmab_alloc_set_name(set));
		return NULL;
	}
	return alloc;
}

static bool satisfiable(struct dmab_buffer *buffer, struct dmab_failure *fail)
{
	struct collated c;
	collate(buffer, &c);
	if (buffer->imported) {
		if (c.contiguous) {
			dmab_failure_set(fail, DMAB_REASON_UNSATISFIABLE,
				"imported storage is not known to be contiguous");
			return false;
		}
		if (buffer->layout.stride % c.row_alignment != 0) {
			dmab_failure_set(fail, DMAB_REASON_UNSATISFIABLE,
				"imported stride %" PRIu32 " is not a multiple of row_alignment %" PRIu32,
				buffer->layout.stride, c.row_alignment);
			return false;
		}
		return true;
	}
	struct dmab_layout layout;
	struct dmab_misuse_report report;
	if (!plan(buffer, &c, &layout, &report)) {
		dmab_failure_set(fail, DMAB_REASON_UNSATISFIABLE, "%s", report.message);
		return false;
	}
	return choose_allocator(buffer, &c, fail) != NULL;
}

void dmab_buffer_replan(struct dmab_buffer *buffer)
{
	if (buffer->bo != NULL || buffer->imported)
		return;
	struct collated c;
	collate(buffer, &c);
	struct dmab_layout layout;
	if (!plan(buffer, &c, &layout, NULL))
		return;
	if (layout.stride == buffer->layout.stride && layout.size == buffer->layout.size)
		return;
	buffer->layout = layout;
	dmab_buffer_layout_changed(buffer);
}

/* --- callbacks: each is the last thing a step does with the attachment --- */

static void emit_failed(struct dmab_attachment *att, const struct dmab_failure *fail)
{
	if (att->listener.failed != NULL)
		att->listener.failed(att, fail, att->data);
}

static void release_fence(struct dmab_fence *fence)
{
	if (fence == NULL)
		return;
	dmab_fence_signal(fence);
	dmab_fence_unref(fence);
}

static void drain_done(struct dmab_fence *acquire, struct dmab_fence_cb *cb)
{
	struct dmab_buffer *buffer = dmab_container_of(cb, struct dmab_buffer, acquire_cb);
	struct dmab_fence *fence = buffer->write_fence;
	buffer->write_fence = NULL;
	buffer->acquire = NULL;
	dmab_fence_unref(acquire);
	release_fence(fence);
	dmab_buffer_process(buffer);
	dmab_buffer_unref(buffer);
}

/*
 * The device may still be writing after the CPU bracket ended: the write fence
 * stays held, and the storage alive, until the acquire fence signals.
 */
static void start_drain(struct dmab_buffer *buffer, struct dmab_fence *acquire)
{
	buffer->acquire = acquire;
	dmab_buffer_ref(buffer);
	dmab_fence_add_callback(acquire, &buffer->acquire_cb, drain_done);
}

void dmab_buffer_cancel_drain(struct dmab_buffer *buffer)
{
	if (buffer->acquire == NULL)
		return;
	dmab_fence_remove_callback(buffer->acquire, &buffer->acquire_cb);
	dmab_fence_unref(buffer->acquire);
	buffer->acquire = NULL;
	release_fence(buffer->write_fence);
	buffer->write_fence = NULL;
}

/*
 * Ends a held bracket or cancels a wait; returns the fence to signal, NULL if
 * there is none or if it waits for the bracket's acquire fence.
 */
static struct dmab_fence *end_bracket(struct dmab_attachment *att)
{
	struct dmab_buffer *buffer = att->buffer;
	struct dmab_fence *fence = NULL;
	struct dmab_fence *acquire = att->acquire;
	att->acquire = NULL;
	if (att->access_held) {
		if (att->cpu_started)
			dmab_bo_sync(buffer->bo, false, att->access_dir);
		fence = att->fence;
		att->fence = NULL;
		if (!(att->access_dir & DMAB_DIR_WRITE)) {
			buffer->readers--;
		} else if (acquire != NULL && !dmab_fence_is_signaled(acquire)) {
			start_drain(buffer, acquire);
			acquire = NULL;
			fence = NULL;
		} else {
			buffer->write_fence = NULL;
		}
	}
	dmab_fence_unref(acquire);
	dmab_list_remove(&att->wait_link);
	att->access_dir = 0;
	att->access_held = false;
	att->cpu_started = false;
	return fence;
}

static void end_mapping(struct dmab_attachment *att)
{
	if (att->map_state == MAP_DONE)
		att->buffer->mappings--;
	att->map_state = MAP_NONE;
	att->moved_sent = false;
}

static void fail_attachment(struct dmab_attachment *att, const struct dmab_failure *fail)
{
	struct dmab_fence *fence = end_bracket(att);
	end_mapping(att);
	att->defunct = true;
	dmab_buffer_replan(att->buffer);
	emit_failed(att, fail);
	release_fence(fence);
}

/* --- storage --- */

static bool allocate_storage(struct dmab_buffer *buffer, struct dmab_allocator *alloc,
	struct dmab_layout *layout, struct dmab_bo **out, struct dmab_failure *fail)
{
	struct dmab_account *owner = buffer->owner;
	uint64_t old = buffer->charged;
	if (!dmab_account_recharge_bytes(owner, old, layout->size, fail))
		return false;
	const char *name = buffer->name[0] != '\0' ? buffer->name : "dmabroker";
	struct dmab_bo *bo;
	int ret = dmab_alloc_allocate(alloc, layout->size, name, &bo);
	if (ret < 0) {
		dmab_account_recharge_bytes(owner, layout->size, old, NULL);
		dmab_failure_set(fail, DMAB_REASON_ALLOC_FAILED,
			"allocating %" PRIu64 " bytes from %s failed: %s", layout->size,
			alloc->impl->name, strerror(-ret));
		return false;
	}
	if (!dmab_account_recharge_bytes(owner, layout->size, bo->size, fail)) {
		dmab_bo_destroy(bo);
		dmab_account_recharge_bytes(owner, layout->size, old, NULL);
		return false;
	}
	buffer->charged = bo->size;
	layout->size = bo->size;
	*out = bo;
	return true;
}

static bool plan_storage(struct dmab_buffer *buffer, const struct collated *c,
	struct dmab_layout *layout, struct dmab_bo **bo, struct dmab_failure *fail)
{
	struct dmab_misuse_report report;
	if (!plan(buffer, c, layout, &report)) {
		dmab_failure_set(fail, DMAB_REASON_UNSATISFIABLE, "%s", report.message);
		return false;
	}
	struct dmab_allocator *alloc = choose_allocator(buffer, c, fail);
	return alloc != NULL && allocate_storage(buffer, alloc, layout, bo, fail);
}

static void set_storage(struct dmab_buffer *buffer, struct dmab_bo *bo,
	const struct dmab_layout *layout)
{
	dmab_buffer_release_storage(buffer);
	buffer->bo = bo;
	const struct dmab_layout *old = &buffer->layout;
	if (layout->stride != old->stride || layout->offset != old->offset ||
			layout->size != old->size) {
		buffer->layout = *layout;
		dmab_buffer_layout_changed(buffer);
	}
}

static bool allocate(struct dmab_buffer *buffer, const struct collated *c,
	struct dmab_failure *fail)
{
	struct dmab_layout layout;
	struct dmab_bo *bo;
	if (!plan_storage(buffer, c, &layout, &bo, fail))
		return false;
	set_storage(buffer, bo, &layout);
	return true;
}

static int copy_rows(struct dmab_bo *from, const struct dmab_layout *from_layout,
	struct dmab_bo *to, const struct dmab_layout *to_layout)
{
	const char *src = dmab_bo_mmap(from, false);
	if (src == NULL)
		return -errno;
	char *dst = dmab_bo_mmap(to, true);
	if (dst == NULL) {
		int ret = -errno;
		dmab_bo_munmap(from, (void *)src);
		return ret;
	}
	int ret = dmab_bo_sync(from, true, DMAB_CPU_READ);
	if (ret == 0)
		ret = dmab_bo_sync(to, true, DMAB_CPU_WRITE);
	if (ret == 0) {
		size_t row = (size_t)from_layout->width * dmab_format_bpp(from_layout->format);
		for (uint32_t y = 0; y < from_layout->height; y++) {
			memcpy(dst + to_layout->offset + (size_t)y * to_layout->stride,
				src + from_layout->offset + (size_t)y * from_layout->stride, row);
		}
		dmab_bo_sync(to, false, DMAB_CPU_WRITE);
		dmab_bo_sync(from, false, DMAB_CPU_READ);
	}
	dmab_bo_munmap(to, dst);
	dmab_bo_munmap(from, (void *)src);
	return ret;
}

/* Only once nothing maps the old storage: no copy races a writer. */
static bool migrate(struct dmab_buffer *buffer, const struct collated *c,
	struct dmab_failure *fail)
{
	if (buffer->imported) {
		dmab_failure_set(fail, DMAB_REASON_UNSATISFIABLE, "imported storage cannot move");
		return false;
	}
	uint64_t old_charge = buffer->charged;
	struct dmab_layout layout;
	struct dmab_bo *bo;
	if (!plan_storage(buffer, c, &layout, &bo, fail))
		return false;
	int ret = copy_rows(buffer->bo, &buffer->layout, bo, &layout);
	if (ret < 0) {
		dmab_bo_destroy(bo);
		dmab_account_recharge_bytes(buffer->owner, buffer->charged, old_charge, NULL);
		buffer->charged = old_charge;
		dmab_failure_set(fail, DMAB_REASON_ALLOC_FAILED, "copying to new storage failed: %s",
			strerror(-ret));
		return false;
	}
	set_storage(buffer, bo, &layout);
	return true;
}

/* --- the steps of dmab_buffer_process --- */

static struct dmab_attachment *find_attachment(struct dmab_buffer *buffer,
	enum map_state state, bool moved_sent)
{
	struct dmab_attachment *att;
	dmab_list_for_each(att, &buffer->attachments, link) {
		if (att->map_state == state && att->moved_sent == moved_sent)
			return att;
	}
	return NULL;
}

static bool tell_moved(struct dmab_buffer *buffer)
{
	if (buffer->mappings == 0)
		return false;
	struct collated c;
	collate(buffer, &c);
	if (meets(buffer, &c))
		return false;
	struct dmab_attachment *att = find_attachment(buffer, MAP_DONE, false);
	if (att == NULL)
		return false;
	att->moved_sent = true;
	if (att->listener.moved != NULL)
		att->listener.moved(att, att->data);
	return true;
}

static void answer_map(struct dmab_attachment *att)
{
	struct dmab_buffer *buffer = att->buffer;
	struct dmab_bo *bo = buffer->bo;
	bool writable = att->map_dir & DMAB_DIR_WRITE;
	struct dmab_mapping mapping = {
		.fd = -1,
		.offset = buffer->layout.offset,
		.size = buffer->layout.stride * buffer->layout.height,
		.stride = buffer->layout.stride,
		.flags = bo->is_dmabuf ? DMAB_MAP_DMABUF : 0,
	};
	struct dmab_failure fail;
	if (att->account == NULL) {
		const char *data = dmab_buffer_get_data(buffer);
		if (data == NULL) {
			dmab_failure_set(&fail, DMAB_REASON_ALLOC_FAILED,
				"mapping the storage failed: %s", strerror(errno));
			fail_attachment(att, &fail);
			return;
		}
		mapping.data = data + mapping.offset;
		mapping.flags |= DMAB_MAP_READ_ONLY;
	} else {
		mapping.fd = dmab_bo_export_fd(bo, writable);
		if (mapping.fd < 0) {
			dmab_failure_set(&fail, DMAB_REASON_ALLOC_FAILED,
				"exporting the storage failed: %s", strerror(-mapping.fd));
			fail_attachment(att, &fail);
			return;
		}
		if (!writable && bo->readonly_fd)
			mapping.flags |= DMAB_MAP_READ_ONLY;
	}
	att->map_state = MAP_DONE;
	buffer->mappings++;
	if (att->listener.mapped != NULL)
		att->listener.mapped(att, &mapping, att->data);
	else if (mapping.fd >= 0)
		close(mapping.fd);
}

/*
 * Maps wait while the storage is missing or must move: the first pending map
 * allocates, and a migration runs once no mapping of the old storage is left.
 */
static bool serve_map(struct dmab_buffer *buffer)
{
	struct dmab_attachment *att = find_attachment(buffer, MAP_PENDING, false);
	if (att == NULL)
		return false;
	struct collated c;
	collate(buffer, &c);
	struct dmab_failure fail;
	if (buffer->bo == NULL) {
		if (!allocate(buffer, &c, &fail))
			fail_attachment(att, &fail);
		return true;
	}
	if (!meets(buffer, &c)) {
		/* Copy once nothing maps the old storage and no device writes it. */
		if (buffer->mappings > 0 || buffer->acquire != NULL)
			return false;
		if (!migrate(buffer, &c, &fail))
			fail_attachment(att, &fail);
		return true;
	}
	answer_map(att);
	return true;
}

static bool grantable(const struct dmab_buffer *buffer, uint32_t dir)
{
	if (dir & DMAB_DIR_WRITE)
		return buffer->write_fence == NULL && buffer->readers == 0;
	return buffer->write_fence == NULL;
}

/* FIFO: the first waiter that cannot be granted holds back every later one. */
static bool grant_access(struct dmab_buffer *buffer)
{
	if (dmab_list_empty(&buffer->waiters))
		return false;
	struct dmab_attachment *att =
		dmab_container_of(buffer->waiters.next, struct dmab_attachment, wait_link);
	if (!grantable(buffer, att->access_dir))
		return false;
	dmab_list_remove(&att->wait_link);
	struct dmab_fence *fence = dmab_fence_create();
	if (fence == NULL) {
		struct dmab_failure fail;
		dmab_failure_set(&fail, DMAB_REASON_ALLOC_FAILED, "out of memory");
		fail_attachment(att, &fail);
		return true;
	}
	att->fence = fence;
	att->access_held = true;
	if (att->access_dir & DMAB_DIR_WRITE)
		buffer->write_fence = fence;
	else
		buffer->readers++;
	if (att->listener.ready != NULL)
		att->listener.ready(att, att->data);
	return true;
}

void dmab_buffer_process(struct dmab_buffer *buffer)
{
	if (buffer->processing)
		return;
	buffer->processing = true;
	dmab_buffer_ref(buffer);
	while (tell_moved(buffer) || dmab_buffer_notify_layout(buffer) || serve_map(buffer) ||
			grant_access(buffer))
		continue;
	buffer->processing = false;
	dmab_buffer_unref(buffer);
}

/* --- the attachment API --- */

struct dmab_attachment *dmab_attachment_create(struct dmab_buffer *buffer,
	struct dmab_account *account, enum dmab_access access,
	const struct dmab_constraints *constraints,
	const struct dmab_attachment_listener *listener, void *data)
{
	struct dmab_attachment *att = calloc(1, sizeof(*att));
	if (att == NULL)
		return NULL;
	att->buffer = dmab_buffer_ref(buffer);
	att->access = access;
	att->constraints = *constraints;
	if (listener != NULL)
		att->listener = *listener;
	att->data = data;
	dmab_list_init(&att->wait_link);
	dmab_list_insert(buffer->attachments.prev, &att->link);
	struct dmab_failure fail;
	if (account != NULL) {
		att->account = dmab_account_ref(account);
		att->charged = dmab_account_charge(account, DMAB_QUOTA_ATTACHMENTS, &fail);
		if (!att->charged) {
			fail_attachment(att, &fail);
			return att;
		}
	}
	if (!satisfiable(buffer, &fail)) {
		fail_attachment(att, &fail);
		return att;
	}
	dmab_buffer_replan(buffer);
	dmab_buffer_process(buffer);
	return att;
}

void dmab_attachment_destroy(struct dmab_attachment *att)
{
	if (att == NULL)
		return;
	struct dmab_buffer *buffer = att->buffer;
	struct dmab_fence *fence = end_bracket(att);
	end_mapping(att);
	dmab_list_remove(&att->link);
	if (att->charged)
		dmab_account_uncharge(att->account, DMAB_QUOTA_ATTACHMENTS);
	dmab_account_unref(att->account);
	free(att);
	dmab_buffer_replan(buffer);
	release_fence(fence);
	dmab_buffer_process(buffer);
	dmab_buffer_unref(buffer);
}

void dmab_attachment_teardown(struct dmab_attachment *att)
{
	release_fence(end_bracket(att));
	dmab_list_remove(&att->link);
	free(att);
}

static bool check_dir(uint32_t dir, struct dmab_misuse_report *report)
{
	if (dir == 0 || (dir & ~(uint32_t)DMAB_DIR_ALL)) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_DIRECTION,
			"direction %" PRIu32 " is not a non-empty mask of read (1) and write (2)",
			dir);
	}
	return true;
}

bool dmab_attachment_map(struct dmab_attachment *att, uint32_t dir,
	struct dmab_misuse_report *report)
{
	if (att->defunct)
		return true;
	if (!check_dir(dir, report))
		return false;
	if ((dir & DMAB_DIR_WRITE) && att->access != DMAB_ACCESS_READ_WRITE) {
		return dmab_misuse_set(report, DMAB_MISUSE_READ_ONLY,
			"map with direction %" PRIu32 " writes through a read-only attachment", dir);
	}
	if ((dir & DMAB_DIR_WRITE) && att->account == NULL) {
		return dmab_misuse_set(report, DMAB_MISUSE_READ_ONLY,
			"the broker's own attachments map read-only");
	}
	if (att->map_state != MAP_NONE) {
		return dmab_misuse_set(report, DMAB_MISUSE_ALREADY_MAPPED,
			att->map_state == MAP_DONE ? "the attachment is already mapped" :
			"a map of the attachment is already pending");
	}
	att->map_state = MAP_PENDING;
	att->map_dir = dir;
	dmab_buffer_process(att->buffer);
	return true;
}

/* Unmapping a map that is still pending withdraws it. */
bool dmab_attachment_unmap(struct dmab_attachment *att, struct dmab_misuse_report *report)
{
	if (att->defunct)
		return true;
	if (att->map_state == MAP_NONE)
		return dmab_misuse_set(report, DMAB_MISUSE_NOT_MAPPED, "the attachment is not mapped");
	if (att->access_dir != 0) {
		return dmab_misuse_set(report, DMAB_MISUSE_ACCESS_PENDING,
			"unmap with an access bracket (direction %" PRIu32 ") %s", att->access_dir,
			att->access_held ? "open" : "waiting");
	}
	end_mapping(att);
	dmab_buffer_process(att->buffer);
	return true;
}

bool dmab_attachment_begin_access(struct dmab_attachment *att, uint32_t dir,
	struct dmab_misuse_report *report)
{
	if (att->defunct)
		return true;
	if (!check_dir(dir, report))
		return false;
	if (att->map_state != MAP_DONE) {
		return dmab_misuse_set(report, DMAB_MISUSE_NOT_MAPPED,
			att->map_state == MAP_NONE ? "begin_access without a map" :
			"begin_access while the map is still pending");
	}
	if (att->access_dir != 0) {
		return dmab_misuse_set(report, DMAB_MISUSE_NESTED_ACCESS,
			"begin_access inside a bracket (direction %" PRIu32 ") %s", att->access_dir,
			att->access_held ? "already open" : "still waiting");
	}
	if (dir & ~att->map_dir) {
		return dmab_misuse_set(report, DMAB_MISUSE_DIRECTION_MISMATCH,
			"begin_access direction %" PRIu32 " exceeds the map's direction %" PRIu32,
			dir, att->map_dir);
	}
	att->access_dir = dir;
	dmab_list_insert(att->buffer->waiters.prev, &att->wait_link);
	dmab_buffer_process(att->buffer);
	return true;
}

/* Ending a bracket that is still waiting cancels the wait. */
bool dmab_attachment_end_access(struct dmab_attachment *att, uint32_t dir,
	struct dmab_misuse_report *report)
{
	if (att->defunct)
		return true;
	if (!check_dir(dir, report))
		return false;
	if (att->access_dir == 0) {
		return dmab_misuse_set(report, DMAB_MISUSE_NOT_IN_ACCESS,
			"end_access without begin_access");
	}
	if (dir != att->access_dir) {
		return dmab_misuse_set(report, DMAB_MISUSE_DIRECTION_MISMATCH,
			"end_access direction %" PRIu32 " differs from begin_access direction %" PRIu32,
			dir, att->access_dir);
	}
	struct dmab_buffer *buffer = dmab_buffer_ref(att->buffer);
	release_fence(end_bracket(att));
	dmab_buffer_process(buffer);
	dmab_buffer_unref(buffer);
	return true;
}

bool dmab_attachment_is_defunct(const struct dmab_attachment *att)
{
	return att->defunct;
}

struct dmab_buffer *dmab_attachment_get_buffer(struct dmab_attachment *att)
{
	return att->buffer;
}

bool dmab_attachment_set_acquire_fence(struct dmab_attachment *att, struct dmab_fence *fence,
	struct dmab_misuse_report *report)
{
	if (att->defunct)
		return true;
	if (!att->access_held || !(att->access_dir & DMAB_DIR_WRITE)) {
		return dmab_misuse_set(report, DMAB_MISUSE_NOT_IN_ACCESS,
			"set_acquire_fence without an open WRITE bracket (%s)",
			att->access_dir == 0 ? "no bracket" :
			!att->access_held ? "the bracket still waits for ready" :
			"the bracket only reads");
	}
	if (att->acquire != NULL) {
		return dmab_misuse_set(report, DMAB_MISUSE_DUPLICATE_FENCE,
			"the WRITE bracket already has an acquire fence");
	}
	att->acquire = dmab_fence_ref(fence);
	return true;
}

/* Coherency only: a reader whose sync fails can do no better than read anyway. */
int dmab_attachment_start_cpu_access(struct dmab_attachment *att)
{
	if (!att->access_held || att->cpu_started)
		return -EINVAL;
	int ret = dmab_bo_sync(att->buffer->bo, true, att->access_dir);
	att->cpu_started = ret == 0;
	return ret;
}
