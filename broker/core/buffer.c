/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/dma-buf.h>

#include "core/internal.h"

static bool check_dimensions(const struct dmab_core *core, uint32_t width, uint32_t height,
	struct dmab_misuse_report *report)
{
	const struct dmab_limits *limits = &core->limits;
	if (width == 0 || height == 0 || width > limits->max_width ||
			height > limits->max_height) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_SIZE,
			"size %" PRIu32 "x%" PRIu32 " is outside 1x1..%" PRIu32 "x%" PRIu32,
			width, height, limits->max_width, limits->max_height);
	}
	return true;
}

static bool check_format(uint32_t format, struct dmab_misuse_report *report)
{
	if (dmab_format_get(format) == NULL) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_FORMAT,
			"format 0x%08" PRIx32 " is not supported", format);
	}
	return true;
}

bool dmab_buffer_desc_check(const struct dmab_core *core, const struct dmab_buffer_desc *desc,
	struct dmab_misuse_report *report)
{
	if (!check_format(desc->format, report) ||
			!check_dimensions(core, desc->width, desc->height, report))
		return false;
	struct dmab_layout layout = {
		.width = desc->width,
		.height = desc->height,
		.format = desc->format,
	};
	if (!dmab_layout_plan(&layout, 64, report))
		return false;
	if (layout.size > core->limits.max_bytes) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_SIZE,
			"size of %" PRIu64 " bytes (%" PRIu32 "x%" PRIu32 ", stride %" PRIu32
			") exceeds the limit of %" PRIu64, layout.size, desc->width, desc->height,
			layout.planes[0].stride, core->limits.max_bytes);
	}
	if (desc->usage & ~(uint32_t)DMAB_USAGE_ALL) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_USAGE,
			"usage 0x%" PRIx32 " has unknown bits 0x%" PRIx32, desc->usage,
			desc->usage & ~(uint32_t)DMAB_USAGE_ALL);
	}
	size_t name_len = desc->name != NULL ? strnlen(desc->name, DMAB_NAME_MAX + 1) : 0;
	if (name_len > DMAB_NAME_MAX) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_NAME,
			"name \"%.20s...\" is longer than %d bytes", desc->name, DMAB_NAME_MAX);
	}
	return true;
}

/* Like wl_shm and linux-dmabuf: the size comes from lseek, and a memfd must not shrink. */
static bool check_import_fd(int fd, uint64_t *size, struct dmab_misuse_report *report)
{
	off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	if (end < 0) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_FD,
			"fd %d cannot be sized with lseek: %s", fd, strerror(errno));
	}
	lseek(fd, 0, SEEK_SET);
	*size = (uint64_t)end;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_FD,
			"fd %d is write-only and cannot be mapped", fd);
	}
	if (dmab_fd_is_dmabuf(fd))
		return true;
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_FD,
			"fd %d is neither a dma-buf nor a memfd", fd);
	}
	if (!(seals & F_SEAL_SHRINK)) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_FD,
			"memfd %d is not sealed with F_SEAL_SHRINK (seals 0x%x)", fd, seals);
	}
	return true;
}

/* Every plane of an import lies inside the fd, each bound computed in 64 bits. */
static bool check_import_plane(const struct dmab_format_desc *format,
	const struct dmab_import_desc *desc, uint32_t i, uint64_t size,
	struct dmab_misuse_report *report)
{
	uint32_t offset = desc->planes[i].offset, stride = desc->planes[i].stride;
	uint64_t row = dmab_format_row_bytes(format, i, desc->width);
	if (stride == 0 || stride < row) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_STRIDE,
			"stride %" PRIu32 " of plane %" PRIu32 " is smaller than a row of %" PRIu64
			" bytes", stride, i, row);
	}
	uint32_t rows = dmab_format_plane_rows(format, i, desc->height);
	/* At most (2^32 - 1)^2 + 2^32 - 1: no overflow in 64 bits. */
	uint64_t plane = (uint64_t)stride * rows;
	uint64_t end = offset + plane;
	if (end > size || plane > UINT32_MAX) {
		return dmab_misuse_set(report, DMAB_MISUSE_OUT_OF_BOUNDS,
			"plane %" PRIu32 ": offset %" PRIu32 " + stride %" PRIu32 " x %" PRIu32
			" rows = %" PRIu64 " exceeds the fd's %" PRIu64 " bytes%s", i, offset, stride,
			rows, end, size, plane > UINT32_MAX ? " or 32 bits" : "");
	}
	return true;
}

