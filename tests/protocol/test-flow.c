/* SPDX-License-Identifier: MIT */
/*
 * Buffers shared between clients: the whole create → share → import → map →
 * bracket flow, the ordering of brackets, clients that die inside a bracket,
 * and migration to stricter storage.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RO DMABROKER_BUFFER_V1_ACCESS_READ
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

static bool att_ready(const void *data)
{
	return dmab_client_attachment_is_ready((struct dmab_client_attachment *)data);
}

static void write_frame(struct dmab_client_attachment *att, uint32_t row_bytes,
	uint32_t height, uint32_t seed)
{
	CHECK_EQ(dmab_client_attachment_begin(att, WRITE), 0);
	pattern_fill(dmab_client_attachment_get_data(att), dmab_client_attachment_get_stride(att),
		row_bytes, height, seed);
	CHECK_EQ(dmab_client_attachment_end(att), 0);
}

static void read_frame(struct dmab_client_attachment *att, uint32_t row_bytes,
	uint32_t height, uint32_t seed)
{
	CHECK_EQ(dmab_client_attachment_begin(att, READ), 0);
	CHECK(pattern_check(dmab_client_attachment_get_data(att),
		dmab_client_attachment_get_stride(att), row_bytes, height, seed));
	CHECK_EQ(dmab_client_attachment_end(att), 0);
}

/*
 * A read-only importer's fd refuses a writable mapping where the backend can
 * make such an fd (the read_only map flag says so): memfd, not dma-bufs (see
 * doc/allocators.md). The broker refuses it a WRITE map on every backend.
 */
static void expect_read_only_enforced(struct fixture *f, struct dmab_client_buffer *shared,
	struct dmab_client_attachment *reader)
{
	uint32_t flags = dmab_client_attachment_get_map_flags(reader);
	if (flags & DMABROKER_ATTACHMENT_V1_MAP_FLAGS_DMABUF)
		CHECK(!(flags & DMABROKER_ATTACHMENT_V1_MAP_FLAGS_READ_ONLY));
	else
		CHECK(flags & DMABROKER_ATTACHMENT_V1_MAP_FLAGS_READ_ONLY);

	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *imported = import_via_token(c, shared, RO);
	struct raw_attachment att;
	raw_attachment_listen(&att, dmabroker_buffer_v1_attach(
		dmab_client_buffer_get_proxy(imported), RO, 0, 0, 1));
	dmabroker_attachment_v1_map(att.proxy, WRITE);
	expect_protocol_error(c->display, &dmabroker_attachment_v1_interface,
		DMABROKER_ATTACHMENT_V1_ERROR_READ_ONLY);
	CHECK_EQ(att.mapped_count, 0);
	raw_attachment_destroy(&att);
	fixture_client_close(c);
}

DMAB_TEST(flow_share_between_two_clients)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	const uint32_t width = 100, height = 37, row_bytes = width * 4;
	struct dmab_client_buffer *produced = dmab_client_buffer_create(a->client, width, height,
		ARGB, DMABROKER_MANAGER_V1_USAGE_CPU_WRITE | DMABROKER_MANAGER_V1_USAGE_SHARE,
		"flow");
	CHECK(produced != NULL);
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(produced, &layout);
	CHECK_EQ(layout.width, width);
	CHECK_EQ(layout.height, height);
	CHECK_EQ(layout.format, ARGB);
	CHECK_EQ(layout.access, RW);
	CHECK_EQ(layout.stride, 448); /* 400 aligned up to 64 */
	CHECK(layout.size >= (uint64_t)layout.stride * height);
	CHECK_EQ(layout.size % (uint64_t)sysconf(_SC_PAGESIZE), 0);

	struct dmab_client_attachment *writer = attach_mapped(produced, RW, WRITE);
	CHECK_EQ(dmab_client_attachment_get_stride(writer), layout.stride);
	CHECK(!(dmab_client_attachment_get_map_flags(writer) &
		DMABROKER_ATTACHMENT_V1_MAP_FLAGS_READ_ONLY));
	write_frame(writer, row_bytes, height, 1);

	struct dmab_client_buffer *consumed = import_via_token(b, produced, RO);
	struct dmab_client_layout imported;
	dmab_client_buffer_get_layout(consumed, &imported);
	CHECK_EQ(imported.access, RO);
	CHECK_EQ(imported.width, width);
	CHECK_EQ(imported.height, height);
	CHECK_EQ(imported.stride, layout.stride);
	CHECK_EQ(imported.size, layout.size);
	struct dmab_client_attachment *reader = attach_mapped(consumed, RO, READ);
	expect_read_only_enforced(f, produced, reader);
	read_frame(reader, row_bytes, height, 1);

	/* The same storage: the next frame shows through the reader's mapping. */
	write_frame(writer, row_bytes, height, 2);
	read_frame(reader, row_bytes, height, 2);
	fixture_destroy(f);
}

