/* SPDX-License-Identifier: MIT */
/*
 * dmab-tinywl: the smallest wlroots compositor that embeds the dmabroker
 * broker, in the spirit of wlroots' tinywl. doc/integration.md walks through
 * it line by line; CI runs it headless with dmab-paint and checks its
 * screenshots pixel by pixel.
 *
 * It shows every xdg toplevel at the top-left corner of one headless output,
 * newest on top; it has no input, no popups and no window management. It
 * builds against wlroots 0.15 (Debian 12) and 0.18 (Debian 13): the few calls
 * that differ are under #if WLR_VERSION_MINOR.
 *
 *   wayland-scanner server-header \
 *       "$(pkg-config --variable=pkgdatadir wayland-protocols)/stable/xdg-shell/xdg-shell.xml" \
 *       xdg-shell-protocol.h
 *   cc -I. dmab-tinywl.c -o dmab-tinywl $(pkg-config --cflags --libs libdmabroker-wlr)
 *
 * Usage: dmab-tinywl [ALLOCATOR]. It prints WAYLAND_DISPLAY=name once clients
 * can connect, and exits on SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <wayland-server-core.h>
#include <wlr/backend.h>
#include <wlr/backend/headless.h>
#include <wlr/render/allocator.h>
#include <wlr/render/pixman.h>
#include <wlr/render/wlr_renderer.h>
#include <wlr/types/wlr_compositor.h>
#include <wlr/types/wlr_output.h>
#include <wlr/types/wlr_output_layout.h>
#include <wlr/types/wlr_scene.h>
#include <wlr/types/wlr_screencopy_v1.h>
#include <wlr/types/wlr_xdg_output_v1.h>
#include <wlr/types/wlr_xdg_shell.h>
#include <wlr/util/log.h>
#include <wlr/version.h>
#if WLR_VERSION_MINOR >= 18
#include <wlr/types/wlr_subcompositor.h>
#endif

#include <dmabroker/server.h>
#include <dmabroker/wlr.h>

#define OUTPUT_WIDTH 640
#define OUTPUT_HEIGHT 480

struct tinywl {
	struct wl_display *display;
	struct wlr_backend *backend;
	struct wlr_renderer *renderer;
	struct wlr_allocator *allocator;
	struct wlr_output_layout *output_layout;
	struct wlr_scene *scene;
	struct wlr_scene_output *scene_output;
	struct wl_listener new_output, output_frame, output_destroy;
	struct wl_listener new_xdg_surface;

	struct dmab_server *broker;
	struct dmab_wlr_adapter *adapter;
	struct wl_listener broker_new_client, broker_buffer_create, broker_buffer_destroy;
	struct wl_listener broker_destroy;
};

static void output_handle_frame(struct wl_listener *listener, void *data)
{
	struct tinywl *server = wl_container_of(listener, server, output_frame);
	struct timespec now;

	/* Renders the damaged part of the scene, broker buffers included, and commits it. */
#if WLR_VERSION_MINOR >= 18
	wlr_scene_output_commit(server->scene_output, NULL);
#else
	wlr_scene_output_commit(server->scene_output);
#endif
	clock_gettime(CLOCK_MONOTONIC, &now);
	wlr_scene_output_send_frame_done(server->scene_output, &now);
}

static void output_handle_destroy(struct wl_listener *listener, void *data)
{
	struct tinywl *server = wl_container_of(listener, server, output_destroy);

	wl_list_remove(&server->output_frame.link);
	wl_list_remove(&server->output_destroy.link);
	server->scene_output = NULL; /* the scene destroys it with the output */
}

