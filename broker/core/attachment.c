/* SPDX-License-Identifier: MIT */
/*
 * Attachments: their maps and access brackets, and the buffer's work loop
 * that answers them.
 *
 * An attachment's state (enum att_state) changes only in att_enter, which
 * keeps the buffer's counts of mappings and readers and its write fence in
 * step. A buffer's storage state changes only in storage_step and in
 * admission (storage.c). dmab_buffer_process runs the work those states leave
 * owed, one callback at a time, in the order a client needs to see it: moved
 * events, layout changes, maps, then grants.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"

static const bool transitions[][ATT_DEFUNCT + 1] = {
	[ATT_UNMAPPED] = { [ATT_MAP_PENDING] = true, [ATT_DEFUNCT] = true },
	[ATT_MAP_PENDING] = { [ATT_UNMAPPED] = true, [ATT_MAPPED] = true, [ATT_DEFUNCT] = true },
	[ATT_MAPPED] = { [ATT_UNMAPPED] = true, [ATT_WAITING] = true, [ATT_DEFUNCT] = true },
	[ATT_WAITING] = { [ATT_MAPPED] = true, [ATT_HELD] = true, [ATT_DEFUNCT] = true },
	[ATT_HELD] = { [ATT_MAPPED] = true, [ATT_DEFUNCT] = true },
	[ATT_DEFUNCT] = { 0 },
};

static bool is_mapped(enum att_state state)
{
	return state == ATT_MAPPED || state == ATT_WAITING || state == ATT_HELD;
}

static bool in_bracket(enum att_state state)
{
	return state == ATT_WAITING || state == ATT_HELD;
}

static void release_fence(struct dmab_fence *fence)
{
	if (fence == NULL) {
		return;
	}
	dmab_fence_signal(fence);
	dmab_fence_unref(fence);
}

/* --- the drain of a WRITE bracket whose device work outlives it --- */

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

static void start_drain(struct dmab_buffer *buffer, struct dmab_fence *acquire, bool foreign)
{
	buffer->acquire = acquire;
	buffer->acquire_foreign = foreign;
	dmab_buffer_ref(buffer);
	dmab_fence_add_callback(acquire, &buffer->acquire_cb, drain_done);
}

void dmab_buffer_cancel_drain(struct dmab_buffer *buffer)
{
	if (buffer->acquire == NULL) {
		return;
	}
	dmab_fence_remove_callback(buffer->acquire, &buffer->acquire_cb);
	dmab_fence_unref(buffer->acquire);
	buffer->acquire = NULL;
	release_fence(buffer->write_fence);
	buffer->write_fence = NULL;
}

/* The fence of a held bracket that ends: the caller signals it, or the drain does. */
static struct dmab_fence *leave_held(struct dmab_attachment *att)
{
	struct dmab_buffer *buffer = att->buffer;
	struct dmab_fence *fence = att->fence;
	struct dmab_fence *acquire = att->acquire;
	att->fence = NULL;
	att->acquire = NULL;
	if (att->cpu_started) {
		dmab_bo_sync(buffer->bo, false, att->dir);
		att->cpu_started = false;
	}
	if (!(att->dir & DMAB_DIR_WRITE)) {
		buffer->readers--;
	} else if (acquire != NULL && !dmab_fence_is_signaled(acquire)) {
		start_drain(buffer, acquire, att->grant != NULL);
		return NULL;
	} else {
		buffer->write_fence = NULL;
	}
	dmab_fence_unref(acquire);
	return fence;
}

static void enter_held(struct dmab_attachment *att)
{
	struct dmab_buffer *buffer = att->buffer;
	if (att->dir & DMAB_DIR_WRITE) {
		buffer->write_fence = att->fence;
	} else {
		buffer->readers++;
	}
}

/*
 * The one place an attachment changes state. Returns the fence of a bracket
 * that ended, which the caller signals once it is done with the attachment.
 */
