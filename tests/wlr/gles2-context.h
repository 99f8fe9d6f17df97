/* SPDX-License-Identifier: MIT */
/*
 * Makes a wlroots GLES2 renderer's EGL context current on this thread, so that
 * a test can read a texture back with plain GL. How depends on the wlroots
 * generation (wlroots-0.15/ or wlroots-0.18/ implements it).
 */
#ifndef DMAB_TEST_WLR_GLES2_CONTEXT_H
#define DMAB_TEST_WLR_GLES2_CONTEXT_H

#include <stdbool.h>

struct wlr_renderer;

bool test_gles2_make_current(struct wlr_renderer *renderer);

#endif