/* The headless backend has exactly the one output main() adds. */
static void handle_new_output(struct wl_listener *listener, void *data)
{
	struct tinywl *server = wl_container_of(listener, server, new_output);
	struct wlr_output *output = data;

	if (!wlr_output_init_render(output, server->allocator, server->renderer)) {
		return;
	}
#if WLR_VERSION_MINOR >= 18
	struct wlr_output_state state;
	wlr_output_state_init(&state);
	wlr_output_state_set_enabled(&state, true);
	bool enabled = wlr_output_commit_state(output, &state);
	wlr_output_state_finish(&state);
#else
	wlr_output_enable(output, true);
	bool enabled = wlr_output_commit(output);
#endif
	/* The layout makes the wl_output global, and xdg-output tells grim where it is. */
	if (enabled) {
		wlr_output_layout_add_auto(server->output_layout, output);
		server->scene_output = wlr_scene_output_create(server->scene, output);
	}
	if (server->scene_output == NULL) {
		wlr_log(WLR_ERROR, "cannot enable output %s", output->name);
		return;
	}
	server->output_frame.notify = output_handle_frame;
	wl_signal_add(&output->events.frame, &server->output_frame);
	server->output_destroy.notify = output_handle_destroy;
	wl_signal_add(&output->events.destroy, &server->output_destroy);
}

#if WLR_VERSION_MINOR >= 18
/* Since wlroots 0.18 the compositor sends the first configure, at the initial commit. */
struct toplevel {
	struct wlr_xdg_toplevel *xdg_toplevel;
	struct wl_listener commit, destroy;
};

static void toplevel_handle_commit(struct wl_listener *listener, void *data)
{
	struct toplevel *toplevel = wl_container_of(listener, toplevel, commit);

	if (toplevel->xdg_toplevel->base->initial_commit) {
		wlr_xdg_toplevel_set_size(toplevel->xdg_toplevel, 0, 0); /* the client decides */
	}
}

static void toplevel_handle_destroy(struct wl_listener *listener, void *data)
{
	struct toplevel *toplevel = wl_container_of(listener, toplevel, destroy);

	wl_list_remove(&toplevel->commit.link);
	wl_list_remove(&toplevel->destroy.link);
	free(toplevel);
}
#endif

/* A new toplevel: a scene subtree that follows its surface, and that goes with it. */
static void handle_new_xdg_surface(struct wl_listener *listener, void *data)
{
	struct tinywl *server = wl_container_of(listener, server, new_xdg_surface);
#if WLR_VERSION_MINOR >= 18
	struct wlr_xdg_toplevel *xdg_toplevel = data;
	struct toplevel *toplevel = calloc(1, sizeof(*toplevel));

	if (toplevel == NULL ||
			wlr_scene_xdg_surface_create(&server->scene->tree, xdg_toplevel->base) == NULL) {
		free(toplevel);
		wl_resource_post_no_memory(xdg_toplevel->resource);
		return;
	}
	toplevel->xdg_toplevel = xdg_toplevel;
	toplevel->commit.notify = toplevel_handle_commit;
	wl_signal_add(&xdg_toplevel->base->surface->events.commit, &toplevel->commit);
	toplevel->destroy.notify = toplevel_handle_destroy;
	wl_signal_add(&xdg_toplevel->events.destroy, &toplevel->destroy);
#else
	struct wlr_xdg_surface *xdg_surface = data; /* at its first commit; configured already */

	if (xdg_surface->role == WLR_XDG_SURFACE_ROLE_TOPLEVEL &&
			wlr_scene_xdg_surface_create(&server->scene->node, xdg_surface) == NULL) {
		wl_resource_post_no_memory(xdg_surface->resource);
	}
#endif
}

/*
 * The broker's lifecycle signals, the wlroots way. Buffers the compositor
 * allocates itself (dmab_server_own_buffer_create) come with no client.
 */
static void broker_handle_new_client(struct wl_listener *listener, void *data)
{
	pid_t pid;

	wl_client_get_credentials(data, &pid, NULL, NULL);
	wlr_log(WLR_INFO, "broker: client %d bound the broker", (int)pid);
}

