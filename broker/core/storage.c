/* SPDX-License-Identifier: MIT */
/*
 * A buffer's storage: planning it from the attachments' constraints, admitting
 * an attachment, allocating, and moving to stricter storage.
 *
 * The invariant: the plan (STORAGE_PLANNED), the storage (STORAGE_READY) or the
 * move target (STORAGE_MOVING, STORAGE_DRAINING) always meets the collated
 * constraints of every live attachment. Admission keeps it, at attach time: an
 * attachment either fits what is there, or, if its client may write the
 * buffer, changes it and pays for the result; otherwise it fails alone.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "core/internal.h"

/* --- charges --- */

bool dmab_charge_take(struct charge *charge, struct dmab_account *payer, uint64_t bytes,
	struct dmab_failure *fail)
{
	if (charge->payer == payer) {
		if (!dmab_account_recharge_bytes(payer, charge->bytes, bytes, fail)) {
			return false;
		}
		charge->bytes = bytes;
		return true;
	}
	if (!dmab_account_recharge_bytes(payer, 0, bytes, fail)) {
		return false;
	}
	dmab_charge_drop(charge);
	charge->payer = dmab_account_ref(payer);
	charge->bytes = bytes;
	return true;
}

void dmab_charge_drop(struct charge *charge)
{
	if (charge->payer == NULL) {
		return;
	}
	dmab_account_recharge_bytes(charge->payer, charge->bytes, 0, NULL);
	dmab_account_unref(charge->payer);
	*charge = (struct charge){0};
}

/* --- constraints --- */

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

struct collated {
	uint32_t row_alignment; /* at least 1 */
	bool contiguous;
};

/* Over every live attachment but skip (NULL for none). */
static void collate(const struct dmab_buffer *buffer, const struct dmab_attachment *skip,
	struct collated *out)
{
	*out = (struct collated){ .row_alignment = 1 };
	const struct dmab_attachment *att;
	dmab_list_for_each(att, &buffer->attachments, link) {
		if (att == skip || att->state == ATT_DEFUNCT) {
			continue;
		}
		if (att->constraints.row_alignment > out->row_alignment) {
			out->row_alignment = att->constraints.row_alignment;
		}
		out->contiguous |= att->constraints.flags & DMAB_CONSTRAINT_CONTIGUOUS;
	}
}

