/* SPDX-License-Identifier: MIT */
/* Fences: callbacks, create_all, fd export, and the buffer's read and write fences. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"

struct waiter {
	struct dmab_fence_cb cb;
	int calls;
	int order;
};

static int order_counter;

static void waiter_func(struct dmab_fence *fence, struct dmab_fence_cb *cb)
{
	struct waiter *waiter = dmab_container_of(cb, struct waiter, cb);
	CHECK(dmab_fence_is_signaled(fence));
	waiter->calls++;
	waiter->order = ++order_counter;
}

static bool readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

DMAB_TEST(fence_callbacks_run_once_in_order)
{
	struct dmab_fence *fence = dmab_fence_create();
	struct waiter a = { 0 }, b = { 0 }, c = { 0 };
	CHECK(dmab_fence_add_callback(fence, &a.cb, waiter_func));
	CHECK(dmab_fence_add_callback(fence, &b.cb, waiter_func));
	CHECK(dmab_fence_add_callback(fence, &c.cb, waiter_func));
	CHECK(dmab_fence_remove_callback(fence, &b.cb));
	CHECK(!dmab_fence_remove_callback(fence, &b.cb));
	CHECK(!dmab_fence_is_signaled(fence));
	dmab_fence_signal(fence);
	dmab_fence_signal(fence);
	CHECK(dmab_fence_is_signaled(fence));
	CHECK_EQ(a.calls, 1);
	CHECK_EQ(b.calls, 0);
	CHECK_EQ(c.calls, 1);
	CHECK(a.order < c.order);
	CHECK(!dmab_fence_remove_callback(fence, &a.cb));
	CHECK(!dmab_fence_add_callback(fence, &b.cb, waiter_func));
	CHECK_EQ(b.calls, 0);
	dmab_fence_unref(fence);

	struct dmab_fence *done = dmab_fence_create_signaled();
	CHECK(dmab_fence_is_signaled(done));
	CHECK(!dmab_fence_add_callback(done, &a.cb, waiter_func));
	dmab_fence_unref(done);
	dmab_fence_unref(NULL);
}

DMAB_TEST(fence_freed_with_waiters_unlinks_them)
{
	struct dmab_fence *fence = dmab_fence_create();
	struct waiter a = { 0 };
	CHECK(dmab_fence_add_callback(fence, &a.cb, waiter_func));
	dmab_fence_unref(fence);
	CHECK(dmab_list_empty(&a.cb.link));
	CHECK_EQ(a.calls, 0);
}

DMAB_TEST(fence_all_signals_after_the_last)
{
	struct dmab_fence *none = dmab_fence_create_all(NULL, 0);
	CHECK(dmab_fence_is_signaled(none));
	dmab_fence_unref(none);

	struct dmab_fence *fences[3] = {
		dmab_fence_create(), dmab_fence_create_signaled(), dmab_fence_create(),
	};
	struct dmab_fence *all = dmab_fence_create_all(fences, 3);
	struct waiter w = { 0 };
	CHECK(dmab_fence_add_callback(all, &w.cb, waiter_func));
	/* The whole holds its inputs. */
	for (int i = 0; i < 3; i++)
		dmab_fence_unref(fences[i]);
	dmab_fence_signal(fences[2]);
	CHECK(!dmab_fence_is_signaled(all));
	dmab_fence_signal(fences[0]);
	CHECK(dmab_fence_is_signaled(all));
	CHECK_EQ(w.calls, 1);
	dmab_fence_unref(all);

	struct dmab_fence *signaled[2] = { dmab_fence_create_signaled(),
		dmab_fence_create_signaled() };
	all = dmab_fence_create_all(signaled, 2);
	CHECK(dmab_fence_is_signaled(all));
	dmab_fence_unref(all);
	dmab_fence_unref(signaled[0]);
	dmab_fence_unref(signaled[1]);
}

DMAB_TEST(fence_all_outlives_its_last_reference_until_its_inputs_signal)
{
	struct dmab_fence *input = dmab_fence_create();
	struct dmab_fence *all = dmab_fence_create_all(&input, 1);
	int efd = dmab_fence_export_fd(all);
	CHECK(efd >= 0);
	dmab_fence_unref(all);
	CHECK(!dmab_list_empty(&input->callbacks));
	CHECK_EQ(input->refcount, 2);
	CHECK(!readable(efd));

	dmab_fence_signal(input);
	CHECK(readable(efd));
	CHECK(dmab_list_empty(&input->callbacks));
	CHECK_EQ(input->refcount, 1);
	close(efd);
	dmab_fence_unref(input);
}