static struct dmab_fence *att_enter(struct dmab_attachment *att, enum att_state to)
{
	struct dmab_buffer *buffer = att->buffer;
	enum att_state from = att->state;
	struct dmab_fence *ended = NULL;
	assert(transitions[from][to]);
	if (from == ATT_WAITING) {
		dmab_list_remove(&att->wait_link);
		dmab_list_init(&att->wait_link);
	} else if (from == ATT_HELD) {
		ended = leave_held(att);
	}
	if (is_mapped(from) && !is_mapped(to)) {
		buffer->mappings--;
	} else if (!is_mapped(from) && is_mapped(to)) {
		buffer->mappings++;
	}
	if (to == ATT_WAITING) {
		dmab_list_insert(buffer->waiters.prev, &att->wait_link);
	} else if (to == ATT_HELD) {
		enter_held(att);
	}
	att->state = to;
	return ended;
}

static void emit_failed(struct dmab_attachment *att, const struct dmab_failure *fail)
{
	if (att->listener.failed != NULL) {
		att->listener.failed(att, fail, att->data);
	}
}

static void fail_attachment(struct dmab_attachment *att, const struct dmab_failure *fail)
{
	struct dmab_fence *fence = att_enter(att, ATT_DEFUNCT);
	dmab_buffer_replan(att->buffer);
	emit_failed(att, fail);
	release_fence(fence);
}

typedef bool (*att_select_func)(const struct dmab_attachment *att, const void *data);

/* Fails every live attachment that select picks; their callbacks may change the list. */
static void fail_selected(struct dmab_buffer *buffer, att_select_func select, const void *data,
	const struct dmab_failure *fail)
{
	dmab_buffer_ref(buffer);
	bool found = true;
	while (found) {
		found = false;
		struct dmab_attachment *att;
		dmab_list_for_each(att, &buffer->attachments, link) {
			if (att->state != ATT_DEFUNCT && select(att, data)) {
				fail_attachment(att, fail);
				found = true;
				break;
			}
		}
	}
	dmab_buffer_process(buffer);
	dmab_buffer_unref(buffer);
}

/* --- the steps of dmab_buffer_process --- */

static struct dmab_attachment *first_in_state(struct dmab_buffer *buffer, enum att_state state)
{
	struct dmab_attachment *att;
	dmab_list_for_each(att, &buffer->attachments, link) {
		if (att->state == state) {
			return att;
		}
	}
	return NULL;
}

static bool tell_moved(struct dmab_buffer *buffer)
{
	if (buffer->storage != STORAGE_MOVING) {
		return false;
	}
	struct dmab_attachment *att;
	dmab_list_for_each(att, &buffer->attachments, link) {
		if (is_mapped(att->state) && att->moved_serial != att->map_serial) {
			att->moved_serial = att->map_serial;
			if (att->listener.moved != NULL) {
				att->listener.moved(att, att->map_serial, att->data);
			}
			return true;
		}
	}
	return false;
}

static void answer_map(struct dmab_attachment *att)
{
	struct dmab_buffer *buffer = att->buffer;
	struct dmab_bo *bo = buffer->bo;
	bool writable = att->map_dir & DMAB_DIR_WRITE;
	struct dmab_mapping mapping = {
		.fd = -1,
		.flags = bo->is_dmabuf ? DMAB_MAP_DMABUF : 0,
		.n_planes = buffer->layout.n_planes,
	};
	memcpy(mapping.planes, buffer->layout.planes, sizeof(mapping.planes));
	struct dmab_failure fail;
	if (att->account == NULL) {
		const char *data = writable ? dmab_buffer_get_writable_data(buffer) :
			dmab_buffer_get_data(buffer);
		if (data == NULL) {
			dmab_failure_set(&fail, DMAB_REASON_ALLOC_FAILED,
				"mapping the storage failed: %s", strerror(errno));
			fail_attachment(att, &fail);
			return;
		}
		mapping.data = data;
		if (!writable) {
			mapping.flags |= DMAB_MAP_READ_ONLY;
		}
	} else {
		mapping.fd = dmab_bo_export_fd(bo, writable);
		if (mapping.fd < 0) {
			dmab_failure_set(&fail, DMAB_REASON_ALLOC_FAILED,
				"exporting the storage failed: %s", strerror(-mapping.fd));
			fail_attachment(att, &fail);
			return;
		}
		/* A udmabuf's read-only export is its memfd, for which SYNC is wrong. */
		if (!dmab_fd_is_dmabuf(mapping.fd)) {
			mapping.flags &= ~(uint32_t)DMAB_MAP_DMABUF;
		}
		if (!writable && bo->readonly_fd) {
			mapping.flags |= DMAB_MAP_READ_ONLY;
		}
	}
	att_enter(att, ATT_MAPPED);
	if (att->listener.mapped != NULL) {
		att->listener.mapped(att, att->map_serial, &mapping, att->data);
	} else if (mapping.fd >= 0) {
		close(mapping.fd);
	}
}

