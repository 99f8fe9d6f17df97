/* SPDX-License-Identifier: MIT */
/*
 * An out-of-tree libwayland compositor with the broker embedded, built from an
 * install with pkg-config only. It serves dmabroker-v1 on a socket, prints
 * "WAYLAND_DISPLAY=name" and runs until SIGTERM. broker_report() is defined in
 * report.cpp, a C++ translation unit that uses the C headers.
 */
#include <signal.h>
#include <stdio.h>
#include <wayland-server-core.h>
#include <dmabroker/server.h>

void broker_report(struct dmab_server *server);

static int handle_terminate(int signal_number, void *data)
{
	wl_display_terminate(data);
	return 0;
}

int main(void)
{
	struct wl_display *display = wl_display_create();
	struct wl_event_loop *loop = wl_display_get_event_loop(display);
	struct wl_event_source *sigterm = wl_event_loop_add_signal(loop, SIGTERM,
		handle_terminate, display);
	struct dmab_server_options options = {.allocator = "memfd"};
	struct dmab_server *server = dmab_server_create(display, &options);
	broker_report(server);
	const char *socket = wl_display_add_socket_auto(display);
	if (server == NULL || socket == NULL || sigterm == NULL) {
		return 1;
	}
	printf("WAYLAND_DISPLAY=%s\n", socket);
	fflush(stdout);
	wl_display_run(display);
	wl_display_destroy_clients(display);
	dmab_server_destroy(server);
	wl_event_source_remove(sigterm);
	wl_display_destroy(display);
	return 0;
}