static void unref_in_callback(struct dmab_fence *fence, struct dmab_fence_cb *cb)
{
	struct waiter *waiter = dmab_container_of(cb, struct waiter, cb);
	waiter->calls++;
	dmab_fence_unref(fence);
}

DMAB_TEST(fence_callback_may_drop_the_last_reference)
{
	struct dmab_fence *fence = dmab_fence_create();
	struct dmab_fence *all = dmab_fence_create_all(&fence, 1);
	struct waiter a = { 0 }, b = { 0 };
	CHECK(dmab_fence_add_callback(all, &a.cb, unref_in_callback));
	CHECK(dmab_fence_add_callback(fence, &b.cb, unref_in_callback));
	dmab_fence_signal(fence);
	CHECK_EQ(a.calls, 1);
	CHECK_EQ(b.calls, 1);
}

/* A byte, then end-of-file: a signaled export. */
static bool signaled_export(int fd)
{
	char byte;
	return readable(fd) && read(fd, &byte, 1) == 1 && read(fd, &byte, 1) == 0;
}

DMAB_TEST(export_is_readable_only_after_signal)
{
	struct dmab_fence *fence = dmab_fence_create();
	int fd = dmab_fence_export_fd(fence);
	CHECK(fd >= 0);
	CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	int second = dmab_fence_export_fd(fence);
	CHECK(second >= 0);
	CHECK(!readable(fd));
	CHECK(!readable(second));
	dmab_fence_signal(fence);
	CHECK(signaled_export(fd));
	CHECK(signaled_export(second));
	close(second);

	int late = dmab_fence_export_fd(fence);
	CHECK(late >= 0);
	CHECK(signaled_export(late));
	close(late);
	close(fd);
	dmab_fence_unref(fence);
}

/* Nobody is left to signal it: its holders see end-of-file, without the byte. */
DMAB_TEST(export_outlives_the_fence)
{
	int before = dmab_test_count_fds();
	struct dmab_fence *fence = dmab_fence_create();
	int fd = dmab_fence_export_fd(fence);
	CHECK(fd >= 0);
	CHECK_EQ(dmab_test_count_fds(), before + 2);
	CHECK(!readable(fd));
	dmab_fence_unref(fence);
	CHECK_EQ(dmab_test_count_fds(), before + 1);
	char byte;
	CHECK(readable(fd));
	CHECK_EQ(read(fd, &byte, 1), 0);
	close(fd);
}

static void alarm_fired(int sig)
{
	(void)sig;
	static const char msg[] = "the broker blocked signaling a fence\n";
	ssize_t ret = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)ret;
	_exit(1);
}

/*
 * A holder can signal nothing, not even through a write end reopened from
 * /proc, and none of its tricks touches the fence or another holder's fd. An
 * eventfd failed this: the holder's write() made it readable, and with
 * O_NONBLOCK cleared and the counter full, the broker's own write on signal
 * blocked forever.
 */
DMAB_TEST(export_cannot_be_signaled_by_its_holder)
{
	struct dmab_fence *fence = dmab_fence_create();
	int mine = dmab_fence_export_fd(fence);
	int other = dmab_fence_export_fd(fence);
	CHECK(mine >= 0 && other >= 0);

	CHECK_EQ(fcntl(mine, F_SETFL, 0), 0);
	signal(SIGPIPE, SIG_IGN);
	uint64_t full = UINT64_MAX - 1;
	errno = 0;
	CHECK_EQ(send(mine, &full, sizeof(full), MSG_NOSIGNAL), -1);
	CHECK_EQ(errno, EPIPE);
	errno = 0;
	CHECK_EQ(write(mine, &full, sizeof(full)), -1);
	CHECK(errno == EPIPE || errno == EBADF);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mine);
	errno = 0;
	CHECK_EQ(open(path, O_WRONLY | O_CLOEXEC), -1);
	CHECK_EQ(errno, ENXIO);

	CHECK(!readable(mine));
	CHECK(!readable(other));
	CHECK(!dmab_fence_is_signaled(fence));

	signal(SIGALRM, alarm_fired);
	alarm(5);
	dmab_fence_signal(fence);
	alarm(0);
	CHECK(signaled_export(mine));
	CHECK(signaled_export(other));
	close(mine);
	close(other);
	dmab_fence_unref(fence);
}