DMAB_TEST(flow_reader_waits_for_writer)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *produced = dmab_client_buffer_create(a->client, 64, 64, ARGB,
		0, "ordering");
	CHECK(produced != NULL);
	struct dmab_client_attachment *writer = attach_mapped(produced, RW, WRITE);
	struct dmab_client_attachment *reader = attach_mapped(import_via_token(b, produced, RO),
		RO, READ);

	CHECK_EQ(dmab_client_attachment_begin(writer, WRITE), 0);
	CHECK_EQ(dmab_client_attachment_begin_async(reader, READ), 0);
	CHECK_EQ(dmab_client_roundtrip(b->client), 0);
	CHECK_EQ(dmab_client_roundtrip(a->client), 0);
	CHECK_EQ(dmab_client_roundtrip(b->client), 0);
	CHECK(!dmab_client_attachment_is_ready(reader));
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	CHECK(dispatch_until(b->display, att_ready, reader, 1000));

	/* And the other way round: a writer waits for the reader's end. */
	CHECK_EQ(dmab_client_attachment_begin_async(writer, WRITE), 0);
	CHECK_EQ(dmab_client_roundtrip(a->client), 0);
	CHECK(!dmab_client_attachment_is_ready(writer));
	CHECK_EQ(dmab_client_attachment_end(reader), 0);
	CHECK(dispatch_until(a->display, att_ready, writer, 1000));
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	fixture_destroy(f);
}

DMAB_TEST(flow_readers_share_and_waiters_keep_order)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *produced = dmab_client_buffer_create(a->client, 64, 64, ARGB,
		0, "fifo");
	CHECK(produced != NULL);
	struct dmab_client_attachment *first = attach_mapped(produced, RW, READ);
	struct dmab_client_attachment *second = attach_mapped(import_via_token(c, produced, RO),
		RO, READ);
	struct dmab_client_attachment *writer = attach_mapped(import_via_token(b, produced, RW),
		RW, WRITE);
	struct dmab_client_attachment *late = attach_mapped(import_via_token(c, produced, RO),
		RO, READ);

	/* Readers share the buffer. */
	CHECK_EQ(dmab_client_attachment_begin(first, READ), 0);
	CHECK_EQ(dmab_client_attachment_begin(second, READ), 0);
	CHECK_EQ(dmab_client_attachment_end(second), 0);
	/* A waiting writer is not overtaken by a later reader, though only reads are held. */
	CHECK_EQ(dmab_client_attachment_begin_async(writer, WRITE), 0);
	CHECK_EQ(dmab_client_roundtrip(b->client), 0);
	CHECK_EQ(dmab_client_attachment_begin_async(late, READ), 0);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	CHECK(!dmab_client_attachment_is_ready(writer));
	CHECK(!dmab_client_attachment_is_ready(late));

	CHECK_EQ(dmab_client_attachment_end(first), 0);
	CHECK(dispatch_until(b->display, att_ready, writer, 1000));
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);
	CHECK(!dmab_client_attachment_is_ready(late));
	CHECK_EQ(dmab_client_attachment_end(writer), 0);
	CHECK(dispatch_until(c->display, att_ready, late, 1000));
	CHECK_EQ(dmab_client_attachment_end(late), 0);
	fixture_destroy(f);
}

