/* SPDX-License-Identifier: MIT */
/*
 * Waiting for the broker with the element's lock dropped, shared by both
 * elements. A wait blocks in poll on the connection's fd and a control fd (a
 * GstPoll), so it wakes when the broker's events arrive, or at once when the
 * element flushes or stops: never on a timer.
 */
#ifndef DMAB_GST_WAIT_H
#define DMAB_GST_WAIT_H

#include <glib.h>
#include <gst/gst.h>

struct dmab_client;
struct dmab_client_attachment;
struct wl_display;

struct dmab_gst_waiter {
	GstPoll *set;
	GstPollFD fd; /* the connection's, while attached */
	/*
	 * Under the lock: the waits that dropped it, and whether one of them
	 * sleeps on the connection. Only one does at a time, so that no other
	 * thread can read its events between its last look and its sleep.
	 */
	guint active;
	gboolean polling;
	GCond idle; /* broadcast when a wait ends */
	gint flushing; /* atomic */
};

gboolean dmab_gst_waiter_init(struct dmab_gst_waiter *waiter);
void dmab_gst_waiter_finish(struct dmab_gst_waiter *waiter);
/* Waits watch client's connection from now on, until detach (before it is destroyed). */
void dmab_gst_waiter_attach(struct dmab_gst_waiter *waiter, struct dmab_client *client);
void dmab_gst_waiter_detach(struct dmab_gst_waiter *waiter);
/* While flushing, every wait returns at once: unlock and stop call it from other threads. */
void dmab_gst_waiter_set_flushing(struct dmab_gst_waiter *waiter, gboolean flushing);
/*
 * Called with lock held while flushing: returns once no wait is left that
 * dropped lock, so that the connection can be destroyed under it.
 */
void dmab_gst_waiter_drain(struct dmab_gst_waiter *waiter, GMutex *lock);

/* Handles the events that have arrived, without waiting; FALSE once the display failed. */
gboolean dmab_gst_dispatch_pending(struct dmab_client *client);

/*
 * Called with lock held, waits with it dropped until the broker sends
 * something, the waiter flushes or deadline (g_get_monotonic_time, -1: none)
 * passes, then handles what arrived, on both the library's queue and the
 * default one. 0 (whether or not anything came), 1 if flushing, or a
 * negative errno once the connection failed.
 */
int dmab_gst_wait(GMutex *lock, struct dmab_gst_waiter *waiter, struct dmab_client *client,
	gint64 deadline);

/*
 * Sends begin_access(direction) and waits for ready, as dmab_gst_wait does, so
 * that other threads of the element can end brackets meanwhile. 0 once ready,
 * a negative errno on failure (-ETIMEDOUT past deadline, with the bracket
 * withdrawn), 1 if flushing or *generation changed while the lock was dropped
 * (the ring went away: nothing of it may be touched).
 */
int dmab_gst_begin(GMutex *lock, const guint *generation, struct dmab_gst_waiter *waiter,
	struct dmab_client *client, struct dmab_client_attachment *att, guint32 direction,
	gint64 deadline);

#endif
