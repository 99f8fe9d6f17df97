/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <wayland-server.h>

#include "compositor.h"
#include "harness.h"

static void on_ready(struct dmab_server_read *server_read, void *data)
{
	struct comp_read *read = data;
	read->ready_calls++;
}

static void on_failed(struct dmab_server_read *server_read, int error, const char *message,
	void *data)
{
	struct comp_read *read = data;
	read->failed_calls++;
	read->error = error;
	snprintf(read->message, sizeof(read->message), "%s", message);
}

static const struct dmab_server_read_listener listener = {
	.ready = on_ready,
	.failed = on_failed,
};

static void begin_task(void *data)
{
	struct comp_read *read = data;
	struct wl_resource *resource = wl_client_get_object(read->client, read->wl_buffer_id);
	read->is_wl_buffer = resource != NULL && dmab_server_is_wl_buffer(resource);
	struct dmab_server_buffer *buffer = resource != NULL ?
		dmab_server_buffer_from_wl_buffer(resource) : NULL;
	if (buffer != NULL)
		read->read = dmab_server_read_begin(buffer, &listener, read);
}

void comp_read_begin(struct comp_read *read, struct fixture *f, struct fixture_client *c,
	struct wl_buffer *wl_buffer)
{
	/* The server must have seen the request that made the wl_buffer. */
	CHECK(wl_display_roundtrip(c->display) >= 0);
	*read = (struct comp_read){
		.fixture = f,
		.client = c->server_client,
		.wl_buffer_id = wl_proxy_get_id((struct wl_proxy *)wl_buffer),
	};
	fixture_run(f, begin_task, read);
}

static void query_task(void *data)
{
	struct comp_read *read = data;
	read->ready = dmab_server_read_is_ready(read->read);
	if (read->ready)
		dmab_server_read_get_pixels(read->read, &read->pixels);
}

bool comp_read_ready(struct comp_read *read)
{
	fixture_run(read->fixture, query_task, read);
	return read->ready;
}

bool comp_read_wait(struct comp_read *read, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited++) {
		if (comp_read_ready(read))
			return true;
		usleep(1000);
	}
	return comp_read_ready(read);
}

static void end_task(void *data)
{
	struct comp_read *read = data;
	dmab_server_read_end(read->read);
	read->read = NULL;
}

void comp_read_end(struct comp_read *read)
{
	fixture_run(read->fixture, end_task, read);
}
