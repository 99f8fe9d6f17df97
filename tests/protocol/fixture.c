/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wayland-server.h>

#include "fixture.h"
#include "harness.h"

struct task {
	fixture_task_func func;
	void *data;
	bool done;
	struct task *next;
};

struct fixture {
	struct wl_display *display;
	struct dmab_server *server;
	char allocator[64];
	int wake_fd;
	struct wl_event_source *wake_source;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct task *tasks; /* under lock */
	struct fixture_client *clients;
};

static void run_tasks(struct fixture *f)
{
	pthread_mutex_lock(&f->lock);
	while (f->tasks != NULL) {
		struct task *task = f->tasks;
		f->tasks = task->next;
		pthread_mutex_unlock(&f->lock);
		task->func(task->data);
		pthread_mutex_lock(&f->lock);
		task->done = true;
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static int handle_wake(int fd, uint32_t mask, void *data)
{
	uint64_t count;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		fprintf(stderr, "fixture: reading the wake eventfd: %s\n", strerror(errno));
	run_tasks(data);
	return 0;
}

static void *server_main(void *data)
{
	struct fixture *f = data;
	wl_display_run(f->display);
	return NULL;
}

void fixture_run(struct fixture *f, fixture_task_func func, void *data)
{
	struct task task = { .func = func, .data = data };
	pthread_mutex_lock(&f->lock);
	struct task **tail = &f->tasks;
	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = &task;
	uint64_t one = 1;
	if (write(f->wake_fd, &one, sizeof(one)) < 0)
		dmab_test_fail(__FILE__, __LINE__, "waking the server thread: %s", strerror(errno));
	while (!task.done)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
}

static void noop_task(void *data)
{
}

int fixture_count_fds(struct fixture *f)
{
	fixture_run(f, noop_task, NULL);
	return dmab_test_count_fds();
}

struct fixture *fixture_create(const struct fixture_options *options)
{
	struct fixture *f = calloc(1, sizeof(*f));
	CHECK(f != NULL);
	f->display = wl_display_create();
	CHECK(f->display != NULL);
	struct dmab_server_options server_options = { .allocator = dmab_test_allocator() };
	if (options != NULL) {
		server_options.quota = options->quota;
		server_options.uid_quota = options->uid_quota;
		server_options.max_width = options->max_width;
		server_options.max_height = options->max_height;
		server_options.linux_dmabuf = options->linux_dmabuf;
		server_options.max_hold_ms = options->max_hold_ms;
	}
	f->server = dmab_server_create(f->display, &server_options);
	if (f->server == NULL && errno == ENODEV)
		dmab_test_skip("allocator %s unavailable: %s", dmab_test_allocator(),
			dmab_server_last_error());
	if (f->server == NULL)
		dmab_test_fail(__FILE__, __LINE__, "dmab_server_create: %s",
			dmab_server_last_error());
	snprintf(f->allocator, sizeof(f->allocator), "%s", dmab_server_allocator_name(f->server));
	f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(f->wake_fd >= 0);
	f->wake_source = wl_event_loop_add_fd(wl_display_get_event_loop(f->display), f->wake_fd,
		WL_EVENT_READABLE, handle_wake, f);
	CHECK(f->wake_source != NULL);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	CHECK_EQ(pthread_create(&f->thread, NULL, server_main, f), 0);
	return f;
}

const char *fixture_allocator_name(const struct fixture *f)
{
	return f->allocator;
}

static void terminate_task(void *data)
{
	struct fixture *f = data;
	wl_display_terminate(f->display);
}

static void destroy_server_task(void *data)
{
	struct fixture *f = data;
	dmab_server_destroy(f->server);
	f->server = NULL;
}

struct dmab_server *fixture_server(struct fixture *f)
{
	return f->server;
}

struct wl_display *fixture_server_display(struct fixture *f)
{
	return f->display;
}

void fixture_destroy_server(struct fixture *f)
{
	fixture_run(f, destroy_server_task, f);
}

void fixture_destroy(struct fixture *f)
{
	while (f->clients != NULL)
		fixture_client_close(f->clients);
	fixture_run(f, terminate_task, f);
	CHECK_EQ(pthread_join(f->thread, NULL), 0);
	/* The server thread is gone: this thread owns the server objects now. */
	wl_display_destroy_clients(f->display);
	dmab_server_destroy(f->server);
	wl_event_source_remove(f->wake_source);
	close(f->wake_fd);
	wl_display_destroy(f->display);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

struct add_client {
	struct fixture *f;
	int fd;
	struct wl_client *client;
	struct fixture_client *c; /* may be NULL */
};

static void handle_server_client_destroy(struct wl_listener *listener, void *data)
{
	struct fixture_client *c = wl_container_of(listener, c, server_destroy);
	c->server_gone = true;
}

static void add_client_task(void *data)
{
	struct add_client *add = data;
	add->client = wl_client_create(add->f->display, add->fd);
	if (add->client != NULL && add->c != NULL) {
		add->c->server_destroy.notify = handle_server_client_destroy;
		wl_client_add_destroy_listener(add->client, &add->c->server_destroy);
	}
}

static struct wl_client *add_client(struct fixture *f, int fd, struct fixture_client *c)
{
	struct add_client add = { .f = f, .fd = fd, .c = c };
	fixture_run(f, add_client_task, &add);
	CHECK(add.client != NULL);
	return add.client;
}

struct wl_client *fixture_add_client_fd(struct fixture *f, int fd)
{
	return add_client(f, fd, NULL);
}

struct fixture_client *fixture_connect(struct fixture *f)
{
	int fds[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
	struct fixture_client *c = calloc(1, sizeof(*c));
	CHECK(c != NULL);
	c->fixture = f;
	c->server_client = add_client(f, fds[0], c);
	c->display = wl_display_connect_to_fd(fds[1]);
	CHECK(c->display != NULL);
	c->next = f->clients;
	f->clients = c;
	return c;
}

struct fixture_client *fixture_client(struct fixture *f)
{
	struct fixture_client *c = fixture_connect(f);
	c->client = dmab_client_create(c->display);
	if (c->client == NULL)
		dmab_test_fail(__FILE__, __LINE__, "dmab_client_create: %s", strerror(errno));
	return c;
}

struct client_gone {
	struct fixture_client *c;
	bool gone;
};

static void client_gone_task(void *data)
{
	struct client_gone *check = data;
	check->gone = check->c->server_gone;
}

/* Which client the server serves next is the epoll order's business: wait. */
static void wait_server_client_gone(struct fixture_client *c)
{
	struct client_gone check = { .c = c };
	for (int waited_ms = 0; waited_ms < 2000; waited_ms++) {
		fixture_run(c->fixture, client_gone_task, &check);
		if (check.gone)
			return;
		usleep(1000);
	}
	dmab_test_fail(__FILE__, __LINE__, "the server kept a closed client");
}

void fixture_client_close(struct fixture_client *c)
{
	struct fixture_client **link = &c->fixture->clients;
	while (*link != c)
		link = &(*link)->next;
	*link = c->next;
	dmab_client_destroy(c->client);
	wl_display_disconnect(c->display);
	wait_server_client_gone(c);
	free(c);
}