static void log_buffer_event(const struct dmab_server_buffer_event *event, const char *what)
{
	pid_t pid = 0;

	if (event->client != NULL) {
		wl_client_get_credentials(event->client, &pid, NULL, NULL);
	}
	wlr_log(WLR_INFO, "broker: buffer %ux%u of client %d %s", event->width, event->height,
		(int)pid, what);
}

static void broker_handle_buffer_create(struct wl_listener *listener, void *data)
{
	log_buffer_event(data, "created");
}

static void broker_handle_buffer_destroy(struct wl_listener *listener, void *data)
{
	log_buffer_event(data, "destroyed");
}

/* dmab_server_destroy() asserts that no listener is left: this is the last chance. */
static void broker_handle_destroy(struct wl_listener *listener, void *data)
{
	struct tinywl *server = wl_container_of(listener, server, broker_destroy);

	wl_list_remove(&server->broker_new_client.link);
	wl_list_remove(&server->broker_buffer_create.link);
	wl_list_remove(&server->broker_buffer_destroy.link);
	wl_list_remove(&server->broker_destroy.link);
}

/* The broker's messages go to wlroots' log; the importances have the same values. */
static void broker_log(enum dmab_server_log_importance importance, const char *fmt,
	va_list args) __attribute__((format(printf, 2, 0)));

static void broker_log(enum dmab_server_log_importance importance, const char *fmt,
	va_list args)
{
	_wlr_vlog((enum wlr_log_importance)importance, fmt, args);
}

static bool broker_init(struct tinywl *server, struct wlr_compositor *compositor,
	const char *allocator)
{
	struct dmab_server_options options = {
		.allocator = allocator, /* "auto", "memfd", "udmabuf", "dma-heap", "drm-dumb" */
		/* pixman imports no dma-buf: the broker serves zwp_linux_dmabuf_v1 instead. */
		.linux_dmabuf = true,
	};
	struct dmab_server_events *events;

	dmab_server_set_log_handler(broker_log);
	server->broker = dmab_server_create(server->display, &options);
	if (server->broker == NULL) {
		wlr_log(WLR_ERROR, "broker: %s", dmab_server_last_error());
		return false;
	}
	events = dmab_server_get_events(server->broker);
	server->broker_new_client.notify = broker_handle_new_client;
	wl_signal_add(&events->new_client, &server->broker_new_client);
	server->broker_buffer_create.notify = broker_handle_buffer_create;
	wl_signal_add(&events->buffer_create, &server->broker_buffer_create);
	server->broker_buffer_destroy.notify = broker_handle_buffer_destroy;
	wl_signal_add(&events->buffer_destroy, &server->broker_buffer_destroy);
	server->broker_destroy.notify = broker_handle_destroy;
	wl_signal_add(&events->destroy, &server->broker_destroy);

	/* Before any client connects: the adapter follows the compositor's surfaces. */
	server->adapter = dmab_wlr_adapter_create(server->display, compositor);
	if (server->adapter == NULL) {
		wlr_log_errno(WLR_ERROR, "broker: cannot create the wlroots adapter");
		return false;
	}
	return true;
}

static int handle_terminate(int signal_number, void *data)
{
	wl_display_terminate(data);
	return 0;
}

int main(int argc, char *argv[])
{
	struct tinywl server = {0};
	struct wlr_compositor *compositor;
	struct rlimit nofile;
	const char *socket = NULL;
	int status = EXIT_FAILURE;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: %s [auto|memfd|udmabuf|dma-heap[:NAME]|drm-dumb]\n",
			argv[0]);
		return 2;
	}
	/* Every broker buffer holds an fd: raise the soft limit, as wlroots compositors do. */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	wlr_log_init(WLR_INFO, NULL);
	server.display = wl_display_create();
	struct wl_event_loop *loop = wl_display_get_event_loop(server.display);
	struct wl_event_source *sigterm =
		wl_event_loop_add_signal(loop, SIGTERM, handle_terminate, server.display);
	struct wl_event_source *sigint =
		wl_event_loop_add_signal(loop, SIGINT, handle_terminate, server.display);

	/*
	 * Headless, and pixman rather than wlr_renderer_autocreate(): pixman needs
	 * no device, and it composites broker buffers in place, without a copy.
	 */
