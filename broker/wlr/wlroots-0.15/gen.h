/* SPDX-License-Identifier: MIT */
/*
 * wlroots 0.15: where the types the adapter implements and reads are declared.
 * Included only by the adapter's sources, from the generation's directory.
 */
#ifndef DMAB_WLR_GEN_H
#define DMAB_WLR_GEN_H

#include <wlr/types/wlr_buffer.h> /* wlr_buffer_impl, wlr_buffer_resource_interface */
#include <wlr/types/wlr_surface.h>

#endif
