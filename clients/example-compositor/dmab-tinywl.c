/* SPDX-License-Identifier: MIT */
/*
 * dmab-tinywl: a wlroots compositor with the dmabroker broker embedded, as
 * small as wlroots' tinywl. doc/integration.md walks through all of it; CI
 * runs it headless with dmab-paint and checks its screenshots pixel by pixel.
 *
 * It shows every xdg toplevel at the top-left corner of one headless output,
 * the newest on top: no input, no popups, no window management. It builds
 * against wlroots 0.15 (Debian 12) and 0.18 (Debian 13); the calls that
 * differ are under #if WLR_VERSION_MINOR. Build it with
 *
 *   wayland-scanner server-header \
 *       $(pkg-config --variable=pkgdatadir wayland-protocols)/stable/xdg-shell/xdg-shell.xml \
 *       xdg-shell-protocol.h
 *   cc -I. dmab-tinywl.c -o dmab-tinywl \
 *       $(pkg-config --cflags --libs libdmabroker-wlr wayland-server)
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
#include <dmabroker/wlr.h> /* needs -DWLR_USE_UNSTABLE: pkg-config adds it */

#define OUTPUT_WIDTH 640
#define OUTPUT_HEIGHT 480

struct tinywl {
	struct wl_display *display;
	struct wlr_backend *backend;
	struct wlr_renderer *renderer;
	struct wlr_allocator *allocator;
	struct wlr_compositor *compositor;
	struct wlr_output_layout *output_layout;
	struct wlr_scene *scene;
	struct wlr_scene_output *scene_output; /* of the one headless output */
	struct wl_listener new_output, output_frame, output_destroy, new_toplevel;

	struct dmab_server *broker;
	struct dmab_wlr_adapter *adapter;
	struct wl_listener broker_new_client, broker_buffer_create, broker_buffer_destroy;
	struct wl_listener broker_destroy;
};

static void output_handle_frame(struct wl_listener *listener, void *data)
{
	struct tinywl *server = wl_container_of(listener, server, output_frame);
	struct timespec now;

	/* Draws what changed in the scene, broker buffers included, and commits it. */
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
	server->scene_output = NULL; /* the scene destroyed it with the output */
}

/* The headless backend has just the output that main() adds. */
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
	server->scene_output = enabled ? wlr_scene_output_create(server->scene, output) : NULL;
	if (server->scene_output == NULL) {
		return;
	}
	/* The layout makes the wl_output global; xdg-output tells grim where it lies. */
	wlr_output_layout_add_auto(server->output_layout, output);
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

/* A scene subtree follows the toplevel's surfaces, and goes when they go. */
static void handle_new_toplevel(struct wl_listener *listener, void *data)
{
	struct tinywl *server = wl_container_of(listener, server, new_toplevel);
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
	/* new_surface, at the surface's first commit: wlroots 0.15 configures it itself. */
	struct wlr_xdg_surface *xdg_surface = data;

	if (xdg_surface->role == WLR_XDG_SURFACE_ROLE_TOPLEVEL &&
			wlr_scene_xdg_surface_create(&server->scene->node, xdg_surface) == NULL) {
		wl_resource_post_no_memory(xdg_surface->resource);
	}
#endif
}