#if WLR_VERSION_MINOR >= 18
	server.backend = wlr_headless_backend_create(loop);
#else
	server.backend = wlr_headless_backend_create(server.display);
#endif
	server.renderer = wlr_pixman_renderer_create();
	if (server.backend == NULL || server.renderer == NULL ||
			!wlr_renderer_init_wl_display(server.renderer, server.display)) {
		goto out;
	}
	server.allocator = wlr_allocator_autocreate(server.backend, server.renderer);
	server.scene = wlr_scene_create();
#if WLR_VERSION_MINOR >= 18
	server.output_layout = wlr_output_layout_create(server.display);
	compositor = wlr_compositor_create(server.display, 6, server.renderer);
	struct wlr_xdg_shell *xdg_shell = wlr_xdg_shell_create(server.display, 3);
	bool globals = wlr_subcompositor_create(server.display) != NULL;
	struct wl_signal *new_toplevel = xdg_shell ? &xdg_shell->events.new_toplevel : NULL;
#else
	server.output_layout = wlr_output_layout_create();
	compositor = wlr_compositor_create(server.display, server.renderer);
	struct wlr_xdg_shell *xdg_shell = wlr_xdg_shell_create(server.display);
	bool globals = true;
	struct wl_signal *new_toplevel = xdg_shell ? &xdg_shell->events.new_surface : NULL;
#endif
	/* Screencopy and xdg-output: grim takes screenshots, which is how CI checks us. */
	globals = globals && compositor != NULL && new_toplevel != NULL &&
		server.output_layout != NULL &&
		wlr_xdg_output_manager_v1_create(server.display, server.output_layout) != NULL &&
		wlr_screencopy_manager_v1_create(server.display) != NULL;
	if (server.allocator == NULL || server.scene == NULL || !globals) {
		goto out;
	}
	server.new_xdg_surface.notify = handle_new_xdg_surface;
	wl_signal_add(new_toplevel, &server.new_xdg_surface);

	if (!broker_init(&server, compositor, argc == 2 ? argv[1] : "auto")) {
		goto out;
	}

	server.new_output.notify = handle_new_output;
	wl_signal_add(&server.backend->events.new_output, &server.new_output);
	if (wlr_headless_add_output(server.backend, OUTPUT_WIDTH, OUTPUT_HEIGHT) == NULL ||
			!wlr_backend_start(server.backend) || server.scene_output == NULL) {
		goto out;
	}
	socket = wl_display_add_socket_auto(server.display);
	if (socket == NULL) {
		goto out;
	}
	printf("WAYLAND_DISPLAY=%s\n", socket);
	fflush(stdout);
	wl_display_run(server.display);
	status = EXIT_SUCCESS;

out:
	/* Clients first: their surfaces drop the buffer locks that keep broker reads alive. */
	wl_display_destroy_clients(server.display);
	dmab_wlr_adapter_destroy(server.adapter); /* ends the reads it still holds */
	dmab_server_destroy(server.broker); /* emits destroy; client objects become inert */
	if (server.new_xdg_surface.notify != NULL) {
		wl_list_remove(&server.new_xdg_surface.link);
	}
	if (server.new_output.notify != NULL) {
		wl_list_remove(&server.new_output.link);
	}
	wlr_backend_destroy(server.backend); /* and the output */
	wlr_output_layout_destroy(server.output_layout);
	if (server.scene != NULL) {
#if WLR_VERSION_MINOR >= 18
		wlr_scene_node_destroy(&server.scene->tree.node);
#else
		wlr_scene_node_destroy(&server.scene->node);
#endif
	}
	wlr_allocator_destroy(server.allocator);
	wlr_renderer_destroy(server.renderer);
	wl_event_source_remove(sigint);
	wl_event_source_remove(sigterm);
	wl_display_destroy(server.display);
	return status;
}