static void idle_done(struct dmab_fence *idle, struct dmab_fence_cb *cb)
{
	struct dmab_buffer *buffer = dmab_container_of(cb, struct dmab_buffer, idle_cb);
	buffer->idle = NULL;
	dmab_fence_unref(idle);
	dmab_buffer_process(buffer);
	dmab_buffer_unref(buffer);
}

/* The kernel may still be using the old storage: wait in the event loop, not in an ioctl. */
static void start_draining(struct dmab_buffer *buffer)
{
	const struct dmab_core_hooks *hooks = &buffer->core->hooks;
	buffer->storage = STORAGE_DRAINING;
	if (!buffer->bo->is_dmabuf || hooks->storage_idle == NULL) {
		return;
	}
	struct dmab_fence *idle = hooks->storage_idle(hooks->data, buffer);
	if (idle == NULL) {
		return;
	}
	if (!dmab_fence_add_callback(idle, &buffer->idle_cb, idle_done)) {
		dmab_fence_unref(idle);
		return;
	}
	buffer->idle = idle;
	dmab_buffer_ref(buffer);
}

static bool select_unfitting(const struct dmab_attachment *att, const void *data)
{
	return !dmab_storage_fits(att->buffer, att);
}

static bool storage_step(struct dmab_buffer *buffer)
{
	struct dmab_attachment *pending = first_in_state(buffer, ATT_MAP_PENDING);
	struct dmab_failure fail;
	switch (buffer->storage) {
	case STORAGE_PLANNED:
		if (pending == NULL) {
			return false;
		}
		if (!dmab_storage_allocate(buffer, &fail)) {
			fail_attachment(pending, &fail);
		}
		return true;
	case STORAGE_READY:
		if (pending == NULL) {
			return false;
		}
		answer_map(pending);
		return true;
	case STORAGE_MOVING:
		/* Lazy, like the first allocation: the copy waits for someone to map. */
		if (pending == NULL || buffer->mappings > 0 || buffer->acquire != NULL) {
			return false;
		}
		start_draining(buffer);
		return true;
	case STORAGE_DRAINING:
		if (buffer->idle != NULL) {
			return false;
		}
		if (!dmab_storage_move(buffer, &fail)) {
			/* The attachments that needed the move cannot be served. */
			fail_selected(buffer, select_unfitting, NULL, &fail);
		}
		return true;
	}
	return false;
}

static bool grantable(const struct dmab_buffer *buffer, uint32_t dir)
{
	if (dir & DMAB_DIR_WRITE) {
		return buffer->write_fence == NULL && buffer->readers == 0;
	}
	return buffer->write_fence == NULL;
}

/* FIFO: the first waiter that cannot be granted holds back every later one. */
static bool grant_next(struct dmab_buffer *buffer)
{
	if (dmab_list_empty(&buffer->waiters)) {
		return false;
	}
	struct dmab_attachment *att =
		dmab_container_of(buffer->waiters.next, struct dmab_attachment, wait_link);
	if (!grantable(buffer, att->dir)) {
		return false;
	}
	if ((att->dir & DMAB_DIR_WRITE) && buffer->next_write != NULL) {
		/* Those waiting for the next frame wait for this bracket. */
		att->fence = buffer->next_write;
		buffer->next_write = NULL;
	} else {
		att->fence = dmab_fence_create();
	}
	if (att->fence == NULL) {
		struct dmab_failure fail;
		dmab_failure_set(&fail, DMAB_REASON_ALLOC_FAILED, "out of memory");
		fail_attachment(att, &fail);
		return true;
	}
	att_enter(att, ATT_HELD);
	if (att->listener.ready != NULL) {
		att->listener.ready(att, att->access_serial, att->data);
	}
	return true;
}

void dmab_buffer_process(struct dmab_buffer *buffer)
{
	if (buffer->processing) {
		return;
	}
	buffer->processing = true;
	dmab_buffer_ref(buffer);
	while (tell_moved(buffer) || dmab_buffer_notify_layout(buffer) ||
			storage_step(buffer) || grant_next(buffer)) {
		continue;
	}
	buffer->processing = false;
	dmab_buffer_unref(buffer);
}

