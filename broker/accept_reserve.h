/* dmabrokerd: a reserve fd to refuse clients with an error, not a hang, when out of fds. */
#ifndef DMABD_ACCEPT_RESERVE_H
#define DMABD_ACCEPT_RESERVE_H

struct wl_display;
struct dmabd_accept_reserve;

/*
 * Watches the display's listening socket $XDG_RUNTIME_DIR/socket_name (made
 * it non-blocking). NULL with nothing changed if it cannot be found.
 */
struct dmabd_accept_reserve *dmabd_accept_reserve_create(struct wl_display *display,
	const char *socket_name);
/* Before the display is destroyed. NULL is a no-op. */
void dmabd_accept_reserve_destroy(struct dmabd_accept_reserve *reserve);

#endif
