/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>

#include <wayland-client.h>

#include <dmabroker/client.h>

#include "wait.h"

gboolean dmab_gst_waiter_init(struct dmab_gst_waiter *waiter)
{
	gst_poll_fd_init(&waiter->fd);
	waiter->active = 0;
	waiter->polling = FALSE;
	waiter->flushing = 0;
	g_cond_init(&waiter->idle);
	waiter->set = gst_poll_new(TRUE);
	return waiter->set != NULL;
}

void dmab_gst_waiter_finish(struct dmab_gst_waiter *waiter)
{
	if (waiter->set != NULL) {
		gst_poll_free(waiter->set);
		waiter->set = NULL;
	}
	g_cond_clear(&waiter->idle);
}

void dmab_gst_waiter_drain(struct dmab_gst_waiter *waiter, GMutex *lock)
{
	while (waiter->active > 0) {
		g_cond_wait(&waiter->idle, lock);
	}
}

void dmab_gst_waiter_attach(struct dmab_gst_waiter *waiter, struct dmab_client *client)
{
	gst_poll_fd_init(&waiter->fd);
	waiter->fd.fd = wl_display_get_fd(dmab_client_get_display(client));
	gst_poll_add_fd(waiter->set, &waiter->fd);
	gst_poll_fd_ctl_read(waiter->set, &waiter->fd, TRUE);
}

void dmab_gst_waiter_detach(struct dmab_gst_waiter *waiter)
{
	if (waiter->fd.fd >= 0) {
		gst_poll_remove_fd(waiter->set, &waiter->fd);
		gst_poll_fd_init(&waiter->fd);
	}
}

void dmab_gst_waiter_set_flushing(struct dmab_gst_waiter *waiter, gboolean flushing)
{
	g_atomic_int_set(&waiter->flushing, flushing);
	gst_poll_set_flushing(waiter->set, flushing);
}

/* Both queues: the library's holds its objects' events, the default one ours and the window's. */
static gboolean dispatch_queued(struct dmab_client *client)
{
	return dmab_client_dispatch_pending(client) >= 0 &&
		wl_display_dispatch_pending(dmab_client_get_display(client)) >= 0;
}

gboolean dmab_gst_dispatch_pending(struct dmab_client *client)
{
	struct wl_display *display = dmab_client_get_display(client);
	if (!dispatch_queued(client)) {
		return FALSE;
	}
	while (wl_display_prepare_read(display) != 0) {
		if (wl_display_dispatch_pending(display) < 0) {
			return FALSE;
		}
	}
	wl_display_flush(display);
	struct pollfd pfd = { .fd = wl_display_get_fd(display), .events = POLLIN };
	if (poll(&pfd, 1, 0) > 0) {
		if (wl_display_read_events(display) < 0) {
			return FALSE;
		}
	} else {
		wl_display_cancel_read(display);
	}
	return dispatch_queued(client);
}

int dmab_gst_wait(GMutex *lock, struct dmab_gst_waiter *waiter, struct dmab_client *client,
	gint64 deadline)
{
	struct wl_display *display = dmab_client_get_display(client);
	if (g_atomic_int_get(&waiter->flushing)) {
		return 1;
	}
	if (waiter->polling) {
		/* Another thread sleeps on the connection: what it reads wakes us too. */
		waiter->active++;
		g_cond_wait(&waiter->idle, lock);
		waiter->active--;
		g_cond_broadcast(&waiter->idle);
		if (g_atomic_int_get(&waiter->flushing)) {
			return 1;
		}
		return dispatch_queued(client) ? 0 : -EPIPE;
	}
	/*
	 * Nothing may wait in the queues while we sleep. Other threads read the
	 * connection only under the lock, which we hold until we sleep.
	 */
	if (!dispatch_queued(client)) {
		return -EPIPE;
	}
	while (wl_display_prepare_read(display) != 0) {
		if (!dispatch_queued(client)) {
			return -EPIPE;
		}
	}
	if (wl_display_flush(display) < 0 && errno != EAGAIN) {
		int err = -errno;
		wl_display_cancel_read(display);
		return err;
	}
	GstClockTime timeout = GST_CLOCK_TIME_NONE;
	if (deadline >= 0) {
		gint64 left = deadline - g_get_monotonic_time();
		timeout = left > 0 ? (GstClockTime)left * GST_USECOND : 0;
	}
	waiter->active++;
	waiter->polling = TRUE;
	g_mutex_unlock(lock);
	gint n = gst_poll_wait(waiter->set, timeout);
	int err = n < 0 ? errno : 0;
	/*
	 * Read or cancel before taking the lock again: another thread that
	 * holds it may be in wl_display_read_events, which waits for every
	 * thread that prepared a read. Reading only queues the events.
	 */
	int read = 0;
	if (n > 0 && (gst_poll_fd_can_read(waiter->set, &waiter->fd) ||
			gst_poll_fd_has_closed(waiter->set, &waiter->fd) ||
			gst_poll_fd_has_error(waiter->set, &waiter->fd))) {
		/* A hang-up reads as an error here, which is what the caller must see. */
		read = wl_display_read_events(display);
	} else {
		wl_display_cancel_read(display);
	}
	g_mutex_lock(lock);
	waiter->polling = FALSE;
	waiter->active--;
	g_cond_broadcast(&waiter->idle);
	if (read < 0 || !dispatch_queued(client)) {
		return -EPIPE;
	}
	return n < 0 && err == EBUSY ? 1 : 0;
}

int dmab_gst_begin(GMutex *lock, const guint *generation, struct dmab_gst_waiter *waiter,
	struct dmab_client *client, struct dmab_client_attachment *att, guint32 direction,
	gint64 deadline)
{
	guint start = *generation;
	int ret = dmab_client_attachment_begin_async(att, direction);
	while (ret == 0 && !dmab_client_attachment_is_ready(att)) {
		if (deadline >= 0 && g_get_monotonic_time() >= deadline) {
			/* Ending a bracket whose ready has not come withdraws it. */
			dmab_client_attachment_end(att);
			return -ETIMEDOUT;
		}
		ret = dmab_gst_wait(lock, waiter, client, deadline);
		if (*generation != start || ret == 1) {
			return 1;
		}
		if (ret == 0 && !dmab_client_attachment_is_ready(att)) {
			/* -EBUSY while it waits; the failure once the broker failed it. */
			int again = dmab_client_attachment_begin_async(att, direction);
			ret = again == -EBUSY ? 0 : again;
		}
	}
	/* Ready already: this only reports a failed DMA_BUF_IOCTL_SYNC START. */
	return ret < 0 ? ret : dmab_client_attachment_wait_ready(att);
}