/* --- authority: revocation and preemption --- */

static bool select_cut(const struct dmab_attachment *att, const void *data)
{
	return dmab_grant_is_cut(att->grant);
}

void dmab_buffer_apply_cut(struct dmab_buffer *buffer)
{
	struct dmab_handle *handle;
	dmab_list_for_each(handle, &buffer->handles, link) {
		handle->revoked = handle->revoked || dmab_grant_is_cut(handle->grant);
	}
	struct dmab_failure fail;
	dmab_failure_set(&fail, DMAB_REASON_REVOKED_TOKEN,
		"the token this buffer was shared with was revoked by its owner");
	fail_selected(buffer, select_cut, NULL, &fail);
}

static bool owner_writer(const struct dmab_attachment *att)
{
	return att->grant == NULL && att->account != NULL && att->state == ATT_WAITING &&
		(att->dir & DMAB_DIR_WRITE);
}

/* Another lineage's bracket that the owner's waiting writer has to wait for. */
static bool select_blocker(const struct dmab_attachment *att, const void *data)
{
	const struct dmab_attachment *writer = data;
	/* A fence callback of an earlier failure may have granted the writer already. */
	if (writer->state != ATT_WAITING || att->grant == NULL || !in_bracket(att->state)) {
		return false;
	}
	if (att->state == ATT_HELD) {
		return true;
	}
	/* Waiting ahead of the writer in the FIFO: it would be granted first. */
	const struct dmab_attachment *waiter;
	dmab_list_for_each(waiter, &att->buffer->waiters, wait_link) {
		if (waiter == writer) {
			return false;
		}
		if (waiter == att) {
			return true;
		}
	}
	return false;
}

static void preempt_for(struct dmab_buffer *buffer, struct dmab_attachment *writer,
	uint64_t waited)
{
	struct dmab_failure fail;
	dmab_failure_set(&fail, DMAB_REASON_PREEMPTED,
		"a bracket of this attachment kept the buffer's owner waiting to write for %" PRIu64
		" ms, beyond the broker's bound of %" PRIu32 " ms", waited, buffer->core->max_hold_ms);
	if (buffer->acquire != NULL && buffer->acquire_foreign) {
		dmab_buffer_cancel_drain(buffer);
	}
	fail_selected(buffer, select_blocker, writer, &fail);
}

uint64_t dmab_buffer_expire_waits(struct dmab_buffer *buffer, uint64_t now, bool *preempted)
{
	uint64_t bound = buffer->core->max_hold_ms;
	uint64_t next = 0;
	struct dmab_attachment *att;
	dmab_list_for_each(att, &buffer->waiters, wait_link) {
		if (!owner_writer(att)) {
			continue;
		}
		uint64_t deadline = att->wait_start + bound;
		if (deadline <= now) {
			/*
			 * If the owner's own brackets still hold it back after this, they
			 * are the owner's to end: the next round finds nothing to preempt.
			 */
			uint64_t waited = now - att->wait_start;
			att->wait_start = now;
			*preempted = true;
			preempt_for(buffer, att, waited);
			return 0;
		}
		if (next == 0 || deadline < next) {
			next = deadline;
		}
	}
	return next;
}

/* --- the attachment API --- */

struct dmab_attachment *dmab_attachment_create(struct dmab_handle *handle,
	struct dmab_account *account, enum dmab_access access,
	const struct dmab_constraints *constraints,
	const struct dmab_attachment_listener *listener, void *data)
{
	struct dmab_attachment *att = calloc(1, sizeof(*att));
	if (att == NULL) {
		return NULL;
	}
	struct dmab_buffer *buffer = handle->buffer;
	att->buffer = dmab_buffer_ref(buffer);
	att->access = access;
	att->grant = dmab_grant_ref(handle->grant);
	att->writer_handle = handle->access == DMAB_ACCESS_READ_WRITE;
	att->constraints = *constraints;
	if (listener != NULL) {
		att->listener = *listener;
	}
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
	if (handle->revoked) {
		dmab_failure_set(&fail, DMAB_REASON_REVOKED_TOKEN,
			"the token this buffer was shared with was revoked by its owner");
		fail_attachment(att, &fail);
		return att;
	}
	if (!dmab_storage_admit(att, &fail)) {
		fail_attachment(att, &fail);
		return att;
	}
	dmab_buffer_process(buffer);
	return att;
}

