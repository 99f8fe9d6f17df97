/* SPDX-License-Identifier: MIT */
/*
 * The compositor's side of the protocol tests: reads of a client's wl_buffer
 * through dmab_server_read_*, run on the server thread with fixture_run.
 */
#ifndef DMAB_TEST_PROTOCOL_COMPOSITOR_H
#define DMAB_TEST_PROTOCOL_COMPOSITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "fixture.h"

struct comp_read {
	struct fixture *fixture;
	struct wl_client *client; /* server side */
	uint32_t wl_buffer_id;
	bool is_wl_buffer;
	struct dmab_server_read *read;
	int ready_calls;
	int failed_calls; /* with the error and message of the last */
	int error;
	char message[160];
	bool ready;
	struct dmab_pixels pixels; /* data is valid until comp_read_end */
};

/* Begins a read of c's wl_buffer; read->read is NULL if it is not a broker wl_buffer. */
void comp_read_begin(struct comp_read *read, struct fixture *f, struct fixture_client *c,
	struct wl_buffer *wl_buffer);
/* Asks the server thread whether the read is ready, and its pixels if so. */
bool comp_read_ready(struct comp_read *read);
/* Waits until the read is ready; false after timeout_ms. */
bool comp_read_wait(struct comp_read *read, int timeout_ms);
void comp_read_end(struct comp_read *read);

#endif
