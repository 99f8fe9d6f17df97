/*
 * dmabrokerd: the dmabroker-v1 broker in a small wlroots compositor.
 *
 * The event loop is libwayland's. SIGINT and SIGTERM end it through a
 * signalfd (wl_event_loop_add_signal), after which every client is destroyed,
 * then the wlroots adapter (ending the compositor's reads), the broker, the
 * compositor and the display, in that order, so that nothing outlives what it
 * points to.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/resource.h>
#include <wayland-server-core.h>
#include <wlr/render/wlr_renderer.h>
#include <wlr/util/log.h>

#include "accept_reserve.h"
#include "dmabroker/server.h"
#include "dmabroker/wlr.h"
#include "wlr/daemon.h"

enum {
	EXIT_USAGE = 2,
};

static enum wlr_log_importance log_level = WLR_INFO;

__attribute__((format(printf, 2, 0)))
static void log_callback(enum wlr_log_importance importance, const char *fmt, va_list args)
{
	if (importance > log_level) {
		return;
	}
	/* One write per line, so lines of concurrent writers do not interleave. */
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, args);
	fprintf(stderr, "dmabrokerd: %s\n", line);
}

static int handle_terminate(int signal_number, void *data)
{
	struct wl_display *display = data;
	wlr_log(WLR_INFO, "signal %d: shutting down", signal_number);
	wl_display_terminate(display);
	return 0;
}

static const char *add_socket(struct wl_display *display, const char *name)
{
	if (getenv("XDG_RUNTIME_DIR") == NULL) {
		wlr_log(WLR_ERROR, "XDG_RUNTIME_DIR is not set: nowhere to put the socket");
		return NULL;
	}
	if (name == NULL) {
		name = wl_display_add_socket_auto(display);
		if (name == NULL) {
			wlr_log(WLR_ERROR, "cannot create a wayland-N socket in XDG_RUNTIME_DIR");
		}
		return name;
	}
	if (wl_display_add_socket(display, name) != 0) {
		wlr_log(WLR_ERROR, "cannot listen on socket %s (in use, or XDG_RUNTIME_DIR "
			"not writable)", name);
		return NULL;
	}
	return name;
}

struct dmabd_daemon {
	struct wl_display *display;
	struct wl_event_source *sigint, *sigterm;
	struct dmabd_compositor *compositor;
	struct dmab_server *server;
	struct dmab_wlr_adapter *adapter;
};

/*
 * A renderer that imports dma-bufs (GLES2 on a GPU) has had wlroots create its
 * own zwp_linux_dmabuf_v1 global; pixman cannot import them, so the broker
 * serves the global and maps the client's dma-buf for the CPU to read.
 */
static bool enable_linux_dmabuf(struct dmabd_daemon *dmabd)
{
	if (wlr_renderer_get_dmabuf_texture_formats(dmabd->compositor->renderer) != NULL) {
		wlr_log(WLR_INFO, "zwp_linux_dmabuf_v1: served by the renderer");
		return true;
	}
	if (!dmab_server_enable_linux_dmabuf(dmabd->server)) {
		wlr_log(WLR_ERROR, "cannot serve zwp_linux_dmabuf_v1: %s",
			dmab_server_last_error());
		return false;
	}
	wlr_log(WLR_INFO, "zwp_linux_dmabuf_v1: served by the broker");
	return true;
}

