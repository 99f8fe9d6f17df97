/* SPDX-License-Identifier: MIT */
/* wlroots 0.15 makes its wlr_egl current itself. */
#include <wlr/render/egl.h>
#include <wlr/render/gles2.h>

#include "gles2-context.h"

bool test_gles2_make_current(struct wlr_renderer *renderer)
{
	return wlr_egl_make_current(wlr_gles2_renderer_get_egl(renderer));
}