/* --- clients that go away inside a bracket --- */

struct child {
	pid_t pid;
	int report_fd; /* the child writes one line when it holds its bracket */
	char report[128];
};

/*
 * In the child: imports the token, begins a READ bracket and, if hoard is
 * set, creates, maps and shares a buffer of its own. Reports "ready <token>".
 */
static _Noreturn void child_main(int conn, int report, const char *token, bool hoard)
{
	alarm(10);
	struct wl_display *display = wl_display_connect_to_fd(conn);
	struct dmab_client *client = display ? dmab_client_create(display) : NULL;
	if (client == NULL)
		_exit(1);
	struct dmab_client_buffer *buffer = dmab_client_buffer_import(client, token);
	struct dmab_client_attachment *att = buffer ?
		dmab_client_attachment_create(buffer, RO, NULL) : NULL;
	if (att == NULL || dmab_client_attachment_map(att, READ) < 0 ||
			dmab_client_attachment_begin(att, READ) < 0)
		_exit(2);
	const char *own_token = "-";
	if (hoard) {
		struct dmab_client_buffer *own = dmab_client_buffer_create(client, 64, 64, ARGB, 0,
			"hoard");
		struct dmab_client_attachment *own_att = own ?
			dmab_client_attachment_create(own, RW, NULL) : NULL;
		struct dmab_client_token *tokens[2] = { 0 };
		if (own_att == NULL || dmab_client_attachment_map(own_att, WRITE) < 0 ||
				dmab_client_attachment_begin(own_att, WRITE) < 0 ||
				(tokens[0] = dmab_client_token_create(own, RW)) == NULL ||
				(tokens[1] = dmab_client_token_create(own, RO)) == NULL)
			_exit(3);
		own_token = dmab_client_token_get_string(tokens[1]);
	}
	dprintf(report, "ready %s\n", own_token);
	for (;;)
		pause();
}

static void child_spawn(struct child *child, struct fixture *f, const char *token, bool hoard)
{
	int conn[2], report[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, conn), 0);
	CHECK_EQ(pipe2(report, O_CLOEXEC), 0);
	fflush(stdout);
	child->pid = fork();
	CHECK(child->pid >= 0);
	if (child->pid == 0) {
		close(conn[0]);
		close(report[0]);
		child_main(conn[1], report[1], token, hoard);
	}
	close(conn[1]);
	close(report[1]);
	fixture_add_client_fd(f, conn[0]);
	child->report_fd = report[0];

	size_t len = 0;
	while (len + 1 < sizeof(child->report) && memchr(child->report, '\n', len) == NULL) {
		struct pollfd pfd = { .fd = child->report_fd, .events = POLLIN };
		CHECK_EQ(poll(&pfd, 1, 5000), 1);
		ssize_t n = read(child->report_fd, child->report + len,
			sizeof(child->report) - 1 - len);
		if (n <= 0)
			dmab_test_fail(__FILE__, __LINE__, "the child failed before its bracket");
		len += (size_t)n;
	}
	child->report[len] = '\0';
	CHECK(strncmp(child->report, "ready ", 6) == 0);
}