bool dmab_import_desc_check(const struct dmab_core *core, int fd,
	const struct dmab_import_desc *desc, struct dmab_misuse_report *report)
{
	uint64_t size = 0;
	if (!check_format(desc->format, report) ||
			!check_dimensions(core, desc->width, desc->height, report)) {
		return false;
	}
	const struct dmab_format_desc *format = dmab_format_get(desc->format);
	if (desc->n_planes != format->n_planes) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_PLANES,
			"format 0x%08" PRIx32 " has %" PRIu32 " planes, not %" PRIu32, desc->format,
			format->n_planes, desc->n_planes);
	}
	if (!check_import_fd(fd, &size, report)) {
		return false;
	}
	for (uint32_t i = 0; i < format->n_planes; i++) {
		if (!check_import_plane(format, desc, i, size, report)) {
			return false;
		}
	}
	if (desc->flags & ~(uint32_t)DMAB_IMPORT_ALL) {
		return dmab_misuse_set(report, DMAB_MISUSE_INVALID_FLAGS,
			"import flags 0x%" PRIx32 " have unknown bits 0x%" PRIx32, desc->flags,
			desc->flags & ~(uint32_t)DMAB_IMPORT_ALL);
	}
	return true;
}

static struct dmab_buffer *buffer_create(struct dmab_account *owner,
	const struct dmab_layout *layout, const char *name)
{
	struct dmab_buffer *buffer = calloc(1, sizeof(*buffer));
	if (buffer == NULL)
		return NULL;
	struct dmab_core *core = owner->core;
	buffer->core = core;
	buffer->id = core->next_buffer_id++;
	buffer->owner = dmab_account_ref(owner);
	buffer->layout = *layout;
	if (name != NULL)
		snprintf(buffer->name, sizeof(buffer->name), "%s", name);
	dmab_list_init(&buffer->handles);
	dmab_list_init(&buffer->attachments);
	dmab_list_init(&buffer->waiters);
	dmab_list_init(&buffer->tokens);
	dmab_list_insert(core->buffers.prev, &buffer->link);
	return buffer;
}

static struct dmab_handle *handle_alloc(struct dmab_buffer *buffer,
	struct dmab_account *account, enum dmab_access access, struct dmab_grant *grant)
{
	struct dmab_handle *handle = calloc(1, sizeof(*handle));
	if (handle == NULL) {
		return NULL;
	}
	handle->buffer = dmab_buffer_ref(buffer);
	handle->account = dmab_account_ref(account);
	handle->access = access;
	handle->grant = dmab_grant_ref(grant);
	dmab_list_insert(buffer->handles.prev, &handle->link);
	return handle;
}

struct dmab_handle *dmab_handle_new(struct dmab_buffer *buffer, struct dmab_account *account,
	enum dmab_access access, struct dmab_grant *grant, struct dmab_failure *fail)
{
	if (!dmab_account_charge(account, DMAB_QUOTA_BUFFERS, fail)) {
		return NULL;
	}
	struct dmab_handle *handle = handle_alloc(buffer, account, access, grant);
	if (handle == NULL) {
		dmab_account_uncharge(account, DMAB_QUOTA_BUFFERS);
		dmab_failure_set(fail, DMAB_REASON_ALLOC_FAILED, "out of memory");
		return NULL;
	}
	handle->charged = true;
	return handle;
}

