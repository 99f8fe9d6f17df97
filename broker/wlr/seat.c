/* SPDX-License-Identifier: MIT */
/*
 * wl_seat "seat0" with keyboards: a virtual keyboard under the headless backend
 * (compat_headless_keyboard_create), libinput's under --backend auto. Pointers are not handled: the
 * daemon places windows itself and clients have nothing to click.
 */
#include <stdlib.h>
#include <wlr/backend/session.h>
#include <wlr/types/wlr_data_device.h>
#include <wlr/types/wlr_input_device.h>
#include <wlr/types/wlr_keyboard.h>
#include <wlr/types/wlr_seat.h>
#include <wlr/util/log.h>
#include <xkbcommon/xkbcommon.h>

#include "compat.h"
#include "daemon.h"

struct dmabd_keyboard {
	struct dmabd_compositor *compositor;
	struct wlr_input_device *device;
	struct wlr_keyboard *wlr_keyboard;
	struct wl_listener key;
	struct wl_listener modifiers;
	struct wl_listener destroy;
	struct wl_list link; /* dmabd_compositor.keyboards */
};

static void seat_update_capabilities(struct dmabd_compositor *compositor)
{
	uint32_t caps = wl_list_empty(&compositor->keyboards) ? 0 : WL_SEAT_CAPABILITY_KEYBOARD;
	wlr_seat_set_capabilities(compositor->seat, caps);
}

/* Ctrl+Alt+Fn switches virtual terminals on a real seat, as users expect. */
static bool keyboard_switch_vt(struct dmabd_keyboard *keyboard, uint32_t keycode)
{
	struct wlr_session *session = keyboard->compositor->session;
	struct wlr_keyboard *wlr_keyboard = keyboard->wlr_keyboard;
	if (session == NULL || wlr_keyboard->xkb_state == NULL) {
		return false;
	}
	const xkb_keysym_t *syms;
	int nsyms = xkb_state_key_get_syms(wlr_keyboard->xkb_state, keycode + 8, &syms);
	for (int i = 0; i < nsyms; i++) {
		if (syms[i] >= XKB_KEY_XF86Switch_VT_1 && syms[i] <= XKB_KEY_XF86Switch_VT_12) {
			wlr_session_change_vt(session, syms[i] - XKB_KEY_XF86Switch_VT_1 + 1);
			return true;
		}
	}
	return false;
}

static void keyboard_handle_key(struct wl_listener *listener, void *data)
{
	struct dmabd_keyboard *keyboard = wl_container_of(listener, keyboard, key);
	struct compat_key_event event;
	compat_key_event_get(data, &event);
	if (event.state == WL_KEYBOARD_KEY_STATE_PRESSED &&
			keyboard_switch_vt(keyboard, event.keycode)) {
		return;
	}
	struct wlr_seat *seat = keyboard->compositor->seat;
	compat_seat_set_keyboard(seat, keyboard->device);
	wlr_seat_keyboard_notify_key(seat, event.time_msec, event.keycode, event.state);
}

static void keyboard_handle_modifiers(struct wl_listener *listener, void *data)
{
	struct dmabd_keyboard *keyboard = wl_container_of(listener, keyboard, modifiers);
	struct wlr_seat *seat = keyboard->compositor->seat;
	compat_seat_set_keyboard(seat, keyboard->device);
	wlr_seat_keyboard_notify_modifiers(seat, &keyboard->wlr_keyboard->modifiers);
}

static void keyboard_handle_destroy(struct wl_listener *listener, void *data)
{
	struct dmabd_keyboard *keyboard = wl_container_of(listener, keyboard, destroy);
	struct dmabd_compositor *compositor = keyboard->compositor;
	wl_list_remove(&keyboard->key.link);
	wl_list_remove(&keyboard->modifiers.link);
	wl_list_remove(&keyboard->destroy.link);
	wl_list_remove(&keyboard->link);
	free(keyboard);
	seat_update_capabilities(compositor);
}

