/* SPDX-License-Identifier: MIT */
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "unit.h"

char test_log[1024];

static void log_event(struct recorder *rec, const char *event)
{
	size_t len = strlen(test_log);
	snprintf(test_log + len, sizeof(test_log) - len, "%c%s ", rec->name, event);
	if (rec->on_event != NULL)
		rec->on_event(rec, event);
}

static void handle_mapped(struct dmab_attachment *att, uint32_t serial,
	const struct dmab_mapping *mapping, void *data)
{
	struct recorder *rec = data;
	CHECK(att == rec->att || rec->att == NULL);
	if (rec->mapping.fd >= 0)
		close(rec->mapping.fd);
	rec->mapping = *mapping;
	rec->mapped++;
	rec->mapped_serial = serial;
	log_event(rec, "mapped");
}

static void handle_ready(struct dmab_attachment *att, uint32_t serial, void *data)
{
	struct recorder *rec = data;
	rec->ready++;
	rec->ready_serial = serial;
	log_event(rec, "ready");
}

static void handle_moved(struct dmab_attachment *att, uint32_t serial, void *data)
{
	struct recorder *rec = data;
	rec->moved++;
	log_event(rec, "moved");
}

static void handle_failed(struct dmab_attachment *att, const struct dmab_failure *fail,
	void *data)
{
	struct recorder *rec = data;
	rec->failure = *fail;
	rec->failed++;
	log_event(rec, "failed");
}

const struct dmab_attachment_listener test_listener = {
	.mapped = handle_mapped,
	.ready = handle_ready,
	.moved = handle_moved,
	.failed = handle_failed,
};

struct dmab_core *test_core_create(const struct dmab_limits *limits)
{
	struct dmab_core_options options = { .allocator = dmab_test_allocator() };
	if (limits != NULL)
		options.limits = *limits;
	char err[256] = "";
	struct dmab_core *core = dmab_core_create(&options, err, sizeof(err));
	if (core == NULL)
		dmab_test_skip("allocator %s is unavailable: %s", options.allocator, err);
	test_log[0] = '\0';
	return core;
}

struct dmab_handle *test_buffer(struct dmab_account *account, uint32_t width, uint32_t height)
{
	struct dmab_buffer_desc desc = {
		.width = width,
		.height = height,
		.format = DRM_FORMAT_ARGB8888,
		.usage = DMAB_USAGE_CPU_WRITE,
		.name = "test",
	};
	struct dmab_failure fail = { 0 };
	struct dmab_handle *handle = dmab_handle_create(account, &desc, &fail);
	if (handle == NULL)
		dmab_test_fail(__FILE__, __LINE__, "create failed: %s", fail.message);
	return handle;
}

void test_recorder_init(struct recorder *rec, char name)
{
	*rec = (struct recorder){ .name = name, .mapping = { .fd = -1 } };
}

void test_recorder_finish(struct recorder *rec)
{
	if (rec->mapping.fd >= 0)
		close(rec->mapping.fd);
	rec->mapping.fd = -1;
}

struct dmab_attachment *test_attach(struct dmab_handle *handle, struct dmab_account *account,
	enum dmab_access access, uint32_t flags, uint32_t row_alignment, struct recorder *rec)
{
	struct dmab_constraints constraints = {
		.flags = flags,
		.row_alignment = row_alignment,
		.max_planes = 1,
	};
	struct dmab_misuse_report report = { 0 };
	CHECK(dmab_constraints_check(access, &constraints, &report));
	rec->att = dmab_attachment_create(handle, account, access, &constraints, &test_listener,
		rec);
	CHECK(rec->att != NULL);
	return rec->att;
}

void test_detach(struct recorder *rec)
{
	dmab_attachment_destroy(rec->att);
	rec->att = NULL;
	test_recorder_finish(rec);
}

static void check_ok(bool ok, const struct dmab_misuse_report *report, const char *what)
{
	if (!ok)
		dmab_test_fail(__FILE__, __LINE__, "%s: %s", what, report->message);
}

void test_map(struct recorder *rec, uint32_t dir)
{
	struct dmab_misuse_report report = { 0 };
	check_ok(dmab_attachment_map(rec->att, dir, &report), &report, "map");
}