static bool daemon_init(struct dmabd_daemon *dmabd, const struct dmabd_options *options)
{
	dmabd->display = wl_display_create();
	if (dmabd->display == NULL) {
		wlr_log(WLR_ERROR, "cannot create the display");
		return false;
	}
	struct wl_event_loop *loop = wl_display_get_event_loop(dmabd->display);
	/* First, so that a signal sent during startup is queued, not lost. */
	dmabd->sigint = wl_event_loop_add_signal(loop, SIGINT, handle_terminate,
		dmabd->display);
	dmabd->sigterm = wl_event_loop_add_signal(loop, SIGTERM, handle_terminate,
		dmabd->display);
	if (dmabd->sigint == NULL || dmabd->sigterm == NULL) {
		wlr_log_errno(WLR_ERROR, "cannot watch SIGINT and SIGTERM");
		return false;
	}
	dmabd->compositor = compositor_create(dmabd->display, options);
	if (dmabd->compositor == NULL) {
		return false;
	}
	dmabd->server = dmab_server_create(dmabd->display, &options->server);
	if (dmabd->server == NULL) {
		wlr_log(WLR_ERROR, "cannot start the broker: %s", dmab_server_last_error());
		return false;
	}
	wlr_log(WLR_INFO, "broker allocator: %s", dmab_server_allocator_name(dmabd->server));
	if (options->linux_dmabuf && !enable_linux_dmabuf(dmabd)) {
		return false;
	}
	dmabd->adapter = dmab_wlr_adapter_create(dmabd->display);
	if (dmabd->adapter == NULL) {
		wlr_log_errno(WLR_ERROR, "cannot create the wlroots adapter");
		return false;
	}
	return true;
}

static void daemon_finish(struct dmabd_daemon *dmabd)
{
	if (dmabd->display == NULL) {
		return;
	}
	/* Clients first: their surfaces drop the buffer locks that hold reads. */
	wl_display_destroy_clients(dmabd->display);
	dmab_wlr_adapter_destroy(dmabd->adapter);
	dmab_server_destroy(dmabd->server);
	compositor_destroy(dmabd->compositor);
	if (dmabd->sigint != NULL) {
		wl_event_source_remove(dmabd->sigint);
	}
	if (dmabd->sigterm != NULL) {
		wl_event_source_remove(dmabd->sigterm);
	}
	wl_display_destroy(dmabd->display);
}

/*
 * As wlroots compositors do: the soft RLIMIT_NOFILE (1024 on most systems) is
 * there for select(), which nothing here uses, and the broker holds an fd per
 * buffer and keeps a headroom below the limit (see dmab_uid_quota). The
 * daemon spawns no process, so no child needs the old soft limit back.
 */
static void raise_fd_limit(void)
{
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
		wlr_log_errno(WLR_ERROR, "cannot read RLIMIT_NOFILE");
		return;
	}
	rlim_t soft = limit.rlim_cur;
	if (soft == limit.rlim_max) {
		return;
	}
	limit.rlim_cur = limit.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
		wlr_log_errno(WLR_ERROR, "cannot raise RLIMIT_NOFILE to %ju",
			(uintmax_t)limit.rlim_max);
		return;
	}
	wlr_log(WLR_INFO, "RLIMIT_NOFILE raised from %ju to %ju", (uintmax_t)soft,
		(uintmax_t)limit.rlim_max);
}

int main(int argc, char *argv[])
{
	struct dmabd_options options;
	switch (options_parse(&options, argc, argv)) {
	case DMABD_PARSE_RUN:
		break;
	case DMABD_PARSE_EXIT:
		return EXIT_SUCCESS;
	case DMABD_PARSE_USAGE_ERROR:
		return EXIT_USAGE;
	}
	log_level = options.log_level;
	wlr_log_init(options.log_level, log_callback);
	raise_fd_limit();

	struct dmabd_daemon dmabd = {0};
	int status = EXIT_FAILURE;
	if (!daemon_init(&dmabd, &options)) {
		goto out;
	}
	const char *socket = add_socket(dmabd.display, options.socket);
	if (socket == NULL || !compositor_start(dmabd.compositor)) {
		goto out;
	}
	/* The contract with scripts and tests: this is the first line on stdout. */
	printf("WAYLAND_DISPLAY=%s\n", socket);
	if (fflush(stdout) != 0) {
		wlr_log_errno(WLR_ERROR, "cannot write the socket name to stdout");
		goto out;
	}
	wlr_log(WLR_INFO, "listening on %s", socket);
	struct dmabd_accept_reserve *reserve = dmabd_accept_reserve_create(dmabd.display, socket);
	if (reserve == NULL) {
		wlr_log(WLR_ERROR, "no reserve fd: out of fds, new clients would hang");
	}
	wl_display_run(dmabd.display);
	dmabd_accept_reserve_destroy(reserve);
	status = EXIT_SUCCESS;

out:
	daemon_finish(&dmabd);
	return status;
}