/* Rows are aligned to 64 bytes at least: a preference of the broker's, not a constraint. */
static bool plan(const struct dmab_buffer *buffer, const struct collated *c,
	struct dmab_layout *layout, struct dmab_failure *fail)
{
	*layout = buffer->layout;
	struct dmab_misuse_report report;
	if (!dmab_layout_plan(layout, c->row_alignment > 64 ? c->row_alignment : 64, &report)) {
		dmab_failure_set(fail, DMAB_REASON_UNSATISFIABLE, "%s", report.message);
		return false;
	}
	return true;
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

/* What the buffer is committed to: the plan, the storage, or the move target. */
struct shape {
	const struct dmab_layout *layout;
	bool contiguous;
};

static struct shape committed_shape(const struct dmab_buffer *buffer,
	const struct dmab_attachment *skip)
{
	const struct dmab_allocator *alloc;
	struct collated others;
	switch (buffer->storage) {
	case STORAGE_READY:
		alloc = buffer->bo->allocator;
		return (struct shape){ &buffer->layout, alloc != NULL && alloc->caps.contiguous };
	case STORAGE_MOVING:
	case STORAGE_DRAINING:
		alloc = buffer->target.allocator;
		return (struct shape){ &buffer->target.layout, alloc->caps.contiguous };
	case STORAGE_PLANNED:
		break;
	}
	collate(buffer, skip, &others);
	return (struct shape){ &buffer->layout, others.contiguous };
}

/*
 * row_alignment must hold for the rows, and so for the stride, of every plane:
 * the first plane that breaks it, or -1.
 */
static int misaligned_plane(const struct dmab_layout *layout, uint32_t align)
{
	for (uint32_t i = 0; i < layout->n_planes; i++) {
		if (layout->planes[i].stride % align != 0) {
			return (int)i;
		}
	}
	return -1;
}

static bool shape_meets(const struct shape *shape, const struct collated *c)
{
	return misaligned_plane(shape->layout, c->row_alignment) < 0 &&
		(!c->contiguous || shape->contiguous);
}

bool dmab_storage_fits(const struct dmab_buffer *buffer, const struct dmab_attachment *att)
{
	struct collated c = {
		.row_alignment = att->constraints.row_alignment ? att->constraints.row_alignment : 1,
		.contiguous = att->constraints.flags & DMAB_CONSTRAINT_CONTIGUOUS,
	};
	struct shape shape = committed_shape(buffer, NULL);
	return shape_meets(&shape, &c);
}

/* --- admission --- */

/* Only a client that may write the buffer may change its storage. */
static bool shapes_storage(const struct dmab_attachment *att)
{
	return att->account != NULL && att->writer_handle;
}

static bool admit_imported(const struct dmab_buffer *buffer, const struct collated *c,
	struct dmab_failure *fail)
{
	if (c->contiguous) {
		dmab_failure_set(fail, DMAB_REASON_UNSATISFIABLE,
			"imported storage is not known to be contiguous");
		return false;
	}
	int plane = misaligned_plane(&buffer->layout, c->row_alignment);
	if (plane >= 0) {
		dmab_failure_set(fail, DMAB_REASON_UNSATISFIABLE,
			"imported stride %" PRIu32 " of plane %d is not a multiple "
			"of row_alignment %" PRIu32, buffer->layout.planes[plane].stride, plane,
			c->row_alignment);
		return false;
	}
	return true;
}

static void refuse_reader(const struct dmab_attachment *att, const struct shape *shape,
	struct dmab_failure *fail)
{
	dmab_failure_set(fail, DMAB_REASON_UNSATISFIABLE,
		"the storage (stride %" PRIu32 ", %scontiguous) does not meet this read-only "
		"importer's constraints (row_alignment %" PRIu32 "%s), and only a writer of the "
		"buffer may change it", shape->layout->planes[0].stride,
		shape->contiguous ? "" : "not ",
		att->constraints.row_alignment,
		(att->constraints.flags & DMAB_CONSTRAINT_CONTIGUOUS) ? ", contiguous" : "");
}

/* A larger plan is the attacher's to pay for, from now on. */
static bool admit_replan(struct dmab_attachment *att, const struct collated *c,
	struct dmab_failure *fail)
{
	struct dmab_buffer *buffer = att->buffer;
	struct dmab_layout layout;
	if (!plan(buffer, c, &layout, fail) || choose_allocator(buffer, c, fail) == NULL) {
		return false;
	}
	if (layout.size > buffer->charge.bytes &&
			!dmab_charge_take(&buffer->charge, att->account, layout.size, fail)) {
		return false;
	}
	if (!dmab_layout_same_planes(&layout, &buffer->layout)) {
		buffer->layout = layout;
		dmab_buffer_layout_changed(buffer);
	}
	return true;
}

/* The move is decided and charged now; it runs once every mapping is gone. */
static bool admit_move(struct dmab_attachment *att, const struct collated *c,
	struct dmab_failure *fail)
{
	struct dmab_buffer *buffer = att->buffer;
	struct move_target target = {0};
	if (!plan(buffer, c, &target.layout, fail)) {
		return false;
	}
	target.allocator = choose_allocator(buffer, c, fail);
	if (target.allocator == NULL ||
			!dmab_charge_take(&target.charge, att->account, target.layout.size, fail)) {
		return false;
	}
	dmab_charge_drop(&buffer->target.charge);
	buffer->target = target;
	buffer->storage = buffer->storage == STORAGE_DRAINING ? STORAGE_DRAINING : STORAGE_MOVING;
	return true;
}

bool dmab_storage_admit(struct dmab_attachment *att, struct dmab_failure *fail)
{
	struct dmab_buffer *buffer = att->buffer;
	uint32_t planes = dmab_format_planes(buffer->layout.format);
	if (planes > att->constraints.max_planes) {
		dmab_failure_set(fail, DMAB_REASON_UNSATISFIABLE,
			"the buffer has %" PRIu32 " planes, the attachment handles %" PRIu32, planes,
			att->constraints.max_planes);
		return false;
	}
	struct collated c;
	collate(buffer, NULL, &c);
	if (buffer->imported) {
		return admit_imported(buffer, &c, fail);
	}
	struct shape shape = committed_shape(buffer, att);
	if (shape_meets(&shape, &c)) {
		return true;
	}
	if (!shapes_storage(att)) {
		refuse_reader(att, &shape, fail);
		return false;
	}
	if (buffer->storage == STORAGE_PLANNED) {
		return admit_replan(att, &c, fail);
	}
	return admit_move(att, &c, fail);
}

void dmab_buffer_replan(struct dmab_buffer *buffer)
{
	if (buffer->storage != STORAGE_PLANNED || buffer->imported) {
		return;
	}
	struct collated c;
	collate(buffer, NULL, &c);
	struct dmab_layout layout;
	if (!plan(buffer, &c, &layout, NULL) || dmab_layout_same_planes(&layout, &buffer->layout)) {
		return;
	}
	/* Smaller: the payer's quota always takes it. */
	dmab_charge_take(&buffer->charge, buffer->charge.payer, layout.size, NULL);
	buffer->layout = layout;
	dmab_buffer_layout_changed(buffer);
}

/* --- allocation --- */

static void set_layout(struct dmab_buffer *buffer, const struct dmab_layout *layout)
{
	const struct dmab_layout *old = &buffer->layout;
	if (!dmab_layout_same_planes(layout, old) || layout->size != old->size) {
		buffer->layout = *layout;
		dmab_buffer_layout_changed(buffer);
	}
}

/* The allocator page-rounds, and a DRM driver may pad: the charge follows the real size. */
static int allocate_bo(struct dmab_buffer *buffer, struct dmab_allocator *alloc,
	struct charge *charge, struct dmab_layout *layout, struct dmab_bo **out,
	struct dmab_failure *fail)
{
	const char *name = buffer->name[0] != '\0' ? buffer->name : "dmabroker";
	struct dmab_bo *bo;
	int ret = dmab_alloc_allocate(alloc, layout->size, name, &bo);
	if (ret < 0) {
		dmab_failure_set(fail, DMAB_REASON_ALLOC_FAILED,
			"allocating %" PRIu64 " bytes from %s failed: %s", layout->size,
			alloc->impl->name, strerror(-ret));
		return ret;
	}
	if (bo->size != charge->bytes &&
			!dmab_charge_take(charge, charge->payer, bo->size, fail)) {
		dmab_bo_destroy(bo);
		return -EDQUOT;
	}
	layout->size = bo->size;
	*out = bo;
	return 0;
}

bool dmab_storage_allocate(struct dmab_buffer *buffer, struct dmab_failure *fail)
{
	struct collated c;
	collate(buffer, NULL, &c);
	struct dmab_layout layout;
	if (!plan(buffer, &c, &layout, fail)) {
		return false;
	}
	struct dmab_allocator *alloc = choose_allocator(buffer, &c, fail);
	if (alloc == NULL) {
		return false;
	}
	if (layout.size > buffer->charge.bytes &&
			!dmab_charge_take(&buffer->charge, buffer->charge.payer, layout.size, fail)) {
		return false;
	}
	struct dmab_bo *bo;
	if (allocate_bo(buffer, alloc, &buffer->charge, &layout, &bo, fail) < 0) {
		return false;
	}
	buffer->bo = bo;
	buffer->storage = STORAGE_READY;
	set_layout(buffer, &layout);
	return true;
}

/* Both layouts are of the buffer's format and size; only their strides and offsets differ. */
static void copy_planes(const char *src, const struct dmab_layout *from, char *dst,
	const struct dmab_layout *to)
{
	const struct dmab_format_desc *format = dmab_format_get(from->format);
	for (uint32_t i = 0; i < from->n_planes; i++) {
		const struct dmab_plane *p = &from->planes[i], *q = &to->planes[i];
		size_t row = (size_t)dmab_format_row_bytes(format, i, from->width);
		uint32_t rows = dmab_format_plane_rows(format, i, from->height);
		for (uint32_t y = 0; y < rows; y++) {
			memcpy(dst + q->offset + (size_t)y * q->stride,
				src + p->offset + (size_t)y * p->stride, row);
		}
	}
}

/*
 * Called once no mapping of the old storage is left and it is idle, so that
 * neither the broker's sync here nor the copy waits for anyone.
 */
static int copy_rows(struct dmab_bo *from, const struct dmab_layout *from_layout,
	struct dmab_bo *to, const struct dmab_layout *to_layout)
{
	const char *src = dmab_bo_mmap(from, false);
	if (src == NULL) {
		return -errno;
	}
	char *dst = dmab_bo_mmap(to, true);
	if (dst == NULL) {
		int ret = -errno;
		dmab_bo_munmap(from, (void *)src);
		return ret;
	}
	int ret = dmab_bo_sync(from, true, DMAB_CPU_READ);
	if (ret == 0) {
		ret = dmab_bo_sync(to, true, DMAB_CPU_WRITE);
	}
	if (ret == 0) {
		copy_planes(src, from_layout, dst, to_layout);
		dmab_bo_sync(to, false, DMAB_CPU_WRITE);
		dmab_bo_sync(from, false, DMAB_CPU_READ);
	}
	dmab_bo_munmap(to, dst);
	dmab_bo_munmap(from, (void *)src);
	return ret;
}

bool dmab_storage_move(struct dmab_buffer *buffer, struct dmab_failure *fail)
{
	struct move_target *target = &buffer->target;
	struct dmab_layout layout = target->layout;
	struct dmab_bo *bo;
	bool ok = allocate_bo(buffer, target->allocator, &target->charge, &layout, &bo, fail) == 0;
	if (ok) {
		int ret = copy_rows(buffer->bo, &buffer->layout, bo, &layout);
		if (ret < 0) {
			dmab_failure_set(fail, DMAB_REASON_ALLOC_FAILED,
				"copying to new storage failed: %s", strerror(-ret));
			dmab_bo_destroy(bo);
			ok = false;
		}
	}
	if (!ok) {
		dmab_charge_drop(&target->charge);
		*target = (struct move_target){0};
		buffer->storage = STORAGE_READY;
		return false;
	}
	dmab_buffer_release_storage(buffer);
	dmab_charge_drop(&buffer->charge);
	buffer->charge = target->charge;
	*target = (struct move_target){0};
	buffer->bo = bo;
	buffer->storage = STORAGE_READY;
	set_layout(buffer, &layout);
	return true;
}