static bool keyboard_set_default_keymap(struct wlr_keyboard *wlr_keyboard)
{
	struct xkb_context *context = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
	if (context == NULL) {
		return false;
	}
	/* NULL names: the XKB_DEFAULT_* environment, else the system default (us). */
	struct xkb_keymap *keymap = xkb_keymap_new_from_names(context, NULL,
		XKB_KEYMAP_COMPILE_NO_FLAGS);
	bool ok = keymap != NULL && wlr_keyboard_set_keymap(wlr_keyboard, keymap);
	xkb_keymap_unref(keymap);
	xkb_context_unref(context);
	return ok;
}

static void keyboard_create(struct dmabd_compositor *compositor, struct wlr_input_device *device)
{
	struct wlr_keyboard *wlr_keyboard = compat_keyboard_from_device(device);
	if (!keyboard_set_default_keymap(wlr_keyboard)) {
		wlr_log(WLR_ERROR, "keyboard %s: cannot compile the default keymap", device->name);
		return;
	}
	struct dmabd_keyboard *keyboard = calloc(1, sizeof(*keyboard));
	if (keyboard == NULL) {
		wlr_log_errno(WLR_ERROR, "keyboard %s: cannot allocate", device->name);
		return;
	}
	keyboard->compositor = compositor;
	keyboard->device = device;
	keyboard->wlr_keyboard = wlr_keyboard;
	wlr_keyboard_set_repeat_info(wlr_keyboard, 25, 600);
	keyboard->key.notify = keyboard_handle_key;
	wl_signal_add(&wlr_keyboard->events.key, &keyboard->key);
	keyboard->modifiers.notify = keyboard_handle_modifiers;
	wl_signal_add(&wlr_keyboard->events.modifiers, &keyboard->modifiers);
	keyboard->destroy.notify = keyboard_handle_destroy;
	wl_signal_add(&device->events.destroy, &keyboard->destroy);
	wl_list_insert(&compositor->keyboards, &keyboard->link);
	compat_seat_set_keyboard(compositor->seat, device);
	seat_update_capabilities(compositor);
}

void seat_add_input(struct dmabd_compositor *compositor, struct wlr_input_device *device)
{
	if (device->type == WLR_INPUT_DEVICE_KEYBOARD) {
		keyboard_create(compositor, device);
	}
}

void seat_handle_new_input(struct wl_listener *listener, void *data)
{
	struct dmabd_compositor *compositor = wl_container_of(listener, compositor, new_input);
	seat_add_input(compositor, data);
}

void seat_focus(struct dmabd_compositor *compositor, struct wlr_surface *surface)
{
	struct wlr_seat *seat = compositor->seat;
	if (surface == NULL) {
		wlr_seat_keyboard_notify_clear_focus(seat);
		return;
	}
	struct wlr_keyboard *keyboard = wlr_seat_get_keyboard(seat);
	if (keyboard == NULL) {
		wlr_seat_keyboard_notify_enter(seat, surface, NULL, 0, NULL);
		return;
	}
	wlr_seat_keyboard_notify_enter(seat, surface, keyboard->keycodes,
		keyboard->num_keycodes, &keyboard->modifiers);
}

static void seat_handle_request_set_selection(struct wl_listener *listener, void *data)
{
	struct dmabd_compositor *compositor =
		wl_container_of(listener, compositor, request_set_selection);
	struct wlr_seat_request_set_selection_event *event = data;
	wlr_seat_set_selection(compositor->seat, event->source, event->serial);
}

bool seat_init(struct dmabd_compositor *compositor)
{
	compositor->seat = wlr_seat_create(compositor->display, "seat0");
	if (compositor->seat == NULL) {
		wlr_log(WLR_ERROR, "cannot create wl_seat");
		return false;
	}
	compositor->request_set_selection.notify = seat_handle_request_set_selection;
	wl_signal_add(&compositor->seat->events.request_set_selection,
		&compositor->request_set_selection);
	return true;
}

void seat_finish(struct dmabd_compositor *compositor)
{
	wl_list_remove(&compositor->request_set_selection.link);
	wl_list_init(&compositor->request_set_selection.link);
	wlr_seat_destroy(compositor->seat);
	compositor->seat = NULL;
}