void dmab_attachment_destroy(struct dmab_attachment *att)
{
	if (att == NULL) {
		return;
	}
	struct dmab_buffer *buffer = att->buffer;
	struct dmab_fence *fence = att->state != ATT_DEFUNCT ? att_enter(att, ATT_DEFUNCT) : NULL;
	dmab_list_remove(&att->link);
	if (att->charged) {
		dmab_account_uncharge(att->account, DMAB_QUOTA_ATTACHMENTS);
	}
	dmab_account_unref(att->account);
	dmab_grant_unref(att->grant);
	free(att);
	dmab_buffer_replan(buffer);
	release_fence(fence);
	dmab_buffer_process(buffer);
	dmab_buffer_unref(buffer);
}

void dmab_attachment_teardown(struct dmab_attachment *att)
{
	if (att->state != ATT_DEFUNCT) {
		release_fence(att_enter(att, ATT_DEFUNCT));
	}
	dmab_list_remove(&att->link);
	dmab_grant_unref(att->grant);
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
	if (att->state == ATT_DEFUNCT) {
		return true;
	}
	if (!check_dir(dir, report)) {
		return false;
	}
	if ((dir & DMAB_DIR_WRITE) && att->access != DMAB_ACCESS_READ_WRITE) {
		return dmab_misuse_set(report, DMAB_MISUSE_READ_ONLY,
			"map with direction %" PRIu32 " writes through a read-only attachment", dir);
	}
	if (att->state != ATT_UNMAPPED) {
		return dmab_misuse_set(report, DMAB_MISUSE_ALREADY_MAPPED,
			att->state == ATT_MAP_PENDING ? "a map of the attachment is already pending" :
			"the attachment is already mapped");
	}
	att->map_serial++;
	att->map_dir = dir;
	att_enter(att, ATT_MAP_PENDING);
	dmab_buffer_process(att->buffer);
	return true;
}

/* Unmapping a map that is still pending withdraws it. */
bool dmab_attachment_unmap(struct dmab_attachment *att, struct dmab_misuse_report *report)
{
	if (att->state == ATT_DEFUNCT) {
		return true;
	}
	if (att->state == ATT_UNMAPPED) {
		return dmab_misuse_set(report, DMAB_MISUSE_NOT_MAPPED, "the attachment is not mapped");
	}
	if (in_bracket(att->state)) {
		return dmab_misuse_set(report, DMAB_MISUSE_ACCESS_PENDING,
			"unmap with an access bracket (direction %" PRIu32 ") %s", att->dir,
			att->state == ATT_HELD ? "open" : "waiting");
	}
	att_enter(att, ATT_UNMAPPED);
	dmab_buffer_process(att->buffer);
	return true;
}

/* A bracket of the same client that this one would wait for, or that would wait for it. */
static const struct dmab_attachment *conflicting_sibling(const struct dmab_attachment *att,
	uint32_t dir)
{
	if (att->account == NULL) {
		return NULL;
	}
	const struct dmab_attachment *other;
	dmab_list_for_each(other, &att->buffer->attachments, link) {
		if (other != att && other->account == att->account && in_bracket(other->state) &&
				((other->dir | dir) & DMAB_DIR_WRITE)) {
			return other;
		}
	}
	return NULL;
}

static bool check_begin(const struct dmab_attachment *att, uint32_t dir,
	struct dmab_misuse_report *report)
{
	if (!check_dir(dir, report)) {
		return false;
	}
	if (!is_mapped(att->state)) {
		return dmab_misuse_set(report, DMAB_MISUSE_NOT_MAPPED,
			att->state == ATT_UNMAPPED ? "begin_access without a map" :
			"begin_access while the map is still pending");
	}
	if (in_bracket(att->state)) {
		return dmab_misuse_set(report, DMAB_MISUSE_NESTED_ACCESS,
			"begin_access inside a bracket (direction %" PRIu32 ") %s", att->dir,
			att->state == ATT_HELD ? "already open" : "still waiting");
	}
	if (dir & ~att->map_dir) {
		return dmab_misuse_set(report, DMAB_MISUSE_DIRECTION_MISMATCH,
			"begin_access direction %" PRIu32 " exceeds the map's direction %" PRIu32,
			dir, att->map_dir);
	}
	const struct dmab_attachment *other = conflicting_sibling(att, dir);
	if (other != NULL) {
		return dmab_misuse_set(report, DMAB_MISUSE_CONFLICTING_ACCESS,
			"begin_access(%" PRIu32 ") conflicts with this client's %s bracket (%" PRIu32
			") on another attachment of the buffer: a wait for itself", dir,
			other->state == ATT_HELD ? "open" : "waiting", other->dir);
	}
	return true;
}

