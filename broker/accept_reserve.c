/*
 * When the process is out of fds, libwayland's accept() fails with EMFILE and
 * leaves the client in the listen backlog for ever: it connected, and nobody
 * will ever read it. The listening socket stays readable, so libwayland retries
 * (and logs) at every loop iteration. The broker keeps a headroom of fds for
 * new connections (dmab_fd_check_headroom), but it cannot stop other things
 * from filling it, such as many connections that never bind it.
 *
 * So dmabrokerd watches the listening socket too, as nginx and others do with a
 * reserve fd: while two fds are free it does nothing and libwayland accepts;
 * otherwise it closes its reserve fd, accepts the client itself, writes it a
 * wl_display.error (no_memory) that names the fd limit, closes it and takes
 * its reserve back. The client gets a clear error instead of a hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <wayland-server-core.h>
#include <wayland-server-protocol.h>
#include <wlr/util/log.h>

#include "accept_reserve.h"

struct dmabd_accept_reserve {
	int listen_fd; /* libwayland's, borrowed */
	int reserve_fd;
	struct wl_event_source *source;
	unsigned refused;
};

static bool is_listening_socket(int fd, const char *path)
{
	int listening = 0;
	socklen_t len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
		return false;
	}
	struct sockaddr_un addr = {0};
	len = sizeof(addr);
	if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0 || addr.sun_family != AF_UNIX) {
		return false;
	}
	return strncmp(addr.sun_path, path, sizeof(addr.sun_path)) == 0;
}

/* libwayland does not say which fd it listens on: the one bound to path. */
static int find_listening_socket(const char *path)
{
	DIR *dir = opendir("/proc/self/fd");
	if (dir == NULL) {
		return -1;
	}
	int found = -1;
	struct dirent *entry;
	while (found < 0 && (entry = readdir(dir)) != NULL) {
		char *end;
		long fd = strtol(entry->d_name, &end, 10);
		if (*end == '\0' && fd != dirfd(dir) && fd >= 0 && fd <= INT_MAX &&
				is_listening_socket((int)fd, path)) {
			found = (int)fd;
		}
	}
	closedir(dir);
	return found;
}

/* libwayland needs two fds for a client: the accepted socket and its duplicate. */
static bool two_fds_free(int fd)
{
	int a = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	int b = a >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (a >= 0) {
		close(a);
	}
	if (b >= 0) {
		close(b);
	}
	return b >= 0;
}

static void put_u32(char **p, uint32_t value)
{
	memcpy(*p, &value, sizeof(value));
	*p += sizeof(value);
}

/* wl_display@1.error(wl_display@1, no_memory, message), in the wire format. */
static void send_display_error(int fd, const char *message)
{
	char buf[256];
	uint32_t len = (uint32_t)strlen(message) + 1;
	uint32_t padded = (len + 3) & ~3u;
	uint32_t size = 4 * 5 + padded;
	if (size > sizeof(buf)) {
		return;
	}
	memset(buf, 0, sizeof(buf));
	char *p = buf;
	put_u32(&p, 1); /* the sender, wl_display */
	put_u32(&p, size << 16 | 0); /* opcode 0: error */
	put_u32(&p, 1); /* object_id */
	put_u32(&p, WL_DISPLAY_ERROR_NO_MEMORY);
	put_u32(&p, len);
	memcpy(p, message, len);
	/* A new socket's buffer is empty: this never blocks, and a short write is moot. */
	if (send(fd, buf, size, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		wlr_log_errno(WLR_DEBUG, "cannot tell a refused client why");
	}
}

static int handle_connection(int fd, uint32_t mask, void *data)
{
	struct dmabd_accept_reserve *reserve = data;
	if (two_fds_free(reserve->reserve_fd)) {
		return 0;
	}
	close(reserve->reserve_fd);
	int client = accept4(reserve->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (client >= 0) {
		struct rlimit limit = {0};
		getrlimit(RLIMIT_NOFILE, &limit);
		char message[128];
		snprintf(message, sizeof(message), "dmabrokerd is out of file descriptors "
			"(RLIMIT_NOFILE %ju): connection refused", (uintmax_t)limit.rlim_cur);
		send_display_error(client, message);
		close(client);
		if (reserve->refused++ % 1000 == 0) {
			wlr_log(WLR_ERROR, "%s (%u so far)", message, reserve->refused);
		}
	}
	reserve->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (reserve->reserve_fd < 0) {
		wlr_log_errno(WLR_ERROR, "cannot take the reserve fd back");
		wl_event_source_remove(reserve->source);
		reserve->source = NULL;
	}
	return 0;
}

struct dmabd_accept_reserve *dmabd_accept_reserve_create(struct wl_display *display,
	const char *socket_name)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	if (dir == NULL || snprintf(path, sizeof(path), "%s/%s", dir, socket_name) >=
			(int)sizeof(path)) {
		return NULL;
	}
	struct dmabd_accept_reserve *reserve = calloc(1, sizeof(*reserve));
	if (reserve == NULL) {
		return NULL;
	}
	reserve->listen_fd = find_listening_socket(path);
	if (reserve->listen_fd < 0) {
		goto err;
	}
	/* libwayland then gets EAGAIN, not a blocking accept, for a client taken here. */
	int flags = fcntl(reserve->listen_fd, F_GETFL);
	if (flags < 0 || fcntl(reserve->listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		goto err;
	}
	reserve->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (reserve->reserve_fd < 0) {
		goto err;
	}
	reserve->source = wl_event_loop_add_fd(wl_display_get_event_loop(display),
		reserve->listen_fd, WL_EVENT_READABLE, handle_connection, reserve);
	if (reserve->source == NULL) {
		close(reserve->reserve_fd);
		goto err;
	}
	return reserve;

err:
	free(reserve);
	return NULL;
}

void dmabd_accept_reserve_destroy(struct dmabd_accept_reserve *reserve)
{
	if (reserve == NULL) {
		return;
	}
	if (reserve->source != NULL) {
		wl_event_source_remove(reserve->source);
	}
	if (reserve->reserve_fd >= 0) {
		close(reserve->reserve_fd);
	}
	free(reserve);
}