void test_unmap(struct recorder *rec)
{
	struct dmab_misuse_report report = { 0 };
	check_ok(dmab_attachment_unmap(rec->att, &report), &report, "unmap");
	test_recorder_finish(rec);
}

void test_begin(struct recorder *rec, uint32_t dir)
{
	struct dmab_misuse_report report = { 0 };
	check_ok(dmab_attachment_begin_access(rec->att, dir, &report), &report, "begin_access");
}

void test_end(struct recorder *rec, uint32_t dir)
{
	struct dmab_misuse_report report = { 0 };
	check_ok(dmab_attachment_end_access(rec->att, dir, &report), &report, "end_access");
}

struct stats_query {
	uint32_t id;
	int index;
	bool found;
	int buffers;
	int attachments_seen;
	struct dmab_buffer_stats buffer;
	struct dmab_attachment_stats attachment;
};

static void visit_buffer(const struct dmab_buffer_stats *stats, void *data)
{
	struct stats_query *query = data;
	query->buffers++;
	if (stats->id == query->id) {
		query->buffer = *stats;
		query->found = true;
	}
}

static void visit_attachment(const struct dmab_attachment_stats *stats, void *data)
{
	struct stats_query *query = data;
	if (stats->buffer_id != query->id)
		return;
	if (query->attachments_seen++ == query->index) {
		query->attachment = *stats;
		query->found = true;
	}
}

bool test_buffer_stats(struct dmab_core *core, uint32_t id, struct dmab_buffer_stats *stats)
{
	struct stats_query query = { .id = id };
	dmab_core_for_each_buffer(core, visit_buffer, NULL, &query);
	if (query.found)
		*stats = query.buffer;
	return query.found;
}

int test_count_buffers(struct dmab_core *core)
{
	struct stats_query query = { .id = 0 };
	dmab_core_for_each_buffer(core, visit_buffer, NULL, &query);
	return query.buffers;
}

bool test_attachment_stats(struct dmab_core *core, uint32_t buffer_id, int index,
	struct dmab_attachment_stats *stats)
{
	struct stats_query query = { .id = buffer_id, .index = index };
	dmab_core_for_each_buffer(core, NULL, visit_attachment, &query);
	if (query.found)
		*stats = query.attachment;
	return query.found;
}

bool test_has_contiguous(struct dmab_core *core)
{
	return dmab_alloc_set_choose(dmab_core_get_allocators(core), true) != NULL;
}

/* The end of the last plane: one mapping from offset 0 holds them all. */
static size_t mapping_end(const struct dmab_mapping *mapping)
{
	size_t end = 0;
	for (uint32_t i = 0; i < mapping->n_planes; i++) {
		size_t plane_end = (size_t)mapping->planes[i].offset + mapping->planes[i].size;
		end = plane_end > end ? plane_end : end;
	}
	return end;
}

void *test_mmap(const struct dmab_mapping *mapping, bool writable)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *data = mmap(NULL, mapping_end(mapping), prot, MAP_SHARED, mapping->fd, 0);
	return data != MAP_FAILED ? data : NULL;
}

void test_munmap(const struct dmab_mapping *mapping, void *data)
{
	munmap(data, mapping_end(mapping));
}

int test_memfd(uint64_t size, int seals)
{
	int fd = memfd_create("test-import", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	if (seals != 0)
		CHECK(fcntl(fd, F_ADD_SEALS, seals) == 0);
	return fd;
}

static struct rlimit saved_nofile;

void test_fd_limit_exhaust(void)
{
	int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(lowest >= 0);
	close(lowest);
	CHECK(getrlimit(RLIMIT_NOFILE, &saved_nofile) == 0);
	struct rlimit limit = { .rlim_cur = (rlim_t)lowest, .rlim_max = saved_nofile.rlim_max };
	CHECK(setrlimit(RLIMIT_NOFILE, &limit) == 0);
	CHECK(open("/dev/null", O_RDONLY | O_CLOEXEC) < 0 && errno == EMFILE);
}

void test_fd_limit_restore(void)
{
	CHECK(setrlimit(RLIMIT_NOFILE, &saved_nofile) == 0);
}