struct dmab_handle *dmab_handle_clone(struct dmab_handle *handle)
{
	struct dmab_handle *clone = handle_alloc(handle->buffer, handle->account, handle->access,
		handle->grant);
	if (clone != NULL) {
		clone->revoked = handle->revoked;
	}
	return clone;
}

bool dmab_handle_is_revoked(const struct dmab_handle *handle)
{
	return handle->revoked;
}

/*
 * A new buffer of the given storage (NULL until the first map) and its first
 * handle, which holds the buffer's first reference.
 */
static struct dmab_handle *handle_for_new_buffer(struct dmab_account *account,
	const struct dmab_layout *layout, const char *name, struct dmab_bo *bo,
	struct dmab_failure *fail)
{
	if (!dmab_account_charge(account, DMAB_QUOTA_BUFFERS, fail))
		return NULL;
	/* Its storage fd, from creation on: the buffer holds at most one. */
	if (!dmab_account_charge(account, DMAB_QUOTA_FDS, fail)) {
		goto err_fd;
	}
	if (!dmab_account_recharge_bytes(account, 0, layout->size, fail))
		goto err_bytes;
	struct dmab_buffer *buffer = buffer_create(account, layout, name);
	if (buffer == NULL)
		goto err_buffer;
	buffer->charge = (struct charge){ dmab_account_ref(account), layout->size };
	struct dmab_handle *handle = handle_alloc(buffer, account, DMAB_ACCESS_READ_WRITE, NULL);
	if (handle == NULL) {
		buffer->refs = 1;
		dmab_buffer_unref(buffer);
		goto err_handle;
	}
	handle->charged = true;
	buffer->fd_charged = true;
	buffer->bo = bo;
	buffer->storage = bo != NULL ? STORAGE_READY : STORAGE_PLANNED;
	return handle;

err_buffer:
	dmab_account_recharge_bytes(account, layout->size, 0, NULL);
err_handle:
	dmab_failure_set(fail, DMAB_REASON_ALLOC_FAILED, "out of memory");
err_bytes:
	dmab_account_uncharge(account, DMAB_QUOTA_FDS);
err_fd:
	dmab_account_uncharge(account, DMAB_QUOTA_BUFFERS);
	return NULL;
}

struct dmab_handle *dmab_handle_create(struct dmab_account *account,
	const struct dmab_buffer_desc *desc, struct dmab_failure *fail)
{
	struct dmab_layout layout = {
		.width = desc->width,
		.height = desc->height,
		.format = desc->format,
	};
	struct dmab_misuse_report report;
	if (!dmab_layout_plan(&layout, 64, &report)) {
		dmab_failure_set(fail, DMAB_REASON_ALLOC_FAILED, "%s", report.message);
		return NULL;
	}
	struct dmab_handle *handle = handle_for_new_buffer(account, &layout, desc->name, NULL, fail);
	if (handle != NULL)
		handle->buffer->usage = desc->usage;
	return handle;
}

/*
 * A read-only fd gives a read-only buffer: the broker must not hand out more.
 * So does a memfd sealed against writes, which nobody can map writable (EPERM).
 */
static enum dmab_access fd_access(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
		return DMAB_ACCESS_READ;
	}
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))) {
		return DMAB_ACCESS_READ;
	}
	return DMAB_ACCESS_READ_WRITE;
}

struct dmab_handle *dmab_handle_import_fd(struct dmab_account *account, int fd,
	const struct dmab_import_desc *desc, struct dmab_failure *fail)
{
	enum dmab_access access = fd_access(fd);
	struct dmab_bo *bo;
	int ret = dmab_bo_import(fd, &bo);
	if (ret < 0) {
		dmab_failure_set(fail, DMAB_REASON_ALLOC_FAILED, "importing the fd failed: %s",
			strerror(-ret));
		return NULL;
	}
	struct dmab_layout layout = {
		.width = desc->width,
		.height = desc->height,
		.format = desc->format,
		.n_planes = desc->n_planes,
		.size = bo->size,
	};
	const struct dmab_format_desc *format = dmab_format_get(desc->format);
	for (uint32_t i = 0; i < desc->n_planes; i++) {
		layout.planes[i] = (struct dmab_plane){
			.offset = desc->planes[i].offset,
			.stride = desc->planes[i].stride,
			.size = desc->planes[i].stride *
				dmab_format_plane_rows(format, i, desc->height),
		};
	}
	struct dmab_handle *handle = handle_for_new_buffer(account, &layout, NULL, bo, fail);
	if (handle == NULL) {
		dmab_bo_destroy(bo);
		return NULL;
	}
	handle->access = access;
	handle->buffer->imported = true;
	handle->buffer->import_flags = desc->flags;
	return handle;
}