/* The wlroots side, as in tinywl: nothing here knows of the broker. */
static bool compositor_init(struct tinywl *server)
{
	struct wlr_xdg_shell *xdg_shell;
	struct wl_signal *new_toplevel;

	/*
	 * Headless, and pixman rather than wlr_renderer_autocreate(): pixman needs
	 * no device, and it composites broker buffers in place, without a copy.
	 */
#if WLR_VERSION_MINOR >= 18
	server->backend = wlr_headless_backend_create(wl_display_get_event_loop(server->display));
	server->output_layout = wlr_output_layout_create(server->display);
#else
	server->backend = wlr_headless_backend_create(server->display);
	server->output_layout = wlr_output_layout_create();
#endif
	server->renderer = wlr_pixman_renderer_create();
	if (server->backend == NULL || server->output_layout == NULL || server->renderer == NULL ||
			!wlr_renderer_init_wl_display(server->renderer, server->display)) {
		return false;
	}
	server->allocator = wlr_allocator_autocreate(server->backend, server->renderer);
	server->scene = wlr_scene_create();
#if WLR_VERSION_MINOR >= 18
	server->compositor = wlr_compositor_create(server->display, 6, server->renderer);
	xdg_shell = wlr_xdg_shell_create(server->display, 3);
	new_toplevel = xdg_shell != NULL ? &xdg_shell->events.new_toplevel : NULL;
	if (wlr_subcompositor_create(server->display) == NULL) {
		return false;
	}
#else
	server->compositor = wlr_compositor_create(server->display, server->renderer);
	xdg_shell = wlr_xdg_shell_create(server->display);
	new_toplevel = xdg_shell != NULL ? &xdg_shell->events.new_surface : NULL;
#endif
	/* grim takes screenshots through screencopy: that is how CI looks at us. */
	if (server->allocator == NULL || server->scene == NULL || server->compositor == NULL ||
			new_toplevel == NULL ||
			wlr_xdg_output_manager_v1_create(server->display, server->output_layout) == NULL ||
			wlr_screencopy_manager_v1_create(server->display) == NULL) {
		return false;
	}
	server->new_toplevel.notify = handle_new_toplevel;
	wl_signal_add(new_toplevel, &server->new_toplevel);
	server->new_output.notify = handle_new_output;
	wl_signal_add(&server->backend->events.new_output, &server->new_output);
	return true;
}

/* The broker's messages go to wlroots' log: the importances have the same values. */
static void broker_log(enum dmab_server_log_importance importance, const char *fmt,
	va_list args) __attribute__((format(printf, 2, 0)));

static void broker_log(enum dmab_server_log_importance importance, const char *fmt,
	va_list args)
{
	_wlr_vlog((enum wlr_log_importance)importance, fmt, args);
}

static void broker_handle_new_client(struct wl_listener *listener, void *data)
{
	pid_t pid;

	wl_client_get_credentials(data, &pid, NULL, NULL);
	wlr_log(WLR_INFO, "broker: client %d bound the broker", (int)pid);
}

/* Buffers that the compositor allocates itself come with no client. */
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

static bool broker_init(struct tinywl *server, const char *allocator)
{
	struct dmab_server_options options = {
		.allocator = allocator, /* "auto", "memfd", "udmabuf", "dma-heap", "drm-dumb" */
		/* pixman imports no dma-buf, so the broker serves zwp_linux_dmabuf_v1. */
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

	/* Before any client connects: the adapter follows the compositor's new surfaces. */
	server->adapter = dmab_wlr_adapter_create(server->display, server->compositor);
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
	struct rlimit nofile;
	const char *socket = NULL;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: %s [auto|memfd|udmabuf|dma-heap[:NAME]|drm-dumb]\n",
			argv[0]);
		return 2;
	}
	/* Each broker buffer holds an fd: raise the soft limit, as wlroots compositors do. */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
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
	wl_list_init(&server.new_output.link);
	wl_list_init(&server.new_toplevel.link);

	/* The output comes when the backend starts (handle_new_output); clients after it. */
	if (compositor_init(&server) && broker_init(&server, argc == 2 ? argv[1] : "auto") &&
			wlr_headless_add_output(server.backend, OUTPUT_WIDTH, OUTPUT_HEIGHT) != NULL &&
			wlr_backend_start(server.backend) && server.scene_output != NULL) {
		socket = wl_display_add_socket_auto(server.display);
	}
	if (socket != NULL) {
		printf("WAYLAND_DISPLAY=%s\n", socket);
		fflush(stdout);
		wl_display_run(server.display);
	} else {
		wlr_log(WLR_ERROR, "dmab-tinywl: cannot start");
	}

	/* Clients first: their surfaces hold the buffer locks that keep broker reads alive. */
	wl_display_destroy_clients(server.display);
	dmab_wlr_adapter_destroy(server.adapter); /* ends the reads it still holds */
	dmab_server_destroy(server.broker); /* emits destroy; what clients hold becomes inert */
	wl_list_remove(&server.new_toplevel.link);
	wl_list_remove(&server.new_output.link);
	wlr_backend_destroy(server.backend); /* and its output */
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
	return socket != NULL ? EXIT_SUCCESS : EXIT_FAILURE;
}