/* A holder that closed its end costs the broker no SIGPIPE. */
DMAB_TEST(export_closed_by_its_holder)
{
	struct dmab_fence *fence = dmab_fence_create();
	int fd = dmab_fence_export_fd(fence);
	CHECK(fd >= 0);
	close(fd);
	signal(SIGPIPE, SIG_DFL);
	dmab_fence_signal(fence);
	CHECK(dmab_fence_is_signaled(fence));
	dmab_fence_unref(fence);
}

struct buffer_fixture {
	struct dmab_core *core;
	struct dmab_account *account;
	struct dmab_handle *handle;
	struct dmab_buffer *buffer;
	struct recorder rec[3];
	/* One client each: a client's own brackets on one buffer may not conflict. */
	struct dmab_account *peers[3];
};

static void buffer_setup(struct buffer_fixture *f)
{
	f->core = test_core_create(NULL);
	f->account = dmab_account_create(f->core, 1, 1);
	f->handle = test_buffer(f->account, 16, 16);
	f->buffer = dmab_handle_get_buffer(f->handle);
	for (int i = 0; i < 3; i++) {
		test_recorder_init(&f->rec[i], (char)('A' + i));
		f->peers[i] = dmab_account_create(f->core, 10 + i, 1);
		test_attach(f->handle, f->peers[i], DMAB_ACCESS_READ_WRITE, 0, 0, &f->rec[i]);
		test_map(&f->rec[i], DMAB_DIR_ALL);
	}
}

static void buffer_teardown(struct buffer_fixture *f)
{
	for (int i = 0; i < 3; i++)
		test_detach(&f->rec[i]);
	dmab_handle_destroy(f->handle);
	for (size_t i = 0; i < sizeof(f->peers) / sizeof(f->peers[0]); i++) {
		dmab_account_destroy(f->peers[i]);
	}
	dmab_account_destroy(f->account);
	dmab_core_destroy(f->core);
}

DMAB_TEST(write_fence_is_the_held_writers)
{
	struct buffer_fixture f;
	buffer_setup(&f);
	struct dmab_fence *idle = dmab_buffer_get_fence(f.buffer, true);
	CHECK(dmab_fence_is_signaled(idle));
	dmab_fence_unref(idle);

	test_begin(&f.rec[0], DMAB_DIR_WRITE);
	struct dmab_fence *fence = dmab_buffer_get_fence(f.buffer, true);
	struct dmab_fence *same = dmab_buffer_get_fence(f.buffer, true);
	CHECK(fence == same);
	dmab_fence_unref(same);
	CHECK(!dmab_fence_is_signaled(fence));
	int fd = dmab_fence_export_fd(fence);
	CHECK(fd >= 0);
	struct dmab_fence *readers = dmab_buffer_get_fence(f.buffer, false);
	CHECK(dmab_fence_is_signaled(readers));
	dmab_fence_unref(readers);

	test_end(&f.rec[0], DMAB_DIR_WRITE);
	CHECK(dmab_fence_is_signaled(fence));
	CHECK(readable(fd));
	close(fd);
	dmab_fence_unref(fence);
	buffer_teardown(&f);
}

DMAB_TEST(read_fence_covers_the_readers_of_the_moment)
{
	struct buffer_fixture f;
	buffer_setup(&f);
	test_begin(&f.rec[0], DMAB_DIR_READ);
	test_begin(&f.rec[1], DMAB_DIR_READ);
	struct dmab_fence *fence = dmab_buffer_get_fence(f.buffer, false);
	CHECK(!dmab_fence_is_signaled(fence));
	struct dmab_fence *writer = dmab_buffer_get_fence(f.buffer, true);
	CHECK(dmab_fence_is_signaled(writer));
	dmab_fence_unref(writer);

	/* A later reader is not part of the snapshot. */
	test_end(&f.rec[0], DMAB_DIR_READ);
	test_begin(&f.rec[2], DMAB_DIR_READ);
	CHECK(!dmab_fence_is_signaled(fence));
	test_end(&f.rec[1], DMAB_DIR_READ);
	CHECK(dmab_fence_is_signaled(fence));
	dmab_fence_unref(fence);

	struct dmab_fence *later = dmab_buffer_get_fence(f.buffer, false);
	CHECK(!dmab_fence_is_signaled(later));
	test_detach(&f.rec[2]);
	CHECK(dmab_fence_is_signaled(later));
	dmab_fence_unref(later);
	test_recorder_init(&f.rec[2], 'C');
	test_attach(f.handle, f.account, DMAB_ACCESS_READ, 0, 0, &f.rec[2]);
	buffer_teardown(&f);
}