void dmab_handle_destroy(struct dmab_handle *handle)
{
	if (handle == NULL)
		return;
	dmab_list_remove(&handle->link);
	if (handle->charged) {
		dmab_account_uncharge(handle->account, DMAB_QUOTA_BUFFERS);
	}
	dmab_account_unref(handle->account);
	dmab_grant_unref(handle->grant);
	struct dmab_buffer *buffer = handle->buffer;
	free(handle);
	dmab_buffer_unref(buffer);
}

struct dmab_buffer *dmab_handle_get_buffer(struct dmab_handle *handle)
{
	return handle->buffer;
}

enum dmab_access dmab_handle_get_access(const struct dmab_handle *handle)
{
	return handle->access;
}

void dmab_handle_set_layout_listener(struct dmab_handle *handle, dmab_handle_layout_func func,
	void *data)
{
	handle->layout_func = func;
	handle->layout_data = data;
}

void dmab_buffer_layout_changed(struct dmab_buffer *buffer)
{
	struct dmab_handle *handle;
	dmab_list_for_each(handle, &buffer->handles, link)
		handle->layout_changed = true;
}

bool dmab_buffer_notify_layout(struct dmab_buffer *buffer)
{
	struct dmab_handle *handle;
	dmab_list_for_each(handle, &buffer->handles, link) {
		if (!handle->layout_changed)
			continue;
		handle->layout_changed = false;
		if (handle->layout_func != NULL)
			handle->layout_func(handle, handle->layout_data);
		return true;
	}
	return false;
}

struct dmab_buffer *dmab_buffer_ref(struct dmab_buffer *buffer)
{
	buffer->refs++;
	return buffer;
}

void dmab_buffer_release_storage(struct dmab_buffer *buffer)
{
	if (buffer->bo == NULL)
		return;
	if (buffer->bo_data != NULL)
		dmab_bo_munmap(buffer->bo, buffer->bo_data);
	if (buffer->bo_wdata != NULL)
		dmab_bo_munmap(buffer->bo, buffer->bo_wdata);
	dmab_bo_destroy(buffer->bo);
	buffer->bo = NULL;
	buffer->bo_data = NULL;
	buffer->bo_wdata = NULL;
}

static void buffer_free(struct dmab_buffer *buffer)
{
	struct dmab_token *token, *tmp;
	dmab_list_for_each_safe(token, tmp, &buffer->tokens, link)
		dmab_token_free(token);
	dmab_buffer_release_storage(buffer);
	/* Nothing can write it any more: whoever waits for a frame must not wait forever. */
	if (buffer->next_write != NULL) {
		dmab_fence_signal(buffer->next_write);
		dmab_fence_unref(buffer->next_write);
	}
	dmab_list_remove(&buffer->link);
	free(buffer);
}

void dmab_buffer_unref(struct dmab_buffer *buffer)
{
	if (buffer == NULL || --buffer->refs > 0)
		return;
	dmab_charge_drop(&buffer->charge);
	dmab_charge_drop(&buffer->target.charge);
	if (buffer->fd_charged) {
		dmab_account_uncharge(buffer->owner, DMAB_QUOTA_FDS);
	}
	dmab_account_unref(buffer->owner);
	buffer_free(buffer);
}

