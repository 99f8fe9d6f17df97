/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>

#include <wayland-client.h>

#include <dmabroker/client.h>

#include "wait.h"

gboolean dmab_gst_dispatch_pending(struct wl_display *display)
{
	while (wl_display_prepare_read(display) != 0) {
		if (wl_display_dispatch_pending(display) < 0) {
			return FALSE;
		}
	}
	wl_display_flush(display);
	struct pollfd pfd = { .fd = wl_display_get_fd(display), .events = POLLIN };
	if (poll(&pfd, 1, 0) > 0) {
		wl_display_read_events(display);
	} else {
		wl_display_cancel_read(display);
	}
	return wl_display_dispatch_pending(display) >= 0;
}

int dmab_gst_begin(GMutex *lock, const guint *generation, struct dmab_client *client,
	struct dmab_client_attachment *att, guint32 direction)
{
	guint start = *generation;
	struct wl_display *display = dmab_client_get_display(client);
	int ret = dmab_client_attachment_begin_async(att, direction);
	while (ret == 0 && !dmab_client_attachment_is_ready(att)) {
		struct pollfd pfd = { .fd = wl_display_get_fd(display), .events = POLLIN };
		g_mutex_unlock(lock);
		poll(&pfd, 1, 10);
		g_mutex_lock(lock);
		if (*generation != start) {
			return 1;
		}
		if (!dmab_gst_dispatch_pending(display)) {
			ret = -wl_display_get_error(display);
		} else if (!dmab_client_attachment_is_ready(att)) {
			/* -EBUSY while it waits; the failure once the broker failed it. */
			int again = dmab_client_attachment_begin_async(att, direction);
			ret = again == -EBUSY ? 0 : again;
		}
	}
	return ret < 0 ? ret : 0;
}
