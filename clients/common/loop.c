/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <wayland-client.h>

#include "loop.h"

static volatile sig_atomic_t quit_requested;

int64_t dmab_now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static void handle_quit_signal(int signo)
{
	quit_requested = 1;
}

void dmab_quit_on_signals(void)
{
	struct sigaction action;
	memset(&action, 0, sizeof(action));
	action.sa_handler = handle_quit_signal;
	sigemptyset(&action.sa_mask);
	/* No SA_RESTART: poll in dmab_wait must return so the loop sees the flag. */
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);
	/* A reader that stopped reading our stdout must not keep us from tearing down. */
	signal(SIGPIPE, SIG_IGN);
}

bool dmab_quit_requested(void)
{
	return quit_requested != 0;
}

static int display_errno(struct wl_display *display)
{
	int err = wl_display_get_error(display);
	return err != 0 ? -err : -EPIPE;
}

int dmab_wait(struct wl_display *display, int timeout_ms)
{
	if (wl_display_prepare_read(display) != 0) {
		if (wl_display_dispatch_pending(display) < 0)
			return display_errno(display);
		return 1;
	}
	struct pollfd pfd = { .fd = wl_display_get_fd(display), .events = POLLIN };
	if (wl_display_flush(display) < 0) {
		if (errno != EAGAIN) {
			wl_display_cancel_read(display);
			return display_errno(display);
		}
		pfd.events |= POLLOUT;
	}
	int ret = poll(&pfd, 1, timeout_ms);
	if (ret <= 0) {
		int err = errno;
		wl_display_cancel_read(display);
		return ret < 0 && err != EINTR ? -err : 0;
	}
	if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
		if (wl_display_read_events(display) < 0)
			return display_errno(display);
	} else {
		wl_display_cancel_read(display);
	}
	if (wl_display_dispatch_pending(display) < 0)
		return display_errno(display);
	return 1;
}

int dmab_timeout_ms(int64_t deadline_ns)
{
	if (deadline_ns == 0)
		return -1;
	int64_t left = deadline_ns - dmab_now_ns();
	if (left <= 0)
		return 0;
	int64_t ms = (left + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}