static void child_kill(struct child *child)
{
	CHECK_EQ(kill(child->pid, SIGKILL), 0);
	int status;
	CHECK_EQ(waitpid(child->pid, &status, 0), child->pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(child->report_fd);
}

struct shared_setup {
	struct fixture_client *a;
	struct dmab_client_buffer *buffer;
	struct dmab_client_attachment *writer;
	char token[64];
};

static void shared_setup_init(struct shared_setup *s, struct fixture *f)
{
	s->a = fixture_client(f);
	s->buffer = dmab_client_buffer_create(s->a->client, 64, 64, ARGB, 0, "shared");
	CHECK(s->buffer != NULL);
	s->writer = attach_mapped(s->buffer, RW, WRITE);
	struct dmab_client_token *token = dmab_client_token_create(s->buffer, RO);
	CHECK(token != NULL);
	snprintf(s->token, sizeof(s->token), "%s", dmab_client_token_get_string(token));
}

/* The writer waits for the child's READ bracket. */
static void writer_blocked(struct shared_setup *s)
{
	CHECK_EQ(dmab_client_attachment_begin_async(s->writer, WRITE), 0);
	CHECK_EQ(dmab_client_roundtrip(s->a->client), 0);
	CHECK(!dmab_client_attachment_is_ready(s->writer));
}

DMAB_TEST(killed_client_releases_its_bracket)
{
	struct fixture *f = fixture_create(NULL);
	struct shared_setup s;
	shared_setup_init(&s, f);
	struct child child;
	child_spawn(&child, f, s.token, false);
	writer_blocked(&s);
	child_kill(&child);
	CHECK(dispatch_until(s.a->display, att_ready, s.writer, 2000));
	CHECK_EQ(dmab_client_attachment_end(s.writer), 0);
	fixture_destroy(f);
}

DMAB_TEST(disconnected_client_releases_its_bracket)
{
	struct fixture *f = fixture_create(NULL);
	struct shared_setup s;
	shared_setup_init(&s, f);
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *imported = dmab_client_buffer_import(b->client, s.token);
	CHECK(imported != NULL);
	struct dmab_client_attachment *reader = attach_mapped(imported, RO, READ);
	CHECK_EQ(dmab_client_attachment_begin(reader, READ), 0);
	writer_blocked(&s);

	/* The connection goes, with every object still held. */
	CHECK_EQ(shutdown(wl_display_get_fd(b->display), SHUT_RDWR), 0);
	CHECK(dispatch_until(s.a->display, att_ready, s.writer, 2000));
	CHECK_EQ(dmab_client_attachment_end(s.writer), 0);
	/* The library reports the lost connection and still frees everything. */
	CHECK_EQ(dmab_client_roundtrip(b->client), -EPIPE);
	CHECK(dmab_client_buffer_create(b->client, 16, 16, ARGB, 0, "late") == NULL);
	CHECK_EQ(errno, EPIPE);
	fixture_client_close(b);
	fixture_destroy(f);
}

DMAB_TEST(killed_client_releases_everything)
{
	struct fixture *f = fixture_create(NULL);
	struct shared_setup s;
	shared_setup_init(&s, f);
	struct info_snapshot snap;
	CHECK(info_snapshot_take(s.a->display, dmab_client_get_manager(s.a->client), &snap));
	int shared = info_find_buffer(&snap, "shared");
	CHECK(shared >= 0);
	uint32_t shared_id = snap.buffers[shared].id;
	size_t attachments_before = info_count_attachments(&snap, shared_id);
	int baseline = fixture_count_fds(f);

	struct child child;
	child_spawn(&child, f, s.token, true);
	char hoard_token[64];
	CHECK_EQ(sscanf(child.report, "ready %63s", hoard_token), 1);
	CHECK_EQ(strlen(hoard_token), 32);
	CHECK(info_snapshot_take(s.a->display, dmab_client_get_manager(s.a->client), &snap));
	int hoard = info_find_buffer(&snap, "hoard");
	CHECK(hoard >= 0);
	CHECK(snap.buffers[hoard].write_fence);
	CHECK_EQ(info_count_attachments(&snap, shared_id), attachments_before + 1);
	writer_blocked(&s);

	child_kill(&child);
	CHECK(dispatch_until(s.a->display, att_ready, s.writer, 2000));
	CHECK(info_snapshot_take(s.a->display, dmab_client_get_manager(s.a->client), &snap));
	CHECK_EQ(info_find_buffer(&snap, "hoard"), -1);
	CHECK_EQ(info_count_attachments(&snap, shared_id), attachments_before);
	shared = info_find_buffer(&snap, "shared");
	CHECK(shared >= 0);
	CHECK(snap.buffers[shared].write_fence);
	CHECK_EQ(snap.buffers[shared].read_fences, 0);
	/* Its tokens died with its buffer. */
	CHECK(dmab_client_buffer_import(s.a->client, hoard_token) == NULL);
	CHECK_EQ(errno, ENOENT);
	/* The connection and the storage of its buffer are closed. */
	CHECK_EQ(fixture_count_fds(f), baseline);
	CHECK_EQ(dmab_client_attachment_end(s.writer), 0);
	fixture_destroy(f);
}

/* --- migration --- */

struct migration {
	struct fixture_client *a;
	struct dmab_client_buffer *buffer;
	struct dmab_client_attachment *writer;
	uint32_t old_stride;
	char token[64];
};

enum { MIG_WIDTH = 100, MIG_HEIGHT = 20, MIG_ROW = MIG_WIDTH * 4, MIG_SEED = 9 };

static void migration_init(struct migration *m, struct fixture *f)
{
	m->a = fixture_client(f);
	m->buffer = dmab_client_buffer_create(m->a->client, MIG_WIDTH, MIG_HEIGHT, ARGB, 0,
		"migrating");
	CHECK(m->buffer != NULL);
	m->writer = attach_mapped(m->buffer, RW, READ | WRITE);
	m->old_stride = dmab_client_attachment_get_stride(m->writer);
	CHECK(m->old_stride % 4096 != 0);
	write_frame(m->writer, MIG_ROW, MIG_HEIGHT, MIG_SEED);
	/* Only a client that may write the buffer can make it move. */
	struct dmab_client_token *token = dmab_client_token_create(m->buffer, RW);
	CHECK(token != NULL);
	snprintf(m->token, sizeof(m->token), "%s", dmab_client_token_get_string(token));
}

static bool raw_mapped(const void *data)
{
	const struct raw_attachment *att = data;
	return att->mapped_count > 0;
}

DMAB_TEST(migration_end_to_end)
{
	struct fixture *f = fixture_create(NULL);
	struct migration m;
	migration_init(&m, f);
	struct fixture_client *b = fixture_connect(f);
	struct dmab_client *b_client = dmab_client_create(b->display);
	CHECK(b_client != NULL);
	b->client = b_client;
	struct raw_buffer imported;
	raw_buffer_listen(&imported, dmabroker_manager_v1_import_buffer(
		dmab_client_get_manager(b_client), m.token));
	struct raw_attachment strict;
	raw_attachment_listen(&strict, dmabroker_buffer_v1_attach(imported.proxy, RO, 0, 4096, 1));
	ROUNDTRIP(b->display);
	CHECK_EQ(imported.info_count, 1);
	CHECK_EQ(imported.stride, m.old_stride);
	CHECK(!strict.failed);
	CHECK_EQ(dmab_client_roundtrip(m.a->client), 0);
	CHECK(dmab_client_attachment_moved(m.writer));

	/* Held back while the old mapping lives. */
	dmabroker_attachment_v1_map(strict.proxy, READ);
	ROUNDTRIP(b->display);
	CHECK_EQ(strict.mapped_count, 0);
	CHECK_EQ(dmab_client_attachment_unmap(m.writer), 0);
	CHECK(dispatch_until(b->display, raw_mapped, &strict, 1000));
	CHECK(strict.stride >= MIG_ROW);
	CHECK_EQ(strict.stride % 4096, 0);
	CHECK_EQ(imported.info_count, 2);
	CHECK_EQ(imported.stride, strict.stride);
	CHECK(imported.size >= (uint64_t)strict.stride * MIG_HEIGHT);

	/* Every row was copied to its new place. */
	dmabroker_attachment_v1_begin_access(strict.proxy, READ);
	ROUNDTRIP(b->display);
	CHECK_EQ(strict.ready_count, 1);
	CHECK_EQ(strict.offset % (uint32_t)sysconf(_SC_PAGESIZE), 0);
	void *data = mmap(NULL, strict.size, PROT_READ, MAP_SHARED, strict.fd, strict.offset);
	CHECK(data != MAP_FAILED);
	CHECK(pattern_check(data, strict.stride, MIG_ROW, MIG_HEIGHT, MIG_SEED));
	munmap(data, strict.size);
	dmabroker_attachment_v1_end_access(strict.proxy, READ);

	/* The writer remaps onto the new storage. */
	CHECK_EQ(dmab_client_roundtrip(m.a->client), 0);
	struct dmab_client_layout layout;
	dmab_client_buffer_get_layout(m.buffer, &layout);
	CHECK_EQ(layout.stride, strict.stride);
	CHECK_EQ(dmab_client_attachment_map(m.writer, READ | WRITE), 0);
	CHECK(!dmab_client_attachment_moved(m.writer));
	CHECK_EQ(dmab_client_attachment_get_stride(m.writer), strict.stride);
	read_frame(m.writer, MIG_ROW, MIG_HEIGHT, MIG_SEED);
	raw_attachment_destroy(&strict);
	raw_buffer_destroy(&imported);
	ROUNDTRIP(b->display);
	fixture_destroy(f);
}

struct map_thread {
	struct dmab_client_attachment *att;
	int ret;
	atomic_bool done;
};

static void *map_thread_main(void *data)
{
	struct map_thread *mt = data;
	mt->ret = dmab_client_attachment_map(mt->att, READ);
	atomic_store(&mt->done, true);
	return NULL;
}

/* The library's blocking map waits out a migration; remap moves the writer. */
DMAB_TEST(migration_blocking_map_and_remap)
{
	struct fixture *f = fixture_create(NULL);
	struct migration m;
	migration_init(&m, f);
	struct fixture_client *b = fixture_client(f);
	struct dmab_client_buffer *imported = dmab_client_buffer_import(b->client, m.token);
	CHECK(imported != NULL);
	struct dmab_client_constraints strict = { .row_alignment = 4096 };
	struct dmab_client_attachment *reader = dmab_client_attachment_create(imported, RO,
		&strict);
	CHECK(reader != NULL);
	CHECK_EQ(dmab_client_roundtrip(b->client), 0);
	CHECK_EQ(dmab_client_roundtrip(m.a->client), 0);
	CHECK(dmab_client_attachment_moved(m.writer));

	/* b's display belongs to the thread until it is joined. */
	struct map_thread mt = { .att = reader };
	pthread_t thread;
	CHECK_EQ(pthread_create(&thread, NULL, map_thread_main, &mt), 0);
	usleep(50 * 1000);
	CHECK(!atomic_load(&mt.done));
	CHECK_EQ(dmab_client_attachment_remap(m.writer), 0);
	CHECK_EQ(pthread_join(thread, NULL), 0);
	CHECK_EQ(mt.ret, 0);

	uint32_t stride = dmab_client_attachment_get_stride(reader);
	CHECK_EQ(stride % 4096, 0);
	CHECK_EQ(dmab_client_attachment_get_stride(m.writer), stride);
	read_frame(reader, MIG_ROW, MIG_HEIGHT, MIG_SEED);
	read_frame(m.writer, MIG_ROW, MIG_HEIGHT, MIG_SEED);
	write_frame(m.writer, MIG_ROW, MIG_HEIGHT, MIG_SEED + 1);
	read_frame(reader, MIG_ROW, MIG_HEIGHT, MIG_SEED + 1);
	fixture_destroy(f);
}
