/* SPDX-License-Identifier: MIT */
/* wlroots 0.18 keeps wlr_egl_make_current private, but gives the display and context. */
#include <EGL/egl.h>
#include <wlr/render/egl.h>
#include <wlr/render/gles2.h>

#include "gles2-context.h"

bool test_gles2_make_current(struct wlr_renderer *renderer)
{
	struct wlr_egl *egl = wlr_gles2_renderer_get_egl(renderer);
	return eglMakeCurrent(wlr_egl_get_display(egl), EGL_NO_SURFACE, EGL_NO_SURFACE,
		wlr_egl_get_context(egl)) == EGL_TRUE;
}
