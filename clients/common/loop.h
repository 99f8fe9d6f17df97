/* SPDX-License-Identifier: MIT */
/* Waiting for Wayland events with a timeout, a monotonic clock and quit signals. */
#ifndef DMAB_CLIENTS_LOOP_H
#define DMAB_CLIENTS_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct wl_display;

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t dmab_now_ns(void);
/* Makes SIGINT and SIGTERM set the quit flag and interrupt dmab_wait; ignores SIGPIPE. */
void dmab_quit_on_signals(void);
bool dmab_quit_requested(void);

/*
 * Flushes, waits up to timeout_ms (-1: no limit) for events on the default
 * queue and dispatches them. Returns 1 if events were dispatched, 0 on timeout
 * or signal, a negative errno if the connection failed.
 */
int dmab_wait(struct wl_display *display, int timeout_ms);

/* Milliseconds from now until deadline_ns, clamped to 0..INT_MAX; -1 if deadline_ns is 0. */
int dmab_timeout_ms(int64_t deadline_ns);

#endif