bool dmab_attachment_begin_access(struct dmab_attachment *att, uint32_t dir,
	struct dmab_misuse_report *report)
{
	if (att->state == ATT_DEFUNCT) {
		return true;
	}
	if (!check_begin(att, dir, report)) {
		return false;
	}
	struct dmab_buffer *buffer = att->buffer;
	struct dmab_core *core = buffer->core;
	bool waits = !dmab_list_empty(&buffer->waiters) || !grantable(buffer, dir);
	att->access_serial++;
	att->dir = dir;
	att->wait_start = dmab_core_now_ms(core);
	att_enter(att, ATT_WAITING);
	if (waits && owner_writer(att)) {
		dmab_core_arm(core, att->wait_start + core->max_hold_ms);
	}
	/* Last: its callbacks may destroy the attachment. */
	dmab_buffer_process(buffer);
	return true;
}

/* Ending a bracket that is still waiting cancels the wait. */
bool dmab_attachment_end_access(struct dmab_attachment *att, uint32_t dir,
	struct dmab_misuse_report *report)
{
	if (att->state == ATT_DEFUNCT) {
		return true;
	}
	if (!check_dir(dir, report)) {
		return false;
	}
	if (!in_bracket(att->state)) {
		return dmab_misuse_set(report, DMAB_MISUSE_NOT_IN_ACCESS,
			"end_access without begin_access");
	}
	if (dir != att->dir) {
		return dmab_misuse_set(report, DMAB_MISUSE_DIRECTION_MISMATCH,
			"end_access direction %" PRIu32 " differs from begin_access direction %" PRIu32,
			dir, att->dir);
	}
	struct dmab_buffer *buffer = dmab_buffer_ref(att->buffer);
	release_fence(att_enter(att, ATT_MAPPED));
	dmab_buffer_process(buffer);
	dmab_buffer_unref(buffer);
	return true;
}

bool dmab_attachment_is_defunct(const struct dmab_attachment *att)
{
	return att->state == ATT_DEFUNCT;
}

struct dmab_buffer *dmab_attachment_get_buffer(struct dmab_attachment *att)
{
	return att->buffer;
}

bool dmab_attachment_set_acquire_fence(struct dmab_attachment *att, struct dmab_fence *fence,
	struct dmab_misuse_report *report)
{
	if (att->state == ATT_DEFUNCT) {
		return true;
	}
	if (att->state != ATT_HELD || !(att->dir & DMAB_DIR_WRITE)) {
		return dmab_misuse_set(report, DMAB_MISUSE_NOT_IN_ACCESS,
			"set_acquire_fence without an open WRITE bracket (%s)",
			att->state == ATT_WAITING ? "the bracket still waits for ready" :
			att->state == ATT_HELD ? "the bracket only reads" : "no bracket");
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
	if (att->state != ATT_HELD || att->cpu_started) {
		return -EINVAL;
	}
	int ret = dmab_bo_sync(att->buffer->bo, true, att->dir);
	att->cpu_started = ret == 0;
	return ret;
}

enum dmab_attachment_state dmab_attachment_stats_state(const struct dmab_attachment *att)
{
	switch (att->state) {
	case ATT_UNMAPPED:
		return DMAB_ATTACHMENT_UNMAPPED;
	case ATT_MAP_PENDING:
		return DMAB_ATTACHMENT_MAP_PENDING;
	case ATT_MAPPED:
	case ATT_WAITING:
	case ATT_HELD:
		return att->moved_serial == att->map_serial && att->map_serial != 0 ?
			DMAB_ATTACHMENT_MOVING : DMAB_ATTACHMENT_MAPPED;
	case ATT_DEFUNCT:
		return DMAB_ATTACHMENT_DEFUNCT;
	}
	return DMAB_ATTACHMENT_DEFUNCT;
}
