/*
 * Broker fences that an fd signals: a sync_file, a dma-buf's implicit fences,
 * a client's eventfd. The event loop polls the fd and signals the fence once
 * it is ready; nothing ever blocks on one.
 *
 * The kernel signals every dma_fence in finite time, so a watch on a sync_file
 * or a dma-buf lives until its fd is ready. An eventfd is different: only the
 * client that sent it can write it, so its watch is signaled when that client
 * disconnects, as the broker then has nobody left to wait for.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include <linux/sync_file.h>

#include "alloc/alloc.h"
#include "server-private.h"

struct fd_watch {
	struct wl_list link; /* struct dmab_server.fd_watches */
	struct wl_event_source *source;
	struct dmab_fence *fence; /* a reference */
	struct wl_client *owner; /* of an eventfd, else NULL */
};

static void watch_signal(struct fd_watch *watch)
{
	struct dmab_fence *fence = watch->fence;

	wl_list_remove(&watch->link);
	wl_event_source_remove(watch->source);
	free(watch);
	/* Last: its callbacks may add watches, or finish the server's. */
	dmab_fence_signal(fence);
	dmab_fence_unref(fence);
}

/* Any event ends the wait: a hangup or an error would never turn into POLLIN. */
static int handle_fd_ready(int fd, uint32_t mask, void *data)
{
	watch_signal(data);
	return 0;
}

static bool fd_ready(int fd, uint32_t mask)
{
	struct pollfd pfd = {
		.fd = fd,
		.events = ((mask & WL_EVENT_READABLE) ? POLLIN : 0) |
			((mask & WL_EVENT_WRITABLE) ? POLLOUT : 0),
	};

	return poll(&pfd, 1, 0) == 1;
}

/*
 * Whether libwayland's duplicate of fd stays out of the fd headroom: it takes
 * the lowest free number, the one a probe takes and gives back just before.
 */
static bool fd_below_headroom(int fd)
{
	int probe = dmab_fd_check_headroom(fcntl(fd, F_DUPFD_CLOEXEC, 0));

	if (probe < 0)
		return false;
	close(probe);
	return true;
}

bool server_fd_fence_watch(struct dmab_server *server, int fd, uint32_t mask,
	struct wl_client *owner, struct dmab_fence *fence)
{
	struct fd_watch *watch;

	if (fd_ready(fd, mask)) {
		dmab_fence_signal(fence);
		return true;
	}
	if (!fd_below_headroom(fd))
		return false;
	watch = calloc(1, sizeof(*watch));
	if (!watch)
		return false;
	/* libwayland polls a duplicate of fd: the caller keeps its own. */
	watch->source = wl_event_loop_add_fd(server->loop, fd, mask, handle_fd_ready, watch);
	if (!watch->source) {
		free(watch);
		return false;
	}
	watch->fence = dmab_fence_ref(fence);
	watch->owner = owner;
	wl_list_insert(&server->fd_watches, &watch->link);
	return true;
}

/* Signals the watches of owner (NULL: every watch), taken off the list first. */
static void signal_watches(struct dmab_server *server, struct wl_client *owner)
{
	struct fd_watch *watch, *tmp;
	struct wl_list doomed;

	wl_list_init(&doomed);
	wl_list_for_each_safe(watch, tmp, &server->fd_watches, link) {
		if (owner && watch->owner != owner)
			continue;
		wl_list_remove(&watch->link);
		wl_list_insert(doomed.prev, &watch->link);
	}
	while (!wl_list_empty(&doomed)) {
		watch = wl_container_of(doomed.next, watch, link);
		watch_signal(watch);
	}
}

void server_fd_fences_release_client(struct dmab_server *server, struct wl_client *client)
{
	signal_watches(server, client);
}

void server_fd_fences_finish(struct dmab_server *server)
{
	signal_watches(server, NULL);
}

struct dmab_fence *server_implicit_fence(struct dmab_server *server,
	struct dmab_buffer *buffer, bool write)
{
	int fd = dmab_buffer_get_dmabuf_fd(buffer);
	struct dmab_fence *fence;

	if (fd < 0)
		return dmab_fence_create_signaled();
	fence = dmab_fence_create();
	if (!fence)
		return NULL;
	/* poll() on a dma-buf: POLLIN once the writes are done, POLLOUT once every access is. */
	if (!server_fd_fence_watch(server, fd, write ? WL_EVENT_READABLE : WL_EVENT_WRITABLE,
			NULL, fence)) {
		dmab_fence_unref(fence);
		return NULL;
	}
	return fence;
}

static bool fd_is_sync_file(int fd)
{
	struct sync_file_info info = {0};

	return ioctl(fd, SYNC_IOC_FILE_INFO, &info) == 0;
}

/* eventfds have no ioctl of their own; their fdinfo names them. */
static bool fd_is_eventfd(int fd)
{
	char path[64], text[512];
	ssize_t len;
	int info;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	info = open(path, O_RDONLY | O_CLOEXEC);
	if (info < 0)
		return false;
	len = read(info, text, sizeof(text) - 1);
	close(info);
	if (len <= 0)
		return false;
	text[len] = '\0';
	return strstr(text, "\neventfd-count:") != NULL || strncmp(text, "eventfd-count:", 14) == 0;
}

enum server_fence_fd_kind server_fence_fd_kind(int fd)
{
	if (fd_is_sync_file(fd))
		return SERVER_FENCE_FD_SYNC_FILE;
	if (fd_is_eventfd(fd))
		return SERVER_FENCE_FD_EVENTFD;
	return SERVER_FENCE_FD_INVALID;
}
