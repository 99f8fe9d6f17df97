/* SPDX-License-Identifier: MIT */
/*
 * The wlroots adapter's lifetime: one per display, independent of other displays.
 */
#include <errno.h>
#include <stddef.h>
#include <wayland-server-core.h>
#include <wlr/render/pixman.h>
#include <wlr/render/wlr_renderer.h>
#include <wlr/util/log.h>

#include "dmabroker/wlr.h"
#include "harness.h"
#include "wlr/compat.h"

struct display {
	struct wl_display *wl_display;
	struct wlr_renderer *renderer;
	struct wlr_compositor *compositor;
};

static void display_init(struct display *display)
{
	display->wl_display = wl_display_create();
	CHECK(display->wl_display != NULL);
	display->renderer = wlr_pixman_renderer_create();
	CHECK(display->renderer != NULL);
	display->compositor = compat_compositor_create(display->wl_display, display->renderer);
	CHECK(display->compositor != NULL);
}

static void display_finish(struct display *display)
{
	/* The compositor goes with the display. */
	wl_display_destroy(display->wl_display);
	wlr_renderer_destroy(display->renderer);
}

/* Two compositors in one process, each with its broker and adapter. */
DMAB_TEST(adapters_of_two_displays_coexist)
{
	struct display a, b;
	display_init(&a);
	display_init(&b);
	struct dmab_wlr_adapter *adapter_a = dmab_wlr_adapter_create(a.wl_display, a.compositor);
	CHECK(adapter_a != NULL);
	struct dmab_wlr_adapter *adapter_b = dmab_wlr_adapter_create(b.wl_display, b.compositor);
	if (adapter_b == NULL) {
		dmab_test_fail(__FILE__, __LINE__, "second display's adapter: errno %d", errno);
	}
	/* Destroying one leaves the other in place, and a new one can take its display. */
	dmab_wlr_adapter_destroy(adapter_a);
	adapter_a = dmab_wlr_adapter_create(a.wl_display, a.compositor);
	CHECK(adapter_a != NULL);
	dmab_wlr_adapter_destroy(adapter_b);
	dmab_wlr_adapter_destroy(adapter_a);
	display_finish(&b);
	display_finish(&a);
}

DMAB_TEST(second_adapter_on_one_display_is_refused)
{
	struct display a;
	display_init(&a);
	struct dmab_wlr_adapter *adapter = dmab_wlr_adapter_create(a.wl_display, a.compositor);
	CHECK(adapter != NULL);
	errno = 0;
	CHECK(dmab_wlr_adapter_create(a.wl_display, a.compositor) == NULL);
	CHECK_EQ(errno, EBUSY);
	dmab_wlr_adapter_destroy(adapter);
	display_finish(&a);
}

/* An adapter left alive goes with its display (ASan reports a leak otherwise). */
DMAB_TEST(adapter_goes_with_its_display)
{
	struct display a;
	display_init(&a);
	CHECK(dmab_wlr_adapter_create(a.wl_display, a.compositor) != NULL);
	display_finish(&a);
}

int main(int argc, char *argv[])
{
	wlr_log_init(WLR_ERROR, NULL);
	return dmab_test_main(argc, argv);
}
