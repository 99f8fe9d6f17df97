/* SPDX-License-Identifier: MIT */
/* Waiting for a bracket with the element's lock dropped, shared by both elements. */
#ifndef DMAB_GST_WAIT_H
#define DMAB_GST_WAIT_H

#include <glib.h>

struct dmab_client;
struct dmab_client_attachment;
struct wl_display;

/* Handles the events that have arrived, without waiting; FALSE once the display failed. */
gboolean dmab_gst_dispatch_pending(struct wl_display *display);

/*
 * Sends begin_access(direction) and waits for ready. Called with lock held and
 * returns with it held, but drops it while it waits, so that other threads of
 * the element can end brackets meanwhile. 0 once ready, a negative errno on
 * failure, 1 if *generation changed while the lock was dropped (the ring went
 * away: nothing of it may be touched).
 */
int dmab_gst_begin(GMutex *lock, const guint *generation, struct dmab_client *client,
	struct dmab_client_attachment *att, guint32 direction);

#endif