void dmab_buffer_teardown(struct dmab_buffer *buffer)
{
	struct dmab_attachment *att, *att_tmp;
	dmab_list_for_each_safe(att, att_tmp, &buffer->attachments, link)
		dmab_attachment_teardown(att);
	dmab_buffer_cancel_drain(buffer);
	if (buffer->idle != NULL) {
		dmab_fence_remove_callback(buffer->idle, &buffer->idle_cb);
		dmab_fence_unref(buffer->idle);
		buffer->idle = NULL;
	}
	struct dmab_handle *handle, *handle_tmp;
	dmab_list_for_each_safe(handle, handle_tmp, &buffer->handles, link) {
		dmab_grant_unref(handle->grant);
		free(handle);
	}
	buffer_free(buffer);
}

void dmab_buffer_get_layout(const struct dmab_buffer *buffer, struct dmab_layout *layout)
{
	*layout = buffer->layout;
}

uint32_t dmab_buffer_get_import_flags(const struct dmab_buffer *buffer)
{
	return buffer->import_flags;
}

const void *dmab_buffer_get_data(struct dmab_buffer *buffer)
{
	if (buffer->bo_data == NULL)
		buffer->bo_data = dmab_bo_mmap(buffer->bo, false);
	return buffer->bo_data;
}

void *dmab_buffer_get_writable_data(struct dmab_buffer *buffer)
{
	if (buffer->bo_wdata == NULL)
		buffer->bo_wdata = dmab_bo_mmap(buffer->bo, true);
	return buffer->bo_wdata;
}

struct dmab_fence *dmab_buffer_get_next_write_fence(struct dmab_buffer *buffer)
{
	if (buffer->write_fence != NULL)
		return dmab_fence_ref(buffer->write_fence);
	if (buffer->next_write == NULL)
		buffer->next_write = dmab_fence_create();
	return buffer->next_write != NULL ? dmab_fence_ref(buffer->next_write) : NULL;
}

struct dmab_fence *dmab_buffer_get_fence(struct dmab_buffer *buffer, bool write)
{
	if (write) {
		return buffer->write_fence != NULL ? dmab_fence_ref(buffer->write_fence) :
			dmab_fence_create_signaled();
	}
	struct dmab_fence **fences = calloc(buffer->readers + 1, sizeof(*fences));
	if (fences == NULL)
		return NULL;
	int len = 0;
	struct dmab_attachment *att;
	dmab_list_for_each(att, &buffer->attachments, link) {
		if (att->state == ATT_HELD && !(att->dir & DMAB_DIR_WRITE))
			fences[len++] = att->fence;
	}
	struct dmab_fence *fence = dmab_fence_create_all(fences, len);
	free(fences);
	return fence;
}

int dmab_buffer_get_dmabuf_fd(const struct dmab_buffer *buffer)
{
	return buffer->bo != NULL && buffer->bo->is_dmabuf ? buffer->bo->fd : -1;
}

/*
 * The kernel's flags name the access that is to wait, not the fences: READ
 * gives the fences a reader waits for (the writes, what poll() POLLIN waits
 * for), WRITE those a writer waits for (every read and write, POLLOUT). The
 * reads alone cannot be asked for, so a read fence covers the writes too.
 */
int dmab_buffer_export_sync_file(struct dmab_buffer *buffer, bool write)
{
	int fd = dmab_buffer_get_dmabuf_fd(buffer);
	if (fd < 0)
		return -ENODEV;
	struct dma_buf_export_sync_file export = {
		.flags = write ? DMA_BUF_SYNC_READ : DMA_BUF_SYNC_WRITE,
		.fd = -1,
	};
	if (ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &export) < 0)
		return -errno;
	return export.fd;
}

int dmab_buffer_import_sync_file(struct dmab_buffer *buffer, int fd)
{
	int dmabuf = dmab_buffer_get_dmabuf_fd(buffer);
	if (dmabuf < 0)
		return -ENODEV;
	struct dma_buf_import_sync_file import = { .flags = DMA_BUF_SYNC_WRITE, .fd = fd };
	return ioctl(dmabuf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &import) < 0 ? -errno : 0;
}
